"""A 201 that survives the loss of a broker (issue 12), on a three-broker
KRaft cluster (three nodes, each broker + controller, started by
scripts/stack.sh with KAFKA_BROKERS=3: the `stack3` fixture).

- Both topics are created with replication factor 3 and min.insync.replicas
  2 by default ("auto"), read back through the Admin API.
- Under a create/update load, the leader of a partition is SIGKILLed, then
  the active controller, each restarted after its partitions have moved:
  every acknowledged create is in Kafka once and materialized once with the
  acknowledged content, every acknowledged update applied once, nothing in
  the DLQ; the 201s come back on the dead leader's partitions after the
  election (time and 503 count reported).
- With two of three brokers down, creates answer 503 with Retry-After within
  the delivery timeout, and succeed again once one broker is back.
- With one broker down (not the group's coordinator nor the controller),
  the events of the partitions that moved away from it are materialized
  without pauses (at most one read with waitMs of 16 s of them waits more
  than 300 ms; a consume thread that stalls every 5 s makes three).

Every wait is bounded, and the load stops after a fixed number of answers.
Figures are printed as `[three-brokers] {json}` lines (pytest -s shows them)
and appended to ORDERSTREAM_SOAK_DIR/results.jsonl when that is set;
ORDERSTREAM_SOAK=1 (`make soak`) runs more kill rounds and a longer load.
"""

from __future__ import annotations

import collections
import concurrent.futures
import json
import os
import threading
import time
from decimal import Decimal
from pathlib import Path

import pytest
import requests

from conftest import ROOT, unique
from order_e2e import health, jloads, wait_for
from test_order_faults import dlq_total

pytestmark = pytest.mark.slow

SOAK = os.environ.get("ORDERSTREAM_SOAK") == "1"
SOAK_DIR = os.environ.get("ORDERSTREAM_SOAK_DIR")
# cart-service's default: longer than the stack's broker fencing time (4 s),
# so the write stall after a SIGKILL is waited out instead of timing out. A
# timeout in flight makes librdkafka 2.0.2 bump the idempotent producer's
# epoch, which can write acknowledged events twice (docs/RELIABILITY.md).
DELIVERY_TIMEOUT_MS = 10000
# where no write can succeed (two brokers down), a short one keeps the test quick
DOWN_DELIVERY_TIMEOUT_MS = 3000
# the service's own bound plus an HTTP round trip under ASan on a busy machine
CLIENT_BOUND_S = DELIVERY_TIMEOUT_MS / 1000 + 2
DOWN_CLIENT_BOUND_S = DOWN_DELIVERY_TIMEOUT_MS / 1000 + 2
CLIENTS = 16
RATE = 200 if SOAK else 100   # requests per second, all clients together
BEFORE = 3000 if SOAK else 500  # answers before the first kill
AFTER = 6000 if SOAK else 600   # 2xx answers after the last restart
ROUNDS = 3 if SOAK else 1       # leader kill + controller kill, this many times
UPDATE_EVERY = 3                # one request in three updates an acknowledged order
STATUSES = ("confirmed", "processing", "shipped", "delivered", "cancelled", "pending")


def report(name: str, figures: dict) -> None:
    line = json.dumps({"test": name, **figures})
    print(f"\n[three-brokers] {line}")
    if SOAK_DIR:
        d = Path(SOAK_DIR)
        d = d if d.is_absolute() else ROOT / d
        d.mkdir(parents=True, exist_ok=True)
        with open(d / "results.jsonl", "a") as f:
            f.write(line + "\n")


