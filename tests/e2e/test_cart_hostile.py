"""Hostile HTTP against cart-service: oversized bodies and headers, invalid
UTF-8, duplicate keys, very long orderIds, slow clients and many connections
at once. Each gets a clear 4xx (or a closed connection), and the service keeps
serving everybody else."""

from __future__ import annotations

import socket
import time

import requests

from conftest import unique

JSON = {"Content-Type": "application/json"}


def raw(port, data: bytes, timeout=10.0) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        out = b""
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                out += chunk
        except (ConnectionResetError, socket.timeout):
            pass
        return out


def status(resp: bytes) -> int:
    if not resp.startswith(b"HTTP/1."):
        return 0
    return int(resp.split(b" ", 2)[1])


def still_serving(cart):
    r = cart.post("/create-order", json={"orderId": unique("OK"), "itemsCount": 1})
    assert r.status_code == 201, r.text


def test_oversized_bodies(services):
    cart = services.start("cart", env={"HTTP_MAX_BODY_BYTES": 65536})
    body = b'{"orderId":"A","itemsCount":1,"pad":"' + b"x" * 70000 + b'"}'
    r = requests.post(cart.url + "/create-order", data=body, headers=JSON, timeout=10)
    assert r.status_code == 413
    assert r.json()["detail"]
    # far over the limit: refused from the Content-Length, body never buffered
    head = (b"POST /create-order HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Connection: close\r\nContent-Length: 1000000000\r\n\r\n{")
    assert status(raw(cart.port, head)) == 413
    still_serving(cart)


def test_huge_header_is_refused(services):
    cart = services.start("cart")
    req = (b"GET /health HTTP/1.1\r\nHost: x\r\nX-Junk: " + b"a" * 100000 +
           b"\r\nConnection: close\r\n\r\n")
    st = status(raw(cart.port, req))
    assert st == 0 or 400 <= st < 500, st
    many = b"GET /health HTTP/1.1\r\nHost: x\r\n" + b"".join(
        b"X-H%d: v\r\n" % i for i in range(5000)) + b"Connection: close\r\n\r\n"
    st = status(raw(cart.port, many))
    assert st == 0 or 400 <= st < 500, st
    still_serving(cart)


def test_bad_json_inputs(services):
    cart = services.start("cart")
    cases = [
        (b'{"orderId":"\xff\xfe","itemsCount":1}', 400),             # invalid UTF-8
        (b'{"orderId":"A","orderId":"B","itemsCount":1}', 400),     # duplicate keys
        (b'{"orderId":"A\\u0000B","itemsCount":1}', 400),           # NUL inside a string
        (b'{"orderId":"' + b"A" * 100000 + b'","itemsCount":1}', 413),
        (b'{"orderId":"' + b"A" * 5000 + b'","itemsCount":1}', 400),  # very long orderId
        (b'[' * 100000 + b']' * 100000, 413),
        (b'[' * 5000 + b']' * 5000, 400),                            # nesting over the parser's limit
        (b'{"orderId":"A","itemsCount":1e400}', 400),             # number overflow
        (b'\xef\xbb\xbf{"orderId":"A","itemsCount":1}', 400),       # BOM
        (b'', 400),
    ]
    for body, want in cases:
        r = requests.post(cart.url + "/create-order", data=body, headers=JSON, timeout=10)
        assert r.status_code == want, (body[:40], r.status_code, r.text[:200])
        if len(body) <= 2 * 65536:  # beyond twice the limit evhttp answers itself (HTML)
            assert r.json()["detail"]
    still_serving(cart)


def test_slow_and_idle_clients_do_not_block_others(services):
    cart = services.start("cart", env={"HTTP_IDLE_TIMEOUT_S": 2})
    slow = []
    for _ in range(50):
        s = socket.create_connection(("127.0.0.1", cart.port), timeout=10)
        s.sendall(b"POST /create-order HTTP/1.1\r\nHost: x\r\nContent-Le")  # then stalls
        slow.append(s)
    still_serving(cart)
    # the stalled clients are cut off by the idle timeout (recv sees EOF or a reset)
    for s in slow:
        try:
            data = s.recv(1024)
        except ConnectionResetError:
            data = b""
        assert data == b"" or status(data) >= 400
        s.close()


def test_many_connections_at_once(services):
    cart = services.start("cart")
    conns = [socket.create_connection(("127.0.0.1", cart.port), timeout=10) for _ in range(300)]
    try:
        still_serving(cart)
        req = b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n"
        for s in conns:
            s.sendall(req)
        ok = 0
        for s in conns:
            buf = b""
            while b"\r\n\r\n" not in buf:
                chunk = s.recv(4096)
                if not chunk:
                    break
                buf += chunk
            ok += status(buf) == 200
        assert ok == len(conns)
    finally:
        for s in conns:
            s.close()
    time.sleep(0.1)
    still_serving(cart)
