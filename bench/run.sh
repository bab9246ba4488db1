#!/usr/bin/env bash
# bench/run.sh (make bench): measures; asserts nothing. Starts a private stack
# (Kafka + registry on their own ports, state under var/bench), runs each
# benchmark BENCH_RUNS times with the release build, and writes
# docs/BENCHMARKS.md with the machine, versions, command lines, medians and
# ratios. Not part of `make test`.
#
# Knobs: BENCH_RUNS (3), BENCH_DURATION_S (15, per wrk run), BENCH_CONNECTIONS (64),
#        BENCH_SWEEP_CONNECTIONS ("16 64 256 1000": create-order's curve; RUNS runs at
#        BENCH_CONNECTIONS and 1000, one at the others), BENCH_PRODUCE_EVENTS (1000000,
#        per produce-ceiling run), BENCH_UPDATE_ORDERS (100000, preloaded for update-order),
#        BENCH_EVENTS (1000000, preloaded for catch-up/reads/topic scan),
#        BENCH_E2E_RATE (5000/s), BENCH_E2E_SECONDS (30), BIN_DIR (build),
#        BENCH_PORT_BASE (17000: cart; +1.. order-service, +80 nginx, +81 registry,
#        +92/+93 Kafka, +432 PostgreSQL unless BENCH_PG_PORT),
#        BENCH_FRONT_ONLY (0; 1: ceilings, create, update and end-to-end only),
#        BENCH_CART_THREADS ("1 2 4": cart-service HTTP_THREADS, one create-order run each).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
. scripts/versions.sh

RUNS=${BENCH_RUNS:-3}
DURATION=${BENCH_DURATION_S:-15}
CONNS=${BENCH_CONNECTIONS:-64}
SWEEP_CONNS=${BENCH_SWEEP_CONNECTIONS:-16 64 256 1000}
CART_THREADS=${BENCH_CART_THREADS:-1 2 4}
PRODUCE_EVENTS=${BENCH_PRODUCE_EVENTS:-1000000}
UPDATE_ORDERS=${BENCH_UPDATE_ORDERS:-100000}
EVENTS=${BENCH_EVENTS:-1000000}
E2E_RATE=${BENCH_E2E_RATE:-5000}
E2E_SECONDS=${BENCH_E2E_SECONDS:-30}
BIN=$(cd "${BIN_DIR:-build}" && pwd)
OUT=${BENCH_REPORT:-docs/BENCHMARKS.md}

# ports below the ephemeral range (32768+), so no client socket can hold them;
# BENCH_PORT_BASE moves them all (two checkouts benchmarking on one machine)
PB=${BENCH_PORT_BASE:-17000}
export STACK_DIR=$ROOT/var/bench/stack KAFKA_PORT=$((PB + 92)) KAFKA_CONTROLLER_PORT=$((PB + 93)) REGISTRY_PORT=$((PB + 81))
BDIR=$ROOT/var/bench
CART_PORT=$PB ORDER_PORT=$((PB + 1)) NGINX_PORT=$((PB + 80))
BOOT=127.0.0.1:$KAFKA_PORT
REG=http://127.0.0.1:$REGISTRY_PORT/apis/ccompat/v7
RES=$BDIR/results.txt
RUN_ID=$(date +%s)
CART_TOPIC=order-events # cart-service's default ORDER_EVENTS_TOPIC
PY=${BENCH_PYTHON:-$ROOT/.venv/bin/python} # matplotlib for the plot (bench/requirements.txt)
[ -x "$PY" ] || PY=python3
# 1,000 connections: wrk and the services each need a descriptor per connection
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

say() { printf '[bench] %s\n' "$*"; }
. bench/wait_up.sh
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    [ -f "$BDIR/nginx.pid" ] && kill "$(cat "$BDIR/nginx.pid")" 2>/dev/null || true
    scripts/stack.sh stop >/dev/null 2>&1 || true
    PG_PORT=${BENCH_PG_PORT:-$((PB + 432))} scripts/postgres.sh stop >/dev/null 2>&1 || true
}
trap cleanup EXIT

scripts/stack.sh stop >/dev/null 2>&1 || true
rm -rf "$BDIR"
mkdir -p "$BDIR/tmp"
: >"$RES"
scripts/stack.sh start

