"""order-details on the PostgreSQL store under load: plain reads are batched
off the HTTP loops (query/order_reader.c, one statement per round trip for
every lookup queued meanwhile). What must hold:

- every answer of a burst of concurrent requests is the order asked for, byte
  for byte what a SQLite instance fed the same events answers (statuses,
  history, 404 bodies for unknown ids; the history is read only for orders
  that have one), and read-your-writes (waitMs) still works; the reader's
  /metrics count every read of the burst in its statements;
- PostgreSQL stopped: every lookup is answered, a JSON 503 with Retry-After
  (no hang, no crash, the service stays live), and the answers are right
  again once the server is back;
- the in-flight lookups are bounded (READ_QUEUE_MAX): one more is a JSON 503
  at once, while the ones in flight are answered when the store answers."""

import os
import random
import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor

import requests

from conftest import unique
from order_e2e import EventWriter, create_event, jloads, update_event, wait_drained, wait_for

N_ORDERS = 120
BURST = 2000
CLIENTS = 48
PG_BIN = os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin")


def feed(stack, topic: str) -> tuple[list[str], int]:
    """N_ORDERS creates, a third of them updated twice: (ids, events sent)."""
    w = EventWriter(stack, topic)
    ids = [f"PGR-{i:04d}" for i in range(N_ORDERS)]
    sent = 0
    for i, oid in enumerate(ids):
        w.send(create_event(oid, [("I-1", 1 + i % 3, "2.50"), ("I-2", 2, "0.99")],
                            ts=1764079200000 + i, customer=f"C-{i % 7}"))
        sent += 1
    for i, oid in enumerate(ids):
        if i % 3 == 0:
            w.send(update_event(oid, "confirmed", ts=1764079300000 + i))
            w.send(update_event(oid, "shipped", ts=1764079400000 + i))
            sent += 2
    w.flush()
    return ids, sent


def burst(svc, ids: list[str], n: int, seed: int) -> list[tuple[str, int, bytes, dict]]:
    """n concurrent GETs over CLIENTS keep-alive connections: (id, status, body, headers)."""
    rnd = random.Random(seed)
    asked = [rnd.choice(ids) for _ in range(n)]
    local = threading.local()

    def one(oid: str):
        s = getattr(local, "s", None)
        if s is None:
            s = local.s = requests.Session()
        r = s.get(svc.url + "/order-details", params={"orderId": oid}, timeout=30)
        return oid, r.status_code, r.content, r.headers

    with ThreadPoolExecutor(CLIENTS) as pool:
        return list(pool.map(one, asked))


def start_pair(services, stack, postgres, env=None):
    """An instance on PostgreSQL and a reference on SQLite, fed the same events."""
    schema = unique("pgr").replace("-", "_")
    pg = services.start("order", env={"STORE_URL": postgres.store_url(schema), **(env or {})})
    ref = services.start("order", env={"CONSUMER_GROUP_ID": unique("ref")})
    ids, sent = feed(stack, services.topic)
    wait_drained(pg, sent)
    wait_drained(ref, sent)
    return pg, ref, ids, schema


def reference(ref, ids: list[str]) -> dict[str, tuple[int, bytes]]:
    out = {}
    for oid in ids:
        r = ref.get("/order-details", params={"orderId": oid})
        out[oid] = (r.status_code, r.content)
    return out


def test_concurrent_reads_answer_each_its_own_order(services, stack, postgres):
    pg, ref, ids, _ = start_pair(services, stack, postgres)
    assert pg.get("/health").json()["store"] == "postgresql"
    asked = ids + [f"PGR-NONE-{i}" for i in range(20)] + ["NULL"]
    want = reference(ref, asked)
    assert want["PGR-0000"][0] == 200 and want["PGR-NONE-0"][0] == 404
    assert [h["status"] for h in jloads(want["PGR-0003"][1])["statusHistory"]] == \
        ["new", "confirmed", "shipped"]
    before = reader_metrics(pg)
    got = burst(pg, asked, BURST, seed=15)
    wrong = [(oid, code, body[:120]) for oid, code, body, _ in got if (code, body) != want[oid]]
    assert not wrong, f"{len(wrong)} of {BURST} answers differ from SQLite's, e.g. {wrong[:3]}"
    # the reader's own counts: every read of the burst went through one of its statements
    after = reader_metrics(pg)
    assert after["sum"] - before["sum"] == BURST
    statements = after["count"] - before["count"]
    assert 1 <= statements <= BURST
    assert after["seconds"] > before["seconds"]
    les = [after[k] for k in sorted((k for k in after if isinstance(k, int)))]
    assert les == sorted(les) and les[-1] <= after["+Inf"] == after["count"]
    # read-your-writes still works on PostgreSQL (the wait path)
    w = EventWriter(stack, services.topic)
    w.send(create_event("PGR-LATE", [("I-1", 1, "1.00")]))
    w.flush()
    r = pg.get("/order-details", params={"orderId": "PGR-LATE", "waitMs": "20000"}, timeout=30)
    assert r.status_code == 200, r.text
    assert r.json()["orderId"] == "PGR-LATE"


