/*
 * An order's status history, however long: every entry comes back once, in
 * order, with its time (the extremes of int64 included), through
 * store_get_order and store_get_orders, before and after a re-open, on
 * every backend. On SQLite, whose rows hold the first entries themselves
 * (store_sqlite_layout.c), the entries on both sides of that boundary, a file
 * of the previous layout (2: every later entry in status_history) migrated
 * in place with nothing lost, an empty in-row history read as none, and a
 * damaged one refused as the store's error, never half a history.
 */
#include "store/store.h"

#include "order/store/store_events.h"
#include "order/store/store_fixture.h"
#include "test_main.h"

#include <check.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define TOPIC "order-events"
#define LONG_UPDATES 25 /* well past what a SQLite row holds (8) */

static char err[256];

static const char *const cycle[] = {"pending", "confirmed", "processing", "shipped", "cancelled"};

static void collect_many(void *arg, size_t index, const char *status, int64_t at)
{
    ck_assert_uint_eq(index, 0);
    stev_collect(arg, status, at);
}

static void many_order(void *arg, size_t index, const store_order *o)
{
    (void)arg;
    (void)o;
    ck_assert_uint_eq(index, 0);
}

static stev_history read_hist(store *s, const char *id, store_order *o)
{
    stev_history h = {0};
    store_status st = store_get_order(s, id, o, stev_collect, &h, err, sizeof err);
    ck_assert_msg(st == STORE_OK, "%s: %s %s", id, store_status_name(st), err);
    stev_history m = {0};
    store_order_sink sink = {&m, many_order, collect_many};
    const char *ids[1] = {id};
    st = store_get_orders(s, ids, 1, &sink, err, sizeof err);
    ck_assert_msg(st == STORE_OK, "%s (many): %s %s", id, store_status_name(st), err);
    ck_assert_int_eq(m.n, h.n);
    for (int i = 0; i < h.n; i++) {
        ck_assert_str_eq(m.status[i], h.status[i]);
        ck_assert_int_eq(m.at[i], h.at[i]);
    }
    return h;
}

static void apply(store *s, int64_t off, const order_event *ev, store_status want)
{
    store_status st = store_apply(s, TOPIC, 0, off, ev, err, sizeof err);
    ck_assert_msg(st == want, "apply at %lld: %s %s", (long long)off, store_status_name(st), err);
}

/* The time of update i (1-based): negative and extreme ones among them. */
static int64_t update_at(int i)
{
    if (i == 3)
        return INT64_MIN;
    if (i == 9) /* the last one a SQLite row holds */
        return INT64_MAX;
    if (i == 10)
        return -1;
    return 1000 + i;
}

/* CREATE at offset 0, then n updates (cycling statuses), the commits at uneven points. */
static void apply_long(store *s, const char *id, int n)
{
    order_event c = stev_create(id, 1000, "CUST-1", "2026-11-25T14:00:00.123Z");
    stev_item(&c, "ITEM-1", 2, 150);
    ck_assert_int_eq(store_begin(s, err, sizeof err), STORE_OK);
    apply(s, 0, &c, STORE_OK);
    for (int i = 1; i <= n; i++) {
        if (i == 8 || i == 10 || i == 17) { /* commit across the boundary, and after it */
            ck_assert_int_eq(store_commit(s, err, sizeof err), STORE_OK);
            ck_assert_int_eq(store_begin(s, err, sizeof err), STORE_OK);
        }
        order_event u = stev_update(id, cycle[(i - 1) % 5], update_at(i));
        apply(s, i, &u, STORE_OK);
    }
    ck_assert_int_eq(store_commit(s, err, sizeof err), STORE_OK);
}

