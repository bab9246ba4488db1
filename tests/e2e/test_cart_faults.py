"""cart-service under faults of the real stack: the broker stopped and
restarted, the broker hung (SIGSTOP), the registry down at start-up. No restart of the service in either
case; every answer is bounded by the configured delivery timeout."""

from __future__ import annotations

import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from conftest import unique

pytestmark = pytest.mark.slow

DELIVERY_TIMEOUT_MS = 3000
# librdkafka's own timers plus an HTTP round trip: the client never waits longer
CLIENT_BOUND_S = DELIVERY_TIMEOUT_MS / 1000 + 2


def poll_until(fn, timeout):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(0.5)
    return last


def test_broker_down_gives_bounded_503_then_recovers(services, stack):
    cart = services.start("cart", env={"DELIVERY_TIMEOUT_MS": DELIVERY_TIMEOUT_MS})
    assert cart.post("/create-order", json={"orderId": unique("UP"), "itemsCount": 1}
                     ).status_code == 201
    stack.stop_kafka()
    try:
        for _ in range(3):
            r = requests.post(cart.url + "/create-order",
                              json={"orderId": unique("DOWN"), "itemsCount": 1},
                              timeout=CLIENT_BOUND_S)
            assert r.status_code == 503, r.text
            assert int(r.headers["Retry-After"]) > 0
            assert r.json()["detail"]
        r = requests.put(cart.url + "/update-order",
                         json={"orderId": unique("DOWN"), "status": "shipped"},
                         timeout=CLIENT_BOUND_S)
        assert r.status_code == 503
        health = poll_until(lambda: cart.get("/health").status_code == 503, 30)
        assert health, "health still 200 with the broker stopped"
        h = cart.get("/health")
        assert h.json()["status"] == "unavailable" and h.json()["detail"]
    finally:
        stack.start_kafka()

    def created():
        try:
            r = requests.post(cart.url + "/create-order",
                              json={"orderId": unique("BACK"), "itemsCount": 2},
                              timeout=CLIENT_BOUND_S)
        except requests.Timeout:
            pytest.fail("create-order exceeded the delivery timeout bound")
        assert r.status_code in (201, 503), r.text
        return r.status_code == 201

    assert poll_until(created, 90), "create-order never recovered after the broker restart"
    assert poll_until(lambda: cart.get("/health").status_code == 200, 30)
    assert cart.alive()


def test_registry_down_at_start_then_registered_in_background(services, stack):
    stack.stop_registry()
    try:
        cart = services.start("cart", wait=False)
        r = poll_until(lambda: _get(cart, "/health"), 20)
        assert r is not None and r.status_code == 503
        assert "schema" in r.json()["detail"]
        w = cart.post("/create-order", json={"orderId": unique("EARLY"), "itemsCount": 1})
        assert w.status_code == 503
        assert "Retry-After" in w.headers
    finally:
        stack.start_registry()
    cart.wait_healthy(timeout=60)
    r = cart.post("/create-order", json={"orderId": unique("LATE"), "itemsCount": 1})
    assert r.status_code == 201, r.text


def _get(svc, path):
    try:
        return svc.get(path, timeout=2)
    except requests.RequestException:
        return None


def test_pending_writes_bounded_while_the_broker_hangs(services, stack):
    """A broker that hangs (SIGSTOP: connections stay open, nothing is
    answered) must not let cart-service pile up writes without end: beyond
    MAX_PENDING_WRITES every write is refused at once with 503 and
    Retry-After, on every HTTP thread, and the ones that got in are answered
    201 once the broker runs again."""
    limit, sent = 5, 40
    cart = services.start("cart", env={"MAX_PENDING_WRITES": limit, "HTTP_THREADS": 2,
                                       "DELIVERY_TIMEOUT_MS": 60000})
    assert cart.post("/create-order", json={"orderId": unique("UP"), "itemsCount": 1}
                     ).status_code == 201
    kafka_pid = int((stack.dir / "pid" / "kafka.pid").read_text().strip())
    os.kill(kafka_pid, signal.SIGSTOP)
    resumed = False
    pool = ThreadPoolExecutor(max_workers=sent)
    try:
        def create(i):
            return requests.post(cart.url + "/create-order",
                                 json={"orderId": unique(f"HANG{i}-"), "itemsCount": 1},
                                 timeout=90)
        futures = [pool.submit(create, i) for i in range(sent)]
        refused = []
        deadline = time.monotonic() + 30
        while len(refused) < sent - limit and time.monotonic() < deadline:
            refused = [f.result() for f in futures if f.done()]
            time.sleep(0.2)
        assert len(refused) == sent - limit, [r.status_code for r in refused]
        for r in refused:
            assert r.status_code == 503, r.text
            assert r.json()["detail"] == "too many writes waiting for Kafka"
            assert int(r.headers["Retry-After"]) > 0
        assert cart.get("/health").json()["pendingWrites"] == limit
        os.kill(kafka_pid, signal.SIGCONT)
        resumed = True
        waiting = [f.result() for f in futures if f.result() not in refused]
        assert [r.status_code for r in waiting] == [201] * limit, [r.text for r in waiting]
    finally:
        if not resumed:
            os.kill(kafka_pid, signal.SIGCONT)
        pool.shutdown(wait=True)
    assert poll_until(lambda: cart.get("/health").json()["pendingWrites"] == 0, 10)
    assert cart.alive()
