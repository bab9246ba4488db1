"""cart-service end to end, against the real broker and registry of the test stack.

What a 2xx promises is checked at the source: every event the API acknowledged
is read back from Kafka and decoded with confluent-kafka's AvroDeserializer
through the registry, and must equal the order the API returned (key ==
orderId, same partition and offset). Plus the seed's curl steps for the
producer, the validation table over HTTP, start-up side effects (topics with
their configuration, the schema under "<topic>-value"), --help, and a SIGTERM
in the middle of a load.
"""

from __future__ import annotations

import concurrent.futures
import datetime
import signal
import subprocess
import time
from decimal import Decimal

import pytest
import requests

from conftest import _bin_dir, unique

JSON = {"Content-Type": "application/json"}


def deserialize_all(stack, topic):
    from confluent_kafka.serialization import MessageField, SerializationContext
    from confluent_kafka.schema_registry.avro import AvroDeserializer

    deser = AvroDeserializer(stack.sr_client())
    out = []
    for m in stack.read_all(topic):
        value = deser(m.value(), SerializationContext(topic, MessageField.VALUE))
        out.append((m, value))
    return out


def money(x) -> Decimal:
    # the API prints money as JSON numbers with two decimals; compare exactly
    return Decimal(str(x))


def check_create_body(body: dict, order_id: str, items: int, topic: str):
    assert body["message"] == "Order created"
    assert body["topic"] == topic
    assert isinstance(body["partition"], int) and isinstance(body["offset"], int)
    o = body["order"]
    assert o["orderId"] == order_id
    assert o["status"] == "new" and o["currency"] == "USD"
    assert o["customerId"].startswith("CUST-")
    assert len(o["items"]) == items
    total = Decimal(0)
    for it in o["items"]:
        assert 1 <= it["quantity"] <= 5
        assert Decimal("1.00") <= money(it["price"]) <= Decimal("500.00")
        total += money(it["price"]) * it["quantity"]
    assert money(o["totalAmount"]) == total
    datetime.datetime.strptime(o["orderDate"], "%Y-%m-%dT%H:%M:%S.%fZ")


def test_seed_producer_steps(services):
    cart = services.start("cart")
    o1, o2 = unique("ORDER-001"), unique("ORDER-002")
    # 1, 2: create two orders
    r = cart.post("/create-order", json={"orderId": o1, "itemsCount": 3})
    assert r.status_code == 201, r.text
    check_create_body(r.json(), o1, 3, services.topic)
    assert r.headers["Content-Type"] == "application/json"
    assert r.headers.get("X-Request-ID")
    r = cart.post("/create-order", json={"orderId": o2, "itemsCount": 5})
    assert r.status_code == 201, r.text
    check_create_body(r.json(), o2, 5, services.topic)
    # 5: update status
    r = cart.put("/update-order", json={"orderId": o1, "status": "shipped"})
    assert r.status_code == 200, r.text
    b = r.json()
    assert (b["orderId"], b["status"], b["topic"]) == (o1, "shipped", services.topic)
    # 7: missing required field
    r = cart.post("/create-order", json={"itemsCount": 3})
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "orderId"
    # 8: update of an unknown order: the stateless producer accepts it (the consumer DLQs it)
    r = cart.put("/update-order", json={"orderId": unique("ORDER-NONEXISTENT"),
                                        "status": "confirmed"})
    assert r.status_code == 200, r.text
    # 9: duplicate create: accepted here, DLQ'd downstream
    r = cart.post("/create-order", json={"orderId": o1, "itemsCount": 2})
    assert r.status_code == 201, r.text
    # 12: health
    r = cart.get("/health")
    assert r.status_code == 200
    h = r.json()
    assert h["status"] == "ok" and h["schemaRegistered"] is True and h["kafka"] == "reachable"


