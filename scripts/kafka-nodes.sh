# kafka-nodes.sh: the layout of the local Kafka cluster (sourced by stack.sh
# and services.sh, so the nodes the stack starts and the bootstrap list the
# services get cannot disagree).
#
#   KAFKA_BROKERS           number of KRaft nodes, each broker + controller (1)
#   KAFKA_PORT              client port of the first node (9092)
#   KAFKA_CONTROLLER_PORT   controller port of the first node (9093)
#   KAFKA_PORTS             client ports, one per node (space or comma separated);
#                           default KAFKA_PORT, KAFKA_PORT+2, KAFKA_PORT+4, ...
#   KAFKA_CONTROLLER_PORTS  controller ports likewise; default
#                           KAFKA_CONTROLLER_PORT, +2, +4, ... (9093, 9095, 9097)
#
# One node keeps the names it always had (component kafka, var/kafka/,
# log/kafka.log, pid/kafka.pid); with more, node i is kafka-i everywhere
# (var/kafka-2/, log/kafka-2.log, pid/kafka-2.pid), node.id i.
# Sets: KAFKA_NODES (names), KAFKA_NODE_ID, KAFKA_NODE_PORT,
# KAFKA_NODE_CONTROLLER_PORT (associative, by name), KAFKA_QUORUM_VOTERS,
# KAFKA_BOOTSTRAP (host:port,...).

KAFKA_BROKERS=${KAFKA_BROKERS:-1}
KAFKA_PORT=${KAFKA_PORT:-9092}
KAFKA_CONTROLLER_PORT=${KAFKA_CONTROLLER_PORT:-9093}
[[ "$KAFKA_BROKERS" =~ ^[1-9]$ ]] || {
    printf 'KAFKA_BROKERS must be 1..9, not "%s"\n' "$KAFKA_BROKERS" >&2
    exit 2
}

# kafka_port_list GIVEN FIRST: GIVEN split on commas/blanks, or FIRST, FIRST+2, ...
kafka_port_list() {
    local given=$1 first=$2 i
    local -a out=()
    if [ -n "$given" ]; then
        read -r -a out <<<"${given//,/ }"
    else
        for ((i = 0; i < KAFKA_BROKERS; i++)); do out+=($((first + 2 * i))); done
    fi
    [ "${#out[@]}" -eq "$KAFKA_BROKERS" ] || {
        printf '%s ports given for %s Kafka nodes: "%s"\n' "${#out[@]}" "$KAFKA_BROKERS" "$given" >&2
        exit 2
    }
    echo "${out[*]}"
}

read -r -a _kafka_ports <<<"$(kafka_port_list "${KAFKA_PORTS:-}" "$KAFKA_PORT")"
read -r -a _kafka_ctrl_ports <<<"$(kafka_port_list "${KAFKA_CONTROLLER_PORTS:-}" "$KAFKA_CONTROLLER_PORT")"
KAFKA_NODES=()
declare -A KAFKA_NODE_ID=() KAFKA_NODE_PORT=() KAFKA_NODE_CONTROLLER_PORT=()
KAFKA_QUORUM_VOTERS=
KAFKA_BOOTSTRAP=
for ((_i = 1; _i <= KAFKA_BROKERS; _i++)); do
    _name=kafka
    [ "$KAFKA_BROKERS" -gt 1 ] && _name=kafka-$_i
    KAFKA_NODES+=("$_name")
    KAFKA_NODE_ID[$_name]=$_i
    KAFKA_NODE_PORT[$_name]=${_kafka_ports[_i - 1]}
    KAFKA_NODE_CONTROLLER_PORT[$_name]=${_kafka_ctrl_ports[_i - 1]}
    KAFKA_QUORUM_VOTERS+="${KAFKA_QUORUM_VOTERS:+,}$_i@127.0.0.1:${_kafka_ctrl_ports[_i - 1]}"
    KAFKA_BOOTSTRAP+="${KAFKA_BOOTSTRAP:+,}127.0.0.1:${_kafka_ports[_i - 1]}"
done
unset _i _name _kafka_ports _kafka_ctrl_ports