/* id reads back as created at 1000 (total 3.00) with n updates of the cycle. */
static void check_cycle(store *s, const char *id, int n)
{
    store_order o;
    stev_history h = read_hist(s, id, &o);
    ck_assert_int_eq(h.n, n + 1);
    ck_assert_str_eq(h.status[0], "new");
    ck_assert_int_eq(h.at[0], 1000);
    for (int i = 1; i <= n; i++) {
        ck_assert_str_eq(h.status[i], cycle[(i - 1) % 5]);
        ck_assert_int_eq(h.at[i], update_at(i));
    }
    ck_assert_str_eq(o.status, n ? cycle[(n - 1) % 5] : "new");
    ck_assert_int_eq(o.updated_at_ms, n ? update_at(n) : 1000);
    ck_assert_int_eq(o.total_cents, 300);
}

START_TEST(test_long_history_in_order)
{
    store *s = stfx_open_rw();
    apply_long(s, "LONG-1", LONG_UPDATES);
    check_cycle(s, "LONG-1", LONG_UPDATES);
    /* an UPDATE to the status it has is a redelivery: nothing appended */
    order_event again = stev_update("LONG-1", cycle[(LONG_UPDATES - 1) % 5], 99);
    ck_assert_int_eq(store_begin(s, err, sizeof err), STORE_OK);
    apply(s, LONG_UPDATES + 1, &again, STORE_REDELIVERED);
    ck_assert_int_eq(store_commit(s, err, sizeof err), STORE_OK);
    check_cycle(s, "LONG-1", LONG_UPDATES);
    store_close(s);
    s = stfx_open_rw();
    check_cycle(s, "LONG-1", LONG_UPDATES);
    store_close(s);
}
END_TEST

/* Orders of every length from 0 to 12 updates read back whole. */
START_TEST(test_every_length_around_the_boundary)
{
    store *s = stfx_open_rw();
    int64_t off = 0;
    ck_assert_int_eq(store_begin(s, err, sizeof err), STORE_OK);
    for (int n = 0; n <= 12; n++) {
        char id[32];
        snprintf(id, sizeof id, "LEN-%d", n);
        order_event c = stev_create(id, 1000, "CUST-1", "2026-11-25T14:00:00.123Z");
        stev_item(&c, "ITEM-1", 2, 150);
        apply(s, off++, &c, STORE_OK);
        for (int i = 1; i <= n; i++) {
            order_event u = stev_update(id, cycle[(i - 1) % 5], update_at(i));
            apply(s, off++, &u, STORE_OK);
        }
    }
    ck_assert_int_eq(store_commit(s, err, sizeof err), STORE_OK);
    for (int n = 0; n <= 12; n++) {
        char id[32];
        snprintf(id, sizeof id, "LEN-%d", n);
        check_cycle(s, id, n);
    }
    /* the status each has already, at any length, and an unknown order: nothing changes */
    ck_assert_int_eq(store_begin(s, err, sizeof err), STORE_OK);
    for (int n = 0; n <= 12; n++) {
        char id[32];
        snprintf(id, sizeof id, "LEN-%d", n);
        /* LEN-0 takes its first update instead: the cycle's first entry */
        order_event u =
            n ? stev_update(id, cycle[(n - 1) % 5], 7777) : stev_update(id, cycle[0], update_at(1));
        apply(s, off++, &u, n ? STORE_REDELIVERED : STORE_OK);
    }
    order_event unknown = stev_update("LEN-X", "pending", 7777);
    apply(s, off++, &unknown, STORE_NOT_FOUND);
    ck_assert_int_eq(store_commit(s, err, sizeof err), STORE_OK);
    for (int n = 1; n <= 12; n++) {
        char id[32];
        snprintf(id, sizeof id, "LEN-%d", n);
        check_cycle(s, id, n);
    }
    check_cycle(s, "LEN-0", 1);
    store_close(s);
}
END_TEST

static void add_contract(TCase *tc)
{
    tcase_add_test(tc, test_long_history_in_order);
    tcase_add_test(tc, test_every_length_around_the_boundary);
}

/* ---- SQLite only ---------------------------------------------------------------------- */