def test_every_event_decodes_to_the_order_the_api_returned(services, stack):
    cart = services.start("cart")
    acked = {}
    for i in range(12):
        oid = unique(f"RT{i}")
        r = cart.post("/create-order", json={"orderId": oid, "itemsCount": 1 + i * 8})
        assert r.status_code == 201, r.text
        acked[(r.json()["partition"], r.json()["offset"])] = ("CREATE", r.json())
        if i % 3 == 0:
            r = cart.put("/update-order", json={"orderId": oid, "status": "Delivered"})
            assert r.status_code == 200, r.text
            acked[(r.json()["partition"], r.json()["offset"])] = ("UPDATE", r.json())

    events = deserialize_all(stack, services.topic)
    assert len(events) == len(acked)
    for m, ev in events:
        kind, body = acked[(m.partition(), m.offset())]
        assert ev["eventType"] == kind
        p = ev["payload"]
        if kind == "CREATE":
            o = body["order"]
            assert m.key().decode() == o["orderId"] == ev["orderId"]
            assert p["customerId"] == o["customerId"]
            assert p["orderDate"] == o["orderDate"]
            assert p["currency"] == o["currency"] and p["status"] == "new"
            assert p["totalAmount"] == money(o["totalAmount"])
            assert [(x["itemId"], x["quantity"], x["price"]) for x in p["items"]] == \
                [(x["itemId"], x["quantity"], money(x["price"])) for x in o["items"]]
            # event time is the order time
            ts = ev["timestamp"]
            assert ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z" == \
                o["orderDate"]
        else:
            assert m.key().decode() == body["orderId"] == ev["orderId"]
            assert p == {"status": "delivered"}


def test_events_of_one_order_share_a_partition_in_order(services, stack):
    cart = services.start("cart")
    oid = unique("SEQ")
    r = cart.post("/create-order", json={"orderId": oid, "itemsCount": 2})
    assert r.status_code == 201
    part, last = r.json()["partition"], r.json()["offset"]
    statuses = ["pending", "confirmed", "processing", "shipped", "delivered", "cancelled"]
    for st in statuses:
        r = cart.put("/update-order", json={"orderId": oid, "status": st.upper()})
        assert r.status_code == 200, r.text
        assert r.json()["partition"] == part
        assert r.json()["offset"] > last
        last = r.json()["offset"]
    mine = [(m, ev) for m, ev in deserialize_all(stack, services.topic) if ev["orderId"] == oid]
    assert {m.partition() for m, _ in mine} == {part}
    mine.sort(key=lambda x: x[0].offset())
    assert [ev["eventType"] for _, ev in mine] == ["CREATE"] + ["UPDATE"] * len(statuses)
    assert [ev["payload"]["status"] for _, ev in mine[1:]] == statuses


VALIDATION = [
    # (method, path, headers, body, status, field)
    ("POST", "/create-order", JSON, '{"orderId": "A1", "itemsCount": 3}', 201, None),
    ("POST", "/create-order", JSON, '{"itemsCount": 3}', 422, "orderId"),
    ("POST", "/create-order", JSON, '{"orderId": "A1"}', 422, "itemsCount"),
    ("POST", "/create-order", JSON, '{"orderId": "A1", "itemsCount": "3"}', 422, "itemsCount"),
    ("POST", "/create-order", JSON, '{"orderId": "A1", "itemsCount": 3.5}', 422, "itemsCount"),
    ("POST", "/create-order", JSON, '{"orderId": 5, "itemsCount": 3}', 422, "orderId"),
    ("POST", "/create-order", JSON, '[]', 422, "body"),
    ("POST", "/create-order", JSON, '{"orderId": "", "itemsCount": 3}', 400, "orderId"),
    ("POST", "/create-order", JSON, '{"orderId": "' + "x" * 65 + '", "itemsCount": 3}', 400,
     "orderId"),
    ("POST", "/create-order", JSON, '{"orderId": "a b", "itemsCount": 3}', 400, "orderId"),
    ("POST", "/create-order", JSON, '{"orderId": "A1", "itemsCount": 0}', 400, "itemsCount"),
    ("POST", "/create-order", JSON, '{"orderId": "A1", "itemsCount": 101}', 400, "itemsCount"),
    ("POST", "/create-order", JSON, '{"orderId": "A1", "itemsCount": 3', 400, None),
    ("POST", "/create-order", JSON, '{"orderId": "A1", "orderId": "A2", "itemsCount": 3}', 400,
     None),
    ("POST", "/create-order", {"Content-Type": "text/plain"}, '{"orderId": "A1"}', 415, None),
    ("PUT", "/update-order", JSON, '{"orderId": "A1", "status": "SHIPPED"}', 200, None),
    ("PUT", "/update-order", JSON, '{"orderId": "A1"}', 422, "status"),
    ("PUT", "/update-order", JSON, '{"orderId": "A1", "status": 3}', 422, "status"),
    ("PUT", "/update-order", JSON, '{"orderId": "A1", "status": "new"}', 400, "status"),
    ("PUT", "/update-order", JSON, '{"orderId": "A1", "status": "teleported"}', 400, "status"),
    ("GET", "/create-order", {}, None, 405, None),
    ("PUT", "/create-order", JSON, '{}', 405, None),
    ("POST", "/update-order", JSON, '{}', 405, None),
    ("POST", "/health", JSON, '{}', 405, None),
    ("GET", "/nowhere", {}, None, 404, None),
]


