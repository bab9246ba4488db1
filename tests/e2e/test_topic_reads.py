"""Topic reads (/getAllOrderIdsFromTopic, /dlq/*) run on their own worker
pool, off the HTTP threads: with HTTP_THREADS=2 and ~20,000 events on the
topic, /health and /order-details keep answering fast while four id lists and
a /dlq/stats scan run at once; more reads than workers + queue get 429 with
Retry-After; the streamed answers are those of a single read; a client that
leaves mid-scan or mid-answer does not hurt the service (ASan build)."""

import socket
import threading
import time

import requests

from order_e2e import EventWriter, create_event, jloads, wait_drained, wait_order

EVENTS = 20000
BAD = 7  # dead letters, so /dlq/stats has something to count


def fill(stack, services) -> list[str]:
    w = EventWriter(stack, services.topic)
    ids = [f"TR-{i:06d}" for i in range(EVENTS)]
    for oid in ids:
        w.send(create_event(oid, [("A", 1, "1.00")]))
    for i in range(BAD):
        w.send_raw(f"TR-BAD-{i}".encode(), b"\x01not avro")
    w.flush()
    return ids


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
