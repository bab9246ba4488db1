/*
 * The store contract, part two: what the store remembers so that nothing
 * happens twice. The retry state (store_attempt_*, store_dlq_written_*),
 * which must outlive what a batch does not: a rolled-back batch, a closed
 * handle (a crashed process), another handle on the same store (another
 * instance); and redelivered copies (STORE_REDELIVERED), recognised within a
 * batch, across batches and by a new handle. And the DLQ replay marks (store_replay_*: counted,
 * durable, outside any batch, writable handles only). And store_probe(), the one query
 * read-your-writes asks per tick for all its waiters (which orders exist, how far each partition is
 * applied: committed state only, from a read-only handle as from the writer). Run against every
 * backend, as test_order_store.c: SQLite always, PostgreSQL when ORDERSTREAM_TEST_PG_URL is set
 * (pg_fixture.h).
 */
#include "store/store.h"

#include "order/store/store_events.h"
#include "order/store/store_fixture.h"
#include "test_main.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TOPIC "order-events"

static char err[256];

static order_event make_create(const char *id, int64_t ts)
{
    order_event ev = stev_create(id, ts, "CUST-7", "2026-11-25T14:00:00.123Z");
    stev_item(&ev, "ITEM-1", 0, 0);
    return ev;
}

static store *open_rw(void)
{
    store *s = store_open(where, 0, err, sizeof err);
    ck_assert_msg(s != NULL, "store_open: %s", err);
    return s;
}

static void apply_ok(store *s, int32_t part, int64_t off, const order_event *ev)
{
    store_status st = store_apply(s, TOPIC, part, off, ev, err, sizeof err);
    ck_assert_msg(st == STORE_OK, "apply at %lld: %s %s", (long long)off, store_status_name(st),
                  err);
}

static int64_t position(store *s, int32_t part)
{
    int64_t next = -1;
    store_status st = store_get_position(s, TOPIC, part, &next, err, sizeof err);
    if (st == STORE_NOT_FOUND)
        return -1;
    ck_assert_msg(st == STORE_OK, "position: %s", err);
    return next;
}

static store_attempt attempt_of(store *s, int32_t part, int64_t off, store_status want)
{
    store_attempt a;
    store_status st = store_attempt_get(s, TOPIC, part, off, &a, err, sizeof err);
    ck_assert_msg(st == want, "attempt_get %lld: %s %s", (long long)off, store_status_name(st),
                  err);
    return a;
}

START_TEST(test_attempts_persist_and_never_go_down)
{
    store *s = open_rw();
    attempt_of(s, 0, 5, STORE_NOT_FOUND);
    ck_assert_int_eq(store_attempt_record(s, TOPIC, 0, 5, 0, 0, err, sizeof err), STORE_OK);
    store_attempt a = attempt_of(s, 0, 5, STORE_OK);
    ck_assert_int_eq(a.attempts, 0);
    ck_assert_int_eq(store_attempt_record(s, TOPIC, 0, 5, 2, 123456789, err, sizeof err), STORE_OK);
    /* a mark (0) never lowers a count */
    ck_assert_int_eq(store_attempt_record(s, TOPIC, 0, 5, 0, 0, err, sizeof err), STORE_OK);
    a = attempt_of(s, 0, 5, STORE_OK);
    ck_assert_int_eq(a.attempts, 2);
    ck_assert_int_eq(a.due_ms, 123456789);
    ck_assert_int_eq(a.dlq_written, 0);
    /* other partitions are their own */
    attempt_of(s, 1, 5, STORE_NOT_FOUND);
    store_close(s);
    /* durable: a new handle (a restarted process, another instance) sees it */
    s = open_rw();
    a = attempt_of(s, 0, 5, STORE_OK);
    ck_assert_int_eq(a.attempts, 2);
    /* a later record's row drops the rows below it: those records are past */
    ck_assert_int_eq(store_attempt_record(s, TOPIC, 0, 9, 1, 0, err, sizeof err), STORE_OK);
    attempt_of(s, 0, 5, STORE_NOT_FOUND);
    ck_assert_int_eq(attempt_of(s, 0, 9, STORE_OK).attempts, 1);
    store_close(s);
}
END_TEST

