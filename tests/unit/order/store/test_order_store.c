/*
 * The store contract (store.h): event effects and positions in one
 * transaction, skip-below-position, duplicates, unknown orders, history,
 * exact money, and persistence across a close and re-open. One suite, run
 * against every backend: SQLite (a fresh file in a temporary directory per
 * test) and, when ORDERSTREAM_TEST_PG_URL is set (scripts/with-stack.sh sets
 * it), PostgreSQL (a fresh schema per test, pg_fixture.h). Tests of one
 * backend's own behaviour are in that backend's test case only.
 */
#include "store/store.h"

#include "order/store/pg_fixture.h"
#include "order/store/store_events.h"
#include "test_main.h"

#include <check.h>
#include <sqlite3.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TOPIC "order-events"

static char tmpdir[256];
static char dbpath[300];
static char where[600]; /* what store_open() gets: dbpath or a PostgreSQL URL */
static char schema[64];
static char err[256];

static void setup(void)
{
    const char *base = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/order-store-XXXXXX", base && *base ? base : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
    /* A sub-directory that does not exist yet: the writer creates it. */
    snprintf(dbpath, sizeof dbpath, "%s/sub/dir/orders.db", tmpdir);
    snprintf(where, sizeof where, "%s", dbpath);
}

static void setup_pg(void)
{
    pgfx_setup(schema, sizeof schema, where, sizeof where);
}

static void teardown_pg(void)
{
    pgfx_teardown(schema);
}

static void teardown(void)
{
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    ck_assert_int_eq(system(cmd), 0);
}

static order_event make_create(const char *id, int64_t ts)
{
    order_event ev = stev_create(id, ts, "CUST-7", "2026-11-25T14:00:00.123Z");
    stev_item(&ev, "ITEM-\"1\"", 3, 1999); /* 19.99 */
    stev_item(&ev, "ITEM-2", 1, 5);        /* 0.05: 60.02 in all */
    return ev;
}

/* A CREATE for id with other content (another customer): a second order, not a retry. */
static order_event make_other_create(const char *id, int64_t ts)
{
    order_event ev = make_create(id, ts);
    snprintf(ev.customer_id, sizeof ev.customer_id, "CUST-8");
    return ev;
}

static order_event make_update(const char *id, const char *status, int64_t ts)
{
    return stev_update(id, status, ts);
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

START_TEST(test_create_then_read)
{
    store *s = open_rw();
    order_event ev = make_create("ORDER-001", 1000);
    ck_assert_int_eq(store_begin(s, err, sizeof err), STORE_OK);
    apply_ok(s, 0, 0, &ev);
    ck_assert_int_eq(store_commit(s, err, sizeof err), STORE_OK);

    store_order o;
    stev_history h = {0};
    ck_assert_int_eq(store_get_order(s, "ORDER-001", &o, stev_collect, &h, err, sizeof err),
                     STORE_OK);
    ck_assert_str_eq(o.order_id, "ORDER-001");
    ck_assert_str_eq(o.customer_id, "CUST-7");
    ck_assert_str_eq(o.order_date, "2026-11-25T14:00:00.123Z");
    ck_assert_int_eq(o.total_cents, 6002);
    ck_assert_str_eq(o.currency, "USD");
    ck_assert_str_eq(o.status, "new");
    /* 2% of 60.02 = 1.2004 -> 1.20 */
    ck_assert_int_eq(o.shipping_cents, 120);
    ck_assert_int_eq(o.created_at_ms, 1000);
    ck_assert_int_eq(o.updated_at_ms, 1000);
    ck_assert_int_eq(h.n, 1);
    ck_assert_str_eq(h.status[0], "new");
    ck_assert_int_eq(h.at[0], 1000);

    /* Items are valid JSON with exact two-decimal money and escaped ids. */
    ck_assert_uint_eq(o.items_json_len, strlen(o.items_json));
    ck_assert_str_eq(o.items_json,
                     "[{\"itemId\":\"ITEM-\\\"1\\\"\",\"quantity\":3,\"price\":19.99},"
                     "{\"itemId\":\"ITEM-2\",\"quantity\":1,\"price\":0.05}]");
    json_error_t jerr;
    json_t *items = json_loads(o.items_json, 0, &jerr);
    ck_assert_ptr_nonnull(items);
    ck_assert_int_eq(json_array_size(items), 2);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(items, 0), "itemId")),
                     "ITEM-\"1\"");
    json_decref(items);

    ck_assert_int_eq(position(s, 0), 1);
    int64_t count = -1;
    ck_assert_int_eq(store_count_orders(s, &count, err, sizeof err), STORE_OK);
    ck_assert_int_eq(count, 1);
    store_close(s);
}
END_TEST

