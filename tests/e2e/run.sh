#!/usr/bin/env bash
# End-to-end test of the management API with a real AWS client: creates its
# own Python venv (boto3 from PyPI) under target/, starts portico (debug
# build) on loopback with a fresh state directory, runs boto3_e2e.py against
# it and stops it; then tests/e2e/tls_clients.sh (curl and openssl s_client
# against the HTTPS listener), tests/e2e/awscli_walkthrough.sh (AWS's REST API
# walk-through with the AWS CLI v1) and tests/e2e/moto.sh. Run by .ci/run after `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/../.."
PYTHON=$(tests/e2e/venv.sh | tail -n1)
BIN=$(tests/e2e/portico_bin.sh)
TMP=$(mktemp -d /tmp/portico-e2e.XXXXXX)
PID=""
FN_PID=""
cleanup() {
    [[ -n $PID ]] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null || true
    [[ -n $FN_PID ]] && kill "$FN_PID" 2>/dev/null && wait "$FN_PID" 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT
# The Lambda functions AWS_PROXY integrations call (Mangum/powertools, their own venv).
FN_PYTHON=$(tests/lambda/venv.sh | tail -n1)
"$FN_PYTHON" tests/lambda/invoke_server.py >"$TMP/functions.out" &
FN_PID=$!
for _ in $(seq 1 200); do
    grep -qs 'listening on' "$TMP/functions.out" && break
    kill -0 "$FN_PID" 2>/dev/null || { echo "e2e: the invoke server did not start" >&2; exit 1; }
    sleep 0.05
done
FN_ENDPOINT=$(grep -o '127.0.0.1:[0-9]*' "$TMP/functions.out" | head -n1)
[[ -n $FN_ENDPOINT ]] || { echo "e2e: no invoke server address" >&2; exit 1; }
cat >"$TMP/portico.toml" <<TOML
[server]
listen = "127.0.0.1:0"
workers = 2

[state]
dir = "$TMP/state"

[admin]
listen = "127.0.0.1:0"
access_key_id = "AKIDPORTICOE2E"
secret_access_key_env = "PORTICO_E2E_SECRET"

[aws]
lambda_endpoint = "http://$FN_ENDPOINT"
TOML
export PORTICO_E2E_SECRET="e2e-secret-$RANDOM$RANDOM"
# Quotas count days by a calendar fixed at noon, so the usage check cannot
# straddle UTC midnight.
TODAY=2026-06-15
PORTICO_TEST_CLOCK=${TODAY}T12:00:00Z "$BIN" --config "$TMP/portico.toml" 2>"$TMP/stderr.log" &
PID=$!
for _ in $(seq 1 200); do
    if grep -q 'admin listening on' "$TMP/stderr.log"; then break; fi
    if ! kill -0 "$PID" 2>/dev/null; then cat "$TMP/stderr.log" >&2; exit 1; fi
    sleep 0.05
done
DATA=$(grep -o 'msg="listening on http://127.0.0.1:[0-9]*' "$TMP/stderr.log" | head -n1 | sed 's/.*http:/http:/')
ADMIN=$(grep -o 'admin listening on http://127.0.0.1:[0-9]*' "$TMP/stderr.log" | head -n1 | sed 's/.*http:/http:/')
[[ -n $DATA && -n $ADMIN ]] || { echo "e2e: portico did not start:" >&2; cat "$TMP/stderr.log" >&2; exit 1; }
PORTICO_TODAY=$TODAY PORTICO_DATA=$DATA PORTICO_ADMIN=$ADMIN PORTICO_STATE=$TMP/state AWS_ACCESS_KEY_ID=AKIDPORTICOE2E \
    AWS_SECRET_ACCESS_KEY=$PORTICO_E2E_SECRET AWS_DEFAULT_REGION=us-east-1 \
    "$PYTHON" tests/e2e/boto3_e2e.py
kill -TERM "$PID"
wait "$PID"
PID=""
# Every management call was audited (9 deployments: 2 of pets, 3 of the import, 1 of the YAML import, 2 of the canary API, 1 of the Lambda API), the refused one too; no secret or signature on disk.
deployments=$("$BIN" --config "$TMP/portico.toml" audit --event CreateDeployment | grep -c '"errorCode":null')
[[ $deployments == 9 ]] || { echo "e2e: audit log has $deployments successful CreateDeployment calls, wanted 9" >&2; exit 1; }
"$BIN" --config "$TMP/portico.toml" audit --event GetRestApis | grep -q '"errorCode":"InvalidSignatureException"' \
    || { echo "e2e: the refused GetRestApis call is not in the audit log" >&2; exit 1; }
# --since: nothing after a future time, every call after a past one.
[[ -z $("$BIN" --config "$TMP/portico.toml" audit --since 2999-01-01) ]] \
    || { echo "e2e: audit --since 2999-01-01 printed calls" >&2; exit 1; }
[[ $("$BIN" --config "$TMP/portico.toml" audit --since 2000-01-01 | wc -l) == $(wc -l <"$TMP/state/audit.jsonl") ]] \
    || { echo "e2e: audit --since 2000-01-01 left calls out" >&2; exit 1; }
if grep -q -e "$PORTICO_E2E_SECRET" -e 'Signature=' "$TMP/state/audit.jsonl"; then
    echo "e2e: the audit log holds a secret or a signature" >&2; exit 1
fi
echo "e2e: boto3 end-to-end test passed"
tests/e2e/tls_clients.sh
tests/e2e/awscli_walkthrough.sh
tests/e2e/moto.sh
