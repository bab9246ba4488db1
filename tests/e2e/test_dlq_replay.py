"""DLQ replay (POST /dlq/replay, GET /dlq/replay/{id}) against the real
broker and registry: an operator's token guards it; an UPDATE dead-lettered
because its order did not exist yet applies once replayed after its CREATE;
a replayed record is remembered (a second replay skips it, `force` replays
it again and the consumer's redelivery check keeps the store unchanged);
dryRun changes nothing; selections pick exactly what they name; a broker
outage in the middle of a replay loses nothing."""

from __future__ import annotations

import base64
import time

from order_e2e import (EventWriter, create_event, dlq_messages, order_details, update_event,
                       wait_for, wait_order)

TOKEN = "s3cret-replay-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def start_order(services, **env):
    e = {"DLQ_REPLAY_TOKEN": TOKEN}
    e.update(env)
    return services.start("order", env=e)


def replay(order, body, headers=AUTH):
    return order.post("/dlq/replay", json=body, headers=headers)


def wait_replay(order, rid, timeout=180.0) -> dict:
    def done():
        r = order.get(f"/dlq/replay/{rid}", headers=AUTH)
        assert r.status_code == 200, r.text
        body = r.json()
        return body if body["state"] != "running" else None
    return wait_for(done, timeout, interval=0.3, what=f"replay {rid} to finish")


def run_replay(order, body) -> dict:
    r = replay(order, body)
    assert r.status_code == 202, r.text
    rid = r.json()["id"]
    assert r.headers["Location"] == f"/dlq/replay/{rid}"
    return wait_replay(order, rid)


def dlq_count(order) -> int:
    return order.get("/dlq/stats").json()["total_messages"]


def dead_letter_updates(order, w, ids, status="shipped"):
    """UPDATEs for orders that do not exist yet: each lands in the DLQ (ORDER_NOT_FOUND)."""
    before = dlq_count(order)
    for oid in ids:
        w.send(update_event(oid, status), partition=0)
    w.flush()
    wait_for(lambda: dlq_count(order) >= before + len(ids), 60, what="the dead letters")


def test_replay_needs_the_operator_token(services):
    # none configured: disabled, and the answer names the setting
    order = services.start("order")
    for r in (replay(order, {"dryRun": True}), order.get("/dlq/replay/rp-1-00000000", headers=AUTH),
              replay(order, {"dryRun": True}, headers={})):
        assert r.status_code == 403, r.text
        assert "DLQ_REPLAY_TOKEN" in r.json()["detail"]
    order.stop()

    order = start_order(services)
    for headers in ({}, {"Authorization": "Bearer wrong-token"}, {"Authorization": TOKEN},
                    {"Authorization": f"Basic {TOKEN}"}, {"Authorization": f"Bearer {TOKEN}x"}):
        r = replay(order, {"dryRun": True}, headers=headers)
        assert r.status_code == 401, (headers, r.text)
        assert r.headers["WWW-Authenticate"].startswith("Bearer")
        r = order.get("/dlq/replay/rp-1-00000000", headers=headers)
        assert r.status_code == 401, (headers, r.text)
    # the right token passes (an unknown id is a 404, not a 401)
    assert order.get("/dlq/replay/rp-1-00000000", headers=AUTH).status_code == 404
    assert TOKEN not in order.log_text()


