#!/usr/bin/env bash
# bench/profile_pg_reads.sh: per-request costs of GET /order-details on the
# PostgreSQL store, for bench/profile-notes.md (issue 15). Measures; asserts
# nothing; needs no Kafka (the read path does not touch it: order-service is
# pointed at a closed port and only logs that the broker is down).
#
# Starts a private PostgreSQL (scripts/postgres.sh), fills a fresh database
# with PROFILE_ORDERS orders by SQL (one in ten with a second status, so the
# history join is exercised; ids L0..L<n-1> as bench/get_path.lua asks for),
# then starts order-service (BIN_DIR, default build) on it for each part:
#   plain     wrk: req/s and p99; CPU seconds of order-service and of the
#             PostgreSQL server's processes over the window, per request;
#   strace    strace -c -f: syscalls by name per request;
#   callgrind instructions (Ir) per request, collection on only around the load.
# Requests are counted by order-service itself (http_requests_total of
# /order-details in /metrics), so the slowdown of strace/valgrind and the
# requests in flight at the end do not skew the figures.
#
# Knobs: PROFILE_PORT_BASE (17500: order-service; +432 PostgreSQL),
#        PROFILE_ORDERS (1000000), PROFILE_SECONDS (5), PROFILE_CALLGRIND_SECONDS (10),
#        PROFILE_CONNECTIONS (64), PROFILE_OUT (var/profile-pg),
#        PROFILE_PARTS ("plain strace callgrind"), PROFILE_ITEMS (3),
#        PROFILE_ANALYZE (1: VACUUM ANALYZE after the load; 0: none, as after make bench's catch-up).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
BIN=$(cd "${BIN_DIR:-build}" && pwd)
# PROFILE_BINS: more build directories whose order-service the plain part runs in turn, on the
# same data (before/after pairs without a second load); strace and callgrind run BIN_DIR's
PLAIN_BINS=$BIN
for d in ${PROFILE_BINS:-}; do PLAIN_BINS="$PLAIN_BINS $(cd "$d" && pwd)"; done
PB=${PROFILE_PORT_BASE:-17500}
PORT=$PB
export PG_PORT=$((PB + 432))
ORDERS=${PROFILE_ORDERS:-1000000}
SECS=${PROFILE_SECONDS:-5}
CG_SECS=${PROFILE_CALLGRIND_SECONDS:-10}
CONNS=${PROFILE_CONNECTIONS:-64}
OUT=${PROFILE_OUT:-var/profile-pg}
PARTS=${PROFILE_PARTS:-plain strace callgrind}
ITEMS=${PROFILE_ITEMS:-3}     # items per order (make bench's loader writes 3)
ANALYZE=${PROFILE_ANALYZE:-1} # 0: read right after the load, as make bench does after catch-up
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
export STACK_DIR=$OUT/stack
URL=http://127.0.0.1:$PORT
say() { printf '[profile-pg] %s\n' "$*"; }
. bench/wait_up.sh
part() { case " $PARTS " in *" $1 "*) return 0 ;; esac; return 1; }
per() { python3 -c "import sys; n=float(sys.argv[2]); print(f'{float(sys.argv[1])/n:.2f}' if n else 'nan')" "$1" "$2"; }

OPID=
stop_order() {
    if [ -n "$OPID" ]; then
        kill "$OPID" 2>/dev/null || true
        wait "$OPID" 2>/dev/null || true
        OPID=
    fi
}
cleanup() {
    stop_order
    scripts/postgres.sh stop >/dev/null 2>&1 || true
}
trap cleanup EXIT

scripts/postgres.sh start >/dev/null
psql_do() { PGOPTIONS="-c client_min_messages=warning" psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U postgres -d "${2:-postgres}" -c "$1"; }
psql_do "DROP DATABASE IF EXISTS profile_reads" >/dev/null
psql_do "CREATE DATABASE profile_reads OWNER orderstream" >/dev/null
STORE="postgresql://orderstream@127.0.0.1:$PG_PORT/profile_reads"

