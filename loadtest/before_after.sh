#!/usr/bin/env bash
# Two portico binaries side by side: runs loadtest/run.sh alternately with
# BEFORE and AFTER (A B A B ...), ROUNDS times each, so drift on a shared
# machine hits both alike; each run also measures nginx as the yardstick.
# Prints, per row and connection count, the median req/s and CPU ms per 1k
# requests of each binary and their ratio (after ÷ before).
#
#   BEFORE=/path/to/old/portico AFTER=target/release/portico loadtest/before_after.sh
#
# Env: ROUNDS (3), ROWS ("nginx-proxy portico-proxy portico-mock"),
# CONNS ("64 4000"), DURATION (5s); the rest goes to run.sh as it is.
set -euo pipefail

LT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BEFORE=${BEFORE:?BEFORE=path of the old portico binary}
AFTER=${AFTER:?AFTER=path of the new portico binary}
ROUNDS=${ROUNDS:-3}
export ROWS=${ROWS:-"nginx-proxy portico-proxy portico-mock"}
export CONNS=${CONNS:-"64 4000"}
export DURATION=${DURATION:-5s}
export REPS=1
for bin in "$BEFORE" "$AFTER"; do
    [[ -x $bin ]] || { echo "before_after.sh: $bin is not an executable" >&2; exit 2; }
done

OUT=$(mktemp -d "${TMPDIR:-/tmp}/portico-before-after.XXXXXX")
for ((i = 1; i <= ROUNDS; i++)); do
    for which in before after; do
        bin=$BEFORE
        [[ $which == after ]] && bin=$AFTER
        echo "== round $i/$ROUNDS: $which ($bin)" >&2
        PORTICO_BIN=$bin "$LT_DIR/run.sh" >"$OUT/$which-$i.log" 2>&1 ||
            echo "   (run.sh reported rows not measured; see $OUT/$which-$i.log)" >&2
        cp "$LT_DIR/results/latest.md" "$OUT/$which-$i.md"
    done
done

# The table rows of every report: "| label | conns | req/s (..) | p50 | p99ms (..) | errors | cpu (..) |".
python3 - "$OUT" "$ROUNDS" <<'PY'
import re, statistics, sys
from collections import defaultdict
out, rounds = sys.argv[1], int(sys.argv[2])
rps, cpu, p99 = defaultdict(list), defaultdict(list), defaultdict(list)
order = []
for which in ("before", "after"):
    for i in range(1, rounds + 1):
        for line in open(f"{out}/{which}-{i}.md"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if len(cells) != 7 or not cells[1].isdigit():
                continue
            key = (cells[0], int(cells[1]))
            if key not in order:
                order.append(key)
            m_rps = re.match(r"([0-9.]+)", cells[2])
            m_cpu = re.match(r"([0-9.]+)", cells[6])
            m_p99 = re.match(r"([0-9.]+)ms", cells[4])
            if m_rps and m_cpu:
                rps[(which,) + key].append(float(m_rps.group(1)))
                cpu[(which,) + key].append(float(m_cpu.group(1)))
            if m_p99:
                p99[(which,) + key].append(float(m_p99.group(1)))
def med(v):
    return statistics.median(v) if v else float("nan")
def spread(v):
    return f"{min(v):.2f}–{max(v):.2f}" if v else "n/a"
print(f"| target | conns | req/s before | req/s after | p99 ms before | p99 ms after | CPU ms/1k before | CPU ms/1k after | CPU after ÷ before |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
for label, conns in order:
    b, a = ("before", label, conns), ("after", label, conns)
    ratio = med(cpu[a]) / med(cpu[b]) if cpu[a] and cpu[b] else float("nan")
    print(f"| {label} | {conns} | {med(rps[b]):.0f} | {med(rps[a]):.0f} | "
          f"{med(p99[b]):.2f} ({spread(p99[b])}) | {med(p99[a]):.2f} ({spread(p99[a])}) | "
          f"{med(cpu[b]):.2f} ({spread(cpu[b])}) | {med(cpu[a]):.2f} ({spread(cpu[a])}) | {ratio:.3f} |")
print(f"\n{rounds} rounds of each binary, alternating; medians, min–max of p99 and CPU in brackets. Reports: {out}")
PY
