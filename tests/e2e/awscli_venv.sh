#!/usr/bin/env bash
# Creates (once) the Python venv with the AWS CLI v1 (`awscli` from PyPI,
# pinned) that tests/e2e/awscli_walkthrough.sh drives the management API
# with, and prints the absolute path of its `aws` on stdout (nothing else
# goes to stdout). Safe to call from several test processes at once (flock).
set -euo pipefail
AWSCLI_VERSION=1.46.3
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
VENV=$REPO/target/awscli-venv
AWS=$VENV/bin/aws

ready() {
    [[ -x $AWS && -f $VENV/.ready-$AWSCLI_VERSION ]]
}

if ! ready; then
    mkdir -p "$REPO/target"
    exec 9>"$REPO/target/awscli-venv.lock"
    flock 9
    # Another process may have built it while we waited for the lock.
    if ! ready; then
        rm -rf "$VENV"
        python3 -m venv "$VENV" >&2
        "$VENV/bin/pip" install --quiet --disable-pip-version-check "awscli==$AWSCLI_VERSION" >&2
        "$AWS" --version >&2
        touch "$VENV/.ready-$AWSCLI_VERSION"
    fi
    flock -u 9
    exec 9>&-
fi
echo "$AWS"
