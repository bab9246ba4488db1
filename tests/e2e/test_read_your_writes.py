"""Read-your-writes on GET /order-details (issue 14, part 2): a client waits
for its own write with waitMs and/or after=<partition>:<offset> (the position
cart-service acknowledged), against the real broker, registry and stores.

- create, then read with waitMs right after the 201 (no client-side sleep):
  200 with the created order; a read parked before the create is woken by it;
- an update read with after= shows the update, never the state before it;
- 1,000 concurrent waiters (raw sockets, one asyncio loop) all answered 200;
- waits that end: an order never created is 404 after waitMs, an after= past
  the partition's end is 504 with the store's position;
- bad waitMs / after values are 400 with a JSON detail;
- beyond READ_WAIT_MAX waiters: 503 with Retry-After; waiters whose client
  closed the connection are released at once;
- a stop with parked waiters answers them 503 and exits 0, log clean;
- two instances sharing one PostgreSQL store: a waiter on the instance that
  does not consume the order's partition is woken too (by its poll).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import socket
import time

import pytest

from conftest import unique
from order_e2e import EventWriter, create_event, health, jloads, update_event, wait_for

FAST_GROUP = {"KAFKA_PROP_SESSION_TIMEOUT_MS": "6000",
              "KAFKA_PROP_HEARTBEAT_INTERVAL_MS": "1000"}


def waiters(svc) -> int:
    """The order_read_waiters gauge of /metrics."""
    for line in svc.get("/metrics").text.splitlines():
        if line.startswith("order_read_waiters "):
            return int(float(line.split()[1]))
    raise AssertionError("order_read_waiters missing from /metrics")


def wait_waiters(svc, n: int, timeout: float = 60.0) -> None:
    wait_for(lambda: waiters(svc) == n, timeout, 0.1, what=f"{n} parked waiters")


def park(svc, query: str) -> socket.socket:
    """Sends GET /order-details?query on a raw connection; the answer is read later."""
    s = socket.create_connection(("127.0.0.1", svc.port), timeout=60)
    s.sendall(f"GET /order-details?{query} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
              .encode())
    return s


def answer(s: socket.socket) -> tuple[int, dict, str]:
    """Reads a raw connection to its close: (status, headers, body)."""
    chunks = []
    while True:
        b = s.recv(65536)
        if not b:
            break
        chunks.append(b)
    s.close()
    head, _, body = b"".join(chunks).decode().partition("\r\n\r\n")
    lines = head.split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}
    return int(lines[0].split()[1]), headers, body


def create(cart, oid: str, items: int = 1) -> dict:
    """POST /create-order; cart-service's 201 body (order, partition, offset)."""
    r = cart.post("/create-order", json={"orderId": oid, "itemsCount": items})
    assert r.status_code == 201, r.text
    return jloads(r.text)


def test_create_then_read_waits(services):
    order = services.start("order")
    cart = services.start("cart")
    oid = unique("RYW")
    created = create(cart, oid, 3)["order"]
    # right after the 201: the wait covers the consumer's lag
    r = order.get("/order-details", params={"orderId": oid, "waitMs": 20000}, timeout=40)
    assert r.status_code == 200, r.text
    d = jloads(r.text)
    assert d["orderId"] == oid and d["items"] == created["items"]
    assert d["totalAmount"] == created["totalAmount"]

    # parked before the write exists, woken by its commit
    oid2 = unique("RYW")
    with concurrent.futures.ThreadPoolExecutor(1) as ex:
        fut = ex.submit(order.get, "/order-details",
                        params={"orderId": oid2, "waitMs": 30000}, timeout=60)
        wait_waiters(order, 1)
        created = create(cart, oid2)["order"]
        got = fut.result()
    assert got.status_code == 200, got.text
    assert jloads(got.text)["items"] == created["items"]
    assert waiters(order) == 0


