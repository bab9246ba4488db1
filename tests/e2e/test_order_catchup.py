"""Catch-up of a backlog with a small prefetch bound: librdkafka 2.0.2 stops
fetching a partition whose queue reached queued.max.messages.kbytes and
fetches it again only at its broker thread's next wake-up, so the consumer
used to sit idle with the backlog on the broker. order-service now wakes the
fetchers (a watermark query) when the queue runs dry right after a full
batch: /metrics counts those wakes, and every event of the backlog is
applied once. How fast that is, make bench measures (bench/profile-notes.md);
this test asserts no time."""

from conftest import unique
from order_e2e import EventWriter, create_event, health, metric, wait_drained, wait_order

EVENTS = 12000


def test_backlog_past_the_prefetch_bound_wakes_the_fetchers(services, stack):
    stack.create_topic(services.topic, partitions=3)
    w = EventWriter(stack, services.topic)
    prefix = unique("CU")
    ids = [f"{prefix}-{i:06d}" for i in range(EVENTS)]
    for oid in ids:
        w.send(create_event(oid, [("A", 1, "1.00")]))
    w.flush()

    # ~4,000 events (about 0.5 MB) per partition against a 64 KB bound and
    # batches of 200: the queues fill and run dry again and again.
    order = services.start("order", env={"KAFKA_PROP_QUEUED_MAX_MESSAGES_KBYTES": "64",
                                         "CONSUMER_BATCH_MAX": "200"})
    wait_drained(order, EVENTS, timeout=300)
    h = health(order)
    assert h["eventsApplied"] == EVENTS and h["eventsDeadLettered"] == 0, h
    assert h["ordersStored"] == EVENTS, h
    assert metric(order, "order_consumer_fetch_wakes_total") > 0
    for oid in (ids[0], ids[EVENTS // 2], ids[-1]):
        assert wait_order(order, oid)["orderId"] == oid
