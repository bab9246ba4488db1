/*
 * Unit tests of runs (ingest/apply_run.c): a batch of CREATEs decoded ahead
 * goes to the store in runs (store_apply_creates), and every record still
 * gets the decision the one-by-one path gives it: new orders applied, a
 * duplicate in the middle of a run dead-lettered at its own offset before
 * anything after it commits, an identical copy a redelivery, records below
 * the position skipped; every position past the batch, exactly once. The
 * same batches run with inline decoding (no runs) must end in the same state.
 */
#include "order/ingest/apply_fixture.h"

#include "event/order_json.h"
#include "platform/jsonw.h"

enum { N = 100 };

static built recs_b[N];
static apply_record recs[N];

/* Records i of the batch: (partition i % 2, offset i / 2 + base); ids RUN-<i>,
 * except the ones the test replaces. */
static void batch_of_creates(int64_t base)
{
    for (int i = 0; i < N; i++) {
        char id[32];
        snprintf(id, sizeof id, "RUN-%d", i);
        order_event ev = create_event(id);
        record_of(&recs_b[i], i % 2, base + i / 2, &ev, SCHEMA_ID);
    }
}

static void set_record(int i, const order_event *ev)
{
    record_of(&recs_b[i], i % 2, recs_b[i].r.offset, ev, SCHEMA_ID);
}

static void run_batch(void)
{
    for (int i = 0; i < N; i++)
        recs[i] = recs_b[i].r;
    apply_batch(&ap, recs, N);
}

START_TEST(test_batch_of_new_creates_applies_every_one)
{
    batch_of_creates(0);
    run_batch();
    ck_assert(ap.store_ok);
    ck_assert_int_eq(ap.orders, N);
    ck_assert_uint_eq(ap.applied, N);
    ck_assert_int_eq(fk.nletters, 0);
    ck_assert_int_eq(fk.commits, 1);
    ck_assert_int_eq(position(0), N / 2);
    ck_assert_int_eq(position(1), N / 2);
    store_order o;
    ck_assert_int_eq(stored("RUN-99", &o), STORE_OK);
    ck_assert_int_eq(o.total_cents, 4498);
    /* its items as the store renders them (decode-ahead renders them on its thread) */
    jsonw w;
    jsonw_init(&w);
    order_event ev = create_event("RUN-99");
    order_json_items(&w, &ev);
    ck_assert(jsonw_ok(&w));
    ck_assert_uint_eq(o.items_json_len, w.len);
    ck_assert(memcmp(o.items_json, w.buf, w.len) == 0);
    jsonw_free(&w);
    /* the batch again: below the positions, nothing applied twice */
    run_batch();
    ck_assert_int_eq(ap.orders, N);
    ck_assert_uint_eq(ap.skipped, N);
    int64_t count = 0;
    char err[256];
    ck_assert_int_eq(store_count_orders(ap.st, &count, err, sizeof err), STORE_OK);
    ck_assert_int_eq(count, N);
}
END_TEST

START_TEST(test_duplicate_and_copy_inside_a_run_get_their_own_decision)
{
    char err[256];
    /* EXISTING is stored before the batch */
    built pre;
    order_event existing = create_event("EXISTING");
    record_of(&pre, 0, 0, &existing, SCHEMA_ID);
    apply_one(&pre);
    ck_assert_int_eq(ap.orders, 1);
    batch_of_creates(1);
    /* record 20 (partition 0): another order under an existing id: a duplicate */
    order_event dup = other_customer(existing);
    set_record(20, &dup);
    /* record 31 (partition 1): an identical copy of record 5 (partition 1): a redelivery */
    order_event copy = create_event("RUN-5");
    set_record(31, &copy);
    /* record 41 (partition 1): another order under the id of record 41 - 2 */
    order_event dup2 = other_customer(create_event("RUN-39"));
    set_record(41, &dup2);
    run_batch();
    ck_assert(ap.store_ok);
    ck_assert_int_eq(fk.nletters, 2);
    ck_assert_str_eq(fk.letters[0].reason, DLQ_R_DUPLICATE);
    ck_assert_int_eq(fk.letters[0].partition, 0);
    ck_assert_int_eq(fk.letters[0].offset, recs_b[20].r.offset);
    ck_assert_str_eq(fk.letters[1].reason, DLQ_R_DUPLICATE);
    ck_assert_int_eq(fk.letters[1].partition, 1);
    ck_assert_int_eq(fk.letters[1].offset, recs_b[41].r.offset);
    ck_assert_uint_eq(ap.redelivered, 1);
    ck_assert_int_eq(ap.orders, 1 + N - 3);
    ck_assert_int_eq(position(0), 1 + N / 2);
    ck_assert_int_eq(position(1), 1 + N / 2);
    store_order o;
    ck_assert_int_eq(stored("EXISTING", &o), STORE_OK);
    ck_assert_str_eq(o.customer_id, "CUST-000001"); /* the first one, unchanged */
    ck_assert_int_eq(stored("RUN-39", &o), STORE_OK);
    ck_assert_str_eq(o.customer_id, "CUST-000001");
    ck_assert_int_eq(stored("RUN-98", &o), STORE_OK);
    int64_t count = 0;
    ck_assert_int_eq(store_count_orders(ap.st, &count, err, sizeof err), STORE_OK);
    ck_assert_int_eq(count, 1 + N - 3);
}
END_TEST

/* Part of the batch was applied before (a redelivered batch after a crash):
 * the records below the position are skipped, the rest applied. */
START_TEST(test_batch_starting_below_the_position)
{
    batch_of_creates(0);
    built first[10];
    for (int i = 0; i < 10; i++) {
        first[i] = recs_b[i];
        recs[i] = first[i].r;
    }
    apply_batch(&ap, recs, 10);
    ck_assert_int_eq(ap.orders, 10);
    ap.parts[0].next = -1; /* as after a restart: the store's position decides */
    ap.parts[1].next = -1;
    run_batch();
    ck_assert(ap.store_ok);
    ck_assert_int_eq(ap.orders, N);
    ck_assert_int_eq(fk.nletters, 0);
    ck_assert_uint_eq(ap.redelivered, 0);
    ck_assert_int_eq(position(0), N / 2);
    ck_assert_int_eq(position(1), N / 2);
}
END_TEST

static void add_tests(TCase *tc)
{
    tcase_add_test(tc, test_batch_of_new_creates_applies_every_one);
    tcase_add_test(tc, test_duplicate_and_copy_inside_a_run_get_their_own_decision);
    tcase_add_test(tc, test_batch_starting_below_the_position);
}

Suite *test_suite(int *rc)
{
    (void)rc;
    Suite *s = suite_create("ingest_apply_run");
    TCase *tc = tcase_create("decode_ahead");
    tcase_add_checked_fixture(tc, setup_ahead, teardown_ahead);
    tcase_set_timeout(tc, 30);
    add_tests(tc);
    suite_add_tcase(s, tc);
    tc = tcase_create("inline");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    add_tests(tc);
    suite_add_tcase(s, tc);
    return s;
}