start_order() { # [wrapper...]
    env KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:$((PB + 1)) SCHEMA_REGISTRY_URL=http://127.0.0.1:$((PB + 2)) \
        HTTP_PORT=$PORT LOG_LEVEL=error STORE_URL="$STORE" "$@" "$BIN/order-service" >>"$OUT/order.log" 2>&1 &
    OPID=$!
    wait_up "$URL/health/live" "$OPID" order-service "$OUT/order.log"
}
order_pid() { pgrep -n -P "$OPID" 2>/dev/null || echo "$OPID"; } # under valgrind/strace: the child
answered() { curl -fsS "$URL/metrics" | awk '/^http_requests_total\{route="\/order-details"/ {n+=$2} END {printf "%d", n}'; }
wrk_load() { BENCH_PATH=/order-details BENCH_ID_PREFIX=L BENCH_ID_COUNT=$ORDERS wrk -t2 -c"$CONNS" -d"$1"s --latency -s bench/get_path.lua "$URL" >"$OUT/wrk-$2.txt"; }
# CPU seconds (user + system) of a process and its threads, and of the server's processes
cpu_of() { awk -v t="$(getconf CLK_TCK)" '{print ($14 + $15) / t}' "/proc/$1/stat"; }
pg_cpu() {
    local pm s=0
    pm=$(head -1 "$STACK_DIR/postgres/postmaster.pid")
    for p in $pm $(pgrep -P "$pm"); do s=$(python3 -c "print($s + $(cpu_of "$p" 2>/dev/null || echo 0))"); done
    echo "$s"
}

