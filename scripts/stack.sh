#!/usr/bin/env bash
# stack.sh: the local infrastructure, Apache Kafka (KRaft nodes, each broker
# and controller in one JVM: one by default, KAFKA_BROKERS=3 for a three-voter
# cluster) and Apicurio Registry (Confluent-compatible API), on loopback, with
# all state under one directory.
#
#   scripts/stack.sh start|stop|kill|status [all|kafka|kafka-N|registry]
#
# kafka is every node; kafka-N one node of a multi-node cluster (the fault
# tests stop or SIGKILL one broker with it). `start` starts only the nodes
# that are not running, then waits for each.
#
# Everything is parameterized by environment so several stacks coexist on one
# machine (`make run` on the default ports, the e2e suite and clean-clone
# checks on others):
#   STACK_DIR              state root (default var): kafka/, registry/, log/, pid/
#   KAFKA_BROKERS          Kafka nodes (1); 3 gives ports 9092, 9094, 9096
#                          (controllers 9093, 9095, 9097), see kafka-nodes.sh
#   KAFKA_PORT             client listener of the first node (9092)
#   KAFKA_CONTROLLER_PORT  KRaft controller listener of the first node (9093)
#   KAFKA_PORTS, KAFKA_CONTROLLER_PORTS  explicit per-node port lists instead
#   REGISTRY_PORT          registry HTTP port (8081)
#   KAFKA_HEAP_OPTS        per node (-Xms256m -Xmx768m; -Xms128m -Xmx512m when
#                          more than one node)    REGISTRY_HEAP_OPTS (-Xms128m -Xmx512m)
#   KAFKA_GC_OPTS          the broker's collector (-XX:+UseG1GC -XX:MaxGCPauseMillis=20)
#   STACK_TIMEOUT_S        readiness / shutdown bound in seconds (120)
#   REGISTRY_COMPATIBILITY global compatibility set on a new registry (BACKWARD,
#                          the Confluent default; Apicurio's own default is NONE)
#
# Only processes this stack started are touched: each has a pid file, and a pid
# is trusted only if its command line names this stack's own directory.
# Data survive stop/start (Kafka log dirs; the registry uses a file-backed H2
# database instead of the default in-memory one, so schema ids stay valid
# across a registry restart, as they do with a real Confluent registry).
# `start` waits until each Kafka node answers a metadata request itself and is
# listed as a broker of the cluster (so a multi-node cluster is whole before
# the services count its brokers), and the registry answers GET /subjects; on
# failure it names the log file and shows its tail.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
# shellcheck source=scripts/versions.sh
. scripts/versions.sh
# shellcheck source=scripts/kafka-nodes.sh
. scripts/kafka-nodes.sh

STACK_DIR=${STACK_DIR:-var}
mkdir -p "$STACK_DIR"
STACK_DIR=$(cd "$STACK_DIR" && pwd)
INFRA_DIR=$(mkdir -p "${INFRA_DIR:-var/infra}" && cd "${INFRA_DIR:-var/infra}" && pwd)
VENV=${VENV:-$ROOT/.venv}
REGISTRY_PORT=${REGISTRY_PORT:-8081}
# Three nodes, the registry and both services share 2 cores and a few GiB with
# other work: a dev node needs far less than the single node's 768 MiB.
if [ "$KAFKA_BROKERS" -gt 1 ]; then
    KAFKA_HEAP_OPTS=${KAFKA_HEAP_OPTS:--Xms128m -Xmx512m}
else
    KAFKA_HEAP_OPTS=${KAFKA_HEAP_OPTS:--Xms256m -Xmx768m}
fi
KAFKA_GC_OPTS=${KAFKA_GC_OPTS:--XX:+UseG1GC -XX:MaxGCPauseMillis=20}
REGISTRY_HEAP_OPTS=${REGISTRY_HEAP_OPTS:--Xms128m -Xmx512m}
STACK_TIMEOUT_S=${STACK_TIMEOUT_S:-120}
REGISTRY_COMPATIBILITY=${REGISTRY_COMPATIBILITY:-BACKWARD}

KAFKA_LIBS="$INFRA_DIR/kafka-$KAFKA_VERSION/libs"
REGISTRY_HOME="$INFRA_DIR/apicurio-registry-$APICURIO_VERSION"
LOG_DIR="$STACK_DIR/log"
PID_DIR="$STACK_DIR/pid"
REGISTRY_DIR="$STACK_DIR/registry"
REGISTRY_URL="http://127.0.0.1:$REGISTRY_PORT/apis/ccompat/v7"

