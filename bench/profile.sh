#!/usr/bin/env bash
# bench/profile.sh: per-request costs of cart-service's create-order path,
# for bench/profile-notes.md (issue 15). Measures; asserts nothing.
#
# Against a running Kafka + registry (KAFKA_BOOTSTRAP_SERVERS, SCHEMA_REGISTRY_URL),
# it starts cart-service (BIN_DIR, default build) three times:
#   1. plain: indicative req/s (wrk), then context switches over the same load
#      (perf stat -e context-switches,cpu-migrations when perf may attach, else
#      the voluntary/nonvoluntary_ctxt_switches deltas of /proc/PID/task/*),
#   2. under strace -c -f: syscalls by name over the load,
#   3. under valgrind --tool=callgrind, collection toggled on only around the
#      load: instructions (Ir) and malloc/calloc/realloc calls.
# Every figure is divided by the events acknowledged during that window
# (cart_events_produced_total from /metrics), so wrk's own count, the requests
# in flight at the end and the slowdown of strace/valgrind do not skew it.
#
# Knobs: PROFILE_PORT (17100), PROFILE_SECONDS (10, plain and strace windows),
#        PROFILE_CALLGRIND_SECONDS (20), PROFILE_CONNECTIONS (64),
#        PROFILE_THREADS (HTTP threads of cart-service, 1), PROFILE_OUT (var/profile),
#        PROFILE_PARTS ("plain strace callgrind": which of the three to run).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
BIN=$(cd "${BIN_DIR:-build}" && pwd)
PORT=${PROFILE_PORT:-17100}
SECS=${PROFILE_SECONDS:-10}
CG_SECS=${PROFILE_CALLGRIND_SECONDS:-20}
CONNS=${PROFILE_CONNECTIONS:-64}
OUT=${PROFILE_OUT:-var/profile}
: "${KAFKA_BOOTSTRAP_SERVERS:?set KAFKA_BOOTSTRAP_SERVERS}" "${SCHEMA_REGISTRY_URL:?set SCHEMA_REGISTRY_URL}"
mkdir -p "$OUT"
URL=http://127.0.0.1:$PORT
RUN=P$(date +%s)
say() { printf '[profile] %s\n' "$*"; }
. bench/wait_up.sh

CPID=
stop_cart() {
    if [ -n "$CPID" ]; then
        kill "$CPID" 2>/dev/null || true
        wait "$CPID" 2>/dev/null || true
        CPID=
    fi
}
trap stop_cart EXIT

start_cart() { # [wrapper...]
    env HTTP_PORT=$PORT LOG_LEVEL=warn HTTP_THREADS=${PROFILE_THREADS:-1} \
        "$@" "$BIN/cart-service" >>"$OUT/cart.log" 2>&1 &
    CPID=$!
    wait_up "$URL/health" "$CPID" cart-service "$OUT/cart.log"
}
# the pid of the cart-service process itself (under strace/valgrind, a child)
cart_pid() { pgrep -f -n "$BIN/cart-service" -P "$CPID" || echo "$CPID"; }
produced() { curl -fsS "$URL/metrics" | awk '/^cart_events_produced_total\{type="CREATE"\}/ {printf "%d", $2}'; }
wrk_load() { BENCH_RUN="$RUN$2" wrk -t2 -c"$CONNS" -d"$1"s --latency -s bench/create_order.lua "$URL" >"$OUT/wrk-$2.txt"; }
per() { python3 -c "import sys; n=float(sys.argv[2]); print(f'{float(sys.argv[1])/n:.1f}' if n else 'nan')" "$1" "$2"; }

PARTS=${PROFILE_PARTS:-plain strace callgrind}
part() { case " $PARTS " in *" $1 "*) return 0 ;; esac; return 1; }

