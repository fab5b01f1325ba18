#!/usr/bin/env bash
# Creates (once) the Python venv that runs the local Lambda Invoke API
# (tests/lambda/invoke_server.py) with real third-party handler libraries,
# and the third-party checkers other tests call (botocore's SigV4 signer in
# sigv4_botocore.py, PyJWT in jwt_sign.py), and prints the absolute path of its python on stdout (nothing else goes to
# stdout). Safe to call from several test processes at once (flock).
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
VENV=$REPO/target/lambda-venv
PY=$VENV/bin/python
PKGS=(mangum==0.22.0 aws-lambda-powertools==3.37.0 botocore==1.44.8 PyJWT==2.15.1 cryptography==50.0.2)
CHECK='import mangum, aws_lambda_powertools.event_handler, aws_lambda_powertools.utilities.data_classes, botocore.auth, jwt, cryptography'

ready() {
    [[ -x $PY ]] && "$PY" -c "$CHECK" 2>/dev/null \
        && [[ -f $VENV/.portico-pins && $(cat "$VENV/.portico-pins") == "${PKGS[*]}" ]]
}

if ! ready; then
    mkdir -p "$REPO/target"
    exec 9>"$REPO/target/lambda-venv.lock"
    flock 9
    # Another process may have built it while we waited for the lock.
    if ! ready; then
        rm -rf "$VENV"
        python3 -m venv "$VENV" >&2
        "$VENV/bin/pip" install --quiet --disable-pip-version-check "${PKGS[@]}" >&2
        "$PY" -c "$CHECK" >&2
        echo "${PKGS[*]}" >"$VENV/.portico-pins"
    fi
    flock -u 9
    exec 9>&-
fi
echo "$PY"
