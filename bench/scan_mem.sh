#!/usr/bin/env bash
# bench/scan_mem.sh: order-service's memory during the topic reads over 1M
# records (issue 15: RssAnon <= 150 MB with 1M orders, scans included).
# Measures; asserts nothing. Needs a running stack (BOOT, REG) and two topics
# preloaded by bench-loader: TOPIC (the service's events, caught up into a
# fresh SQLite store first) and DTOPIC (served as the DLQ topic, so
# /dlq/stats scans it). Per phase it samples /proc/PID/status every 50 ms
# and prints the peaks of RssAnon and VmRSS, and the phase's seconds:
#   catchup     TOPIC applied into the store
#   ids_build   getAllOrderIdsFromTopic?topic=TOPIC, first call (whole-topic scan + index writes)
#   ids_index   the same, second call (the index loaded, empty tail)
#   ids_dlq     getAllOrderIdsFromTopic?topic=DTOPIC, first call
#   stats_build /dlq/stats, first call (whole DTOPIC scan)
#   stats_index /dlq/stats, second call
#   ids_two     two getAllOrderIdsFromTopic at once (TOPIC and DTOPIC, from their indexes)
# smaps_rollup at the end of the run goes to $WDIR/smaps_rollup.
#
#   BOOT=127.0.0.1:9092 REG=http://127.0.0.1:8081/apis/ccompat/v7 TOPIC=t DTOPIC=d \
#   EVENTS=1000000 PORT=17001 BIN_DIR=build bench/scan_mem.sh
# Extra environment for the service: SCAN_MEM_ENV ("K=V K=V").
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
: "${BOOT:?}" "${REG:?}" "${TOPIC:?}" "${DTOPIC:?}"
EVENTS=${EVENTS:-1000000}
PORT=${PORT:-17001}
BIN=$(cd "${BIN_DIR:-build}" && pwd)
WDIR=${WDIR:-$ROOT/var/scan-mem}
URL=http://127.0.0.1:$PORT
rm -rf "$WDIR"
mkdir -p "$WDIR"

SVC=
SAMPLER=
cleanup() {
    [ -n "$SAMPLER" ] && kill "$SAMPLER" 2>/dev/null || true
    [ -n "$SVC" ] && kill "$SVC" 2>/dev/null || true
}
trap cleanup EXIT

. bench/mem_peaks.sh
T0=0
phase_begin() {
    rm -f "$WDIR/peak"
    mem_peaks "$SVC" "$WDIR/peak" 0.05 &
    SAMPLER=$!
    T0=$(date +%s.%N)
}
phase_end() {
    local t1 a=0 v=0 now
    t1=$(date +%s.%N)
    sleep 0.1
    kill "$SAMPLER" 2>/dev/null || true
    wait "$SAMPLER" 2>/dev/null || true
    SAMPLER=
    [ -f "$WDIR/peak" ] && read -r a v <"$WDIR/peak"
    now=$(awk '/^RssAnon/ {print $2}' "/proc/$SVC/status")
    printf 'phase=%s seconds=%s rssanon_peak_mb=%d vmrss_peak_mb=%d rssanon_after_mb=%d %s\n' \
        "$1" "$(python3 -c "print(f'{$t1 - $T0:.2f}')")" $((a / 1024)) $((v / 1024)) $((now / 1024)) "${2:-}"
}
get() { curl -fsS -o "$WDIR/$1.json" "$URL$2"; }
count() { python3 -c "import json; print(json.load(open('$WDIR/$1.json'))$2)"; }

env KAFKA_BOOTSTRAP_SERVERS="$BOOT" SCHEMA_REGISTRY_URL="$REG" HTTP_PORT="$PORT" LOG_LEVEL=warn \
    ORDER_EVENTS_TOPIC="$TOPIC" DLQ_TOPIC="$DTOPIC" CONSUMER_GROUP_ID="scan-mem-$(date +%s)" \
    STORE_PATH="$WDIR/store.db" TOPIC_SCAN_TIMEOUT_MS=600000 ${SCAN_MEM_ENV:-} \
    "$BIN/order-service" >>"$WDIR/order-service.log" 2>&1 &
SVC=$!
until curl -fsS -o /dev/null "$URL/health" 2>/dev/null; do
    kill -0 "$SVC" || { echo "order-service died; see $WDIR/order-service.log"; exit 1; }
    sleep 0.05
done
phase_begin
until [ "$(curl -fsS "$URL/health" | python3 -c 'import json,sys; print(json.load(sys.stdin)["ordersStored"])')" -ge "$EVENTS" ]; do
    kill -0 "$SVC" || { echo "order-service died"; exit 1; }
    sleep 0.2
done
phase_end catchup
phase_begin
get ids1 "/getAllOrderIdsFromTopic?topic=$TOPIC"
phase_end ids_build "count=$(count ids1 "['count']")"
phase_begin
get ids2 "/getAllOrderIdsFromTopic?topic=$TOPIC"
phase_end ids_index "count=$(count ids2 "['count']")"
phase_begin
get ids3 "/getAllOrderIdsFromTopic?topic=$DTOPIC"
phase_end ids_dlq "count=$(count ids3 "['count']")"
phase_begin
get stats1 /dlq/stats
phase_end stats_build "total=$(count stats1 "['total_messages']")"
phase_begin
get stats2 /dlq/stats
phase_end stats_index "total=$(count stats2 "['total_messages']")"
phase_begin
get ids4 "/getAllOrderIdsFromTopic?topic=$TOPIC" &
c1=$!
get ids5 "/getAllOrderIdsFromTopic?topic=$DTOPIC"
wait $c1
phase_end ids_two "counts=$(count ids4 "['count']"),$(count ids5 "['count']")"
cmp -s "$WDIR/ids1.json" "$WDIR/ids2.json" && echo "ids_build and ids_index answers identical"
cat "/proc/$SVC/smaps_rollup" >"$WDIR/smaps_rollup"