# start_service NAME PORT ENV...: starts a release binary, waits for /health 200.
start_service() {
    local name=$1 port=$2
    shift 2
    env KAFKA_BOOTSTRAP_SERVERS=$BOOT SCHEMA_REGISTRY_URL=$REG HTTP_PORT=$port LOG_LEVEL=warn "$@" \
        "$BIN/$name" >>"$BDIR/$name-$port.log" 2>&1 &
    LAST_PID=$!
    PIDS+=("$LAST_PID")
    wait_up "http://127.0.0.1:$port/health" "$LAST_PID" "$name" "$BDIR/$name-$port.log" 600
}
stop_pid() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }
hwm_kb() { awk '/VmHWM/ {print $2}' "/proc/$1/status"; }
health_field() { curl -fsS "http://127.0.0.1:$1/health" | python3 -c "import json,sys; print(json.load(sys.stdin).get('$2', -1))"; }
# stored_count PORT: /health's ordersStored (a key that occurs once), without
# starting a Python per look: the catch-up loops look ten times a second on
# the two cores the catch-up itself needs (a python3 start is ~25 ms of CPU).
stored_count() {
    local n
    n=$(curl -fsS "http://127.0.0.1:$1/health" | sed -n 's/.*"ordersStored":\([0-9]*\).*/\1/p')
    echo "${n:--1}"
}
record() { echo "$*" >>"$RES"; }
# mem_watch PID: samples /proc/PID/status every 100 ms in the background
# (bench/mem_peaks.sh) and keeps the peaks of RssAnon and VmRSS in $BDIR/mem-PID.
# mem_record PID PHASE SERVICE: stops the sampler, records the peaks.
. bench/mem_peaks.sh
mem_watch() {
    mem_peaks "$1" "$BDIR/mem-$1" 0.1 &
    MEM_WATCH[$1]=$!
}
declare -A MEM_WATCH=()
mem_record() {
    local pid=$1 phase=$2 service=$3 a=0 v=0
    kill "${MEM_WATCH[$pid]}" 2>/dev/null || true
    wait "${MEM_WATCH[$pid]}" 2>/dev/null || true
    [ -f "$BDIR/mem-$pid" ] && read -r a v <"$BDIR/mem-$pid"
    record "bench=mem service=$service phase=$phase rssanon_peak_kb=$a vmrss_peak_kb=$v"
    rm -f "$BDIR/mem-$pid"
}
wrk_run() { # NAME URL SCRIPT [env...]; WRK_C=N for other than CONNS connections, WRK_TAG="k=v " recorded too
    local name=$1 url=$2 script=$3 c=${WRK_C:-$CONNS}
    shift 3
    local line
    line=$(env "$@" wrk -t2 -c"$c" -d"${DURATION}s" --latency -s "$script" "$url" | grep BENCH_RESULT)
    record "bench=$name conns=$c ${WRK_TAG:-}${line#BENCH_RESULT }"
    say "$name ($c connections): ${line#BENCH_RESULT }"
}

# --- the measurements of the front: one function each ---------------------------
# Each records key=value lines (record) that report.py reads; none asserts.

# HTTP ceiling: nginx answering a constant JSON body, same wrk settings.
bench_http_ceiling() {
    sed -e "s|@PORT@|$NGINX_PORT|" -e "s|@DIR@|$BDIR|g" bench/nginx.conf.in >"$BDIR/nginx.conf"
    /usr/sbin/nginx -c "$BDIR/nginx.conf" -p "$BDIR" &
    local ng=$!
    PIDS+=("$ng")
    sleep 1
    for r in $(seq 1 "$RUNS"); do
        wrk_run nginx "http://127.0.0.1:$NGINX_PORT" bench/get_path.lua BENCH_PATH=/
    done
    stop_pid "$ng"
}

# Produce ceiling: the project's loader (acks=all, idempotent, events the
# size of a create: ids as long as create_order.lua's) into a topic of its
# own; events/s from the loader.
bench_produce_ceiling() {
    local line
    for r in $(seq 1 "$RUNS"); do
        line=$("$BIN/bench-loader" "$BOOT" "$REG" bench-produce-$r "$PRODUCE_EVENTS" "Q$RUN_ID-$r-" | tail -1)
        echo "$line" >>"$BDIR/loader.log"
        record "bench=produce_ceiling run=$r events=$PRODUCE_EVENTS eps=$(sed -n 's/.*(\([0-9]*\)\/s).*/\1/p' <<<"$line") event_bytes=$(sed -n 's/.* \([0-9]*\) bytes\/event.*/\1/p' <<<"$line")"
        say "produce ceiling run $r: $line"
    done
}