START_TEST(test_shipping_exact_half_up)
{
    /* total -> 2% rounded half-up to the cent, with no binary floating point. */
    static const struct {
        int64_t total, shipping;
    } cases[] = {{25, 1},      /* 0.005 -> 0.01 */
                 {24, 0},      /* 0.0048 -> 0.00 */
                 {9998, 200},  /* 1.9996 -> 2.00 */
                 {12345, 247}, /* 2.469 -> 2.47 */
                 {75, 2},      /* 0.015 -> 0.02 */
                 {99999999999999LL, 2000000000000LL}};
    store *s = open_rw();
    ck_assert_int_eq(store_begin(s, err, sizeof err), STORE_OK);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char id[32];
        snprintf(id, sizeof id, "MONEY-%zu", i);
        order_event ev = make_create(id, 1);
        ev.item_count = 1;
        ev.items[0].quantity = 1;
        ev.items[0].price_cents = cases[i].total;
        ev.total_cents = cases[i].total;
        apply_ok(s, 0, (int64_t)i, &ev);
    }
    ck_assert_int_eq(store_commit(s, err, sizeof err), STORE_OK);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char id[32];
        snprintf(id, sizeof id, "MONEY-%zu", i);
        store_order o;
        ck_assert_int_eq(store_get_order(s, id, &o, NULL, NULL, err, sizeof err), STORE_OK);
        ck_assert_int_eq(o.total_cents, cases[i].total);
        ck_assert_msg(o.shipping_cents == cases[i].shipping, "total %lld: shipping %lld",
                      (long long)cases[i].total, (long long)o.shipping_cents);
    }
    store_close(s);
}
END_TEST

START_TEST(test_duplicate_create)
{
    store *s = open_rw();
    order_event a = make_create("ORDER-DUP", 1000);
    order_event b = make_create("ORDER-DUP", 2000);
    snprintf(b.customer_id, sizeof b.customer_id, "OTHER");
    ck_assert_int_eq(store_begin(s, err, sizeof err), STORE_OK);
    apply_ok(s, 1, 10, &a);
    ck_assert_int_eq(store_apply(s, TOPIC, 1, 11, &b, err, sizeof err), STORE_DUPLICATE);
    /* A refused event leaves the position where it was ... */
    ck_assert_int_eq(position(s, 1), 11);
    /* ... until the caller has dead-lettered it and marks it. */
    ck_assert_int_eq(store_mark(s, TOPIC, 1, 11, err, sizeof err), STORE_OK);
    ck_assert_int_eq(position(s, 1), 12);
    ck_assert_int_eq(store_commit(s, err, sizeof err), STORE_OK);

    store_order o;
    stev_history h = {0};
    ck_assert_int_eq(store_get_order(s, "ORDER-DUP", &o, stev_collect, &h, err, sizeof err),
                     STORE_OK);
    ck_assert_str_eq(o.customer_id, "CUST-7");
    ck_assert_int_eq(o.created_at_ms, 1000);
    ck_assert_int_eq(h.n, 1);
    store_close(s);
}
END_TEST

