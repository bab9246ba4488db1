#!/usr/bin/env bash
# services.sh: start/stop the two C services against the local stack for
# `make run`, detached, with pid files and logs under the stack's directory.
#
#   scripts/services.sh start|stop|status [all|cart|order|order-N]
#   scripts/services.sh urls     (where everything is, and the seed's curl examples)
#
# Env: BIN_DIR (build), STACK_DIR (var), CART_PORT (8000), ORDER_PORT (8001),
#      ORDER_REPLICAS (1): N order-service instances in one consumer group on
#      ORDER_PORT, ORDER_PORT+1, ... (order, order-2, order-3, ...); more than
#      one needs the shared PostgreSQL store (STORE=postgres): an SQLite file
#      is one instance's store,
#      STORE (sqlite; postgres = scripts/postgres.sh's cluster as STORE_URL),
#      KAFKA_BROKERS (1), KAFKA_PORT (9092) or KAFKA_PORTS (as scripts/stack.sh:
#      the services get every node's address), REGISTRY_PORT (8081),
#      SERVICE_TIMEOUT_S (60).
# Every service setting of the shared list (ORDER_EVENTS_TOPIC, LOG_LEVEL,
# DLQ_REPLAY_TOKEN, ...) passes through from the caller's environment; only the addresses and the
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
# shellcheck source=scripts/kafka-nodes.sh
. scripts/kafka-nodes.sh
REGISTRY_PORT=${REGISTRY_PORT:-8081}
SERVICE_TIMEOUT_S=${SERVICE_TIMEOUT_S:-60}

say() { printf '[services] %s\n' "$*"; }
die() {
    printf '[services] ERROR: %s\n' "$*" >&2
    exit 1
}

ORDER_REPLICAS=${ORDER_REPLICAS:-1}
[[ "$ORDER_REPLICAS" =~ ^[1-9][0-9]?$ ]] || die "ORDER_REPLICAS must be 1-99, not '$ORDER_REPLICAS'"

# A unit is cart, order (the first order-service) or order-N (the N-th).
port_of() {
    case "$1" in
    cart) echo "$CART_PORT" ;;
    order) echo "$ORDER_PORT" ;;
    order-*) echo $((ORDER_PORT + ${1#order-} - 1)) ;;
    esac
}
bin_of() { echo "$BIN_DIR/${1%%-*}-service"; }
name_of() { # cart-service, order-service, order-service-2, ...
    case "$1" in
    order-*) echo "order-service-${1#order-}" ;;
    *) echo "$1-service" ;;
    esac
}
order_units() {
    local i
    echo order
    for ((i = 2; i <= ORDER_REPLICAS; i++)); do echo "order-$i"; done
}

live_pid() {
    local f="$PID_DIR/$(name_of "$1").pid" pid
    [ -f "$f" ] || return 1
    pid=$(cat "$f")
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    [ -r "/proc/$pid/cmdline" ] || return 1
    tr '\0' '\n' <"/proc/$pid/cmdline" | head -n1 | grep -qxF -- "$(bin_of "$1")" || return 1
    echo "$pid"
}

