"""The docker-compose deployment, checked without a Docker engine: Debian's
docker-compose (v1) validates and normalises the file with `config`, and the
assertions below pin what the deployment promises (ports of the seed, health
checks, start order, the same configuration names as the local stack)."""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]

# The configuration names agreed for both services (README, "Configuration").
SHARED = {"KAFKA_BOOTSTRAP_SERVERS", "SCHEMA_REGISTRY_URL", "ORDER_EVENTS_TOPIC", "DLQ_TOPIC",
          "TOPIC_PARTITIONS", "TOPIC_REPLICATION_FACTOR", "TOPIC_MIN_INSYNC_REPLICAS",
          "TOPIC_RETENTION_MS",
          "DLQ_PARTITIONS", "DLQ_RETENTION_MS", "HTTP_HOST", "HTTP_PORT",
          "HTTP_MAX_BODY_BYTES", "HTTP_IDLE_TIMEOUT_S", "LOG_LEVEL"}
KNOWN = {
    "cart-service": SHARED | {"DELIVERY_TIMEOUT_MS", "PRODUCER_LINGER_MS"},
    "order-service": SHARED | {"STORE_PATH", "CONSUMER_GROUP_ID", "RETRY_BACKOFF_MS",
                               "PROCESSING_MAX_RETRIES", "HTTP_THREADS", "DLQ_REPLAY_TOKEN"},
}


@pytest.fixture(scope="module")
def compose():
    exe = shutil.which("docker-compose")
    assert exe, "docker-compose (v1) not installed: run scripts/deps.sh"
    res = subprocess.run([exe, "-f", "docker-compose.yml", "config"], cwd=ROOT,
                         capture_output=True, text=True, timeout=120, check=False)
    assert res.returncode == 0, f"docker-compose config rejected the file:\n{res.stderr}"
    return yaml.safe_load(res.stdout)


def published(svc):
    return {int(p["published"]) for p in svc.get("ports", [])}


def test_services_and_seed_ports(compose):
    s = compose["services"]
    core = {n for n, svc in s.items() if not svc.get("profiles")}
    assert core == {"kafka", "schema-registry", "cart-service", "order-service"}
    assert published(s["cart-service"]) == {8000}
    assert published(s["order-service"]) == {8001}
    assert published(s["kafka"]) == {9092}
    assert published(s["schema-registry"]) == {8081}


def test_images_are_the_real_broker_and_confluent_registry(compose):
    s = compose["services"]
    assert s["kafka"]["image"].startswith("apache/kafka:3.")
    assert s["schema-registry"]["image"].startswith("confluentinc/cp-schema-registry:")
    for name in ("cart-service", "order-service"):
        assert s[name]["build"]["target"] == name
        assert Path(s[name]["build"]["context"]).resolve() == ROOT


def test_every_service_has_a_healthcheck_and_waits_for_its_dependencies(compose):
    s = compose["services"]
    for name, svc in s.items():
        hc = svc.get("healthcheck")
        assert hc and hc.get("test"), f"{name} has no healthcheck"
    for name in ("cart-service", "order-service"):
        deps = s[name]["depends_on"]
        assert deps["kafka"]["condition"] == "service_healthy"
        assert deps["schema-registry"]["condition"] == "service_healthy"
    assert s["schema-registry"]["depends_on"]["kafka"]["condition"] == "service_healthy"
    # the service health checks hit the real readiness endpoint on their own port
    assert "8000/health/ready" in " ".join(s["cart-service"]["healthcheck"]["test"])
    assert "8001/health/ready" in " ".join(s["order-service"]["healthcheck"]["test"])
    for name, svc in s.items():
        if name.startswith(("cart-service", "order-service")):
            assert "/health/ready" in " ".join(svc["healthcheck"]["test"]), name


def test_images_check_liveness():
    """The images' own HEALTHCHECK is liveness (the probe to restart on)."""
    checks = re.findall(r"HEALTHCHECK .*\n\s*CMD (.*)", (ROOT / "Dockerfile").read_text())
    assert len(checks) == 2 and all("/health/live" in c for c in checks), checks