class MixedLoad:
    """CLIENTS threads creating orders with fresh ids and, one request in
    UPDATE_EVERY, updating an order whose create was acknowledged (each
    order at most once, so its expected history is known); paced to RATE."""

    def __init__(self, cart, prefix: str):
        self.cart = cart
        self.prefix = prefix
        self.ids = iter(range(10 ** 9))
        self.lock = threading.Lock()
        self.next_slot = 0.0
        self.n = 0
        self.created: dict[str, dict] = {}    # orderId -> order the 201 returned
        self.updated: dict[str, str] = {}     # orderId -> status the 200 acknowledged
        self.refused: dict[str, float] = {}   # "C:id" / "U:id" -> latency of its 503
        self.other: list[tuple[str, str]] = []
        # (answered at, code, partition or -1, sent at)
        self.answers: list[tuple[float, int, int, float]] = []
        self.to_update: collections.deque[str] = collections.deque()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(CLIENTS)]

    def start(self) -> "MixedLoad":
        for t in self._threads:
            t.start()
        return self

    def _next(self) -> tuple[str, str]:
        with self.lock:
            now = time.monotonic()
            slot = max(now, self.next_slot)
            self.next_slot = slot + 1.0 / RATE
            self.n += 1
            if self.n % UPDATE_EVERY == 0 and self.to_update:
                job = ("U", self.to_update.popleft())
            else:
                job = ("C", f"{self.prefix}-{next(self.ids):06d}")
        if slot > now:
            time.sleep(slot - now)
        return job

    def _run(self) -> None:
        s = requests.Session()
        try:
            while not self._stop.is_set():
                kind, oid = self._next()
                status = STATUSES[len(oid) % len(STATUSES)]
                t0 = time.monotonic()
                try:
                    if kind == "C":
                        r = s.post(self.cart.url + "/create-order",
                                   json={"orderId": oid, "itemsCount": 1 + len(oid) % 5},
                                   timeout=CLIENT_BOUND_S)
                    else:
                        r = s.put(self.cart.url + "/update-order",
                                  json={"orderId": oid, "status": status},
                                  timeout=CLIENT_BOUND_S)
                    code, text, retry_after = r.status_code, r.text, r.headers.get("Retry-After")
                except requests.Timeout:
                    code, text, retry_after = -1, f"no answer within {CLIENT_BOUND_S} s", None
                except requests.RequestException as e:
                    code, text, retry_after = -2, f"{type(e).__name__}: {e}", None
                t1 = time.monotonic()
                with self.lock:
                    if kind == "C" and code == 201:
                        body = jloads(text)
                        self.created[oid] = body["order"]
                        self.to_update.append(oid)
                        self.answers.append((t1, code, body["partition"], t0))
                    elif kind == "U" and code == 200:
                        self.updated[oid] = status
                        self.answers.append((t1, code, jloads(text)["partition"], t0))
                    elif code == 503 and retry_after:
                        self.refused[f"{kind}:{oid}"] = t1 - t0
                        self.answers.append((t1, code, -1, t0))
                    else:
                        self.other.append((f"{kind}:{oid}", f"{code}: {text[:200]}"))
        finally:
            s.close()

    def acked(self) -> int:
        return len(self.created) + len(self.updated)

    def wait_acked(self, n: int, timeout: float, what: str) -> None:
        wait_for(lambda: self.acked() >= n, timeout, 0.1, what=what)

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(CLIENT_BOUND_S + 5)
            assert not t.is_alive(), "a client thread did not finish"

    def since(self, t0: float) -> list[tuple[float, int, int, float]]:
        with self.lock:
            return [a for a in self.answers if a[0] >= t0]


class Progress:
    """Samples order-service's ordersStored every 0.5 s: the longest time it
    stood still while the load was running is the consumer's pause."""

    def __init__(self, order):
        self.order = order
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> "Progress":
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.samples.append((time.monotonic(), health(self.order)["ordersStored"]))
            except (requests.RequestException, KeyError, ValueError):
                pass
            self._stop.wait(0.5)

    def stop(self) -> float:
        self._stop.set()
        self._thread.join(10)
        longest, since, last = 0.0, None, None
        for t, n in self.samples:
            if n != last:
                since, last = t, n
            longest = max(longest, t - since)
        return round(longest, 1)


def leaders(stack3, topic: str) -> dict[int, str]:
    md = stack3.admin().list_topics(topic, timeout=10).topics[topic]
    return {p: f"kafka-{m.leader}" for p, m in md.partitions.items()}


