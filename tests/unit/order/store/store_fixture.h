/*
 * store_fixture: what the store contract tests share: a fresh store per test
 * case (a SQLite file in a new temporary directory, or a fresh PostgreSQL
 * schema through pg_fixture.h) named by `where`, and a suite that runs the
 * same contract against both backends (PostgreSQL only when
 * ORDERSTREAM_TEST_PG_URL is set). Header-only, one per test binary.
 */
#ifndef STORE_FIXTURE_H
#define STORE_FIXTURE_H

#include "order/store/pg_fixture.h"
#include "store/store.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>

static char stfx_tmpdir[256];
static char stfx_schema[64];
static char where[600]; /* what store_open() gets: a file path or a PostgreSQL URL */

static void stfx_setup(void)
{
    const char *base = getenv("TMPDIR");
    snprintf(stfx_tmpdir, sizeof stfx_tmpdir, "%s/order-store-XXXXXX",
             base && *base ? base : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(stfx_tmpdir));
    snprintf(where, sizeof where, "%s/orders.db", stfx_tmpdir);
}

static void stfx_teardown(void)
{
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", stfx_tmpdir);
    ck_assert_int_eq(system(cmd), 0);
}

static void stfx_setup_pg(void)
{
    pgfx_setup(stfx_schema, sizeof stfx_schema, where, sizeof where);
}

static void stfx_teardown_pg(void)
{
    pgfx_teardown(stfx_schema);
}

/* A writer on `where`. */
static inline store *stfx_open_rw(void)
{
    char err[256];
    store *s = store_open(where, 0, err, sizeof err);
    ck_assert_msg(s != NULL, "store_open: %s", err);
    return s;
}

/* The next offset stored for (topic, part), -1 if none. */
static inline int64_t stfx_position(store *s, const char *topic, int32_t part)
{
    char err[256];
    int64_t next = -1;
    store_status st = store_get_position(s, topic, part, &next, err, sizeof err);
    if (st == STORE_NOT_FOUND)
        return -1;
    ck_assert_msg(st == STORE_OK, "position: %s", err);
    return next;
}

static inline int64_t stfx_count(store *s)
{
    char err[256];
    int64_t n = -1;
    ck_assert_msg(store_count_orders(s, &n, err, sizeof err) == STORE_OK, "count: %s", err);
    return n;
}

/* Suite name: add_contract's tests on SQLite, then (if configured) on PostgreSQL. */
static inline Suite *stfx_suite(const char *name, void (*add_contract)(TCase *))
{
    Suite *su = suite_create(name);
    TCase *tc = tcase_create("sqlite");
    tcase_add_checked_fixture(tc, stfx_setup, stfx_teardown);
    tcase_set_timeout(tc, 60);
    add_contract(tc);
    suite_add_tcase(su, tc);
    if (pgfx_url()) {
        tc = tcase_create("postgresql");
        tcase_add_checked_fixture(tc, stfx_setup_pg, stfx_teardown_pg);
        tcase_set_timeout(tc, 60);
        add_contract(tc);
        suite_add_tcase(su, tc);
    } else {
        printf("%s: ORDERSTREAM_TEST_PG_URL unset, PostgreSQL run skipped\n", name);
    }
    return su;
}

#endif
