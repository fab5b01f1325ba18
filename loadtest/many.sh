#!/usr/bin/env bash
# portico many-connection benchmark (issue 19), one command: idle memory per
# connection and a steady 1 request/s on each of CONNS keep-alive connections,
# portico against nginx, one worker each, on loopback. See loadtest/README.md.
#
#   1. idle, plain:  loadtest/conns.py --mode idle, CONNS connections each sending
#      one GET and then held open; the server's RSS delta / open connections.
#   2. idle, TLS:    the same over HTTPS (portico only).
#   3. idle, nginx:  the same against nginx `return 200` (its worker's RSS).
#   4. steady:       examples/conns (Rust, io_uring), CONNS connections x one
#      request per second for DURATION s, REPS runs per server, portico and
#      nginx alternately; p99 and server CPU per request, median and spread.
#   5. wrk rows:     loadtest/run.sh with WRK_ROWS at WRK_CONNS connections,
#      WRK_REPS interleaved rounds (proxy and cache hit against nginx at 64 and
#      4,000 connections), its own table after this one; WRK_ROWS= skips it.
# A fresh server process for every measurement. The server under test is
# pinned to SERVER_CPU (taskset on the whole process), every client (and this
# script) to CLIENT_CPU. Bounded in time, stops by itself, kills every process
# it started (also on Ctrl-C). Prints a Markdown table and writes it to
# loadtest/results/many-latest.md and many-<timestamp>.md (raw client output in
# results/raw-many-<timestamp>/). Exit status 1 when any run had an error.
#
# Env: CONNS (15000), DURATION (30, seconds of each steady window), REPS (5,
# steady runs per server), IDLE_REPS (1), INTERVAL (1, seconds between one
# connection's requests), PORTICO_BIN (default: cargo build --release),
# CONNS_BIN (default: target/release/examples/conns, built when missing or
# when PORTICO_BIN is not set), BASE_PORT (18600: portico BASE_PORT, its TLS
# listener BASE_PORT+1, nginx BASE_PORT+2), SERVER_CPU (0), CLIENT_CPU (1),
# BUILD_TIMEOUT (1800), WRK_ROWS ("nginx-proxy portico-proxy portico-cached
# nginx-proxy-cache"), WRK_CONNS ("64 4000"), WRK_REPS (5), WRK_DURATION (10s,
# each wrk round).
set -euo pipefail

export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"
export LC_ALL=C

LT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$LT_DIR/.." && pwd)
CONF_DIR="$LT_DIR/conf"
RESULTS_DIR="$LT_DIR/results"

CONNS=${CONNS:-15000}
DURATION=${DURATION:-30}
DURATION=${DURATION%s}
REPS=${REPS:-5}
IDLE_REPS=${IDLE_REPS:-1}
INTERVAL=${INTERVAL:-1}
PORTICO_BIN=${PORTICO_BIN:-}
CONNS_BIN=${CONNS_BIN:-}
BASE_PORT=${BASE_PORT:-18600}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
BUILD_TIMEOUT=${BUILD_TIMEOUT:-1800}
WRK_ROWS=${WRK_ROWS-"nginx-proxy portico-proxy portico-cached nginx-proxy-cache"}
WRK_CONNS=${WRK_CONNS:-"64 4000"}
WRK_REPS=${WRK_REPS:-5}
WRK_DURATION=${WRK_DURATION:-10s}

PORTICO_PORT=$BASE_PORT
PORTICO_TLS_PORT=$((BASE_PORT + 1))
NGINX_PORT=$((BASE_PORT + 2))

