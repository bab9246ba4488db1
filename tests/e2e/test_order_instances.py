"""order-service as several processes over time (issue 16): what a crash, a
zombie and a changing group of instances must not break.

- a poison record that kills the process on every attempt reaches the DLQ
  after its attempts (the attempts are counted in the store, before each one
  runs), and the partition moves on;
- a zombie: an instance stopped with SIGSTOP past the session timeout while
  it holds a batch, then resumed: its late commit is fenced and the state is
  unchanged (PostgreSQL, two instances);
- three instances on PostgreSQL under create/update load through
  cart-service: one SIGKILLed and restarted, a fourth added, one removed
  gracefully, while the load runs; afterwards every acknowledged order is
  stored once, as acknowledged, and every instance answers the same.
"""

from __future__ import annotations

import concurrent.futures
import os
import signal
import threading
import time
from decimal import Decimal

import pytest
import requests

from conftest import unique
from order_e2e import (EventWriter, create_event, dlq_messages, health, jloads, order_details,
                       update_event, wait_for, wait_order)
from test_order_faults import dlq_total

pytestmark = pytest.mark.slow

# A short session: a stopped or killed member leaves the group within seconds
# (6 s is the broker's group.min.session.timeout.ms).
FAST_GROUP = {"KAFKA_PROP_SESSION_TIMEOUT_MS": "6000",
              "KAFKA_PROP_HEARTBEAT_INTERVAL_MS": "1000"}


def assigned(svc) -> list[int]:
    return health(svc)["assignedPartitions"]


def details_all(svcs, ids) -> None:
    """Every instance answers every orderId, and they all answer the same."""
    def one(oid):
        with requests.Session() as s:
            answers = []
            for svc in svcs:
                r = s.get(svc.url + "/order-details", params={"orderId": oid}, timeout=10)
                answers.append((r.status_code, r.text))
        return oid, answers

    bad = []
    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        for oid, answers in ex.map(one, sorted(ids), chunksize=32):
            if any(a != answers[0] for a in answers) or answers[0][0] != 200:
                bad.append((oid, answers))
    assert not bad, f"{len(bad)} orderIds answered differently or not at all: {bad[:2]}"


def dlq_checks(svc, acked_ids=()) -> list[dict]:
    msgs: list[dict] = []
    while True:  # pages of at most 1000
        page = dlq_messages(svc, limit=1000, offset=len(msgs))
        msgs += page
        if len(page) < 1000:
            break
    where = [(m["originalPartition"], m["originalOffset"]) for m in msgs]
    assert len(where) == len(set(where)), f"a dead letter written twice: {msgs[:4]}"
    in_dlq = {m["key"] for m in msgs} & set(acked_ids)
    assert not in_dlq, f"acknowledged orders in the DLQ: {sorted(in_dlq)[:5]}"
    return msgs


# ---- a poison record --------------------------------------------------------

def test_poison_record_reaches_the_dlq_after_its_attempts(services, stack):
    retries = 2
    order = services.start("order", env={"ORDER_TEST_CRASH_PREFIX": "POISON-",
                                         "PROCESSING_MAX_RETRIES": str(retries),
                                         "RETRY_BACKOFF_MS": "100"}, wait=False)
    w = EventWriter(stack, services.topic)
    w.send(create_event("POISON-1", [("I", 1, "1.00")]), partition=0)
    w.send(create_event("AFTER-POISON", [("I", 1, "1.00")]), partition=0)
    w.flush()
    crashes = 0
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        if not order.alive():
            assert order.proc.returncode == 70, order._tail()
            crashes += 1
            assert crashes <= retries + 3, f"still crashing after {crashes} attempts"
            order._spawn()  # as a supervisor would
            continue
        try:
            code, _ = order_details(order, "AFTER-POISON")
        except requests.RequestException:
            code = 0
        if code == 200:
            break
        time.sleep(0.2)
    else:
        pytest.fail(f"the record behind the poison one was never applied ({crashes} crashes)")
    # the first crash raises the suspicion; then each attempt is counted before it runs
    assert crashes == retries + 2, crashes
    msgs = dlq_checks(order)
    assert len(msgs) == 1, msgs
    (m,) = msgs
    assert m["key"] == "POISON-1" and m["errorReason"] == "PROCESSING_FAILED", m
    assert m["retryCount"] == retries and m["originalPartition"] == 0, m
    assert "killed the process" in m["errorMessage"], m
    assert order_details(order, "POISON-1")[0] == 404
    # and it stays dealt with: a graceful restart neither crashes nor writes it again
    order.restart()
    wait_order(order, "AFTER-POISON")
    time.sleep(2)
    assert order.alive() and dlq_total(order) == 1


