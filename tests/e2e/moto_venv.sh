#!/usr/bin/env bash
# Creates (once) the Python venv that runs moto's own API Gateway test suite
# (tests/test_apigateway/ of moto's source distribution) against portico:
# moto's pinned sdist is downloaded from PyPI and unpacked under
# target/moto-venv/src/, and moto with the extras its API Gateway tests import
# (PyYAML, joserfc, openapi-spec-validator through moto[apigateway]; flask and flask-cors,
# which test_server.py imports at module level), pytest and freezegun are
# installed. Prints the absolute path of its python on stdout (nothing else
# goes to stdout); the unpacked sources are at $(dirname python)/../src/moto-$MOTO_VERSION.
# Safe to call from several test processes at once (flock).
set -euo pipefail
MOTO_VERSION=5.2.5
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
VENV=$REPO/target/moto-venv
PY=$VENV/bin/python
SRC=$VENV/src/moto-$MOTO_VERSION

ready() {
    [[ -x $PY && -f $VENV/.ready-$MOTO_VERSION && -d $SRC/tests/test_apigateway ]]
}

if ! ready; then
    mkdir -p "$REPO/target"
    exec 9>"$REPO/target/moto-venv.lock"
    flock 9
    # Another process may have built it while we waited for the lock.
    if ! ready; then
        rm -rf "$VENV"
        python3 -m venv "$VENV" >&2
        PIP=("$VENV/bin/pip" --quiet --disable-pip-version-check)
        mkdir -p "$VENV/src"
        "${PIP[@]}" download --no-deps --no-binary :all: --dest "$VENV/src" "moto==$MOTO_VERSION" >&2
        tar -xzf "$VENV/src/moto-$MOTO_VERSION.tar.gz" -C "$VENV/src"
        "${PIP[@]}" install "moto[apigateway]==$MOTO_VERSION" flask flask-cors pytest freezegun >&2
        touch "$VENV/.ready-$MOTO_VERSION"
    fi
    flock -u 9
    exec 9>&-
fi
echo "$PY"
