"""Topic reads (/getAllOrderIdsFromTopic, /dlq/*) run on their own worker
pool, off the HTTP threads: with HTTP_THREADS=2 and ~20,000 events on the
topic, /health and /order-details keep answering fast while four id lists and
a /dlq/stats scan run at once; more reads than workers + queue get 429 with
Retry-After; the streamed answers are those of a single read; a client that
leaves mid-scan or mid-answer does not hurt the service (ASan build).

The topic indexes: after a first read built the store's index, a read scans
only the tail past it (order_topic_read_records_scanned_total in /metrics
grows by the tail, not by the topic), and the answer is still the topic's
own, compared with a full read of the topic by a plain Kafka consumer: events
past the index (and past the consumer's position), dead-lettered events'
keys, the DLQ topic's keys, across a restart, and with a second instance on a
shared PostgreSQL store."""

import socket
import threading
import time

import requests

from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient

from conftest import unique
from order_e2e import (EventWriter, create_event, dlq_messages, jloads,
                       wait_drained, wait_order)

EVENTS = 20000
BAD = 7  # dead letters, so /dlq/stats has something to count


def fill(stack, services) -> list[str]:
    return send_batch(stack, services, "TR", EVENTS, bad=BAD)


def ids_call(order, topic):
    r = requests.get(f"http://127.0.0.1:{order.port}/getAllOrderIdsFromTopic",
                     params={"topic": topic}, timeout=120)
    return r.status_code, r.headers, r.text


def test_reads_leave_health_and_order_details_responsive(services, stack):
    order = services.start("order", env={"HTTP_THREADS": "2", "TOPIC_READ_WORKERS": "2",
                                         "TOPIC_READ_QUEUE": "8"})
    ids = fill(stack, services)
    wait_drained(order, EVENTS + BAD, timeout=300)
    wait_order(order, ids[123])

    code, headers, text = ids_call(order, services.topic)
    assert code == 200, text
    assert headers.get("Content-Type") == "application/json"
    ref = jloads(text)
    assert list(ref) == ["topic", "orderIds", "count"]
    assert ref["topic"] == services.topic
    assert ref["count"] == len(ids) + BAD == len(ref["orderIds"])
    assert set(ref["orderIds"]) == set(ids) | {f"TR-BAD-{i}" for i in range(BAD)}
    stats_ref = order.get("/dlq/stats").json()
    assert stats_ref["total_messages"] == BAD

    results, stop = [], threading.Event()
    health_ms, details_ms = [], []

    def reader():
        results.append(ids_call(order, services.topic))

    def stats_reader():
        r = requests.get(f"http://127.0.0.1:{order.port}/dlq/stats", timeout=120)
        results.append(("stats", r.status_code, r.json()))

    def poll():
        s = requests.Session()
        while not stop.is_set():
            t = time.monotonic()
            r = s.get(f"http://127.0.0.1:{order.port}/health", timeout=30)
            health_ms.append((time.monotonic() - t) * 1e3)
            assert r.status_code == 200
            t = time.monotonic()
            r = s.get(f"http://127.0.0.1:{order.port}/order-details",
                      params={"orderId": ids[123]}, timeout=30)
            details_ms.append((time.monotonic() - t) * 1e3)
            assert r.status_code == 200
            time.sleep(0.02)

    poller = threading.Thread(target=poll)
    poller.start()
    time.sleep(0.2)
    readers = [threading.Thread(target=reader) for _ in range(4)]
    readers.append(threading.Thread(target=stats_reader))
    started = time.monotonic()
    for t in readers:
        t.start()
    for t in readers:
        t.join(180)
    scans_s = time.monotonic() - started
    stop.set()
    poller.join(60)

    print(f"\n5 concurrent topic reads took {scans_s:.2f} s; /health answers: {len(health_ms)}, "
          f"max {max(health_ms):.1f} ms; /order-details max {max(details_ms):.1f} ms")
    assert len(results) == 5
    for res in results:
        if res[0] == "stats":
            assert res[1] == 200 and res[2] == stats_ref
        else:
            code, _, text = res
            assert code == 200, text
            body = jloads(text)
            # the same answer; the order of ids interleaves partitions as the scan reads them
            # (so it differs between any two reads, synchronous ones included)
            assert list(body) == list(ref)
            assert body["topic"] == ref["topic"] and body["count"] == ref["count"]
            assert sorted(body["orderIds"]) == sorted(ref["orderIds"])
    assert max(health_ms) < 1000, health_ms
    assert max(details_ms) < 1000, details_ms


def test_more_reads_than_workers_and_queue_get_429(services, stack):
    order = services.start("order", env={"TOPIC_READ_WORKERS": "1", "TOPIC_READ_QUEUE": "1"})
    fill(stack, services)
    results = []

    def reader():
        results.append(ids_call(order, services.topic))

    readers = [threading.Thread(target=reader) for _ in range(6)]
    for t in readers:
        t.start()
    for t in readers:
        t.join(180)
    codes = sorted(r[0] for r in results)
    assert 200 in codes and 429 in codes, codes
    assert set(codes) <= {200, 429}, codes
    for code, headers, text in results:
        if code == 429:
            assert headers.get("Retry-After") == "1"
            assert headers.get("Content-Type") == "application/json"
            assert "too many topic reads" in jloads(text)["detail"]
    # once they are done, the pool takes reads again
    code, _, text = ids_call(order, services.topic)
    assert code == 200, text