log() { printf '[many %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[[ $CONNS =~ ^[0-9]+$ && $CONNS -gt 0 ]] || die "bad CONNS '$CONNS'"
[[ $DURATION =~ ^[0-9]+$ && $DURATION -gt 0 ]] || die "DURATION must be whole seconds, like 30 or 30s (got '$DURATION')"
[[ $REPS =~ ^[0-9]+$ && $REPS -gt 0 ]] || die "bad REPS '$REPS'"
[[ $IDLE_REPS =~ ^[0-9]+$ && $IDLE_REPS -gt 0 ]] || die "bad IDLE_REPS '$IDLE_REPS'"
[[ $INTERVAL =~ ^[0-9]+([.][0-9]+)?$ ]] || die "bad INTERVAL '$INTERVAL'"
[[ $BASE_PORT =~ ^[0-9]+$ && $BASE_PORT -gt 1024 && $BASE_PORT -lt 65530 ]] || die "bad BASE_PORT '$BASE_PORT'"

# ---------------------------------------------------------------- cleanup
TMP=""
SERVER_PIDS=()          # every server process this script started and has not stopped yet
CLIENT_PID=""    # the load client running now
POLICY_RC_CREATED=0

# shellcheck source=loadtest/lib.sh
source "$LT_DIR/lib.sh"




stop_server() { stop_proc "$1"; forget_pid "$1"; }

cleanup() {
    local rc=$? p
    set +e
    trap - EXIT INT TERM
    if [[ -n $CLIENT_PID ]]; then
        kill -TERM "$CLIENT_PID" 2>/dev/null
        for ((p = 0; p < 30; p++)); do kill -0 "$CLIENT_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$CLIENT_PID" 2>/dev/null
        wait "$CLIENT_PID" 2>/dev/null
    fi
    for p in "${SERVER_PIDS[@]}"; do stop_proc "$p"; done
    ((POLICY_RC_CREATED)) && rm -f /usr/sbin/policy-rc.d
    [[ -n $TMP && -d $TMP ]] && rm -rf "$TMP"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- tools

if ! command -v nginx >/dev/null; then
    log "installing nginx"
    apt_install nginx-light || apt_install nginx || die "cannot install nginx"
fi
if ! command -v curl >/dev/null; then log "installing curl"; apt_install curl || die "cannot install curl"; fi
if ! command -v openssl >/dev/null; then log "installing openssl"; apt_install openssl || die "cannot install openssl"; fi
if ! command -v python3 >/dev/null; then log "installing python3"; apt_install python3 || die "cannot install python3"; fi
command -v taskset >/dev/null || { apt_install util-linux || die "cannot install taskset (util-linux)"; }
command -v timeout >/dev/null || die "coreutils 'timeout' missing"

NGINX_BIN=$(command -v nginx)
NGINX_VERSION=$("$NGINX_BIN" -v 2>&1 || true)
NGINX_VERSION=${NGINX_VERSION%%$'\n'*}
NGINX_HELP=$("$NGINX_BIN" -h 2>&1 || true)
NGINX_E_FLAG=0
[[ $NGINX_HELP == *"-e filename"* ]] && NGINX_E_FLAG=1

# ---------------------------------------------------------------- limits, CPUs
# Each process (server, client) holds CONNS sockets; 20,000 is the per-process
# limit this benchmark was written for.
WANT_NOFILE=20000
((CONNS + 200 > WANT_NOFILE)) && WANT_NOFILE=$((CONNS + 200))
hard=$(ulimit -Hn)
if [[ $hard != unlimited && $hard -lt $WANT_NOFILE ]]; then
    ulimit -Hn "$WANT_NOFILE" 2>/dev/null || true
    hard=$(ulimit -Hn)
fi
NOFILE=$WANT_NOFILE
[[ $hard != unlimited && $hard -lt $NOFILE ]] && NOFILE=$hard
ulimit -Sn "$NOFILE"
WCONN=$((NOFILE - 100))
((CONNS + 100 <= NOFILE)) \
    || die "open-file limit $NOFILE is too low for CONNS=$CONNS (need $((CONNS + 100)); as root: ulimit -Hn $((CONNS + 200)))"
read -r PORT_LO PORT_HI </proc/sys/net/ipv4/ip_local_port_range || true
if [[ -n ${PORT_HI:-} ]] && ((CONNS > PORT_HI - PORT_LO + 1)); then
    die "CONNS=$CONNS connections to one address need more local ports than ip_local_port_range ($PORT_LO-$PORT_HI) gives"
fi

NCPU=$(nproc)
SERVER_PIN=()
CLIENT_PIN=()
if ((NCPU >= 2)); then
    SERVER_PIN=(taskset -c "$SERVER_CPU")
    CLIENT_PIN=(taskset -c "$CLIENT_CPU")
    PLACEMENT="server under test pinned to CPU $SERVER_CPU (taskset on the whole process), load client (and this script) to CPU $CLIENT_CPU"
else
    log "WARNING: only $NCPU CPU: no CPU pinning, server and client share it"
    PLACEMENT="no pinning (fewer than 2 CPUs): server and client share the CPU"
fi

# ---------------------------------------------------------------- build
mkdir -p "$RESULTS_DIR"
STAMP=$(date +%Y%m%d-%H%M%S)
RAW_DIR="$RESULTS_DIR/raw-many-$STAMP"
mkdir -p "$RAW_DIR"
TMP=$(mktemp -d /tmp/portico-many.XXXXXX)
chmod 755 "$TMP"

cargo_build() { # args... (log in RAW_DIR/build.log)
    command -v cargo >/dev/null || die "cargo not found (install Rust, or set PORTICO_BIN and CONNS_BIN)"
    log "cargo build $* (log: $RAW_DIR/build.log)"
    if ! (cd "$REPO" && timeout "$BUILD_TIMEOUT" cargo build "$@") >>"$RAW_DIR/build.log" 2>&1; then
        tail -n 40 "$RAW_DIR/build.log" >&2 || true
        die "cargo build $* failed or timed out"
    fi
}
TARGET_DIR=${CARGO_TARGET_DIR:-$REPO/target}
BUILT=0
if [[ -z $PORTICO_BIN ]]; then
    cargo_build --release
    PORTICO_BIN="$TARGET_DIR/release/portico"
    BUILT=1
fi
[[ -x $PORTICO_BIN ]] || die "PORTICO_BIN '$PORTICO_BIN' is not executable"
if [[ -z $CONNS_BIN ]]; then
    CONNS_BIN="$TARGET_DIR/release/examples/conns"
    if ((BUILT)) || [[ ! -x $CONNS_BIN ]]; then cargo_build --release --example conns; fi
fi
[[ -x $CONNS_BIN ]] || die "CONNS_BIN '$CONNS_BIN' is not executable"
PROFILE=release
[[ $PORTICO_BIN == */debug/* ]] && PROFILE="debug (figures need a release build)"

# From here on this script's own work (curl, parsing) stays off the server's CPU.
if ((NCPU >= 2)); then taskset -pc "$CLIENT_CPU" $$ >/dev/null; fi

# The TLS idle run's certificate: ECDSA P-256, self-signed, for localhost.
TLS_CERT="$TMP/tls/localhost.crt" TLS_KEY="$TMP/tls/localhost.key"
mkdir -p "$TMP/tls"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -subj /CN=localhost -addext subjectAltName=DNS:localhost \
    -keyout "$TLS_KEY" -out "$TLS_CERT" 2>/dev/null || die "cannot make the TLS certificate with openssl"
# conns.py connects to the first address `localhost` resolves to; the servers listen on 127.0.0.1.
LOCALHOST_IP=$(getent ahosts localhost 2>/dev/null | awk 'NR == 1 { print $1 }')
[[ $LOCALHOST_IP == 127.0.0.1 ]] \
    || die "'localhost' resolves to '${LOCALHOST_IP:-nothing}' first, not 127.0.0.1: the TLS idle run needs it"

# ---------------------------------------------------------------- servers

check_ok() { # url -> 0 if it answers 200 "ok"; else prints a reason
    local body code
    body=$(curl -sk -m 5 -o - -w '\n%{http_code}' "$1" 2>/dev/null) || { echo "curl failed"; return 1; }
    code=${body##*$'\n'}
    body=${body%$'\n'*}
    [[ $code == 200 ]] || { echo "HTTP $code"; return 1; }
    [[ $body == ok || $body == $'ok\n' ]] || { echo "unexpected body '${body:0:60}'"; return 1; }
}

SERVER_PID=""    # the process whose RSS and CPU are measured (portico; nginx's worker)
SERVER_MAIN=""   # the process to stop (portico; nginx's master)

start_portico() {
    local dir="$TMP/portico" i j why
    rm -rf "$dir"; mkdir -p "$dir/state"   # fresh state for every start
    sed -e "s/@PORT@/$PORTICO_PORT/g" -e "s/@TLS_PORT@/$PORTICO_TLS_PORT/g" -e "s|@STATE_DIR@|$dir/state|g" \
        -e "s|@CERT@|$TLS_CERT|g" -e "s|@KEY@|$TLS_KEY|g" "$CONF_DIR/many.toml" >"$dir/portico.toml"
    port_is_free "$PORTICO_PORT" || die "port $PORTICO_PORT is already in use (set BASE_PORT)"
    port_is_free "$PORTICO_TLS_PORT" || die "port $PORTICO_TLS_PORT is already in use (set BASE_PORT)"
    "${SERVER_PIN[@]}" "$PORTICO_BIN" --config "$dir/portico.toml" >"$dir/portico.log" 2>&1 &
    SERVER_MAIN=$!
    SERVER_PID=$SERVER_MAIN
    SERVER_PIDS+=("$SERVER_MAIN")
    for ((i = 0; i < 300; i++)); do
        if grep -q "listening on http://127\.0\.0\.1:$PORTICO_PORT\b" "$dir/portico.log"; then
            why=$(check_ok "http://127.0.0.1:$PORTICO_PORT/prod/mock") \
                || die "portico: GET /prod/mock: $why; its log: $(tail -n 20 "$dir/portico.log")"
            for ((j = 0; j < 50; j++)); do
                why=$(check_ok "https://localhost:$PORTICO_TLS_PORT/prod/mock") && return 0
                sleep 0.1
            done
            die "portico: GET https://localhost:$PORTICO_TLS_PORT/prod/mock: $why; its log: $(tail -n 20 "$dir/portico.log")"
        fi
        if ! kill -0 "$SERVER_MAIN" 2>/dev/null; then
            cp "$dir/portico.log" "$RAW_DIR/portico-start.log" 2>/dev/null || true
            die "portico exited at start-up; its log: $(tail -n 30 "$dir/portico.log")"
        fi
        sleep 0.1
    done
    die "portico printed no 'listening on' line in 30 s; its log: $(tail -n 30 "$dir/portico.log")"
}

start_nginx() {
    local dir="$TMP/nginx" i why kids eargs=()
    rm -rf "$dir"; mkdir -p "$dir/tmp"
    sed -e "s/@NOFILE@/$NOFILE/g" -e "s/@WCONN@/$WCONN/g" -e "s/@PORT@/$NGINX_PORT/g" \
        "$CONF_DIR/nginx-return.conf" >"$dir/nginx.conf"
    port_is_free "$NGINX_PORT" || die "port $NGINX_PORT is already in use (set BASE_PORT)"
    ((NGINX_E_FLAG)) && eargs=(-e "$dir/error.log")
    "${SERVER_PIN[@]}" "$NGINX_BIN" -p "$dir/" -c "$dir/nginx.conf" "${eargs[@]}" >"$dir/stdout.log" 2>&1 &
    SERVER_MAIN=$!
    SERVER_PIDS+=("$SERVER_MAIN")
    for ((i = 0; i < 100; i++)); do
        kill -0 "$SERVER_MAIN" 2>/dev/null \
            || die "nginx exited at start-up: $(cat "$dir/stdout.log" "$dir/error.log" 2>/dev/null | tail -n 20)"
        if port_answers "$NGINX_PORT"; then
            why=$(check_ok "http://127.0.0.1:$NGINX_PORT/prod/mock") || die "nginx: GET /prod/mock: $why"
            # worker_processes 1: the master's one child is the worker that holds the connections.
            kids=$(child_pids "$SERVER_MAIN")
            [[ $kids =~ ^[0-9]+$ ]] || die "nginx master $SERVER_MAIN: expected one worker, found '${kids//$'\n'/ }'"
            SERVER_PID=$kids
            return 0
        fi
        sleep 0.1
    done
    die "nginx does not answer on port $NGINX_PORT after 10 s: $(tail -n 20 "$dir/error.log" 2>/dev/null)"
}

start_server() { # portico|nginx
    case $1 in
        portico) start_portico ;;
        nginx) start_nginx ;;
    esac
}

# ---------------------------------------------------------------- clients
# The last stdout line of a client is one JSON object; prints the named fields,
# one per line ("-" for null or absent). Returns 1 when there is no JSON line.
json_fields() { # file field...
    local f=$1
    shift
    python3 - "$f" "$@" <<'EOF'
import json, sys
lines = [l for l in open(sys.argv[1], errors="replace").read().splitlines() if l.strip()]
try:
    d = json.loads(lines[-1])
except (IndexError, ValueError):
    sys.exit(1)
for k in sys.argv[2:]:
    v = d.get(k)
    print("-" if v is None else v)
EOF
}

run_client() { # timeout-seconds outfile command... -> exit status of the client
    local secs=$1 out=$2 rc=0
    shift 2
    "${CLIENT_PIN[@]}" timeout -k 5 "$secs" "$@" >"$out" 2>&1 &
    CLIENT_PID=$!
    wait "$CLIENT_PID" || rc=$?
    CLIENT_PID=""
    return "$rc"
}

TOTAL_ERRORS=0
FAILURES=()
declare -A IDLE_KIB IDLE_RSS STEADY_P99 STEADY_CPU STEADY_RPS ERRS RUNS

# idle row: name server url
measure_idle() {
    local row=$1 server=$2 url=$3 out rc=0 v kib open errs before after
    start_server "$server"
    out="$RAW_DIR/idle-$row-r$REP.txt"
    log "idle $row, $CONNS connections ($url, server pid $SERVER_PID)"
    # Over TLS the Python client's handshakes are slow (~1 ms of its CPU
    # each): it opens 1,000 a second, not 2,000, and waits longer to
    # connect. Faster, it fell behind by more than the server's header_ms
    # (10 s) and a third or more were closed before their request (measured
    # alike with and without the timing wheel).
    local pace=(--timeout 5)
    [[ $url == https://* ]] && pace=(--timeout 60 --open-rate 1000)
    run_client $((CONNS / 20 + 300)) "$out" python3 "$LT_DIR/conns.py" --url "$url" --mode idle \
        --conns "$CONNS" "${pace[@]}" --pid "$SERVER_PID" || rc=$?
    RUNS[$row]=$(( ${RUNS[$row]:-0} + 1 ))
    if ! v=$(json_fields "$out" rss_delta_kib_per_conn open errors rss_before_kib rss_after_kib); then
        log "idle $row: conns.py exit $rc and no JSON line; its output: $(tail -n 5 "$out")"
        FAILURES+=("idle $row: conns.py exit $rc, no result")
        ERRS[$row]=$(( ${ERRS[$row]:-0} + CONNS )); TOTAL_ERRORS=$((TOTAL_ERRORS + CONNS))
        stop_server "$SERVER_MAIN"
        return 0
    fi
    { read -r kib; read -r open; read -r errs; read -r before; read -r after; } <<<"$v"
    [[ $open =~ ^[0-9]+$ ]] || open=0
    [[ $errs =~ ^[0-9]+$ ]] || errs=0
    # a connection closed while held counts as an error too
    errs=$((errs + CONNS - open))
    ERRS[$row]=$(( ${ERRS[$row]:-0} + errs )); TOTAL_ERRORS=$((TOTAL_ERRORS + errs))
    kill -0 "$SERVER_PID" 2>/dev/null || FAILURES+=("idle $row: the server died")
    ((rc == 0 || errs > 0)) || FAILURES+=("idle $row: conns.py exit $rc")
    [[ $kib != - ]] && IDLE_KIB[$row]+=" $kib" && IDLE_RSS[$row]="$before $after"
    log "idle $row: $kib KiB per connection (RSS $before -> $after KiB), $open of $CONNS open, errors $errs"
    stop_server "$SERVER_MAIN"
}

# steady row: name server url
measure_steady() {
    local row=$1 server=$2 url=$3 out rc=0 v p99 cpu rps errs
    start_server "$server"
    out="$RAW_DIR/steady-$row-r$REP.txt"
    log "steady $row, round $REP: $CONNS connections x 1 request / ${INTERVAL} s for $DURATION s (server pid $SERVER_PID)"
    run_client $((CONNS / 1000 + DURATION + 180)) "$out" "$CONNS_BIN" --url "$url" --conns "$CONNS" \
        --interval "$INTERVAL" --duration "$DURATION" --pid "$SERVER_PID" || rc=$?
    RUNS[$row]=$(( ${RUNS[$row]:-0} + 1 ))
    if ! v=$(json_fields "$out" p99_ms server_cpu_us_per_req req_per_s errors); then
        log "steady $row: client exit $rc and no JSON line; its output: $(tail -n 5 "$out")"
        FAILURES+=("steady $row round $REP: client exit $rc, no result")
        ERRS[$row]=$(( ${ERRS[$row]:-0} + 1 )); TOTAL_ERRORS=$((TOTAL_ERRORS + 1))
        stop_server "$SERVER_MAIN"
        return 0
    fi
    { read -r p99; read -r cpu; read -r rps; read -r errs; } <<<"$v"
    [[ $errs =~ ^[0-9]+$ ]] || errs=0
    ERRS[$row]=$(( ${ERRS[$row]:-0} + errs )); TOTAL_ERRORS=$((TOTAL_ERRORS + errs))
    kill -0 "$SERVER_PID" 2>/dev/null || FAILURES+=("steady $row round $REP: the server died")
    ((rc == 0 || errs > 0)) || FAILURES+=("steady $row round $REP: client exit $rc")
    [[ $p99 != - ]] && STEADY_P99[$row]+=" $p99"
    [[ $cpu != - ]] && STEADY_CPU[$row]+=" $cpu"
    [[ $rps != - ]] && STEADY_RPS[$row]+=" $rps"
    log "steady $row, round $REP: p99 $p99 ms, server CPU $cpu us/req, $rps req/s, errors $errs"
    stop_server "$SERVER_MAIN"
}

# ---------------------------------------------------------------- runs
log "portico: $PORTICO_BIN ($PROFILE); client: $CONNS_BIN; $CONNS connections; idle x$IDLE_REPS, steady x$REPS of $DURATION s; raw output in $RAW_DIR"
for ((REP = 1; REP <= IDLE_REPS; REP++)); do
    measure_idle portico-idle portico "http://127.0.0.1:$PORTICO_PORT/prod/mock"
    measure_idle portico-tls-idle portico "https://localhost:$PORTICO_TLS_PORT/prod/mock"
    measure_idle nginx-idle nginx "http://127.0.0.1:$NGINX_PORT/prod/mock"
done
for ((REP = 1; REP <= REPS; REP++)); do
    measure_steady portico-steady portico "http://127.0.0.1:$PORTICO_PORT/prod/mock"
    measure_steady nginx-steady nginx "http://127.0.0.1:$NGINX_PORT/prod/mock"
done

# ---------------------------------------------------------------- report
stats() { # values... -> "median min max" ("- - -" when none)
    printf '%s\n' "$@" | grep -E '^[0-9.eE+-]+$' | sort -g | awk '
        { v[NR] = $1 }
        END {
            if (NR == 0) { print "- - -"; exit }
            m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
            print m, v[1], v[NR]
        }'
}
spread() { # printf-format values... -> "median (min–max)", or the one value
    local fmt=$1 m lo hi
    shift
    read -r m lo hi < <(stats "$@")
    [[ $m == - ]] && { echo "-"; return 0; }
    if (($# > 1)); then
        # shellcheck disable=SC2059
        printf "$fmt ($fmt–$fmt)\n" "$m" "$lo" "$hi"
    else
        # shellcheck disable=SC2059
        printf "$fmt\n" "$m"
    fi
}
median() { local m lo hi; read -r m lo hi < <(stats "$@"); echo "$m"; }
ratio() { # a b -> a / b to 2 decimals, or "-"
    awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b + 0 == 0) print "-"; else printf "%.2f\n", a / b }'
}
group() { # 15000 -> 15,000
    echo "$1" | sed -e ':a' -e 's/\([0-9]\)\([0-9]\{3\}\)\($\|,\)/\1,\2\3/' -e 'ta'
}

idle_cell() { # row -> "KiB (RSS a → b MiB)"
    local row=$1 before after v
    # shellcheck disable=SC2086
    v=$(spread "%.2f" ${IDLE_KIB[$row]:-})
    if [[ $v != - && -n ${IDLE_RSS[$row]:-} ]]; then
        read -r before after <<<"${IDLE_RSS[$row]}"
        v+=$(awk -v a="$before" -v b="$after" 'BEGIN { printf " (RSS %.1f → %.1f MiB)", a / 1024, b / 1024 }')
    fi
    echo "$v"
}

COMMIT=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)
[[ -n $(git -C "$REPO" status --porcelain --untracked-files=no 2>/dev/null) ]] && COMMIT+=" (with uncommitted changes)"
CPU_MODEL=$(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)
GC=$(group "$CONNS")
REPORT="$RESULTS_DIR/many-$STAMP.md"
{
    echo "# portico many connections, $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo
    echo "- Machine: $NCPU CPUs (${CPU_MODEL:-unknown model}), kernel $(uname -r); $NGINX_VERSION"
    echo "- portico commit $COMMIT, $PROFILE build \`$PORTICO_BIN\`, 1 worker (\`loadtest/conf/many.toml\`); nginx 1 worker, \`return 200\` (\`loadtest/conf/nginx-return.conf\`)"
    echo "- Placement: $PLACEMENT. A fresh server process for every measurement."
    echo "- Idle: \`loadtest/conns.py --mode idle\`, $GC keep-alive connections, one GET each, then held; the server's VmRSS delta (nginx: its worker) ÷ connections still open, once RSS has settled. TLS: ECDSA P-256 self-signed, HTTP/1.1. $IDLE_REPS run(s) each."
    echo "- Steady: \`examples/conns\` (Rust, io_uring), $GC connections × 1 request / ${INTERVAL} s, a ${DURATION} s window after all are open; latency from each request's scheduled send to the last byte of its answer; server CPU = utime + stime of the server process (10 ms ticks) ÷ answers in the window. $REPS runs per server, portico and nginx alternately; median (min–max)."
    echo
    echo "| row | idle KiB per connection | p99 ms | server CPU µs / request | req/s | runs | errors |"
    echo "|---|---|---|---|---|---|---|"
    for row in portico-idle portico-tls-idle nginx-idle; do
        case $row in
            portico-idle) label="portico idle, per connection" ;;
            portico-tls-idle) label="portico TLS idle, per connection" ;;
            nginx-idle) label="nginx idle, per connection" ;;
        esac
        echo "| $label | $(idle_cell "$row") | | | | ${RUNS[$row]:-0} | ${ERRS[$row]:-0} |"
    done
    for row in portico-steady nginx-steady; do
        # shellcheck disable=SC2086
        echo "| ${row%-steady} steady $GC conns × 1 req / ${INTERVAL} s | | $(spread "%.2f" ${STEADY_P99[$row]:-}) | $(spread "%.1f" ${STEADY_CPU[$row]:-}) | $(spread "%.0f" ${STEADY_RPS[$row]:-}) | ${RUNS[$row]:-0} | ${ERRS[$row]:-0} |"
    done
    # shellcheck disable=SC2086
    echo "| **portico ÷ nginx** (medians) | $(ratio "$(median ${IDLE_KIB[portico-idle]:-})" "$(median ${IDLE_KIB[nginx-idle]:-})") | $(ratio "$(median ${STEADY_P99[portico-steady]:-})" "$(median ${STEADY_P99[nginx-steady]:-})") | $(ratio "$(median ${STEADY_CPU[portico-steady]:-})" "$(median ${STEADY_CPU[nginx-steady]:-})") | $(ratio "$(median ${STEADY_RPS[portico-steady]:-})" "$(median ${STEADY_RPS[nginx-steady]:-})") | | |"
    echo
    if ((${#FAILURES[@]})); then
        echo "Failures:"
        printf -- '- %s\n' "${FAILURES[@]}"
        echo
    fi
    echo "Errors in all runs: $TOTAL_ERRORS. Raw client output: \`loadtest/results/raw-many-$STAMP/\`."
} >"$REPORT"
cp "$REPORT" "$RESULTS_DIR/many-latest.md"
cat "$REPORT"

WRK_RC=0
if [[ -n $WRK_ROWS ]]; then
    log "wrk rows: $WRK_ROWS at $WRK_CONNS connections, $WRK_REPS rounds (loadtest/run.sh)"
    ROWS="$WRK_ROWS" CONNS="$WRK_CONNS" REPS="$WRK_REPS" DURATION="$WRK_DURATION" PORTICO_BIN="$PORTICO_BIN" \
        PROXY_CPU="$SERVER_CPU" CLIENT_CPU="$CLIENT_CPU" "$LT_DIR/run.sh" || WRK_RC=$?
fi

if ((TOTAL_ERRORS > 0 || ${#FAILURES[@]} > 0 || WRK_RC != 0)); then
    log "errors: $TOTAL_ERRORS; failures: ${#FAILURES[@]}; loadtest/run.sh exit $WRK_RC"
    exit 1
fi
