"""Retry-safe writes and W3C trace context across both services, on the real
broker, registry and store.

Retries: a create whose delivery timed out (the broker stopped) is retried
after the broker is back; the same request gives the same order, the consumer
takes the later copies as already applied (counted, never dead-lettered), and
a different request for the same orderId is still a DUPLICATE_ORDER. With and
without an Idempotency-Key.

Trace context: a traceparent given to cart-service comes back with the same
trace id, travels in the Kafka record header, is on order-service's log lines
for that event and on the dead letter's headers; a missing one is generated,
an invalid one replaced.
"""

from __future__ import annotations

import json
import re

import pytest
import requests

from conftest import unique
from order_e2e import dlq_messages, jloads, metric, wait_for, wait_order

pytestmark = pytest.mark.slow

DELIVERY_TIMEOUT_MS = 3000
CLIENT_BOUND_S = DELIVERY_TIMEOUT_MS / 1000 + 5
TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")
GIVEN = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
GIVEN_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


def dlq_total(order) -> int:
    return order.get("/dlq/stats").json()["total_messages"]


def stored_view(details: dict) -> dict:
    """The order as order-details shows it, in the shape of the 201's "order"."""
    return {k: details[k] for k in ("orderId", "customerId", "orderDate", "items",
                                    "totalAmount", "currency")}


def ack_view(body: dict) -> dict:
    o = body["order"]
    return {k: o[k] for k in ("orderId", "customerId", "orderDate", "items", "totalAmount",
                              "currency")}


def without_date(v: dict) -> dict:
    return {k: x for k, x in v.items() if k != "orderDate"}


def post_create(cart, body: dict, key: str | None = None, timeout: float = CLIENT_BOUND_S):
    headers = {"Idempotency-Key": f'"{key}"'} if key else {}
    return requests.post(cart.url + "/create-order", json=body, headers=headers,
                         timeout=timeout)


@pytest.mark.parametrize("key,store", [(None, "sqlite"), ("retry-key-1", "sqlite"),
                                       ("retry-key-1", "postgresql")],
                         ids=["content", "idempotency-key", "idempotency-key-postgresql"])
def test_create_retried_after_a_broker_outage_is_one_order(services, stack, request, key, store):
    env = {}
    if store == "postgresql":
        pg = request.getfixturevalue("postgres")
        env["STORE_URL"] = pg.store_url(unique("retry").replace("-", "_"))
    order = services.start("order", env=env)
    assert order.get("/health").json()["store"] == store
    cart = services.start("cart", env={"DELIVERY_TIMEOUT_MS": DELIVERY_TIMEOUT_MS})
    oid = unique("RETRY")
    req = {"orderId": oid, "itemsCount": 3}
    redelivered_before = metric(order, "order_duplicates_redelivered_total")

    stack.stop_kafka()
    try:
        r = post_create(cart, req, key)
        assert r.status_code == 503, r.text
        assert "Retry-After" in r.headers
        # never sent (the broker was gone before): the answer says so
        assert "it was not written: retry the same request" in r.json()["detail"], r.text
    finally:
        stack.start_kafka()

    # the client retries the same request until it is acknowledged ...
    def retried():
        try:
            r = post_create(cart, req, key)
        except requests.RequestException:
            return None
        assert r.status_code in (201, 503), r.text
        return r if r.status_code == 201 else None
    first = wait_for(retried, 120, interval=1, what="the retried create acknowledged")
    first_body = jloads(first.text)
    # ... and once more (its answer was lost, say): a second copy in Kafka
    again = post_create(cart, req, key)
    assert again.status_code == 201, again.text
    again_body = jloads(again.text)
    assert without_date(ack_view(again_body)) == without_date(ack_view(first_body))
    assert again_body["offset"] != first_body["offset"]

    wait_for(lambda: metric(order, "order_duplicates_redelivered_total") > redelivered_before,
             60, what="the copy counted as already applied")
    details = wait_order(order, oid)
    # one order, exactly the acknowledged create (the timed-out attempt never landed)
    assert stored_view(details) == ack_view(first_body)
    assert details["status"] == "new" and len(details["statusHistory"]) == 1
    assert dlq_total(order) == 0

    # a different request for the same orderId is another order: DUPLICATE_ORDER
    conflicts = [({"orderId": oid, "itemsCount": 4}, key)]
    if key:
        conflicts.append((req, "retry-key-2"))  # same payload, another key: another intent
    for body, k in conflicts:
        c = post_create(cart, body, k)
        assert c.status_code == 201, c.text  # cart is stateless: the consumer decides
        assert without_date(ack_view(jloads(c.text))) != without_date(ack_view(first_body))
    wait_for(lambda: dlq_total(order) == len(conflicts), 60, what="the conflicts dead-lettered")
    msgs = dlq_messages(order)
    assert [m["errorReason"] for m in msgs] == ["DUPLICATE_ORDER"] * len(conflicts)
    assert all(m["key"] == oid for m in msgs)
    after = jloads(order.get("/order-details", params={"orderId": oid}).text)
    assert stored_view(after) == ack_view(first_body)
    if key:
        recs = [m for m in stack.read_all(services.topic) if m.key() == oid.encode()]
        keys = [dict(m.headers() or []).get("idempotency-key") for m in recs]
        assert keys == [b"retry-key-1", b"retry-key-1", b"retry-key-1", b"retry-key-2"]


