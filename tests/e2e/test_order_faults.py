"""order-service under faults, against the real broker and registry:

- kill -9 in the middle of a stream, then a restart on the same store: every
  event applied exactly once, no DLQ entry caused by the redelivery, and the
  state equal to a clean replay by a fresh instance;
- the registry stopped while records with a new schema id arrive: they wait
  (no DLQ), other partitions keep flowing, and they are applied when the
  registry returns;
- unexpected processing failures (test-only injection): retried on the
  configured schedule, then dead-lettered as PROCESSING_FAILED, or applied if
  they heal within the retries;
- while one partition waits, the others keep flowing.
"""

import json
import re
import threading

import pytest

from order_e2e import (SCHEMA, EventWriter, create_event, dlq_messages, health, jloads,
                       order_details, update_event, wait_for, wait_order)

pytestmark = pytest.mark.slow


def respawn(svc) -> None:
    """Starts a killed service again on the same port, env and store.

    Service.restart() stops gracefully first (and insists on exit 0), which a
    SIGKILLed process cannot give, so this starts the process directly.
    """
    assert not svc.alive()
    svc._spawn()
    svc.wait_healthy(90)


def dlq_total(svc) -> int:
    return svc.get("/dlq/stats").json()["total_messages"]


def all_details(svc, ids) -> dict:
    out = {}
    for oid in ids:
        code, body = order_details(svc, oid)
        assert code == 200, (oid, code, body)
        out[oid] = body
    return out


def test_kill9_midstream_exactly_once(services, stack):
    n_orders = 4000
    order = services.start("order")
    w = EventWriter(stack, services.topic)
    ids = [f"K9-{i:05d}" for i in range(n_orders)]

    def produce():
        # create, confirmed, shipped per order; orders interleaved so a crash
        # lands between the events of many orders
        for start in range(0, n_orders, 200):
            chunk = ids[start:start + 200]
            for step, make in enumerate((
                    lambda o: create_event(o, [("I", 2, "10.05")], ts=1764079200000),
                    lambda o: update_event(o, "confirmed", ts=1764079201000),
                    lambda o: update_event(o, "shipped", ts=1764079202000))):
                for oid in chunk:
                    w.send(make(oid))
            w.producer.poll(0)
        w.flush()

    t = threading.Thread(target=produce)
    t.start()
    try:
        wait_for(lambda: health(order)["ordersStored"] >= n_orders // 5, 120, 0.05,
                 what="a fifth of the orders applied")
        order.kill()  # SIGKILL: no commit, no group leave
    finally:
        t.join()
    killed_at = len(order.log_text())
    respawn(order)
    wait_for(lambda: health(order)["ordersStored"] == n_orders and health(order)["lag"] == 0,
             180, 0.5, what="every order after the restart")
    h = health(order)
    assert h["ordersStored"] == n_orders
    assert dlq_total(order) == 0, dlq_messages(order)[:3]
    assert "dead-lettered" not in order.log_text()[killed_at:]

    state = all_details(order, ids)
    for oid, d in state.items():
        assert [x["status"] for x in d["statusHistory"]] == ["new", "confirmed", "shipped"], oid
        assert d["status"] == "shipped"

    # A clean replay by a fresh instance (own store and group) gives the same state.
    replay = services.start("order", env={"CONSUMER_GROUP_ID": services.group + "-replay"})
    wait_for(lambda: health(replay)["ordersStored"] == n_orders and health(replay)["lag"] == 0,
             180, 0.5, what="the clean replay")
    assert all_details(replay, ids) == state
    assert dlq_total(replay) == 0


def evolved_schema() -> str:
    s = json.loads(SCHEMA)
    s["fields"].append({"name": "channel", "type": "string", "default": "web"})
    return json.dumps(s)


