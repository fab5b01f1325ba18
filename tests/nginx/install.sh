#!/usr/bin/env bash
# Makes sure nginx is installed (Debian's nginx-light, with apt-get, once) and
# prints the absolute path of its binary on stdout (nothing else goes to
# stdout). Safe to call from several test processes at once: apt-get runs
# under `flock /tmp/portico-apt.lock`, shared with the other test installers.
set -euo pipefail

find_nginx() {
    command -v nginx 2>/dev/null || { [[ -x /usr/sbin/nginx ]] && echo /usr/sbin/nginx; }
}

if ! find_nginx >/dev/null; then
    (
        flock 9
        # Another process may have installed it while we waited for the lock.
        if ! find_nginx >/dev/null; then
            export DEBIAN_FRONTEND=noninteractive
            apt-get update -qq >&2
            apt-get install -y -qq --no-install-recommends nginx-light >&2
        fi
    ) 9>/tmp/portico-apt.lock
fi
find_nginx