say() { printf '[stack] %s\n' "$*"; }
die() {
    printf '[stack] ERROR: %s\n' "$*" >&2
    exit 1
}

# pid of a component if its pid file names a live process of this stack: its
# command line must contain the component's own config path (pid reuse safe)
live_pid() {
    local f="$PID_DIR/$1.pid" pid marker
    case "$1" in
    kafka | kafka-[0-9]) marker="$STACK_DIR/$1/server.properties" ;;
    *) marker="jdbc:h2:file:$REGISTRY_DIR/registry" ;;
    esac
    [ -f "$f" ] || return 1
    pid=$(cat "$f")
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    [ -r "/proc/$pid/cmdline" ] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$marker" || return 1
    echo "$pid"
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# show_logs FILE...: the tail of each (JVM start-up errors land in *.out,
# the application's own log in *.log)
show_logs() {
    local f
    for f in "$@"; do
        [ -n "$f" ] && [ -s "$f" ] || continue
        printf -- '---- last lines of %s ----\n' "$f" >&2
        tail -n 25 "$f" >&2 || true
    done
}

# wait_until NAME PID LOG OUT CHECK... (OUT may be ""): poll CHECK until it succeeds, the
# process dies, or the timeout passes; a dot per second of waiting.
wait_until() {
    local name=$1 pid=$2 logf=$3 outf=$4 start=$SECONDS last=$SECONDS read_these
    shift 4
    read_these=$logf
    [ -n "$outf" ] && read_these="$logf and $outf"
    printf '[stack] waiting for %s ' "$name"
    until "$@" >/dev/null 2>&1; do
        if ! kill -0 "$pid" 2>/dev/null; then
            printf ' died\n'
            show_logs "$outf" "$logf"
            die "$name exited during startup; read $read_these"
        fi
        if [ $((SECONDS - start)) -ge "$STACK_TIMEOUT_S" ]; then
            printf ' timeout\n'
            show_logs "$outf" "$logf"
            die "$name not ready after ${STACK_TIMEOUT_S}s; read $read_these"
        fi
        if [ $SECONDS -ne $last ]; then
            printf '.'
            last=$SECONDS
        fi
        sleep 0.3
    done
    printf ' ready (%ss)\n' $((SECONDS - start))
}

# kafka_ready NODE: the node answers a metadata request itself (not another
# broker of the cluster) and lists itself as a broker, i.e. it is registered
# with the controller quorum and unfenced
kafka_ready() {
    "$VENV/bin/python" "$ROOT/scripts/kafka_ready.py" "127.0.0.1:${KAFKA_NODE_PORT[$1]}" 2 \
        "${KAFKA_NODE_ID[$1]}"
}
registry_ready() { curl -fsS -o /dev/null --max-time 2 "$REGISTRY_URL/subjects"; }

