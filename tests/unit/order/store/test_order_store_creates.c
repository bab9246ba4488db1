/*
 * The store contract, runs of CREATEs (store_apply_creates, what catch-up
 * uses): all or nothing. What must hold: a run of new CREATEs is applied as
 * the same calls of store_apply() would apply it (orders, positions); a run
 * with anything else in it (an orderId that exists, one twice, an offset at
 * or below the position or not ascending, a statement that fails) leaves
 * nothing of it behind, so the one-by-one path gives each event its own
 * answer; misuse is refused. SQLite applies runs; a backend without runs
 * (PostgreSQL) answers STORE_SKIPPED and must leave nothing behind either.
 */
#include "store/store.h"

#include "order/store/store_events.h"
#include "order/store/store_fixture.h"
#include "test_main.h"

#include <check.h>
#include <stdio.h>
#include <string.h>

#define TOPIC "order-events"

static char err[256];

static order_event make_create(const char *id, int64_t ts)
{
    order_event ev = stev_create(id, ts, "CUST-7", "2026-11-25T14:00:00.123Z");
    stev_item(&ev, "ITEM-\"1\"", 3, 1999);
    stev_item(&ev, "ITEM-2", 1, 5);
    return ev;
}

static int runs_apply(const store *s)
{
    return strcmp(store_kind(s), "sqlite") == 0;
}

static int exists(store *s, const char *id)
{
    store_order o;
    store_status st = store_get_order(s, id, &o, NULL, NULL, err, sizeof err);
    ck_assert_msg(st == STORE_OK || st == STORE_NOT_FOUND, "get %s: %s", id, err);
    return st == STORE_OK;
}

/* evs[i] at (partition parts[i], offset offs[i]) */
static store_status run(store *s, const order_event *evs, const int32_t *parts, const int64_t *offs,
                        size_t n)
{
    store_create c[STORE_CREATES_MAX];
    ck_assert_uint_le(n, STORE_CREATES_MAX);
    memset(c, 0, sizeof c); /* no items JSON of the caller's: the store renders it */
    for (size_t i = 0; i < n; i++) {
        c[i].partition = parts[i];
        c[i].offset = offs[i];
        c[i].ev = &evs[i];
    }
    return store_apply_creates(s, TOPIC, c, n, err, sizeof err);
}

START_TEST(test_run_of_new_creates_applies_all)
{
    store *s = stfx_open_rw();
    order_event evs[STORE_CREATES_MAX];
    int32_t parts[STORE_CREATES_MAX];
    int64_t offs[STORE_CREATES_MAX];
    for (int i = 0; i < STORE_CREATES_MAX; i++) {
        char id[32];
        snprintf(id, sizeof id, "RUN-%d", i);
        evs[i] = make_create(id, 1000 + i);
        parts[i] = i % 2;
        offs[i] = 10 + i; /* ascending within each partition */
    }
    ck_assert_int_eq(store_begin(s, err, sizeof err), STORE_OK);
    store_status st = run(s, evs, parts, offs, STORE_CREATES_MAX);
    if (!runs_apply(s)) {
        ck_assert_int_eq(st, STORE_SKIPPED);
        ck_assert(!exists(s, "RUN-0"));
        store_rollback(s);
        store_close(s);
        return;
    }
    ck_assert_msg(st == STORE_OK, "run: %s %s", store_status_name(st), err);
    ck_assert_int_eq(store_commit(s, err, sizeof err), STORE_OK);
    ck_assert_int_eq(stfx_position(s, TOPIC, 0), 10 + STORE_CREATES_MAX - 2 + 1);
    ck_assert_int_eq(stfx_position(s, TOPIC, 1), 10 + STORE_CREATES_MAX - 1 + 1);
    /* each order as store_apply would have stored it */
    store_order o;
    ck_assert_int_eq(store_get_order(s, "RUN-7", &o, NULL, NULL, err, sizeof err), STORE_OK);
    ck_assert_str_eq(o.customer_id, "CUST-7");
    ck_assert_int_eq(o.total_cents, 3 * 1999 + 5);
    ck_assert_int_eq(o.created_at_ms, 1007);
    ck_assert_str_eq(o.status, "new");
    ck_assert(strstr(o.items_json, "ITEM-\\\"1\\\"") != NULL);
    ck_assert_int_eq(stfx_count(s), STORE_CREATES_MAX);
    /* the same run again is below the positions now: nothing done */
    ck_assert_int_eq(store_begin(s, err, sizeof err), STORE_OK);
    ck_assert_int_eq(run(s, evs, parts, offs, 4), STORE_SKIPPED);
    ck_assert_int_eq(store_commit(s, err, sizeof err), STORE_OK);
    ck_assert_int_eq(stfx_count(s), STORE_CREATES_MAX);
    store_close(s);
}
END_TEST

