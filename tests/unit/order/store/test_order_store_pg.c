/*
 * What only the PostgreSQL store does (the shared contract is in
 * test_order_store.c): fencing a zombie instance by compare-and-set on the
 * position, the schema created once when instances start together, a lost
 * connection reported as STORE_ERR_IO and then re-established (for the
 * batched read of many orders too), a batch far
 * larger than the socket buffers in one pipeline, the layout version check,
 * and no password in any message. Needs ORDERSTREAM_TEST_PG_URL (exit 77 =
 * skipped without it; scripts/with-stack.sh sets it).
 */
#include "store/store.h"

#include "order/store/pg_fixture.h"
#include "order/store/store_events.h"
#include "test_main.h"

#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOPIC "order-events"

static char where[600];
static char schema[64];
static char err[256];

static void setup(void)
{
    pgfx_setup(schema, sizeof schema, where, sizeof where);
}

static void teardown(void)
{
    pgfx_teardown(schema);
}

static order_event make_create(const char *id, int64_t ts)
{
    order_event ev = stev_create(id, ts, "CUST-1", "2026-11-25T14:00:00.000Z");
    stev_item(&ev, "ITEM-1", 2, 1000);
    return ev;
}

static store *open_rw(void)
{
    store *s = store_open(where, 0, err, sizeof err);
    ck_assert_msg(s != NULL, "store_open: %s", err);
    ck_assert_str_eq(store_kind(s), "postgresql");
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
    ck_assert_msg(st == STORE_OK, "position: %s %s", store_status_name(st), err);
    return next;
}

static int64_t count(store *s)
{
    int64_t n = -1;
    ck_assert_int_eq(store_count_orders(s, &n, err, sizeof err), STORE_OK);
    return n;
}

/* Both handles start a batch from the same position; the second to commit is fenced. */
static void race(store *owner, store *zombie, int32_t part, int64_t from, const char *tag)
{
    char a_id[32], z_id[32];
    snprintf(a_id, sizeof a_id, "OWNER-%s", tag);
    snprintf(z_id, sizeof z_id, "ZOMBIE-%s", tag);
    order_event a = make_create(a_id, 1), z = make_create(z_id, 1);
    ck_assert_int_eq(store_begin(owner, err, sizeof err), STORE_OK);
    ck_assert_int_eq(store_begin(zombie, err, sizeof err), STORE_OK);
    apply_ok(owner, part, from, &a);
    apply_ok(zombie, part, from, &z);
    ck_assert_int_eq(store_commit(owner, err, sizeof err), STORE_OK);
    store_status st = store_commit(zombie, err, sizeof err);
    ck_assert_msg(st == STORE_FENCED, "%s: %s", store_status_name(st), err);
    ck_assert_msg(strstr(err, "another instance") != NULL, "%s", err);
    store_rollback(zombie);
    /* Nothing of the zombie's batch landed; it re-seeks to the owner's position. */
    store_order o;
    ck_assert_int_eq(store_get_order(zombie, z_id, &o, NULL, NULL, err, sizeof err),
                     STORE_NOT_FOUND);
    ck_assert_int_eq(store_get_order(zombie, a_id, &o, NULL, NULL, err, sizeof err), STORE_OK);
    ck_assert_int_eq(position(zombie, part), from + 1);
    ck_assert_int_eq(position(owner, part), from + 1);
}

START_TEST(test_zombie_commit_is_fenced)
{
    store *owner = open_rw();
    store *zombie = open_rw();
    race(owner, zombie, 0, 0, "new");   /* a position never stored: INSERT conflicts */
    race(owner, zombie, 0, 1, "moved"); /* a stored one: the compare-and-set fails */
    ck_assert_int_eq(count(owner), 2);
    /* Once it knows the new position, the former zombie commits normally. */
    order_event c = make_create("AFTER", 2);
    ck_assert_int_eq(store_begin(zombie, err, sizeof err), STORE_OK);
    ck_assert_int_eq(store_apply(zombie, TOPIC, 0, 1, &c, err, sizeof err), STORE_SKIPPED);
    apply_ok(zombie, 0, 2, &c);
    ck_assert_int_eq(store_commit(zombie, err, sizeof err), STORE_OK);
    /* And now the old owner is the stale one: its cached position is 2. */
    order_event d = make_create("STALE", 3);
    ck_assert_int_eq(store_begin(owner, err, sizeof err), STORE_OK);
    apply_ok(owner, 0, 2, &d);
    ck_assert_int_eq(store_commit(owner, err, sizeof err), STORE_FENCED);
    store_rollback(owner);
    ck_assert_int_eq(position(owner, 0), 3);
    ck_assert_int_eq(count(owner), 3);
    store_close(zombie);
    store_close(owner);
}
END_TEST

