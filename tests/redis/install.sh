#!/usr/bin/env bash
# Makes sure redis-server and redis-cli are installed (Debian's redis-server
# package, with apt-get, once) and prints the absolute path of redis-server
# on stdout (nothing else goes to stdout). Safe to call from several test
# processes at once: apt-get runs under `flock /tmp/portico-apt.lock`, shared
# with the other test installers. Tests start their own servers on free
# ports, so a system service the package may start is never used.
set -euo pipefail

find_redis() {
    command -v redis-server 2>/dev/null || { [[ -x /usr/bin/redis-server ]] && echo /usr/bin/redis-server; }
}

if ! find_redis >/dev/null || ! command -v redis-cli >/dev/null; then
    (
        flock 9
        if ! find_redis >/dev/null || ! command -v redis-cli >/dev/null; then
            export DEBIAN_FRONTEND=noninteractive
            apt-get update -qq >&2
            apt-get install -y -qq --no-install-recommends redis-server redis-tools >&2
        fi
    ) 9>/tmp/portico-apt.lock
fi
find_redis
