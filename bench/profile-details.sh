#!/usr/bin/env bash
# bench/profile-details.sh: per-request instructions and allocations of
# order-service's GET /order-details, for bench/profile-notes.md (issue 15).
# Measures; asserts nothing.
#
# Against a running Kafka + registry (KAFKA_BOOTSTRAP_SERVERS, SCHEMA_REGISTRY_URL):
# preloads DETAILS_ORDERS CREATE events with bench-loader (BIN_DIR, default
# build) into a fresh topic, lets order-service catch up into a fresh SQLite
# store, then restarts it under valgrind --tool=callgrind (collection on only
# around the load) and reads random existing orders with wrk
# (bench/get_path.lua). Figures are divided by the 200 answers of
# /order-details counted in /metrics during the window.
#
# Knobs: PROFILE_PORT (17110), DETAILS_ORDERS (20000), PROFILE_CALLGRIND_SECONDS (10),
#        PROFILE_CONNECTIONS (64), PROFILE_OUT (var/profile).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
BIN=$(cd "${BIN_DIR:-build}" && pwd)
PORT=${PROFILE_PORT:-17110}
N=${DETAILS_ORDERS:-20000}
CG_SECS=${PROFILE_CALLGRIND_SECONDS:-10}
CONNS=${PROFILE_CONNECTIONS:-64}
OUT=${PROFILE_OUT:-var/profile}
: "${KAFKA_BOOTSTRAP_SERVERS:?set KAFKA_BOOTSTRAP_SERVERS}" "${SCHEMA_REGISTRY_URL:?set SCHEMA_REGISTRY_URL}"
mkdir -p "$OUT"
URL=http://127.0.0.1:$PORT
RUN=D$(date +%s)
TOPIC=profile-details-$RUN
STORE=$OUT/details-$RUN.db
say() { printf '[profile-details] %s\n' "$*"; }
. bench/wait_up.sh

OPID=
stop_order() {
    if [ -n "$OPID" ]; then
        kill "$OPID" 2>/dev/null || true
        wait "$OPID" 2>/dev/null || true
        OPID=
    fi
}
trap stop_order EXIT

start_order() { # [wrapper...]
    env HTTP_PORT=$PORT LOG_LEVEL=warn STORE_PATH="$STORE" ORDER_EVENTS_TOPIC=$TOPIC \
        DLQ_TOPIC=$TOPIC-dlq CONSUMER_GROUP_ID=$TOPIC HTTP_THREADS=1 \
        "$@" "$BIN/order-service" >>"$OUT/order.log" 2>&1 &
    OPID=$!
    wait_up "$URL/health" "$OPID" order-service "$OUT/order.log"
}
stored() { curl -fsS "$URL/health" | python3 -c 'import json,sys; print(json.load(sys.stdin).get("ordersStored", 0))'; }
answered() { curl -fsS "$URL/metrics" | awk '/http_requests_total\{route="\/order-details",status="200"\}/ {printf "%d", $2}'; }
wrk_load() {
    BENCH_RUN="$RUN$2" BENCH_PATH=/order-details BENCH_ID_PREFIX=L BENCH_ID_COUNT=$N \
        wrk -t2 -c"$CONNS" -d"$1"s --latency -s bench/get_path.lua "$URL" >"$OUT/wrk-details-$2.txt"
}

say "preloading $N events into $TOPIC"
"$BIN/bench-loader" "$KAFKA_BOOTSTRAP_SERVERS" "$SCHEMA_REGISTRY_URL" "$TOPIC" "$N" L | tail -1
start_order
while [ "$(stored)" -lt "$N" ]; do sleep 0.2; done
stop_order
start_order valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$OUT/callgrind-details.out.%p"
pid=$(pgrep -f -n "$BIN/order-service" -P "$OPID" || echo "$OPID")
wrk_load 3 warm
callgrind_control -i on "$pid" >/dev/null
n0=$(answered)
wrk_load "$CG_SECS" callgrind
n1=$(answered)
callgrind_control -i off "$pid" >/dev/null
stop_order
f=$(ls -t "$OUT"/callgrind-details.out.* | head -1)
python3 bench/callgrind_summary.py "$f" "$((n1 - n0))"