def kill_and_restore(stack3, load: MixedLoad, topic: str, node: str, role: str) -> dict:
    """SIGKILL `node`, wait until every partition it led acknowledges writes
    again (from a new leader), restart it and wait for full ISRs. Returns the
    figures of that fault."""
    led = sorted(p for p, n in leaders(stack3, topic).items() if n == node)
    t0 = time.monotonic()
    stack3.kill_node(node)

    def back():
        # a request sent after the kill, acknowledged: the partition has a new leader
        seen = {p for _, code, p, sent in load.since(t0) if code in (200, 201) and sent >= t0}
        return all(p in seen for p in led)

    wait_for(back, 90, 0.1, what=f"2xx again on partitions {led} after killing {node}")
    t_back = time.monotonic()
    first_ok = {}
    for t, code, p, sent in sorted(load.since(t0)):
        if code in (200, 201) and sent >= t0 and p in led and p not in first_ok:
            first_ok[p] = round(t - t0, 2)
    stack3.start_node(node)
    t_restarted = time.monotonic()
    assert stack3.wait_isr(topic, 3, 120), f"ISR not full again after restarting {node}"
    window = load.since(t0)
    # every partition stalls, not only the dead leader's: an acks=all write
    # waits for the dead follower until the controller fences it
    ok_latency = [t - sent for t, code, _, sent in window if code in (200, 201)]
    return {"role": role, "node": node, "led_partitions": led,
            "max_2xx_latency_s": round(max(ok_latency, default=0), 2),
            "first_2xx_after_kill_s": first_ok,
            "all_partitions_back_s": round(t_back - t0, 2),
            "restart_to_full_isr_s": round(time.monotonic() - t_restarted, 2),
            "answers_503": sum(1 for _, code, _, _ in window if code == 503),
            "answers_2xx": len(ok_latency)}


def topic_events(stack3, topic: str):
    """orderId -> [CREATE count, UPDATE count] from the topic itself (the
    Avro eventType enum is the first byte after the 5-byte wire header:
    0 CREATE, 2 UPDATE as a zigzag varint)."""
    counts: dict[str, list[int]] = collections.defaultdict(lambda: [0, 0])
    for m in stack3.read_all(topic, timeout=120):
        kind = m.value()[5]
        assert kind in (0, 2), f"unexpected eventType byte {kind}"
        counts[m.key().decode()][0 if kind == 0 else 1] += 1
    return counts


def check_materialized(stack3, order, topic: str, load: MixedLoad) -> dict:
    assert not load.other, f"answers other than 2xx / 503 + Retry-After: {load.other[:5]}"
    assert all(lat < CLIENT_BOUND_S for lat in load.refused.values())
    events = topic_events(stack3, topic)
    # librdkafka 2.0.2's idempotent producer can write an acknowledged event
    # twice after in-flight timeouts (docs/RELIABILITY.md); the store must
    # still apply it once (an identical copy is a redelivery), checked below
    twice = {k: c for k, c in events.items() if c[0] > 1 or c[1] > 1}
    if twice:
        print(f"[three-brokers] {len(twice)} orders with an event written twice by the producer")
    no_create = [k for k, c in events.items() if c[0] == 0]
    assert not no_create, f"updates without their create: {no_create[:5]}"
    missing = set(load.created) - set(events)
    assert not missing, f"{len(missing)} acknowledged creates not in Kafka: {sorted(missing)[:5]}"
    lost = [k for k in load.updated if events[k][1] < 1]
    assert not lost, f"{len(lost)} acknowledged updates not in Kafka: {lost[:5]}"
    unknown = set(events) - set(load.created) - {k[2:] for k in load.refused if k[0] == "C"}
    assert not unknown, f"records nobody asked for: {sorted(unknown)[:5]}"

    wait_for(lambda: (h := health(order))["ordersStored"] >= len(events) and h["lag"] == 0,
             300, 0.5, what=f"{len(events)} orders stored, lag 0")
    h = health(order)
    assert h["ordersStored"] == len(events), h
    assert dlq_total(order) == 0

    def detail(oid):
        with requests.Session() as s:
            r = s.get(order.url + "/order-details", params={"orderId": oid}, timeout=10)
        return oid, r.status_code, jloads(r.text)

    bad = []
    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        for oid, code, d in ex.map(detail, sorted(events), chunksize=64):
            if code != 200:
                bad.append((oid, code))
                continue
            history = [x["status"] for x in d["statusHistory"]]
            # one update at most per order in this load: a second copy on the topic
            # must not add a second history entry
            if len(history) != 1 + min(events[oid][1], 1) or history[0] != "new":
                bad.append((oid, "history", history, events[oid]))
            if oid in load.updated and d["status"] != load.updated[oid]:
                bad.append((oid, "status", d["status"], load.updated[oid]))
            want = load.created.get(oid)
            if want is not None and (
                    d["customerId"] != want["customerId"]
                    or Decimal(str(d["totalAmount"])) != Decimal(str(want["totalAmount"]))
                    or len(d["items"]) != len(want["items"])):
                bad.append((oid, "content", d, want))
    assert not bad, f"{len(bad)} orders wrong in the store: {bad[:3]}"
    return {"kafka_orders": len(events), "orders_stored": h["ordersStored"],
            "updates_in_kafka": sum(c[1] for c in events.values()),
            "stored_from_503": len(set(events) & {k[2:] for k in load.refused if k[0] == "C"}),
            "dlq_entries": dlq_total(order)}


