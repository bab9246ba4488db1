#!/usr/bin/env bash
# services.sh: start/stop the two C services against the local stack for
# `make run`, detached, with pid files and logs under the stack's directory.
#
#   scripts/services.sh start|stop|status [all|cart|order]
#   scripts/services.sh urls     (where everything is, and the seed's curl examples)
#
# Env: BIN_DIR (build), STACK_DIR (var), CART_PORT (8000), ORDER_PORT (8001),
#      KAFKA_PORT (9092), REGISTRY_PORT (8081), SERVICE_TIMEOUT_S (60).
# Every service setting of the shared list (ORDER_EVENTS_TOPIC, LOG_LEVEL, ...)
# passes through from the caller's environment; only the addresses and the
# order store path are derived here so they match the stack.
# A binary that is not built is skipped with a message, not an error: `make run`
# stays usable while a service is still being written.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
BIN_DIR=$(cd "${BIN_DIR:-build}" 2>/dev/null && pwd || echo "$ROOT/${BIN_DIR:-build}")
STACK_DIR=${STACK_DIR:-var}
mkdir -p "$STACK_DIR"
STACK_DIR=$(cd "$STACK_DIR" && pwd)
LOG_DIR="$STACK_DIR/log"
PID_DIR="$STACK_DIR/pid"
CART_PORT=${CART_PORT:-8000}
ORDER_PORT=${ORDER_PORT:-8001}
KAFKA_PORT=${KAFKA_PORT:-9092}
REGISTRY_PORT=${REGISTRY_PORT:-8081}
SERVICE_TIMEOUT_S=${SERVICE_TIMEOUT_S:-60}

say() { printf '[services] %s\n' "$*"; }
die() {
    printf '[services] ERROR: %s\n' "$*" >&2
    exit 1
}

port_of() { if [ "$1" = cart ]; then echo "$CART_PORT"; else echo "$ORDER_PORT"; fi; }
bin_of() { echo "$BIN_DIR/$1-service"; }

live_pid() {
    local f="$PID_DIR/$1-service.pid" pid
    [ -f "$f" ] || return 1
    pid=$(cat "$f")
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    [ -r "/proc/$pid/cmdline" ] || return 1
    tr '\0' '\n' <"/proc/$pid/cmdline" | head -n1 | grep -qxF -- "$(bin_of "$1")" || return 1
    echo "$pid"
}

