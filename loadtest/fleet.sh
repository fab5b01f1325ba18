#!/usr/bin/env bash
# portico fleet benchmark (issue 18): what a fleet node costs over a single
# node on a limited keyed route (loadtest/conf/fleet.toml), on loopback.
#   - Redis commands per second per node, from Redis's own INFO commandstats
#     (CONFIG RESETSTAT before each run; this script's own INFO/CONFIG calls
#     are not counted; commands a script runs are), at each rate of RATES
#     per node, and with no load at all;
#   - CPU per request of each portico process (the CPU time of all its
#     threads from /proc/PID/task/*/schedstat, in ns: workers, reconciler,
#     heartbeat, follower), a fleet node against a single node without
#     [cluster].
# Bounded in time (each run DURATION, wrk's own timeout around it), stops by
# itself, kills every process it started (also on Ctrl-C), prints a Markdown
# table and writes it to loadtest/results/fleet-latest.md.
#
# Env: DURATION (10s), NODES (3), RATES ("1 1000 max": requests per second
# sent to EACH node; `max` = as fast as MAX_CONNS keep-alive connections per
# node go), SOLO_RATES ("50000": more rates for the fleet of 1 and the
# single node only, which three nodes sharing two cores cannot reach each),
# MAX_CONNS (32), REPS (1), PORTICO_BIN (default: cargo build
# --release), BUILD_TIMEOUT (1800 s), BASE_PORT (18300).
set -euo pipefail
export LC_ALL=C
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

LT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$LT_DIR/.." && pwd)
CONF="$LT_DIR/conf/fleet.toml"
RESULTS_DIR="$LT_DIR/results"

DURATION=${DURATION:-10s}
NODES=${NODES:-3}
RATES=${RATES:-"1 1000 max"}
SOLO_RATES=${SOLO_RATES-"50000"}
MAX_CONNS=${MAX_CONNS:-32}
REPS=${REPS:-1}
PORTICO_BIN=${PORTICO_BIN:-}
BUILD_TIMEOUT=${BUILD_TIMEOUT:-1800}
BASE_PORT=${BASE_PORT:-18300}
API_KEY="loadtest-key-0123456789abcdef"   # [[api_keys]] value in conf/fleet.toml
PATH_KEYED="/prod/keyed"