healthy() { curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$(port_of "$1")/health"; }

start_one() {
    local svc=$1 bin pid port start last name
    bin=$(bin_of "$svc")
    port=$(port_of "$svc")
    name=$(name_of "$svc")
    if [ ! -x "$bin" ]; then
        say "$name: $bin not built yet, skipped"
        return 0
    fi
    if pid=$(live_pid "$svc"); then
        say "$name already running (pid $pid)"
    else
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            die "port $port is taken by another process (set $(echo "${svc%%-*}" | tr a-z A-Z)_PORT)"
        fi
        mkdir -p "$LOG_DIR" "$PID_DIR"
        say "starting $name on 127.0.0.1:$port, log $LOG_DIR/$name.log"
        local extra=()
        case "$svc" in
        order*)
            extra=(STORE_PATH="${STORE_PATH:-$STACK_DIR/order-service.db}")
            # STORE=postgres: the store in scripts/postgres.sh's cluster (unless STORE_URL says otherwise)
            if [ "${STORE:-}" = postgres ] && [ -z "${STORE_URL:-}" ]; then
                extra+=(STORE_URL="$("$ROOT/scripts/postgres.sh" url)")
            fi
            # static membership: a restarted instance gets its partitions back
            # without a rebalance of the others
            extra+=(CONSUMER_INSTANCE_ID="${CONSUMER_INSTANCE_ID_PREFIX:-}$name")
            ;;
        esac
        env KAFKA_BOOTSTRAP_SERVERS="${KAFKA_BOOTSTRAP_SERVERS:-$KAFKA_BOOTSTRAP}" \
            SCHEMA_REGISTRY_URL="${SCHEMA_REGISTRY_URL:-http://127.0.0.1:$REGISTRY_PORT/apis/ccompat/v7}" \
            HTTP_HOST="${HTTP_HOST:-127.0.0.1}" HTTP_PORT="$port" "${extra[@]}" \
            setsid "$bin" >>"$LOG_DIR/$name.log" 2>&1 </dev/null &
        pid=$!
        echo "$pid" >"$PID_DIR/$name.pid"
    fi
    start=$SECONDS
    last=$SECONDS
    printf '[services] waiting for %s /health ' "$name"
    until healthy "$svc" 2>/dev/null; do
        if ! kill -0 "$pid" 2>/dev/null; then
            printf ' died\n'
            tail -n 20 "$LOG_DIR/$name.log" >&2 || true
            die "$name exited; read $LOG_DIR/$name.log"
        fi
        if [ $((SECONDS - start)) -ge "$SERVICE_TIMEOUT_S" ]; then
            printf ' timeout\n'
            tail -n 20 "$LOG_DIR/$name.log" >&2 || true
            die "$name not healthy after ${SERVICE_TIMEOUT_S}s; read $LOG_DIR/$name.log"
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
    local svc=$1 pid start name
    name=$(name_of "$svc")
    if ! pid=$(live_pid "$svc"); then
        rm -f "$PID_DIR/$name.pid"
        return 0
    fi
    printf '[services] stopping %s (pid %s) ' "$name" "$pid"
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
    rm -f "$PID_DIR/$name.pid"
}

status_one() {
    local svc=$1 pid name
    name=$(name_of "$svc")
    if pid=$(live_pid "$svc"); then
        if healthy "$svc" 2>/dev/null; then
            say "$name: running (pid $pid), healthy at http://127.0.0.1:$(port_of "$svc")"
        else
            say "$name: running (pid $pid), /health not answering"
        fi
    else
        say "$name: stopped"
        return 1
    fi
}

urls() {
    local c="http://127.0.0.1:$CART_PORT" o="http://127.0.0.1:$ORDER_PORT" stop_args= more=
    [ "$KAFKA_BROKERS" -gt 1 ] && stop_args=" KAFKA_BROKERS=$KAFKA_BROKERS"
    [ -n "${STORE:-}" ] && stop_args+=" STORE=$STORE"
    if [ "$ORDER_REPLICAS" -gt 1 ]; then
        stop_args+=" ORDER_REPLICAS=$ORDER_REPLICAS"
        more=" (+ $((ORDER_REPLICAS - 1)) more on ports $((ORDER_PORT + 1))-$((ORDER_PORT + ORDER_REPLICAS - 1)), one group)"
    fi
    cat <<EOF

  cart-service  (producer): $c
  order-service (consumer): $o$more
  Kafka:                    $KAFKA_BOOTSTRAP
  Schema registry:          http://127.0.0.1:$REGISTRY_PORT/apis/ccompat/v7
  Logs: $LOG_DIR/      Stop everything: make stop$stop_args

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
mapfile -t orders < <(order_units)
if [ "$cmd" = stop ] || [ "$cmd" = status ]; then
    # instances started with a larger ORDER_REPLICAS are stopped (and shown) too
    for f in "$PID_DIR"/order-service-*.pid; do
        [ -e "$f" ] || continue
        n=${f##*/order-service-}
        n=${n%.pid}
        [[ "$n" =~ ^[0-9]+$ ]] && [ "$n" -gt "$ORDER_REPLICAS" ] && orders+=("order-$n")
    done
fi
case "$what" in
all) svcs=("${orders[@]}" cart) ;; # the consumers first: they create the topics too
cart) svcs=(cart) ;;
order) svcs=("${orders[@]}") ;;
order-[0-9]*) svcs=("$what") ;;
*) die "unknown service '$what' (all|cart|order|order-N)" ;;
esac
if [ "$cmd" = start ] && [ "$ORDER_REPLICAS" -gt 1 ] && [ "${STORE:-}" != postgres ] &&
    [ -z "${STORE_URL:-}" ]; then
    die "ORDER_REPLICAS=$ORDER_REPLICAS needs the shared PostgreSQL store (STORE=postgres): an SQLite file is one instance's store"
fi

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
