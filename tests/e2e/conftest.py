"""End-to-end fixtures: a real Kafka broker and a real schema registry started
fresh for each pytest run, and a launcher for the two C services.

Why this shape: every e2e test talks to the same binaries a user runs, through
the same scripts `make run` uses (scripts/stack.sh), so the suite also proves
the tooling. One stack per session keeps the suite fast (JVM start-up is the
expensive part); isolation between tests comes from unique topic and consumer
group names, not from fresh brokers.

Fixture API
-----------
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
import itertools
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
STACK_SH = ROOT / "scripts" / "stack.sh"
POSTGRES_SH = ROOT / "scripts" / "postgres.sh"
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                     "SUMMARY: UndefinedBehaviorSanitizer")
_counter = itertools.count(1)


def unique(prefix: str) -> str:
    """A name unique within this test run and across runs (short uuid)."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def wait_for(fn, timeout: float = 30.0, interval: float = 0.2):
    """Poll fn() until it returns a truthy value; the last value otherwise."""
    deadline = time.monotonic() + timeout
    value = fn()
    while not value and time.monotonic() < deadline:
        time.sleep(interval)
        value = fn()
    return value


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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


def _bin_dir() -> Path:
    env = os.environ.get("ORDERSTREAM_BIN_DIR")
    if env:
        p = Path(env)
        return p if p.is_absolute() else ROOT / p
    asan = ROOT / "build-asan"
    if (asan / "cart-service").exists() or (asan / "order-service").exists():
        return asan
    return ROOT / "build"


def sanitizer_env() -> dict:
    # exitcode values are unusual on purpose: a sanitizer exit is recognisable.
    return {
        "ASAN_OPTIONS": "halt_on_error=1:abort_on_error=0:exitcode=86:detect_leaks=1:"
                        "detect_stack_use_after_return=1:check_initialization_order=1:"
                        "strict_string_checks=1",
        "UBSAN_OPTIONS": "halt_on_error=1:print_stacktrace=1:exitcode=87",
        "LSAN_OPTIONS": f"suppressions={ROOT / 'tests' / 'e2e' / 'lsan.supp'}:print_suppressions=0",
    }


class Service:
    """One running cart-service or order-service process."""

    def __init__(self, name: str, binary: Path, env: dict, port: int, log: Path):
        self.name = name
        self.binary = binary
        self.env = env
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log = log
        self.proc: subprocess.Popen | None = None
        self._killed = False

    def _spawn(self) -> None:
        self._killed = False
        with open(self.log, "ab") as logf:
            logf.write(f"---- start {time.strftime('%H:%M:%S')} ----\n".encode())
            logf.flush()
            self.proc = subprocess.Popen([str(self.binary)], env=self.env, stdout=logf,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         cwd=ROOT)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_text(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def _tail(self, n: int = 40) -> str:
        return "\n".join(self.log_text().splitlines()[-n:])

    def wait_healthy(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                pytest.fail(f"{self.name}-service exited with {self.proc.returncode} "
                            f"before /health; log {self.log}:\n{self._tail()}")
            try:
                if requests.get(self.url + "/health", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        pytest.fail(f"{self.name}-service not healthy after {timeout}s; log {self.log}:\n"
                    f"{self._tail()}")

    def check_log_clean(self) -> None:
        text = self.log_text()
        for marker in SANITIZER_MARKERS:
            if marker in text:
                pytest.fail(f"{self.name}-service: sanitizer report in {self.log}:\n"
                            f"{self._tail(80)}")

    def stop(self, timeout: float = 30.0) -> int:
        """Graceful stop; the service must exit 0 with no sanitizer report."""
        if self.proc is None:
            return 0
        if self._killed:  # a deliberate SIGKILL: no exit status to judge
            self._killed = False
            self.check_log_clean()
            return self.proc.returncode
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                pytest.fail(f"{self.name}-service ignored SIGTERM for {timeout}s; log "
                            f"{self.log}:\n{self._tail()}")
        rc = self.proc.returncode
        self.check_log_clean()
        if rc != 0:
            pytest.fail(f"{self.name}-service exited with {rc} (expected 0); log {self.log}:\n"
                        f"{self._tail()}")
        return rc

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
            self._killed = True

    def restart(self, env: dict | None = None, wait: bool = True) -> None:
        self.stop()
        if env:
            self.env.update({k: str(v) for k, v in env.items()})
        self._spawn()
        if wait:
            self.wait_healthy()

    def get(self, path: str, **kw):
        kw.setdefault("timeout", 10)
        return requests.get(self.url + path, **kw)

    def post(self, path: str, **kw):
        kw.setdefault("timeout", 10)
        return requests.post(self.url + path, **kw)

    def put(self, path: str, **kw):
        kw.setdefault("timeout", 10)
        return requests.put(self.url + path, **kw)


class Services:
    """Factory for the `services` fixture (see the module docstring)."""

    def __init__(self, stack: Stack, test_name: str):
        self.stack = stack
        self.topic = unique("order-events")
        self.dlq_topic = self.topic + "-dlq"
        self.group = unique("order-service")
        self._dir = stack.dir / "services"
        self._dir.mkdir(parents=True, exist_ok=True)
        self._test = re.sub(r"[^A-Za-z0-9_.-]+", "_", test_name)[:80]
        self.started: list[Service] = []

    def start(self, name: str, env: dict | None = None, port: int | None = None,
              wait: bool = True) -> Service:
        if name not in ("cart", "order"):
            raise ValueError(f"unknown service {name!r}")
        binary = _bin_dir() / f"{name}-service"
        if not binary.exists():
            msg = f"{binary} is not built"
            if os.environ.get("ORDERSTREAM_REQUIRE_BINARIES") == "1":
                pytest.fail(msg)
            pytest.skip(msg)
        port = port or free_port()
        n = next(_counter)
        full_env = dict(os.environ)
        full_env.update(sanitizer_env())
        full_env.update({
            "KAFKA_BOOTSTRAP_SERVERS": self.stack.bootstrap,
            "SCHEMA_REGISTRY_URL": self.stack.registry_url,
            "HTTP_HOST": "127.0.0.1",
            "HTTP_PORT": str(port),
            "ORDER_EVENTS_TOPIC": self.topic,
            "DLQ_TOPIC": self.dlq_topic,
            "CONSUMER_GROUP_ID": self.group,
            "STORE_PATH": str(self._dir / f"{self._test}-{n}-order.db"),
            "LOG_LEVEL": "info",
        })
        full_env.update({k: str(v) for k, v in (env or {}).items()})
        svc = Service(name, binary, full_env, port, self._dir / f"{self._test}-{n}-{name}.log")
        svc._spawn()
        self.started.append(svc)
        if wait:
            svc.wait_healthy()
        return svc

    def stop_all(self) -> None:
        errors = []
        for svc in reversed(self.started):
            try:
                svc.stop()
            except pytest.fail.Exception as e:  # report all, then fail once
                errors.append(str(e))
        if errors:
            pytest.fail("\n\n".join(errors))


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