# Samples VmRSS of pid $1 every 0.2 s into $2 (max in kB) until killed.
rss_sampler() {
    local max=0 v
    while kill -0 "$1" 2>/dev/null; do
        v=$(awk '/^VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0)
        [ "${v:-0}" -gt "$max" ] && max=$v && echo "$max" >"$2"
        sleep 0.2
    done
}

# create-order at each of SWEEP_CONNS: RUNS runs at CONNS and at 1,000, one
# run elsewhere (the plot's points); cart-service's VmRSS sampled during the
# 1,000-connection runs.
bench_create_sweep() {
    # not recorded: the broker's JIT and the services' pools warm up first
    BENCH_RUN="W$RUN_ID" wrk -t2 -c"$CONNS" -d5s -s bench/create_order.lua "http://127.0.0.1:$CART_PORT" >/dev/null
    for c in $SWEEP_CONNS; do
        local n=1
        if [ "$c" = "$CONNS" ] || [ "$c" = 1000 ]; then n=$RUNS; fi
        local sampler=
        if [ "$c" = 1000 ]; then
            rss_sampler "$CART_PID" "$BDIR/cart-rss-1000.kb" &
            sampler=$!
        fi
        for r in $(seq 1 "$n"); do
            WRK_C=$c wrk_run create_order "http://127.0.0.1:$CART_PORT" bench/create_order.lua \
                BENCH_RUN="$RUN_ID$c$r"
        done
        if [ -n "$sampler" ]; then
            kill "$sampler" 2>/dev/null || true
            wait "$sampler" 2>/dev/null || true
            record "bench=rss service=cart-service-1000 conns=1000 rss_max_kb=$(cat "$BDIR/cart-rss-1000.kb" 2>/dev/null || echo 0) hwm_kb=$(hwm_kb "$CART_PID")"
        fi
    done
}

# every 201 must be an event in Kafka: order-service must end with at least
# as many orders as wrk counted answers (wrk does not count those in flight at the end)
wait_applied() {
    say "waiting for order-service to apply every acknowledged write"
    for _ in $(seq 1 1200); do
        [ "$(health_field $ORDER_PORT lag)" = 0 ] && break
        sleep 0.5
    done
}

# update-order: orders preloaded (and applied) first, then PUTs of status
# changes on random ones, at CONNS (RUNS runs) and at 1,000 connections.
bench_update() {
    local prefix="U$RUN_ID-"
    "$BIN/bench-loader" "$BOOT" "$REG" "$CART_TOPIC" "$UPDATE_ORDERS" "$prefix" | tee -a "$BDIR/loader.log"
    wait_applied
    for r in $(seq 1 "$RUNS"); do
        wrk_run update_order "http://127.0.0.1:$CART_PORT" bench/update_order.lua \
            BENCH_ID_PREFIX="$prefix" BENCH_ID_COUNT="$UPDATE_ORDERS"
    done
    WRK_C=1000 wrk_run update_order "http://127.0.0.1:$CART_PORT" bench/update_order.lua \
        BENCH_ID_PREFIX="$prefix" BENCH_ID_COUNT="$UPDATE_ORDERS"
}

# create-order with cart-service's HTTP_THREADS at each of CART_THREADS (one
# run each at CONNS): whether another loop finds a core on this machine.
bench_cart_threads() {
    for t in $CART_THREADS; do
        start_service cart-service $CART_PORT HTTP_THREADS="$t"
        local pid=$LAST_PID
        BENCH_RUN="WT$RUN_ID$t" wrk -t2 -c"$CONNS" -d3s -s bench/create_order.lua "http://127.0.0.1:$CART_PORT" >/dev/null
        WRK_TAG="threads=$t " wrk_run create_order_threads "http://127.0.0.1:$CART_PORT" \
            bench/create_order.lua BENCH_RUN="T$RUN_ID$t"
        stop_pid "$pid"
    done
}

# end-to-end: 201 -> visible in order-details, open loop at E2E_RATE.
bench_e2e() {
    local line
    for r in $(seq 1 "$RUNS"); do
        line=$("$BIN/bench-e2e_latency" 127.0.0.1 $CART_PORT 127.0.0.1 $ORDER_PORT "$E2E_RATE" "$E2E_SECONDS" "E$RUN_ID-$r-" | grep BENCH_RESULT || true)
        record "bench=e2e rate=$E2E_RATE seconds=$E2E_SECONDS ${line#BENCH_RESULT }"
        say "e2e: ${line#BENCH_RESULT }"
    done
}

write_report() {
    "$PY" bench/report.py "$RES" "$OUT" "$RUNS" "$DURATION" "$CONNS" "$EVENTS" "$E2E_RATE" "$E2E_SECONDS" \
        "$KAFKA_VERSION" "$APICURIO_VERSION"
    say "report written to $OUT"
}

# --- 1, 2, 3: ceilings, create-order, update-order, end-to-end ------------------
bench_http_ceiling
bench_produce_ceiling
start_service order-service $ORDER_PORT STORE_PATH="$BDIR/order-main.db"
ORDER_PID=$LAST_PID
start_service cart-service $CART_PORT
CART_PID=$LAST_PID
bench_create_sweep
wait_applied
record "bench=create_order_check orders_stored=$(stored_count $ORDER_PORT)"
bench_update
wait_applied # the update runs' backlog is applied before end-to-end is timed
bench_e2e
record "bench=rss service=cart-service hwm_kb=$(hwm_kb $CART_PID)"
stop_pid $CART_PID
bench_cart_threads
stop_pid $ORDER_PID
if [ "${BENCH_FRONT_ONLY:-0}" = 1 ]; then # smoke runs of the parts above only
    write_report
    exit 0
fi

# --- 4, 5, 6: catch-up, reads, topic scan over a preloaded topic ---------------
TOPIC=bench-catchup
say "preloading $EVENTS events into $TOPIC"
"$BIN/bench-loader" "$BOOT" "$REG" "$TOPIC" "$EVENTS" "L" | tee -a "$BDIR/loader.log"
# the preload is the loader producing CREATE events (acks=all): a produce figure of this run,
# used for the catch-up ratio when the run has no separate produce ceiling
record "bench=produce_preload eps=$(sed -n 's/.* (\([0-9]*\)\/s).*/\1/p' "$BDIR/loader.log" | tail -1)"
for r in $(seq 1 "$RUNS"); do
    t0=$(date +%s.%N)
    start_service order-service $ORDER_PORT STORE_PATH="$BDIR/catchup-$r.db" \
        ORDER_EVENTS_TOPIC=$TOPIC DLQ_TOPIC=$TOPIC-dlq CONSUMER_GROUP_ID=bench-catchup-$RUN_ID-$r
    CPID=$LAST_PID
    mem_watch $CPID
    while :; do
        n=$(stored_count $ORDER_PORT)
        [ "$n" -ge "$EVENTS" ] && break
        kill -0 $CPID || { say "order-service died"; exit 1; }
        sleep 0.1
    done
    t1=$(date +%s.%N)
    secs=$(python3 -c "print(f'{$t1 - $t0:.3f}')")
    record "bench=catchup run=$r events=$EVENTS seconds=$secs eps=$(python3 -c "print(f'{$EVENTS / ($t1 - $t0):.0f}')") hwm_kb=$(hwm_kb $CPID)"
    say "catch-up run $r: $EVENTS events in $secs s"
    mem_record $CPID catchup order-service
    if [ "$r" -lt "$RUNS" ]; then stop_pid $CPID; fi
done
# order-details over the $EVENTS orders the last catch-up left behind
mem_watch $CPID
for r in $(seq 1 "$RUNS"); do
    wrk_run order_details "http://127.0.0.1:$ORDER_PORT" bench/get_path.lua \
        BENCH_PATH=/order-details BENCH_ID_PREFIX=L BENCH_ID_COUNT="$EVENTS"
done
mem_record $CPID order_details order-service
mem_watch $CPID
for r in $(seq 1 "$RUNS"); do
    rss0=$(awk '/VmRSS/ {print $2}' /proc/$CPID/status)
    t=$(curl -fsS -o "$BDIR/ids.json" -w '%{time_total}' "http://127.0.0.1:$ORDER_PORT/getAllOrderIdsFromTopic?topic=$TOPIC")
    cnt=$(python3 -c "import json; print(json.load(open('$BDIR/ids.json'))['count'])")
    record "bench=topic_scan run=$r seconds=$t count=$cnt rss_before_kb=$rss0 hwm_kb=$(hwm_kb $CPID)"
    say "getAllOrderIdsFromTopic run $r: $cnt ids in $t s"
done
mem_record $CPID topic_scan order-service
record "bench=rss service=order-service hwm_kb=$(hwm_kb $CPID)"
stop_pid $CPID

# --- topic reads over the store's topic indexes (issue 13) --------------------
BOOT=$BOOT REG=$REG BIN=$BIN RES=$RES BDIR=$BDIR bench/topic_reads.sh

# --- 7, 8, 9: the same on PostgreSQL, one instance and three in one group ----
# (the shared store of issue 16; a database per run, so each starts empty)
export PG_PORT=${BENCH_PG_PORT:-$((PB + 432))}
scripts/postgres.sh start
pg_sql() { PGOPTIONS="-c client_min_messages=warning" psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -c "$1"; }
fresh_db() {
    pg_sql "DROP DATABASE IF EXISTS $1" >/dev/null
    pg_sql "CREATE DATABASE $1 OWNER orderstream" >/dev/null
    echo "postgresql://orderstream@127.0.0.1:$PG_PORT/$1"
}
for inst in 1 3; do
    for r in $(seq 1 "$RUNS"); do
        url=$(fresh_db "catchup_${inst}_$r")
        t0=$(date +%s.%N)
        pids=()
        for i in $(seq 1 "$inst"); do
            start_service order-service $((ORDER_PORT + i - 1)) STORE_URL="$url" \
                ORDER_EVENTS_TOPIC=$TOPIC DLQ_TOPIC=$TOPIC-dlq \
                CONSUMER_GROUP_ID=bench-pg-$inst-$RUN_ID-$r CONSUMER_INSTANCE_ID=bench-$i
            pids+=("$LAST_PID")
        done
        mem_watch "${pids[0]}"
        while :; do
            n=$(stored_count $ORDER_PORT)
            [ "$n" -ge "$EVENTS" ] && break
            for p in "${pids[@]}"; do kill -0 "$p" || { say "order-service died"; exit 1; }; done
            sleep 0.1
        done
        t1=$(date +%s.%N)
        secs=$(python3 -c "print(f'{$t1 - $t0:.3f}')")
        record "bench=catchup_pg instances=$inst run=$r events=$EVENTS seconds=$secs eps=$(python3 -c "print(f'{$EVENTS / ($t1 - $t0):.0f}')") hwm_kb=$(hwm_kb "${pids[0]}")"
        say "PostgreSQL catch-up, $inst instance(s), run $r: $EVENTS events in $secs s"
        mem_record "${pids[0]}" "catchup_pg_$inst" order-service-pg
        if [ "$inst" = 1 ] && [ "$r" = "$RUNS" ]; then
            PG_PID=${pids[0]}
        else
            for p in "${pids[@]}"; do stop_pid "$p"; done
        fi
    done
    if [ "$inst" = 1 ]; then
        # The reads measure a settled store: right after a 1M-order load, autovacuum's
        # VACUUM ANALYZE of orders starts within its naptime and, while it runs, halves the
        # reads and lifts their p99 to ~100 ms (bench/profile-notes.md). Done here, timed.
        t0=$(date +%s.%N)
        PGOPTIONS="-c client_min_messages=warning" psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 \
            -p "$PG_PORT" -U postgres -d "catchup_1_$RUNS" -c "VACUUM ANALYZE"
        record "bench=pg_settle seconds=$(python3 -c "import time; print(f'{time.time() - $t0:.1f}')")"
        mem_watch $PG_PID
        for r in $(seq 1 "$RUNS"); do
            wrk_run order_details_pg "http://127.0.0.1:$ORDER_PORT" bench/get_path.lua \
                BENCH_PATH=/order-details BENCH_ID_PREFIX=L BENCH_ID_COUNT="$EVENTS"
        done
        mem_record $PG_PID order_details_pg order-service-pg
        record "bench=rss service=order-service-pg hwm_kb=$(hwm_kb $PG_PID)"
        stop_pid $PG_PID
    fi
done
scripts/postgres.sh stop

write_report