def test_update_visible_with_after(services):
    order = services.start("order")
    cart = services.start("cart")
    oid = unique("RYW")
    ack = create(cart, oid, 2)
    r = order.get("/order-details",
                  params={"orderId": oid, "after": f"{ack['partition']}:{ack['offset']}",
                          "waitMs": 20000}, timeout=40)
    assert r.status_code == 200, r.text
    assert jloads(r.text)["status"] == "new"
    for status in ("confirmed", "shipped", "delivered"):
        r = cart.put("/update-order", json={"orderId": oid, "status": status})
        assert r.status_code == 200, r.text
        ack = jloads(r.text)
        # after= alone waits too (its default); the answer includes this update
        r = order.get("/order-details",
                      params={"orderId": oid, "after": f"{ack['partition']}:{ack['offset']}"},
                      timeout=40)
        assert r.status_code == 200, r.text
        d = jloads(r.text)
        assert d["status"] == status, d
        assert d["statusHistory"][-1]["status"] == status


def test_waits_that_end(services):
    order = services.start("order")
    cart = services.start("cart")
    # never created: 404 once the wait is over, not before
    t0 = time.monotonic()
    r = order.get("/order-details", params={"orderId": unique("NEVER"), "waitMs": 1500},
                  timeout=30)
    assert r.status_code == 404, r.text
    assert time.monotonic() - t0 >= 1.4
    assert "not found" in r.json()["detail"]

    oid = unique("RYW")
    ack = create(cart, oid)
    p, o = ack["partition"], ack["offset"]
    r = order.get("/order-details", params={"orderId": oid, "waitMs": 20000}, timeout=40)
    assert r.status_code == 200, r.text
    # a write past the partition's end: the store cannot have applied it
    r = order.get("/order-details", params={"orderId": oid, "after": f"{p}:{o + 1000}",
                                            "waitMs": 800}, timeout=30)
    assert r.status_code == 504, r.text
    body = r.json()
    assert body["partition"] == p and body["appliedBelow"] == o + 1
    assert "not applied" in body["detail"]
    # without a wait the same question is answered at once
    r = order.get("/order-details", params={"orderId": oid, "after": f"{p}:{o + 1000}",
                                            "waitMs": 0})
    assert r.status_code == 504, r.text
    # a write that was applied: answered at once, whatever the wait
    r = order.get("/order-details", params={"orderId": oid, "after": f"{p}:{o}",
                                            "waitMs": 30000}, timeout=5)
    assert r.status_code == 200, r.text
    # the order of another write (applied) that is not there: 404 at once
    r = order.get("/order-details", params={"orderId": unique("OTHER"), "after": f"{p}:{o}",
                                            "waitMs": 30000}, timeout=5)
    assert r.status_code == 404, r.text
    assert waiters(order) == 0


def test_bad_parameters(services):
    order = services.start("order")
    bad = [{"waitMs": v} for v in ("", "-1", "abc", "30001", "1.5", "1e3", "99999999999999999999")]
    bad += [{"after": v} for v in ("", "3", "3:", ":5", "a:1", "1:-2", "1:2:3", "100000:1",
                                   "1:99999999999999999999")]
    bad += [{"after": "x", "waitMs": "100"}, {"after": "0:0", "waitMs": "-5"}]
    for params in bad:
        r = order.get("/order-details", params=dict(params, orderId="ORDER-1"))
        assert r.status_code == 400, (params, r.text)
        detail = r.json()["detail"]
        assert ("waitMs" in detail) or ("after" in detail), (params, detail)
    # orderId is still checked first
    r = order.get("/order-details", params={"orderId": "bad id", "waitMs": "100"})
    assert r.status_code == 400 and "orderId" in r.json()["detail"]
    assert waiters(order) == 0


def test_cap_and_closed_clients(services):
    order = services.start("order", env={"READ_WAIT_MAX": "3"})
    socks = [park(order, f"orderId={unique('CAP')}&waitMs=30000") for _ in range(3)]
    wait_waiters(order, 3)
    r = order.get("/order-details", params={"orderId": unique("CAP"), "waitMs": 30000})
    assert r.status_code == 503, r.text
    assert r.headers.get("Retry-After") == "1"
    assert "READ_WAIT_MAX" in r.json()["detail"]
    # a read that needs no wait is still served
    r = order.get("/order-details", params={"orderId": unique("CAP")})
    assert r.status_code == 404
    # clients that leave free their slots at once, not at their deadline
    for s in socks:
        s.close()
    wait_waiters(order, 0, timeout=10)
    s = park(order, f"orderId={unique('CAP')}&waitMs=1000")
    status, _, _ = answer(s)
    assert status == 404


