/*
 * Unit tests of the apply path's retry state (ingest/apply_retry.c), kept in
 * the store so that it outlives a process: attempts continue after a
 * re-opened store, a record that kills the process (a longjmp out of the
 * batch here, the store re-opened after it) reaches the DLQ after its attempts, and a dead letter
 * Kafka acknowledged is not written again after a store failure or a restart. Same fixture as
 * test_apply.c (apply_fixture.h); the PostgreSQL cases need
 * ORDERSTREAM_TEST_PG_URL.
 */
#include "order/ingest/apply_fixture.h"

#include <setjmp.h>

/* As a restart (or another instance) sees partition p: fresh state, the store's position and
 * retry state. */
static void restart_partition(const char *where, int32_t p)
{
    char err[256];
    store_close(ap.st);
    ap.st = store_open(where, 0, err, sizeof err);
    ck_assert_msg(ap.st != NULL, "%s", err);
    apply_part *ps = &ap.parts[p];
    memset(ps, 0, sizeof *ps);
    ps->assigned = 1;
    ps->next = position(p);
    ps->batch_start = ps->fail_offset = ps->high = ps->clear_below = ps->dlq_acked = -1;
    ps->low = 0; /* the test's partitions start at offset 0 */
    apply_part_restore(&ap, p, ps);
}

START_TEST(test_persisted_attempts_continue_after_reopening)
{
    cfg.test_fail_prefix = "FLAKY-";
    cfg.test_fail_times = 1000;
    cfg.batch_max = 4;
    built b0, b1;
    order_event c0 = create_event("PERSIST-0"), c1 = create_event("FLAKY-P");
    record_of(&b0, 0, 0, &c0, SCHEMA_ID);
    record_of(&b1, 0, 1, &c1, SCHEMA_ID);
    apply_one(&b0);
    apply_one(&b1); /* attempt 1 fails */
    ck_assert_int_eq(fk.rewinds, 1);
    restart_partition(dbpath, 0);
    ck_assert_int_eq(ap.parts[0].attempts, 1); /* counted before the restart */
    ck_assert_int_eq(ap.parts[0].fail_offset, 1);
    apply_one(&b1); /* attempt 2 */
    ck_assert_int_eq(fk.nletters, 0);
    ap.parts[0].waiting = 0;
    apply_one(&b1); /* attempt 3 > 1 + PROCESSING_MAX_RETRIES: dead-lettered */
    ck_assert_int_eq(fk.nletters, 1);
    ck_assert_str_eq(fk.letters[0].reason, DLQ_R_PROCESSING);
    ck_assert_int_eq(position(0), 2);
    /* the retry state went with the record */
    store_attempt at;
    char err[256];
    ck_assert_int_eq(store_attempt_get(ap.st, TOPIC, 0, 1, &at, err, sizeof err), STORE_NOT_FOUND);
}
END_TEST

/* The injected crash leaves apply_batch() the way _exit() would: mid-transaction. */
static jmp_buf crash_point;

static void crash_here(int status)
{
    longjmp(crash_point, status);
}

/* One life of the process: a restart (store re-opened, state from the store), then b.
 * Returns 0, or the crash's exit status. */
static int one_life(const built *b)
{
    restart_partition(dbpath, 0);
    ap.test_crash = crash_here;
    int status = setjmp(crash_point);
    if (status != 0)
        return status;
    apply_one(b);
    return 0;
}

START_TEST(test_record_that_kills_the_process_is_dead_lettered_after_its_attempts)
{
    cfg.test_crash_prefix = "POISON-";
    cfg.batch_max = 4;
    built b;
    order_event ev = create_event("POISON-1");
    record_of(&b, 0, 0, &ev, SCHEMA_ID);
    int crashes = 0, rc = 70;
    while (rc == 70 && crashes < 10) {
        rc = one_life(&b);
        if (rc == 70)
            crashes++;
    }
    ck_assert_int_eq(rc, 0);
    ck_assert_int_eq(fk.nletters, 1); /* dead-lettered, once */
    ck_assert_str_eq(fk.letters[0].reason, DLQ_R_PROCESSING);
    ck_assert_int_eq(fk.letters[0].retry_count, cfg.max_retries);
    /* the first crash is noticed (the batch's mark), then each attempt is counted first */
    ck_assert_int_eq(crashes, cfg.max_retries + 2);
    ck_assert_int_eq(position(0), 1);
    /* the next record of the partition applies */
    order_event next = create_event("AFTER-POISON");
    record_of(&b, 0, 1, &next, SCHEMA_ID);
    apply_one(&b);
    store_order o;
    ck_assert_int_eq(stored("AFTER-POISON", &o), STORE_OK);
    ck_assert_int_eq(position(0), 2);
}
END_TEST