def test_registry_down_new_schema_waits_then_resumes(services, stack):
    order = services.start("order", env={"RETRY_BACKOFF_MS": "200,400,800"})
    w = EventWriter(stack, services.topic)
    w.send(create_event("REG-A", [("I", 1, "1.00")]), partition=1)
    w.flush()
    wait_order(order, "REG-A")  # schema v1 now cached by the service

    # A newer schema version: registered now, first seen by the service later.
    w2 = EventWriter(stack, services.topic, schema=evolved_schema())
    ev = create_event("REG-B", [("I", 3, "2.50")])
    ev["channel"] = "app"
    value_v2 = w2.encode(ev)

    stack.stop_registry()
    log_mark = len(order.log_text())
    w.send_raw(b"REG-B", value_v2, partition=0)
    w.flush()
    wait_for(lambda: order.log_text()[log_mark:].count("schema registry unavailable") >= 3, 60,
             what="three registry retries")
    # Partition 1 keeps flowing with the cached schema while partition 0 waits.
    w.send(update_event("REG-A", "confirmed"), partition=1)
    w.flush()
    wait_order(order, "REG-A", status="confirmed")
    assert order_details(order, "REG-B")[0] == 404
    h = health(order)
    # a failing registry is named by /health (503) while the partition waits on it
    assert h["status"] == "unavailable" and "registry" in h["detail"], h
    assert h["waitingPartitions"] == 1 and h["registryError"], h
    assert dlq_total(order) == 0

    stack.start_registry()
    d = wait_order(order, "REG-B", timeout=90)
    assert str(d["totalAmount"]) == "7.50"
    assert dlq_total(order) == 0
    assert health(order)["waitingPartitions"] == 0
    wait_for(lambda: health(order)["status"] == "ok", 15, what="/health ok with the registry back")
    # the schedule: 200, 400, then 800 ms repeating, never dead-lettered
    waits = [int(x) for x in re.findall(r"retrying in (\d+) ms", order.log_text()[log_mark:])]
    assert waits[:3] == [200, 400, 800]
    assert all(x == 800 for x in waits[3:])


def test_processing_failure_retries_then_dlq(services, stack):
    order = services.start("order", env={"ORDER_TEST_FAIL_PREFIX": "FAIL-",
                                         "ORDER_TEST_FAIL_TIMES": "1000",
                                         "RETRY_BACKOFF_MS": "100,200,300",
                                         "PROCESSING_MAX_RETRIES": "3"})
    w = EventWriter(stack, services.topic)
    value = w.encode(create_event("FAIL-1", [("I", 1, "9.99")]))
    w.send_raw(b"FAIL-1", value, partition=0)
    w.send(create_event("OK-1", [("I", 1, "9.99")]), partition=0)  # behind it, same partition
    w.flush()
    wait_for(lambda: dlq_total(order) == 1, 60, what="the DLQ entry")
    (m,) = dlq_messages(order)
    assert m["errorReason"] == "PROCESSING_FAILED"
    assert m["errorCategory"] == "RETRY_THEN_DLQ"
    assert m["retryCount"] == 3
    assert m["key"] == "FAIL-1"
    assert "injected" in m["errorMessage"]
    import base64
    assert base64.b64decode(m["value"]) == value
    # the event behind it is applied after it, in order
    wait_order(order, "OK-1")
    assert order_details(order, "FAIL-1")[0] == 404
    waits = [int(x) for x in re.findall(r"offset 0 failed \(processing, attempt \d\): .*?retrying"
                                        r" in (\d+) ms", order.log_text())]
    assert waits == [100, 200, 300]


def test_processing_failure_heals_within_retries(services, stack):
    order = services.start("order", env={"ORDER_TEST_FAIL_PREFIX": "FLAKY-",
                                         "ORDER_TEST_FAIL_TIMES": "2",
                                         "RETRY_BACKOFF_MS": "100",
                                         "PROCESSING_MAX_RETRIES": "3"})
    w = EventWriter(stack, services.topic)
    w.send(create_event("FLAKY-1", [("I", 2, "0.50")]), partition=2)
    w.send(update_event("FLAKY-1", "delivered"), partition=2)
    w.flush()
    d = wait_order(order, "FLAKY-1", status="delivered")
    assert [x["status"] for x in d["statusHistory"]] == ["new", "delivered"]
    assert dlq_total(order) == 0
    # two failures of the CREATE, two of the UPDATE: each retried, none dead-lettered
    assert len(re.findall(r"failed \(processing, attempt", order.log_text())) == 4