# ---- a zombie ---------------------------------------------------------------

def test_zombie_commit_is_fenced(services, stack, postgres):
    url = postgres.store_url(unique("zombie").replace("-", "_"))
    env = dict(FAST_GROUP, STORE_URL=url)
    zombie = services.start("order", env=dict(env, ORDER_TEST_COMMIT_DELAY_MS="5000"))
    wait_for(lambda: len(assigned(zombie)) == 3, 60, what="the first instance owns all")
    w = EventWriter(stack, services.topic)
    first = [f"Z-{i:03d}" for i in range(30)]
    mark = len(zombie.log_text())
    for oid in first:
        w.send(create_event(oid, [("I", 1, "2.00")]))
    w.flush()
    wait_for(lambda: "holding the batch" in zombie.log_text()[mark:], 60,
             what="the first instance holding a batch")
    os.kill(zombie.proc.pid, signal.SIGSTOP)
    try:
        owner = services.start("order", env=env)
        wait_for(lambda: len(assigned(owner)) == 3, 90, what="the new owner holds every partition")
        later = [f"Z-NEW-{i:03d}" for i in range(10)]
        for oid in first:
            w.send(update_event(oid, "shipped"))
        for oid in later:
            w.send(create_event(oid, [("I", 3, "1.50")]))
        w.flush()
        for oid in first:
            wait_order(owner, oid, status="shipped")
        for oid in later:
            wait_order(owner, oid)
        fence_mark = len(zombie.log_text())
    finally:
        os.kill(zombie.proc.pid, signal.SIGCONT)
    wait_for(lambda: "fenced commit" in zombie.log_text()[fence_mark:], 60,
             what="the zombie's commit fenced")
    # the group settles with both
    wait_for(lambda: len(assigned(zombie)) + len(assigned(owner)) == 3 and health(zombie)["lag"]
             == 0 and health(owner)["lag"] == 0, 90, what="both instances settled")
    for oid in first:
        _, d = order_details(owner, oid)
        assert [h["status"] for h in d["statusHistory"]] == ["new", "shipped"], (oid, d)
    for oid in later:
        _, d = order_details(owner, oid)
        assert [h["status"] for h in d["statusHistory"]] == ["new"], (oid, d)
    details_all([zombie, owner], first + later)
    assert dlq_total(owner) == 0, dlq_messages(owner)[:3]
    schema = url.rsplit("%3D", 1)[1]
    assert postgres.value(f'SELECT count(*) FROM "{schema}".orders') == str(len(first) +
                                                                            len(later))
    assert postgres.value(f'SELECT count(*) FROM "{schema}".status_history') == str(len(first))
    assert zombie.alive() and owner.alive()


# ---- a changing group under load ---------------------------------------------

