#!/usr/bin/env bash
# portico load test: portico vs nginx, one worker each, on loopback.
# See loadtest/README.md. Env overrides: DURATION, CONNS, ROWS, REPS, PORTICO_BIN
# (and WARMUP, WRK_TIMEOUT, PROXY_CPU, CLIENT_CPU, BUILD_TIMEOUT, PERF=1 for perf stat per request).
# `--only execution`: just the REST execution model's rows (MOCK with
# templates, AWS GetItem) and the proxy rows they are compared with.
set -euo pipefail

export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"
export LC_ALL=C

LT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$LT_DIR/.." && pwd)
CONF_DIR="$LT_DIR/conf"
RESULTS_DIR="$LT_DIR/results"

DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-2s}
CONNS=${CONNS:-"64 4000"}
ALL_ROWS="direct nginx-proxy portico-proxy portico-mock nginx-return portico-keyed nginx-limit-req portico-limited portico-limited-2w portico-cached nginx-proxy-cache portico-bare portico-observed portico-lambda portico-jwt portico-https nginx-https portico-https-new nginx-https-new portico-mock-vtl portico-aws"
EXECUTION_ROWS="nginx-proxy portico-proxy portico-mock-vtl portico-aws"
case "${1:-}" in
    "") ;;
    --only)
        case "${2:-}" in
            execution) ROWS=${ROWS:-$EXECUTION_ROWS} ;;
            *) echo "usage: $0 [--only execution]" >&2; exit 2 ;;
        esac ;;
    *) echo "usage: $0 [--only execution]" >&2; exit 2 ;;
esac
ROWS=${ROWS:-$ALL_ROWS}
PORTICO_BIN=${PORTICO_BIN:-}
REPS=${REPS:-3}                  # rounds over all rows, interleaved; the table shows medians
PERF=${PERF:-0}                   # 1: perf stat of the target per request (syscalls, context switches, io_uring enters)
WRK_TIMEOUT=${WRK_TIMEOUT:-5s}   # wrk's per-request timeout (counted as a socket error)
PROXY_CPU=${PROXY_CPU:-0}        # the proxy under test
CLIENT_CPU=${CLIENT_CPU:-1}      # wrk + upstream (+ this script)
BUILD_TIMEOUT=${BUILD_TIMEOUT:-1800}

UPSTREAM_PORT=18081
NGINX_PROXY_PORT=18082
NGINX_RETURN_PORT=18083
PORTICO_PORT=18084
NGINX_LIMIT_REQ_PORT=18085
NGINX_PROXY_CACHE_PORT=18086
NGINX_HTTPS_PORT=18087
PORTICO_TLS_PORT=18088
DDB_PORT=18089                   # the upstream nginx's fake DynamoDB (portico-aws)
API_KEY="loadtest-key-0123456789abcdef"   # [[api_keys]] value in conf/portico.toml

log() { printf '[loadtest %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# ---------------------------------------------------------------- arguments
to_seconds() { # 10 | 10s | 2m | 1h -> seconds
    local v=$1
    case $v in
        *[0-9]s) echo "${v%s}" ;;
        *[0-9]m) echo $(( ${v%m} * 60 )) ;;
        *[0-9]h) echo $(( ${v%h} * 3600 )) ;;
        *[0-9]) echo "$v" ;;
        *) return 1 ;;
    esac
}
DUR_S=$(to_seconds "$DURATION") || die "DURATION must look like 10, 10s, 2m (got '$DURATION')"
WARM_S=$(to_seconds "$WARMUP") || die "WARMUP must look like 2, 2s (got '$WARMUP')"
[[ $DUR_S =~ ^[0-9]+$ && $DUR_S -gt 0 ]] || die "bad DURATION '$DURATION'"
for r in $ROWS; do
    [[ " $ALL_ROWS " == *" $r "* ]] || die "unknown row '$r' in ROWS (known: $ALL_ROWS)"
done
[[ $REPS =~ ^[0-9]+$ && $REPS -gt 0 ]] || die "bad REPS '$REPS'"
for c in $CONNS; do
    [[ $c =~ ^[0-9]+$ && $c -gt 0 ]] || die "bad connection count '$c' in CONNS"
done
wants_portico=0
[[ " $ROWS " == *" portico-"* ]] && wants_portico=1
# The limit of `GET /limited` (stage route_throttle in conf/portico.toml), for the admitted-rate line.
LIMITED_RATE="" LIMITED_BURST=""
if [[ " $ROWS " == *" portico-limited"* ]]; then
    lim=$(grep -E '^[[:space:]]*route_throttle[[:space:]]*=.*"GET /limited"' "$CONF_DIR/portico.toml" | head -n1 || true)
    LIMITED_RATE=$(sed -nE 's/.*"GET \/limited"[[:space:]]*=[[:space:]]*\{[^}]*rate[[:space:]]*=[[:space:]]*([0-9.]+).*/\1/p' <<<"$lim")
    LIMITED_BURST=$(sed -nE 's/.*"GET \/limited"[[:space:]]*=[[:space:]]*\{[^}]*burst[[:space:]]*=[[:space:]]*([0-9]+).*/\1/p' <<<"$lim")
    [[ -n $LIMITED_RATE && -n $LIMITED_BURST ]] \
        || die "cannot read the route_throttle of \"GET /limited\" (rate, burst) from conf/portico.toml"
    LIMITED_RATE=$(awk -v r="$LIMITED_RATE" 'BEGIN { printf "%g", r }')
fi

# ---------------------------------------------------------------- cleanup
TMP=""
SERVER_PIDS=()        # every server process this script started (nginx masters, portico)
WRK_PID=""
POLICY_RC_CREATED=0

# shellcheck source=loadtest/lib.sh
source "$LT_DIR/lib.sh"