def test_update_retry_is_applied_once(services, stack):
    order = services.start("order")
    cart = services.start("cart")
    oid = unique("UPD")
    assert cart.post("/create-order", json={"orderId": oid, "itemsCount": 1}).status_code == 201
    for _ in range(2):  # a PUT retried: the same status twice
        r = cart.put("/update-order", json={"orderId": oid, "status": "shipped"})
        assert r.status_code == 200, r.text
    r = cart.put("/update-order", json={"orderId": oid, "status": "delivered"})
    assert r.status_code == 200, r.text
    d = wait_order(order, oid, status="delivered")
    assert [h["status"] for h in d["statusHistory"]] == ["new", "shipped", "delivered"]
    assert metric(order, "order_duplicates_redelivered_total") == 1
    assert dlq_total(order) == 0


def test_malformed_idempotency_key_is_400(services):
    cart = services.start("cart")
    for value in ["no-quotes", '""', '"a";p=1', '"' + "k" * 256 + '"', '"bad\\n"']:
        r = requests.post(cart.url + "/create-order", json={"orderId": unique("K"),
                                                            "itemsCount": 1},
                          headers={"Idempotency-Key": value}, timeout=10)
        assert r.status_code == 400, (value, r.text)
        assert "Idempotency-Key" in r.json()["detail"]
    r = requests.put(cart.url + "/update-order", json={"orderId": "X", "status": "shipped"},
                     headers={"Idempotency-Key": "nope"}, timeout=10)
    assert r.status_code == 400
    ok = requests.post(cart.url + "/create-order", json={"orderId": unique("K"), "itemsCount": 1},
                       headers={"Idempotency-Key": '"' + "k" * 255 + '"'}, timeout=10)
    assert ok.status_code == 201, ok.text


def log_lines(svc) -> list[dict]:
    out = []
    for line in svc.log_text().splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            pass  # sanitizer or librdkafka text
    return out