START_TEST(test_attempt_outlives_a_rolled_back_batch)
{
    store *s = open_rw();
    order_event ev = make_create("ATT-1", 1);
    ck_assert_int_eq(store_begin(s, err, sizeof err), STORE_OK);
    /* writes inside a batch are refused: they must not roll back with it */
    ck_assert_int_eq(store_attempt_record(s, TOPIC, 0, 0, 1, 0, err, sizeof err),
                     STORE_ERR_INTERNAL);
    ck_assert_int_eq(store_dlq_written_mark(s, TOPIC, 0, 0, err, sizeof err), STORE_ERR_INTERNAL);
    ck_assert_int_eq(store_attempt_clear(s, TOPIC, 0, 1, err, sizeof err), STORE_ERR_INTERNAL);
    store_rollback(s);
    ck_assert_int_eq(store_attempt_record(s, TOPIC, 0, 0, 1, 0, err, sizeof err), STORE_OK);
    ck_assert_int_eq(store_begin(s, err, sizeof err), STORE_OK);
    apply_ok(s, 0, 0, &ev);
    /* reads are fine inside a batch */
    ck_assert_int_eq(attempt_of(s, 0, 0, STORE_OK).attempts, 1);
    store_rollback(s);
    ck_assert_int_eq(attempt_of(s, 0, 0, STORE_OK).attempts, 1);
    ck_assert_int_eq(position(s, 0), -1);
    store_close(s);
}
END_TEST

START_TEST(test_dlq_written_is_remembered_until_cleared)
{
    store *s = open_rw();
    int written = -1;
    ck_assert_int_eq(store_dlq_written_check(s, TOPIC, 0, 3, &written, err, sizeof err), STORE_OK);
    ck_assert_int_eq(written, 0);
    ck_assert_int_eq(store_attempt_record(s, TOPIC, 0, 3, 3, 77, err, sizeof err), STORE_OK);
    ck_assert_int_eq(store_dlq_written_mark(s, TOPIC, 0, 3, err, sizeof err), STORE_OK);
    ck_assert_int_eq(store_dlq_written_mark(s, TOPIC, 0, 3, err, sizeof err), STORE_OK);
    store_close(s);
    s = open_rw();
    ck_assert_int_eq(store_dlq_written_check(s, TOPIC, 0, 3, &written, err, sizeof err), STORE_OK);
    ck_assert_int_eq(written, 1);
    store_attempt a = attempt_of(s, 0, 3, STORE_OK);
    ck_assert_int_eq(a.attempts, 3); /* the mark keeps the count */
    ck_assert_int_eq(a.dlq_written, 1);
    /* a mark on a record without attempts */
    ck_assert_int_eq(store_dlq_written_mark(s, TOPIC, 1, 0, err, sizeof err), STORE_OK);
    ck_assert_int_eq(store_dlq_written_check(s, TOPIC, 1, 0, &written, err, sizeof err), STORE_OK);
    ck_assert_int_eq(written, 1);
    /* cleared once the record is past: only the partition's rows below go */
    ck_assert_int_eq(store_attempt_clear(s, TOPIC, 0, 4, err, sizeof err), STORE_OK);
    ck_assert_int_eq(store_dlq_written_check(s, TOPIC, 0, 3, &written, err, sizeof err), STORE_OK);
    ck_assert_int_eq(written, 0);
    attempt_of(s, 0, 3, STORE_NOT_FOUND);
    ck_assert_int_eq(store_dlq_written_check(s, TOPIC, 1, 0, &written, err, sizeof err), STORE_OK);
    ck_assert_int_eq(written, 1);
    ck_assert_int_eq(store_attempt_record(s, TOPIC, 0, -1, 1, 0, err, sizeof err),
                     STORE_ERR_INTERNAL);
    store_close(s);
}
END_TEST

static order_event make_update(const char *id, const char *status, int64_t ts)
{
    return stev_update(id, status, ts);
}

static store_status apply_st(store *s, int64_t off, const order_event *ev)
{
    return store_apply(s, TOPIC, 0, off, ev, err, sizeof err);
}