cleanup() {
    local rc=$? p
    set +e
    trap - EXIT INT TERM
    if [[ -n $WRK_PID ]]; then kill -TERM "$WRK_PID" 2>/dev/null; wait "$WRK_PID" 2>/dev/null; fi
    for p in "${SERVER_PIDS[@]}"; do stop_proc "$p"; done
    ((POLICY_RC_CREATED)) && rm -f /usr/sbin/policy-rc.d
    [[ -n $TMP && -d $TMP ]] && rm -rf "$TMP"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- tools

if ! command -v wrk >/dev/null; then log "installing wrk"; apt_install wrk || die "cannot install wrk"; fi
if ! command -v nginx >/dev/null; then
    log "installing nginx"
    apt_install nginx-light || apt_install nginx || die "cannot install nginx"
fi
if ! command -v curl >/dev/null; then log "installing curl"; apt_install curl || die "cannot install curl"; fi
command -v taskset >/dev/null || { apt_install util-linux || die "cannot install taskset (util-linux)"; }
command -v timeout >/dev/null || die "coreutils 'timeout' missing"

NGINX_BIN=$(command -v nginx)
WRK_BIN=$(command -v wrk)
CLK_TCK=$(getconf CLK_TCK)
NGINX_VERSION=$("$NGINX_BIN" -v 2>&1 || true)
NGINX_VERSION=${NGINX_VERSION%%$'\n'*}
WRK_VERSION=$("$WRK_BIN" -v 2>&1 || true)   # wrk -v prints its version and exits 1
WRK_VERSION=${WRK_VERSION%%$'\n'*}
WRK_VERSION=${WRK_VERSION%%Copyright*}
WRK_VERSION=${WRK_VERSION%"${WRK_VERSION##*[! ]}"}
NGINX_HELP=$("$NGINX_BIN" -h 2>&1 || true)
NGINX_E_FLAG=0
[[ $NGINX_HELP == *"-e filename"* ]] && NGINX_E_FLAG=1

# ---------------------------------------------------------------- limits, CPUs
WANT_NOFILE=20000
hard=$(ulimit -Hn)
if [[ $hard != unlimited && $hard -lt $WANT_NOFILE ]]; then
    ulimit -Hn "$WANT_NOFILE" 2>/dev/null || true
    hard=$(ulimit -Hn)
fi
NOFILE=$WANT_NOFILE
[[ $hard != unlimited && $hard -lt $NOFILE ]] && NOFILE=$hard
ulimit -Sn "$NOFILE"
WCONN=$((NOFILE - 100))
max_conns=0
for c in $CONNS; do if ((c > max_conns)); then max_conns=$c; fi; done
if ((max_conns * 2 + 200 > NOFILE)); then
    log "WARNING: open-file limit $NOFILE is low for $max_conns connections (a proxy needs ~2 fds per connection)"
fi

NCPU=$(nproc)
PIN=1
if ((NCPU < 2)); then
    log "WARNING: only $NCPU CPU: no CPU pinning, proxy, wrk and upstream share it"
    PIN=0
fi
# Command prefixes (arrays, not functions, so that `cmd &` gives the server's own pid).
PROXY_PIN=()
CLIENT_PIN=()
if ((PIN)); then PROXY_PIN=(taskset -c "$PROXY_CPU"); CLIENT_PIN=(taskset -c "$CLIENT_CPU"); fi
# portico-limited-2w: portico with 2 workers on all CPUs. Explicit, because the script
# itself moves to the client CPU and its children would inherit that.
ALL_CPUS_PIN=()
if ((PIN)); then ALL_CPUS_PIN=(taskset -c "0-$((NCPU - 1))"); fi
if ((PIN)); then
    PLACEMENT="proxy under test pinned to CPU $PROXY_CPU (taskset on the whole process); wrk (-t1) and the upstream nginx pinned to CPU $CLIENT_CPU"
else
    PLACEMENT="no pinning (fewer than 2 CPUs)"
fi

# ---------------------------------------------------------------- helpers

to_ms() { # a wrk latency (668.00us, 82.96ms, 1.91s, 2.00m) -> milliseconds
    awk -v v="$1" 'BEGIN { n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
        m = (u == "us") ? n / 1000 : (u == "s") ? n * 1000 : (u == "m") ? n * 60000 : n
        printf "%.3f", m }'
}

