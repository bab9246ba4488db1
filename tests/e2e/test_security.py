"""Security basics that need a running service: secrets given through the
environment never reach the log, and the listen address is what HTTP_HOST
says (127.0.0.1 by default, so nothing is reachable from other hosts unless
the operator chooses so)."""

from __future__ import annotations

import socket

import pytest
import requests

from conftest import unique

# Harmless under PLAINTEXT: librdkafka accepts sasl.* properties and only
# uses them with a SASL security.protocol.
KAFKA_PW = "kafka-pw-" + "Zq7xK2"
REG_PW = "registry-pw-" + "Vb9nL4"


def registry_with_userinfo(url: str) -> str:
    scheme, rest = url.split("://", 1)
    return f"{scheme}://orderstream:{REG_PW}@{rest}"


@pytest.mark.parametrize("name", ["cart", "order"])
def test_secrets_never_logged(services, name):
    env = {
        "SCHEMA_REGISTRY_URL": registry_with_userinfo(services.stack.registry_url),
        "KAFKA_PROP_SASL_USERNAME": "orderstream",
        "KAFKA_PROP_SASL_PASSWORD": KAFKA_PW,
        "LOG_LEVEL": "debug",
    }
    svc = services.start(name, env=env)
    # exercise the registry client and the Kafka client so they log what they log
    if name == "cart":
        r = svc.post("/create-order", json={"orderId": unique("SEC"), "itemsCount": 1})
        assert r.status_code == 201, r.text
    else:
        assert svc.get("/dlq/stats").status_code == 200
    assert svc.get("/health").status_code == 200
    svc.stop()
    text = svc.log_text()
    assert "SCHEMA_REGISTRY_URL" in text  # the effective settings were logged
    assert KAFKA_PW not in text
    assert REG_PW not in text


def reachable(addr: str, port: int) -> bool:
    try:
        socket.create_connection((addr, port), timeout=2).close()
        return True
    except OSError:
        return False


@pytest.mark.parametrize("name", ["cart", "order"])
def test_listen_address_follows_http_host(services, name):
    # default of the fixture and of the services: 127.0.0.1 only. Linux
    # routes all of 127/8 to lo, so 127.0.0.2 stands in for "another address".
    svc = services.start(name)
    assert reachable("127.0.0.1", svc.port)
    assert not reachable("127.0.0.2", svc.port)
    svc.stop()
    # configurable: bound to 127.0.0.2 it answers there and not on 127.0.0.1
    other = services.start(name, env={"HTTP_HOST": "127.0.0.2"}, wait=False)
    other.url = f"http://127.0.0.2:{other.port}"
    other.wait_healthy()
    assert requests.get(other.url + "/health", timeout=5).status_code == 200
    assert not reachable("127.0.0.1", other.port)
