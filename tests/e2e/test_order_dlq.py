"""order-service against an independent producer: events written with
confluent-kafka's AvroSerializer (same .avsc, and a newer compatible version)
are applied like cart-service's own; records that break the contract land in
the DLQ at once with the right reason, the original key and the original
value bytes, and never reach the store."""

import base64
import json
import struct
from decimal import Decimal

from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from order_e2e import (SCHEMA, EventWriter, create_event, dlq_messages, health, jloads,
                       order_details, update_event, wait_for, wait_order)


def evolved_schema() -> str:
    """A newer, compatible writer schema: one extra field with a default."""
    s = json.loads(SCHEMA)
    s["fields"].append({"name": "channel", "type": "string", "default": "web"})
    return json.dumps(s)


def test_independent_client_and_contract_violations(services, stack):
    order = services.start("order")
    w = EventWriter(stack, services.topic)

    # Valid events from the independent client, including a newer schema version.
    w.send(create_event("IND-1", [("A", 2, "19.99"), ("B", 1, "0.05")], ts=1764079200000))
    w.send(update_event("IND-1", "CONFIRMED", ts=1764079201000))  # case-insensitive
    w2 = EventWriter(stack, services.topic, schema=evolved_schema())
    ev2 = create_event("IND-2", [("C", 3, "0.10")])
    ev2["channel"] = "mobile"
    w2.send(ev2)

    expected = {}  # key -> (reason, value bytes)

    def bad(key: str, value: bytes, reason: str):
        expected[key] = (reason, value)
        w.send_raw(key.encode(), value)

    # DESERIALIZATION_ERROR: framing, unknown schema id, corrupt Avro, incompatible schema
    bad("BAD-MAGIC", b"\x01\x00\x00\x00\x01\x02\x04ab", "DESERIALIZATION_ERROR")
    bad("TOO-SHORT", b"\x00\x00", "DESERIALIZATION_ERROR")
    bad("EMPTY", b"", "DESERIALIZATION_ERROR")
    bad("UNKNOWN-ID", b"\x00" + struct.pack(">I", 987654) + b"\x00\x04ab", "DESERIALIZATION_ERROR")
    good = w.encode(create_event("CORRUPT-1", [("A", 1, "1.00")]))
    bad("CORRUPT-1", good[:5] + b"\x00\x0eCORR", "DESERIALIZATION_ERROR")
    bad("CORRUPT-2", good[:5] + b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", "DESERIALIZATION_ERROR")
    incompatible = json.dumps({"type": "record", "name": "OrderEvent",
                               "namespace": "com.orderstream.events",
                               "fields": [{"name": "orderId", "type": "int"}]})
    other = AvroSerializer(stack.sr_client(), incompatible, conf={"auto.register.schemas": True})
    value = other({"orderId": 7}, SerializationContext(services.topic + "-other",
                                                       MessageField.VALUE))
    bad("INCOMPATIBLE", value, "DESERIALIZATION_ERROR")

    # INVALID_EVENT: decodes, but breaks the contract
    ev = create_event("BAD-TOTAL", [("A", 1, "1.00")])
    ev["payload"][1]["totalAmount"] = Decimal("2.00")
    bad("BAD-TOTAL", w.encode(ev), "INVALID_EVENT")
    ev = create_event("NO-ITEMS", [("A", 1, "1.00")])
    ev["payload"][1]["items"] = []
    ev["payload"][1]["totalAmount"] = Decimal("0.00")
    bad("NO-ITEMS", w.encode(ev), "INVALID_EVENT")
    ev = create_event("ZERO-QTY", [("A", 0, "1.00")])
    bad("ZERO-QTY", w.encode(ev), "INVALID_EVENT")
    bad("UPD-NEW", w.encode(update_event("IND-1", "new")), "INVALID_EVENT")
    bad("UPD-UNKNOWN", w.encode(update_event("IND-1", "teleported")), "INVALID_EVENT")
    w.flush()

    def all_dead():
        s = order.get("/dlq/stats").json()
        return s if s["total_messages"] >= len(expected) else None
    stats = wait_for(all_dead, 60, what="every bad record in the DLQ")
    assert stats["total_messages"] == len(expected)
    assert stats["error_categories"] == {"NO_RETRY_DLQ": len(expected)}
    assert stats["error_reasons"] == {"DESERIALIZATION_ERROR": 7, "INVALID_EVENT": 5}

    msgs = dlq_messages(order)
    assert len(msgs) == len(expected)
    by_key = {m["key"]: m for m in msgs}
    assert set(by_key) == set(expected)
    for key, (reason, value) in expected.items():
        m = by_key[key]
        assert m["errorReason"] == reason, (key, m)
        assert m["errorCategory"] == "NO_RETRY_DLQ"
        assert m["retryCount"] == 0
        assert m["errorMessage"]
        assert m["originalTopic"] == services.topic
        # the original bytes, unchanged, so the record can be replayed as is
        assert base64.b64decode(m["value"]) == value, key
    assert "987654" in by_key["UNKNOWN-ID"]["errorMessage"]
    assert by_key["UNKNOWN-ID"]["event"] is None
    # an invalid but decodable event is shown decoded
    assert by_key["BAD-TOTAL"]["event"]["payload"]["totalAmount"] == Decimal("2.00")
    # DLQ order: partition, then offset
    pos = [(m["partition"], m["offset"]) for m in msgs]
    assert pos == sorted(pos)

    # The valid events were applied; none of the bad ones reached the store.
    d = wait_order(order, "IND-1", status="confirmed")
    assert d["totalAmount"] == Decimal("40.03")
    assert d["shippingCost"] == Decimal("0.80")  # 0.8006 -> 0.80
    assert d["items"] == [{"itemId": "A", "quantity": 2, "price": Decimal("19.99")},
                          {"itemId": "B", "quantity": 1, "price": Decimal("0.05")}]
    assert [h["status"] for h in d["statusHistory"]] == ["new", "confirmed"]
    d2 = wait_order(order, "IND-2")
    assert d2["totalAmount"] == Decimal("0.30") and d2["shippingCost"] == Decimal("0.01")
    for key in ("BAD-TOTAL", "NO-ITEMS", "ZERO-QTY", "CORRUPT-1"):
        assert order_details(order, key)[0] == 404
    assert health(order)["ordersStored"] == 2


def test_dlq_paging_over_many_entries(services, stack):
    """limit/offset page through the DLQ in (partition, offset) order."""
    order = services.start("order")
    w = EventWriter(stack, services.topic)
    n = 25
    for i in range(n):
        w.send_raw(f"JUNK-{i:02d}".encode(), b"\x07junk")
    w.flush()
    wait_for(lambda: order.get("/dlq/stats").json()["total_messages"] == n, 60,
             what=f"{n} DLQ entries")
    everything = dlq_messages(order, limit=1000)
    assert len(everything) == n
    pages = []
    for off in range(0, n, 10):
        r = order.get("/dlq/messages", params={"limit": 10, "offset": off})
        body = jloads(r.text)
        assert body["total"] == n and body["offset"] == off
        pages += body["messages"]
    assert pages == everything
    # every record is listed once
    assert sorted(m["key"] for m in everything) == [f"JUNK-{i:02d}" for i in range(n)]
    ids = order.get("/getAllOrderIdsFromTopic", params={"topic": services.dlq_topic}).json()
    assert ids["count"] == n and sorted(ids["orderIds"]) == sorted(m["key"] for m in everything)