stat_ticks() { # utime + stime (fields 14, 15) of one pid, in clock ticks
    local s
    s=$(cat "/proc/$1/stat" 2>/dev/null) || { echo 0; return 0; }
    s=${s##*) }      # drop "pid (comm) "; field 3 (state) comes first now
    # shellcheck disable=SC2086
    set -- $s
    echo $(( ${12} + ${13} ))
}

tree_ticks() { # $1 and its direct children (nginx master + worker; portico's stat covers all threads)
    local pid=$1 total c
    total=$(stat_ticks "$pid")
    for c in $(child_pids "$pid"); do total=$((total + $(stat_ticks "$c"))); done
    echo "$total"
}

STARTED_PID=""
start_nginx() { # name conf-template port proxy|client -> STARTED_PID (master)
    local name=$1 tmpl=$2 port=$3 where=$4 dir i pin=()
    dir="$TMP/$name"
    rm -rf "$dir/cache"   # proxy_cache_path of nginx-proxy-cache: empty on every start
    mkdir -p "$dir/tmp"
    sed -e "s/@NOFILE@/$NOFILE/g" -e "s/@WCONN@/$WCONN/g" -e "s/@PORT@/$port/g" \
        -e "s/@UPSTREAM_PORT@/$UPSTREAM_PORT/g" -e "s/@DDB_PORT@/$DDB_PORT/g" -e "s|@DIR@|$dir|g" \
        -e "s|@CERT@|$TLS_CERT|g" -e "s|@KEY@|$TLS_KEY|g" "$CONF_DIR/$tmpl" >"$dir/nginx.conf"
    port_is_free "$port" || die "port $port is already in use"
    local eargs=()
    ((NGINX_E_FLAG)) && eargs=(-e "$dir/error.log")
    if [[ $where == proxy ]]; then pin=("${PROXY_PIN[@]}"); else pin=("${CLIENT_PIN[@]}"); fi
    "${pin[@]}" "$NGINX_BIN" -p "$dir/" -c "$dir/nginx.conf" "${eargs[@]}" >"$dir/stdout.log" 2>&1 &
    STARTED_PID=$!
    SERVER_PIDS+=("$STARTED_PID")
    for ((i = 0; i < 100; i++)); do
        if ! kill -0 "$STARTED_PID" 2>/dev/null; then
            cat "$dir/stdout.log" "$dir/error.log" >&2 2>/dev/null || true
            die "nginx '$name' exited at start-up"
        fi
        port_answers "$port" && return 0
        sleep 0.1
    done
    cat "$dir/error.log" >&2 2>/dev/null || true
    die "nginx '$name' does not answer on port $port after 10 s"
}

PORTICO_FAIL=""
start_portico() { # [workers] [proxy|all] -> STARTED_PID, ACTUAL_PORTICO_PORT; returns 1 on failure (PORTICO_FAIL set)
    local workers=${1:-1} where=${2:-proxy} dir="$TMP/portico" i line pin=()
    mkdir -p "$dir"
    rm -rf "$dir/state"; mkdir -p "$dir/state"   # fresh usage state for every start
    rm -f "$dir/access.log"                       # portico-observed's log: gigabytes otherwise
    sed -e "s/@PORT@/$PORTICO_PORT/g" -e "s/@UPSTREAM_PORT@/$UPSTREAM_PORT/g" -e "s/@DDB_PORT@/$DDB_PORT/g" \
        -e "s|@STATE_DIR@|$dir/state|g" -e "s|@LOG_DIR@|$dir|g" -e "s/^workers = 1\$/workers = $workers/" \
        -e "s|@JWKS_FILE@|$REPO/tests/fixtures/jwt/jwks-a.json|g" \
        -e "s/@TLS_PORT@/$PORTICO_TLS_PORT/g" -e "s|@CERT@|$TLS_CERT|g" -e "s|@KEY@|$TLS_KEY|g" \
        "$CONF_DIR/portico.toml" >"$dir/portico.toml"
    grep -qx "workers = $workers" "$dir/portico.toml" || die "conf/portico.toml: no 'workers = 1' line to set $workers workers"
    port_is_free "$PORTICO_PORT" || die "port $PORTICO_PORT is already in use"
    : >"$dir/portico.log"
    if [[ $where == all ]]; then pin=("${ALL_CPUS_PIN[@]}"); else pin=("${PROXY_PIN[@]}"); fi
    # The portico-aws row signs its DynamoDB calls with this (fake) secret.
    PORTICO_LOADTEST_AWS_SECRET=loadtest-secret \
        "${pin[@]}" "$PORTICO_BIN" --config "$dir/portico.toml" >>"$dir/portico.log" 2>&1 &
    STARTED_PID=$!
    SERVER_PIDS+=("$STARTED_PID")
    for ((i = 0; i < 300; i++)); do
        # The configured port: the admin listener (port 0) may print a "listening on" line too.
        line=$(grep -o "listening on http://127\.0\.0\.1:$PORTICO_PORT\b" "$dir/portico.log" | head -n1 || true)
        if [[ -n $line ]]; then
            ACTUAL_PORTICO_PORT=${line##*:}
            cp "$dir/portico.log" "$RAW_DIR/portico-start.log" 2>/dev/null || true
            return 0
        fi
        if ! kill -0 "$STARTED_PID" 2>/dev/null; then
            wait "$STARTED_PID" 2>/dev/null || true
            forget_pid "$STARTED_PID"
            log "portico exited at start-up; its log:"; tail -n 30 "$dir/portico.log" >&2 || true
            cp "$dir/portico.log" "$RAW_DIR/portico-start.log" 2>/dev/null || true
            PORTICO_FAIL="exited at start-up"
            return 1
        fi
        sleep 0.1
    done
    log "portico printed no 'listening on' line in 30 s; its log:"; tail -n 30 "$dir/portico.log" >&2 || true
    stop_proc "$STARTED_PID"; forget_pid "$STARTED_PID"
    PORTICO_FAIL="not ready in 30 s"
    return 1
}

CHECK_BODY=ok   # the body check_response wants (the execution rows set their own)
check_response() { # url [header] -> 0 if 200 "$CHECK_BODY"; else prints a reason
    local url=$1 hdr=${2:-} code body h=()
    [[ -n $hdr ]] && h=(-H "$hdr")
    body=$(curl -sk -m 5 "${h[@]}" -o - -w '\n%{http_code}' "$url" 2>/dev/null) || { echo "curl failed"; return 1; }
    code=${body##*$'\n'}
    body=${body%$'\n'*}
    [[ $code == 200 ]] || { echo "HTTP $code"; return 1; }
    [[ $body == "$CHECK_BODY" || $body == "$CHECK_BODY"$'\n' ]] || { echo "unexpected body '${body:0:60}'"; return 1; }
}

cache_header() { # url header-name -> the header's value on a fresh GET (empty if absent)
    curl -sk -m 5 -o /dev/null -D - "$1" 2>/dev/null | tr -d '\r' \
        | awk -v h="$2" 'BEGIN { h = tolower(h) } { i = index($0, ":"); if (i && tolower(substr($0, 1, i - 1)) == h) { v = substr($0, i + 1); sub(/^[ \t]+/, "", v); print v; exit } }'
}

WRK_NEW_CONNS=0   # 1: every request on a new connection (the handshake rows)
run_wrk() { # conns seconds url outfile [header, e.g. 'x-api-key: ...']
    local conns=$1 secs=$2 url=$3 out=$4 hdr=${5:-} rc=0 h=()
    [[ -n $hdr ]] && h=(-H "$hdr")
    ((WRK_NEW_CONNS)) && h+=(-H "Connection: close")
    "${CLIENT_PIN[@]}" timeout -k 5 $((secs + 60)) "$WRK_BIN" -t1 -c"$conns" -d"${secs}s" \
        --timeout "$WRK_TIMEOUT" --latency "${h[@]}" "$url" >"$out" 2>&1 &
    WRK_PID=$!
    wait "$WRK_PID" || rc=$?
    WRK_PID=""
    return "$rc"
}

declare -A RPS P50 P99 ERRS CPUK UTIL STATUS PERFS
# Every round's figures per row (space separated); the table reports the median and the spread.
declare -A ALL_RPS ALL_CPUK ALL_UTIL ALL_P99 FAILS RPS_SPREAD CPUK_SPREAD P99_SPREAD
# Throttled rows: requests wrk got a 2xx for, per second of wrk's run (median over rounds).
declare -A ADMIT ALL_ADMIT NON2XX
REP=1
label() {
    case $1 in
        direct) echo "direct upstream (nginx)" ;;
        nginx-proxy) echo "nginx proxy" ;;
        portico-proxy) echo "portico proxy" ;;
        portico-mock) echo "portico mock" ;;
        nginx-return) echo "nginx return 200" ;;
        portico-keyed) echo "portico keyed (API key + throttles)" ;;
        nginx-limit-req) echo "nginx limit_req + return 200" ;;
        portico-limited) echo "portico limited (route throttle)" ;;
        portico-limited-2w) echo "portico limited, 2 workers" ;;
        portico-cached) echo "portico cached (stage cache hit)" ;;
        nginx-proxy-cache) echo "nginx proxy_cache hit" ;;
        portico-bare) echo "portico mock, metrics and access log off" ;;
        portico-observed) echo "portico mock, metrics + JSON access log on" ;;
        portico-lambda) echo "portico Lambda proxy (payload 2.0, fixed result)" ;;
        portico-jwt) echo "portico proxy behind a JWT authorizer (RS256)" ;;
        portico-https) echo "portico mock over HTTPS, keep-alive" ;;
        nginx-https) echo "nginx return 200 over HTTPS, keep-alive" ;;
        portico-https-new) echo "portico mock over HTTPS, a new connection (handshake) per request" ;;
        nginx-https-new) echo "nginx return 200 over HTTPS, a new connection (handshake) per request" ;;
        portico-mock-vtl) echo "portico MOCK with a request template and a response template" ;;
        portico-aws) echo "portico AWS integration (DynamoDB GetItem + response template, instant fake)" ;;
    esac
}

