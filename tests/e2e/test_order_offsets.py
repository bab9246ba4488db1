"""Kafka's copy of order-service's positions. The store decides where a
partition starts (every assignment seeks to the store's position), so the
group's committed offsets are only what operators' lag tools read. They used
to be committed after every batch: a trickle of events, each its own batch,
sent the broker one OffsetCommit per event (about 450 a second under create
load). They are now sent at most once a second while positions move, and
still reach the partitions' ends once the trickle stops, and after a broker outage during
which their commit failed (before the fix, idle partitions kept the lag of
that failed commit for ever)."""

import time

from conftest import unique
from order_e2e import (EventWriter, committed_offsets, create_event, health, metric,
                       partition_ends, wait_for, wait_order)

EVENTS = 40


def test_a_trickle_commits_to_kafka_once_a_second_not_per_batch(services, stack):
    order = services.start("order")
    commits0 = metric(order, "order_consumer_offset_commits_total")
    w = EventWriter(stack, services.topic)
    prefix = unique("OC")
    t0 = time.monotonic()
    for i in range(EVENTS):
        oid = f"{prefix}-{i:03d}"
        w.send(create_event(oid, [("A", 1, "1.00")]))
        w.flush()
        wait_order(order, oid, timeout=30)  # applied before the next is sent: its own batch
    elapsed = time.monotonic() - t0
    commits = metric(order, "order_consumer_offset_commits_total") - commits0
    # one a second, and one more for the second that was running when it began
    assert commits <= elapsed + 2, (commits, elapsed)
    assert health(order)["eventsApplied"] == EVENTS

    ends = partition_ends(stack, services.topic)
    assert sum(ends.values()) == EVENTS
    wait_for(lambda: committed_offsets(stack, services.group, services.topic) == ends, 10, 0.5,
             what="committed offsets at the partition ends")


def test_positions_moved_while_the_broker_was_down_reach_kafka_after(services, stack):
    """A commit of Kafka's copy that fails (the broker down) is sent again
    once it is back, and a partition assigned again commits the store's
    position, even if no event arrives any more: an idle partition would
    otherwise show a lag that is not there for ever."""
    # the batch's store commit is held 6 s (a test knob), so its positions move,
    # and their commit to Kafka is tried, while the broker is down
    order = services.start("order", env={"ORDER_TEST_COMMIT_DELAY_MS": 6000})
    wait_for(lambda: len(health(order)["assignedPartitions"]) == 3, 30, 0.2,
             what="three partitions assigned")
    w = EventWriter(stack, services.topic)
    prefix = unique("OD")
    for i in range(12):
        w.send(create_event(f"{prefix}-{i:03d}", [("A", 1, "1.00")]))
    w.flush()
    time.sleep(1.0)  # fetched: the consume thread holds the batch
    stack.stop_kafka()
    wait_for(lambda: health(order)["eventsApplied"] == 12, 30, 0.2, what="12 applied")
    # longer than the session timeout (10 s): the partitions are revoked, then
    # assigned again from the store once the broker is back
    time.sleep(10)
    stack.start_kafka()
    ends = wait_for(lambda: settled(partition_ends, stack, services.topic), 60, 1.0,
                    what="the partitions' ends once the broker leads them again")
    assert sum(ends.values()) == 12
    wait_for(lambda: settled(committed_offsets, stack, services.group, services.topic) == ends,
             40, 1.0, what="committed offsets at the partition ends")


def settled(fn, *args):
    """fn(*args), or None while the restarted broker still loads (not leader yet)."""
    from confluent_kafka import KafkaException
    try:
        return fn(*args)
    except KafkaException:
        return None