START_TEST(test_update_and_history)
{
    store *s = open_rw();
    order_event c = make_create("ORDER-U", 1000);
    order_event u1 = make_update("ORDER-U", "confirmed", 2000);
    order_event u2 = make_update("ORDER-U", "shipped", 3000);
    ck_assert_int_eq(store_begin(s, err, sizeof err), STORE_OK);
    apply_ok(s, 2, 0, &c);
    apply_ok(s, 2, 1, &u1);
    ck_assert_int_eq(store_commit(s, err, sizeof err), STORE_OK);
    ck_assert_int_eq(store_begin(s, err, sizeof err), STORE_OK);
    apply_ok(s, 2, 2, &u2);
    ck_assert_int_eq(store_commit(s, err, sizeof err), STORE_OK);

    store_order o;
    stev_history h = {0};
    ck_assert_int_eq(store_get_order(s, "ORDER-U", &o, stev_collect, &h, err, sizeof err),
                     STORE_OK);
    ck_assert_str_eq(o.status, "shipped");
    ck_assert_int_eq(o.created_at_ms, 1000);
    ck_assert_int_eq(o.updated_at_ms, 3000);
    ck_assert_int_eq(o.shipping_cents, 120); /* unchanged by updates */
    ck_assert_int_eq(h.n, 3);
    ck_assert_str_eq(h.status[0], "new");
    ck_assert_str_eq(h.status[1], "confirmed");
    ck_assert_str_eq(h.status[2], "shipped");
    ck_assert_int_eq(h.at[1], 2000);
    ck_assert_int_eq(h.at[2], 3000);
    ck_assert_int_eq(position(s, 2), 3);
    store_close(s);
}
END_TEST

START_TEST(test_update_unknown)
{
    store *s = open_rw();
    order_event u = make_update("ORDER-NONEXISTENT", "confirmed", 2000);
    ck_assert_int_eq(store_begin(s, err, sizeof err), STORE_OK);
    ck_assert_int_eq(store_apply(s, TOPIC, 0, 0, &u, err, sizeof err), STORE_NOT_FOUND);
    ck_assert_int_eq(position(s, 0), -1);
    ck_assert_int_eq(store_commit(s, err, sizeof err), STORE_OK);
    store_order o;
    ck_assert_int_eq(store_get_order(s, "ORDER-NONEXISTENT", &o, NULL, NULL, err, sizeof err),
                     STORE_NOT_FOUND);
    int64_t count = -1;
    ck_assert_int_eq(store_count_orders(s, &count, err, sizeof err), STORE_OK);
    ck_assert_int_eq(count, 0);
    store_close(s);
}
END_TEST

START_TEST(test_rollback_drops_effect_and_position)
{
    store *s = open_rw();
    order_event a = make_create("ORDER-A", 1);
    order_event b = make_create("ORDER-B", 2);
    ck_assert_int_eq(store_begin(s, err, sizeof err), STORE_OK);
    apply_ok(s, 0, 0, &a);
    ck_assert_int_eq(store_commit(s, err, sizeof err), STORE_OK);

    ck_assert_int_eq(store_begin(s, err, sizeof err), STORE_OK);
    apply_ok(s, 0, 1, &b);
    ck_assert_int_eq(position(s, 0), 2);
    store_rollback(s);
    ck_assert(!store_in_txn(s));

    /* Neither the order nor the position of the dropped batch survive ... */
    store_order o;
    ck_assert_int_eq(store_get_order(s, "ORDER-B", &o, NULL, NULL, err, sizeof err),
                     STORE_NOT_FOUND);
    ck_assert_int_eq(position(s, 0), 1);
    /* ... so the event is applied again, once, when it is redelivered. */
    ck_assert_int_eq(store_begin(s, err, sizeof err), STORE_OK);
    apply_ok(s, 0, 1, &b);
    ck_assert_int_eq(store_commit(s, err, sizeof err), STORE_OK);
    ck_assert_int_eq(store_get_order(s, "ORDER-B", &o, NULL, NULL, err, sizeof err), STORE_OK);
    store_close(s);
}
END_TEST