write_kafka_config() {
    local node=$1 dir="$STACK_DIR/$1" rf=1 isr=1
    # replicated internal topics as soon as there are brokers to hold them
    [ "$KAFKA_BROKERS" -ge 2 ] && rf=$((KAFKA_BROKERS < 3 ? KAFKA_BROKERS : 3))
    [ "$KAFKA_BROKERS" -ge 3 ] && isr=2
    mkdir -p "$dir/data" "$LOG_DIR"
    cat >"$dir/server.properties" <<EOF
# generated by scripts/stack.sh: rewritten on every start
process.roles=broker,controller
node.id=${KAFKA_NODE_ID[$node]}
controller.quorum.voters=$KAFKA_QUORUM_VOTERS
listeners=PLAINTEXT://127.0.0.1:${KAFKA_NODE_PORT[$node]},CONTROLLER://127.0.0.1:${KAFKA_NODE_CONTROLLER_PORT[$node]}
advertised.listeners=PLAINTEXT://127.0.0.1:${KAFKA_NODE_PORT[$node]}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$dir/data
# topics exist only because the services create them
auto.create.topics.enable=false
num.partitions=1
default.replication.factor=$rf
min.insync.replicas=$isr
offsets.topic.replication.factor=$rf
# fewer internal partitions: a dev broker, quicker first group join
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=$rf
transaction.state.log.min.isr=$isr
share.coordinator.state.topic.replication.factor=$rf
share.coordinator.state.topic.min.isr=$isr
# a consumer group forms at once instead of after the default 3 s
group.initial.rebalance.delay.ms=0
log.retention.hours=168
log.segment.bytes=104857600
EOF
    if [ "$KAFKA_BROKERS" -gt 1 ]; then
        # several JVMs on two shared cores: fewer request threads each than
        # the defaults (3 network, 8 I/O), plenty for a dev cluster
        printf '%s\n' num.network.threads=2 num.io.threads=4 >>"$dir/server.properties"
        # A dead broker leaves the ISR only when the controller fences it, and
        # until then every acks=all write to a partition it follows waits. 4 s
        # instead of 9 keeps that stall well inside cart-service's default
        # 10 s delivery timeout, so a lost broker costs latency, not 503s
        # (and no in-flight message timeouts; see docs/RELIABILITY.md).
        printf '%s\n' broker.session.timeout.ms=4000 broker.heartbeat.interval.ms=1000 \
            >>"$dir/server.properties"
    fi
    cat >"$dir/log4j.properties" <<EOF
# generated by scripts/stack.sh: broker log to a rolling file, not the terminal
log4j.rootLogger=INFO, file
log4j.appender.file=org.apache.log4j.RollingFileAppender
log4j.appender.file.File=$LOG_DIR/$node.log
log4j.appender.file.MaxFileSize=20MB
log4j.appender.file.MaxBackupIndex=2
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.request.logger=WARN
log4j.logger.state.change.logger=WARN
log4j.logger.kafka.controller=INFO
log4j.logger.org.apache.kafka.controller=INFO
log4j.logger.kafka.log.LogCleaner=WARN
log4j.logger.org.apache.kafka.storage=WARN
log4j.logger.kafka.authorizer.logger=WARN
EOF
}

# A cluster id is 16 random bytes, URL-safe base64 without padding. Every
# node of a cluster must be formatted with the same one, so a multi-node
# stack keeps it in a file; a single node just makes one up.
kafka_cluster_id() {
    local f="$STACK_DIR/kafka-cluster.id" cid
    if [ "$KAFKA_BROKERS" -gt 1 ] && [ -s "$f" ]; then
        cat "$f"
        return
    fi
    cid=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')
    if [ "$KAFKA_BROKERS" -gt 1 ]; then echo "$cid" >"$f"; fi
    echo "$cid"
}

# launch_kafka NODE: format the node's storage if new and start its JVM
# without waiting; its pid in LAUNCHED_PID (not printed: a die in a command
# substitution would end only the subshell)
launch_kafka() {
    local node=$1 dir="$STACK_DIR/$1" port=${KAFKA_NODE_PORT[$1]} cport=${KAFKA_NODE_CONTROLLER_PORT[$1]} cid
    port_in_use "$port" && die "port $port is taken by another process (another stack? set KAFKA_PORT)"
    port_in_use "$cport" && die "port $cport is taken by another process (set KAFKA_CONTROLLER_PORT)"
    write_kafka_config "$node"
    if [ ! -f "$dir/data/meta.properties" ]; then
        # passed as --cluster-id=ID because an id may start with '-', which
        # the tool's argument parser would take for an option (1 in 64 starts)
        cid=$(kafka_cluster_id)
        java -cp "$KAFKA_LIBS/*" -Dlog4j.configuration="file:$dir/log4j.properties" \
            kafka.tools.StorageTool format --cluster-id="$cid" -c "$dir/server.properties" \
            >>"$LOG_DIR/$node.out" 2>&1 || die "formatting Kafka storage failed; read $LOG_DIR/$node.out"
    fi
    say "starting Kafka $KAFKA_VERSION node ${KAFKA_NODE_ID[$node]} on 127.0.0.1:$port (controller $cport), log $LOG_DIR/$node.log"
    mkdir -p "$PID_DIR"
    # setsid: the broker outlives the terminal/make that started it
    # shellcheck disable=SC2086
    setsid java $KAFKA_HEAP_OPTS $KAFKA_GC_OPTS -Djava.awt.headless=true \
        -Dlog4j.configuration="file:$dir/log4j.properties" -Dkafka.logs.dir="$LOG_DIR" \
        -cp "$KAFKA_LIBS/*" kafka.Kafka "$dir/server.properties" \
        >>"$LOG_DIR/$node.out" 2>&1 </dev/null &
    LAUNCHED_PID=$!
    echo "$LAUNCHED_PID" >"$PID_DIR/$node.pid"
}