def test_other_partitions_flow_while_one_waits(services, stack):
    order = services.start("order", env={"ORDER_TEST_FAIL_PREFIX": "SLOW-",
                                         "ORDER_TEST_FAIL_TIMES": "1",
                                         "RETRY_BACKOFF_MS": "25000"})
    w = EventWriter(stack, services.topic)
    w.send(create_event("SLOW-1", [("I", 1, "1.00")]), partition=0)
    w.send(create_event("P0-AFTER", [("I", 1, "1.00")]), partition=0)
    others = [f"P{p}-{i}" for p in (1, 2) for i in range(20)]
    for oid in others:
        w.send(create_event(oid, [("I", 1, "1.00")]), partition=int(oid[1]))
    w.flush()
    for oid in others:
        wait_order(order, oid)
    # partition 0 waits at SLOW-1, and keeps its order: P0-AFTER waits too
    assert order_details(order, "SLOW-1")[0] == 404
    assert order_details(order, "P0-AFTER")[0] == 404
    h = health(order)
    assert h["waitingPartitions"] == 1 and h["ordersStored"] == len(others)
    assert dlq_total(order) == 0
    # a graceful stop while a partition is paused still exits 0 (checked by stop())
    order.stop()
    # and a restart on the same store resumes partition 0 from SLOW-1
    order.restart(env={"ORDER_TEST_FAIL_TIMES": "0"})
    wait_order(order, "SLOW-1")
    wait_order(order, "P0-AFTER")
    assert health(order)["ordersStored"] == len(others) + 2
    assert jloads(order.get("/dlq/stats").text)["total_messages"] == 0


def test_broker_down_health_and_recovery(services, stack):
    """With the broker gone /health says 503; when it returns, consumption
    resumes without a restart and nothing is lost or dead-lettered."""
    order = services.start("order")
    w = EventWriter(stack, services.topic)
    w.send(create_event("BRK-1", [("I", 1, "3.00")]))
    w.flush()
    wait_order(order, "BRK-1")
    stack.stop_kafka()
    r = wait_for(lambda: [x] if (x := order.get("/health")).status_code == 503 else None, 90,
                 0.5, what="503 from /health")[0]
    assert r.json()["status"] == "unavailable" and r.json()["detail"]
    # reads from the store still work while Kafka is away
    assert order_details(order, "BRK-1")[0] == 200
    stack.start_kafka()
    wait_for(lambda: order.get("/health").status_code == 200, 120, 0.5,
             what="healthy after the broker returned")
    w2 = EventWriter(stack, services.topic)
    w2.send(update_event("BRK-1", "cancelled"))
    w2.flush()
    wait_order(order, "BRK-1", status="cancelled", timeout=90)
    assert dlq_total(order) == 0


def test_store_full_retries_without_dlq_then_recovers(services, stack):
    """Store writes failing (the file capped at its size, SQLITE_FULL like a
    full disk): events are retried, never dead-lettered, no position moves
    past them, /health says 503; with space back every event applies once."""
    # one batch takes every event written (CONSUMER_BATCH_WAIT_MS): a first
    # batch of a record or two, applied as soon as the fetched ones run out,
    # could fit in the capped file's free space, and then not every write fails
    order = services.start("order", env={"ORDER_TEST_STORE_MAX_PAGES": "1",
                                         "CONSUMER_BATCH_WAIT_MS": "1000",
                                         "RETRY_BACKOFF_MS": "100,200"})
    w = EventWriter(stack, services.topic)
    ids = [f"FULL-{i:04d}" for i in range(500)]
    for oid in ids:
        w.send(create_event(oid, [("I", 1, "1.00")]))
    w.flush()
    wait_for(lambda: order.log_text().count("store failure, batch rolled back") >= 3, 60,
             what="three store failures")
    r = order.get("/health")
    assert r.status_code == 503 and r.json()["detail"] == "order store failing"
    assert r.json()["ordersStored"] == 0
    assert order_details(order, ids[0])[0] == 404
    assert dlq_total(order) == 0
    order.stop()  # a graceful stop while failing still exits 0
    order.restart(env={"ORDER_TEST_STORE_MAX_PAGES": "0"})
    wait_for(lambda: health(order)["ordersStored"] == len(ids) and health(order)["lag"] == 0,
             90, 0.5, what="every order once space is back")
    assert dlq_total(order) == 0
    for oid in ids[::50]:
        d = wait_order(order, oid)
        assert [x["status"] for x in d["statusHistory"]] == ["new"]