def test_stop_with_parked_waiters(services):
    order = services.start("order")
    socks = [park(order, f"orderId={unique('STOP')}&waitMs=30000") for _ in range(4)]
    socks.append(park(order, "orderId=STOP-X&after=0:999999999&waitMs=30000"))
    wait_waiters(order, 5)
    assert order.stop() == 0  # exit 0, no sanitizer report
    # cut short (a wait that ran out would be 404 / 504): 503, retry elsewhere
    for s in socks:
        status, headers, body = answer(s)
        assert status == 503, body
        assert headers.get("retry-after") == "1"
        assert "stopping" in body


async def _many_waiters(port: int, ids: list[str], produce) -> list[int]:
    conns = []
    for oid in ids:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(f"GET /order-details?orderId={oid}&waitMs=30000 HTTP/1.1\r\nHost: x\r\n"
                     "Connection: close\r\n\r\n".encode())
        conns.append((reader, writer))
    for _, writer in conns:
        await writer.drain()
    await asyncio.get_running_loop().run_in_executor(None, produce)

    async def status(reader, writer) -> int:
        data = await reader.read()
        writer.close()
        return int(data.split(b" ", 2)[1]) if data else -1

    return await asyncio.wait_for(asyncio.gather(*(status(r, w) for r, w in conns)), 120)


@pytest.mark.timeout(600)
def test_thousand_concurrent_waiters(services):
    order = services.start("order")
    n = 1000
    ids = [f"{unique('MANY')}-{i}" for i in range(n)]
    writer = EventWriter(services.stack, services.topic)

    def produce():
        wait_waiters(order, n, timeout=120)  # every request is parked before its order exists
        for oid in ids:
            writer.send(create_event(oid, [("ITEM-1", 1, "1.00")]))
        writer.flush()

    statuses = asyncio.run(_many_waiters(order.port, ids, produce))
    assert statuses == [200] * n, {s: statuses.count(s) for s in set(statuses)}
    assert waiters(order) == 0


@pytest.mark.slow
def test_shared_postgres_other_instance_woken(services, postgres):
    schema = unique("ryw").replace("-", "_")
    env = dict(FAST_GROUP, STORE_URL=postgres.store_url(schema))
    a = services.start("order", env=env)
    wait_for(lambda: len(health(a)["assignedPartitions"]) == 3, 90, what="a owns every partition")
    b = services.start("order", env=env)
    wait_for(lambda: health(a)["assignedPartitions"] and health(b)["assignedPartitions"]
             and len(health(a)["assignedPartitions"]) + len(health(b)["assignedPartitions"]) == 3,
             90, what="the partitions shared by a and b")
    owned_by_a = sorted(set(health(a)["assignedPartitions"]) - set(health(b)["assignedPartitions"]))
    p = owned_by_a[0]
    writer = EventWriter(services.stack, services.topic)
    oid = unique("SHARED")
    with concurrent.futures.ThreadPoolExecutor(1) as ex:
        fut = ex.submit(b.get, "/order-details", params={"orderId": oid, "waitMs": 30000},
                        timeout=60)
        wait_waiters(b, 1)
        writer.send(create_event(oid, [("ITEM-1", 2, "3.50")]), partition=p)
        writer.flush()
        r = fut.result()
    assert r.status_code == 200, r.text
    assert jloads(r.text)["orderId"] == oid
    assert p not in health(b)["assignedPartitions"]  # b never consumed it: its poll saw a's commit

    # after= on b for an update that a applies
    writer.delivered.clear()
    writer.send(update_event(oid, "shipped"), partition=p)
    writer.flush()
    (part, off), = writer.delivered
    r = b.get("/order-details", params={"orderId": oid, "after": f"{part}:{off}",
                                        "waitMs": 30000}, timeout=60)
    assert r.status_code == 200, r.text
    assert jloads(r.text)["status"] == "shipped"
