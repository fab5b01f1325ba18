# shellcheck shell=bash
# Shell functions loadtest/run.sh and loadtest/many.sh share: starting
# and stopping the servers they run, installing what they need. Sourced
# after each script's own log() and die(); uses its SERVER_PIDS array and
# POLICY_RC_CREATED flag.

child_pids() { # direct children of $1
    local pid=$1 f
    if [[ -r /proc/$pid/task/$pid/children ]]; then
        for f in /proc/"$pid"/task/*/children; do cat "$f" 2>/dev/null || true; done | tr ' ' '\n' | grep -E '^[0-9]+$' || true
    else
        pgrep -P "$pid" 2>/dev/null || true
    fi
}

stop_proc() { # TERM a server (and its children), bounded wait, then KILL
    local pid=$1 kids i
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
    kids=$(child_pids "$pid")
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        log "pid $pid did not exit on SIGTERM, killing"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
    for i in $kids; do kill -KILL "$i" 2>/dev/null || true; done
}

forget_pid() {
    local pid=$1 p keep=()
    for p in "${SERVER_PIDS[@]}"; do [[ $p == "$pid" ]] || keep+=("$p"); done
    SERVER_PIDS=("${keep[@]}")
}

apt_install() {
    export DEBIAN_FRONTEND=noninteractive
    # Do not let the package start a system nginx on port 80.
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && POLICY_RC_CREATED=1
    fi
    local rc=0
    apt-get install -y --no-install-recommends "$@" \
        || { apt-get update && apt-get install -y --no-install-recommends "$@"; } || rc=$?
    if ((POLICY_RC_CREATED)); then rm -f /usr/sbin/policy-rc.d; POLICY_RC_CREATED=0; fi
    return "$rc"
}

port_answers() { # something speaks HTTP on the port (any status)
    local rc=0
    curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$1/" 2>/dev/null || rc=$?
    [[ $rc -eq 0 ]]
}

port_is_free() {
    local rc=0
    curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$1/" 2>/dev/null || rc=$?
    [[ $rc -eq 7 ]]
}
