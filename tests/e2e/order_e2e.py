"""Helpers for the order-service end-to-end tests (test_order*.py).

Events are written by an independent client: confluent-kafka's own
AvroSerializer with the project's .avsc and the registry, so the service is
proven against the reference implementation of the wire format, not only
against its own encoder. Waiting is always "poll until a condition holds or a
generous deadline passes": the tests assert outcomes, never durations.
"""

from __future__ import annotations

import json
import time
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "schemas" / "order-event.avsc"
SCHEMA = SCHEMA_PATH.read_text()
CREATE_BRANCH = "com.orderstream.events.CreateOrderPayload"
UPDATE_BRANCH = "com.orderstream.events.UpdateOrderPayload"


def shipping(total: Decimal) -> Decimal:
    """2% of the total, half-up to the cent: the documented rule."""
    return (total * Decimal("0.02")).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def jloads(text: str):
    """JSON with exact decimals (money must never go through a float here)."""
    return json.loads(text, parse_float=Decimal)


def create_event(order_id: str, items: list[tuple[str, int, str]], ts: int = 1764079200000,
                 customer: str = "CUST-1") -> dict:
    its = [{"itemId": i, "quantity": q, "price": Decimal(p)} for i, q, p in items]
    total = sum((it["price"] * it["quantity"] for it in its), Decimal("0.00"))
    return {"eventType": "CREATE", "orderId": order_id, "timestamp": ts,
            "payload": (CREATE_BRANCH, {"customerId": customer,
                                        "orderDate": "2026-11-25T14:00:00.000Z",
                                        "items": its, "totalAmount": total, "currency": "USD",
                                        "status": "new"})}


def update_event(order_id: str, status: str, ts: int = 1764079300000) -> dict:
    return {"eventType": "UPDATE", "orderId": order_id, "timestamp": ts,
            "payload": (UPDATE_BRANCH, {"status": status})}


class EventWriter:
    """Serializes with AvroSerializer and produces keyed records (acks=all)."""

    def __init__(self, stack, topic: str, schema: str = SCHEMA):
        self.topic = topic
        self.ser = AvroSerializer(stack.sr_client(), schema, conf={"auto.register.schemas": True})
        self.ctx = SerializationContext(topic, MessageField.VALUE)
        self.producer = stack.producer(**{"acks": "all", "enable.idempotence": True,
                                          "linger.ms": 5})
        self.delivered: list = []

    def encode(self, event: dict) -> bytes:
        return self.ser(event, self.ctx)

    def send_raw(self, key: bytes | None, value: bytes, partition: int | None = None) -> None:
        kw = {} if partition is None else {"partition": partition}

        def on_delivery(err, msg):
            assert err is None, f"delivery failed: {err}"
            self.delivered.append((msg.partition(), msg.offset()))

        while True:
            try:
                self.producer.produce(self.topic, key=key, value=value, on_delivery=on_delivery,
                                      **kw)
                break
            except BufferError:
                self.producer.poll(0.1)
        self.producer.poll(0)

    def send(self, event: dict, partition: int | None = None) -> None:
        self.send_raw(event["orderId"].encode(), self.encode(event), partition)

    def flush(self) -> None:
        assert self.producer.flush(60) == 0, "events not acknowledged"


def wait_for(predicate, timeout: float = 60.0, interval: float = 0.2, what: str = "condition"):
    """Polls predicate() until it returns a truthy value; returns that value."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


def order_details(svc, order_id: str):
    r = svc.get("/order-details", params={"orderId": order_id})
    return r.status_code, jloads(r.text)


def wait_order(svc, order_id: str, status: str | None = None, timeout: float = 60.0) -> dict:
    def ready():
        code, body = order_details(svc, order_id)
        if code == 200 and (status is None or body["status"] == status):
            return body
        return None
    return wait_for(ready, timeout, what=f"order {order_id} (status {status})")


def health(svc) -> dict:
    return svc.get("/health").json()


def wait_drained(svc, applied_plus_dlq: int, timeout: float = 120.0) -> dict:
    """Until the service has applied + dead-lettered that many events, lag 0."""
    def done():
        h = health(svc)
        total = h["eventsApplied"] + h["eventsDeadLettered"]
        return h if total >= applied_plus_dlq and h["lag"] == 0 else None
    return wait_for(done, timeout, interval=0.5, what=f"{applied_plus_dlq} events processed")


def dlq_messages(svc, limit: int = 1000, offset: int = 0) -> list[dict]:
    r = svc.get("/dlq/messages", params={"limit": limit, "offset": offset})
    assert r.status_code == 200, r.text
    return jloads(r.text)["messages"]


def metric(svc, name: str) -> float:
    """An unlabelled sample of the service's /metrics."""
    for line in svc.get("/metrics").text.splitlines():
        if line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"no metric {name}")


def partition_ends(stack, topic: str, partitions: int = 3) -> dict[int, int]:
    from confluent_kafka import TopicPartition
    c = stack.consumer()
    try:
        return {p: c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
                for p in range(partitions)}
    finally:
        c.close()


def committed_offsets(stack, group: str, topic: str, partitions: int = 3) -> dict[int, int]:
    """The group's offsets as Kafka holds them (negative: none committed)."""
    from confluent_kafka import TopicPartition
    c = stack.consumer(group=group)
    try:
        parts = [TopicPartition(topic, p) for p in range(partitions)]
        return {tp.partition: tp.offset for tp in c.committed(parts, timeout=30)}
    finally:
        c.close()