# the reader's own counters: "statements lookups batch-seconds b1 b2 b4 ... b512 (cumulative)"
statements() { curl -fsS "$URL/metrics" | awk '
    /^order_read_batch_size_count / {c = $2} /^order_read_batch_size_sum / {l = $2}
    /^order_read_batch_seconds_total / {w = $2}
    /^order_read_batch_size_bucket\{le="[0-9]+"\}/ {b = b " " $2}
    END {print c + 0, l + 0, w + 0 b}'; }
switches() { cat /proc/"$1"/task/*/status | awk '/ctxt_switches/ {n += $2} END {print n}'; }
# "name cpu-seconds" per thread of a process
threads_cpu() { for t in /proc/"$1"/task/*; do
    printf '%s %s\n' "$(cat "$t/comm")" "$(cpu_of "${t#/proc/}" 2>/dev/null || echo 0)"; done; }

# the orders: the writer's first start creates the schema
start_order
stop_order
psql_do "INSERT INTO orders SELECT 'L' || g, 'C-' || (g % 1000), '2026-11-25T14:00:00.000Z',
    '[' || (SELECT string_agg('{\"itemId\":\"I-' || ((g + k) % 97) || '\",\"quantity\":2,\"price\":12.50}', ',')
            FROM generate_series(1, $ITEMS) k) || ']', 2500, 'USD',
    CASE WHEN g % 10 = 0 THEN 'shipped' ELSE 'new' END, 'new', 500,
    1764000000000 + g, 1764000000000 + g + CASE WHEN g % 10 = 0 THEN 1000 ELSE 0 END,
    CASE WHEN g % 10 = 0 THEN 2 ELSE 1 END FROM generate_series(0, $ORDERS - 1) g" profile_reads
psql_do "INSERT INTO status_history SELECT 'L' || g, 2, 'shipped', 1764000001000 + g
    FROM generate_series(0, $ORDERS - 1, 10) g" profile_reads
[ "$ANALYZE" = 1 ] && psql_do "VACUUM ANALYZE" profile_reads
say "$ORDERS orders stored ($ITEMS items each; VACUUM ANALYZE: $ANALYZE); orders table $(psql -X -A -t -h 127.0.0.1 -p "$PG_PORT" -U postgres -d profile_reads -c "SELECT pg_size_pretty(pg_total_relation_size('orders'))")"

for BIN in $PLAIN_BINS; do
if part plain; then
    say "plain: $BIN/order-service"
    start_order
    wrk_load 2 warm
    pid=$(order_pid)
    n0=$(answered) c0=$(cpu_of "$pid") g0=$(pg_cpu) x0="$(statements)" w0=$(switches "$pid")
    threads_cpu "$pid" >"$OUT/threads0.txt"
    wrk_load "$SECS" plain
    n1=$(answered) c1=$(cpu_of "$pid") g1=$(pg_cpu) x1="$(statements)" w1=$(switches "$pid")
    threads_cpu "$pid" >"$OUT/threads1.txt"
    n=$((n1 - n0))
    rps=$(grep BENCH_RESULT "$OUT/wrk-plain.txt" | sed 's/.*rps=\([0-9.]*\).*/\1/')
    p99=$(grep BENCH_RESULT "$OUT/wrk-plain.txt" | sed 's/.*p99_ms=\([0-9.]*\).*/\1/')
    us_o=$(python3 -c "print(f'{($c1 - $c0) * 1e6 / $n:.1f}')")
    us_g=$(python3 -c "print(f'{($g1 - $g0) * 1e6 / $n:.1f}')")
    say "plain: $rps req/s, p99 $p99 ms; CPU per request: order-service $us_o us, PostgreSQL $us_g us ($n requests)"
    python3 - "$x0" "$x1" "$n" "$SECS" <<'PY'
import sys
a = [float(v) for v in sys.argv[1].split()]
b = [float(v) for v in sys.argv[2].split()]
n, secs = float(sys.argv[3]), float(sys.argv[4])
d = [y - x for x, y in zip(a, b)]
st, lk, wall = d[0], d[1], d[2]
print(f"[profile-pg] plain: statements (round trips) per request {st / n:.3f}, reads per statement {lk / st:.1f}; "
      f"the reader in its statements (round trip + rendering) {wall / secs * 100:.0f} % of the window, {wall * 1e6 / st:.0f} us per statement")
prev, parts = 0.0, []
for i, c in enumerate(d[3:]):
    parts.append(f"<={1 << i}: {(c - prev) / st * 100:.0f}%")
    prev = c
print("[profile-pg] plain: batch sizes (share of statements) " + ", ".join(parts))
PY
    say "plain: order-service context switches per request (voluntary + involuntary, all threads) $(per $((w1 - w0)) $n)"
    say "plain: CPU per request by order-service thread (us):"
    python3 - "$OUT/threads0.txt" "$OUT/threads1.txt" "$n" <<'PY'
import sys
def rd(f):
    d = {}
    for line in open(f):
        name, v = line.rsplit(" ", 1)
        d[name] = d.get(name, 0.0) + float(v)
    return d
a, b, n = rd(sys.argv[1]), rd(sys.argv[2]), float(sys.argv[3])
for k in sorted(b, key=lambda k: -(b[k] - a.get(k, 0))):
    us = (b[k] - a.get(k, 0)) * 1e6 / n
    if us >= 0.05:
        print(f"  {k:<16} {us:8.2f}")
PY
    stop_order
fi
done
BIN=${PLAIN_BINS%% *}

if part strace; then
    start_order
    wrk_load 2 warm2
    pid=$(order_pid)
    n0=$(answered)
    strace -c -f -p "$pid" -o "$OUT/strace.txt" &
    SPID=$!
    sleep 1
    wrk_load "$SECS" strace
    kill -INT "$SPID"
    wait "$SPID" 2>/dev/null || true
    n1=$(answered)
    n=$((n1 - n0))
    total=$(awk '$NF == "total" {print $(NF-2)}' "$OUT/strace.txt")
    say "syscalls: $total over $n requests = $(per "$total" $n)/req; by name (per request):"
    awk -v n="$n" '$1 ~ /^[0-9.]+$/ && NF >= 5 && $NF != "total" {printf "  %-16s %8.2f\n", $NF, $4 / n}' "$OUT/strace.txt" |
        sort -k2 -n -r | head -12
    stop_order
fi

if part callgrind; then
    start_order valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$OUT/callgrind.out.%p"
    pid=$(order_pid)
    wrk_load 3 warm3
    callgrind_control -i on "$pid" >/dev/null
    n0=$(answered)
    wrk_load "$CG_SECS" callgrind
    n1=$(answered)
    callgrind_control -i off "$pid" >/dev/null
    stop_order
    f=$(ls -t "$OUT"/callgrind.out.* | head -1)
    python3 bench/callgrind_summary.py "$f" $((n1 - n0))
fi
