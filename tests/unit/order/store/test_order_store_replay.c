/*
 * The store contract, part three: the DLQ replay marks (store_replay_*).
 * A mark counts acknowledged replays of one dead letter, durably (a new
 * handle sees it), per (DLQ topic, partition, offset), outside any batch
 * (refused inside, so a rolled-back batch cannot take it along), and only
 * on a writable handle. Run against every backend: SQLite always,
 * PostgreSQL when ORDERSTREAM_TEST_PG_URL is set (pg_fixture.h).
 */
#include "store/store.h"

#include "order/store/pg_fixture.h"
#include "test_main.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DLQ "order-events-dlq"

static char tmpdir[256];
static char where[600];
static char schema[64];
static char err[256];

static void setup(void)
{
    const char *base = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/order-replay-XXXXXX", base && *base ? base : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
    snprintf(where, sizeof where, "%s/orders.db", tmpdir);
}

static void teardown(void)
{
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    ck_assert_int_eq(system(cmd), 0);
}

static void setup_pg(void)
{
    pgfx_setup(schema, sizeof schema, where, sizeof where);
}

static void teardown_pg(void)
{
    pgfx_teardown(schema);
}

static store *open_rw(void)
{
    store *s = store_open(where, 0, err, sizeof err);
    ck_assert_msg(s != NULL, "store_open: %s", err);
    return s;
}

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
    tcase_add_test(tc, test_marks_count_and_persist);
    tcase_add_test(tc, test_marks_stay_out_of_batches);
}

Suite *test_suite(int *rc)
{
    (void)rc;
    Suite *su = suite_create("order_store_replay");
    TCase *tc = tcase_create("sqlite");
    tcase_add_checked_fixture(tc, setup, teardown);
    add_contract(tc);
    suite_add_tcase(su, tc);
    if (pgfx_url()) {
        tc = tcase_create("postgresql");
        tcase_add_checked_fixture(tc, setup_pg, teardown_pg);
        tcase_set_timeout(tc, 60);
        add_contract(tc);
        suite_add_tcase(su, tc);
    } else {
        printf("order_store_replay: ORDERSTREAM_TEST_PG_URL unset, PostgreSQL run skipped\n");
    }
    return su;
}
