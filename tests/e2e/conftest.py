"""End-to-end fixtures: a real Kafka broker and a real schema registry started
fresh for each pytest run, and a launcher for the two C services.

Why this shape: every e2e test talks to the same binaries a user runs, through
the same scripts `make run` uses (scripts/stack.sh), so the suite also proves
the tooling. One stack per session keeps the suite fast (JVM start-up is the
expensive part); isolation between tests comes from unique topic and consumer
group names, not from fresh brokers.

Fixture API
-----------
The fixtures are defined here; the Service launcher is in e2e_services.py,
unique / wait_for / free_port in e2e_base.py (re-exported here).

stack (session-scoped): fresh Kafka (KRaft) + Apicurio registry, own ports,
state under var/test-<time>-<pid>/ (removed after a green run, kept otherwise
or with ORDERSTREAM_KEEP_TEST_STATE=1; the 5 newest kept ones survive).
    .bootstrap          "127.0.0.1:<port>"
    .registry_url       "http://127.0.0.1:<port>/apis/ccompat/v7"
    .dir                pathlib.Path of the state directory
    .stop_kafka() / .start_kafka() / .kill_kafka()           data kept
    .stop_registry() / .start_registry() / .kill_registry()  schemas kept
    .ensure_running()   start whatever is down (done after any test that used a
                        stop/kill helper)
    .admin()            confluent_kafka AdminClient
    .create_topic(name, partitions=1, config=None)
    .producer(**conf) / .consumer(group=None, **conf)  (earliest, no auto commit)
    .sr_client()        confluent_kafka SchemaRegistryClient
    .read_all(topic, timeout=10)  every message currently in a topic

services (function-scoped factory): starts cart-/order-service binaries from
ORDERSTREAM_BIN_DIR (default build-asan/ when built, else build/), with
ASAN/UBSAN options that turn any sanitizer report into a failure.
    services.topic / .dlq_topic / .group   unique per test; passed to both
                        services as ORDER_EVENTS_TOPIC / DLQ_TOPIC /
                        CONSUMER_GROUP_ID unless the test's env overrides them
    services.start("cart"|"order", env=None, port=None, wait=True) -> Service
    Service: .name .port .url .log (Path) .env (dict) .proc
        .wait_healthy(timeout=60)  poll GET /health, fail fast if it died
        .stop(timeout=30)   SIGTERM; asserts exit status 0 and a clean log
        .kill()             SIGKILL (crash simulation; the next stop()/teardown
                            does not judge its exit status)
        .restart(env=None)  stop() then start again, same port/env/store
        .alive()            process still running
        .get(path, **kw) / .post(path, json=...) / .put(path, json=...)
                            requests calls against .url (timeout 10 s)
        .log_text()         the service's log so far
    Services still running at the end of a test are stopped with stop(), so a
    leak, a sanitizer report or a non-zero exit fails the test that caused it.
    The order store defaults to a per-test file (STORE_PATH), kept across
    restart().

stack3 (module-scoped) / services3 (function-scoped): the same for a
three-broker KRaft cluster (scripts/stack.sh with KAFKA_BROKERS=3) on free
ports, state under var/test-3brokers-<time>-<pid>/; see Stack3 for the node
helpers (kill_node, start_node, leader, controller, wait_isr).

postgres (session-scoped): a PostgreSQL server started by scripts/postgres.sh
on a free port under the stack's directory, for order-service's STORE_URL.
    .url                the database URL (role and database orderstream)
    .store_url(name)    a URL whose tables live in a fresh schema `name`
    .value(sql)         the single value sql returns (psql)

unique(prefix) -> a name unique in this run (topics, order ids, groups).
wait_for(fn, timeout=30, interval=0.2) -> poll fn() until truthy; returns the
    last value (falsy on timeout), so `assert wait_for(...)` reads naturally.
    Import both with `from conftest import unique, wait_for`.

Environment knobs: ORDERSTREAM_TEST_KAFKA_PORT / _CONTROLLER_PORT /
_REGISTRY_PORT (default: 19092/19093/18081 when free, else any free port),
ORDERSTREAM_BIN_DIR, ORDERSTREAM_REQUIRE_BINARIES=1 (a missing binary fails
instead of skipping; `make test` sets it), ORDERSTREAM_KEEP_TEST_STATE=1.
"""

from __future__ import annotations