def start_pair(services3):
    cart = services3.start("cart", env={"DELIVERY_TIMEOUT_MS": DELIVERY_TIMEOUT_MS})
    order = services3.start("order", env={"RETRY_BACKOFF_MS": "200,500,1000"})
    return cart, order


# ---- the tests ---------------------------------------------------------------

def test_topics_replicated_rf3_min_isr2(stack3, services3):
    """Defaults ("auto") on three brokers: RF 3, min.insync.replicas 2, for
    both topics, as the broker reports them."""
    from confluent_kafka.admin import ConfigResource
    cart, order = start_pair(services3)
    admin = stack3.admin()
    md = admin.list_topics(timeout=10)
    assert sorted(md.brokers) == [1, 2, 3]
    for topic, parts in ((services3.topic, 3), (services3.dlq_topic, 1)):
        t = md.topics[topic]
        assert len(t.partitions) == parts
        assert all(len(p.replicas) == 3 and len(p.isrs) == 3 for p in t.partitions.values()), \
            {p: (m.replicas, m.isrs) for p, m in t.partitions.items()}
        res = ConfigResource(ConfigResource.Type.TOPIC, topic)
        cfg = admin.describe_configs([res])[res].result(timeout=10)
        assert cfg["min.insync.replicas"].value == "2", cfg["min.insync.replicas"]
    assert "replication factor 3, min.insync.replicas 2" in (cart.log_text() + order.log_text())
    r = cart.post("/create-order", json={"orderId": unique("RF3"), "itemsCount": 2})
    assert r.status_code == 201, r.text


