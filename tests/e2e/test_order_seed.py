"""The seed's whole scenario (README steps 1-12) through both real services,
with exact status codes and bodies: cart-service publishes, order-service
materializes, dead-letters, and reports."""

import base64
import re

from order_e2e import jloads, shipping, wait_for, wait_order

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
ORDER_KEYS = {"orderId", "customerId", "orderDate", "items", "totalAmount", "currency", "status",
              "shippingCost", "createdAt", "updatedAt", "statusHistory"}
DLQ_KEYS = {"partition", "offset", "timestamp", "key", "errorCategory", "errorReason",
            "errorMessage", "retryCount", "originalTopic", "originalPartition", "originalOffset",
            "originalTimestamp", "failedAt", "value", "event"}


def expected_order(created: dict) -> dict:
    """order-details as it must look right after the CREATE, from cart's 201 body."""
    o = created["order"]
    return {k: o[k] for k in ("orderId", "customerId", "orderDate", "items", "totalAmount",
                              "currency", "status")} | {"shippingCost": shipping(o["totalAmount"])}


def check_order(body: dict, created: dict, status: str, history: list[str]) -> None:
    assert set(body) == ORDER_KEYS
    exp = expected_order(created)
    for k, v in exp.items():
        if k != "status":
            assert body[k] == v, k
    assert body["status"] == status
    assert [h["status"] for h in body["statusHistory"]] == history
    assert body["createdAt"] == body["statusHistory"][0]["at"]
    assert body["updatedAt"] == body["statusHistory"][-1]["at"]
    for t in [body["createdAt"], body["updatedAt"]] + [h["at"] for h in body["statusHistory"]]:
        assert ISO.match(t), t


def test_seed_scenario(services):
    order = services.start("order")
    cart = services.start("cart")

    # 1, 2: create two orders
    r1 = cart.post("/create-order", json={"orderId": "ORDER-001", "itemsCount": 3})
    assert r1.status_code == 201, r1.text
    c1 = jloads(r1.text)
    r2 = cart.post("/create-order", json={"orderId": "ORDER-002", "itemsCount": 5})
    assert r2.status_code == 201, r2.text
    c2 = jloads(r2.text)
    assert len(c1["order"]["items"]) == 3 and len(c2["order"]["items"]) == 5

    # 3: order details, with the exact 2% shipping cost and two-decimal money
    d1 = wait_order(order, "ORDER-001")
    check_order(d1, c1, "new", ["new"])
    d2 = wait_order(order, "ORDER-002")
    check_order(d2, c2, "new", ["new"])
    raw = order.get("/order-details", params={"orderId": "ORDER-002"}).text
    assert re.search(r'"totalAmount":\d+\.\d\d[,}]', raw)
    assert re.search(r'"shippingCost":\d+\.\d\d[,}]', raw)

    # 4: every orderId on the topic
    r = order.get("/getAllOrderIdsFromTopic", params={"topic": services.topic})
    assert r.status_code == 200
    assert r.json() == {"topic": services.topic, "orderIds": ["ORDER-001", "ORDER-002"],
                        "count": 2}

    # 5, 6: update and verify
    r = cart.put("/update-order", json={"orderId": "ORDER-001", "status": "shipped"})
    assert r.status_code == 200, r.text
    d1 = wait_order(order, "ORDER-001", status="shipped")
    check_order(d1, c1, "shipped", ["new", "shipped"])

    # 7: a missing required field
    r = cart.post("/create-order", json={"itemsCount": 3})
    assert r.status_code == 422
    assert "detail" in r.json()

    # 8: update of an order that does not exist -> accepted by cart, DLQ in order-service
    r = cart.put("/update-order", json={"orderId": "ORDER-NONEXISTENT", "status": "confirmed"})
    assert r.status_code == 200, r.text
    # 9: duplicate create -> accepted by cart, DLQ in order-service
    r = cart.post("/create-order", json={"orderId": "ORDER-001", "itemsCount": 2})
    assert r.status_code == 201, r.text
    dup_value_order = jloads(r.text)["order"]

    # 10: the DLQ
    def stats():
        s = order.get("/dlq/stats").json()
        return s if s["total_messages"] >= 2 else None
    s = wait_for(stats, 60, what="two DLQ entries")
    assert s == {"topic": services.dlq_topic, "total_messages": 2,
                 "error_categories": {"NO_RETRY_DLQ": 2},
                 "error_reasons": {"ORDER_NOT_FOUND": 1, "DUPLICATE_ORDER": 1}}

    r = order.get("/dlq/messages")
    assert r.status_code == 200
    page = jloads(r.text)
    assert page["topic"] == services.dlq_topic
    assert page["total"] == 2 and page["count"] == 2
    assert page["offset"] == 0 and page["limit"] == 10
    m0, m1 = page["messages"]
    for m in (m0, m1):
        assert set(m) == DLQ_KEYS
        assert m["errorCategory"] == "NO_RETRY_DLQ"
        assert m["retryCount"] == 0
        assert m["originalTopic"] == services.topic
        assert ISO.match(m["failedAt"]) and ISO.match(m["originalTimestamp"])
    assert (m0["key"], m0["errorReason"]) == ("ORDER-NONEXISTENT", "ORDER_NOT_FOUND")
    assert m0["event"]["eventType"] == "UPDATE"
    assert m0["event"]["payload"] == {"status": "confirmed"}
    assert (m1["key"], m1["errorReason"]) == ("ORDER-001", "DUPLICATE_ORDER")
    assert m1["event"]["payload"]["customerId"] == dup_value_order["customerId"]
    assert m1["event"]["payload"]["totalAmount"] == dup_value_order["totalAmount"]
    # the value is the original wire-format record (magic byte 0 + schema id + Avro)
    assert base64.b64decode(m1["value"])[0] == 0

    r = order.get("/dlq/messages", params={"limit": 1, "offset": 0})
    assert r.status_code == 200
    one = jloads(r.text)
    assert one["count"] == 1 and one["messages"] == [m0]
    r = order.get("/dlq/messages", params={"limit": 1, "offset": 1})
    assert jloads(r.text)["messages"] == [m1]
    r = order.get("/dlq/messages", params={"limit": 5, "offset": 2})
    assert jloads(r.text)["messages"] == []

    # the duplicate did not touch the stored order
    d1 = wait_order(order, "ORDER-001", status="shipped")
    check_order(d1, c1, "shipped", ["new", "shipped"])
    r = order.get("/order-details", params={"orderId": "ORDER-NONEXISTENT"})
    assert r.status_code == 404 and "detail" in r.json()

    # 12: health of both
    rc = cart.get("/health")
    assert rc.status_code == 200
    ro = order.get("/health")
    assert ro.status_code == 200
    h = ro.json()
    assert h["status"] == "ok"
    assert sorted(h["assignedPartitions"]) == [0, 1, 2]
    assert h["ordersStored"] == 2
    assert h["lag"] == 0