static sqlite3 *raw_open(void)
{
    sqlite3 *db = NULL;
    ck_assert_int_eq(sqlite3_open(where, &db), SQLITE_OK);
    return db;
}

static void raw_exec(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    ck_assert_msg(rc == SQLITE_OK, "%s: %s", sql, msg ? msg : "?");
    sqlite3_free(msg);
}

/* sql on the file while no store has it open. */
static void raw_run(const char *sql)
{
    sqlite3 *db = raw_open();
    raw_exec(db, sql);
    sqlite3_close(db);
}

static int64_t raw_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *q = NULL;
    ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &q, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(q), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    return v;
}

/* A file as layout 2 wrote it: order OLD-n has n updates, all in status_history. */
static void write_layout2(int max_n)
{
    sqlite3 *db = raw_open();
    raw_exec(db, "CREATE TABLE orders(order_id TEXT PRIMARY KEY NOT NULL, customer_id TEXT NOT"
                 " NULL, order_date TEXT NOT NULL, items TEXT NOT NULL, total_cents INTEGER NOT"
                 " NULL, currency TEXT NOT NULL, status TEXT NOT NULL, created_status TEXT NOT"
                 " NULL, shipping_cents INTEGER NOT NULL, created_at INTEGER NOT NULL,"
                 " updated_at INTEGER NOT NULL, history_len INTEGER NOT NULL);"
                 "CREATE TABLE status_history(order_id TEXT NOT NULL, seq INTEGER NOT NULL,"
                 " status TEXT NOT NULL, at INTEGER NOT NULL, PRIMARY KEY(order_id, seq))"
                 " WITHOUT ROWID;"
                 "CREATE TABLE consumed_offsets(topic TEXT NOT NULL, partition INTEGER NOT"
                 " NULL, next_offset INTEGER NOT NULL, PRIMARY KEY(topic, partition))"
                 " WITHOUT ROWID;"
                 "BEGIN");
    for (int n = 0; n <= max_n; n++) {
        char sql[512];
        snprintf(sql, sizeof sql,
                 "INSERT INTO orders VALUES('OLD-%d', 'CUST-1', '2026-11-25T14:00:00.123Z',"
                 " '[]', 300, 'USD', '%s', 'new', 6, 1000, %lld, %d)",
                 n, n ? cycle[(n - 1) % 5] : "new", (long long)(n ? update_at(n) : 1000), n + 1);
        raw_exec(db, sql);
        for (int i = 1; i <= n; i++) {
            snprintf(sql, sizeof sql, "INSERT INTO status_history VALUES('OLD-%d', %d, '%s', %lld)",
                     n, i + 1, cycle[(i - 1) % 5], (long long)update_at(i));
            raw_exec(db, sql);
        }
    }
    raw_exec(db, "INSERT INTO consumed_offsets VALUES('order-events', 0, 77);"
                 "COMMIT; PRAGMA user_version = 2");
    sqlite3_close(db);
}

