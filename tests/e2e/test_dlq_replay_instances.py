"""DLQ replay across order-service instances sharing one PostgreSQL store:
one replay at a time holds across them (the store's replay lease), not only
within one. While instance A replays (slowly: DLQ_REPLAY_RATE=1), a POST on
instance B is a 409 naming A's replay and that it runs on another instance;
the lease row names A's replay while it runs and is gone once it ended; then
B's POST is accepted. Every instance answers GET /dlq/replay/{id} for any
replay (the status is published to the store), and a replay whose instance
was SIGKILLed mid-way shows as failed, with why, once its status is stale."""

from __future__ import annotations

from conftest import unique
from order_e2e import EventWriter, dlq_messages, wait_for
from test_dlq_replay import AUTH, TOKEN, dead_letter_updates, replay, run_replay, wait_replay


def two_instances(services, stack, postgres, prefix):
    """Two order-services on one fresh PostgreSQL schema, replaying at 1 record/s."""
    schema = unique(prefix).replace("-", "_")
    env = {"DLQ_REPLAY_TOKEN": TOKEN, "STORE_URL": postgres.store_url(schema),
           "DLQ_REPLAY_RATE": "1"}
    a = services.start("order", env=env)
    b = services.start("order", env=env)
    return schema, a, b, EventWriter(stack, services.topic)


def test_one_replay_at_a_time_across_instances(services, stack, postgres):
    schema, a, b, w = two_instances(services, stack, postgres, "replaylock")
    ids = [f"RPL-LOCK-{i}" for i in range(6)]
    dead_letter_updates(a, w, ids)
    # A's replayed UPDATEs are dead-lettered again (their orders are still missing): B's
    # replay below names A's six by their DLQ offsets
    parts: dict[int, list[int]] = {}
    for m in dlq_messages(a):
        parts.setdefault(m["partition"], []).append(m["offset"])
    ranges = [{"partition": p, "fromOffset": min(o), "toOffset": max(o)}
              for p, o in parts.items()]

    r = replay(a, {})
    assert r.status_code == 202, r.text
    rid = r.json()["id"]
    assert r.headers["Location"] == f"/dlq/replay/{rid}"
    # 6 records at 1/s: A's replay runs for seconds; B is refused meanwhile, and says why
    r2 = replay(b, {"dryRun": True})
    assert r2.status_code == 409, r2.text
    detail = r2.json()["detail"]
    assert "another instance" in detail and rid in detail, detail
    holder = postgres.value(f'SELECT holder FROM "{schema}".leases')
    assert holder.endswith("/" + rid), holder
    # A refuses a second one of its own as before
    r3 = replay(a, {"dryRun": True})
    assert r3.status_code == 409 and rid in r3.json()["detail"], r3.text
    # B answers for A's replay too, from the store (A publishes it there)
    rb = b.get(f"/dlq/replay/{rid}", headers=AUTH)
    assert rb.status_code == 200, rb.text
    assert rb.json()["id"] == rid and rb.json()["state"] == "running", rb.text
    assert 0 <= rb.json()["statusAgeMs"] < 15000, rb.text
    st = wait_replay(a, rid)
    assert st["state"] == "completed", st
    assert (st["selected"], st["replayed"], st["failed"]) == (6, 6, 0), st
    assert "statusAgeMs" not in st  # A's own answer comes from its memory
    sb = wait_replay(b, rid, timeout=30)
    assert {k: v for k, v in sb.items() if k != "statusAgeMs"} == st, (sb, st)

    # A's replay ended and released the lease: B's replay is accepted, and sees A's marks
    assert postgres.value(f'SELECT count(*) FROM "{schema}".leases') == "0"
    st = run_replay(b, {"ranges": ranges, "dryRun": True})
    assert st["state"] == "completed", st
    assert (st["selected"], st["skipped"]) == (6, 6), st
    # and while B's ran nothing was left behind either
    assert wait_for(lambda: postgres.value(f'SELECT count(*) FROM "{schema}".leases') == "0",
                    10, what="B's lease released")


def test_status_of_a_replay_whose_instance_died(services, stack, postgres):
    """Instance A SIGKILLed while its replay runs: B shows that replay as
    failed ("the instance running it stopped") once its stored status is
    older than the lease's 15 s, and can start its own replay after that."""
    _, a, b, w = two_instances(services, stack, postgres, "replaydied")
    dead_letter_updates(a, w, [f"RPL-DIED-{i}" for i in range(30)])
    r = replay(a, {})
    assert r.status_code == 202, r.text
    rid = r.json()["id"]
    wait_for(lambda: b.get(f"/dlq/replay/{rid}", headers=AUTH).json().get("replayed", 0) >= 1,
             30, 0.5, what="B sees A's replay progress")
    a.kill()
    running = b.get(f"/dlq/replay/{rid}", headers=AUTH).json()
    assert running["state"] == "running", running

    def failed():
        body = b.get(f"/dlq/replay/{rid}", headers=AUTH).json()
        return body if body["state"] != "running" else None
    st = wait_for(failed, 40, 1.0, what="A's replay shown as failed on B")
    assert st["state"] == "failed" and "instance running it stopped" in st["error"], st
    assert st["statusAgeMs"] > 15000, st
    assert st["replayed"] >= 1 and st["replayed"] < 30, st
    # its lease lapsed too: B may replay now
    st2 = run_replay(b, {"dryRun": True})
    assert st2["state"] == "completed", st2
    unknown = b.get("/dlq/replay/rp-1-00000000", headers=AUTH)
    assert unknown.status_code == 404 and "store keeps the last 100" in unknown.json()["detail"]
