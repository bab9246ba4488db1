"""Schema evolution on the reader side (issue 13), against the real broker
and registry, with ARCHITECTURE.md's steps followed literally:

1. deploy the reader first: order-service runs with an evolved reader schema
   (ORDER_READER_SCHEMA_FILE: a new field `channel` with a default, and a
   default for `currency`) while cart-service keeps producing v1, including
   a backlog written before the new reader started;
2. then deploy the writer: v2 (the reader's schema, `channel` set) is
   registered under the same subject, which the registry's BACKWARD check
   accepts, and produced;
3. then remove a field that has a default: v3 without `currency`; the reader
   fills in its default.

Nothing is lost, nothing goes to the DLQ, defaults are applied; an old
reader (the compiled-in schema) reads the same topic, skipping `channel`
(v3 it cannot read: its `currency` has no default, so those events are its
dead letters, with the resolver's reason, which is exactly why the docs say
readers first).

And a writer the reader cannot resolve (a required field missing, registered
under another subject so the registry does not refuse it): its events are
DESERIALIZATION_ERROR dead letters with the resolver's reason, and the
partition keeps flowing behind them.
"""

import json
from decimal import Decimal

import pytest

from order_e2e import (SCHEMA, EventWriter, create_event, dlq_messages, health, update_event,
                       wait_for, wait_order)

pytestmark = pytest.mark.slow


def reader_v2() -> dict:
    s = json.loads(SCHEMA)
    fields = s["fields"]
    i = next(k for k, f in enumerate(fields) if f["name"] == "orderId")
    fields.insert(i + 1, {"name": "channel", "type": "string", "default": "web"})
    create = fields[-1]["type"][0]
    for f in create["fields"]:
        if f["name"] == "currency":
            f["default"] = "USD"
    return s


def writer_v3() -> dict:
    s = reader_v2()
    create = s["fields"][-1]["type"][0]
    create["fields"] = [f for f in create["fields"] if f["name"] != "currency"]
    return s


def dlq_total(svc) -> int:
    return svc.get("/dlq/stats").json()["total_messages"]


def test_evolution_steps_lose_nothing(services, stack, tmp_path):
    cart = services.start("cart")
    # the backlog: v1 events written before the evolved reader is deployed
    backlog = [f"EVO-BL-{i}" for i in range(20)]
    partition = {}
    for oid in backlog:
        r = cart.post("/create-order", json={"orderId": oid, "itemsCount": 2})
        assert r.status_code == 201, r.text
        partition[oid] = r.json()["partition"]

    # step 1: the reader first
    schema_file = tmp_path / "order-event-v2.avsc"
    schema_file.write_text(json.dumps(reader_v2(), indent=2))
    order = services.start("order", env={"ORDER_READER_SCHEMA_FILE": str(schema_file)})
    for oid in backlog:
        wait_order(order, oid)
    live = [f"EVO-V1-{i}" for i in range(10)]
    for oid in live:
        assert cart.post("/create-order", json={"orderId": oid, "itemsCount": 1}).status_code == 201
        assert cart.put("/update-order", json={"orderId": oid, "status": "confirmed"}
                        ).status_code == 200
    for oid in live:
        wait_order(order, oid, status="confirmed")
    assert dlq_total(order) == 0

    # step 2: the writer, same subject (BACKWARD: v2 reads v1 data)
    w2 = EventWriter(stack, services.topic, schema=json.dumps(reader_v2()))
    v2 = [f"EVO-V2-{i}" for i in range(10)]
    for oid in v2:
        ev = create_event(oid, [("ITEM-00001", 2, "3.50")])
        ev["channel"] = "app"
        ev["payload"][1]["currency"] = "EUR"
        w2.send(ev)
    for oid in backlog[:5]:  # v2 updates of orders created under v1, on their partition
        ev = update_event(oid, "shipped")
        ev["channel"] = "app"
        w2.send(ev, partition=partition[oid])
    w2.flush()

    # step 3: remove a field that has a default (BACKWARD: v3 reads v2 data)
    w3 = EventWriter(stack, services.topic, schema=json.dumps(writer_v3()))
    v3 = [f"EVO-V3-{i}" for i in range(10)]
    for oid in v3:
        ev = create_event(oid, [("ITEM-00002", 1, "9.99")])
        del ev["payload"][1]["currency"]
        ev["channel"] = "app"
        w3.send(ev)
    w3.flush()
    versions = stack.sr_client().get_versions(services.topic + "-value")
    assert len(versions) == 3, versions  # v1 (cart), v2, v3: all accepted by the registry

    for oid in v2:
        d = wait_order(order, oid)
        assert d["currency"] == "EUR" and d["totalAmount"] == Decimal("7.00")
    for oid in v3:
        d = wait_order(order, oid)
        assert d["currency"] == "USD", d  # the reader's default
        assert d["totalAmount"] == Decimal("9.99")
    for oid in backlog[:5]:
        wait_order(order, oid, status="shipped")
    for oid in backlog + live:
        assert wait_order(order, oid)["currency"] == "USD"
    total = len(backlog) + 2 * len(live) + len(v2) + 5 + len(v3)
    wait_for(lambda: health(order)["lag"] == 0 and health(order)["eventsApplied"] == total, 60,
             what="every event applied")
    assert dlq_total(order) == 0
    assert health(order)["eventsDeadLettered"] == 0

    # an old reader (compiled-in schema) on the same topic: v1 and v2 apply
    # (channel skipped); v3 lacks its currency, which it has no default for
    old = services.start("order", env={"CONSUMER_GROUP_ID": services.group + "-old",
                                       "DLQ_TOPIC": services.dlq_topic + "-old"})
    wait_for(lambda: health(old)["lag"] == 0 and
             health(old)["eventsApplied"] + health(old)["eventsDeadLettered"] == total, 90,
             what="the old reader drained")
    for oid in v2 + backlog:
        assert wait_order(old, oid)["currency"] in ("EUR", "USD")
    dead = dlq_messages(old)
    assert sorted(m["key"] for m in dead) == sorted(v3)
    for m in dead:
        assert m["errorReason"] == "DESERIALIZATION_ERROR"
        assert "CreateOrderPayload.currency is not in the writer schema" in m["errorMessage"], m