# --- 1. plain: throughput and context switches --------------------------------
if part plain; then
start_cart
wrk_load 2 warm
n0=$(produced)
wrk_load "$SECS" plain
n1=$(produced)
rps=$(grep BENCH_RESULT "$OUT/wrk-plain.txt" | sed 's/.*rps=\([0-9.]*\).*/\1/')
p99=$(grep BENCH_RESULT "$OUT/wrk-plain.txt" | sed 's/.*p99_ms=\([0-9.]*\).*/\1/')
say "plain: $rps req/s, p99 $p99 ms ($((n1 - n0)) acknowledged)"
ctx_sum() { cat /proc/"$1"/task/*/status 2>/dev/null | awk '/^voluntary_ctxt_switches/ {v+=$2} /^nonvoluntary_ctxt_switches/ {n+=$2} END {print v+0, n+0}'; }
pid=$(cart_pid)
read -r v0 nv0 < <(ctx_sum "$pid")
n0=$(produced)
if perf stat -e context-switches,cpu-migrations -p "$pid" -o "$OUT/perf-stat.txt" -- sleep 0.1 >/dev/null 2>&1; then
    perf stat -e context-switches,cpu-migrations -p "$pid" -o "$OUT/perf-stat.txt" -- \
        env BENCH_RUN="${RUN}ctx" wrk -t2 -c"$CONNS" -d"$SECS"s -s bench/create_order.lua "$URL" >/dev/null
    cs=$(awk '/context-switches/ {gsub(",", "", $1); print $1}' "$OUT/perf-stat.txt")
    mig=$(awk '/cpu-migrations/ {gsub(",", "", $1); print $1}' "$OUT/perf-stat.txt")
else
    BENCH_RUN="${RUN}ctx" wrk -t2 -c"$CONNS" -d"$SECS"s -s bench/create_order.lua "$URL" >/dev/null
    cs=nan mig=nan
fi
n1=$(produced)
read -r v1 nv1 < <(ctx_sum "$pid")
nctx=$((n1 - n0))
say "context switches: perf $cs ($(per "$cs" $nctx)/req), migrations $mig; voluntary $((v1 - v0)) ($(per $((v1 - v0)) $nctx)/req), involuntary $((nv1 - nv0)) ($(per $((nv1 - nv0)) $nctx)/req) over $nctx requests"
stop_cart
fi

# --- 2. strace -c: syscalls -----------------------------------------------------
if part strace; then
start_cart
wrk_load 2 warm2
pid=$(cart_pid)
n0=$(produced)
strace -c -f -p "$pid" -o "$OUT/strace.txt" &
SPID=$!
sleep 1
wrk_load "$SECS" strace
n1=$(produced)
kill -INT "$SPID"
wait "$SPID" 2>/dev/null || true
nst=$((n1 - n0))
total=$(awk '$NF == "total" {print $(NF-2)}' "$OUT/strace.txt")
npoll=$(awk '$NF == "poll" {print $4}' "$OUT/strace.txt")
# librdkafka's threads poll() on timers (linger.ms, their 1 s ticks): a rate
# per second, not a cost per request, so it is shown apart
say "syscalls: $total over $nst requests = $(per "$total" $nst)/req; without librdkafka's timed poll(): $(per $((total - ${npoll:-0})) $nst)/req, poll() $(per "${npoll:-0}" "$SECS")/s; by name (per request):"
awk -v n="$nst" '$1 ~ /^[0-9.]+$/ && NF >= 5 && $NF != "total" {printf "  %-16s %8.2f\n", $NF, $4 / n}' "$OUT/strace.txt" |
    sort -k2 -n -r | head -12
stop_cart
fi

# --- 3. callgrind: instructions and allocations ---------------------------------
if part callgrind; then
start_cart valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$OUT/callgrind.out.%p"
pid=$(cart_pid)
wrk_load 3 warm3
callgrind_control -i on "$pid" >/dev/null
n0=$(produced)
wrk_load "$CG_SECS" callgrind
n1=$(produced)
callgrind_control -i off "$pid" >/dev/null
stop_cart
ncg=$((n1 - n0))
f=$(ls -t "$OUT"/callgrind.out.* | head -1)
python3 bench/callgrind_summary.py "$f" "$ncg"
fi