START_TEST(test_run_stores_the_callers_items_json)
{
    store *s = stfx_open_rw();
    order_event evs[2] = {make_create("JS-1", 1), make_create("JS-2", 2)};
    store_create c[2];
    memset(c, 0, sizeof c);
    const char *given = "[{\"itemId\":\"GIVEN\",\"quantity\":1,\"price\":1.00}]";
    for (int i = 0; i < 2; i++) {
        c[i].partition = 0;
        c[i].offset = i;
        c[i].ev = &evs[i];
    }
    c[1].items_json = given; /* the second one's, rendered by the caller */
    c[1].items_len = strlen(given);
    ck_assert_int_eq(store_begin(s, err, sizeof err), STORE_OK);
    store_status st = store_apply_creates(s, TOPIC, c, 2, err, sizeof err);
    if (!runs_apply(s)) {
        ck_assert_int_eq(st, STORE_SKIPPED);
        store_rollback(s);
        store_close(s);
        return;
    }
    ck_assert_msg(st == STORE_OK, "%s", err);
    ck_assert_int_eq(store_commit(s, err, sizeof err), STORE_OK);
    store_order o;
    ck_assert_int_eq(store_get_order(s, "JS-2", &o, NULL, NULL, err, sizeof err), STORE_OK);
    ck_assert_str_eq(o.items_json, given);
    ck_assert_int_eq(store_get_order(s, "JS-1", &o, NULL, NULL, err, sizeof err), STORE_OK);
    ck_assert(strstr(o.items_json, "ITEM-2") != NULL); /* rendered by the store */
    store_close(s);
}
END_TEST

/* A run that cannot apply whole leaves the orders and positions as they were. */
static void assert_nothing_of(store *s, const char *const *ids, size_t n, int64_t pos0)
{
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(!exists(s, ids[i]), "%s stored by a refused run", ids[i]);
    ck_assert_int_eq(stfx_position(s, TOPIC, 0), pos0);
}

START_TEST(test_run_with_existing_order_leaves_nothing)
{
    store *s = stfx_open_rw();
    order_event old = make_create("OLD", 1);
    ck_assert_int_eq(store_begin(s, err, sizeof err), STORE_OK);
    ck_assert_int_eq(store_apply(s, TOPIC, 0, 0, &old, err, sizeof err), STORE_OK);
    /* NEW-A, OLD (the same content at a later time: a retry), NEW-B */
    order_event evs[3] = {make_create("NEW-A", 2), make_create("OLD", 3), make_create("NEW-B", 4)};
    int32_t parts[3] = {0, 0, 0};
    int64_t offs[3] = {1, 2, 3};
    ck_assert_int_eq(run(s, evs, parts, offs, 3), STORE_SKIPPED);
    const char *ids[] = {"NEW-A", "NEW-B"};
    assert_nothing_of(s, ids, 2, 1);
    /* one by one, each gets its own answer */
    ck_assert_int_eq(store_apply(s, TOPIC, 0, 1, &evs[0], err, sizeof err), STORE_OK);
    ck_assert_int_eq(store_apply(s, TOPIC, 0, 2, &evs[1], err, sizeof err), STORE_REDELIVERED);
    ck_assert_int_eq(store_apply(s, TOPIC, 0, 3, &evs[2], err, sizeof err), STORE_OK);
    ck_assert_int_eq(store_commit(s, err, sizeof err), STORE_OK);
    ck_assert_int_eq(stfx_position(s, TOPIC, 0), 4);
    ck_assert_int_eq(stfx_count(s), 3);
    store_close(s);
}
END_TEST