def test_dlq_write_failure_is_retried_never_lost(services, stack):
    """The DLQ topic gone: the dead letter cannot be written, so the record's
    position does not move and its partition waits (keeping its order); once
    the topic is back the record lands in the DLQ once and the partition goes on."""
    order = services.start("order", env={"RETRY_BACKOFF_MS": "300"})
    admin = stack.admin()
    admin.delete_topics([services.dlq_topic], operation_timeout=30)[services.dlq_topic].result(30)
    wait_for(lambda: services.dlq_topic not in admin.list_topics(timeout=10).topics, 30,
             what="the DLQ topic deleted")
    w = EventWriter(stack, services.topic)
    w.send_raw(b"JUNK-1", b"\x05not avro", partition=0)
    w.send(create_event("AFTER-JUNK", [("I", 1, "1.00")]), partition=0)
    w.send(create_event("OTHER-PART", [("I", 1, "1.00")]), partition=1)
    w.flush()
    wait_order(order, "OTHER-PART")
    wait_for(lambda: "DLQ delivery" in order.log_text() or "DLQ produce" in order.log_text(), 90,
             what="a failed DLQ write")
    assert order_details(order, "AFTER-JUNK")[0] == 404
    stack.create_topic(services.dlq_topic, partitions=1)
    wait_order(order, "AFTER-JUNK", timeout=120)
    msgs = dlq_messages(order)
    assert [(m["key"], m["errorReason"]) for m in msgs] == [("JUNK-1", "DESERIALIZATION_ERROR")]
    import base64
    assert base64.b64decode(msgs[0]["value"]) == b"\x05not avro"


def test_metrics_exposition(services, stack):
    order = services.start("order")
    w = EventWriter(stack, services.topic)
    w.send(create_event("MET-1", [("I", 1, "1.00")]))
    w.send_raw(b"MET-BAD", b"\x09")
    w.flush()
    wait_order(order, "MET-1")
    wait_for(lambda: dlq_total(order) == 1, 60, what="the DLQ entry")
    order.get("/order-details", params={"orderId": "MET-1"})
    r = order.get("/metrics")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/plain")
    samples = {}
    for line in r.text.splitlines():
        if not line or line.startswith("#"):
            continue
        name, value = line.rsplit(" ", 1)
        samples[name] = float(value)
    assert samples["order_events_applied_total"] == 1
    assert samples['order_dlq_messages_total{reason="DESERIALIZATION_ERROR"}'] == 1
    assert samples['order_dlq_messages_total{reason="DUPLICATE_ORDER"}'] == 0
    assert samples["order_orders_stored"] == 1
    lags = {k: v for k, v in samples.items() if k.startswith("order_consumer_lag{")}
    assert lags and all(v == 0 for v in lags.values()), lags
    assert samples["order_event_lag_seconds_count"] == 1
    assert samples['order_event_lag_seconds_bucket{le="+Inf"}'] == 1
    assert samples["order_retry_wait_seconds_total"] == 0
    assert samples['http_requests_total{route="/order-details",status="200"}'] >= 1
    assert "# TYPE order_events_applied_total counter" in r.text
    assert "# TYPE order_event_lag_seconds histogram" in r.text


def test_graceful_stop_while_broker_down(services, stack):
    """SIGTERM with the broker unreachable still exits 0 in bounded time (the
    store is committed and closed); a restart resumes from the store."""
    order = services.start("order")
    w = EventWriter(stack, services.topic)
    w.send(create_event("GS-1", [("I", 1, "1.00")]))
    w.flush()
    wait_order(order, "GS-1")
    stack.stop_kafka()
    wait_for(lambda: order.get("/health").status_code == 503, 90, 0.5, what="503 from /health")
    order.stop(timeout=60)  # asserts exit status 0 and a clean (sanitizer-free) log
    stack.start_kafka()
    order.restart()
    assert order_details(order, "GS-1")[0] == 200
    w2 = EventWriter(stack, services.topic)
    w2.send(update_event("GS-1", "shipped"))
    w2.flush()
    wait_order(order, "GS-1", status="shipped", timeout=90)
    assert health(order)["ordersStored"] == 1
    assert dlq_total(order) == 0