log() { printf '[fleet %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

DUR_S=${DURATION%s}
[[ $DUR_S =~ ^[0-9]+$ && $DUR_S -gt 0 ]] || die "DURATION must look like 10 or 10s (got '$DURATION')"
[[ $NODES =~ ^[0-9]+$ && $NODES -ge 1 ]] || die "bad NODES '$NODES'"
[[ $MAX_CONNS =~ ^[0-9]+$ && $MAX_CONNS -ge 1 ]] || die "bad MAX_CONNS '$MAX_CONNS'"
[[ $REPS =~ ^[0-9]+$ && $REPS -ge 1 ]] || die "bad REPS '$REPS'"
for r in $RATES $SOLO_RATES; do [[ $r == max || ( $r =~ ^[0-9]+$ && $r -ge 1 ) ]] || die "bad rate '$r' in RATES"; done

# ---------------------------------------------------------------- cleanup
TMP=""
PIDS=()   # every process this script started and has not stopped yet
stop_pid() { # TERM, bounded wait, then KILL
    local pid=$1 i
    kill -TERM "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
    for ((i = 0; i < 50; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}
forget() {
    local p keep=()
    for p in "${PIDS[@]}"; do [[ " $* " == *" $p "* ]] || keep+=("$p"); done
    PIDS=("${keep[@]}")
}
cleanup() {
    local rc=$? p
    set +e
    trap - EXIT INT TERM
    for p in "${PIDS[@]}"; do stop_pid "$p"; done
    [[ -n $TMP && -d $TMP ]] && rm -rf "$TMP"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- tools
if ! command -v wrk >/dev/null; then
    log "installing wrk"
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends wrk >&2 \
        || { apt-get update >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends wrk >&2; } \
        || die "cannot install wrk"
fi
command -v curl >/dev/null || die "curl missing"
REDIS_SERVER=$("$REPO/tests/redis/install.sh" | tail -n1) || die "tests/redis/install.sh failed"
command -v redis-cli >/dev/null || die "redis-cli missing"
CLK_TCK=1000000000   # ticks() counts nanoseconds

TMP=$(mktemp -d /tmp/portico-fleet.XXXXXX)
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
RAW_DIR="$RESULTS_DIR/raw-fleet-$STAMP"
mkdir -p "$RAW_DIR"

if [[ -z $PORTICO_BIN ]]; then
    log "building portico (cargo build --release, at most ${BUILD_TIMEOUT}s)"
    (cd "$REPO" && timeout "$BUILD_TIMEOUT" cargo build --release) >"$RAW_DIR/build.log" 2>&1 \
        || die "cargo build --release failed or timed out; see $RAW_DIR/build.log"
    PORTICO_BIN="$REPO/target/release/portico"
fi
[[ -x $PORTICO_BIN ]] || die "PORTICO_BIN '$PORTICO_BIN' is not executable"
PROFILE=release
[[ $PORTICO_BIN == */debug/* ]] && PROFILE="debug (figures need a release run)"

# Every fleet node opens the same sealed state.
STATE_KEY=$(head -c 32 /dev/urandom | base64)

# ---------------------------------------------------------------- processes
threads() { # "name ns" per thread of a pid (schedstat), names' spaces as _
    local t ns rest name
    for t in /proc/"$1"/task/*; do
        read -r ns rest < "$t/schedstat" 2>/dev/null || continue
        read -r name < "$t/comm" 2>/dev/null || continue
        echo "${name// /_} $ns"
    done
}

ticks() { # CPU time of a pid's threads in ns (schedstat; /proc/PID/stat's 10 ms ticks
    # were too coarse: a 10 s row at ~1,000 req/s is 20 ticks, and runs differed by 25 %+)
    local t sum=0 ns rest
    for t in /proc/"$1"/task/*/schedstat; do
        read -r ns rest < "$t" 2>/dev/null || continue
        sum=$((sum + ns))
    done
    echo "$sum"
}

REDIS_PORT=$((BASE_PORT + 99))
REDIS_PID=""
rcli() { redis-cli -h 127.0.0.1 -p "$REDIS_PORT" "$@"; }
start_redis() {
    mkdir -p "$TMP/redis"
    "$REDIS_SERVER" --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly yes \
        --appendfsync everysec --dir "$TMP/redis" --logfile "$TMP/redis/redis.log" --daemonize no \
        >/dev/null 2>&1 &
    REDIS_PID=$!
    PIDS+=("$REDIS_PID")
    local i
    for ((i = 0; i < 100; i++)); do
        [[ $(rcli PING 2>/dev/null) == PONG ]] && return 0
        kill -0 "$REDIS_PID" 2>/dev/null || die "redis-server exited at start-up: $(tail -n 5 "$TMP/redis/redis.log")"
        sleep 0.1
    done
    die "redis-server does not answer on port $REDIS_PORT"
}

NODE_PIDS=()
NODE_PORTS=()
start_node() { # index cluster(0|1)
    local i=$1 cluster=$2 port=$((BASE_PORT + $1)) dir="$TMP/node$1" section="" pid n
    rm -rf "$dir"; mkdir -p "$dir/state"
    if ((cluster)); then
        section=$(printf '[cluster]\nredis = ["redis://127.0.0.1:%s"]\nnode_id = "bench-%s"' "$REDIS_PORT" "$i")
    fi
    awk -v port="$port" -v state="$dir/state" -v cluster="$section" '
        { gsub(/@PORT@/, port); gsub(/@STATE_DIR@/, state) }
        /^@CLUSTER@$/ { print cluster; next }
        { print }' "$CONF" >"$dir/portico.toml"
    curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$port/" && die "port $port is already in use"
    PORTICO_STATE_KEY=$STATE_KEY "$PORTICO_BIN" --config "$dir/portico.toml" >"$dir/portico.log" 2>&1 &
    pid=$!
    PIDS+=("$pid")
    for ((n = 0; n < 300; n++)); do
        if grep -q "listening on http://127\.0\.0\.1:$port\b" "$dir/portico.log"; then
            NODE_PIDS+=("$pid"); NODE_PORTS+=("$port")
            local code body tries
            # A fleet node admits a limited route's calls once it holds a
            # lease from Redis (its first reconcile ticks): bounded retries.
            for ((tries = 0; tries < 20; tries++)); do
                body=$(curl -s -m 5 -H "x-api-key: $API_KEY" "http://127.0.0.1:$port$PATH_KEYED") || die "node $i: curl failed"
                [[ $body == ok ]] && break
                sleep 0.1
            done
            ((tries > 0)) && log "node $i: $tries refused calls before its first 200 ('$body' before)"
            if [[ $body != ok ]]; then
                [[ $body == *"Too Many Requests"* ]] || die "node $i answers '$body' on $PATH_KEYED with the key"
                # Measured all the same: the table's non-2xx column shows it.
                log "WARNING: node $i still refuses $PATH_KEYED (429) after $tries tries"
            fi
            code=$(curl -s -m 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port$PATH_KEYED")
            [[ $code == 403 ]] || die "node $i answers HTTP $code on $PATH_KEYED without the key (want 403)"
            return 0
        fi
        kill -0 "$pid" 2>/dev/null || die "node $i exited at start-up: $(tail -n 20 "$dir/portico.log")"
        sleep 0.1
    done
    die "node $i printed no 'listening on' line in 30 s"
}
stop_nodes() {
    local p
    for p in "${NODE_PIDS[@]}"; do stop_pid "$p"; done
    forget "${NODE_PIDS[@]}"
    NODE_PIDS=(); NODE_PORTS=()
}

# wrk's Lua for a paced rate: each connection waits DELAY ms before each request.
pace_script() { # rate -> "conns script"
    local rate=$1 conns delay f
    conns=$(( (rate + 99) / 100 ))
    delay=$(( conns * 1000 / rate ))
    f="$TMP/pace-$rate.lua"
    printf 'function delay()\n  return %d\nend\n' "$delay" >"$f"
    echo "$conns $f"
}

# Commands Redis ran since the last CONFIG RESETSTAT (every command, those a
# script runs included, less this script's own INFO and CONFIG), and the
# script calls among them.
redis_counts() {
    rcli INFO commandstats | tr -d '\r' | awk -F'[:=,]' '
        /^cmdstat_/ && $1 != "cmdstat_info" && $1 != "cmdstat_config" { all += $3 }
        /^cmdstat_(evalsha|eval|fcall|evalsha_ro|eval_ro)(\|.*)?:/ { scripts += $3 }
        END { printf "%d %d\n", all, scripts }'
}

ROWS=()
measure() { # setup-label fleet(0|1) rate
    local label=$1 fleet=$2 rate=$3 conns script="" pc t0 t1 i n out
    local -a tk0 tk1 wpids outs
    case $rate in
        max) conns=$MAX_CONNS ;;
        idle) conns=0 ;;
        *) read -r conns script < <(pace_script "$rate") ;;
    esac
    ((fleet)) && rcli CONFIG RESETSTAT >/dev/null
    n=${#NODE_PIDS[@]}
    for ((i = 0; i < n; i++)); do
        tk0[i]=$(ticks "${NODE_PIDS[i]}")
        threads "${NODE_PIDS[i]}" >"$TMP/threads0-$i"
    done
    t0=$(date +%s.%N)
    if [[ $rate == idle ]]; then
        sleep "$DUR_S"
    else
        for ((i = 0; i < n; i++)); do
            out="$RAW_DIR/${label// /-}-$rate-node$i-r$REP.txt"
            outs[i]=$out
            local s=()
            [[ -n $script ]] && s=(-s "$script")
            timeout -k 5 $((DUR_S + 30)) wrk -t1 -c"$conns" -d"${DUR_S}s" --timeout 5s --latency \
                -H "x-api-key: $API_KEY" "${s[@]}" "http://127.0.0.1:${NODE_PORTS[i]}$PATH_KEYED" >"$out" 2>&1 &
            wpids[i]=$!
            PIDS+=("${wpids[i]}")
        done
        for ((i = 0; i < n; i++)); do
            wait "${wpids[i]}" || die "wrk failed on node $i: $(tail -n 3 "${outs[i]}")"
            forget "${wpids[i]}"
        done
    fi
    t1=$(date +%s.%N)
    for ((i = 0; i < n; i++)); do
        tk1[i]=$(ticks "${NODE_PIDS[i]}")
        # Each thread's CPU over the row (ms), for the profile of a fleet
        # node's extra cost: the limits thread, heartbeat, follower.
        threads "${NODE_PIDS[i]}" | awk 'NR == FNR { a[$1] += $2; next } { b[$1] += $2 }
            END { for (t in b) printf "%s %.2f\n", t, (b[t] - a[t]) / 1e6 }' "$TMP/threads0-$i" - |
            sort -k2 -rn >"$RAW_DIR/threads-${label// /-}-$rate-node$i-r$REP.txt"
        kill -0 "${NODE_PIDS[i]}" 2>/dev/null || die "node $i died during $label @ $rate"
    done
    local cmds=0 scripts=0
    if ((fleet)); then read -r cmds scripts < <(redis_counts); fi
    # Per node: requests, non-2xx + socket errors, CPU ticks.
    local reqs=0 bad=0 ticks_sum=0 r e nb
    for ((i = 0; i < n; i++)); do
        ticks_sum=$((ticks_sum + tk1[i] - tk0[i]))
        [[ $rate == idle ]] && continue
        r=$(awk '/ requests in /{print $1; exit}' "${outs[i]}")
        nb=$(awk '/Non-2xx or 3xx responses:/{print $NF; exit}' "${outs[i]}")
        e=$(awk '/Socket errors:/{gsub(/,/, ""); print $4 + $6 + $8 + $10; exit}' "${outs[i]}")
        reqs=$((reqs + ${r:-0})); bad=$((bad + ${nb:-0} + ${e:-0}))
    done
    ROWS+=("$(awk -v label="$label" -v rate="$rate" -v n="$n" -v t0="$t0" -v t1="$t1" -v reqs="$reqs" \
        -v bad="$bad" -v cmds="$cmds" -v scripts="$scripts" -v ticks="$ticks_sum" -v hz="$CLK_TCK" -v fleet="$fleet" '
        BEGIN {
            el = t1 - t0
            rps = reqs / el / n
            cpu = (reqs > 0) ? sprintf("%.1f", ticks / hz * 1e6 / reqs) : "-"
            red = fleet ? sprintf("%.1f", cmds / el / n) : "0 (no Redis)"
            scr = fleet ? sprintf("%.1f", scripts / el / n) : "-"
            printf "| %s | %s | %.1f | %d | %s | %s | %.1f | %s |", label, rate, rps, bad, red, scr, ticks / hz / el / n * 100, cpu
        }')")
    log "${ROWS[-1]}"
}

# ---------------------------------------------------------------- runs
log "binary: $PORTICO_BIN ($PROFILE); $NODES nodes; rates per node: $RATES; $DUR_S s each; raw output in $RAW_DIR"
start_redis
for ((REP = 1; REP <= REPS; REP++)); do
    for ((k = 0; k < NODES; k++)); do start_node "$k" 1; done
    measure "fleet of $NODES" 1 idle
    for rate in $RATES; do measure "fleet of $NODES" 1 "$rate"; done
    stop_nodes
    start_node 0 1
    for rate in $RATES $SOLO_RATES; do measure "fleet of 1" 1 "$rate"; done
    stop_nodes
    start_node 0 0
    for rate in $RATES $SOLO_RATES; do measure "single node" 0 "$rate"; done
    stop_nodes
done

# ---------------------------------------------------------------- report
{
    echo "# portico fleet benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo
    echo "Kernel $(uname -r), $(nproc) CPUs ($(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo)), $("$REDIS_SERVER" --version | awk '{print $1, $2, $3}'), $(wrk -v 2>&1 | head -n1 | awk '{print $1, $2}')."
    echo "portico $PROFILE build ($PORTICO_BIN), one worker per node; every process (nodes, Redis, wrk) on the same CPUs, not pinned."
    echo "Route: \`GET $PATH_KEYED\` with an API key, stage, route and plan limits far above the load: every bucket runs and nothing should be refused (429s a node answers all the same are in the non-2xx column, and make its CPU per request cheaper, not dearer)."
    echo "Rate: requests per second sent to each node (\`max\`: $MAX_CONNS keep-alive connections per node, wrk -t1); $DUR_S s per row."
    echo
    echo "| setup | rate per node | req/s per node | non-2xx + errors | Redis commands/s per node | script calls/s per node | CPU % per node | CPU µs per request |"
    echo "|---|---|---|---|---|---|---|---|"
    printf '%s\n' "${ROWS[@]}"
    echo
    # CPU per request of a fleet node over a single node's, per rate (the
    # issue's target: at most 3 % more).
    printf '%s\n' "${ROWS[@]}" | awk -F' [|] ' -v n="$NODES" '
        { gsub(/^[|] | [|]$/, ""); setup = $1; rate = $2; cpu = $8 }
        cpu == "-" { next }
        { sum[setup, rate] += cpu; cnt[setup, rate]++; rates[rate] = 1 }
        END {
            for (r in rates) {
                s = "single node"; f = "fleet of " n
                if (cnt[s, r] && cnt[f, r]) {
                    printf "CPU per request at %s req/s per node: fleet node / single node = %.3f (%+.1f %%)\n", r, \
                        (sum[f, r] / cnt[f, r]) / (sum[s, r] / cnt[s, r]), \
                        ((sum[f, r] / cnt[f, r]) / (sum[s, r] / cnt[s, r]) - 1) * 100
                }
            }
        }'
} | tee "$RESULTS_DIR/fleet-$STAMP.md" >"$RESULTS_DIR/fleet-latest.md"
cat "$RESULTS_DIR/fleet-latest.md"