START_TEST(test_run_with_an_order_twice_leaves_nothing)
{
    store *s = stfx_open_rw();
    order_event other = make_create("TWICE", 3);
    snprintf(other.customer_id, sizeof other.customer_id, "CUST-8"); /* another order */
    order_event evs[3] = {make_create("FIRST", 1), make_create("TWICE", 2), other};
    int32_t parts[3] = {0, 0, 0};
    int64_t offs[3] = {0, 1, 2};
    ck_assert_int_eq(store_begin(s, err, sizeof err), STORE_OK);
    ck_assert_int_eq(run(s, evs, parts, offs, 3), STORE_SKIPPED);
    const char *ids[] = {"FIRST", "TWICE"};
    assert_nothing_of(s, ids, 2, -1);
    ck_assert_int_eq(store_apply(s, TOPIC, 0, 0, &evs[0], err, sizeof err), STORE_OK);
    ck_assert_int_eq(store_apply(s, TOPIC, 0, 1, &evs[1], err, sizeof err), STORE_OK);
    ck_assert_int_eq(store_apply(s, TOPIC, 0, 2, &evs[2], err, sizeof err), STORE_DUPLICATE);
    ck_assert_int_eq(store_commit(s, err, sizeof err), STORE_OK);
    store_order o;
    ck_assert_int_eq(store_get_order(s, "TWICE", &o, NULL, NULL, err, sizeof err), STORE_OK);
    ck_assert_str_eq(o.customer_id, "CUST-7");
    ck_assert_int_eq(stfx_position(s, TOPIC, 0), 2);
    store_close(s);
}
END_TEST

START_TEST(test_run_with_old_or_unordered_offsets_leaves_nothing)
{
    store *s = stfx_open_rw();
    order_event first = make_create("AT-5", 1);
    ck_assert_int_eq(store_begin(s, err, sizeof err), STORE_OK);
    ck_assert_int_eq(store_apply(s, TOPIC, 0, 5, &first, err, sizeof err), STORE_OK);
    order_event evs[2] = {make_create("X-1", 2), make_create("X-2", 3)};
    int32_t parts[2] = {0, 0};
    const char *ids[] = {"X-1", "X-2"};
    int64_t below[2] = {6, 5}; /* the second is at the position already passed */
    ck_assert_int_eq(run(s, evs, parts, below, 2), STORE_SKIPPED);
    assert_nothing_of(s, ids, 2, 6);
    int64_t same[2] = {7, 7}; /* not ascending within the partition */
    ck_assert_int_eq(run(s, evs, parts, same, 2), STORE_SKIPPED);
    assert_nothing_of(s, ids, 2, 6);
    int64_t gap[2] = {9, 12}; /* gaps are fine (compacted or transactional topics) */
    store_status st = run(s, evs, parts, gap, 2);
    ck_assert_int_eq(st, runs_apply(s) ? STORE_OK : STORE_SKIPPED);
    if (st == STORE_OK)
        ck_assert_int_eq(stfx_position(s, TOPIC, 0), 13);
    /* rolled back: the run's orders and positions go with the transaction */
    store_rollback(s);
    ck_assert(!exists(s, "X-1"));
    ck_assert(!exists(s, "AT-5"));
    ck_assert_int_eq(stfx_position(s, TOPIC, 0), -1);
    store_close(s);
}
END_TEST