def test_trace_context_follows_a_create_across_both_services(services, stack):
    order = services.start("order", env={"LOG_LEVEL": "debug"})
    cart = services.start("cart", env={"LOG_LEVEL": "debug"})
    oid = unique("TRACE")
    r = requests.post(cart.url + "/create-order", json={"orderId": oid, "itemsCount": 2},
                      headers={"traceparent": GIVEN}, timeout=10)
    assert r.status_code == 201, r.text
    m = TRACEPARENT.match(r.headers["traceparent"])
    assert m, r.headers["traceparent"]
    assert m.group(1) == GIVEN_TRACE
    assert m.group(2) != "00f067aa0ba902b7"  # the cart's own span, child of the caller's
    assert m.group(3) == "01"
    own = r.headers["traceparent"]

    # an UPDATE of an unknown order, dead-lettered, in another trace
    other = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"
    u = requests.put(cart.url + "/update-order", json={"orderId": unique("NOPE"),
                                                       "status": "shipped"},
                     headers={"traceparent": other}, timeout=10)
    assert u.status_code == 200, u.text
    u_own = u.headers["traceparent"]
    assert u_own.split("-")[1] == "0af7651916cd43dd8448eb211c80319c" and u_own.endswith("-00")

    wait_order(order, oid)
    wait_for(lambda: dlq_total(order) == 1, 60, what="the dead letter")
    # the Kafka record carries the cart's span as the consumer's parent
    recs = {m.key().decode(): dict(m.headers() or []) for m in stack.read_all(services.topic)}
    assert recs[oid]["traceparent"] == own.encode()
    # the dead letter keeps the original record's trace context
    dlq = stack.read_all(services.dlq_topic)
    assert len(dlq) == 1
    assert dict(dlq[0].headers())["traceparent"] == u_own.encode()

    def order_lines():
        lines = log_lines(order)
        applied = [x for x in lines if x.get("trace_id") == GIVEN_TRACE and "applied" in x["msg"]
                   and oid in x["msg"]]
        dead = [x for x in lines if x.get("trace_id") == "0af7651916cd43dd8448eb211c80319c"
                and "dead-lettered" in x["msg"]]
        return (applied, dead) if applied and dead else None
    applied, dead = wait_for(order_lines, 30, what="order-service's traced log lines")
    assert "CREATE" in applied[0]["msg"]
    # cart's lines for the same request carry the same id: the access line
    cart_lines = [x for x in log_lines(cart) if x.get("trace_id") == GIVEN_TRACE]
    assert any("POST /create-order -> 201" in x["msg"] for x in cart_lines), cart_lines
    # and order-service's own access lines carry theirs
    h = order.get("/health")
    assert TRACEPARENT.match(h.headers["traceparent"])
    tid = h.headers["traceparent"].split("-")[1]
    wait_for(lambda: any(x.get("trace_id") == tid and "GET /health" in x["msg"]
                         for x in log_lines(order)), 10, what="order-service's access line")


@pytest.mark.parametrize("given", [
    None,
    "00-00000000000000000000000000000000-00f067aa0ba902b7-01",  # zero trace id
    "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",  # zero parent id
    "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",  # upper case
    "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  # version ff
    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",     # no flags
    "garbage",
], ids=["absent", "zero-trace", "zero-parent", "upper", "version-ff", "short", "garbage"])
def test_missing_or_invalid_traceparent_is_replaced(services, given):
    cart = services.start("cart")
    headers = {"traceparent": given} if given else {}
    seen = set()
    for _ in range(2):
        r = requests.get(cart.url + "/health", headers=headers, timeout=10)
        m = TRACEPARENT.match(r.headers["traceparent"])
        assert m, r.headers["traceparent"]
        assert m.group(1) != "0" * 32 and m.group(2) != "0" * 16
        assert m.group(1) != GIVEN_TRACE
        seen.add(m.group(1))
    assert len(seen) == 2  # a new trace each time
    # also on answers the service gives before a handler runs (404)
    r = requests.get(cart.url + "/nowhere", headers=headers, timeout=10)
    assert r.status_code == 404 and TRACEPARENT.match(r.headers["traceparent"])


def test_valid_traceparent_on_order_service_queries(services):
    order = services.start("order")
    r = order.get("/order-details", params={"orderId": "NO-SUCH"}, headers={"traceparent": GIVEN})
    assert r.status_code == 404
    assert r.headers["traceparent"].split("-")[1] == GIVEN_TRACE
    r = order.get("/dlq/messages", headers={"traceparent": GIVEN})
    assert r.status_code == 200 and r.headers["traceparent"].split("-")[1] == GIVEN_TRACE
