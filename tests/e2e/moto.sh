#!/usr/bin/env bash
# Runs moto's own API Gateway test suite (tests/test_apigateway/ of moto's
# pinned source distribution, see moto_venv.sh) in moto's server mode
# against portico: boto3 signs with FOOBARKEY/FOOBARSECRET and calls
# portico's admin listener, a fresh portico (empty state) per test, started
# and stopped by moto_portico_plugin.py. Tests listed in moto_skips.txt are
# skipped (with the reason); those in moto_expected_failures.txt are expected
# to fail today (xfail; one that passes shows as XPASS: take it off the
# list). Exits non-zero if any other test fails. Extra arguments go to
# pytest (e.g. -k test_create_rest_api, or -x).
#
# Environment: PORTICO_BIN (default: tests/e2e/portico_bin.sh's build),
# TEST_SERVER_MODE_ENDPOINT (default: a free loopback port),
# MOTO_NO_XFAIL=1 (ignore the expected-failures list, to see the failures),
# MOTO_PORTICO_LOGS=DIR (keep each test's portico stderr there).
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
cd "$REPO"
PYTHON=$(tests/e2e/moto_venv.sh | tail -n1)
BIN=${PORTICO_BIN:-$(tests/e2e/portico_bin.sh)}
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")
[[ -x $BIN ]] || { echo "moto.sh: no portico binary at $BIN" >&2; exit 1; }
SRC=$(ls -d "$(dirname "$(dirname "$PYTHON")")"/src/moto-*/ | head -n1)
cd "$SRC"
set +e
PORTICO_BIN=$BIN PYTHONPATH=$REPO/tests/e2e \
    AWS_ACCESS_KEY_ID=FOOBARKEY AWS_SECRET_ACCESS_KEY=FOOBARSECRET AWS_DEFAULT_REGION=us-east-1 \
    "$PYTHON" -m pytest -p moto_portico_plugin -p no:cacheprovider -q -rfEX \
    tests/test_apigateway "$@"
rc=$?
set -e
if [[ $rc != 0 ]]; then
    echo "moto.sh: moto's API Gateway suite against portico: a test not in tests/e2e/moto_expected_failures.txt failed (pytest exit $rc)" >&2
    exit "$rc"
fi
echo "moto.sh: moto's API Gateway suite against portico passed (apart from the expected failures)"
