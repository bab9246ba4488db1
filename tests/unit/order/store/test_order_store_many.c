/*
 * The store contract, part four: many orders in one read (store_get_orders,
 * what batched order-details reads use). What must hold: each id that
 * exists comes back with the same order and history as store_get_order
 * gives it, at its own index (an id asked twice, twice; an unknown id, not
 * at all), orders and their history never interleaved; the misuses are
 * refused. Run against SQLite always and PostgreSQL when
 * ORDERSTREAM_TEST_PG_URL is set.
 */
#include "store/store.h"

#include "order/store/store_events.h"
#include "order/store/store_fixture.h"
#include "test_main.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOPIC "order-events"
#define MANY 300

static char err[256];

static order_event make_create(const char *id, int64_t ts)
{
    char cust[32], item[32];
    snprintf(cust, sizeof cust, "CUST-%lld", (long long)ts);
    snprintf(item, sizeof item, "ITEM-\"%lld\"", (long long)ts);
    order_event ev = stev_create(id, ts, cust, "2026-11-25T14:00:00.123Z");
    stev_item(&ev, item, 3, 1999);
    return ev;
}

static order_event make_update(const char *id, const char *status, int64_t ts)
{
    return stev_update(id, status, ts);
}

/* One order as a read returned it: its fields and history, flattened to text. */
typedef struct {
    int seen; /* sink->order calls for this index */
    char text[1024];
    size_t len;
} got_order;

typedef struct {
    got_order *at;
    size_t n;
    int64_t last_index; /* the index of the latest sink->order: history must follow it */
} got_many;

static void flatten(got_order *g, const store_order *o)
{
    int w =
        snprintf(g->text, sizeof g->text, "%s|%s|%s|%.*s|%lld|%s|%s|%lld|%lld|%lld", o->order_id,
                 o->customer_id, o->order_date, (int)o->items_json_len, o->items_json,
                 (long long)o->total_cents, o->currency, o->status, (long long)o->shipping_cents,
                 (long long)o->created_at_ms, (long long)o->updated_at_ms);
    ck_assert(w > 0 && (size_t)w < sizeof g->text);
    g->len = (size_t)w;
}

static void append_change(got_order *g, const char *status, int64_t at_ms)
{
    int w =
        snprintf(g->text + g->len, sizeof g->text - g->len, "|%s@%lld", status, (long long)at_ms);
    ck_assert(w > 0 && (size_t)w < sizeof g->text - g->len);
    g->len += (size_t)w;
}

static void many_order(void *arg, size_t index, const store_order *o)
{
    got_many *m = arg;
    ck_assert_uint_lt(index, m->n);
    got_order *g = &m->at[index];
    g->seen++;
    flatten(g, o);
    m->last_index = (int64_t)index;
}

static void many_history(void *arg, size_t index, const char *status, int64_t at_ms)
{
    got_many *m = arg;
    ck_assert_int_eq((int64_t)index, m->last_index); /* right after its own order */
    append_change(&m->at[index], status, at_ms);
}

static void one_history(void *arg, const char *status, int64_t at_ms)
{
    append_change(arg, status, at_ms);
}

/* What store_get_order says of id (seen 0: not found). */
static got_order read_one(store *s, const char *id)
{
    got_order g;
    memset(&g, 0, sizeof g);
    store_order o;
    store_status st = store_get_order(s, id, &o, NULL, NULL, err, sizeof err);
    if (st == STORE_NOT_FOUND)
        return g;
    ck_assert_msg(st == STORE_OK, "%s: %s", store_status_name(st), err);
    ck_assert_int_eq(store_get_order(s, id, &o, one_history, &g, err, sizeof err), STORE_OK);
    /* the history went first (the callback runs after *out is filled): put it after */
    char hist[1024];
    snprintf(hist, sizeof hist, "%s", g.text);
    flatten(&g, &o);
    snprintf(g.text + g.len, sizeof g.text - g.len, "%s", hist);
    g.len = strlen(g.text);
    g.seen = 1;
    return g;
}

static void apply_ok(store *s, int64_t off, const order_event *ev)
{
    store_status st = store_apply(s, TOPIC, 0, off, ev, err, sizeof err);
    ck_assert_msg(st == STORE_OK, "apply at %lld: %s %s", (long long)off, store_status_name(st),
                  err);
}

static store *open_rw(void)
{
    store *s = store_open(where, 0, err, sizeof err);
    ck_assert_msg(s != NULL, "store_open: %s", err);
    return s;
}