START_TEST(test_skip_at_or_below_position)
{
    store *s = open_rw();
    order_event c = make_create("ORDER-S", 1);
    order_event u = make_update("ORDER-S", "shipped", 2);
    ck_assert_int_eq(store_begin(s, err, sizeof err), STORE_OK);
    apply_ok(s, 0, 5, &c);
    /* The same offset again, and an older one, are skipped: no false duplicate. */
    ck_assert_int_eq(store_apply(s, TOPIC, 0, 5, &c, err, sizeof err), STORE_SKIPPED);
    ck_assert_int_eq(store_apply(s, TOPIC, 0, 3, &c, err, sizeof err), STORE_SKIPPED);
    ck_assert_int_eq(store_mark(s, TOPIC, 0, 4, err, sizeof err), STORE_SKIPPED);
    /* Another partition has its own position. */
    order_event d = make_create("ORDER-T", 1);
    apply_ok(s, 1, 0, &d);
    ck_assert_int_eq(store_commit(s, err, sizeof err), STORE_OK);
    store_close(s);

    /* After a restart the stored positions still hold. */
    s = open_rw();
    ck_assert_int_eq(position(s, 0), 6);
    ck_assert_int_eq(position(s, 1), 1);
    ck_assert_int_eq(store_begin(s, err, sizeof err), STORE_OK);
    ck_assert_int_eq(store_apply(s, TOPIC, 0, 5, &c, err, sizeof err), STORE_SKIPPED);
    ck_assert_int_eq(store_apply(s, TOPIC, 1, 0, &d, err, sizeof err), STORE_SKIPPED);
    apply_ok(s, 0, 6, &u);
    ck_assert_int_eq(store_commit(s, err, sizeof err), STORE_OK);
    /* Another topic with the same partition number is independent. */
    int64_t next = 0;
    ck_assert_int_eq(store_get_position(s, "other", 0, &next, err, sizeof err), STORE_NOT_FOUND);
    store_order o;
    stev_history h = {0};
    ck_assert_int_eq(store_get_order(s, "ORDER-S", &o, stev_collect, &h, err, sizeof err),
                     STORE_OK);
    ck_assert_str_eq(o.status, "shipped");
    ck_assert_int_eq(h.n, 2);
    store_close(s);
}
END_TEST

START_TEST(test_readonly_sees_committed_only)
{
    store *w = open_rw();
    store *r = store_open(where, STORE_READONLY, err, sizeof err);
    ck_assert_msg(r != NULL, "read-only open: %s", err);
    order_event a = make_create("ORDER-R", 1);
    ck_assert_int_eq(store_begin(w, err, sizeof err), STORE_OK);
    apply_ok(w, 0, 0, &a);
    store_order o;
    ck_assert_int_eq(store_get_order(r, "ORDER-R", &o, NULL, NULL, err, sizeof err),
                     STORE_NOT_FOUND);
    ck_assert_int_eq(store_commit(w, err, sizeof err), STORE_OK);
    ck_assert_int_eq(store_get_order(r, "ORDER-R", &o, NULL, NULL, err, sizeof err), STORE_OK);
    /* A read-only handle cannot write. */
    ck_assert_int_ne(store_begin(r, err, sizeof err), STORE_OK);
    store_close(r);
    store_close(w);
}
END_TEST

START_TEST(test_misuse_is_an_error)
{
    store *s = open_rw();
    order_event a = make_create("ORDER-M", 1);
    /* Outside a transaction nothing is applied. */
    ck_assert_int_eq(store_apply(s, TOPIC, 0, 0, &a, err, sizeof err), STORE_ERR_INTERNAL);
    ck_assert_int_eq(store_commit(s, err, sizeof err), STORE_ERR_INTERNAL);
    ck_assert_int_eq(store_begin(s, err, sizeof err), STORE_OK);
    ck_assert_int_eq(store_begin(s, err, sizeof err), STORE_ERR_INTERNAL);
    ck_assert_int_eq(store_apply(s, TOPIC, 0, -1, &a, err, sizeof err), STORE_ERR_INTERNAL);
    store_rollback(s);
    store_close(s);
    /* A store that cannot be reached fails with a message, not a crash. */
    const char *bad = store_is_url(where) ? "postgresql://nobody@127.0.0.1:1/none"
                                          : "/proc/definitely/not/here.db";
    ck_assert_ptr_null(store_open(bad, 0, err, sizeof err));
    ck_assert_int_gt(strlen(err), 0);
}
END_TEST

