#!/usr/bin/env bash
# End-to-end test of the management API with a real AWS client: creates its
# own Python venv (boto3 from PyPI) under target/, starts portico (debug
# build) on loopback with a fresh state directory, runs boto3_e2e.py against
# it and stops it; then tests/e2e/tls_clients.sh (curl and openssl s_client
# against the HTTPS listener), tests/e2e/awscli_walkthrough.sh (AWS's REST API
# walk-through with the AWS CLI v1), tests/e2e/execution_openapi.py (an OpenAPI import of the
# execution model, called over HTTP) and tests/e2e/moto.sh. Run by .ci/run after `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/../.."
PYTHON=$(tests/e2e/venv.sh | tail -n1)
BIN=$(tests/e2e/portico_bin.sh)
source tests/e2e/lib.sh
e2e_tmp e2e
# The Lambda functions AWS_PROXY integrations call (Mangum/powertools, their own venv), then portico.
start_functions "$TMP"
export PORTICO_E2E_SECRET="e2e-secret-$RANDOM$RANDOM"
TODAY=2026-06-15
start_portico "$BIN" "$TMP" AKIDPORTICOE2E PORTICO_E2E_SECRET "$TODAY"
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
# The REST execution model imported from an OpenAPI document (tests/e2e/fixtures/execution_api.yaml)
# and called over HTTP, DynamoDB being moto's server: moto's venv has boto3 and moto.
"$(tests/e2e/moto_venv.sh | tail -n1)" tests/e2e/execution_openapi.py "$BIN"
tests/e2e/tls_clients.sh
tests/e2e/awscli_walkthrough.sh
tests/e2e/moto.sh
