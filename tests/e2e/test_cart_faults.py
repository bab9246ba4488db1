"""cart-service under faults of the real stack: the broker stopped and
restarted, the registry down at start-up. No restart of the service in either
case; every answer is bounded by the configured delivery timeout."""

from __future__ import annotations

import time

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