START_TEST(test_small_cache_handle_works)
{
    /* A handle with a small page cache (the topic-read workers') still
     * writes and reads; a size under 1 KiB is refused. */
    store *s = open_rw();
    ck_assert_msg(store_cache_size(s, 2048, err, sizeof err) == STORE_OK, "cache: %s", err);
    ck_assert_int_eq(store_cache_size(s, 0, err, sizeof err), STORE_ERR_INTERNAL);
    ck_assert_int_gt(strlen(err), 0);
    order_event a = make_create("ORDER-CACHE", 1);
    ck_assert_int_eq(store_begin(s, err, sizeof err), STORE_OK);
    apply_ok(s, 0, 0, &a);
    ck_assert_int_eq(store_commit(s, err, sizeof err), STORE_OK);
    ck_assert_int_eq(position(s, 0), 1);
    store_close(s);
}
END_TEST

START_TEST(test_same_batch_create_update_duplicate)
{
    /* Within one open transaction the store answers from what it applied so far. */
    store *s = open_rw();
    order_event c = make_create("ORDER-IN", 1000);
    order_event u1 = make_update("ORDER-IN", "confirmed", 2000);
    order_event u2 = make_update("ORDER-IN", "shipped", 3000);
    order_event early = make_update("ORDER-LATER", "confirmed", 500);
    order_event later = make_create("ORDER-LATER", 600);
    ck_assert_int_eq(store_begin(s, err, sizeof err), STORE_OK);
    store_hint_order(s, "ORDER-IN", 8);
    store_hint_order(s, "not a valid id!", 15); /* ignored */
    ck_assert_int_eq(store_apply(s, TOPIC, 0, 0, &early, err, sizeof err), STORE_NOT_FOUND);
    ck_assert_int_eq(store_mark(s, TOPIC, 0, 0, err, sizeof err), STORE_OK);
    apply_ok(s, 0, 1, &c);
    apply_ok(s, 0, 2, &u1);
    order_event other = make_other_create("ORDER-IN", 1500); /* another order, the same id */
    ck_assert_int_eq(store_apply(s, TOPIC, 0, 3, &other, err, sizeof err), STORE_DUPLICATE);
    ck_assert_int_eq(store_mark(s, TOPIC, 0, 3, err, sizeof err), STORE_OK);
    apply_ok(s, 0, 4, &u2);
    apply_ok(s, 0, 5, &later);
    /* a client's retry of a CREATE of this transaction (a later time): applied already */
    order_event later_retry = make_create("ORDER-LATER", 650);
    ck_assert_int_eq(store_apply(s, TOPIC, 0, 6, &later_retry, err, sizeof err), STORE_REDELIVERED);
    ck_assert_int_eq(position(s, 0), 7);
    ck_assert_int_eq(store_commit(s, err, sizeof err), STORE_OK);

    store_order o;
    stev_history h = {0};
    ck_assert_int_eq(store_get_order(s, "ORDER-IN", &o, stev_collect, &h, err, sizeof err),
                     STORE_OK);
    ck_assert_str_eq(o.status, "shipped");
    ck_assert_int_eq(o.updated_at_ms, 3000);
    ck_assert_int_eq(h.n, 3);
    ck_assert_str_eq(h.status[1], "confirmed");
    ck_assert_str_eq(h.status[2], "shipped");
    memset(&h, 0, sizeof h);
    ck_assert_int_eq(store_get_order(s, "ORDER-LATER", &o, stev_collect, &h, err, sizeof err),
                     STORE_OK);
    ck_assert_str_eq(o.status, "new");
    ck_assert_int_eq(h.n, 1);
    /* The next batch still knows both orders. */
    ck_assert_int_eq(store_begin(s, err, sizeof err), STORE_OK);
    order_event later2 = make_other_create("ORDER-LATER", 601);
    ck_assert_int_eq(store_apply(s, TOPIC, 1, 0, &other, err, sizeof err), STORE_DUPLICATE);
    ck_assert_int_eq(store_apply(s, TOPIC, 1, 0, &later2, err, sizeof err), STORE_DUPLICATE);
    /* the same content at a later time: a client's retry, already applied */
    order_event retry = make_create("ORDER-LATER", 700);
    ck_assert_int_eq(store_apply(s, TOPIC, 1, 0, &retry, err, sizeof err), STORE_REDELIVERED);
    store_rollback(s);
    int64_t count = 0;
    ck_assert_int_eq(store_count_orders(s, &count, err, sizeof err), STORE_OK);
    ck_assert_int_eq(count, 2);
    store_close(s);
}
END_TEST