class CreateUpdateLoad:
    """Client threads creating orders through cart-service, and updating every
    third acknowledged one to "shipped"; every answer is recorded."""

    def __init__(self, cart, prefix: str, clients: int = 12, rate: float = 120.0):
        self.cart = cart
        self.prefix = prefix
        self.rate = rate
        self.lock = threading.Lock()
        self.n = 0
        self.next_slot = 0.0
        self.acked: dict[str, dict] = {}    # orderId -> the order the 201 returned
        self.shipped: set[str] = set()      # updates answered 200
        self.unsure: set[str] = set()       # updates answered otherwise (may have landed)
        self.other: list = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(clients)]

    def start(self) -> "CreateUpdateLoad":
        for t in self._threads:
            t.start()
        return self

    def _next(self) -> tuple[str, float]:
        with self.lock:
            now = time.monotonic()
            slot = max(now, self.next_slot)
            self.next_slot = slot + 1.0 / self.rate
            oid = f"{self.prefix}-{self.n:06d}"
            self.n += 1
        return oid, slot - now

    def _run(self) -> None:
        with requests.Session() as s:
            while not self._stop.is_set():
                oid, wait = self._next()
                if wait > 0:
                    time.sleep(wait)
                try:
                    r = s.post(self.cart.url + "/create-order",
                               json={"orderId": oid, "itemsCount": 1 + len(oid) % 4}, timeout=8)
                except requests.RequestException as e:
                    with self.lock:
                        self.other.append((oid, repr(e)))
                    continue
                if r.status_code != 201:
                    if r.status_code != 503:
                        with self.lock:
                            self.other.append((oid, r.status_code, r.text[:200]))
                    continue
                with self.lock:
                    self.acked[oid] = jloads(r.text)["order"]
                if int(oid[-6:]) % 3:
                    continue
                try:
                    u = s.put(self.cart.url + "/update-order",
                              json={"orderId": oid, "status": "shipped"}, timeout=8)
                    ok = u.status_code == 200
                except requests.RequestException:
                    ok = False
                with self.lock:
                    (self.shipped if ok else self.unsure).add(oid)

    def wait_acked(self, n: int, timeout: float = 120.0) -> None:
        wait_for(lambda: len(self.acked) >= n, timeout, 0.2, what=f"{n} acknowledged creates")

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(20)
            assert not t.is_alive(), "a client thread did not finish"


def test_three_instances_kill_add_remove_under_load(services, stack, postgres):
    schema = unique("inst").replace("-", "_")
    env = dict(FAST_GROUP, STORE_URL=postgres.store_url(schema))
    a = services.start("order", env=env)
    b = services.start("order", env=env)
    c = services.start("order", env=env)
    cart = services.start("cart")
    wait_for(lambda: sum(len(assigned(s)) for s in (a, b, c)) == 3, 90,
             what="three partitions spread over the group")
    load = CreateUpdateLoad(cart, "INST").start()
    try:
        load.wait_acked(400)
        b.kill()                      # SIGKILL, mid-batch as it may be
        load.wait_acked(900)
        b._spawn()                    # restarted on the same store
        b.wait_healthy(90)
        load.wait_acked(1400)
        d = services.start("order", env=env)   # a fourth joins
        load.wait_acked(1900)
        c.stop()                      # one leaves gracefully (exit 0)
        load.wait_acked(2500)
    finally:
        load.stop()
    live = [a, b, d]
    assert not load.other, load.other[:5]

    acked = load.acked
    keys = {m.key().decode() for m in stack.read_all(services.topic, timeout=120)}
    assert set(acked) <= keys, "acknowledged creates missing from Kafka"

    def drained():
        hs = [health(s) for s in live]
        stored = int(postgres.value(f'SELECT count(*) FROM "{schema}".orders'))
        return (sum(len(h["assignedPartitions"]) for h in hs) == 3
                and all(h["lag"] == 0 for h in hs) and stored >= len(keys))
    wait_for(drained, 180, 0.5, what="every record applied by the remaining instances")

    rows = postgres.psql(f'SELECT order_id, customer_id, total_cents, status, history_len'
                         f' FROM "{schema}".orders')
    stored = {}
    for line in rows.splitlines():
        oid, cust, total, status, hlen = line.split("|")
        assert oid not in stored, f"{oid} stored twice"
        stored[oid] = (cust, int(total), status, int(hlen))
    assert set(stored) == keys, (len(stored), len(keys))
    bad = []
    for oid, want in acked.items():
        cust, total, status, hlen = stored[oid]
        want_total = int(Decimal(str(want["totalAmount"])) * 100)
        if cust != want["customerId"] or total != want_total:
            bad.append((oid, "content", stored[oid], want))
        if oid in load.shipped:
            ok = status == "shipped" and hlen == 2
        elif oid in load.unsure:
            ok = (status, hlen) in (("new", 1), ("shipped", 2))
        else:
            ok = status == "new" and hlen == 1
        if not ok:
            bad.append((oid, "status", status, hlen))
    assert not bad, f"{len(bad)} acknowledged orders wrong: {bad[:3]}"
    dupl = postgres.value(f'SELECT count(*) FROM (SELECT order_id, status FROM "{schema}".'
                          f'status_history GROUP BY 1, 2 HAVING count(*) > 1) x')
    assert dupl == "0", "an update applied twice"
    dlq_checks(a, acked)
    details_all(live, keys)
