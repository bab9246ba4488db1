"""Smoke test of the whole path with the real binaries: an order created at
cart-service shows up at order-service, and both stop cleanly (exit 0, no
sanitizer report). Also proves the `services` launcher in conftest.py."""

from conftest import unique, wait_for


def test_order_flows_from_cart_to_order_service(stack, services):
    order = services.start("order")
    cart = services.start("cart")
    assert cart.get("/health").status_code == 200
    assert order.get("/health").status_code == 200

    oid = unique("ORDER-SMOKE")
    r = cart.post("/create-order", json={"orderId": oid, "itemsCount": 3})
    assert r.status_code in (200, 201, 202), r.text

    def details():
        r = order.get("/order-details", params={"orderId": oid})
        return r if r.status_code == 200 else None

    got = wait_for(details)
    assert got, f"order {oid} never reached order-service; see {order.log}"
    body = got.json()
    assert body["orderId"] == oid
    assert len(body["items"]) == 3

    # the event went through the topic the launcher gave both services
    keys = [m.key() for m in stack.read_all(services.topic)]
    assert oid.encode() in keys

    cart.stop()
    order.stop()


def test_launcher_kill_and_restart(stack, services):
    """kill() is a crash (no exit-status judgement); restart() brings the same
    service back on the same port with the same settings."""
    cart = services.start("cart")
    port = cart.port
    cart.kill()
    assert not cart.alive()
    cart.restart()
    assert cart.alive() and cart.port == port
    assert cart.get("/health").status_code == 200
    assert cart.log_text().count("---- start") == 2