static void *open_close(void *arg)
{
    char e[256];
    store *s = store_open(where, 0, e, sizeof e);
    if (s)
        store_close(s);
    else
        snprintf(arg, 256, "%s", e);
    return s ? NULL : arg;
}

START_TEST(test_schema_created_once_by_concurrent_starts)
{
    enum { N = 4 };
    pthread_t t[N];
    char errs[N][256];
    for (int i = 0; i < N; i++)
        ck_assert_int_eq(pthread_create(&t[i], NULL, open_close, errs[i]), 0);
    for (int i = 0; i < N; i++) {
        void *ret = NULL;
        ck_assert_int_eq(pthread_join(t[i], &ret), 0);
        ck_assert_msg(ret == NULL, "instance %d: %s", i, errs[i]);
    }
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM %s.schema_version", schema);
    ck_assert_int_eq(pgfx_value(sql), 1);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM pg_tables WHERE schemaname = '%s' AND tablename IN"
             " ('orders', 'status_history', 'consumed_offsets')",
             schema);
    ck_assert_int_eq(pgfx_value(sql), 3);
}
END_TEST

/* Terminates every server session of this test's stores (by application_name), and waits. */
static void kill_sessions(void)
{
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT count(pg_terminate_backend(pid, 5000)) FROM pg_stat_activity"
             " WHERE application_name = '%s'",
             schema);
    ck_assert_int_ge(pgfx_value(sql), 1);
}

START_TEST(test_lost_connection_is_io_then_recovers)
{
    store *w = open_rw();
    store *r = store_open(where, STORE_READONLY, err, sizeof err);
    ck_assert_msg(r != NULL, "%s", err);
    order_event a = make_create("BEFORE", 1), b = make_create("DURING", 2);
    ck_assert_int_eq(store_begin(w, err, sizeof err), STORE_OK);
    apply_ok(w, 0, 0, &a);
    ck_assert_int_eq(store_commit(w, err, sizeof err), STORE_OK);
    ck_assert_int_eq(position(r, 0), 1);

    kill_sessions();
    /* The writer learns it at its next round trip: an I/O-class failure, retried later. */
    ck_assert_int_eq(store_begin(w, err, sizeof err), STORE_OK);
    store_status st = store_apply(w, TOPIC, 0, 1, &b, err, sizeof err);
    if (st == STORE_OK)
        st = store_commit(w, err, sizeof err);
    ck_assert_msg(st == STORE_ERR_IO, "%s: %s", store_status_name(st), err);
    store_rollback(w);
    /* The next batch reconnects and the same event applies, once. */
    ck_assert_int_eq(store_begin(w, err, sizeof err), STORE_OK);
    apply_ok(w, 0, 1, &b);
    ck_assert_int_eq(store_commit(w, err, sizeof err), STORE_OK);
    ck_assert_int_eq(count(w), 2);

    /* The reader's session went too: it fails once, then reconnects on its next call. */
    store_order o;
    st = store_get_order(r, "DURING", &o, NULL, NULL, err, sizeof err);
    ck_assert_msg(st == STORE_ERR_IO, "%s: %s", store_status_name(st), err);
    ck_assert_int_eq(store_get_order(r, "DURING", &o, NULL, NULL, err, sizeof err), STORE_OK);
    ck_assert_int_eq(position(r, 0), 2);
    store_close(r);
    store_close(w);
}
END_TEST

static void count_found(void *arg, size_t index, const store_order *o)
{
    (void)index;
    (void)o;
    (*(int *)arg)++;
}

static void ignore_history(void *arg, size_t index, const char *status, int64_t at_ms)
{
    (void)arg;
    (void)index;
    (void)status;
    (void)at_ms;
}

/* The batched read (store_get_orders) on a lost session: STORE_ERR_IO (the HTTP side answers
 * 503), and the next call reconnects: what an order-details reader lives through when the
 * server restarts. */