def test_update_before_create_is_replayed_once(services, stack):
    order = start_order(services)
    w = EventWriter(stack, services.topic)
    oid = "RPL-LATE-1"
    dead_letter_updates(order, w, [oid])
    (m,) = dlq_messages(order)
    assert m["errorReason"] == "ORDER_NOT_FOUND" and m["key"] == oid

    w.send(create_event(oid, [("I", 1, "5.00")]), partition=0)
    w.flush()
    wait_order(order, oid, status="new")

    st = run_replay(order, {"orderId": oid, "reason": "ORDER_NOT_FOUND"})
    assert st["state"] == "completed", st
    assert (st["selected"], st["replayed"], st["skipped"], st["failed"]) == (1, 1, 0, 0), st
    assert st["endOffsets"] == [{"partition": 0, "endOffset": 1}]
    d = wait_order(order, oid, status="shipped")
    assert [h["status"] for h in d["statusHistory"]] == ["new", "shipped"]

    # the replayed record: original key and value, headers added
    def replayed():
        return [x for x in stack.read_all(services.topic)
                if dict(x.headers() or []).get("replayedFrom")]
    (rec,) = wait_for(replayed, 30, what="the replayed record on the events topic")
    h = {k: v.decode() for k, v in rec.headers()}
    assert rec.key() == oid.encode()
    assert rec.value() == base64.b64decode(m["value"])
    assert h["replayedFrom"] == f"{services.dlq_topic}:0:{m['offset']}"
    assert h["replayCount"] == "1"
    assert int(h["replayedAt"]) > 0
    assert h["dlq.reason"] == "ORDER_NOT_FOUND"  # the dead letter's headers are kept

    # twice: the second one skips it
    st = run_replay(order, {"orderId": oid})
    assert (st["selected"], st["replayed"], st["skipped"]) == (1, 0, 1), st
    # force: replayed again; the consumer sees a copy of the last applied UPDATE (same
    # status) and takes it as already applied: no change, no dead letter
    st = run_replay(order, {"orderId": oid, "force": True})
    assert (st["selected"], st["replayed"], st["skipped"]) == (1, 1, 0), st
    wait_for(lambda: len(replayed()) == 2, 30, what="the forced copy")
    counts = sorted(dict(x.headers())["replayCount"] for x in replayed())
    assert counts == [b"1", b"2"]
    wait_for(lambda: f"UPDATE {oid} is already applied" in order.log_text(), 30,
             what="the forced copy consumed as a redelivery")
    h = order.get("/health").json()
    code, d = order_details(order, oid)
    assert code == 200 and [x["status"] for x in d["statusHistory"]] == ["new", "shipped"]
    assert dlq_count(order) == 1
    assert h["eventsDeadLettered"] == 1


def test_dry_run_changes_nothing(services, stack):
    order = start_order(services)
    w = EventWriter(stack, services.topic)
    dead_letter_updates(order, w, ["RPL-DRY-1", "RPL-DRY-2"])
    events_before = len(stack.read_all(services.topic))
    st = run_replay(order, {"dryRun": True})
    assert st["state"] == "completed" and st["dryRun"] is True
    assert (st["selected"], st["replayed"], st["skipped"], st["failed"]) == (2, 0, 0, 0), st
    assert [r["orderId"] for r in st["records"]] == ["RPL-DRY-1", "RPL-DRY-2"]
    assert all(r["errorReason"] == "ORDER_NOT_FOUND" and r["replayCount"] == 0
               and r["originalTopic"] == services.topic for r in st["records"])
    time.sleep(1)  # give a wrongly produced record time to show up
    assert len(stack.read_all(services.topic)) == events_before
    # nothing was marked: a real replay replays both
    st = run_replay(order, {})
    assert (st["selected"], st["replayed"], st["skipped"]) == (2, 2, 0), st
    # and a dry run now shows them as replayed once (they would be skipped); offsets 0
    # and 1 only: the replayed UPDATEs, still without a CREATE, are dead-lettered anew
    st = run_replay(order, {"dryRun": True, "ranges": [{"partition": 0, "toOffset": 1}]})
    assert (st["selected"], st["skipped"]) == (2, 2), st
    assert [r["replayCount"] for r in st["records"]] == [1, 1]
    # a restart (SQLite) keeps the statuses: the store has them, dry-run records too
    order.restart()
    again = order.get(f"/dlq/replay/{st['id']}", headers=AUTH)
    assert again.status_code == 200, again.text
    kept = again.json()
    assert kept.pop("statusAgeMs") >= 0
    assert kept == st, (kept, st)