START_TEST(test_layout2_file_migrates_in_place)
{
    write_layout2(20);
    store *s = stfx_open_rw();
    ck_assert_int_eq(stfx_position(s, TOPIC, 0), 77);
    ck_assert_int_eq(stfx_count(s), 21);
    for (int n = 0; n <= 20; n++) {
        char id[32];
        snprintf(id, sizeof id, "OLD-%d", n);
        check_cycle(s, id, n);
    }
    /* the migrated orders take updates like any other */
    order_event u = stev_update("OLD-20", "delivered", 5000);
    order_event v = stev_update("OLD-2", "delivered", 5001);
    ck_assert_int_eq(store_begin(s, err, sizeof err), STORE_OK);
    apply(s, 77, &u, STORE_OK);
    apply(s, 78, &v, STORE_OK);
    ck_assert_int_eq(store_commit(s, err, sizeof err), STORE_OK);
    store_order o;
    stev_history h = read_hist(s, "OLD-20", &o);
    ck_assert_int_eq(h.n, 22);
    ck_assert_str_eq(h.status[21], "delivered");
    h = read_hist(s, "OLD-2", &o);
    ck_assert_int_eq(h.n, 4);
    ck_assert_str_eq(h.status[3], "delivered");
    ck_assert_int_eq(h.at[3], 5001);
    store_close(s);
    /* the file says layout 3; status_history keeps only what rows do not hold */
    sqlite3 *db = raw_open();
    ck_assert_int_eq(raw_int(db, "PRAGMA user_version"), 3);
    ck_assert_int_eq(raw_int(db, "SELECT count(*) FROM status_history WHERE seq <= 9"), 0);
    /* OLD-9 .. OLD-20 have entries 10 .. n + 1 there, OLD-20 one more */
    ck_assert_int_eq(raw_int(db, "SELECT count(*) FROM status_history"), 12 * 13 / 2 + 1);
    sqlite3_close(db);
}
END_TEST

/* Files of layout 3 written before the column was NULL until the first update hold ''. */
START_TEST(test_empty_string_history_is_none)
{
    store *s = stfx_open_rw();
    apply_long(s, "EMPTY-1", 0);
    store_close(s);
    sqlite3 *db = raw_open(); /* a new order's row holds NULL, not '' */
    ck_assert_int_eq(raw_int(db, "SELECT count(*) FROM orders WHERE history IS NULL"), 1);
    sqlite3_close(db);
    raw_run("UPDATE orders SET history = ''");
    s = stfx_open_rw();
    check_cycle(s, "EMPTY-1", 0);
    order_event u = stev_update("EMPTY-1", cycle[0], update_at(1));
    ck_assert_int_eq(store_begin(s, err, sizeof err), STORE_OK);
    apply(s, 1, &u, STORE_OK);
    ck_assert_int_eq(store_commit(s, err, sizeof err), STORE_OK);
    check_cycle(s, "EMPTY-1", 1);
    store_close(s);
}
END_TEST

START_TEST(test_damaged_history_is_the_stores_error)
{
    store *s = stfx_open_rw();
    apply_long(s, "DMG-1", 4);
    store_close(s);
    const char *damage[] = {
        "pending@1001;confirmed@1002;", /* one entry short */
        "pending@1001;confirmed@1002;processing1003;shipped@1004;",
        "pending@1001;confirmed@;processing@1003;shipped@1004;",
        "pending@1001;confirmed@1002;processing@1003;shipped@99999999999999999999;",
        "pending@1001;confirmed@1002;processing@1003;shipped@1004"};
    for (size_t d = 0; d < sizeof damage / sizeof damage[0]; d++) {
        char sql[256];
        snprintf(sql, sizeof sql, "UPDATE orders SET history = '%s' WHERE order_id = 'DMG-1'",
                 damage[d]);
        raw_run(sql);
        s = stfx_open_rw();
        store_order o;
        stev_history h = {0};
        err[0] = '\0';
        ck_assert_int_eq(store_get_order(s, "DMG-1", &o, stev_collect, &h, err, sizeof err),
                         STORE_ERR_IO);
        ck_assert_int_eq(h.n, 0); /* nothing of a damaged history reaches the caller */
        ck_assert_msg(strstr(err, "damaged") != NULL, "%s", err);
        store_close(s);
    }
}
END_TEST

Suite *test_suite(int *rc)
{
    (void)rc;
    Suite *su = stfx_suite("order_store_history", add_contract);
    TCase *tc = tcase_create("sqlite_layout");
    tcase_add_checked_fixture(tc, stfx_setup, stfx_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_layout2_file_migrates_in_place);
    tcase_add_test(tc, test_damaged_history_is_the_stores_error);
    tcase_add_test(tc, test_empty_string_history_is_none);
    suite_add_tcase(su, tc);
    return su;
}