def test_unresolvable_writer_is_dead_lettered_and_partition_flows(services, stack):
    order = services.start("order")
    w = EventWriter(stack, services.topic)
    # a writer lacking customerId, which the reader requires without default;
    # under another subject, so the registry's compatibility check lets it in
    s = json.loads(SCHEMA)
    create = s["fields"][-1]["type"][0]
    create["fields"] = [f for f in create["fields"] if f["name"] != "customerId"]
    bad = EventWriter(stack, services.topic + "-other", schema=json.dumps(s))
    ev = create_event("UNRES-1", [("ITEM-00001", 1, "1.00")])
    del ev["payload"][1]["customerId"]
    value = bad.encode(ev)

    w.send(create_event("UNRES-BEFORE", [("ITEM-00001", 1, "1.00")]), partition=0)
    w.send_raw(b"UNRES-1", value, partition=0)
    w.send_raw(b"UNRES-2", value, partition=0)
    w.send(create_event("UNRES-AFTER", [("ITEM-00001", 1, "1.00")]), partition=0)
    w.send(update_event("UNRES-BEFORE", "confirmed"), partition=0)
    w.flush()

    wait_order(order, "UNRES-AFTER")
    wait_order(order, "UNRES-BEFORE", status="confirmed")
    wait_for(lambda: dlq_total(order) == 2, 60, what="both unresolvable events dead-lettered")
    msgs = dlq_messages(order)
    assert sorted(m["key"] for m in msgs) == ["UNRES-1", "UNRES-2"]
    for m in msgs:
        assert m["errorReason"] == "DESERIALIZATION_ERROR", m
        assert m["errorCategory"] == "NO_RETRY_DLQ"
        assert ("CreateOrderPayload.customerId is not in the writer schema and has no default"
                in m["errorMessage"]), m
    assert health(order)["waitingPartitions"] == 0


def test_bad_reader_schema_file_stops_the_service(services, tmp_path):
    f = tmp_path / "not-an-order.avsc"
    f.write_text('{"type": "record", "name": "X", "fields": [{"name": "a", "type": "int"}]}')
    order = services.start("order", env={"ORDER_READER_SCHEMA_FILE": str(f)}, wait=False)
    wait_for(lambda: not order.alive(), 30, what="the service to exit")
    assert "ORDER_READER_SCHEMA_FILE" in order.log_text()
    services.started.remove(order)