healthy() { curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$(port_of "$1")/health"; }

start_one() {
    local svc=$1 bin pid port start last
    bin=$(bin_of "$svc")
    port=$(port_of "$svc")
    if [ ! -x "$bin" ]; then
        say "$svc-service: $bin not built yet, skipped"
        return 0
    fi
    if pid=$(live_pid "$svc"); then
        say "$svc-service already running (pid $pid)"
    else
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            die "port $port is taken by another process (set $(echo "$svc" | tr a-z A-Z)_PORT)"
        fi
        mkdir -p "$LOG_DIR" "$PID_DIR"
        say "starting $svc-service on 127.0.0.1:$port, log $LOG_DIR/$svc-service.log"
        local extra=()
        [ "$svc" = order ] && extra=(STORE_PATH="${STORE_PATH:-$STACK_DIR/order-service.db}")
        # STORE=postgres: the store in scripts/postgres.sh's cluster (unless STORE_URL says otherwise)
        if [ "$svc" = order ] && [ "${STORE:-}" = postgres ] && [ -z "${STORE_URL:-}" ]; then
            extra+=(STORE_URL="$("$ROOT/scripts/postgres.sh" url)")
        fi
        env KAFKA_BOOTSTRAP_SERVERS="${KAFKA_BOOTSTRAP_SERVERS:-127.0.0.1:$KAFKA_PORT}" \
            SCHEMA_REGISTRY_URL="${SCHEMA_REGISTRY_URL:-http://127.0.0.1:$REGISTRY_PORT/apis/ccompat/v7}" \
            HTTP_HOST="${HTTP_HOST:-127.0.0.1}" HTTP_PORT="$port" "${extra[@]}" \
            setsid "$bin" >>"$LOG_DIR/$svc-service.log" 2>&1 </dev/null &
        pid=$!
        echo "$pid" >"$PID_DIR/$svc-service.pid"
    fi
    start=$SECONDS
    last=$SECONDS
    printf '[services] waiting for %s-service /health ' "$svc"
    until healthy "$svc" 2>/dev/null; do
        if ! kill -0 "$pid" 2>/dev/null; then
            printf ' died\n'
            tail -n 20 "$LOG_DIR/$svc-service.log" >&2 || true
            die "$svc-service exited; read $LOG_DIR/$svc-service.log"
        fi
        if [ $((SECONDS - start)) -ge "$SERVICE_TIMEOUT_S" ]; then
            printf ' timeout\n'
            tail -n 20 "$LOG_DIR/$svc-service.log" >&2 || true
            die "$svc-service not healthy after ${SERVICE_TIMEOUT_S}s; read $LOG_DIR/$svc-service.log"
        fi
        if [ $SECONDS -ne $last ]; then
            printf '.'
            last=$SECONDS
        fi
        sleep 0.2
    done
    printf ' healthy: http://127.0.0.1:%s\n' "$port"
}

stop_one() {
    local svc=$1 pid start
    if ! pid=$(live_pid "$svc"); then
        rm -f "$PID_DIR/$svc-service.pid"
        return 0
    fi
    printf '[services] stopping %s-service (pid %s) ' "$svc" "$pid"
    kill -TERM "$pid" 2>/dev/null || true
    start=$SECONDS
    while kill -0 "$pid" 2>/dev/null; do
        if [ $((SECONDS - start)) -ge "$SERVICE_TIMEOUT_S" ]; then
            printf ' no exit after %ss, SIGKILL' "$SERVICE_TIMEOUT_S"
            kill -KILL "$pid" 2>/dev/null || true
            break
        fi
        sleep 0.2
    done
    printf ' stopped\n'
    rm -f "$PID_DIR/$svc-service.pid"
}

status_one() {
    local svc=$1 pid
    if pid=$(live_pid "$svc"); then
        if healthy "$svc" 2>/dev/null; then
            say "$svc-service: running (pid $pid), healthy at http://127.0.0.1:$(port_of "$svc")"
        else
            say "$svc-service: running (pid $pid), /health not answering"
        fi
    else
        say "$svc-service: stopped"
        return 1
    fi
}

urls() {
    local c="http://127.0.0.1:$CART_PORT" o="http://127.0.0.1:$ORDER_PORT"
    cat <<EOF

  cart-service  (producer): $c
  order-service (consumer): $o
  Kafka:                    127.0.0.1:$KAFKA_PORT
  Schema registry:          http://127.0.0.1:$REGISTRY_PORT/apis/ccompat/v7
  Logs: $LOG_DIR/      Stop everything: make stop

Try it (the seed's examples):
  curl -X POST $c/create-order -H "Content-Type: application/json" \\
       -d '{"orderId": "ORDER-001", "itemsCount": 3}'
  curl "$o/order-details?orderId=ORDER-001"
  curl "$o/getAllOrderIdsFromTopic?topic=order-events"
  curl -X PUT $c/update-order -H "Content-Type: application/json" \\
       -d '{"orderId": "ORDER-001", "status": "shipped"}'
  curl -X POST $c/create-order -H "Content-Type: application/json" -d '{"itemsCount": 3}'   # 422
  curl -X PUT $c/update-order -H "Content-Type: application/json" \\
       -d '{"orderId": "ORDER-NONEXISTENT", "status": "confirmed"}'                      # -> DLQ
  curl $o/dlq/stats
  curl "$o/dlq/messages?limit=1&offset=0"
  curl $c/health; curl $o/health
EOF
}

cmd=${1:-}
what=${2:-all}
case "$what" in
all) svcs=(order cart) ;; # the consumer first: it creates the topics too
cart | order) svcs=("$what") ;;
*) die "unknown service '$what' (all|cart|order)" ;;
esac

case "$cmd" in
start) for s in "${svcs[@]}"; do start_one "$s"; done ;;
urls) urls ;;
stop) for ((i = ${#svcs[@]} - 1; i >= 0; i--)); do stop_one "${svcs[i]}"; done ;;
status)
    rc=0
    for s in "${svcs[@]}"; do status_one "$s" || rc=1; done
    exit $rc
    ;;
*)
    echo "usage: $0 start|stop|status|urls [all|cart|order]" >&2
    exit 2
    ;;
esac