import gc
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from e2e_base import ROOT, _port_free, free_port, unique, wait_for  # noqa: F401 (re-exported)
from e2e_services import Services, _bin_dir  # noqa: F401 (re-exported)

STACK_SH = ROOT / "scripts" / "stack.sh"
POSTGRES_SH = ROOT / "scripts" / "postgres.sh"


def _pick_ports() -> tuple[int, int, int]:
    env = os.environ
    wanted = [env.get("ORDERSTREAM_TEST_KAFKA_PORT"), env.get("ORDERSTREAM_TEST_CONTROLLER_PORT"),
              env.get("ORDERSTREAM_TEST_REGISTRY_PORT")]
    if all(wanted):
        return tuple(int(p) for p in wanted)  # type: ignore[return-value]
    defaults = (19092, 19093, 18081)
    if all(_port_free(p) for p in defaults):
        return defaults
    # another run (a colleague's, a clean-clone check) holds them
    return _random_ports()


def _random_ports() -> tuple[int, int, int]:
    ports: set[int] = set()
    while len(ports) < 3:
        ports.add(free_port())
    return tuple(sorted(ports))  # type: ignore[return-value]


class Stack:
    """A Kafka + registry pair driven through scripts/stack.sh."""

    def __init__(self, state_dir: Path, kafka_port: int, controller_port: int,
                 registry_port: int):
        self.dir = state_dir
        self.kafka_port = kafka_port
        self.controller_port = controller_port
        self.registry_port = registry_port
        self.bootstrap = f"127.0.0.1:{kafka_port}"
        self.registry_url = f"http://127.0.0.1:{registry_port}/apis/ccompat/v7"
        self.disturbed = False  # a stop/kill helper ran since the last check

    # -- lifecycle -------------------------------------------------------
    def _env(self) -> dict:
        env = dict(os.environ)
        env.update(STACK_DIR=str(self.dir), KAFKA_PORT=str(self.kafka_port),
                   KAFKA_CONTROLLER_PORT=str(self.controller_port),
                   REGISTRY_PORT=str(self.registry_port),
                   INFRA_DIR=str(ROOT / "var" / "infra"), VENV=str(ROOT / ".venv"))
        return env

    def _run(self, *args: str) -> str:
        res = subprocess.run([str(STACK_SH), *args], env=self._env(), cwd=ROOT,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             timeout=300, check=False)
        if res.returncode != 0:
            raise RuntimeError(f"stack.sh {' '.join(args)} failed:\n{res.stdout}")
        return res.stdout

    def start(self) -> None:
        self._run("start")

    def stop(self) -> None:
        self._run("stop")

    def start_kafka(self) -> None:
        self._run("start", "kafka")

    def stop_kafka(self) -> None:
        self.disturbed = True
        self._run("stop", "kafka")

    def kill_kafka(self) -> None:
        self.disturbed = True
        self._run("kill", "kafka")

    def start_registry(self) -> None:
        self._run("start", "registry")

    def stop_registry(self) -> None:
        self.disturbed = True
        self._run("stop", "registry")

    def kill_registry(self) -> None:
        self.disturbed = True
        self._run("kill", "registry")

    def running(self, part: str) -> bool:
        res = subprocess.run([str(STACK_SH), "status", part], env=self._env(), cwd=ROOT,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             timeout=60, check=False)
        return res.returncode == 0

    def ensure_running(self) -> None:
        for part in ("kafka", "registry"):
            if not self.running(part):
                self._run("start", part)
        self.disturbed = False

    # -- clients ---------------------------------------------------------
    def admin(self):
        from confluent_kafka.admin import AdminClient
        return AdminClient({"bootstrap.servers": self.bootstrap})

    def create_topic(self, name: str, partitions: int = 1, config: dict | None = None) -> None:
        from confluent_kafka.admin import NewTopic
        admin = self.admin()  # must outlive the future, or the request is dropped
        fut = admin.create_topics(
            [NewTopic(name, num_partitions=partitions, replication_factor=1,
                      config=config or {})], operation_timeout=30)
        fut[name].result(timeout=30)

    def producer(self, **conf):
        from confluent_kafka import Producer
        return Producer({"bootstrap.servers": self.bootstrap, **conf})

    def consumer(self, group: str | None = None, **conf):
        from confluent_kafka import Consumer
        base = {"bootstrap.servers": self.bootstrap, "group.id": group or unique("e2e"),
                "auto.offset.reset": "earliest", "enable.auto.commit": False}
        base.update(conf)
        return Consumer(base)

    def sr_client(self):
        from confluent_kafka.schema_registry import SchemaRegistryClient
        return SchemaRegistryClient({"url": self.registry_url})

    def read_all(self, topic: str, timeout: float = 10.0) -> list:
        """Every message now in `topic` (all partitions), from a throwaway group."""
        from confluent_kafka import TopicPartition
        md = self.admin().list_topics(topic, timeout=10).topics[topic]
        if md.error is not None:
            raise RuntimeError(f"topic {topic}: {md.error}")
        c = self.consumer()
        try:
            ends = {}
            for p in md.partitions:
                _, hi = c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
                ends[p] = hi
            c.assign([TopicPartition(topic, p, 0) for p in md.partitions])
            out, deadline = [], time.monotonic() + timeout
            pos = {p: 0 for p in md.partitions}
            while any(pos[p] < ends[p] for p in ends) and time.monotonic() < deadline:
                m = c.poll(0.5)
                if m is None or m.error():
                    continue
                out.append(m)
                pos[m.partition()] = m.offset() + 1
            return out
        finally:
            c.close()


