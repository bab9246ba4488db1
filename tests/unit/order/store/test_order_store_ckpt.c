/*
 * SQLite's WAL checkpoints off the committing thread (store_checkpointer_start,
 * store_sqlite_ckpt.c). What must hold: with the helper, the commits hand
 * checkpoints over and run none themselves while the WAL stays under the
 * bound; when the helper does not keep up (here: its threshold above the
 * bound), each commit that finds the WAL at the bound checkpoints itself, so
 * the WAL stays bounded; nothing committed is lost across a close and a
 * re-open; misuse is refused. Conditions are waited for, never timed.
 */
#include "store/store.h"

#include "order/store/store_events.h"
#include "order/store/store_fixture.h"
#include "test_main.h"

#include <check.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define TOPIC "order-events"
#define PER_COMMIT 40

static char err[256];
static int64_t next_offset;

/* One transaction of PER_COMMIT new orders; the WAL's size after it. */
static int64_t commit_some(store *s)
{
    ck_assert_int_eq(store_begin(s, err, sizeof err), STORE_OK);
    for (int i = 0; i < PER_COMMIT; i++) {
        char id[32];
        snprintf(id, sizeof id, "CK-%lld", (long long)next_offset);
        order_event ev = stev_create(id, next_offset, "CUST-1", "2026-11-25T14:00:00.123Z");
        stev_item(&ev, "ITEM-1", 1, 100);
        ck_assert_int_eq(store_apply(s, TOPIC, 0, next_offset, &ev, err, sizeof err), STORE_OK);
        next_offset++;
    }
    ck_assert_int_eq(store_commit(s, err, sizeof err), STORE_OK);
    store_ckpt_stats cs;
    (void)store_checkpoint_stats(s, &cs);
    return cs.wal_pages;
}

START_TEST(test_helper_checkpoints_and_commits_do_not)
{
    next_offset = 0;
    store *s = stfx_open_rw();
    ck_assert_int_eq(store_checkpointer_start(s, 8, 1000000, err, sizeof err), STORE_OK);
    store_ckpt_stats cs = {0};
    /* commits go on until the helper has checkpointed a few times (bounded by the loop) */
    for (int i = 0; i < 20000 && cs.runs < 3; i++) {
        commit_some(s);
        ck_assert_int_eq(store_checkpoint_stats(s, &cs), STORE_OK);
        if (i % 16 == 15)
            usleep(1000); /* give the helper a turn on a busy box */
    }
    ck_assert_int_ge(cs.runs, 3);
    ck_assert_int_eq(cs.failures, 0);
    ck_assert_int_eq(cs.commit_checkpoints, 0); /* none in a commit */
    int64_t n = next_offset;
    store_close(s); /* joins the helper */
    s = stfx_open_rw();
    ck_assert_int_eq(stfx_count(s), n);
    store_close(s);
}
END_TEST

START_TEST(test_commits_checkpoint_at_the_bound)
{
    next_offset = 0;
    store *s = stfx_open_rw();
    enum { BOUND = 16 };
    /* the helper's threshold above the bound: as if it never kept up */
    ck_assert_int_eq(store_checkpointer_start(s, BOUND, BOUND, err, sizeof err), STORE_OK);
    /* stderr into a file meanwhile: the lines the commits log */
    FILE *logs = tmpfile();
    ck_assert_ptr_nonnull(logs);
    fflush(stderr);
    int saved = dup(2);
    ck_assert_int_ge(saved, 0);
    ck_assert_int_eq(dup2(fileno(logs), 2), 2);
    int64_t most = 0, first_size = commit_some(s);
    for (int i = 0; i < 200; i++) {
        int64_t pages = commit_some(s);
        if (pages > most)
            most = pages;
    }
    ck_assert_int_eq(dup2(saved, 2), 2);
    close(saved);
    store_ckpt_stats cs;
    ck_assert_int_eq(store_checkpoint_stats(s, &cs), STORE_OK);
    ck_assert_int_gt(cs.commit_checkpoints, 1);
    /* many commits at the bound within a minute: one warn line, not one each */
    int lines = 0;
    char line[1024];
    rewind(logs);
    while (fgets(line, sizeof line, logs))
        lines += strstr(line, "the WAL reached") != NULL;
    fclose(logs);
    ck_assert_int_eq(lines, 1);
    /* nothing reads: a checkpoint copies every page, and the WAL starts over,
     * so it never holds much more than the bound and one commit */
    ck_assert_msg(most <= BOUND + 4 * first_size + 8, "WAL grew to %lld pages", (long long)most);
    store_close(s);
    s = stfx_open_rw();
    ck_assert_int_eq(stfx_count(s), next_offset);
    store_close(s);
}
END_TEST

START_TEST(test_without_helper_commits_count_their_checkpoints)
{
    next_offset = 0;
    store *s = stfx_open_rw();
    store_ckpt_stats cs;
    commit_some(s);
    /* no helper: NOT_FOUND, with what the commits saw */
    ck_assert_int_eq(store_checkpoint_stats(s, &cs), STORE_NOT_FOUND);
    ck_assert_int_gt(cs.wal_pages, 0);
    ck_assert_int_eq(cs.runs, 0);
    store_close(s);
}
END_TEST

START_TEST(test_checkpointer_misuse_refused)
{
    store *s = stfx_open_rw();
    ck_assert_int_eq(store_checkpointer_start(s, 0, 10, err, sizeof err), STORE_ERR_INTERNAL);
    ck_assert_int_eq(store_checkpointer_start(s, 10, 9, err, sizeof err), STORE_ERR_INTERNAL);
    ck_assert_int_eq(store_checkpointer_start(s, 10, 10, err, sizeof err), STORE_OK);
    ck_assert_int_eq(store_checkpointer_start(s, 10, 10, err, sizeof err), STORE_ERR_INTERNAL);
    store *ro = store_open(where, STORE_READONLY, err, sizeof err);
    ck_assert_msg(ro != NULL, "%s", err);
    ck_assert_int_eq(store_checkpointer_start(ro, 10, 10, err, sizeof err), STORE_ERR_INTERNAL);
    store_close(ro);
    store_close(s);
}
END_TEST

static void add_tests(TCase *tc)
{
    tcase_add_test(tc, test_helper_checkpoints_and_commits_do_not);
    tcase_add_test(tc, test_commits_checkpoint_at_the_bound);
    tcase_add_test(tc, test_without_helper_commits_count_their_checkpoints);
    tcase_add_test(tc, test_checkpointer_misuse_refused);
}

Suite *test_suite(int *rc)
{
    (void)rc;
    Suite *su = suite_create("order_store_ckpt");
    TCase *tc = tcase_create("sqlite");
    tcase_add_checked_fixture(tc, stfx_setup, stfx_teardown);
    tcase_set_timeout(tc, 120);
    add_tests(tc);
    suite_add_tcase(su, tc);
    return su;
}
