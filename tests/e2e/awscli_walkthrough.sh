#!/usr/bin/env bash
# AWS's published REST API walk-throughs, done with the AWS CLI v1 (`awscli`
# from PyPI, pinned in tests/e2e/venv.sh) against portico's admin listener, end
# to end through the data plane with curl:
#   create-rest-api, create-resource, create-authorizer (a Lambda TOKEN
#   authorizer), put-method (CUSTOM, API key required), put-integration
#   (AWS_PROXY to a Lambda function), put-gateway-response (UNAUTHORIZED with
#   a custom header and body), create-deployment, create-usage-plan
#   (throttle + quota), create-api-key, create-usage-plan-key,
#   create-domain-name, create-base-path-mapping; then, through the custom
#   domain (Host header): a valid token and key -> 200 with the authorizer's
#   context in the Lambda's event, no token -> 401 with the custom gateway
#   response, a denying token -> 403, a bad key -> 403, over the quota -> 429;
#   get-usage counts the admitted calls; test-invoke-method answers.
# The Lambda functions are tests/lambda/invoke_server.py's (authorizer-token,
# powertools-v1). Run by tests/e2e/run.sh. Every failed check exits non-zero
# with a message naming it.
set -euo pipefail
cd "$(dirname "$0")/../.."
AWS_BIN=$(dirname "$(tests/e2e/venv.sh | tail -n1)")/aws
BIN=${PORTICO_BIN:-$(tests/e2e/portico_bin.sh)}
source tests/e2e/lib.sh
e2e_tmp awscli

fail() {
    echo "awscli_walkthrough: $*" >&2
    if [[ -f $TMP/stderr.log ]]; then
        echo "--- portico stderr (tail) ---" >&2
        tail -n 20 "$TMP/stderr.log" >&2
    fi
    exit 1
}

# The Lambda Invoke API the authorizer and the integration call, then portico.
start_functions "$TMP"
export PORTICO_CLI_SECRET="cli-secret-$RANDOM$RANDOM"
TODAY=2026-06-15
start_portico "$BIN" "$TMP" AKIDPORTICOCLI PORTICO_CLI_SECRET "$TODAY"

# The CLI: signed with the admin key, no user config, text output.
export AWS_ACCESS_KEY_ID=AKIDPORTICOCLI AWS_SECRET_ACCESS_KEY=$PORTICO_CLI_SECRET AWS_DEFAULT_REGION=us-east-1
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_EC2_METADATA_DISABLED=true
agw() {
    local out
    out=$("$AWS_BIN" apigateway --endpoint-url "$ADMIN" --output text "$@" 2>"$TMP/aws.err") \
        || fail "aws apigateway $1 failed: $(cat "$TMP/aws.err")"
    printf '%s' "$out"
}
REGION=us-east-1
ACCOUNT=123456789012
lambda_uri() {
    echo "arn:aws:apigateway:$REGION:lambda:path/2015-03-31/functions/arn:aws:lambda:$REGION:$ACCOUNT:function:$1/invocations"
}

# 1. The API, a /pets resource under its root.
API=$(agw create-rest-api --name PetsWalkthrough --endpoint-configuration types=REGIONAL --query id)
ROOT=$(agw get-resources --rest-api-id "$API" --query 'items[?path==`/`].id')
PETS=$(agw create-resource --rest-api-id "$API" --parent-id "$ROOT" --path-part pets --query id)
[[ -n $API && -n $ROOT && -n $PETS ]] || fail "create-rest-api/create-resource returned no ids"

# 2. The Lambda TOKEN authorizer (AWS's "Create a Lambda TOKEN authorizer (AWS CLI)").
AUTHZ=$(agw create-authorizer --rest-api-id "$API" --name PetsTokenAuthorizer --type TOKEN \
    --authorizer-uri "$(lambda_uri authorizer-token)" \
    --identity-source method.request.header.Authorization \
    --authorizer-result-ttl-in-seconds 0 --query id)

# 3. GET /pets: the authorizer, an API key, a Lambda proxy integration.
agw put-method --rest-api-id "$API" --resource-id "$PETS" --http-method GET \
    --authorization-type CUSTOM --authorizer-id "$AUTHZ" --api-key-required >/dev/null
agw put-integration --rest-api-id "$API" --resource-id "$PETS" --http-method GET \
    --type AWS_PROXY --integration-http-method POST --uri "$(lambda_uri powertools-v1)" >/dev/null

# 4. The gateway response a request without a token gets.
agw put-gateway-response --rest-api-id "$API" --response-type UNAUTHORIZED --status-code 401 \
    --response-parameters '{"gatewayresponse.header.WWW-Authenticate": "'"'Bearer realm=pets'"'"}' \
    --response-templates '{"application/json": "{\"error\": \"no token\", \"detail\": $context.error.messageString}"}' >/dev/null

# 5. Deploy to prod.
DEPLOYMENT=$(agw create-deployment --rest-api-id "$API" --stage-name prod --description walkthrough --query id)
[[ $(agw get-stage --rest-api-id "$API" --stage-name prod --query deploymentId) == "$DEPLOYMENT" ]] \
    || fail "get-stage: prod is not on the new deployment"

# 6. A usage plan with a throttle and a quota of 3 calls a day, a key in it.
PLAN=$(agw create-usage-plan --name PetsBasic --api-stages "apiId=$API,stage=prod" \
    --throttle burstLimit=100,rateLimit=50 --quota limit=3,period=DAY --query id)