START_TEST(test_get_orders_lost_connection_is_io_then_recovers)
{
    store *w = open_rw();
    store *r = store_open(where, STORE_READONLY, err, sizeof err);
    ck_assert_msg(r != NULL, "%s", err);
    order_event a = make_create("MANY-1", 1);
    ck_assert_int_eq(store_begin(w, err, sizeof err), STORE_OK);
    apply_ok(w, 0, 0, &a);
    ck_assert_int_eq(store_commit(w, err, sizeof err), STORE_OK);
    const char *ids[] = {"MANY-1", "MANY-2", "MANY-1"};
    int found = 0;
    store_order_sink sink = {&found, count_found, ignore_history};
    ck_assert_int_eq(store_get_orders(r, ids, 3, &sink, err, sizeof err), STORE_OK);
    ck_assert_int_eq(found, 2);

    kill_sessions();
    found = 0;
    store_status st = store_get_orders(r, ids, 3, &sink, err, sizeof err);
    ck_assert_msg(st == STORE_ERR_IO, "%s: %s", store_status_name(st), err);
    ck_assert_int_eq(found, 0);
    ck_assert_int_eq(store_get_orders(r, ids, 3, &sink, err, sizeof err), STORE_OK);
    ck_assert_int_eq(found, 2);
    store_close(r);
    store_close(w);
}
END_TEST

START_TEST(test_large_batch_one_pipeline)
{
    /* Far more statements than socket buffers hold: the pipeline must not stall. */
    enum { N = 30000 };
    store *s = open_rw();
    ck_assert_int_eq(store_begin(s, err, sizeof err), STORE_OK);
    for (int i = 0; i < N; i++) {
        char id[32];
        snprintf(id, sizeof id, "BIG-%d", i);
        store_hint_order(s, id, strlen(id));
    }
    for (int i = 0; i < N; i++) {
        char id[32];
        snprintf(id, sizeof id, "BIG-%d", i);
        order_event ev = make_create(id, i);
        apply_ok(s, i % 4, i / 4, &ev);
    }
    ck_assert_int_eq(store_commit(s, err, sizeof err), STORE_OK);
    ck_assert_int_eq(count(s), N);
    ck_assert_int_eq(position(s, 3), N / 4);
    store_close(s);
}
END_TEST

START_TEST(test_other_layout_version_refused)
{
    store *s = open_rw();
    store_close(s);
    char sql[128];
    snprintf(sql, sizeof sql, "UPDATE %s.schema_version SET version = 99", schema);
    pgfx_exec(sql);
    err[0] = '\0';
    ck_assert_ptr_null(store_open(where, 0, err, sizeof err));
    ck_assert_msg(strstr(err, "layout version 99") != NULL, "%s", err);
}
END_TEST

START_TEST(test_no_password_in_messages)
{
    char out[256];
    store_describe("postgresql://app:s3cret@db.example:5432/orders?sslmode=require&password=s3cret",
                   out, sizeof out);
    ck_assert_str_eq(out,
                     "postgresql://app:***@db.example:5432/orders?sslmode=require&password=***");
    store_describe("postgres://h/db?sslpassword=k3y&user=app", out, sizeof out);
    ck_assert_str_eq(out, "postgres://h/db?sslpassword=***&user=app");
    store_describe("postgres://app@h/db", out, sizeof out);
    ck_assert_str_eq(out, "postgres://app@h/db");
    store_describe("var/order-service.db", out, sizeof out);
    ck_assert_str_eq(out, "var/order-service.db");
    /* An unreachable server and a malformed URL: messages, without the password. */
    ck_assert_ptr_null(store_open("postgresql://app:s3cret@127.0.0.1:1/db", 0, err, sizeof err));
    ck_assert_msg(strstr(err, "s3cret") == NULL && strstr(err, "***") != NULL, "%s", err);
    ck_assert_ptr_null(store_open("postgresql://app:s3cret@[::1/db?port=x", 0, err, sizeof err));
    ck_assert_msg(strlen(err) > 0 && strstr(err, "s3cret") == NULL, "%s", err);
    /* Not a SQLite feature: refused clearly. */
    store *s = open_rw();
    ck_assert_int_eq(store_limit_pages(s, 10, err, sizeof err), STORE_ERR_INTERNAL);
    ck_assert_msg(strstr(err, "PostgreSQL") != NULL, "%s", err);
    store_close(s);
}
END_TEST

Suite *test_suite(int *rc)
{
    if (!test_env_or_skip("ORDERSTREAM_TEST_PG_URL", "a PostgreSQL server")) {
        *rc = TEST_SKIP;
        return NULL;
    }
    Suite *su = suite_create("order_store_pg");
    TCase *tc = tcase_create("postgresql");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_zombie_commit_is_fenced);
    tcase_add_test(tc, test_schema_created_once_by_concurrent_starts);
    tcase_add_test(tc, test_lost_connection_is_io_then_recovers);
    tcase_add_test(tc, test_get_orders_lost_connection_is_io_then_recovers);
    tcase_add_test(tc, test_large_batch_one_pipeline);
    tcase_add_test(tc, test_other_layout_version_refused);
    tcase_add_test(tc, test_no_password_in_messages);
    suite_add_tcase(su, tc);
    return su;
}