static void count_entry(void *arg, const char *status, int64_t at)
{
    (void)status;
    (void)at;
    (*(int *)arg)++;
}

START_TEST(test_identical_copies_are_redeliveries)
{
    store *s = open_rw();
    order_event c = make_create("COPY-1", 100), u = make_update("COPY-1", "shipped", 200);
    /* In one batch: the copy of a CREATE and of an UPDATE just applied. */
    ck_assert_int_eq(store_begin(s, err, sizeof err), STORE_OK);
    apply_ok(s, 0, 0, &c);
    ck_assert_int_eq(apply_st(s, 1, &c), STORE_REDELIVERED);
    apply_ok(s, 0, 2, &u);
    ck_assert_int_eq(apply_st(s, 3, &u), STORE_REDELIVERED);
    ck_assert_int_eq(position(s, 0), 4);
    ck_assert_int_eq(store_commit(s, err, sizeof err), STORE_OK);
    store_close(s);
    /* A new handle: compared with what is stored. */
    s = open_rw();
    order_event other = c;
    snprintf(other.customer_id, sizeof other.customer_id, "CUST-OTHER");
    order_event later = c;
    later.timestamp_ms = 101;
    ck_assert_int_eq(store_begin(s, err, sizeof err), STORE_OK);
    ck_assert_int_eq(apply_st(s, 4, &c), STORE_REDELIVERED);
    ck_assert_int_eq(apply_st(s, 5, &u), STORE_REDELIVERED);
    /* not a copy: another customer; a retry: the same content at another event time */
    ck_assert_int_eq(apply_st(s, 6, &other), STORE_DUPLICATE);
    ck_assert_int_eq(apply_st(s, 6, &later), STORE_REDELIVERED);
    /* an UPDATE to the status the order has is applied already (a retried PUT) */
    order_event again = make_update("COPY-1", "shipped", 300);
    ck_assert_int_eq(apply_st(s, 7, &again), STORE_REDELIVERED);
    /* another status is a new UPDATE, and going back to one is too */
    order_event next = make_update("COPY-1", "delivered", 400);
    apply_ok(s, 0, 8, &next);
    order_event back = make_update("COPY-1", "shipped", 500);
    apply_ok(s, 0, 9, &back);
    ck_assert_int_eq(apply_st(s, 10, &back), STORE_REDELIVERED);
    ck_assert_int_eq(store_commit(s, err, sizeof err), STORE_OK);
    ck_assert_int_eq(position(s, 0), 11);
    int n = 0;
    store_order o;
    ck_assert_int_eq(store_get_order(s, "COPY-1", &o, count_entry, &n, err, sizeof err), STORE_OK);
    ck_assert_int_eq(n, 4); /* new, shipped, delivered, shipped: each applied once */
    ck_assert_str_eq(o.customer_id, c.customer_id);
    ck_assert_int_eq(o.updated_at_ms, 500);
    ck_assert_int_eq(o.created_at_ms, 100); /* the first CREATE's time: the retry changed nothing */
    store_close(s);
}
END_TEST