def test_order_api_errors(services):
    order = services.start("order")
    cases = [
        ("/order-details", {}, 400),
        ("/order-details", {"orderId": ""}, 400),
        ("/order-details", {"orderId": "x" * 65}, 400),
        ("/order-details", {"orderId": "bad id"}, 400),
        ("/order-details", {"orderId": "NOPE-1"}, 404),
        ("/getAllOrderIdsFromTopic", {}, 400),
        ("/getAllOrderIdsFromTopic", {"topic": "__consumer_offsets"}, 400),
        ("/getAllOrderIdsFromTopic", {"topic": "some-other-topic"}, 400),
        ("/dlq/messages", {"limit": "0"}, 400),
        ("/dlq/messages", {"limit": "1001"}, 400),
        ("/dlq/messages", {"limit": "abc"}, 400),
        ("/dlq/messages", {"limit": "-1"}, 400),
        ("/dlq/messages", {"offset": "-5"}, 400),
        ("/dlq/messages", {"offset": "1.5"}, 400),
        ("/dlq/messages", {"limit": "1000", "offset": "0"}, 200),
        ("/nope", {}, 404),
    ]
    for path, params, code in cases:
        r = order.get(path, params=params)
        assert r.status_code == code, (path, params, r.status_code, r.text)
        assert "application/json" in r.headers["Content-Type"]
        if code >= 400:
            assert isinstance(r.json()["detail"], str) and r.json()["detail"]
    r = order.post("/order-details", json={})
    assert r.status_code == 405
    assert "GET" in r.headers.get("Allow", "")
    # the DLQ topic may be listed too: it exists (created at start-up) and is empty
    r = order.get("/getAllOrderIdsFromTopic", params={"topic": services.dlq_topic})
    assert r.status_code == 200
    assert r.json() == {"topic": services.dlq_topic, "orderIds": [], "count": 0}
    assert order.get("/dlq/stats").json() == {"topic": services.dlq_topic, "total_messages": 0,
                                              "error_categories": {}, "error_reasons": {}}


def test_get_all_ids_topic_missing_is_404(services, stack):
    """An allowed name whose topic does not exist (deleted) answers 404."""
    order = services.start("order")
    admin = stack.admin()
    fut = admin.delete_topics([services.dlq_topic], operation_timeout=30)
    fut[services.dlq_topic].result(timeout=30)

    def gone():
        r = order.get("/getAllOrderIdsFromTopic", params={"topic": services.dlq_topic})
        return [r] if r.status_code == 404 else None  # a 4xx Response is falsy
    (r,) = wait_for(gone, 30, what="404 for the deleted topic")
    assert "does not exist" in r.json()["detail"]
