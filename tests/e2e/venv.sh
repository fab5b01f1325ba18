#!/usr/bin/env bash
# Creates (once) the Python venv with boto3 and the AWS CLI v1 (`awscli`,
# pinned; its `aws` is next to python) from PyPI that the end-to-end tests
# drive the management API with, and prints the absolute path of its
# python on stdout (nothing else goes to stdout). Safe to call from several
# test processes at once (flock).
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
VENV=$REPO/target/e2e-venv
PY=$VENV/bin/python

ready() {
    [[ -x $PY ]] && "$PY" -c 'import boto3' 2>/dev/null && [[ -x $VENV/bin/aws ]]
}

if ! ready; then
    mkdir -p "$REPO/target"
    exec 9>"$REPO/target/e2e-venv.lock"
    flock 9
    # Another process may have built it while we waited for the lock.
    if ! ready; then
        [[ -x $PY ]] || python3 -m venv "$VENV" >&2
        "$VENV/bin/pip" install --quiet --disable-pip-version-check 'boto3>=1.34' 'awscli==1.46.3' >&2
    fi
    flock -u 9
    exec 9>&-
fi
echo "$PY"
