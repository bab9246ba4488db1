"""GET /health/live and GET /health/ready on both services, against the real
broker, registry and stores:

- with Kafka stopped, liveness stays 200 on both services (a dependency being
  down is no reason to restart) while readiness turns 503 naming the broker,
  and both are 200 again once the broker is back, without a restart;
- order-service is not ready while its store cannot be written (a stopped
  PostgreSQL while an event waits), and ready again when it returns;
- order-service is not ready while it is stalled: an event retried without
  end (a processing failure that never heals) keeps the partition's lag while
  its position does not move for READY_STALL_MS;
- order-service is not live while its consume thread is wedged (held inside
  a batch, ORDER_TEST_COMMIT_DELAY_MS, beyond LIVE_CONSUMER_TIMEOUT_MS), and
  live again when the thread turns.
"""

import time

import pytest

from conftest import unique
from order_e2e import EventWriter, create_event, wait_for, wait_order

pytestmark = pytest.mark.slow


def probe(svc, which: str):
    """(status code, body) of /health/<which>; (None, None) when it does not answer."""
    r = svc.get(f"/health/{which}", timeout=5)
    return r.status_code, r.json()


def assert_probe_shape(code, body, service):
    assert body["service"] == service and body["status"] in ("ok", "unavailable")
    assert (code == 200) == (body["status"] == "ok")
    assert body["checks"] and all("ok" in c for c in body["checks"].values())
    failing = [n for n, c in body["checks"].items() if not c["ok"]]
    if failing:
        assert body["detail"] == ", ".join(failing)
        assert all(body["checks"][n]["detail"] for n in failing)


def wait_probe(svc, which: str, code: int, timeout: float, check=None, what=""):
    """Polls /health/<which> until it answers code (and check(body) holds)."""
    def answered():
        c, b = probe(svc, which)
        return b if c == code and (check is None or check(b)) else None
    return wait_for(answered, timeout, 0.5, what=what or f"/health/{which} {code}")


def wait_failing(svc, which: str, check: str, timeout: float, what: str) -> dict:
    """Waits for a 503 of /health/<which> whose check `check` fails; checks the shape."""
    body = wait_probe(svc, which, 503, timeout, check=lambda b: not b["checks"][check]["ok"],
                      what=what)
    assert_probe_shape(503, body, svc.name + "-service")
    assert check in body["detail"].split(", ")
    return body


def send_creates(stack, topic: str, ids, partition=None) -> None:
    w = EventWriter(stack, topic)
    for oid in ids:
        w.send(create_event(oid, [("I", 1, "1.00")]), partition=partition)
    w.flush()


def test_kafka_down_keeps_live_fails_ready_naming_the_broker(services, stack):
    cart = services.start("cart")
    order = services.start("order")
    for svc, name in ((cart, "cart-service"), (order, "order-service")):
        wait_probe(svc, "ready", 200, 60, what=f"{name} ready")
        code, body = probe(svc, "live")
        assert code == 200, body
        assert_probe_shape(code, body, name)

    stack.stop_kafka()
    for svc, name in ((cart, "cart-service"), (order, "order-service")):
        body = wait_failing(svc, "ready", "kafka", 90, f"{name} not ready with the broker stopped")
        assert "broker" in body["checks"]["kafka"]["detail"]
        # live through the outage: a down dependency never asks for a restart
        code, live = probe(svc, "live")
        assert code == 200, live
        assert all(c["ok"] for c in live["checks"].values())
    # still live a while later (order-service: the consume thread keeps turning)
    for _ in range(6):
        for svc in (cart, order):
            code, live = probe(svc, "live")
            assert code == 200, live
        time.sleep(1)

    stack.start_kafka()
    for svc, name in ((cart, "cart-service"), (order, "order-service")):
        wait_probe(svc, "ready", 200, 120, what=f"{name} ready after the broker returned")
        assert probe(svc, "live")[0] == 200
    r = cart.post("/create-order", json={"orderId": unique("LR"), "itemsCount": 1})
    assert r.status_code == 201, r.text


def test_order_not_ready_while_store_cannot_be_written(services, stack, postgres):
    url = postgres.store_url(unique("probe").replace("-", "_"))
    order = services.start("order", env={"STORE_URL": url, "RETRY_BACKOFF_MS": "200,500"})
    wait_probe(order, "ready", 200, 60, what="ready on PostgreSQL")
    postgres.stop()
    try:
        send_creates(stack, services.topic, ["PGDOWN-1"])
        body = wait_failing(order, "ready", "store", 60, "not ready while PostgreSQL is stopped")
        assert body["checks"]["kafka"]["ok"]
        code, live = probe(order, "live")
        assert code == 200, live
    finally:
        postgres.start()
    wait_order(order, "PGDOWN-1", timeout=90)
    wait_probe(order, "ready", 200, 60, what="ready with PostgreSQL back")


def test_order_not_ready_while_stalled_on_an_event_retried_without_end(services, stack):
    order = services.start("order", env={"ORDER_TEST_FAIL_PREFIX": "STALL-",
                                         "ORDER_TEST_FAIL_TIMES": "1000000",
                                         "PROCESSING_MAX_RETRIES": "1000",
                                         "RETRY_BACKOFF_MS": "200",
                                         "READY_STALL_MS": "3000"})
    wait_probe(order, "ready", 200, 60, what="ready before the event")
    send_creates(stack, services.topic, ["STALL-1", "BEHIND-1"], partition=0)
    body = wait_failing(order, "ready", "progress", 60, "not ready: stalled")
    assert body["detail"] == "progress", body  # nothing else is wrong
    assert "stalled" in body["checks"]["progress"]["detail"]
    # retried, not stuck: the thread turns, so it is live
    code, live = probe(order, "live")
    assert code == 200, live
    # the failure heals (a restart without it): the records move, ready again
    order.restart(env={"ORDER_TEST_FAIL_TIMES": "0"})
    wait_order(order, "STALL-1")
    wait_order(order, "BEHIND-1")
    wait_probe(order, "ready", 200, 60, what="ready once the records moved")


def test_order_not_live_while_the_consume_thread_is_wedged(services, stack):
    order = services.start("order", env={"ORDER_TEST_COMMIT_DELAY_MS": "8000",
                                         "LIVE_CONSUMER_TIMEOUT_MS": "2000"})
    wait_probe(order, "live", 200, 30, what="live before the event")
    send_creates(stack, services.topic, ["WEDGE-1"])
    body = wait_failing(order, "live", "consumerThread", 30, "not live while the batch is held")
    assert "wedged" in body["checks"]["consumerThread"]["detail"]
    assert body["checks"]["eventLoop"]["ok"]
    # the thread turns again once the held batch commits
    wait_order(order, "WEDGE-1", timeout=60)
    wait_probe(order, "live", 200, 30, what="live once the thread turns again")