def test_selection_by_reason_order_offsets_and_time(services, stack):
    order = start_order(services)
    w = EventWriter(stack, services.topic)
    dead_letter_updates(order, w, ["RPL-SEL-1", "RPL-SEL-2"])            # offsets 0, 1
    w.send(update_event("RPL-SEL-3", "new"), partition=0)                 # INVALID_EVENT, 2
    w.flush()
    wait_for(lambda: dlq_count(order) == 3, 60, what="the invalid event's dead letter")

    def sel(body):
        st = run_replay(order, dict(body, dryRun=True))
        assert st["state"] == "completed", st
        return [r["orderId"] for r in st["records"]]

    assert sel({}) == ["RPL-SEL-1", "RPL-SEL-2", "RPL-SEL-3"]
    assert sel({"reason": "INVALID_EVENT"}) == ["RPL-SEL-3"]
    assert sel({"reason": "ORDER_NOT_FOUND"}) == ["RPL-SEL-1", "RPL-SEL-2"]
    assert sel({"orderId": "RPL-SEL-2"}) == ["RPL-SEL-2"]
    assert sel({"ranges": [{"partition": 0, "fromOffset": 1, "toOffset": 1}]}) == ["RPL-SEL-2"]
    assert sel({"ranges": [{"partition": 0, "fromOffset": 1}]}) == ["RPL-SEL-2", "RPL-SEL-3"]
    assert sel({"ranges": [{"partition": 0, "toOffset": 0}]}) == ["RPL-SEL-1"]
    assert sel({"ranges": [{"partition": 5}]}) == []  # no such DLQ partition
    assert sel({"failedTo": "2020-01-01T00:00:00Z"}) == []
    assert sel({"failedFrom": "2020-01-01T00:00:00Z", "failedTo": "2999-01-01T00:00:00.000Z"}) \
        == ["RPL-SEL-1", "RPL-SEL-2", "RPL-SEL-3"]
    assert sel({"reason": "INVALID_EVENT", "orderId": "RPL-SEL-1"}) == []
    st = run_replay(order, {"dryRun": True, "limit": 2})
    assert st["selected"] == 2 and st["limitReached"] is True
    st = run_replay(order, {"dryRun": True, "targetTopic": services.topic})
    assert st["selected"] == 3


def test_bad_requests_are_clear_400s(services):
    order = start_order(services)
    bad = [
        ({"targetTopic": "someone-elses-topic"}, "targetTopic"),
        ({"targetTopic": services.dlq_topic}, "targetTopic"),
        ({"surprise": 1}, "surprise"),
        ({"dryRun": "yes"}, "dryRun"),
        ({"force": 1}, "force"),
        ({"limit": 0}, "limit"),
        ({"limit": 1000001}, "limit"),
        ({"reason": "BORED"}, "reason"),
        ({"orderId": "has space"}, "orderId"),
        ({"orderId": ""}, "orderId"),
        ({"failedFrom": "yesterday"}, "failedFrom"),
        ({"failedFrom": "2026-02-30T00:00:00Z"}, "failedFrom"),
        ({"failedFrom": "2026-01-02T00:00:00Z", "failedTo": "2026-01-01T00:00:00Z"}, "failedTo"),
        ({"ranges": []}, "ranges"),
        ({"ranges": {"partition": 0}}, "ranges"),
        ({"ranges": [{"fromOffset": 1}]}, "ranges[0].partition"),
        ({"ranges": [{"partition": -1}]}, "ranges[0].partition"),
        ({"ranges": [{"partition": 0, "fromOffset": 5, "toOffset": 4}]}, "ranges[0].toOffset"),
        ({"ranges": [{"partition": 0, "fromOffset": -1}]}, "ranges[0].fromOffset"),
        ({"ranges": [{"partition": 0}, {"partition": 0}]}, "ranges[1].partition"),
        ({"ranges": [{"partition": 0, "extra": 1}]}, "ranges[0]"),
        ({"ranges": [{"partition": i} for i in range(65)]}, "ranges"),
    ]
    for body, field in bad:
        r = replay(order, body)
        assert r.status_code == 400, (body, r.text)
        j = r.json()
        assert j["errors"][0]["field"] == field, (body, j)
        assert j["detail"].startswith("invalid replay request"), j
    r = order.post("/dlq/replay", data=b"{not json", headers=dict(AUTH, **{
        "Content-Type": "application/json"}))
    assert r.status_code == 400 and "malformed JSON" in r.json()["detail"]
    r = order.post("/dlq/replay", data=b"[]", headers=dict(AUTH, **{
        "Content-Type": "application/json"}))
    assert r.status_code == 422
    for rid in ("nope", "rp-1-zz", "RP-1-00000000", "x" * 41, "rp-99-00000000"):
        r = order.get(f"/dlq/replay/{rid}", headers=AUTH)
        assert r.status_code == 404, (rid, r.text)
    assert order.get("/dlq/replay/a/b", headers=AUTH).status_code == 404
    assert order.put("/dlq/replay", json={}, headers=AUTH).status_code == 405


