"""order-service on the PostgreSQL store (STORE_URL): the seed scenario's core
through both real services, against a real PostgreSQL 15 that
scripts/postgres.sh starts: create, update, order-details with history, and
the DLQ for a duplicate create and an unknown update. The rows must be in
PostgreSQL, not in a SQLite file."""

import os
import subprocess

from conftest import POSTGRES_SH, unique
from order_e2e import jloads, shipping, wait_for, wait_order


def test_seed_subset_on_postgres(services, postgres):
    schema = unique("e2e").replace("-", "_")
    order = services.start("order", env={"STORE_URL": postgres.store_url(schema)})
    cart = services.start("cart")
    assert order.get("/health").json()["store"] == "postgresql"

    r = cart.post("/create-order", json={"orderId": "ORDER-001", "itemsCount": 3})
    assert r.status_code == 201, r.text
    created = jloads(r.text)["order"]
    d = wait_order(order, "ORDER-001")
    assert d["status"] == "new" and d["items"] == created["items"]
    assert d["totalAmount"] == created["totalAmount"]
    assert d["shippingCost"] == shipping(created["totalAmount"])

    r = cart.put("/update-order", json={"orderId": "ORDER-001", "status": "shipped"})
    assert r.status_code == 200, r.text
    d = wait_order(order, "ORDER-001", status="shipped")
    assert [h["status"] for h in d["statusHistory"]] == ["new", "shipped"]
    assert d["createdAt"] == d["statusHistory"][0]["at"]

    r = cart.put("/update-order", json={"orderId": "ORDER-NONEXISTENT", "status": "confirmed"})
    assert r.status_code == 200, r.text
    r = cart.post("/create-order", json={"orderId": "ORDER-001", "itemsCount": 2})
    assert r.status_code == 201, r.text

    def stats():
        s = order.get("/dlq/stats").json()
        return s if s["total_messages"] >= 2 else None
    s = wait_for(stats, 60, what="two DLQ entries")
    assert s["error_reasons"] == {"ORDER_NOT_FOUND": 1, "DUPLICATE_ORDER": 1}
    d = wait_order(order, "ORDER-001")
    assert d["status"] == "shipped" and d["customerId"] == created["customerId"]

    # The state is PostgreSQL's: rows and positions there, no SQLite file.
    assert postgres.value(f'SELECT count(*) FROM "{schema}".orders') == "1"
    assert postgres.value(f'SELECT count(*) FROM "{schema}".status_history') == "1"
    assert int(postgres.value(f'SELECT sum(next_offset) FROM "{schema}".consumed_offsets')) == 4
    assert postgres.value(f'SELECT version FROM "{schema}".schema_version') == "2"
    # the buffer cache scripts/postgres.sh gives the server, not PostgreSQL's own 128MB
    assert postgres.value("SHOW shared_buffers") == os.environ.get("PG_SHARED_BUFFERS", "512MB")
    assert not os.path.exists(order.env["STORE_PATH"])


def test_postgres_sh_refuses_a_buffer_size_that_is_not_one(tmp_path):
    # the value goes on the server's command line: anything but a size is refused
    # before initdb, naming the variable
    res = subprocess.run([str(POSTGRES_SH), "start"], capture_output=True, text=True, timeout=60,
                         env=dict(os.environ, STACK_DIR=str(tmp_path), PG_PORT="1",
                                  PG_SHARED_BUFFERS="512MB -c fsync=off"))
    assert res.returncode != 0, res.stdout
    assert "PG_SHARED_BUFFERS must be a size" in res.stderr, res.stderr
    assert not (tmp_path / "postgres").exists()
