"""Operating surface of both services (issue 7): Prometheus metrics parsed by a
strict reader of the text exposition format, the OpenAPI document each service
serves, and request ids echoed into responses and structured logs."""

from __future__ import annotations

import json
import re

import yaml

from conftest import unique

JSON = {"Content-Type": "application/json"}
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})? (\S+)$')


def parse_metrics(text: str) -> tuple[dict[str, float], dict[str, str]]:
    """Every line must be a comment or a valid sample; returns samples and TYPE lines."""
    samples, types = {}, {}
    for line in text.splitlines():
        if not line:
            continue
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            assert kind in ("counter", "gauge", "histogram"), line
            types[name] = kind
            continue
        if line.startswith("# HELP "):
            continue
        m = SAMPLE.match(line)
        assert m, f"not a valid exposition line: {line!r}"
        key, value = line.rsplit(" ", 1)
        samples[key] = float(value)
    for name, kind in types.items():
        if kind == "counter":
            assert name.endswith("_total"), name
        if kind == "histogram":
            assert name.endswith("_seconds"), name
    return samples, types


def test_cart_metrics_count_acknowledged_events(services):
    cart = services.start("cart")
    ids = [unique("MET") for _ in range(3)]
    for i in ids:
        assert cart.post("/create-order", json={"orderId": i, "itemsCount": 2}).status_code == 201
    assert cart.put("/update-order", json={"orderId": ids[0], "status": "shipped"}).status_code == 200
    assert cart.post("/create-order", json={"itemsCount": 2}).status_code == 422
    samples, types = parse_metrics(cart.get("/metrics").text)
    assert samples['cart_events_produced_total{type="CREATE"}'] == 3
    assert samples['cart_events_produced_total{type="UPDATE"}'] == 1
    assert samples["cart_produce_duration_seconds_count"] == 4
    assert samples['cart_produce_duration_seconds_bucket{le="+Inf"}'] == 4
    assert samples['cart_produce_errors_total{reason="timeout"}'] == 0
    assert samples['http_requests_total{route="/create-order",status="201"}'] == 3
    assert samples['http_requests_total{route="/create-order",status="422"}'] == 1
    assert samples['http_requests_total{route="/update-order",status="200"}'] == 1
    assert types["http_request_duration_seconds"] == "histogram"
    # buckets are cumulative and end at the count
    buckets = [v for k, v in samples.items()
               if k.startswith('http_request_duration_seconds_bucket{route="/create-order"')]
    assert buckets == sorted(buckets) and buckets[-1] == 4


def test_openapi_served_and_matches_routes(services):
    cart = services.start("cart")
    order = services.start("order")
    for svc in (cart, order):
        r = svc.get("/openapi.yaml")
        assert r.status_code == 200
        assert r.headers["Content-Type"].startswith("application/yaml")
        spec = yaml.safe_load(r.text)
        assert spec["openapi"].startswith("3.")
    paths = set(spec["paths"])
    for p in ("/create-order", "/update-order", "/order-details", "/getAllOrderIdsFromTopic",
              "/dlq/stats", "/dlq/messages", "/health", "/metrics", "/openapi.yaml"):
        assert p in paths, p
        svc = cart if p in ("/create-order", "/update-order") else order
        assert svc.get(p).status_code != 404, p


def test_request_id_echoed_and_logged(services):
    cart = services.start("cart")
    rid = unique("rid")
    r = cart.post("/create-order", json={"itemsCount": 1}, headers={**JSON, "X-Request-ID": rid})
    assert r.status_code == 422
    assert r.headers["X-Request-ID"] == rid
    generated = cart.get("/health").headers["X-Request-ID"]
    assert generated and generated != rid
    # every log line is one JSON object with level, time and component
    lines = [l for l in open(cart.log, encoding="utf-8", errors="replace") if l.startswith("{")]
    assert lines
    for l in lines:
        rec = json.loads(l)
        assert {"time", "level", "component", "msg"} <= set(rec), rec