START_TEST(test_reopen_sees_orders)
{
    /* A new handle (another instance, a restart) knows what the first one stored. */
    store *a = open_rw();
    order_event c = make_create("ORDER-X", 1);
    ck_assert_int_eq(store_begin(a, err, sizeof err), STORE_OK);
    apply_ok(a, 0, 0, &c);
    ck_assert_int_eq(store_commit(a, err, sizeof err), STORE_OK);
    store_close(a);
    store *b = open_rw();
    order_event u = make_update("ORDER-X", "pending", 2);
    order_event none = make_update("ORDER-Y", "pending", 2);
    ck_assert_int_eq(store_begin(b, err, sizeof err), STORE_OK);
    store_hint_order(b, "ORDER-Y", 7);
    store_hint_order(b, "ORDER-X", 7);
    ck_assert_int_eq(store_apply(b, TOPIC, 0, 1, &none, err, sizeof err), STORE_NOT_FOUND);
    order_event c2 = make_create("ORDER-X", 5);
    c2.items[1].quantity = 2; /* one item differs: another order */
    c2.total_cents += 5;
    ck_assert_int_eq(store_apply(b, TOPIC, 0, 1, &c2, err, sizeof err), STORE_DUPLICATE);
    apply_ok(b, 0, 1, &u);
    ck_assert_int_eq(store_commit(b, err, sizeof err), STORE_OK);
    ck_assert_int_eq(position(b, 0), 2);
    store_close(b);
}
END_TEST

START_TEST(test_batch_many)
{
    /* One transaction of many events: every event once, position at the end. */
    store *s = open_rw();
    ck_assert_int_eq(store_begin(s, err, sizeof err), STORE_OK);
    for (int i = 0; i < 2000; i++) {
        char id[32];
        snprintf(id, sizeof id, "BULK-%d", i);
        order_event ev = make_create(id, i);
        apply_ok(s, i % 3, i / 3, &ev);
    }
    ck_assert_int_eq(store_commit(s, err, sizeof err), STORE_OK);
    int64_t count = 0;
    ck_assert_int_eq(store_count_orders(s, &count, err, sizeof err), STORE_OK);
    ck_assert_int_eq(count, 2000);
    ck_assert_int_eq(position(s, 0), 667);
    ck_assert_int_eq(position(s, 1), 667);
    ck_assert_int_eq(position(s, 2), 666);
    store_close(s);
}
END_TEST