START_TEST(test_remembered_dead_letter_is_not_written_again_after_a_store_failure)
{
    /* A CREATE, then its duplicate: the dead letter is acknowledged, then the store fails. */
    built b0, b1;
    order_event ev = create_event("DLQ-ONCE");
    record_of(&b0, 0, 0, &ev, SCHEMA_ID);
    order_event dup = other_customer(ev);
    record_of(&b1, 0, 1, &dup, SCHEMA_ID);
    apply_record both[2] = {b0.r, b1.r};
    fk.kill_store_once = 1;
    apply_batch(&ap, both, 2);
    ck_assert_int_eq(fk.nletters, 1);
    ck_assert(!ap.store_ok);
    ck_assert_int_eq(position(0), -1); /* the batch rolled back */
    /* Again, in this process: remembered in memory. */
    ap.parts[0].waiting = 0;
    apply_batch(&ap, both, 2);
    ck_assert(ap.store_ok);
    ck_assert_int_eq(fk.nletters, 1);
    ck_assert_int_eq(position(0), 2);
    store_order o;
    ck_assert_int_eq(stored("DLQ-ONCE", &o), STORE_OK);
}
END_TEST

START_TEST(test_remembered_dead_letter_survives_a_restart)
{
    built b0, b1;
    order_event ev = create_event("DLQ-ONCE-R");
    record_of(&b0, 0, 0, &ev, SCHEMA_ID);
    order_event dup = other_customer(ev);
    record_of(&b1, 0, 1, &dup, SCHEMA_ID);
    apply_record both[2] = {b0.r, b1.r};
    fk.kill_store_once = 1;
    apply_batch(&ap, both, 2);
    ck_assert_int_eq(fk.nletters, 1);
    ck_assert_int_eq(position(0), -1);
    /* A restart (or the partition's next owner): only the store remembers. */
    restart_partition(pg_where, 0);
    ck_assert_int_eq(ap.parts[0].dlq_acked, -1);
    /* The last batch there did not finish: its records are tried one per transaction. */
    ck_assert_int_gt(ap.parts[0].isolate, 0);
    apply_batch(&ap, both, 2);
    ck_assert(ap.store_ok);
    ck_assert_int_eq(fk.nletters, 1);
    ck_assert_int_eq(position(0), 2);
    int written = 1;
    char err[256];
    ck_assert_int_eq(store_dlq_written_check(ap.st, TOPIC, 0, 1, &written, err, sizeof err),
                     STORE_OK);
    ck_assert_int_eq(written, 0); /* cleared once past */
}
END_TEST

Suite *test_suite(int *rc)
{
    (void)rc;
    Suite *su = suite_create("apply_retry");
    TCase *tc = tcase_create("sqlite");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_persisted_attempts_continue_after_reopening);
    tcase_add_test(tc, test_record_that_kills_the_process_is_dead_lettered_after_its_attempts);
    suite_add_tcase(su, tc);
    if (pgfx_url()) {
        tc = tcase_create("postgresql");
        tcase_add_checked_fixture(tc, setup_pg, teardown_pg);
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, test_remembered_dead_letter_is_not_written_again_after_a_store_failure);
        tcase_add_test(tc, test_remembered_dead_letter_survives_a_restart);
        suite_add_tcase(su, tc);
    } else {
        printf("apply_retry: ORDERSTREAM_TEST_PG_URL unset, PostgreSQL cases skipped\n");
    }
    return su;
}
