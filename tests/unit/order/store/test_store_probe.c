/*
 * store_probe() (store.h), the one query read-your-writes asks per tick for
 * all its waiters: which orders exist and how far each partition is applied,
 * committed state only, from a read-only handle as from the writer, on
 * SQLite and (ORDERSTREAM_TEST_PG_URL set) PostgreSQL.
 */
#include "store/store.h"

#include "order/store/pg_fixture.h"
#include "test_main.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TOPIC "order-events"

static char tmpdir[256];
static char where[600];
static char schema[64];
static char err[256];

static void setup(void)
{
    const char *base = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/store-probe-XXXXXX", base && *base ? base : "/tmp");
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

static order_event make_create(const char *id)
{
    order_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = ORDER_EVENT_CREATE;
    snprintf(ev.order_id, sizeof ev.order_id, "%s", id);
    ev.timestamp_ms = 1764079200000;
    snprintf(ev.customer_id, sizeof ev.customer_id, "CUST-1");
    snprintf(ev.order_date, sizeof ev.order_date, "2026-11-25T14:00:00.123Z");
    ev.item_count = 1;
    snprintf(ev.items[0].item_id, sizeof ev.items[0].item_id, "ITEM-1");
    ev.items[0].quantity = 1;
    ev.items[0].price_cents = 100;
    ev.total_cents = 100;
    snprintf(ev.currency, sizeof ev.currency, "USD");
    snprintf(ev.status, sizeof ev.status, "new");
    return ev;
}

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
    order_event a = make_create("ORDER-A"), c = make_create("ORDER-C");
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
            order_event ev = make_create(idbuf[i]);
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

Suite *test_suite(int *rc)
{
    (void)rc;
    Suite *su = suite_create("store_probe");
    TCase *tc = tcase_create("sqlite");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_probe_orders_and_positions);
    tcase_add_test(tc, test_probe_many);
    suite_add_tcase(su, tc);
    if (pgfx_url()) {
        tc = tcase_create("postgresql");
        tcase_add_checked_fixture(tc, setup_pg, teardown_pg);
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, test_probe_orders_and_positions);
        tcase_add_test(tc, test_probe_many);
        suite_add_tcase(su, tc);
    }
    return su;
}