def test_validation_table_over_http(services):
    cart = services.start("cart")
    for method, path, headers, body, status, field in VALIDATION:
        r = requests.request(method, cart.url + path, headers=headers,
                             data=body.encode() if body is not None else None, timeout=10)
        assert r.status_code == status, (method, path, body, r.text)
        assert r.headers["Content-Type"] == "application/json"
        j = r.json()
        if status >= 400:
            assert isinstance(j["detail"], str) and j["detail"]
        if field:
            assert field in [e["field"] for e in j["errors"]], j
        if status == 405:
            assert r.headers["Allow"] in ("GET", "POST", "PUT")


def test_startup_creates_topics_and_registers_schema(services, stack):
    from confluent_kafka.admin import ConfigResource

    cart = services.start("cart", env={"TOPIC_PARTITIONS": 3, "DLQ_PARTITIONS": 1})
    md = stack.admin().list_topics(timeout=10).topics
    assert len(md[services.topic].partitions) == 3
    assert len(md[services.dlq_topic].partitions) == 1
    admin = stack.admin()
    res = admin.describe_configs([ConfigResource("topic", services.topic),
                                  ConfigResource("topic", services.dlq_topic)])
    conf = {r.name: f.result(timeout=10) for r, f in res.items()}
    assert conf[services.topic]["retention.ms"].value == str(7 * 24 * 3600 * 1000)
    assert conf[services.dlq_topic]["retention.ms"].value == str(30 * 24 * 3600 * 1000)
    latest = stack.sr_client().get_latest_version(services.topic + "-value")
    assert cart.get("/health").json()["schemaId"] == latest.schema_id
    assert "OrderEvent" in latest.schema.schema_str
    # a second instance finds everything in place and is healthy too
    again = services.start("cart")
    assert again.get("/health").status_code == 200
    assert "already exists" in again.log_text()


def test_help_lists_the_variables():
    binary = _bin_dir() / "cart-service"
    if not binary.exists():
        pytest.skip(f"{binary} is not built")
    res = subprocess.run([str(binary), "--help"], capture_output=True, text=True, timeout=30)
    assert res.returncode == 0
    for var in ("KAFKA_BOOTSTRAP_SERVERS", "SCHEMA_REGISTRY_URL", "ORDER_EVENTS_TOPIC",
                "DELIVERY_TIMEOUT_MS", "PRODUCER_LINGER_MS", "HTTP_MAX_BODY_BYTES",
                "KAFKA_PROP_"):
        assert var in res.stdout
    bad = subprocess.run([str(binary), "--nope"], capture_output=True, text=True, timeout=30)
    assert bad.returncode != 0


