/*
 * Unit tests of the decode-ahead helper (ingest/decode_ahead.c) on batches
 * far larger than its window: every record comes back decoded, in order,
 * whether the consumer reads one by one or looks ahead as a run does (up to
 * the resume mark); a batch stopped midway leaves the helper ready for the
 * next; and the helper sleeps once per SLOTS - RESUME_AT records, not once
 * per release step (each sleep is a wake-up, and the wake-ups were what
 * preempted the consume thread during catch-up).
 */
#include "order/ingest/apply_fixture.h"

enum { N = 2000 };

static built recs_b[N];
static apply_record recs[N];
static decode_ahead *da;

static void da_setup(void)
{
    setup();
    for (int i = 0; i < N; i++) {
        char id[32];
        snprintf(id, sizeof id, "DA-%d", i);
        order_event ev = create_event(id);
        record_of(&recs_b[i], i % 3, i / 3, &ev, SCHEMA_ID);
        recs[i] = recs_b[i].r;
    }
    char err[256];
    da = decode_ahead_new(ap.dec, err, sizeof err);
    ck_assert_msg(da != NULL, "%s", err);
}

static void da_teardown(void)
{
    decode_ahead_free(da);
    da = NULL;
    teardown();
}

/* Record i of the batch as the helper left it: a decoded CREATE of
 * DA-<first + i> (first: the batch's first record in recs) with its items. */
static void check_record_of(int first, int i)
{
    order_decoder_result v;
    const order_event *ev = decode_ahead_get(da, i, &v);
    ck_assert_ptr_nonnull(ev);
    ck_assert_int_eq(v.kind, ORDER_DECODER_EVENT);
    char id[32];
    snprintf(id, sizeof id, "DA-%d", first + i);
    ck_assert_str_eq(ev->order_id, id);
    ck_assert_int_eq(ev->type, ORDER_EVENT_CREATE);
    size_t len = 0;
    const char *items = decode_ahead_items(da, i, &len);
    ck_assert_ptr_nonnull(items);
    ck_assert_uint_gt(len, 0);
}

static void check_record(int i)
{
    check_record_of(0, i);
}

START_TEST(test_every_record_in_order_one_by_one)
{
    decode_ahead_start(da, recs, N);
    for (int i = 0; i < N; i++) {
        decode_ahead_release(da, i);
        check_record(i);
    }
    decode_ahead_stop(da);
}
END_TEST

START_TEST(test_look_ahead_up_to_the_resume_mark)
{
    /* What a run does, at the limit: read records past the last release, as
     * far as the contract allows, before releasing them. */
    decode_ahead_start(da, recs, N);
    int released = 0;
    for (int i = 0; i < N; i += DECODE_AHEAD_RELEASE_EVERY) {
        decode_ahead_release(da, i);
        if (i - released >= DECODE_AHEAD_RELEASE_EVERY)
            released = i;
        int last = released + DECODE_AHEAD_RESUME_AT;
        if (last >= N)
            last = N - 1;
        for (int j = i; j <= last; j++)
            check_record(j);
    }
    decode_ahead_stop(da);
}
END_TEST

START_TEST(test_sleeps_once_per_free_half_window)
{
    decode_ahead_start(da, recs, N);
    for (int i = 0; i < N; i++) {
        decode_ahead_release(da, i);
        check_record(i);
        if (i % 97 == 0)
            usleep(200); /* a slower consumer now and then: the helper runs into a full window */
    }
    decode_ahead_stop(da);
    uint64_t sleeps = decode_ahead_sleeps(da);
    /* The first sleep needs a full window, each later one SLOTS - RESUME_AT more records;
     * one wake-up per release step (N / RELEASE_EVERY = 125 here) would fail this. */
    uint64_t bound = (N - DECODE_AHEAD_SLOTS) / (DECODE_AHEAD_SLOTS - DECODE_AHEAD_RESUME_AT) + 1;
    ck_assert_msg(sleeps <= bound, "helper slept %llu times for %d records (bound %llu)",
                  (unsigned long long)sleeps, N, (unsigned long long)bound);
}
END_TEST

START_TEST(test_stopped_batch_then_the_next)
{
    /* The consumer gives up on a batch (a store failure, a rebalance) with the
     * helper asleep on a full window: stop must wake it, and the next batch
     * starts from its own first record. */
    decode_ahead_start(da, recs, N);
    for (int i = 0; i < 300; i++) {
        decode_ahead_release(da, i);
        check_record(i);
    }
    usleep(20000); /* the helper fills the window and sleeps */
    decode_ahead_stop(da);
    decode_ahead_start(da, recs + 1000, 500);
    for (int i = 0; i < 500; i++) {
        decode_ahead_release(da, i);
        check_record_of(1000, i);
    }
    decode_ahead_stop(da);
}
END_TEST

Suite *test_suite(int *rc)
{
    (void)rc;
    Suite *s = suite_create("ingest_decode_ahead");
    TCase *tc = tcase_create("decode_ahead");
    tcase_add_checked_fixture(tc, da_setup, da_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_every_record_in_order_one_by_one);
    tcase_add_test(tc, test_look_ahead_up_to_the_resume_mark);
    tcase_add_test(tc, test_sleeps_once_per_free_half_window);
    tcase_add_test(tc, test_stopped_batch_then_the_next);
    suite_add_tcase(s, tc);
    return s;
}