START_TEST(test_probe_orders_and_positions)
{
    store *w = store_open(where, 0, err, sizeof err);
    ck_assert_msg(w != NULL, "%s", err);
    store *r = store_open(where, STORE_READONLY, err, sizeof err);
    ck_assert_msg(r != NULL, "%s", err);
    const char *ids[] = {"ORDER-A", "ORDER-B", "ORDER-A", "ORDER-C"};
    const int32_t parts[] = {0, 1, 7};
    uint8_t found[4];
    int64_t next[3];
    /* nothing stored yet */
    ck_assert_int_eq(store_probe(r, TOPIC, ids, 4, found, parts, 3, next, err, sizeof err),
                     STORE_OK);
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(found[i], 0);
    for (int j = 0; j < 3; j++)
        ck_assert_int_eq(next[j], -1);

    ck_assert_int_eq(store_begin(w, err, sizeof err), STORE_OK);
    order_event a = make_create("ORDER-A", 100), c = make_create("ORDER-C", 100);
    ck_assert_int_eq(store_apply(w, TOPIC, 0, 0, &a, err, sizeof err), STORE_OK);
    ck_assert_int_eq(store_apply(w, TOPIC, 1, 4, &c, err, sizeof err), STORE_OK);
    ck_assert_int_eq(store_mark(w, TOPIC, 1, 5, err, sizeof err), STORE_OK); /* dead-lettered */
    /* not committed: not visible */
    ck_assert_int_eq(store_probe(r, TOPIC, ids, 4, found, parts, 3, next, err, sizeof err),
                     STORE_OK);
    ck_assert(!found[0] && !found[3] && next[0] == -1 && next[1] == -1);
    ck_assert_int_eq(store_commit(w, err, sizeof err), STORE_OK);

    ck_assert_int_eq(store_probe(r, TOPIC, ids, 4, found, parts, 3, next, err, sizeof err),
                     STORE_OK);
    ck_assert(found[0] == 1 && found[1] == 0 && found[2] == 1 && found[3] == 1);
    ck_assert(next[0] == 1 && next[1] == 6 && next[2] == -1);
    /* another topic's positions are not these */
    ck_assert_int_eq(store_probe(r, "other", ids, 0, found, parts, 3, next, err, sizeof err),
                     STORE_OK);
    ck_assert(next[0] == -1 && next[1] == -1);
    /* the writer answers too, outside a transaction only */
    ck_assert_int_eq(store_probe(w, TOPIC, ids, 1, found, parts, 1, next, err, sizeof err),
                     STORE_OK);
    ck_assert(found[0] == 1 && next[0] == 1);
    ck_assert_int_eq(store_begin(w, err, sizeof err), STORE_OK);
    ck_assert_int_eq(store_probe(w, TOPIC, ids, 1, found, parts, 1, next, err, sizeof err),
                     STORE_ERR_INTERNAL);
    store_rollback(w);
    /* nothing asked: nothing done */
    ck_assert_int_eq(store_probe(r, TOPIC, NULL, 0, NULL, NULL, 0, NULL, err, sizeof err),
                     STORE_OK);
    /* an id the API would refuse never reaches the query */
    const char *bad[] = {"has space"};
    ck_assert_int_eq(store_probe(r, TOPIC, bad, 1, found, NULL, 0, NULL, err, sizeof err),
                     STORE_ERR_INTERNAL);
    store_close(r);
    store_close(w);
}
END_TEST

START_TEST(test_probe_many)
{
    enum { N = 5000 };
    store *w = store_open(where, 0, err, sizeof err);
    ck_assert_msg(w != NULL, "%s", err);
    static char idbuf[N][16];
    static const char *ids[N];
    static uint8_t found[N];
    ck_assert_int_eq(store_begin(w, err, sizeof err), STORE_OK);
    for (int i = 0; i < N; i++) {
        snprintf(idbuf[i], sizeof idbuf[i], "ORDER-%05d", i);
        ids[i] = idbuf[i];
        if (i % 3 == 0) {
            order_event ev = make_create(idbuf[i], 100);
            ck_assert_int_eq(store_apply(w, TOPIC, 0, i, &ev, err, sizeof err), STORE_OK);
        }
    }
    ck_assert_int_eq(store_commit(w, err, sizeof err), STORE_OK);
    int32_t part = 0;
    int64_t next;
    ck_assert_int_eq(store_probe(w, TOPIC, ids, N, found, &part, 1, &next, err, sizeof err),
                     STORE_OK);
    for (int i = 0; i < N; i++)
        ck_assert_int_eq(found[i], i % 3 == 0);
    ck_assert_int_eq(next, (N - 1) / 3 * 3 + 1);
    store_close(w);
}
END_TEST

/* ---- DLQ replay marks (store_replay_*) ---------------------------------- */

#define DLQ "order-events-dlq"

static store_replay replay_of(store *s, const char *topic, int32_t p, int64_t off,
                              store_status want)
{
    store_replay r;
    store_status st = store_replay_get(s, topic, p, off, &r, err, sizeof err);
    ck_assert_msg(st == want, "replay_get %lld: %s %s", (long long)off, store_status_name(st), err);
    return r;
}