def test_sigterm_during_load_answers_everyone_and_loses_nothing(services, stack):
    cart = services.start("cart")

    def one(i):
        oid = f"LOAD-{i}-{unique('x')}"
        try:
            r = requests.post(cart.url + "/create-order", json={"orderId": oid, "itemsCount": 2},
                              timeout=20)
            return oid, r.status_code, r.json()
        except requests.ConnectionError:
            return oid, None, None  # arrived after the listener closed

    with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
        futs = [pool.submit(one, i) for i in range(400)]
        time.sleep(0.3)
        cart.proc.send_signal(signal.SIGTERM)
        results = [f.result() for f in futs]
    assert cart.proc.wait(timeout=30) == 0
    cart.check_log_clean()
    statuses = {s for _, s, _ in results}
    assert statuses <= {201, 503, None}, statuses
    created = {oid for oid, s, _ in results if s == 201}
    assert created, "no request completed before the signal"
    on_topic = {m.key().decode() for m in stack.read_all(services.topic)}
    assert created <= on_topic


def _threads_named(pid: int, name: str) -> int:
    from pathlib import Path
    n = 0
    for t in Path(f"/proc/{pid}/task").iterdir():
        try:
            if (t / "comm").read_text().strip() == name:
                n += 1
        except OSError:
            pass  # a thread that just ended
    return n


def test_four_http_threads_answer_every_write_from_its_acknowledgement(services, stack):
    """HTTP_THREADS=4: the other loops hand their writes to the shared producer and get
    the delivery reports back from the first loop; every 2xx is still its event."""
    cart = services.start("cart", env={"HTTP_THREADS": "4"})
    # main loop + 3 more HTTP loops + the bootstrap thread carry the binary's name
    assert _threads_named(cart.proc.pid, "cart-service") >= 5

    def client(k):
        s = requests.Session()  # keep-alive: each client's connection stays on one loop
        got = []
        for i in range(40):
            oid = unique(f"T{k}-{i}")
            r = s.post(cart.url + "/create-order", json={"orderId": oid, "itemsCount": 1 + i % 5},
                       timeout=30)
            assert r.status_code == 201, r.text
            got.append(("CREATE", r.json()))
            if i % 4 == 0:
                r = s.put(cart.url + "/update-order", json={"orderId": oid, "status": "Shipped"},
                          timeout=30)
                assert r.status_code == 200, r.text
                got.append(("UPDATE", r.json()))
        # a client mistake is answered on its own loop too
        r = s.post(cart.url + "/create-order", json={"orderId": "", "itemsCount": 1}, timeout=30)
        assert r.status_code == 400 and r.json()["errors"][0]["field"] == "orderId", r.text
        return got

    with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
        acked = [x for f in [pool.submit(client, k) for k in range(16)] for x in f.result()]
    by_pos = {(b["partition"], b["offset"]): (kind, b) for kind, b in acked}
    assert len(by_pos) == len(acked) == 16 * 50

    events = deserialize_all(stack, services.topic)
    assert len(events) == len(acked)
    for m, ev in events:
        kind, body = by_pos[(m.partition(), m.offset())]
        assert ev["eventType"] == kind
        if kind == "CREATE":
            o = body["order"]
            check_create_body(body, o["orderId"], len(o["items"]), services.topic)
            assert m.key().decode() == ev["orderId"] == o["orderId"]
            assert ev["payload"]["totalAmount"] == money(o["totalAmount"])
        else:
            assert m.key().decode() == ev["orderId"] == body["orderId"]
            assert ev["payload"] == {"status": "shipped"}

    # SIGTERM under load: every thread's waiting writes are answered, the process exits 0
    def one(i):
        try:
            r = requests.post(cart.url + "/create-order",
                              json={"orderId": unique(f"TS{i}"), "itemsCount": 2}, timeout=20)
            return r.status_code
        except requests.ConnectionError:
            return None  # arrived after the listener closed

    with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
        futs = [pool.submit(one, i) for i in range(300)]
        time.sleep(0.3)
        cart.proc.send_signal(signal.SIGTERM)
        statuses = {f.result() for f in futs}
    assert cart.proc.wait(timeout=30) == 0
    cart.check_log_clean()
    assert statuses <= {201, 503, None}, statuses