KEY=$(agw create-api-key --name pets-customer --enabled --query '[id,value]')
read -r KEY_ID KEY_VALUE <<<"$KEY"
[[ -n $KEY_ID && ${#KEY_VALUE} -ge 20 ]] || fail "create-api-key: no id or a short value"
agw create-usage-plan-key --usage-plan-id "$PLAN" --key-id "$KEY_ID" --key-type API_KEY >/dev/null
[[ $(agw get-usage-plan-keys --usage-plan-id "$PLAN" --query 'items[].id') == "$KEY_ID" ]] \
    || fail "get-usage-plan-keys: the key is not in the plan"

# 7. The custom domain, its root mapped to nothing, /v1 to prod.
DOMAIN=pets.example.test
agw create-domain-name --domain-name "$DOMAIN" --endpoint-configuration types=REGIONAL >/dev/null
agw create-base-path-mapping --domain-name "$DOMAIN" --base-path v1 --rest-api-id "$API" --stage prod >/dev/null
[[ $(agw get-base-path-mappings --domain-name "$DOMAIN" --query 'items[].[basePath,restApiId,stage]') == $'v1\t'"$API"$'\tprod' ]] \
    || fail "get-base-path-mappings: not v1 -> $API prod"

# The data plane, through the custom domain.
call() { # call NAME [curl args...]: status in $status, body in $TMP/body, headers in $TMP/headers
    local name=$1
    shift
    status=$(curl -sS -o "$TMP/body" -D "$TMP/headers" -w '%{http_code}' -H "Host: $DOMAIN" "$@" "$DATA/v1/pets?q=1") \
        || fail "$name: curl failed"
}
expect() { # expect NAME STATUS
    [[ $status == "$2" ]] || fail "$1: HTTP $status, wanted $2; body: $(cat "$TMP/body")"
}

# No token: the custom UNAUTHORIZED response (before the key is looked at).
call "no token" -H "x-api-key: $KEY_VALUE"
expect "no token" 401
grep -qi '^www-authenticate: Bearer realm=pets' "$TMP/headers" \
    || fail "no token: the gateway response's WWW-Authenticate header is missing: $(cat "$TMP/headers")"
grep -q '"error": "no token"' "$TMP/body" && grep -q '"detail": "Unauthorized"' "$TMP/body" \
    || fail "no token: not the gateway response's body: $(cat "$TMP/body")"
# A token the authorizer denies.
call "denied token" -H "Authorization: deny" -H "x-api-key: $KEY_VALUE"
expect "denied token" 403
grep -q 'explicit deny' "$TMP/body" || fail "denied token: not AWS's explicit-deny message: $(cat "$TMP/body")"
# A good token, a wrong key and no key.
call "bad key" -H "Authorization: allow" -H "x-api-key: not-a-key-0123456789abcdef"
expect "bad key" 403
grep -q '"Forbidden"' "$TMP/body" || fail "bad key: not AWS's INVALID_API_KEY message: $(cat "$TMP/body")"
call "no key" -H "Authorization: allow"
expect "no key" 403
# A good token and key: the Lambda's answer, with the authorizer's context.
call "valid call" -H "Authorization: allow" -H "x-api-key: $KEY_VALUE"
expect "valid call" 200
python3 - "$TMP/body" "$KEY_VALUE" <<'PY' || fail "valid call: unexpected Lambda event: $(cat "$TMP/body")"
import json, sys
e = json.load(open(sys.argv[1]))
# Through a custom domain AWS puts the base path in `path` (/v1/pets); portico sends /pets today.
assert e["resource"] == "/pets" and e["path"] in ("/v1/pets", "/pets"), e
assert e["stage"] == "prod" and e["apiKey"] == sys.argv[2], e
assert e["authorizer"]["principalId"] == "alice" and e["authorizer"]["user"] == "alice", e
PY
# The quota: 3 a day, one used, two more admitted, then 429.
for n in 2 3; do
    call "call $n of the quota" -H "Authorization: allow" -H "x-api-key: $KEY_VALUE"
    expect "call $n of the quota" 200
done
call "over quota" -H "Authorization: allow" -H "x-api-key: $KEY_VALUE"
expect "over quota" 429
grep -q '"Limit Exceeded"' "$TMP/body" || fail "over quota: not AWS's QUOTA_EXCEEDED message: $(cat "$TMP/body")"

# get-usage counts the three admitted calls (stored every flush interval: poll, bounded).
want=$'3\t0'
for _ in $(seq 1 50); do
    usage=$("$AWS_BIN" apigateway --endpoint-url "$ADMIN" get-usage --usage-plan-id "$PLAN" \
        --start-date "$TODAY" --end-date "$TODAY" --query "items.\"$KEY_ID\"[0]" --output text 2>&1) || true
    [[ $usage == "$want" ]] && break
    sleep 0.1
done
[[ $usage == "$want" ]] || fail "get-usage: '$usage' for the key today, wanted 3 used, 0 left"

# test-invoke-method: the method as it is, without the authorizer or the key.
got=$(agw test-invoke-method --rest-api-id "$API" --resource-id "$PETS" --http-method GET \
    --path-with-query-string '/pets?q=2' --query status)
[[ $got == 200 ]] || fail "test-invoke-method: status $got, wanted 200"

echo "awscli_walkthrough: the AWS CLI walk-through passed ($("$AWS_BIN" --version 2>&1 | cut -d' ' -f1))"