START_TEST(test_run_misuse_refused)
{
    store *s = stfx_open_rw();
    order_event evs[2] = {make_create("M-1", 1), stev_update("M-1", "paid", 2)};
    int32_t parts[2] = {0, 0};
    int64_t offs[2] = {0, 1};
    ck_assert_int_eq(run(s, evs, parts, offs, 0), STORE_ERR_INTERNAL); /* empty */
    store_create big[STORE_CREATES_MAX + 1];
    memset(big, 0, sizeof big);
    ck_assert_int_eq(store_apply_creates(s, TOPIC, big, STORE_CREATES_MAX + 1, err, sizeof err),
                     STORE_ERR_INTERNAL);
    if (runs_apply(s)) {
        /* outside a transaction; an UPDATE in the run */
        ck_assert_int_eq(run(s, evs, parts, offs, 1), STORE_ERR_INTERNAL);
        ck_assert_int_eq(store_begin(s, err, sizeof err), STORE_OK);
        ck_assert_int_eq(run(s, evs, parts, offs, 2), STORE_ERR_INTERNAL);
        store_rollback(s);
    }
    ck_assert(!exists(s, "M-1"));
    store_close(s);
}
END_TEST

/* SQLite: a run whose INSERT fails (the file is full) applies nothing; the
 * one-by-one path then names the record that fails; the space back, it applies. */
START_TEST(test_run_on_full_file_applies_nothing)
{
    store *s = stfx_open_rw();
    ck_assert_int_eq(store_limit_pages(s, 1, err, sizeof err), STORE_OK);
    order_event evs[STORE_CREATES_MAX];
    int32_t parts[STORE_CREATES_MAX];
    int64_t offs[STORE_CREATES_MAX];
    for (int i = 0; i < STORE_CREATES_MAX; i++) {
        char id[32];
        snprintf(id, sizeof id, "FULL-%d", i);
        evs[i] = make_create(id, i);
        parts[i] = 0;
        offs[i] = i;
    }
    ck_assert_int_eq(store_begin(s, err, sizeof err), STORE_OK);
    store_status st = run(s, evs, parts, offs, STORE_CREATES_MAX);
    ck_assert_msg(st == STORE_SKIPPED || st == STORE_ERR_IO, "run on a full file: %s %s",
                  store_status_name(st), err);
    if (st == STORE_SKIPPED) {
        store_status one = STORE_OK;
        for (int i = 0; i < STORE_CREATES_MAX && one == STORE_OK; i++)
            one = store_apply(s, TOPIC, 0, i, &evs[i], err, sizeof err);
        ck_assert_int_eq(one, STORE_ERR_IO);
    }
    store_rollback(s);
    ck_assert_int_eq(store_limit_pages(s, 1000000, err, sizeof err), STORE_OK);
    ck_assert_int_eq(store_begin(s, err, sizeof err), STORE_OK);
    ck_assert_int_eq(run(s, evs, parts, offs, STORE_CREATES_MAX), STORE_OK);
    ck_assert_int_eq(store_commit(s, err, sizeof err), STORE_OK);
    ck_assert_int_eq(stfx_position(s, TOPIC, 0), STORE_CREATES_MAX);
    store_close(s);
}
END_TEST

static void add_contract(TCase *tc)
{
    tcase_add_test(tc, test_run_of_new_creates_applies_all);
    tcase_add_test(tc, test_run_stores_the_callers_items_json);
    tcase_add_test(tc, test_run_with_existing_order_leaves_nothing);
    tcase_add_test(tc, test_run_with_an_order_twice_leaves_nothing);
    tcase_add_test(tc, test_run_with_old_or_unordered_offsets_leaves_nothing);
    tcase_add_test(tc, test_run_misuse_refused);
}

Suite *test_suite(int *rc)
{
    (void)rc;
    Suite *su = stfx_suite("order_store_creates", add_contract);
    TCase *tc = tcase_create("sqlite_only");
    tcase_add_checked_fixture(tc, stfx_setup, stfx_teardown);
    tcase_add_test(tc, test_run_on_full_file_applies_nothing);
    suite_add_tcase(su, tc);
    return su;
}
