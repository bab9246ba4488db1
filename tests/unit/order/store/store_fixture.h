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
