#!/usr/bin/env bash
# bench/topic_reads.sh: topic reads over the store's topic indexes. Measures;
# asserts nothing. For each size in TOPIC_READ_EVENTS, bench-loader writes
# that many records into a fresh topic that an order-service (release build,
# fresh SQLite store) serves as its DLQ topic, so both endpoints read it:
#   - getAllOrderIdsFromTopic: the first call (builds the index from the whole
#     topic) and the second (index + empty tail): seconds, ids, records scanned;
#   - /dlq/stats: the same two calls;
#   - order-service peak RSS (VmHWM) after the calls;
#   - /order-details p99 (wrk, over TOPIC_READ_ORDERS orders stored from the
#     service's events topic) alone, then while four getAllOrderIdsFromTopic
#     loops run.
# Results: "bench=topic_reads ..." lines appended to RES (bench/report.py).
#
# bench/run.sh runs it on its own stack (BOOT, REG, BIN, RES, BDIR given);
# alone it starts a private stack under var/bench-reads.
# Knobs: TOPIC_READ_EVENTS ("1000000 10000000"), TOPIC_READ_ORDERS (100000),
#        TOPIC_READ_DURATION_S (15, per wrk run), TOPIC_READ_PORT (17011), BIN_DIR (build).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

SIZES=${TOPIC_READ_EVENTS:-1000000 10000000}
ORDERS=${TOPIC_READ_ORDERS:-100000}
DURATION=${TOPIC_READ_DURATION_S:-15}
PORT=${TOPIC_READ_PORT:-17011}
BIN=$(cd "${BIN:-${BIN_DIR:-build}}" && pwd)
RUN=$(date +%s)
OWN_STACK=0
if [ -z "${BOOT:-}" ]; then
    export STACK_DIR=$ROOT/var/bench-reads/stack KAFKA_PORT=${KAFKA_PORT:-17192}
    export KAFKA_CONTROLLER_PORT=${KAFKA_CONTROLLER_PORT:-17193} REGISTRY_PORT=${REGISTRY_PORT:-17181}
    BOOT=127.0.0.1:$KAFKA_PORT
    REG=http://127.0.0.1:$REGISTRY_PORT/apis/ccompat/v7
    OWN_STACK=1
fi
WDIR=${BDIR:-$ROOT/var/bench-reads}/topic-reads
RES=${RES:-$WDIR/results.txt}
URL=http://127.0.0.1:$PORT

say() { printf '[topic_reads] %s\n' "$*"; }
SVC=
READERS=()
cleanup() {
    rm -f "$WDIR/reading"
    for p in "${READERS[@]}"; do kill "$p" 2>/dev/null || true; done
    [ -n "$SVC" ] && kill "$SVC" 2>/dev/null || true
    if [ "$OWN_STACK" = 1 ]; then scripts/stack.sh stop >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT

rm -rf "$WDIR"
mkdir -p "$WDIR"
if [ "$OWN_STACK" = 1 ]; then
    scripts/stack.sh stop >/dev/null 2>&1 || true
    scripts/stack.sh start
fi

hwm_kb() { awk '/VmHWM/ {print $2}' "/proc/$1/status"; }
field() { python3 -c "import json,sys; print(json.load(open('$1'))$2)"; }
scanned() {
    curl -fsS "$URL/metrics" | awk '$1 == "order_topic_read_records_scanned_total" {printf "%d\n", $2}'
}
# call NAME PATH: one read, timed; records seconds, records scanned and the answer's size.
call() {
    local name=$1 path=$2 before t after
    before=$(scanned)
    t=$(curl -fsS -o "$WDIR/answer.json" -w '%{time_total}' "$URL$path")
    after=$(scanned)
    echo "$t $((after - before))"
}

OTOPIC=bench-reads-orders-$RUN
say "preloading $ORDERS events into $OTOPIC (the orders /order-details reads)"
"$BIN/bench-loader" "$BOOT" "$REG" "$OTOPIC" "$ORDERS" "D" >>"$WDIR/loader.log"

for n in $SIZES; do
    topic=bench-reads-$n-$RUN
    say "preloading $n records into $topic"
    "$BIN/bench-loader" "$BOOT" "$REG" "$topic" "$n" "R" >>"$WDIR/loader.log"
    env KAFKA_BOOTSTRAP_SERVERS="$BOOT" SCHEMA_REGISTRY_URL="$REG" HTTP_PORT=$PORT LOG_LEVEL=warn \
        ORDER_EVENTS_TOPIC="$OTOPIC" DLQ_TOPIC="$topic" CONSUMER_GROUP_ID="bench-reads-$n-$RUN" \
        STORE_PATH="$WDIR/store-$n.db" TOPIC_SCAN_TIMEOUT_MS=600000 \
        "$BIN/order-service" >>"$WDIR/order-service-$n.log" 2>&1 &
    SVC=$!
    until [ "$(curl -sS "$URL/health" 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["ordersStored"])' 2>/dev/null || echo 0)" -ge "$ORDERS" ]; do
        kill -0 "$SVC" || { say "order-service died; see $WDIR/order-service-$n.log"; exit 1; }
        sleep 0.5
    done
    for c in first second; do
        read -r t s < <(call ids "/getAllOrderIdsFromTopic?topic=$topic")
        cnt=$(field "$WDIR/answer.json" "['count']")
        echo "bench=topic_reads events=$n endpoint=ids call=$c seconds=$t scanned=$s count=$cnt hwm_kb=$(hwm_kb $SVC)" >>"$RES"
        say "getAllOrderIdsFromTopic ($n records, $c call): $cnt ids in $t s, $s records scanned"
    done
    for c in first second; do
        read -r t s < <(call stats /dlq/stats)
        tot=$(field "$WDIR/answer.json" "['total_messages']")
        echo "bench=topic_reads events=$n endpoint=dlq_stats call=$c seconds=$t scanned=$s total=$tot hwm_kb=$(hwm_kb $SVC)" >>"$RES"
        say "/dlq/stats ($n records, $c call): $t s, $s records scanned"
    done
    for mode in alone four_reads; do
        READERS=()
        if [ "$mode" = four_reads ]; then
            : >"$WDIR/reading"
            for _ in 1 2 3 4; do
                (while [ -f "$WDIR/reading" ]; do
                    curl -fsS -o /dev/null "$URL/getAllOrderIdsFromTopic?topic=$topic" || sleep 0.2
                done) &
                READERS+=($!)
            done
        fi
        before=$(scanned)
        line=$(env BENCH_PATH=/order-details BENCH_ID_PREFIX=D BENCH_ID_COUNT="$ORDERS" \
            wrk -t1 -c16 -d"${DURATION}s" --latency -s bench/get_path.lua "$URL" | grep BENCH_RESULT)
        rm -f "$WDIR/reading" # each loop ends after its read in flight
        for p in "${READERS[@]}"; do wait "$p" 2>/dev/null || true; done
        READERS=()
        echo "bench=topic_reads_details events=$n mode=$mode scanned=$(($(scanned) - before)) ${line#BENCH_RESULT }" >>"$RES"
        say "/order-details ($mode, $n records on the read topic): ${line#BENCH_RESULT }"
    done
    echo "bench=topic_reads_rss events=$n hwm_kb=$(hwm_kb $SVC)" >>"$RES"
    kill "$SVC"
    wait "$SVC" 2>/dev/null || true
    SVC=
done
say "results in $RES"