def test_one_replay_at_a_time(services, stack):
    order = start_order(services, DLQ_REPLAY_RATE="2")
    w = EventWriter(stack, services.topic)
    ids = [f"RPL-BUSY-{i}" for i in range(6)]
    dead_letter_updates(order, w, ids)
    r = replay(order, {})
    assert r.status_code == 202, r.text
    rid = r.json()["id"]
    r2 = replay(order, {"dryRun": True})
    assert r2.status_code == 409, r2.text
    assert rid in r2.json()["detail"]
    st = wait_replay(order, rid)
    assert (st["selected"], st["replayed"], st["failed"]) == (6, 6, 0), st
    # finished: the next one is accepted
    st = run_replay(order, {"dryRun": True})
    assert st["skipped"] == 6


def replay_under_way(order, stack, topic, ids, replayed) -> str:
    """UPDATEs dead-lettered, then their CREATEs applied; a replay of them started
    and `replayed` of them acknowledged. Returns the replay's id."""
    w = EventWriter(stack, topic)
    dead_letter_updates(order, w, ids)
    for oid in ids:
        w.send(create_event(oid, [("I", 1, "1.00")]), partition=0)
    w.flush()
    for oid in ids:
        wait_order(order, oid, status="new")
    r = replay(order, {"reason": "ORDER_NOT_FOUND"})
    assert r.status_code == 202, r.text
    rid = r.json()["id"]
    wait_for(lambda: order.get(f"/dlq/replay/{rid}", headers=AUTH).json()["replayed"] >= replayed,
             60, what="the replay under way")
    return rid


def test_broker_outage_during_a_replay_loses_nothing(services, stack):
    order = start_order(services, DLQ_REPLAY_RATE="2")
    ids = [f"RPL-OUT-{i}" for i in range(10)]
    rid = replay_under_way(order, stack, services.topic, ids, replayed=2)
    stack.stop_kafka()
    try:
        time.sleep(3)
        mid = order.get(f"/dlq/replay/{rid}", headers=AUTH).json()
        assert mid["state"] == "running", mid
    finally:
        stack.start_kafka()
    st = wait_replay(order, rid, timeout=240)
    assert st["state"] == "completed", st
    assert st["selected"] == 10
    # every record is accounted for: acknowledged, or reported failed (and then replayed
    # by the next run, which skips the acknowledged ones)
    assert st["replayed"] + st["failed"] == 10, st
    if st["failed"]:
        again = run_replay(order, {"reason": "ORDER_NOT_FOUND"})
        assert again["replayed"] == st["failed"] and again["skipped"] == st["replayed"], again
    for oid in ids:
        wait_order(order, oid, status="shipped", timeout=120)


def test_outage_longer_than_the_timeout_reports_failures_and_loses_nothing(services, stack):
    # DLQ_REPLAY_TIMEOUT_MS=3000: an outage longer than that fails the replay; what
    # was not acknowledged is counted failed and left unmarked, so the next replay
    # (after the broker is back) picks up exactly what is missing
    order = start_order(services, DLQ_REPLAY_RATE="2", DLQ_REPLAY_TIMEOUT_MS="3000")
    ids = [f"RPL-LONG-{i}" for i in range(8)]
    rid = replay_under_way(order, stack, services.topic, ids, replayed=1)
    stack.stop_kafka()
    try:
        st = wait_replay(order, rid, timeout=120)
    finally:
        stack.start_kafka()
    # the DLQ may have been read to its end before the outage (the reader runs ahead of the
    # rate limit): then the replay completes, else reading stalls and it fails; either
    # way every record it selected is acknowledged or reported failed, none pending
    assert st["state"] in ("completed", "failed"), st
    assert st["state"] == "completed" or "stalled" in st["error"], st
    assert st["pending"] == 0 and st["failed"] >= 1 and st["replayed"] < 8, st
    assert st["replayed"] + st["failed"] == st["selected"], st
    assert all("not acknowledged" in e["message"] or "shutting down" in e["message"]
               for e in st["errors"]), st
    # the broker is back: the next replay replays every record not acknowledged before
    def rerun():
        r = replay(order, {"reason": "ORDER_NOT_FOUND"})
        if r.status_code != 202:
            return None
        again = wait_replay(order, r.json()["id"])
        return again if again["state"] == "completed" else None
    again = wait_for(rerun, 120, interval=2, what="a replay after the outage")
    assert again["skipped"] == st["replayed"], (st, again)
    assert again["replayed"] == 8 - st["replayed"], (st, again)
    for oid in ids:
        wait_order(order, oid, status="shipped", timeout=120)
