"""kafka_ready: exit 0 when the broker at argv[1] answers a metadata request.

Used by scripts/stack.sh while waiting for Kafka: an open TCP port is not
enough (the broker accepts connections before its KRaft controller has
elected itself), so we ask for metadata like a client would.
"""

import sys

from confluent_kafka.admin import AdminClient


def main() -> int:
    bootstrap = sys.argv[1]
    timeout = float(sys.argv[2]) if len(sys.argv) > 2 else 2.0
    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 0})
    try:
        md = admin.list_topics(timeout=timeout)
    except Exception:  # KafkaException on timeout: not ready yet
        return 1
    return 0 if md.brokers else 1


if __name__ == "__main__":
    sys.exit(main())