measure() { # row conns pid url [header] [cache-header: the cache status the 2nd request must show]
    local row=$1 conns=$2 pid=$3 url=$4 hdr=${5:-} want=${6:-} key="$1:$2" why t0 t1 w0 w1 out rc reqs got
    if ! why=$(check_response "$url" "$hdr"); then
        log "$row @ $conns: sanity check of $url failed: $why"
        STATUS[$key]="FAILED ($why)"
        return 0
    fi
    if [[ -n $want ]]; then # cached rows: the request after the first must be a cache hit
        got=$(cache_header "$url" "${want%%:*}")
        if [[ $got != "${want#*: }" ]]; then
            log "$row @ $conns: second request to $url shows '${want%%:*}: ${got:-(absent)}' (expected '$want')"
            STATUS[$key]="FAILED (no cache hit: ${want%%:*}: ${got:-absent})"
            return 0
        fi
    elif [[ $row == portico-* ]]; then # the other portico rows must not be served from the stage cache
        got=$(cache_header "$url" x-cache)
        if [[ ${got,,} == hit ]]; then
            log "$row @ $conns: $url is served from the stage cache (x-cache: $got); its route needs cache = { enabled = false }"
            STATUS[$key]="FAILED (served from the stage cache)"
            return 0
        fi
    fi
    if [[ -n $hdr ]]; then # the route must refuse a request without the header, or the row measures nothing
        why=$(curl -s -m 5 -o /dev/null -w '%{http_code}' "$url" 2>/dev/null || true)
        if [[ $why != 4[0-9][0-9] ]]; then
            log "$row @ $conns: $url answers HTTP $why without '${hdr%%:*}' (expected 4xx)"
            STATUS[$key]="FAILED (answers HTTP $why without ${hdr%%:*})"
            return 0
        fi
    fi
    out="$RAW_DIR/$row-c$conns-r$REP.txt"
    if ((WARM_S > 0)); then
        run_wrk "$conns" "$WARM_S" "$url" "$RAW_DIR/$row-c$conns-warmup.txt" "$hdr" || true
    fi
    local perf_pid=""
    if ((PERF)); then # the target's syscalls, context switches and io_uring enters while wrk runs
        local pids
        pids=$({ echo "$pid"; child_pids "$pid"; } | tr -s ' \n' ',' | sed 's/,$//')
        perf stat -x, -o "$out.perf" -e raw_syscalls:sys_enter,context-switches,syscalls:sys_enter_io_uring_enter \
            -p "$pids" -- sleep "$DUR_S" 2>/dev/null &
        perf_pid=$!
    fi
    t0=$(tree_ticks "$pid"); w0=$(date +%s.%N)
    rc=0
    run_wrk "$conns" "$DUR_S" "$url" "$out" "$hdr" || rc=$?
    t1=$(tree_ticks "$pid"); w1=$(date +%s.%N)
    [[ -n $perf_pid ]] && { wait "$perf_pid" || true; }
    if ((rc != 0)); then
        STATUS[$key]="FAILED (wrk exit $rc)"; log "$row @ $conns: wrk exit $rc"; tail -n 5 "$out" >&2 || true
        return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
        STATUS[$key]="FAILED (target died during the run)"; log "$row @ $conns: target died"
        return 0
    fi
    reqs=$(awk '/ requests in /{print $1; exit}' "$out")
    RPS[$key]=$(awk '/^Requests\/sec:/{print $2; exit}' "$out")
    P50[$key]=$(awk '$1=="50%"{print $2; exit}' "$out")
    P99[$key]=$(awk '$1=="99%"{print $2; exit}' "$out")
    ERRS[$key]=$(awk '
        /^ *Socket errors:/ { gsub(",", ""); c=$4; r=$6; w=$8; t=$10 }
        /^ *Non-2xx or 3xx responses:/ { n=$5 }
        END {
            tot = c + r + w + t + n; s = tot ""
            if (tot > 0) {
                d = ""
                if (c) d = d " connect " c; if (r) d = d " read " r; if (w) d = d " write " w
                if (t) d = d " timeout " t; if (n) d = d " non-2xx " n
                s = tot " (" substr(d, 2) ")"
            }
            print s
        }' "$out")
    CPUK[$key]=$(awk -v d=$((t1 - t0)) -v hz="$CLK_TCK" -v n="${reqs:-0}" \
        'BEGIN { if (n > 0) printf "%.3f", d * 1000 / hz / n * 1000; else print "n/a" }')
    UTIL[$key]=$(awk -v d=$((t1 - t0)) -v hz="$CLK_TCK" -v a="$w0" -v b="$w1" \
        'BEGIN { printf "%.0f%%", d / hz / (b - a) * 100 }')
    if [[ -n $perf_pid && -s $out.perf ]]; then # per request, over wrk's count (perf ran the same seconds)
        PERFS[$key]=$(awk -F, -v n="${reqs:-0}" '
            $3 == "raw_syscalls:sys_enter" { s = $1 } $3 == "context-switches" { c = $1 }
            $3 == "syscalls:sys_enter_io_uring_enter" { e = $1 }
            END { if (n > 0) printf "%.2f syscalls, %.3f context switches, %.3f io_uring enters", s / n, c / n, e / n }' "$out.perf")
    fi
    STATUS[$key]=ok
    ALL_RPS[$key]+=" ${RPS[$key]}"; ALL_CPUK[$key]+=" ${CPUK[$key]}"; ALL_UTIL[$key]+=" ${UTIL[$key]%\%}"
    ALL_P99[$key]+=" $(to_ms "${P99[$key]}")"
    log "round $REP: $row @ $conns: ${RPS[$key]} req/s, p50 ${P50[$key]}, p99 ${P99[$key]}, errors ${ERRS[$key]}, CPU ${CPUK[$key]} ms/1k req (${UTIL[$key]} of a core)"
    if [[ $row == portico-limited* ]]; then
        # admitted = (requests - non-2xx/3xx) / wrk's own duration ("N requests in 3.00s")
        NON2XX[$key]=$(awk '/^ *Non-2xx or 3xx responses:/ { n = $5 } END { print n + 0 }' "$out")
        ADMIT[$key]=$(awk -v n2="${NON2XX[$key]}" '
            / requests in / {
                n = $1; d = $4; sub(/,$/, "", d)
                m = 1; if (d ~ /us$/) m = 1e-6; else if (d ~ /ms$/) m = 1e-3; else if (d ~ /m$/) m = 60; else if (d ~ /h$/) m = 3600
                gsub(/[a-z]+$/, "", d); d = d * m
                if (d > 0) printf "%.0f", (n - n2) / d; else print "n/a"
                exit
            }' "$out")
        [[ ${ADMIT[$key]} =~ ^[0-9]+$ ]] && ALL_ADMIT[$key]+=" ${ADMIT[$key]}"
        log "round $REP: $row @ $conns: admitted ${ADMIT[$key]} req/s (limit $LIMITED_RATE), non-2xx ${NON2XX[$key]}"
    fi
}

# ---------------------------------------------------------------- build
mkdir -p "$RESULTS_DIR"
STAMP=$(date +%Y%m%d-%H%M%S)
RAW_DIR="$RESULTS_DIR/raw-$STAMP"
mkdir -p "$RAW_DIR"
TMP=$(mktemp -d /tmp/portico-loadtest.XXXXXX)
chmod 755 "$TMP"

if ((wants_portico)); then
    if [[ -z $PORTICO_BIN ]]; then
        PORTICO_BIN="${CARGO_TARGET_DIR:-$REPO/target}/release/portico"
        command -v cargo >/dev/null || die "cargo not found (install Rust, or set PORTICO_BIN)"
        log "cargo build --release (log: $RAW_DIR/build.log)"
        if ! (cd "$REPO" && timeout "$BUILD_TIMEOUT" cargo build --release) >"$RAW_DIR/build.log" 2>&1; then
            tail -n 40 "$RAW_DIR/build.log" >&2 || true
            PORTICO_FAIL="cargo build --release failed"
            log "ERROR: $PORTICO_FAIL; portico rows will not be measured"
        fi
    fi
    if [[ -z $PORTICO_FAIL && ! -x $PORTICO_BIN ]]; then
        PORTICO_FAIL="no binary at $PORTICO_BIN"
        log "ERROR: $PORTICO_FAIL"
    fi
fi

# The HTTPS rows' certificate, the same for portico and nginx: ECDSA P-256, self-signed.
# (portico's config always names it: its HTTPS listener idles in the other rows.)
TLS_CERT="$TMP/tls/localhost.crt" TLS_KEY="$TMP/tls/localhost.key"
mkdir -p "$TMP/tls"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -subj /CN=localhost -addext subjectAltName=DNS:localhost \
    -keyout "$TLS_KEY" -out "$TLS_CERT" 2>/dev/null || die "cannot make the HTTPS rows' certificate with openssl"
chmod 644 "$TLS_KEY"   # nginx's worker reads it

# portico-jwt's token: RS256 with the test key of tests/fixtures/jwt (kid key-a), long-lived.
JWT_TOKEN=""
if [[ " $ROWS " == *" portico-jwt "* ]]; then
    b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
    jwt_input="$(printf '%s' '{"alg":"RS256","typ":"JWT","kid":"key-a"}' | b64url).$(printf '%s' \
        '{"iss":"https://issuer.example","aud":"portico-tests","sub":"loadtest","exp":4102444800}' | b64url)"
    JWT_TOKEN="$jwt_input.$(printf '%s' "$jwt_input" \
        | openssl dgst -sha256 -sign "$REPO/tests/fixtures/jwt/rsa-a.pem" -binary | b64url)" \
        || die "cannot sign the portico-jwt token with openssl"
fi

# From here on the script itself stays off the proxy's CPU.
if ((PIN)); then taskset -pc "$CLIENT_CPU" $$ >/dev/null; fi

# ---------------------------------------------------------------- run
LOADAVG_START=$(cut -d' ' -f1-3 /proc/loadavg)
log "placement: $PLACEMENT"
log "load average: $LOADAVG_START"
log "rows: $ROWS; connections: $CONNS; duration ${DUR_S}s (+${WARM_S}s warm-up); open files: $NOFILE"
start_nginx upstream nginx-upstream.conf "$UPSTREAM_PORT" client
UPSTREAM_PID=$STARTED_PID
check_response "http://127.0.0.1:$UPSTREAM_PORT/hello" >/dev/null || die "upstream does not answer 200 ok"

for ((REP = 1; REP <= REPS; REP++)); do
for row in $ROWS; do
    for conns in $CONNS; do
        key="$row:$conns"
        log "--- round $REP/$REPS: $row @ $conns connections"
        pid="" hdr="" want="" CHECK_BODY=ok
        case $row in
            direct)
                pid=$UPSTREAM_PID; url="http://127.0.0.1:$UPSTREAM_PORT/hello" ;;
            nginx-proxy)
                start_nginx nginx-proxy nginx-proxy.conf "$NGINX_PROXY_PORT" proxy
                pid=$STARTED_PID; url="http://127.0.0.1:$NGINX_PROXY_PORT/prod/proxy/hello" ;;
            nginx-return)
                start_nginx nginx-return nginx-return.conf "$NGINX_RETURN_PORT" proxy
                pid=$STARTED_PID; url="http://127.0.0.1:$NGINX_RETURN_PORT/prod/mock" ;;
            nginx-limit-req)
                start_nginx nginx-limit-req nginx-limit-req.conf "$NGINX_LIMIT_REQ_PORT" proxy
                pid=$STARTED_PID; url="http://127.0.0.1:$NGINX_LIMIT_REQ_PORT/prod/mock" ;;
            nginx-https|nginx-https-new)
                start_nginx "$row" nginx-https.conf "$NGINX_HTTPS_PORT" proxy
                pid=$STARTED_PID; url="https://127.0.0.1:$NGINX_HTTPS_PORT/prod/mock" ;;
            nginx-proxy-cache)
                start_nginx nginx-proxy-cache nginx-proxy-cache.conf "$NGINX_PROXY_CACHE_PORT" proxy
                pid=$STARTED_PID; url="http://127.0.0.1:$NGINX_PROXY_CACHE_PORT/prod/cached/hello"; want="X-Cache-Status: HIT" ;;
            portico-*)
                if [[ -n $PORTICO_FAIL ]]; then STATUS[$key]="NOT MEASURED ($PORTICO_FAIL)"; continue; fi
                if [[ $row == portico-limited-2w ]]; then
                    start_portico 2 all || { STATUS[$key]="FAILED (portico $PORTICO_FAIL)"; PORTICO_FAIL=""; continue; }
                else
                    start_portico 1 proxy || { STATUS[$key]="FAILED (portico $PORTICO_FAIL)"; PORTICO_FAIL=""; continue; }
                fi
                pid=$STARTED_PID
                case $row in
                    portico-proxy) url="http://127.0.0.1:$ACTUAL_PORTICO_PORT/prod/proxy/hello" ;;
                    portico-mock) url="http://127.0.0.1:$ACTUAL_PORTICO_PORT/prod/mock" ;;
                    portico-keyed) url="http://127.0.0.1:$ACTUAL_PORTICO_PORT/prod/keyed"; hdr="x-api-key: $API_KEY" ;;
                    portico-limited*) url="http://127.0.0.1:$ACTUAL_PORTICO_PORT/prod/limited" ;;
                    portico-cached) url="http://127.0.0.1:$ACTUAL_PORTICO_PORT/prod/cached/hello"; want="x-cache: Hit" ;;
                    portico-bare) url="http://127.0.0.1:$ACTUAL_PORTICO_PORT/bare/mock" ;;
                    portico-observed) url="http://127.0.0.1:$ACTUAL_PORTICO_PORT/obs/mock" ;;
                    portico-lambda) url="http://127.0.0.1:$ACTUAL_PORTICO_PORT/prod/fn" ;;
                    portico-jwt) url="http://127.0.0.1:$ACTUAL_PORTICO_PORT/prod/jwt/hello"; hdr="authorization: Bearer $JWT_TOKEN" ;;
                    portico-https|portico-https-new) url="https://127.0.0.1:$PORTICO_TLS_PORT/prod/mock" ;;
                    portico-mock-vtl) url="http://127.0.0.1:$ACTUAL_PORTICO_PORT/prod/vtl/a1"
                        CHECK_BODY='{"id": "a1", "stage": "prod"}' ;;
                    portico-aws) url="http://127.0.0.1:$ACTUAL_PORTICO_PORT/prod/items/a1"
                        CHECK_BODY='{"id": "a1", "name": "Ann"}' ;;
                esac ;;
        esac
        WRK_NEW_CONNS=0
        [[ $row == *-https-new ]] && WRK_NEW_CONNS=1
        measure "$row" "$conns" "$pid" "$url" "$hdr" "$want"
        [[ ${STATUS[$key]} == ok ]] || FAILS[$key]+="round $REP: ${STATUS[$key]}; "
        if [[ $row != direct ]]; then
            [[ $row == portico-* ]] && cp "$TMP/portico/portico.log" "$RAW_DIR/$row-c$conns-portico.log" 2>/dev/null || true
            stop_proc "$pid"; forget_pid "$pid"
            if [[ $row == portico-observed ]]; then # the log must really have been written
                log "portico-observed @ $conns: access log lines written: $(wc -l <"$TMP/portico/access.log" 2>/dev/null || echo 0) (wrk counted its requests above; the warm-up and checks add a few)"
            fi
        fi
        sleep 1
    done