def test_leader_then_controller_sigkill_under_load(stack3, services3):
    """SIGKILL the leader of partition 0, then the active controller (each
    restarted once its partitions moved), under creates and updates: nothing
    acknowledged is lost or applied twice, the DLQ stays empty, and
    order-service keeps consuming through the leader moves."""
    cart, order = start_pair(services3)
    topic = services3.topic
    load = MixedLoad(cart, unique("HA")).start()
    progress = Progress(order).start()
    faults = []
    t_start = time.monotonic()
    try:
        load.wait_acked(BEFORE, 120, "answers before the first kill")
        for _ in range(ROUNDS):
            leader = stack3.leader(topic, 0)
            controller = stack3.controller()
            faults.append(kill_and_restore(stack3, load, topic, leader,
                                           "leader of partition 0"
                                           + (" and controller" if leader == controller else "")))
            controller = stack3.controller()
            faults.append(kill_and_restore(stack3, load, topic, controller, "active controller"))
        mark = load.acked()
        load.wait_acked(mark + AFTER, 300, "answers after the last restart")
        # the consumer follows the leaders: it stores what came after the faults
        stored = health(order)["ordersStored"]
        wait_for(lambda: health(order)["ordersStored"] > stored, 120, 0.5,
                 what="order-service storing after the faults")
    finally:
        load.stop()
        consumer_pause_s = progress.stop()
    figures = {"sent_acked": load.acked(), "creates_201": len(load.created),
               "updates_200": len(load.updated), "refused_503": len(load.refused),
               "max_503_latency_s": round(max(load.refused.values(), default=0), 3),
               "load_wall_s": round(time.monotonic() - t_start, 1),
               "longest_consumer_pause_s": consumer_pause_s, "faults": faults}
    figures.update(check_materialized(stack3, order, topic, load))
    assert cart.alive() and order.alive()
    assert cart.get("/health").status_code == 200 and order.get("/health").status_code == 200
    report("leader_controller_sigkill", figures)


def test_two_brokers_down_503_then_recover(stack3, services3):
    """Two of three brokers SIGKILLed: no write can reach min.insync.replicas
    2, so creates answer 503 with Retry-After within the delivery timeout;
    one broker back and they succeed again; every 201 materialized once."""
    cart = services3.start("cart", env={"DELIVERY_TIMEOUT_MS": DOWN_DELIVERY_TIMEOUT_MS})
    order = services3.start("order", env={"RETRY_BACKOFF_MS": "200,500,1000"})
    created, refused = {}, {}
    for i in range(5):
        oid = unique("UP")
        r = cart.post("/create-order", json={"orderId": oid, "itemsCount": 1 + i})
        assert r.status_code == 201, r.text
        created[oid] = r.json()["order"]
    survivor = stack3.controller()
    down = [n for n in stack3.nodes if n != survivor]
    t0 = time.monotonic()
    for n in down:
        stack3.kill_node(n)

    def create(oid):
        t = time.monotonic()
        try:
            r = requests.post(cart.url + "/create-order", json={"orderId": oid, "itemsCount": 1},
                              timeout=DOWN_CLIENT_BOUND_S)
        except requests.RequestException as e:
            return oid, -1, f"{type(e).__name__}: {e}", None, time.monotonic() - t
        return oid, r.status_code, r.text, r.headers.get("Retry-After"), time.monotonic() - t

    # one create per partition and more: all refused, each within the bound
    with concurrent.futures.ThreadPoolExecutor(6) as ex:
        answers = list(ex.map(create, [unique("DOWN") for _ in range(12)]))
    for oid, code, text, retry_after, latency in answers:
        assert code == 503 and retry_after, (code, text)
        assert latency < DOWN_CLIENT_BOUND_S, latency
        refused[oid] = latency
    t_restart = time.monotonic()
    stack3.start_node(down[0])
    t_started = time.monotonic()

    # writes resume: 20 creates in a row acknowledged, within a bound
    streak, first_ok, n_503 = 0, None, 0
    deadline = time.monotonic() + 120
    while streak < 20 and time.monotonic() < deadline:
        oid, code, text, retry_after, latency = create(unique("BACK"))
        if code == 201:
            streak += 1
            created[oid] = json.loads(text)["order"]
            first_ok = first_ok or time.monotonic()
        else:
            assert code == 503 and retry_after, (code, text)
            assert latency < DOWN_CLIENT_BOUND_S, latency
            refused[oid] = latency
            streak, n_503 = 0, n_503 + 1
    assert streak >= 20, f"creates not acknowledged again within 120 s of restarting {down[0]}"
    stack3.start_node(down[1])
    assert stack3.wait_isr(services3.topic, 3, 120)

    events = topic_events(stack3, services3.topic)
    assert set(created) <= set(events), set(created) - set(events)
    assert set(events) <= set(created) | set(refused)
    # creates only; a second copy of one is the producer's (see check_materialized),
    # and the consumer must take it as a redelivery: one order, DLQ empty
    assert all(c[0] >= 1 and c[1] == 0 for c in events.values()), events
    doubled = sum(1 for c in events.values() if c[0] > 1)
    wait_for(lambda: (h := health(order))["ordersStored"] == len(events) and h["lag"] == 0, 120,
             0.5, what=f"{len(events)} orders stored, lag 0")
    assert dlq_total(order) == 0
    report("two_brokers_down", {
        "down": down, "survivor": survivor, "refused_503_while_down": len(answers),
        "max_503_latency_s": round(max(lat for *_, lat in answers), 3),
        "restart_s": round(t_started - t_restart, 1),
        "first_201_after_restart_s": round(first_ok - t_started, 2) if first_ok else None,
        "503_after_restart": n_503, "down_s": round(t_restart - t0, 1),
        "kafka_orders": len(events), "stored_from_503": len(set(events) & set(refused)),
        "written_twice_by_producer": doubled})