START_TEST(test_many_same_as_one_by_one)
{
    store *w = open_rw();
    order_event a = make_create("ORD-A", 1000), b = make_create("ORD-B", 2000);
    order_event a1 = make_update("ORD-A", "confirmed", 3000);
    order_event a2 = make_update("ORD-A", "shipped", 4000);
    order_event n = make_create("NULL", 5000); /* a valid orderId, not SQL's NULL */
    ck_assert_int_eq(store_begin(w, err, sizeof err), STORE_OK);
    apply_ok(w, 0, &a);
    apply_ok(w, 1, &b);
    apply_ok(w, 2, &a1);
    apply_ok(w, 3, &a2);
    apply_ok(w, 4, &n);
    ck_assert_int_eq(store_commit(w, err, sizeof err), STORE_OK);

    store *r = store_open(where, STORE_READONLY, err, sizeof err);
    ck_assert_msg(r != NULL, "%s", err);
    const char *ids[] = {"ORD-B", "ORD-NONE", "ORD-A", "ORD-B", "NULL", "ord-a"};
    size_t nids = sizeof ids / sizeof ids[0];
    got_order at[6];
    memset(at, 0, sizeof at);
    got_many m = {at, nids, -1};
    store_order_sink sink = {&m, many_order, many_history};
    store_status st = store_get_orders(r, ids, nids, &sink, err, sizeof err);
    ck_assert_msg(st == STORE_OK, "%s: %s", store_status_name(st), err);
    for (size_t i = 0; i < nids; i++) {
        got_order one = read_one(r, ids[i]);
        ck_assert_int_eq(at[i].seen, one.seen);
        ck_assert_str_eq(at[i].text, one.text);
    }
    ck_assert_int_eq(at[1].seen, 0);
    ck_assert_int_eq(at[5].seen, 0); /* ids are case-sensitive */
    ck_assert_ptr_nonnull(strstr(at[2].text, "|new@1000|confirmed@3000|shipped@4000"));
    ck_assert_ptr_nonnull(strstr(at[0].text, "ORD-B|CUST-2000|"));
    store_close(r);
    store_close(w);
}
END_TEST

START_TEST(test_many_ids_each_at_its_index)
{
    store *w = open_rw();
    char names[MANY][16];
    ck_assert_int_eq(store_begin(w, err, sizeof err), STORE_OK);
    for (int i = 0; i < MANY; i++) {
        snprintf(names[i], sizeof names[i], "M-%03d", i);
        order_event c = make_create(names[i], 10000 + i);
        apply_ok(w, i, &c);
    }
    ck_assert_int_eq(store_commit(w, err, sizeof err), STORE_OK);
    /* asked in reverse, every third one unknown */
    const char *ids[MANY];
    char unknown[MANY][16];
    for (int i = 0; i < MANY; i++) {
        if (i % 3 == 2) {
            snprintf(unknown[i], sizeof unknown[i], "X-%03d", i);
            ids[i] = unknown[i];
        } else {
            ids[i] = names[MANY - 1 - i];
        }
    }
    got_order *at = calloc(MANY, sizeof *at);
    ck_assert_ptr_nonnull(at);
    got_many m = {at, MANY, -1};
    store_order_sink sink = {&m, many_order, many_history};
    ck_assert_int_eq(store_get_orders(w, ids, MANY, &sink, err, sizeof err), STORE_OK);
    for (int i = 0; i < MANY; i++) {
        if (i % 3 == 2) {
            ck_assert_int_eq(at[i].seen, 0);
            continue;
        }
        ck_assert_int_eq(at[i].seen, 1);
        char want[64];
        snprintf(want, sizeof want, "%s|CUST-%d|", ids[i], 10000 + (MANY - 1 - i));
        ck_assert_msg(strncmp(at[i].text, want, strlen(want)) == 0, "%d: %s", i, at[i].text);
    }
    free(at);
    store_close(w);
}
END_TEST

static void never_order(void *arg, size_t index, const store_order *o)
{
    (void)arg;
    (void)index;
    (void)o;
    ck_abort_msg("no order expected");
}

static void never_history(void *arg, size_t index, const char *status, int64_t at_ms)
{
    (void)arg;
    (void)index;
    (void)status;
    (void)at_ms;
    ck_abort_msg("no history expected");
}

START_TEST(test_many_misuse_refused)
{
    store *w = open_rw();
    store_order_sink sink = {NULL, never_order, never_history};
    ck_assert_int_eq(store_get_orders(w, NULL, 0, &sink, err, sizeof err), STORE_OK);
    const char *bad[] = {"OK-1", "no spaces"};
    ck_assert_int_eq(store_get_orders(w, bad, 2, &sink, err, sizeof err), STORE_ERR_INTERNAL);
    ck_assert_ptr_nonnull(strstr(err, "invalid orderId"));
    const char *one[] = {"OK-1"};
    ck_assert_int_eq(store_get_orders(w, one, STORE_GET_MANY_MAX + 1, &sink, err, sizeof err),
                     STORE_ERR_INTERNAL);
    ck_assert_int_eq(store_begin(w, err, sizeof err), STORE_OK);
    ck_assert_int_eq(store_get_orders(w, one, 1, &sink, err, sizeof err), STORE_ERR_INTERNAL);
    store_rollback(w);
    ck_assert_int_eq(store_get_orders(w, one, 1, &sink, err, sizeof err), STORE_OK);
    store_close(w);
}
END_TEST

static void add_contract(TCase *tc)
{
    tcase_add_test(tc, test_many_same_as_one_by_one);
    tcase_add_test(tc, test_many_ids_each_at_its_index);
    tcase_add_test(tc, test_many_misuse_refused);
}

Suite *test_suite(int *rc)
{
    (void)rc;
    return stfx_suite("order_store_many", add_contract);
}