START_TEST(test_marks_count_and_persist)
{
    store *s = open_rw();
    replay_of(s, DLQ, 0, 7, STORE_NOT_FOUND);
    ck_assert_int_eq(store_replay_mark(s, DLQ, 0, 7, 1000, err, sizeof err), STORE_OK);
    store_replay r = replay_of(s, DLQ, 0, 7, STORE_OK);
    ck_assert_int_eq(r.count, 1);
    ck_assert_int_eq(r.last_at_ms, 1000);
    ck_assert_int_eq(store_replay_mark(s, DLQ, 0, 7, 2000, err, sizeof err), STORE_OK);
    r = replay_of(s, DLQ, 0, 7, STORE_OK);
    ck_assert_int_eq(r.count, 2);
    ck_assert_int_eq(r.last_at_ms, 2000);
    /* each record is its own: other offsets, partitions and DLQ topics */
    replay_of(s, DLQ, 0, 8, STORE_NOT_FOUND);
    replay_of(s, DLQ, 1, 7, STORE_NOT_FOUND);
    replay_of(s, "other-dlq", 0, 7, STORE_NOT_FOUND);
    store_close(s);
    /* durable: a new handle (a restarted process, another instance) sees it */
    s = open_rw();
    ck_assert_int_eq(replay_of(s, DLQ, 0, 7, STORE_OK).count, 2);
    store_close(s);
}
END_TEST

START_TEST(test_marks_stay_out_of_batches)
{
    store *s = open_rw();
    ck_assert_int_eq(store_begin(s, err, sizeof err), STORE_OK);
    ck_assert_int_eq(store_replay_mark(s, DLQ, 0, 1, 5, err, sizeof err), STORE_ERR_INTERNAL);
    store_rollback(s);
    replay_of(s, DLQ, 0, 1, STORE_NOT_FOUND);
    /* a mark outside survives a batch that rolls back */
    ck_assert_int_eq(store_replay_mark(s, DLQ, 0, 1, 5, err, sizeof err), STORE_OK);
    ck_assert_int_eq(store_begin(s, err, sizeof err), STORE_OK);
    ck_assert_int_eq(store_mark(s, "order-events", 0, 0, err, sizeof err), STORE_OK);
    store_rollback(s);
    ck_assert_int_eq(replay_of(s, DLQ, 0, 1, STORE_OK).count, 1);
    /* bad arguments are refused, not stored */
    ck_assert_int_eq(store_replay_mark(s, DLQ, 0, -1, 5, err, sizeof err), STORE_ERR_INTERNAL);
    ck_assert_int_eq(store_replay_mark(s, DLQ, -1, 0, 5, err, sizeof err), STORE_ERR_INTERNAL);
    store_close(s);
    /* a read-only handle neither reads nor writes marks */
    s = store_open(where, STORE_READONLY, err, sizeof err);
    ck_assert_msg(s != NULL, "open read-only: %s", err);
    store_replay r;
    ck_assert_int_eq(store_replay_get(s, DLQ, 0, 1, &r, err, sizeof err), STORE_ERR_INTERNAL);
    ck_assert_int_eq(store_replay_mark(s, DLQ, 0, 1, 5, err, sizeof err), STORE_ERR_INTERNAL);
    store_close(s);
}
END_TEST

static void add_contract(TCase *tc)
{
    tcase_add_test(tc, test_identical_copies_are_redeliveries);
    tcase_add_test(tc, test_attempts_persist_and_never_go_down);
    tcase_add_test(tc, test_attempt_outlives_a_rolled_back_batch);
    tcase_add_test(tc, test_dlq_written_is_remembered_until_cleared);
    tcase_add_test(tc, test_probe_orders_and_positions);
    tcase_add_test(tc, test_probe_many);
    tcase_add_test(tc, test_marks_count_and_persist);
    tcase_add_test(tc, test_marks_stay_out_of_batches);
}

Suite *test_suite(int *rc)
{
    (void)rc;
    return stfx_suite("order_store_retry", add_contract);
}
