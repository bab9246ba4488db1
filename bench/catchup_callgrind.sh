#!/usr/bin/env bash
# bench/catchup_callgrind.sh: instructions per applied event of order-service's
# catch-up into SQLite, for bench/profile-notes.md (issue 15). Measures; asserts nothing.
#
# Against a running Kafka + registry (KAFKA_BOOTSTRAP_SERVERS, SCHEMA_REGISTRY_URL):
# preloads TOPIC with N CREATE events (bench-loader, 3 items each) unless it
# exists already, then runs BIN_DIR/order-service under
# `valgrind --tool=callgrind --separate-threads=yes` on an empty store with a
# new group until /health reports N orders stored, and prints each thread's
# total Ir divided by N (the totals cover start-up too: compare runs with the
# same N only). The same input and count each time, so it repeats closely on
# a busy box, unlike a wall-clock rate.
#
# Knobs: CG_EVENTS (20000), CG_TOPIC (cg<N>), CG_PORT (17190), CG_OUT (var/cg-catchup),
#        CG_ENV (extra VAR=value settings for order-service).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
BIN=$(cd "${BIN_DIR:-build}" && pwd)
N=${CG_EVENTS:-20000}
TOPIC=${CG_TOPIC:-cg$N}
PORT=${CG_PORT:-17190}
OUT=${CG_OUT:-var/cg-catchup}
: "${KAFKA_BOOTSTRAP_SERVERS:?set KAFKA_BOOTSTRAP_SERVERS}" "${SCHEMA_REGISTRY_URL:?set SCHEMA_REGISTRY_URL}"
say() { printf "[cg-catchup] %s\n" "$*"; }
. bench/wait_up.sh
mkdir -p "$OUT"
rm -f "$OUT"/callgrind.out.* "$OUT"/store.db*
if [ ! -e "$OUT/loaded-$TOPIC" ]; then
    "$BIN/bench-loader" "$KAFKA_BOOTSTRAP_SERVERS" "$SCHEMA_REGISTRY_URL" "$TOPIC" "$N" L | tail -1
    touch "$OUT/loaded-$TOPIC"
fi
# shellcheck disable=SC2086
env HTTP_PORT=$PORT LOG_LEVEL=warn STORE_PATH="$OUT/store.db" ORDER_EVENTS_TOPIC=$TOPIC \
    DLQ_TOPIC=$TOPIC-dlq CONSUMER_GROUP_ID=cg-$(date +%s%N) ${CG_ENV:-} \
    valgrind --tool=callgrind --separate-threads=yes --callgrind-out-file="$OUT/callgrind.out.%p" \
    "$BIN/order-service" >"$OUT/order.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null || true' EXIT
wait_up "http://127.0.0.1:$PORT/health" "$PID" order-service "$OUT/order.log" 600
while :; do
    n=$(curl -fsS "http://127.0.0.1:$PORT/health" | python3 -c "import json,sys; print(json.load(sys.stdin).get('ordersStored', -1))")
    [ "$n" -ge "$N" ] && break
    kill -0 $PID
    sleep 0.5
done
kill -INT $PID
wait $PID || true
trap - EXIT
for f in "$OUT"/callgrind.out.*-*; do
    ir=$(awk '/^(summary|totals):/ {print $2; exit}' "$f")
    [ -n "$ir" ] || continue
    role=other
    grep -q 'apply_batch$' "$f" && role=consumer
    grep -q 'da_main$' "$f" && role=decode
    printf '%s %s: %s Ir, %.0f per event\n' "$(basename "$f")" "$role" "$ir" "$(python3 -c "print($ir / $N)")"
done
