#!/usr/bin/env bash
# bench/ab.sh: indicative A/B of two cart-service binaries on a noisy box.
# Starts both (A on PORT, B on PORT+1) against one running Kafka + registry
# and alternates wrk runs between them, so both see the same background load.
# Measures; asserts nothing.
#
# usage: bench/ab.sh BIN_A BIN_B   (env: KAFKA_BOOTSTRAP_SERVERS, SCHEMA_REGISTRY_URL,
#        AB_PORT (17200), AB_ROUNDS (3), AB_SECONDS (10), AB_CONNECTIONS (64))
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
A=$1 B=$2
PORT=${AB_PORT:-17200}
ROUNDS=${AB_ROUNDS:-3}
SECS=${AB_SECONDS:-10}
CONNS=${AB_CONNECTIONS:-64}
: "${KAFKA_BOOTSTRAP_SERVERS:?}" "${SCHEMA_REGISTRY_URL:?}"
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done' EXIT
for i in 0 1; do
    bin=$([ $i = 0 ] && echo "$A" || echo "$B")
    HTTP_PORT=$((PORT + i)) LOG_LEVEL=warn "$bin" >/dev/null 2>&1 &
    PIDS+=($!)
done
for i in 0 1; do
    for _ in $(seq 1 600); do
        curl -fsS -o /dev/null "http://127.0.0.1:$((PORT + i))/health" 2>/dev/null && break
        sleep 0.1
    done
done
RUN=AB$(date +%s)
for r in $(seq 1 "$ROUNDS"); do
    for i in 0 1; do
        line=$(BENCH_RUN="$RUN$r$i" wrk -t2 -c"$CONNS" -d"$SECS"s --latency -s bench/create_order.lua \
            "http://127.0.0.1:$((PORT + i))" | grep BENCH_RESULT)
        echo "$([ $i = 0 ] && echo A || echo B) round $r: ${line#BENCH_RESULT }"
    done
done