def _prune_old_states(keep: int = 5) -> None:
    """Failed runs keep their state for reading; only the newest few are kept,
    and never one whose broker or registry is still running."""
    def live(d: Path) -> bool:
        for pidfile in (d / "pid").glob("*.pid"):
            try:
                os.kill(int(pidfile.read_text().strip()), 0)
                return True
            except (ValueError, OSError):
                pass
        return False
    old = sorted((ROOT / "var").glob("test-*"), key=lambda d: d.stat().st_mtime)[:-keep]
    for d in old:
        if d.is_dir() and not live(d):
            shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="session")
def stack(request):
    _prune_old_states()
    base = ROOT / "var" / f"test-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
    ports = _pick_ports()
    s = Stack(base, *ports)
    try:
        s.start()
    except RuntimeError as first:
        s.stop()
        if ports != (19092, 19093, 18081):
            raise
        # another run may have taken the default ports between our check and
        # the bind: once more on kernel-chosen ones
        print(f"[e2e] stack on default ports failed ({first}); retrying on free ports")
        s = Stack(base.with_name(base.name + "-b"), *_random_ports())
        try:
            s.start()
        except Exception:
            s.stop()
            raise
    state = s.dir
    yield s
    # Kafka clients a test left for the garbage collector would otherwise be
    # destroyed at interpreter exit, after the broker is gone, and librdkafka
    # would log connection failures below pytest's summary.
    gc.collect()
    s.stop()
    keep = os.environ.get("ORDERSTREAM_KEEP_TEST_STATE") == "1"
    if not keep and request.session.testsfailed == 0:
        shutil.rmtree(state, ignore_errors=True)
    else:
        print(f"\n[e2e] test stack state and logs kept in {state}")


@pytest.fixture(autouse=True)
def _restore_stack(request):
    """A fault test that stopped the broker or registry must not break the next.
    Also collects the test's leftover Kafka clients (reference cycles) now,
    while their broker is up, instead of at interpreter exit."""
    yield
    gc.collect()
    if "stack" in request.fixturenames:
        s = request.getfixturevalue("stack")
        if s.disturbed:
            s.ensure_running()



@pytest.fixture
def services(stack, request):
    f = Services(stack, request.node.name)
    yield f
    f.stop_all()


# ---- a three-broker cluster (tests/e2e/test_three_brokers.py) ----------------