def test_a_dead_broker_does_not_stall_consumption(stack3, services3):
    """One broker SIGKILLed (neither the group's coordinator nor the active
    controller) and left down: the partitions led by the other two keep
    being materialized without pauses. order-service used to describe its
    group for /health with a ListGroups to every broker, waiting up to
    500 ms on the consume thread each time (every 5 s): with a broker down,
    every event arriving then waited for it."""
    cart, order = start_pair(services3)
    for _ in range(5):
        r = cart.post("/create-order", json={"orderId": unique("WARM"), "itemsCount": 1})
        assert r.status_code == 201, r.text
    wait_for(lambda: health(order)["lag"] == 0 and health(order)["ordersStored"] >= 5, 60, 0.2,
             what="warm-up orders stored")
    admin = stack3.admin()
    desc = admin.describe_consumer_groups([services3.group])[services3.group].result(timeout=15)
    spared = {f"kafka-{desc.coordinator.id}", stack3.controller()}
    node = next(n for n in stack3.nodes if n not in spared)
    stack3.kill_node(node)
    try:
        # the controller fences the dead broker and its partitions move
        wait_for(lambda: node not in leaders(stack3, services3.topic).values(), 60, 0.5,
                 what=f"no partition led by {node}")
        latencies = []
        # 3 s not counted: librdkafka learns the new leaders at its first fetch error
        t_count = time.monotonic() + 3
        t_end = t_count + 16  # three group descriptions at least
        while time.monotonic() < t_end:
            oid = unique("LIVE")
            r = cart.post("/create-order", json={"orderId": oid, "itemsCount": 1},
                          timeout=CLIENT_BOUND_S)
            assert r.status_code == 201, r.text
            t0 = time.monotonic()
            d = order.get("/order-details", params={"orderId": oid, "waitMs": 5000}, timeout=10)
            assert d.status_code == 200, d.text
            if t0 >= t_count:
                latencies.append(time.monotonic() - t0)
            time.sleep(0.02)
        latencies.sort()
        figures = {"node": node, "events": len(latencies),
                   "p50_ms": round(latencies[len(latencies) // 2] * 1000, 1),
                   "max_ms": round(latencies[-1] * 1000, 1),
                   "over_300_ms": sum(1 for x in latencies if x > 0.3)}
        report("dead_broker_consumption", figures)
        assert len(latencies) >= 50, figures
        # a stall of the consume thread every 5 s shows as a wait far above the rest
        # in each of them (3 of 231 before the fix); one is let pass as the box's noise
        assert figures["over_300_ms"] <= 1, figures
        # the description /health shows still comes (from the coordinator's part of a
        # ListGroups answer the dead broker left partial)
        group = wait_for(lambda: (g := health(order)["group"])["state"] == "Stable" and g, 15,
                         0.5, what="group Stable in /health")
        assert group["members"] == 1 and group["id"] == services3.group, group
    finally:
        stack3.start_node(node)
    assert stack3.wait_isr(services3.topic, 3, 120)
    assert dlq_total(order) == 0
