#!/usr/bin/env bash
# with-stack.sh: run one command against a fresh, private Kafka + registry.
#
#   scripts/with-stack.sh ctest --test-dir build-asan --output-on-failure
#
# C unit tests that need the real broker or registry (the registry client, the
# Kafka helpers) read KAFKA_BOOTSTRAP_SERVERS / SCHEMA_REGISTRY_URL; this gives
# them a stack of their own on free ports, so `make test` never depends on (or
# disturbs) a `make run` stack or a colleague's. The same goes for PostgreSQL
# (scripts/postgres.sh): the store contract tests run against it through
# ORDERSTREAM_TEST_PG_URL. The stack is stopped however the command ends; its
# directory is removed when the command succeeded.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=${VENV:-$ROOT/.venv}
[ $# -gt 0 ] || {
    echo "usage: $0 command [args...]" >&2
    exit 2
}

read -r KAFKA_PORT KAFKA_CONTROLLER_PORT REGISTRY_PORT < <("$VENV/bin/python" - <<'PY'
import socket
socks = []
for _ in range(3):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(*(s.getsockname()[1] for s in socks))
PY
)
STACK_DIR="$ROOT/var/with-stack-$$"
export KAFKA_PORT KAFKA_CONTROLLER_PORT REGISTRY_PORT STACK_DIR
PG_PORT=$("$VENV/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export PG_PORT

cleanup() {
    "$ROOT/scripts/stack.sh" stop >/dev/null || echo "[with-stack] stopping the stack in $STACK_DIR failed" >&2
    "$ROOT/scripts/postgres.sh" stop >/dev/null || echo "[with-stack] stopping PostgreSQL in $STACK_DIR failed" >&2
}
trap cleanup EXIT
"$ROOT/scripts/stack.sh" start
"$ROOT/scripts/postgres.sh" start
ORDERSTREAM_TEST_PG_URL=$("$ROOT/scripts/postgres.sh" url)
export ORDERSTREAM_TEST_PG_URL

rc=0
KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:$KAFKA_PORT" \
    SCHEMA_REGISTRY_URL="http://127.0.0.1:$REGISTRY_PORT/apis/ccompat/v7" "$@" || rc=$?
if [ $rc -eq 0 ]; then
    cleanup
    trap - EXIT
    rm -rf "$STACK_DIR"
else
    echo "[with-stack] command failed ($rc); stack logs kept in $STACK_DIR/log" >&2
fi
exit $rc
