"""DLQ replay across order-service instances sharing one PostgreSQL store:
one replay at a time holds across them (the store's replay lease), not only
within one. While instance A replays (slowly: DLQ_REPLAY_RATE=1), a POST on
instance B is a 409 naming A's replay and that it runs on another instance;
the lease row names A's replay while it runs and is gone once it ended; then
B's POST is accepted. A replay's status stays on the instance that started
it."""

from __future__ import annotations

from conftest import unique
from order_e2e import EventWriter, dlq_messages, wait_for
from test_dlq_replay import AUTH, TOKEN, dead_letter_updates, replay, run_replay, wait_replay


def test_one_replay_at_a_time_across_instances(services, stack, postgres):
    schema = unique("replaylock").replace("-", "_")
    env = {"DLQ_REPLAY_TOKEN": TOKEN, "STORE_URL": postgres.store_url(schema),
           "DLQ_REPLAY_RATE": "1"}
    a = services.start("order", env=env)
    b = services.start("order", env=env)
    w = EventWriter(stack, services.topic)
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
    # the status lives on the instance that answered the POST
    assert b.get(f"/dlq/replay/{rid}", headers=AUTH).status_code == 404
    st = wait_replay(a, rid)
    assert st["state"] == "completed", st
    assert (st["selected"], st["replayed"], st["failed"]) == (6, 6, 0), st

    # A's replay ended and released the lease: B's replay is accepted, and sees A's marks
    assert postgres.value(f'SELECT count(*) FROM "{schema}".leases') == "0"
    st = run_replay(b, {"ranges": ranges, "dryRun": True})
    assert st["state"] == "completed", st
    assert (st["selected"], st["skipped"]) == (6, 6), st
    # and while B's ran nothing was left behind either
    assert wait_for(lambda: postgres.value(f'SELECT count(*) FROM "{schema}".leases') == "0",
                    10, what="B's lease released")
