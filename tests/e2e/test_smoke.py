"""Smoke test of the test infrastructure itself: the fresh stack accepts a
schema and carries an Avro message in the Confluent wire format, exactly as
the services will use it, with confluent-kafka's own serializer and
deserializer as the independent reference implementation."""

import json
import struct
from decimal import Decimal
from pathlib import Path

from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from conftest import unique

SCHEMA = (Path(__file__).resolve().parents[2] / "schemas" / "order-event.avsc").read_text()


def test_registry_and_broker_carry_one_avro_order_event(stack):
    topic = unique("smoke")
    stack.create_topic(topic, partitions=3)
    sr = stack.sr_client()
    ser = AvroSerializer(sr, SCHEMA, conf={"auto.register.schemas": True})
    deser = AvroDeserializer(sr)

    event = {
        "eventType": "CREATE",
        "orderId": "ORDER-SMOKE-1",
        "timestamp": 1764079200123,
        "payload": ("com.orderstream.events.CreateOrderPayload", {
            "customerId": "CUST-42",
            "orderDate": "2026-11-25T14:00:00.123Z",
            "items": [
                {"itemId": "ITEM-1", "quantity": 2, "price": Decimal("19.99")},
                {"itemId": "ITEM-2", "quantity": 1, "price": Decimal("5.00")},
            ],
            "totalAmount": Decimal("44.98"),
            "currency": "USD",
            "status": "new",
        }),
    }
    ctx = SerializationContext(topic, MessageField.VALUE)
    value = ser(event, ctx)

    # Confluent wire format: magic 0, 4-byte big-endian schema id, Avro body;
    # the id is the one the registry now holds for <topic>-value.
    assert value[0] == 0
    (schema_id,) = struct.unpack(">I", value[1:5])
    registered = sr.get_latest_version(f"{topic}-value")
    assert registered.schema_id == schema_id
    assert json.loads(registered.schema.schema_str)["name"] == "OrderEvent"

    p = stack.producer()
    delivered = []
    p.produce(topic, key=event["orderId"].encode(), value=value,
              on_delivery=lambda err, msg: delivered.append((err, msg)))
    assert p.flush(30) == 0
    assert len(delivered) == 1 and delivered[0][0] is None

    msgs = stack.read_all(topic)
    assert len(msgs) == 1
    m = msgs[0]
    assert m.key() == b"ORDER-SMOKE-1"
    # same key, same partition: the ordering guarantee the design relies on
    assert m.partition() == delivered[0][1].partition()
    got = deser(m.value(), ctx)
    assert got["eventType"] == "CREATE"
    assert got["orderId"] == "ORDER-SMOKE-1"
    assert got["payload"]["customerId"] == "CUST-42"
    assert got["payload"]["totalAmount"] == Decimal("44.98")
    assert [i["price"] for i in got["payload"]["items"]] == [Decimal("19.99"), Decimal("5.00")]
    # timestamp-millis comes back as an aware datetime
    assert int(got["timestamp"].timestamp() * 1000) == 1764079200123


def test_update_event_is_a_different_union_branch(stack):
    """The UPDATE branch round-trips and is much smaller than a CREATE."""
    topic = unique("smoke-upd")
    stack.create_topic(topic)
    sr = stack.sr_client()
    ser = AvroSerializer(sr, SCHEMA)
    deser = AvroDeserializer(sr)
    ctx = SerializationContext(topic, MessageField.VALUE)
    upd = {"eventType": "UPDATE", "orderId": "ORDER-SMOKE-2", "timestamp": 1,
           "payload": ("com.orderstream.events.UpdateOrderPayload", {"status": "shipped"})}
    value = ser(upd, ctx)
    p = stack.producer()
    p.produce(topic, key=b"ORDER-SMOKE-2", value=value)
    assert p.flush(30) == 0
    (m,) = stack.read_all(topic)
    got = deser(m.value(), ctx)
    assert got["eventType"] == "UPDATE"
    assert got["payload"] == {"status": "shipped"}


def test_registry_keeps_schemas_across_restart(stack):
    """Fault tests rely on schema ids surviving a registry restart."""
    subject = unique("smoke-restart") + "-value"
    sr = stack.sr_client()
    from confluent_kafka.schema_registry import Schema
    sid = sr.register_schema(subject, Schema(SCHEMA, "AVRO"))
    stack.stop_registry()
    stack.start_registry()
    fresh = stack.sr_client()  # no client-side cache
    assert fresh.get_latest_version(subject).schema_id == sid
    assert json.loads(fresh.get_schema(sid).schema_str)["name"] == "OrderEvent"


def test_topics_are_not_auto_created(stack):
    """auto.create.topics.enable=false: services must create their topics."""
    topic = unique("never-created")
    md = stack.admin().list_topics(topic, timeout=10)
    assert md.topics[topic].error is not None
    assert topic not in stack.admin().list_topics(timeout=10).topics


def test_registry_treats_reformatted_schema_as_the_same(stack):
    """Confluent semantics the services rely on: re-registering the schema
    with other whitespace (C vs Python serialisation) returns the same id and
    adds no version; and the same schema under another subject shares its id."""
    from confluent_kafka.schema_registry import Schema
    subject = unique("smoke-canon") + "-value"
    sr = stack.sr_client()
    pretty = SCHEMA
    compact = json.dumps(json.loads(SCHEMA), separators=(",", ":"))
    assert pretty != compact
    first = sr.register_schema(subject, Schema(pretty, "AVRO"))
    again = stack.sr_client().register_schema(subject, Schema(compact, "AVRO"))
    assert again == first
    assert sr.get_versions(subject) == [1]
    other = stack.sr_client().register_schema(unique("smoke-canon2") + "-value",
                                              Schema(pretty, "AVRO"))
    assert other == first