# start_kafka NODE...: launch every node that is not running first (a
# multi-node quorum elects a controller only once a majority is up), then
# wait for each
start_kafka() {
    local node pid
    local -A pids=()
    for node in "$@"; do
        if pid=$(live_pid "$node"); then
            say "Kafka $node already running (pid $pid)"
        else
            [ -f "$KAFKA_LIBS/.complete" ] || die "Kafka jars missing in $KAFKA_LIBS: run scripts/fetch-infra.sh"
            launch_kafka "$node"
            pid=$LAUNCHED_PID
        fi
        pids[$node]=$pid
    done
    for node in "$@"; do
        wait_until "Kafka $node (127.0.0.1:${KAFKA_NODE_PORT[$node]})" "${pids[$node]}" \
            "$LOG_DIR/$node.log" "$LOG_DIR/$node.out" kafka_ready "$node"
    done
}

start_registry() {
    local pid
    if pid=$(live_pid registry); then
        say "registry already running (pid $pid)"
    else
        [ -f "$REGISTRY_HOME/.complete" ] || die "registry missing in $REGISTRY_HOME: run scripts/fetch-infra.sh"
        port_in_use "$REGISTRY_PORT" && die "port $REGISTRY_PORT is taken by another process (another stack? set REGISTRY_PORT)"
        mkdir -p "$REGISTRY_DIR" "$LOG_DIR" "$PID_DIR"
        local fresh=0
        [ -f "$REGISTRY_DIR/registry.mv.db" ] || fresh=1
        say "starting Apicurio Registry $APICURIO_VERSION on 127.0.0.1:$REGISTRY_PORT, log $LOG_DIR/registry.log"
        # Quarkus opens only quarkus.http.port here (no management interface in
        # this build); file-backed H2 keeps schemas across restarts; the
        # canonical hash makes a schema re-registered with other whitespace the
        # same schema (same id, no new version), as Confluent's registry does.
        # Ids are content ids (legacy-id-mode off): one id per distinct schema
        # across subjects, again as in Confluent's registry.
        # shellcheck disable=SC2086
        (cd "$REGISTRY_DIR" && exec setsid java $REGISTRY_HEAP_OPTS -Djava.awt.headless=true \
            -Dquarkus.http.host=127.0.0.1 -Dquarkus.http.port="$REGISTRY_PORT" \
            -Dapicurio.storage.kind=sql -Dapicurio.storage.sql.kind=h2 \
            -Dapicurio.datasource.url="jdbc:h2:file:$REGISTRY_DIR/registry" \
            -Dapicurio.datasource.jdbc.initial-size=2 -Dapicurio.datasource.jdbc.min-size=2 \
            -Dapicurio.storage.snapshot.location="$REGISTRY_DIR" \
            -Dapicurio.ccompat.use-canonical-hash=true \
            -jar "$REGISTRY_HOME/apicurio-registry-app-$APICURIO_VERSION-runner.jar" \
            >>"$LOG_DIR/registry.log" 2>&1 </dev/null) &
        pid=$!
        echo "$pid" >"$PID_DIR/registry.pid"
        wait_until "registry ($REGISTRY_URL)" "$pid" "$LOG_DIR/registry.log" "" registry_ready
        if [ "$fresh" = 1 ]; then
            curl -fsS -o /dev/null --max-time 5 -X PUT -H 'Content-Type: application/json' \
                --data "{\"compatibility\":\"$REGISTRY_COMPATIBILITY\"}" "$REGISTRY_URL/config" ||
                die "could not set the registry's global compatibility; read $LOG_DIR/registry.log"
        fi
        return 0
    fi
    wait_until "registry ($REGISTRY_URL)" "$pid" "$LOG_DIR/registry.log" "" registry_ready
}

