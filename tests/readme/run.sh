#!/usr/bin/env bash
# Runs README.md's runnable shell blocks (see extract.py for the marking)
# in order, with `set -euo pipefail`, against a portico started here from
# the built binary on the embedded default config, as the README's reader
# starts it. Commands run as written: `portico` and `aws` are found on PATH
# (the built binary; the AWS CLI from PyPI in a venv cached under target/),
# in a fresh working directory, so the state directory is a new one.
#
# The README names the default addresses (127.0.0.1:8080, :9901, :9000), so
# portico runs in a network namespace of its own where they are free
# (unshare; no root needed where unprivileged user namespaces are allowed).
# Without one it runs on the host's loopback and fails if they are taken.
#
# Usage: tests/readme/run.sh [FILE.md]   (default README.md)
# PORTICO_BIN: the binary (cargo test passes its own); else built with
# tests/e2e/portico_bin.sh.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
DOC=$(realpath "${1:-$REPO/README.md}")

if [[ ${PORTICO_README_INSIDE:-} != 1 ]]; then
    BIN=${PORTICO_BIN:-$("$REPO/tests/e2e/portico_bin.sh")}
    # The AWS CLI the walk-through uses, from PyPI, made once (flock: test
    # processes may run this at the same time).
    VENV=$REPO/target/readme-venv
    PIN=awscli==1.46.3
    mkdir -p "$REPO/target"
    exec 9>"$REPO/target/readme-venv.lock"
    flock 9
    if [[ ! -x $VENV/bin/aws || $(cat "$VENV/.portico-pin" 2>/dev/null) != "$PIN" ]]; then
        rm -rf "$VENV"
        python3 -m venv "$VENV" >&2
        "$VENV/bin/pip" install --quiet --disable-pip-version-check "$PIN" >&2
        echo "$PIN" >"$VENV/.portico-pin"
    fi
    flock -u 9
    exec 9>&-
    TMP=$(mktemp -d /tmp/portico-readme.XXXXXX)
    trap 'rm -rf "$TMP"' EXIT
    mkdir "$TMP/bin" "$TMP/work"
    ln -s "$BIN" "$TMP/bin/portico"
    ln -s "$VENV/bin/aws" "$TMP/bin/aws"
    python3 "$REPO/tests/readme/extract.py" "$DOC" >"$TMP/blocks.sh"
    export PORTICO_README_INSIDE=1 PORTICO_README_TMP=$TMP
    if unshare --user --map-root-user --net true 2>/dev/null; then
        unshare --user --map-root-user --net "$BASH" "${BASH_SOURCE[0]}" "$DOC"
    else
        echo "readme: no network namespace (unshare); using the host's loopback" >&2
        # One at a time: every run wants the same ports.
        flock "$REPO/target/readme-host.lock" "$BASH" "${BASH_SOURCE[0]}" "$DOC"
    fi
    exit
fi

# Inside: a loopback of our own (or the host's).
TMP=$PORTICO_README_TMP
ip link set lo up 2>/dev/null || true
for port in 8080 9901 9000; do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        echo "readme: 127.0.0.1:$port is taken; stop what listens there" >&2
        exit 1
    fi
done
cd "$TMP/work"
export PATH=$TMP/bin:$PATH HOME=$TMP/work
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_DEFAULT_REGION AWS_REGION AWS_PROFILE
PID=""
stop() {
    [[ -n $PID ]] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null || true
}
trap stop EXIT
portico 2>"$TMP/portico.log" &
PID=$!
# Ready once the admin listener (started after every worker serves) says so.
for _ in $(seq 1 400); do
    grep -q 'admin listening on' "$TMP/portico.log" && break
    kill -0 "$PID" 2>/dev/null || { cat "$TMP/portico.log" >&2; echo "readme: portico did not start" >&2; exit 1; }
    sleep 0.05
done
grep -q 'admin listening on' "$TMP/portico.log" || { cat "$TMP/portico.log" >&2; echo "readme: portico not ready in 20 s" >&2; exit 1; }
status=0
bash "$TMP/blocks.sh" || status=$?
kill -TERM "$PID"
wait "$PID" || { echo "readme: portico exited with $? after SIGTERM:" >&2; cat "$TMP/portico.log" >&2; exit 1; }
PID=""
if [[ $status != 0 ]]; then
    echo "readme: portico's log:" >&2
    cat "$TMP/portico.log" >&2
fi
exit "$status"
