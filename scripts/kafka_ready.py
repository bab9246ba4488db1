"""kafka_ready: exit 0 when the broker at argv[1] answers a metadata request.

Used by scripts/stack.sh while waiting for Kafka: an open TCP port is not
enough (the broker accepts connections before its KRaft controller has
elected itself), so we ask for metadata like a client would.

    kafka_ready.py HOST:PORT [TIMEOUT_S [NODE_ID]]

With NODE_ID, the answer must come from that node itself and list it among
the cluster's brokers: a node of a multi-node cluster is ready once it has
registered with the controller quorum and been unfenced. (Another node's
answer would not do: right after a SIGKILL the controller still lists the
dead node until its session times out.)
"""

import sys

from confluent_kafka.admin import AdminClient


def main() -> int:
    bootstrap = sys.argv[1]
    timeout = float(sys.argv[2]) if len(sys.argv) > 2 else 2.0
    node_id = int(sys.argv[3]) if len(sys.argv) > 3 else None
    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 0})
    try:
        md = admin.list_topics(timeout=timeout)
    except Exception:  # KafkaException on timeout: not ready yet
        return 1
    if node_id is None:
        return 0 if md.brokers else 1
    return 0 if md.orig_broker_id == node_id and node_id in md.brokers else 1


if __name__ == "__main__":
    sys.exit(main())