# stop_many SIGNAL NAME...: signal every live one at once, then wait (bounded)
# until all are gone. At once, because the last nodes of a KRaft quorum
# stopped one by one would wait for a controller majority that has already
# left before they shut down.
stop_many() {
    local sig=$1 name pid start last
    shift
    local -A pids=()
    for name in "$@"; do
        if pid=$(live_pid "$name"); then
            kill "-$sig" "$pid" 2>/dev/null || true
            pids[$name]=$pid
            printf '[stack] stopping %s (pid %s)\n' "$name" "$pid"
        else
            say "$name not running"
            rm -f "$PID_DIR/$name.pid"
        fi
    done
    for name in "$@"; do
        [ -n "${pids[$name]:-}" ] || continue
        pid=${pids[$name]}
        start=$SECONDS
        last=$SECONDS
        printf '[stack] waiting for %s to exit ' "$name"
        while kill -0 "$pid" 2>/dev/null; do
            if [ $((SECONDS - start)) -ge "$STACK_TIMEOUT_S" ]; then
                printf ' no exit after %ss, SIGKILL' "$STACK_TIMEOUT_S"
                kill -KILL "$pid" 2>/dev/null || true
                sleep 1
                break
            fi
            if [ $SECONDS -ne $last ]; then
                printf '.'
                last=$SECONDS
            fi
            sleep 0.2
        done
        printf ' stopped\n'
        rm -f "$PID_DIR/$name.pid"
    done
}

# every Kafka node with a live pid file, whatever KAFKA_BROKERS says now (so
# `make stop` also stops a cluster started with another node count)
kafka_nodes_to_stop() {
    local f name
    local -A seen=()
    for name in "${KAFKA_NODES[@]}"; do
        seen[$name]=1
        echo "$name"
    done
    for f in "$PID_DIR"/kafka.pid "$PID_DIR"/kafka-[0-9].pid; do
        [ -f "$f" ] || continue
        name=$(basename "$f" .pid)
        [ -n "${seen[$name]:-}" ] && continue
        live_pid "$name" >/dev/null && echo "$name"
    done
    return 0
}

status_one() {
    local name=$1 pid ok ready=registry_ready
    [ "$name" = registry ] || ready="kafka_ready $name"
    if pid=$(live_pid "$name"); then
        if $ready; then ok=ready; else ok="not answering"; fi
        say "$name: running (pid $pid), $ok"
    else
        say "$name: stopped"
        return 1
    fi
}

usage="usage: $0 start|stop|kill|status [all|kafka|$(printf '%s|' "${KAFKA_NODES[@]}")registry]"
cmd=${1:-}
what=${2:-all}
case "$what" in
all) parts=(kafka registry) ;;
kafka | registry) parts=("$what") ;;
*)
    [ -n "${KAFKA_NODE_ID[$what]:-}" ] && [ "$what" != kafka ] ||
        die "unknown component '$what' ($(printf '%s|' all kafka "${KAFKA_NODES[@]}")registry; KAFKA_BROKERS=$KAFKA_BROKERS)"
    parts=("$what")
    ;;
esac

case "$cmd" in
start)
    for p in "${parts[@]}"; do
        case "$p" in
        registry) start_registry ;;
        kafka) start_kafka "${KAFKA_NODES[@]}" ;;
        *) start_kafka "$p" ;;
        esac
    done
    say "Kafka: $KAFKA_BOOTSTRAP  registry: $REGISTRY_URL  state: $STACK_DIR"
    ;;
stop | kill)
    sig=TERM
    [ "$cmd" = kill ] && sig=KILL
    # reverse start order
    for ((i = ${#parts[@]} - 1; i >= 0; i--)); do
        case "${parts[i]}" in
        kafka)
            mapfile -t nodes < <(kafka_nodes_to_stop)
            stop_many "$sig" "${nodes[@]}"
            ;;
        *) stop_many "$sig" "${parts[i]}" ;;
        esac
    done
    ;;
status)
    rc=0
    for p in "${parts[@]}"; do
        if [ "$p" = kafka ]; then
            for n in "${KAFKA_NODES[@]}"; do status_one "$n" || rc=1; done
        else
            status_one "$p" || rc=1
        fi
    done
    exit $rc
    ;;
*)
    echo "$usage" >&2
    exit 2
    ;;
esac

# order-service's PostgreSQL store (STORE=postgres, e.g. `STORE=postgres make run`):
# started after and stopped with the rest, by its own script, under the same STACK_DIR
if [ "${STORE:-}" = postgres ] && [ "$what" = all ]; then
    case "$cmd" in
    start) "$ROOT/scripts/postgres.sh" start ;;
    stop | kill) "$ROOT/scripts/postgres.sh" stop ;;
    esac
fi