def test_client_leaving_mid_scan_or_mid_answer(services, stack):
    order = services.start("order", env={"TOPIC_READ_WORKERS": "2"})
    ids = fill(stack, services)
    req = (f"GET /getAllOrderIdsFromTopic?topic={services.topic} HTTP/1.1\r\n"
           f"Host: x\r\n\r\n").encode()
    for i in range(6):
        s = socket.create_connection(("127.0.0.1", order.port))
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.sendall(req)
        if i % 2:
            s.recv(100)  # the answer started: leave in the middle of the stream
        s.close()
    for i in range(2):  # an HTTP/1.0 client reads to the close
        s = socket.create_connection(("127.0.0.1", order.port))
        s.sendall(req.replace(b"HTTP/1.1", b"HTTP/1.0"))
        data = b""
        while chunk := s.recv(65536):
            data += chunk
        s.close()
        head, body = data.split(b"\r\n\r\n", 1)
        assert head.startswith(b"HTTP/1.0 200") or head.startswith(b"HTTP/1.1 200"), head[:80]
        assert jloads(body.decode())["count"] == len(ids) + BAD
    code, _, text = ids_call(order, services.topic)
    assert code == 200 and jloads(text)["count"] == len(ids) + BAD
    assert order.get("/health").status_code == 200
    assert order.alive()


# ---- topic indexes -----------------------------------------------------------

def topic_records(stack, topic):
    """Every record of topic, read by a plain consumer: [(key, headers)]."""
    c = Consumer({"bootstrap.servers": stack.bootstrap, "group.id": unique("ref"),
                  "enable.auto.commit": False, "enable.partition.eof": True})
    try:
        md = c.list_topics(topic, timeout=30).topics[topic]
        parts, ends = [], {}
        for p in md.partitions:
            lo, hi = c.get_watermark_offsets(TopicPartition(topic, p), timeout=30)
            if hi > lo:
                parts.append(TopicPartition(topic, p, lo))
                ends[p] = hi
        out = []
        c.assign(parts)
        deadline = time.monotonic() + 120
        while ends and time.monotonic() < deadline:
            m = c.poll(1.0)
            if m is None or m.error():
                continue
            out.append((m.key(), dict(m.headers() or [])))
            if m.offset() + 1 >= ends.get(m.partition(), 0):
                ends.pop(m.partition(), None)
        assert not ends, f"reference read of {topic} did not finish: {ends}"
        return out
    finally:
        c.close()


def ref_ids(stack, topic):
    return {k.decode() for k, _ in topic_records(stack, topic) if k is not None}


def scanned(order) -> float:
    text = order.get("/metrics").text
    for line in text.splitlines():
        if line.startswith("order_topic_read_records_scanned_total "):
            return float(line.split()[1])
    raise AssertionError("order_topic_read_records_scanned_total missing from /metrics")


def read_ids(order, topic):
    """The ids answer as a set, and how many records the read scanned."""
    before = scanned(order)
    code, _, text = ids_call(order, topic)
    assert code == 200, text
    body = jloads(text)
    assert body["count"] == len(body["orderIds"]) == len(set(body["orderIds"]))
    return set(body["orderIds"]), scanned(order) - before


def read_stats(order):
    before = scanned(order)
    r = order.get("/dlq/stats", timeout=120)
    assert r.status_code == 200, r.text
    return r.json(), scanned(order) - before


def ref_stats(order, dlq_topic):
    """/dlq/stats as a full read gives it: counted from every page of /dlq/messages."""
    cats, reasons, total, offset = {}, {}, 0, 0
    while True:
        page = dlq_messages(order, limit=1000, offset=offset)
        if not page:
            break
        for m in page:
            c, r = m["errorCategory"] or "UNKNOWN", m["errorReason"] or "UNKNOWN"
            cats[c] = cats.get(c, 0) + 1
            reasons[r] = reasons.get(r, 0) + 1
        total += len(page)
        offset += len(page)
    return {"topic": dlq_topic, "total_messages": total, "error_categories": cats,
            "error_reasons": reasons}


def send_batch(stack, services, prefix, n, bad=0):
    w = EventWriter(stack, services.topic)
    ids = [f"{prefix}-{i:06d}" for i in range(n)]
    for oid in ids:
        w.send(create_event(oid, [("A", 1, "1.00")]))
    for i in range(bad):
        w.send_raw(f"{prefix}-BAD-{i}".encode(), b"\x01not avro")
    w.flush()
    return ids