START_TEST(test_other_layout_version_refused)
{
    store *s = open_rw(); /* creates the directories and a current file */
    store_close(s);
    sqlite3 *db = NULL;
    ck_assert_int_eq(sqlite3_open(dbpath, &db), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(db, "PRAGMA user_version = 1", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    err[0] = '\0';
    ck_assert_ptr_null(store_open(dbpath, 0, err, sizeof err));
    ck_assert_msg(strstr(err, "layout version 1") != NULL, "%s", err);
}
END_TEST

START_TEST(test_full_disk_rolls_back_then_recovers)
{
    store *s = open_rw();
    ck_assert_int_eq(store_limit_pages(s, 1, err, sizeof err), STORE_OK); /* = current size */
    ck_assert_int_eq(store_begin(s, err, sizeof err), STORE_OK);
    store_status st = STORE_OK;
    int i;
    for (i = 0; i < 5000 && st == STORE_OK; i++) {
        char id[32];
        snprintf(id, sizeof id, "FULL-%d", i);
        order_event ev = make_create(id, i);
        st = store_apply(s, TOPIC, 0, i, &ev, err, sizeof err);
    }
    if (st == STORE_OK)
        st = store_commit(s, err, sizeof err);
    /* The file cannot grow: an I/O-class failure (retry later), never a bad event. */
    ck_assert_msg(st == STORE_ERR_IO, "%s: %s", store_status_name(st), err);
    store_rollback(s);
    ck_assert_int_eq(position(s, 0), -1); /* no position past what was not applied */
    int64_t count = -1;
    ck_assert_int_eq(store_count_orders(s, &count, err, sizeof err), STORE_OK);
    ck_assert_int_eq(count, 0);
    /* Space returns: the same events apply. */
    ck_assert_int_eq(store_limit_pages(s, 1000000, err, sizeof err), STORE_OK);
    ck_assert_int_eq(store_begin(s, err, sizeof err), STORE_OK);
    for (int j = 0; j < i; j++) {
        char id[32];
        snprintf(id, sizeof id, "FULL-%d", j);
        order_event ev = make_create(id, j);
        apply_ok(s, 0, j, &ev);
    }
    ck_assert_int_eq(store_commit(s, err, sizeof err), STORE_OK);
    ck_assert_int_eq(position(s, 0), i);
    ck_assert_int_eq(store_limit_pages(s, 0, err, sizeof err), STORE_ERR_INTERNAL);
    store_close(s);
}
END_TEST

/* The contract: every backend passes these. */
static void add_contract(TCase *tc)
{
    tcase_add_test(tc, test_create_then_read);
    tcase_add_test(tc, test_shipping_exact_half_up);
    tcase_add_test(tc, test_duplicate_create);
    tcase_add_test(tc, test_update_and_history);
    tcase_add_test(tc, test_update_unknown);
    tcase_add_test(tc, test_rollback_drops_effect_and_position);
    tcase_add_test(tc, test_skip_at_or_below_position);
    tcase_add_test(tc, test_readonly_sees_committed_only);
    tcase_add_test(tc, test_misuse_is_an_error);
    tcase_add_test(tc, test_small_cache_handle_works);
    tcase_add_test(tc, test_same_batch_create_update_duplicate);
    tcase_add_test(tc, test_reopen_sees_orders);
    tcase_add_test(tc, test_batch_many);
}

static Suite *store_suite(void)
{
    Suite *su = suite_create("order_store");
    TCase *tc = tcase_create("sqlite");
    tcase_add_checked_fixture(tc, setup, teardown);
    add_contract(tc);
    tcase_add_test(tc, test_other_layout_version_refused);
    tcase_add_test(tc, test_full_disk_rolls_back_then_recovers);
    suite_add_tcase(su, tc);
    if (pgfx_url()) {
        tc = tcase_create("postgresql");
        tcase_add_checked_fixture(tc, setup_pg, teardown_pg);
        tcase_set_timeout(tc, 60);
        add_contract(tc);
        suite_add_tcase(su, tc);
    } else {
        printf("order_store: ORDERSTREAM_TEST_PG_URL unset, PostgreSQL run skipped\n");
    }
    return su;
}

Suite *test_suite(int *rc)
{
    (void)rc;
    return store_suite();
}