def test_kafka_is_kraft_without_topic_auto_creation(compose):
    env = compose["services"]["kafka"]["environment"]
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    assert "EXTERNAL://localhost:9092" in env["KAFKA_ADVERTISED_LISTENERS"]
    # the internal listener the services use is the advertised one
    assert "INTERNAL://kafka:29092" in env["KAFKA_ADVERTISED_LISTENERS"]
    # a KRaft cluster id is 16 bytes, URL-safe base64 without padding
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", env["CLUSTER_ID"])


def test_services_use_the_local_stack_configuration_names(compose):
    s = compose["services"]
    for name, known in KNOWN.items():
        env = s[name]["environment"]
        unknown = set(env) - known
        assert not unknown, f"{name}: names not in the shared configuration: {unknown}"
        assert env["SCHEMA_REGISTRY_URL"] == "http://schema-registry:8081"
        assert env["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:29092"
        assert env["HTTP_HOST"] == "0.0.0.0"
        assert int(env["HTTP_PORT"]) in published(s[name])
        assert env["ORDER_EVENTS_TOPIC"] == "order-events"
    # the order store is on a named volume, so it survives container re-creation
    store = s["order-service"]["environment"]["STORE_PATH"]
    mounts = [v.split(":") for v in s["order-service"]["volumes"]]
    assert any(store.startswith(target.rstrip("/") + "/") and src in compose["volumes"]
               for src, target, *_ in mounts)


def test_kafka3_profile_is_three_kraft_brokers_with_replicated_topics(compose):
    """Profile kafka3: three combined KRaft nodes in one three-voter quorum,
    both services on all three brokers with RF 3 / min.insync.replicas 2."""
    s = compose["services"]
    brokers = [f"kafka-{i}" for i in (1, 2, 3)]
    profiled = {n for n, svc in s.items() if "kafka3" in svc.get("profiles", [])}
    assert profiled == set(brokers) | {"schema-registry-kafka3", "cart-service-kafka3",
                                       "order-service-kafka3"}
    voters = "1@kafka-1:9093,2@kafka-2:9093,3@kafka-3:9093"
    ids, cluster_ids = set(), set()
    for i, name in enumerate(brokers, 1):
        b = s[name]
        env = b["environment"]
        assert b["image"].startswith("apache/kafka:3.")
        assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
        assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == voters
        assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
        assert env["KAFKA_MIN_INSYNC_REPLICAS"] == "2"
        assert env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == "3"
        assert f"INTERNAL://{name}:29092" in env["KAFKA_ADVERTISED_LISTENERS"]
        assert published(b) == {9092 + 2 * (i - 1)}
        assert b["healthcheck"]["test"]
        ids.add(env["KAFKA_NODE_ID"])
        cluster_ids.add(env["CLUSTER_ID"])
        # each broker keeps its own data
        assert any(v.split(":")[0] in compose["volumes"] for v in b["volumes"])
    assert ids == {"1", "2", "3"} and len(cluster_ids) == 1
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", cluster_ids.pop())
    reg = s["schema-registry-kafka3"]["environment"]
    assert reg["SCHEMA_REGISTRY_KAFKASTORE_TOPIC_REPLICATION_FACTOR"] == "3"
    for name in ("cart-service-kafka3", "order-service-kafka3"):
        env = s[name]["environment"]
        assert env["KAFKA_BOOTSTRAP_SERVERS"] == "kafka-1:29092,kafka-2:29092,kafka-3:29092"
        assert env["TOPIC_REPLICATION_FACTOR"] == "3"
        assert env["TOPIC_MIN_INSYNC_REPLICAS"] == "2"
        assert env["SCHEMA_REGISTRY_URL"] == "http://schema-registry-kafka3:8081"
        assert set(env) <= KNOWN[name.removesuffix("-kafka3")]
        deps = s[name]["depends_on"]
        assert all(deps[b]["condition"] == "service_healthy" for b in brokers)
        assert s[name]["build"]["target"] == name.removesuffix("-kafka3")


def test_scale_profile_is_postgres_and_three_order_services_in_one_group(compose):
    """Profile scale: one PostgreSQL store shared by three order-service
    instances of one consumer group, each on its own host port."""
    s = compose["services"]
    profiled = {n for n, svc in s.items() if "scale" in svc.get("profiles", [])}
    names = [f"order-service-{i}" for i in (1, 2, 3)]
    assert profiled == {"postgres"} | set(names)
    pg = s["postgres"]
    assert pg["image"].startswith("postgres:15")
    assert "pg_isready" in " ".join(pg["healthcheck"]["test"])
    assert any(v.split(":")[0] in compose["volumes"] for v in pg["volumes"])
    urls, groups, ids = set(), set(), set()
    for i, name in enumerate(names, 1):
        svc = s[name]
        env = svc["environment"]
        assert svc["build"]["target"] == "order-service"
        assert published(svc) == {8000 + i}
        assert "STORE_PATH" not in env  # the shared store, never a file
        urls.add(env["STORE_URL"])
        groups.add(env["CONSUMER_GROUP_ID"])
        ids.add(env["CONSUMER_INSTANCE_ID"])
        assert set(env) <= KNOWN["order-service"] | {"STORE_URL", "CONSUMER_INSTANCE_ID"}
        assert svc["depends_on"]["postgres"]["condition"] == "service_healthy"
        assert svc["depends_on"]["kafka"]["condition"] == "service_healthy"
    assert len(urls) == 1 and urls.pop().startswith("postgresql://")
    assert len(groups) == 1 and len(ids) == 3


@pytest.mark.parametrize("name", ["cart-service", "order-service", "cart-service-kafka3",
                                  "order-service-kafka3", "order-service-1"])
def test_compose_names_are_ones_the_binary_documents(compose, name):
    """Every variable compose sets appears in the service's own --help."""
    bindir = Path(os.environ.get("ORDERSTREAM_BIN_DIR", ROOT / "build"))
    binary = (bindir if bindir.is_absolute() else ROOT / bindir) / re.sub(r"-(kafka3|\d)$", "",
                                                                            name)
    if not binary.exists():
        if os.environ.get("ORDERSTREAM_REQUIRE_BINARIES") == "1":
            pytest.fail(f"{binary} not built")
        pytest.skip(f"{binary} not built")
    res = subprocess.run([str(binary), "--help"], capture_output=True, text=True, timeout=30,
                         check=False)
    text = res.stdout + res.stderr
    assert res.returncode == 0, text
    missing = [k for k in compose["services"][name]["environment"] if k not in text]
    assert not missing, f"{name} --help does not list {missing}"


def test_dockerfile_runtime_stages_carry_no_build_tools():
    text = (ROOT / "Dockerfile").read_text()
    stages = re.split(r"(?m)^FROM ", text)[1:]
    names = {re.match(r"\S+\s+AS\s+(\S+)", st).group(1): st for st in stages}
    assert {"build", "runtime", "cart-service", "order-service"} <= set(names)
    assert names["build"].startswith("debian:bookworm ")
    assert names["runtime"].startswith("debian:bookworm")
    for stage in ("runtime", "cart-service", "order-service"):
        body = names[stage]
        assert "-dev" not in body and "build-essential" not in body and "cmake" not in body
    # every library the build links (CMakeLists pkg_check_modules) has its
    # runtime package in the runtime stage
    for pkg in ("librdkafka1", "libavro23", "libjansson4", "libevent-2.1-7",
                "libevent-pthreads-2.1-7", "libcurl4", "libsqlite3-0"):
        assert pkg in names["runtime"]
    for svc in ("cart-service", "order-service"):
        assert f'ENTRYPOINT ["/usr/local/bin/{svc}"]' in names[svc]
        assert "HEALTHCHECK" in names[svc]
        assert "USER " in names[svc]  # not root