def test_reads_after_the_index_scan_only_the_tail(services, stack):
    order = services.start("order", env={"TOPIC_READ_WORKERS": "2"})
    first = send_batch(stack, services, "IX", 3000, bad=5)
    wait_drained(order, 3005, timeout=300)

    got, n1 = read_ids(order, services.topic)  # builds the index: the whole topic
    assert got == ref_ids(stack, services.topic) == set(first) | {f"IX-BAD-{i}" for i in range(5)}
    assert n1 == 3005
    stats, s1 = read_stats(order)
    assert stats == ref_stats(order, services.dlq_topic) and stats["total_messages"] == 5
    assert s1 == 5

    # Past the index and, right after sending, past the consumer's position too.
    tail = send_batch(stack, services, "IY", 40, bad=3)
    got, n2 = read_ids(order, services.topic)
    assert n2 == 43, n2  # only the tail, not the 3,048 records of the topic
    assert got == ref_ids(stack, services.topic)
    assert set(tail) <= got and "IY-BAD-2" in got  # dead-lettered events' keys are listed too
    wait_drained(order, 3048, timeout=300)
    stats, s2 = read_stats(order)
    assert s2 == 3, s2
    assert stats == ref_stats(order, services.dlq_topic) and stats["total_messages"] == 8

    # A DLQ page reads only its own records, not the DLQ before it.
    before = scanned(order)
    page = dlq_messages(order, limit=2, offset=5)
    assert len(page) == 2 and {m["key"] for m in page} <= {f"IY-BAD-{i}" for i in range(3)}
    assert scanned(order) - before == 2

    # A topic the consumer does not apply is indexed the same way: the DLQ's keys.
    dlq_ids, d1 = read_ids(order, services.dlq_topic)
    assert dlq_ids == ref_ids(stack, services.dlq_topic) and len(dlq_ids) == 8 and d1 == 8

    # The index is in the store: a restarted service reads only what came since.
    order.restart()
    more = send_batch(stack, services, "IZ", 10)
    got, n3 = read_ids(order, services.topic)
    assert n3 == 10, n3
    assert got == ref_ids(stack, services.topic) and set(more) <= got
    again, n4 = read_ids(order, services.topic)
    assert again == got and n4 == 0
    stats, s3 = read_stats(order)
    assert s3 == 0 and stats["total_messages"] == 8
    text = order.get("/metrics").text
    assert 'order_topic_reads_total{from="index"}' in text


def test_shared_postgres_index_serves_every_instance(services, stack, postgres):
    schema = unique("tix").replace("-", "_")
    env = {"STORE_URL": postgres.store_url(schema), "TOPIC_READ_WORKERS": "2"}
    a = services.start("order", env=env)
    b = services.start("order", env=env)
    ids = send_batch(stack, services, "PX", 2000, bad=4)
    wait_drained(a, 0, timeout=60)

    # Both build at once: one wins each chunk, the other is fenced; both answer the topic.
    res = []
    threads = [threading.Thread(target=lambda o=o: res.append(read_ids(o, services.topic)))
               for o in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(180)
    ref = ref_ids(stack, services.topic)
    assert ref == set(ids) | {f"PX-BAD-{i}" for i in range(4)}
    assert len(res) == 2 and all(r[0] == ref for r in res)

    tail = send_batch(stack, services, "PY", 25, bad=2)
    got_b, nb = read_ids(b, services.topic)
    assert nb == 27, nb  # the shared index stands at the topic's end: only the tail
    assert got_b == ref_ids(stack, services.topic) and set(tail) <= got_b
    got_a, na = read_ids(a, services.topic)
    assert na == 0 and got_a == got_b  # b extended the shared index for a
    idx = f"ids:{services.topic}"
    assert postgres.value(f"SELECT count(*) FROM \"{schema}\".topic_index_pos WHERE idx = '{idx}'"
                          ) == "3"

    for o in (a, b):
        wait_drained(o, 0, timeout=60)
    wait_for_dlq = time.monotonic() + 120
    while time.monotonic() < wait_for_dlq:
        if a.get("/dlq/stats", timeout=120).json()["total_messages"] == 6:
            break
        time.sleep(0.5)
    sa, _ = read_stats(a)
    sb, nsb = read_stats(b)
    assert sa == sb == ref_stats(a, services.dlq_topic) and sa["total_messages"] == 6
    assert nsb == 0


def test_index_rebuilt_when_retention_deleted_indexed_records(services, stack):
    order = services.start("order")
    # Partition 0 only, so deleting its first records removes known ids.
    w = EventWriter(stack, services.topic)
    first = [f"RT-{i:04d}" for i in range(300)]
    for oid in first:
        w.send(create_event(oid, [("A", 1, "1.00")]), partition=0)
    w.flush()
    got, n1 = read_ids(order, services.topic)
    assert got == set(first) and n1 == 300

    # What retention does to old segments: the records below offset 100 go away.
    admin = AdminClient({"bootstrap.servers": stack.bootstrap})
    fut = admin.delete_records([TopicPartition(services.topic, 0, 100)])
    for f in fut.values():
        f.result(timeout=30)
    got, n2 = read_ids(order, services.topic)
    ref = ref_ids(stack, services.topic)
    assert ref == set(first[100:])
    assert got == ref  # the ids only the deleted records held are gone from the answer
    assert n2 == 200  # rebuilt from the new low watermark
    got, n3 = read_ids(order, services.topic)
    assert got == ref and n3 == 0