class Stack3(Stack):
    """A three-node KRaft cluster (each node broker + controller, a three-voter
    quorum) plus a registry, through scripts/stack.sh with KAFKA_BROKERS=3, on
    six free client/controller ports and its own STACK_DIR.

        .nodes              ["kafka-1", "kafka-2", "kafka-3"] (node i has broker id i)
        .bootstrap          all three client addresses
        .kill_node(n) / .stop_node(n) / .start_node(n)   one node, data kept
        .leader(topic, partition) -> node name    (metadata)
        .controller() -> node name                (DescribeCluster)
        .wait_isr(topic, size, timeout)           every partition's ISR this big
    """

    def __init__(self, state_dir: Path, kafka_ports: list[int], controller_ports: list[int],
                 registry_port: int):
        super().__init__(state_dir, kafka_ports[0], controller_ports[0], registry_port)
        self.kafka_ports = kafka_ports
        self.controller_ports = controller_ports
        self.nodes = [f"kafka-{i}" for i in range(1, len(kafka_ports) + 1)]
        self.bootstrap = ",".join(f"127.0.0.1:{p}" for p in kafka_ports)

    def _env(self) -> dict:
        env = super()._env()
        env.update(KAFKA_BROKERS=str(len(self.kafka_ports)),
                   KAFKA_PORTS=" ".join(map(str, self.kafka_ports)),
                   KAFKA_CONTROLLER_PORTS=" ".join(map(str, self.controller_ports)))
        return env

    def kill_node(self, node: str) -> None:
        self.disturbed = True
        self._run("kill", node)

    def stop_node(self, node: str) -> None:
        self.disturbed = True
        self._run("stop", node)

    def start_node(self, node: str) -> None:
        self._run("start", node)

    def leader(self, topic: str, partition: int) -> str:
        md = self.admin().list_topics(topic, timeout=10).topics[topic]
        return f"kafka-{md.partitions[partition].leader}"

    def controller(self) -> str:
        admin = self.admin()  # must outlive the future, or the request is dropped
        return f"kafka-{admin.describe_cluster(request_timeout=10).result(timeout=15).controller.id}"

    def isr_sizes(self, topic: str) -> dict[int, int]:
        md = self.admin().list_topics(topic, timeout=10).topics[topic]
        return {p: len(m.isrs) for p, m in md.partitions.items()}

    def wait_isr(self, topic: str, size: int, timeout: float = 60.0) -> bool:
        def full():
            try:
                return all(n >= size for n in self.isr_sizes(topic).values())
            except Exception:  # a metadata request during an election: ask again
                return False
        return bool(wait_for(full, timeout, 0.5))


@pytest.fixture(scope="module")
def stack3(request):
    """A three-broker stack for one test module (started and stopped with it)."""
    base = ROOT / "var" / f"test-3brokers-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
    ports: set[int] = set()
    while len(ports) < 7:
        ports.add(free_port())
    p = sorted(ports)
    s = Stack3(base, p[0:3], p[3:6], p[6])
    failed_before = request.session.testsfailed
    try:
        s.start()
    except Exception:
        s.stop()
        raise
    yield s
    gc.collect()
    s.stop()
    keep = os.environ.get("ORDERSTREAM_KEEP_TEST_STATE") == "1"
    if not keep and request.session.testsfailed == failed_before:
        shutil.rmtree(base, ignore_errors=True)
    else:
        print(f"\n[e2e] three-broker stack state and logs kept in {base}")


@pytest.fixture
def services3(stack3, request):
    """The `services` factory, pointed at stack3; a node a test stopped or
    killed is started again afterwards."""
    f = Services(stack3, request.node.name)
    yield f
    try:
        f.stop_all()
    finally:
        gc.collect()
        if stack3.disturbed:
            stack3.ensure_running()
class Postgres:
    """A PostgreSQL server driven through scripts/postgres.sh (see the module docstring)."""

    def __init__(self, state_dir: Path, port: int):
        self.env = dict(os.environ, STACK_DIR=str(state_dir), PG_PORT=str(port))
        self.port = port
        self.url = ""

    def _run(self, *args: str) -> str:
        res = subprocess.run([str(POSTGRES_SH), *args], env=self.env, cwd=ROOT,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             timeout=300, check=False)
        if res.returncode != 0:
            raise RuntimeError(f"postgres.sh {' '.join(args)} failed:\n{res.stdout}")
        return res.stdout

    def start(self) -> None:
        self._run("start")
        self.url = self._run("url").strip()

    def stop(self) -> None:
        self._run("stop")

    def psql(self, sql: str) -> str:
        pg_bin = os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin")
        res = subprocess.run([f"{pg_bin}/psql", "-X", "-q", "-tA", "-v", "ON_ERROR_STOP=1",
                              "-d", self.url, "-c", sql], capture_output=True, text=True,
                             timeout=60, check=False)
        assert res.returncode == 0, f"psql {sql!r}: {res.stderr}"
        return res.stdout.strip()

    def value(self, sql: str) -> str:
        return self.psql(sql)

    def store_url(self, name: str) -> str:
        self.psql(f'CREATE SCHEMA "{name}"')
        return f"{self.url}?options=-csearch_path%3D{name}"


@pytest.fixture(scope="session")
def postgres(stack):
    pg = Postgres(stack.dir, free_port())
    try:
        pg.start()
    except Exception:
        pg.stop()
        raise
    yield pg
    pg.stop()
