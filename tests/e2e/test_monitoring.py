"""The monitoring deployment (deploy/): Prometheus config valid for promtool,
the compose "monitoring" profile valid for docker-compose, and a Grafana
dashboard whose every query names a metric the services really expose."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from conftest import unique

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
DASHBOARD = DEPLOY / "grafana" / "dashboards" / "orderstream.json"


def tool(name: str, local: Path | None = None) -> str:
    path = str(local) if local and local.exists() else shutil.which(name)
    if not path:
        if os.environ.get("CI") or os.environ.get("ORDERSTREAM_REQUIRE_BINARIES"):
            pytest.fail(f"{name} not installed (scripts/deps.sh provides it)")
        pytest.skip(f"{name} not installed")
    return path


def test_prometheus_config_passes_promtool():
    promtool = tool("promtool", ROOT / "var" / "tools" / "promtool")
    r = subprocess.run([promtool, "check", "config", str(DEPLOY / "prometheus.yml")],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    cfg = yaml.safe_load((DEPLOY / "prometheus.yml").read_text())
    targets = {t for job in cfg["scrape_configs"] for sc in job["static_configs"] for t in sc["targets"]}
    assert targets == {"cart-service:8000", "order-service:8001"}


def test_compose_monitoring_profile():
    compose = tool("docker-compose")
    r = subprocess.run([compose, "-f", str(ROOT / "docker-compose.yml"), "--profile", "monitoring",
                        "config"], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    cfg = yaml.safe_load(r.stdout)
    for svc in ("prometheus", "grafana"):
        assert svc in cfg["services"], svc
        assert "healthcheck" in cfg["services"][svc]
        for vol in cfg["services"][svc].get("volumes", []):
            src = vol["source"] if isinstance(vol, dict) else vol.split(":")[0]
            assert Path(src).exists(), f"{svc} mounts a missing path {src}"
    # only under the profile: a plain `docker-compose up` starts no monitoring
    raw = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    for svc in ("prometheus", "grafana"):
        assert raw["services"][svc]["profiles"] == ["monitoring"]
    for svc in ("kafka", "schema-registry", "cart-service", "order-service"):
        assert "profiles" not in raw["services"][svc]


def metric_families(text: str) -> set[str]:
    return {line.split()[2] for line in text.splitlines() if line.startswith("# TYPE ")}


def test_dashboard_queries_name_real_metrics(services):
    dash = json.loads(DASHBOARD.read_text())
    assert dash["uid"] and dash["panels"]
    cart = services.start("cart")
    order = services.start("order")
    oid = unique("MON")
    assert cart.post("/create-order", json={"orderId": oid, "itemsCount": 1}).status_code == 201
    families = metric_families(cart.get("/metrics").text) | metric_families(order.get("/metrics").text)
    used = set()
    for panel in dash["panels"]:
        assert panel["targets"], panel["title"]
        for t in panel["targets"]:
            for name in re.findall(r"\b((?:cart|order|http)_[a-z_]+)\b", t["expr"]):
                used.add(re.sub(r"_(bucket|sum|count)$", "", name))
    missing = used - families
    assert not missing, f"dashboard queries metrics nobody exposes: {missing}"
    for must in ("cart_events_produced_total", "order_event_lag_seconds", "order_dlq_messages_total",
                 "http_requests_total"):
        assert must in used, must