done
done

# ---------------------------------------------------------------- report
median() { # printf-format numbers... -> the median (mean of the middle two when even)
    local fmt=$1; shift
    printf '%s\n' "$@" | sort -g | awk -v f="$fmt" '{ v[NR] = $1 } END { if (NR == 0) print "n/a"; else printf f, (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
spread() { # printf-format numbers... -> "min–max"
    local fmt=$1; shift
    printf '%s\n' "$@" | sort -g | awk -v f="$fmt" 'NR == 1 { lo = $1 } { hi = $1 } END { printf f "–" f, lo, hi }'
}
# Rows measured at least once report medians over their successful rounds.
for row in $ROWS; do
    for conns in $CONNS; do
        key="$row:$conns"
        [[ -n ${ALL_RPS[$key]:-} ]] || continue
        # shellcheck disable=SC2086
        { RPS[$key]=$(median %.0f ${ALL_RPS[$key]}); CPUK[$key]=$(median %.2f ${ALL_CPUK[$key]})
          RPS_SPREAD[$key]=$(spread %.0f ${ALL_RPS[$key]}); CPUK_SPREAD[$key]=$(spread %.2f ${ALL_CPUK[$key]})
          UTIL[$key]="$(median %.0f ${ALL_UTIL[$key]})%"
          P99[$key]=$(median %.2f ${ALL_P99[$key]}); P99_SPREAD[$key]=$(spread %.2f ${ALL_P99[$key]})
          [[ -n ${ALL_ADMIT[$key]:-} ]] && ADMIT[$key]=$(median %.0f ${ALL_ADMIT[$key]}); }
        STATUS[$key]=ok
    done
done
ratio() { # a b -> a/b with 2 decimals, or n/a
    awk -v a="${1:-}" -v b="${2:-}" 'BEGIN { if (a ~ /^[0-9.]+$/ && b ~ /^[0-9.]+$/ && b + 0 > 0) printf "%.2f", a / b; else print "n/a" }'
}

REPORT="$RAW_DIR/report.md"
{
    echo "# portico load test — $(date '+%Y-%m-%d %H:%M:%S %Z')"
    echo
    echo "- kernel: $(uname -r); CPUs: $NCPU; CPU model: $(lscpu 2>/dev/null | awk -F: '/^Model name/ {gsub(/^ +/, "", $2); print $2; exit}')"
    echo "- $NGINX_VERSION; wrk: $WRK_VERSION"
    echo "- placement: $PLACEMENT"
    echo "- load average at start: $LOADAVG_START (the machine should be otherwise idle; other busy processes make every row noisy)"
    echo "- $REPS rounds over all rows, interleaved; req/s and CPU are the median of the rounds, with min–max in brackets; so is the p99 (in ms); p50 and errors are from the last round"
    echo "- each target: 1 worker (nginx worker_processes 1, portico workers = 1); wrk -t1, ${DUR_S}s measured after a ${WARM_S}s warm-up, --timeout $WRK_TIMEOUT; open files $NOFILE"
    if [[ " $ROWS " == *" portico-limited-2w "* ]]; then
        echo "- except \"portico limited, 2 workers\": portico workers = 2, not pinned to one core (taskset -c 0-$((NCPU - 1))), so it shares CPU $CLIENT_CPU with wrk and the upstream; its req/s and CPU are not comparable with the other rows, and its CPU use can exceed 100%"
    fi
    if [[ " $ROWS " == *" portico-"* ]]; then
        echo "- portico config: account and stage \`prod\` throttles at 1,000,000 req/s (burst 1,000,000) apply to every portico row, mock and proxy included; keyed adds x-api-key lookup, the usage plan's per-key bucket (also 1,000,000) and usage counting; limited: route_throttle ${LIMITED_RATE:-20000} req/s, burst ${LIMITED_BURST:-1000}"
    fi
    if [[ " $ROWS " == *" portico-cached "* || " $ROWS " == *" nginx-proxy-cache "* ]]; then
        echo "- cached rows: GET /prod/cached/hello, every request after the first a hit (checked before measuring: portico \`x-cache: Hit\`, nginx \`X-Cache-Status: HIT\`); portico stage cache capacity 64MB, ttl 300 s (every other portico route has \`cache = { enabled = false }\`); nginx \`proxy_cache\` (keys_zone 10m, files under the run's temp dir, \`proxy_cache_valid 200 10m\`, \`proxy_cache_lock on\`)"
    fi
    if [[ " $ROWS " == *" portico-observed "* || " $ROWS " == *" portico-bare "* ]]; then
        echo "- monitoring rows: the same mock route on stage \`bare\` (\`metrics = false\`, no access log) and stage \`obs\` (metrics on, JSON access log to a file under the run's temp dir, removed at each start); the \`prod\` rows count metrics (the default) and keep no access log"
    fi
    if [[ " $ROWS " == *" portico-mock-vtl "* || " $ROWS " == *" portico-aws "* ]]; then
        echo "- execution rows: GET /prod/vtl/a1 (MOCK: a request template choosing the status, a response template writing \`{\"id\", \"stage\"}\`); GET /prod/items/a1 (AWS integration: DynamoDB GetItem request template, SigV4 signing, the call to a fake DynamoDB (the upstream nginx's port $DDB_PORT answering a fixed item at once), a response template reshaping the item); compared with the plain \"portico proxy\" row"
    fi
    echo "- CPU ms / 1k req: (utime+stime of the target's processes after − before the measured run) / wrk's request count × 1000; for \"direct upstream\" it is the upstream's CPU"
    echo
    echo "| target | conns | req/s | p50 | p99 | errors | CPU ms / 1k req |"
    echo "|---|---:|---:|---:|---:|---|---:|"
    for row in $ROWS; do
        for conns in $CONNS; do
            key="$row:$conns"
            if [[ ${STATUS[$key]:-} == ok ]]; then
                echo "| $(label "$row") | $conns | ${RPS[$key]} (${RPS_SPREAD[$key]}) | ${P50[$key]} | ${P99[$key]}ms (${P99_SPREAD[$key]}) | ${ERRS[$key]} | ${CPUK[$key]} (${CPUK_SPREAD[$key]}) |"
            else
                echo "| $(label "$row") | $conns | ${STATUS[$key]:-not run} | | | | |"
            fi
        done
    done
    echo
    echo "Ratios:"
    echo
    for conns in $CONNS; do
        echo "- @ $conns conns: portico proxy ÷ nginx proxy req/s = $(ratio "${RPS[portico-proxy:$conns]:-}" "${RPS[nginx-proxy:$conns]:-}");" \
            "CPU/req = $(ratio "${CPUK[portico-proxy:$conns]:-}" "${CPUK[nginx-proxy:$conns]:-}");" \
            "p99 = $(ratio "${P99[portico-proxy:$conns]:-}" "${P99[nginx-proxy:$conns]:-}");" \
            "portico mock ÷ nginx return-200 CPU/req = $(ratio "${CPUK[portico-mock:$conns]:-}" "${CPUK[nginx-return:$conns]:-}")"
        if [[ " $ROWS " == *" portico-keyed "* ]]; then
            echo "- @ $conns conns: portico keyed ÷ portico mock req/s = $(ratio "${RPS[portico-keyed:$conns]:-}" "${RPS[portico-mock:$conns]:-}")" \
                "(overhead of throttling + keys; target ≥ 0.97); CPU/req = $(ratio "${CPUK[portico-keyed:$conns]:-}" "${CPUK[portico-mock:$conns]:-}")"
        fi
        if [[ " $ROWS " == *" portico-cached "* || " $ROWS " == *" nginx-proxy-cache "* ]]; then
            echo "- @ $conns conns: portico cached ÷ nginx proxy_cache req/s = $(ratio "${RPS[portico-cached:$conns]:-}" "${RPS[nginx-proxy-cache:$conns]:-}") (target ≥ 1.6);" \
                "CPU/req = $(ratio "${CPUK[portico-cached:$conns]:-}" "${CPUK[nginx-proxy-cache:$conns]:-}") (target ≤ 0.6);" \
                "p99 = $(ratio "${P99[portico-cached:$conns]:-}" "${P99[nginx-proxy-cache:$conns]:-}")"
        fi
        if [[ " $ROWS " == *" portico-lambda "* || " $ROWS " == *" portico-jwt "* ]]; then
            echo "- @ $conns conns: portico Lambda proxy ÷ portico HTTP proxy req/s = $(ratio "${RPS[portico-lambda:$conns]:-}" "${RPS[portico-proxy:$conns]:-}");" \
                "CPU/req = $(ratio "${CPUK[portico-lambda:$conns]:-}" "${CPUK[portico-proxy:$conns]:-}");" \
                "portico JWT-protected proxy ÷ portico proxy req/s = $(ratio "${RPS[portico-jwt:$conns]:-}" "${RPS[portico-proxy:$conns]:-}");" \
                "CPU/req = $(ratio "${CPUK[portico-jwt:$conns]:-}" "${CPUK[portico-proxy:$conns]:-}")"
        fi
        if [[ " $ROWS " == *" portico-https "* || " $ROWS " == *" portico-https-new "* ]]; then
            echo "- @ $conns conns: portico ÷ nginx over HTTPS, keep-alive req/s = $(ratio "${RPS[portico-https:$conns]:-}" "${RPS[nginx-https:$conns]:-}") (target ≥ 1.2);" \
                "CPU/req = $(ratio "${CPUK[portico-https:$conns]:-}" "${CPUK[nginx-https:$conns]:-}");" \
                "new TLS connections/s = $(ratio "${RPS[portico-https-new:$conns]:-}" "${RPS[nginx-https-new:$conns]:-}") (target ≥ 1.2);" \
                "CPU/handshake = $(ratio "${CPUK[portico-https-new:$conns]:-}" "${CPUK[nginx-https-new:$conns]:-}")"
        fi
        if [[ " $ROWS " == *" portico-observed "* || " $ROWS " == *" portico-bare "* ]]; then
            echo "- @ $conns conns: portico monitored ÷ bare req/s = $(ratio "${RPS[portico-observed:$conns]:-}" "${RPS[portico-bare:$conns]:-}") (target ≥ 0.95);" \
                "CPU/req = $(ratio "${CPUK[portico-observed:$conns]:-}" "${CPUK[portico-bare:$conns]:-}")"
        fi
        if [[ " $ROWS " == *" portico-mock-vtl "* || " $ROWS " == *" portico-aws "* ]]; then
            echo "- @ $conns conns: portico MOCK with templates ÷ portico proxy req/s = $(ratio "${RPS[portico-mock-vtl:$conns]:-}" "${RPS[portico-proxy:$conns]:-}");" \
                "CPU/req = $(ratio "${CPUK[portico-mock-vtl:$conns]:-}" "${CPUK[portico-proxy:$conns]:-}");" \
                "portico AWS GetItem ÷ portico proxy req/s = $(ratio "${RPS[portico-aws:$conns]:-}" "${RPS[portico-proxy:$conns]:-}");" \
                "CPU/req = $(ratio "${CPUK[portico-aws:$conns]:-}" "${CPUK[portico-proxy:$conns]:-}")"
        fi
        if [[ " $ROWS " == *" nginx-limit-req "* ]]; then
            echo "- @ $conns conns: nginx limit_req ÷ nginx return 200 req/s = $(ratio "${RPS[nginx-limit-req:$conns]:-}" "${RPS[nginx-return:$conns]:-}");" \
                "CPU/req = $(ratio "${CPUK[nginx-limit-req:$conns]:-}" "${CPUK[nginx-return:$conns]:-}")"
        fi
    done
    if [[ " $ROWS " == *" portico-limited"* ]]; then
        echo
        echo "Throttle accuracy (route limit $LIMITED_RATE req/s, burst $LIMITED_BURST; admitted = (wrk requests − non-2xx) ÷ wrk's duration;" \
            "a full bucket at the start allows at most $(awk -v r="$LIMITED_RATE" -v b="$LIMITED_BURST" -v d="$DUR_S" 'BEGIN { printf "%.3f", (r * d + b) / (r * d) }') × the limit in ${DUR_S}s):"
        echo
        for row in portico-limited portico-limited-2w; do
            [[ " $ROWS " == *" $row "* ]] || continue
            for conns in $CONNS; do
                key="$row:$conns"
                if [[ ${STATUS[$key]:-} == ok && -n ${ADMIT[$key]:-} ]]; then
                    echo "- $(label "$row") @ $conns conns: admitted ${ADMIT[$key]} req/s = $(awk -v a="${ADMIT[$key]}" -v r="$LIMITED_RATE" 'BEGIN { printf "%.3f", a / r }') × the limit" \
                        "(offered ${RPS[$key]} req/s; non-2xx in the last round: ${NON2XX[$key]:-?})"
                else
                    echo "- $(label "$row") @ $conns conns: ${STATUS[$key]:-not run}"
                fi
            done
        done
    fi
    echo
    if ((PERF)); then
        echo "perf stat of the target per request (last round; PERF=1):"
        echo
        for row in $ROWS; do for conns in $CONNS; do
            [[ -n ${PERFS[$row:$conns]:-} ]] && echo "- $(label "$row") @ $conns: ${PERFS[$row:$conns]}"
        done; done
        echo
    fi
    echo "Target's CPU use during the measured run (100% = one core busy; below ~95% the row is probably limited by the client core, not the target; the 2-worker row can use up to 200%):"
    echo
    for row in $ROWS; do
        line=""
        for conns in $CONNS; do
            [[ ${STATUS[$row:$conns]:-} == ok ]] && line+=" @$conns ${UTIL[$row:$conns]};"
        done
        [[ -n $line ]] && echo "- $(label "$row"):${line%;}"
    done
    echo
    for row in $ROWS; do for conns in $CONNS; do
        [[ -n ${FAILS[$row:$conns]:-} ]] && echo "- failed rounds, $(label "$row") @ $conns: ${FAILS[$row:$conns]}"
    done; done
    echo "Raw wrk output: loadtest/results/raw-$STAMP/"
} >"$REPORT"

cp "$REPORT" "$RESULTS_DIR/latest.md"
cp "$REPORT" "$RESULTS_DIR/$STAMP.md"
echo
cat "$REPORT"

failed=0
for row in $ROWS; do for conns in $CONNS; do
    [[ ${STATUS[$row:$conns]:-} == ok && -z ${FAILS[$row:$conns]:-} ]] || failed=1
done; done
if ((failed)); then
    log "some rows were not measured (see the table)"
    exit 1
fi
