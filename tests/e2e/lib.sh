# Sourced by the end-to-end scripts (run.sh, awscli_walkthrough.sh), from the
# repository root, under `set -euo pipefail`: starts the local Lambda Invoke
# API and portico with the admin key and the Lambda endpoint.

# e2e_tmp NAME: a fresh TMP directory, removed on exit with the processes in
# PID (portico) and FN_PID (the invoke server).
e2e_tmp() {
    TMP=$(mktemp -d "/tmp/portico-$1.XXXXXX")
    PID=""
    FN_PID=""
    trap e2e_cleanup EXIT
}
e2e_cleanup() {
    [[ -n $PID ]] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null || true
    [[ -n $FN_PID ]] && kill "$FN_PID" 2>/dev/null && wait "$FN_PID" 2>/dev/null || true
    rm -rf "$TMP"
}

# wait_for FILE PATTERN PROCESS: until FILE holds PATTERN (10 s at most);
# fails, with FILE on stderr, if PROCESS exits first.
wait_for() {
    for _ in $(seq 1 200); do
        grep -qs "$2" "$1" && return 0
        kill -0 "$3" 2>/dev/null || { cat "$1" >&2; return 1; }
        sleep 0.05
    done
    echo "e2e: no '$2' in $1 after 10 s" >&2
    return 1
}

# start_functions DIR: runs tests/lambda/invoke_server.py (its own venv);
# sets FN_PID and FN_ENDPOINT (127.0.0.1:PORT).
start_functions() {
    local py
    py=$(tests/lambda/venv.sh | tail -n1)
    "$py" tests/lambda/invoke_server.py >"$1/functions.out" &
    FN_PID=$!
    wait_for "$1/functions.out" 'listening on' "$FN_PID" || { echo "e2e: the invoke server did not start" >&2; return 1; }
    FN_ENDPOINT=$(grep -o '127.0.0.1:[0-9]*' "$1/functions.out" | head -n1)
    [[ -n $FN_ENDPOINT ]] || { echo "e2e: no invoke server address" >&2; return 1; }
}

# start_portico BIN DIR ACCESS_KEY_ID SECRET_ENV DAY: writes DIR/portico.toml
# (loopback data plane and admin listener, state in DIR/state, the admin
# access key with its secret in $SECRET_ENV, Lambda at $FN_ENDPOINT) and runs
# BIN with it, its clock at noon of DAY (quotas count days by it, so a usage
# check cannot straddle UTC midnight), stderr in DIR/stderr.log; sets PID,
# DATA and ADMIN (http://127.0.0.1:PORT).
start_portico() {
    cat >"$2/portico.toml" <<TOML
[server]
listen = "127.0.0.1:0"
workers = 2

[state]
dir = "$2/state"

[admin]
listen = "127.0.0.1:0"
access_key_id = "$3"
secret_access_key_env = "$4"

[aws]
lambda_endpoint = "http://$FN_ENDPOINT"
TOML
    PORTICO_TEST_CLOCK=${5}T12:00:00Z "$1" --config "$2/portico.toml" 2>"$2/stderr.log" &
    PID=$!
    wait_for "$2/stderr.log" 'admin listening on' "$PID" || { echo "e2e: portico exited at start" >&2; return 1; }
    DATA=$(grep -o 'msg="listening on http://127.0.0.1:[0-9]*' "$2/stderr.log" | head -n1 | sed 's/.*http:/http:/')
    ADMIN=$(grep -o 'admin listening on http://127.0.0.1:[0-9]*' "$2/stderr.log" | head -n1 | sed 's/.*http:/http:/')
    [[ -n $DATA && -n $ADMIN ]] || { echo "e2e: portico did not start:" >&2; cat "$2/stderr.log" >&2; return 1; }
}