def test_store_outage_is_503_then_recovers(services, stack, postgres):
    pg, ref, ids, _ = start_pair(services, stack, postgres)
    want = reference(ref, ids)
    postgres.stop()
    try:
        got = burst(pg, ids, 300, seed=16)
        bad = [(oid, code, body[:120]) for oid, code, body, _ in got if code != 503]
        assert not bad, f"answers other than 503 while PostgreSQL is stopped: {bad[:3]}"
        for _, _, body, headers in got:
            assert jloads(body)["detail"] == "order store temporarily unavailable"
            assert headers["Retry-After"] == "1"
            assert headers["Content-Type"].startswith("application/json")
        assert pg.get("/health/live").status_code == 200
    finally:
        postgres.start()

    def back():
        r = pg.get("/order-details", params={"orderId": ids[0]})
        return r.status_code == 200
    wait_for(back, 60, what="order-details answered again with PostgreSQL back")
    got = burst(pg, ids, 500, seed=17)
    wrong = [(oid, code) for oid, code, body, _ in got if (code, body) != want[oid]]
    assert not wrong, f"wrong answers after the outage: {wrong[:3]}"


def reader_metrics(svc) -> dict:
    """The order reader's families in /metrics: batch-size buckets by bound (int, and "+Inf"),
    "sum" (lookups), "count" (statements), "seconds" (time in its statements)."""
    out = {}
    for line in svc.get("/metrics").text.splitlines():
        name, _, value = line.rpartition(" ")
        if name.startswith('order_read_batch_size_bucket{le="'):
            le = name.split('"')[1]
            out[le if le == "+Inf" else int(le)] = float(value)
        elif name == "order_read_batch_size_sum":
            out["sum"] = float(value)
        elif name == "order_read_batch_size_count":
            out["count"] = float(value)
        elif name == "order_read_batch_seconds_total":
            out["seconds"] = float(value)
    assert {"sum", "count", "seconds", "+Inf", 1, 512} <= set(out), out
    return out


def lookups_in_flight(svc) -> int:
    for line in svc.get("/metrics").text.splitlines():
        if line.startswith("order_read_lookups "):
            return int(float(line.split()[1]))
    raise AssertionError("order_read_lookups missing from /metrics")


def _lock_history(postgres, schema):
    """A psql session holding the history table exclusively until COMMIT is written."""
    locker = subprocess.Popen(
        [f"{PG_BIN}/psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", postgres.url],
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    locker.stdin.write(f'BEGIN; LOCK TABLE "{schema}".status_history IN ACCESS EXCLUSIVE MODE;\n')
    locker.stdin.flush()
    wait_for(lambda: postgres.value(
        "SELECT count(*) FROM pg_locks WHERE granted AND mode = 'AccessExclusiveLock'"
        f" AND relation = '\"{schema}\".status_history'::regclass") == "1",
        30, what="the history table locked")
    return locker


def _unlock(locker):
    locker.stdin.write("COMMIT;\n")
    locker.stdin.close()
    locker.wait(30)


def test_a_stuck_store_answers_503_after_the_read_timeout(services, stack, postgres):
    pg, ref, ids, schema = start_pair(services, stack, postgres,
                                      env={"STORE_READ_TIMEOUT_MS": "1000"})
    want = reference(ref, ids[:1])
    locker = _lock_history(postgres, schema)
    try:
        # the server never answers while the lock is held: the read must not wait for it
        r = requests.get(pg.url + "/order-details", params={"orderId": ids[0]}, timeout=30)
        assert r.status_code == 503, r.text
        assert r.headers["Retry-After"] == "1"
        assert locker.poll() is None  # still locked: the statement timed out, not the lock
        assert pg.get("/health/live").status_code == 200
    finally:
        _unlock(locker)
    r = wait_for(lambda: (lambda x: x if x.status_code == 200 else None)(
        pg.get("/order-details", params={"orderId": ids[0]})), 30, what="the read answered again")
    assert {ids[0]: (r.status_code, r.content)} == want


def test_lookups_in_flight_are_bounded(services, stack, postgres):
    # the two held reads must outlast the waits below: no statement timeout here
    pg, ref, ids, schema = start_pair(services, stack, postgres,
                                      env={"READ_QUEUE_MAX": "2", "STORE_READ_TIMEOUT_MS": "0"})
    want = reference(ref, ids[:2])
    # Hold the history table: the reader's statement waits on the lock, so the
    # two lookups the queue holds stay in flight until it is released.
    locker = _lock_history(postgres, schema)
    results = {}
    threads = []
    try:
        def ask(oid):
            r = requests.get(pg.url + "/order-details", params={"orderId": oid}, timeout=60)
            results[oid] = (r.status_code, r.content)
        for oid in ids[:2]:
            t = threading.Thread(target=ask, args=(oid,))
            t.start()
            threads.append(t)
        wait_for(lambda: lookups_in_flight(pg) == 2, 30, what="two lookups in flight")
        r = pg.get("/order-details", params={"orderId": ids[2]})
        assert r.status_code == 503, r.text
        assert "READ_QUEUE_MAX" in r.json()["detail"]
        assert r.headers["Retry-After"] == "1"
        assert pg.get("/health/live").status_code == 200  # the loop is not held
        assert not results  # the two still wait for the store
    finally:
        _unlock(locker)
        for t in threads:
            t.join(60)
    assert results == want
    wait_for(lambda: lookups_in_flight(pg) == 0, 30, what="the pool given back")
