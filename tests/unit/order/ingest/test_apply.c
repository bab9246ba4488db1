/*
 * Unit tests of the consume/apply core (ingest/apply.c): records built here
 * with the project's own codec and schema go through decode -> validate ->
 * apply against a real SQLite store in a temporary directory, and the test
 * checks what a broker would have seen: dead letters (reason, category, the
 * original bytes), partitions rewound for a retry, offsets committed, and the
 * store's positions. No broker and no registry: the writer schema is added to
 * the decoder directly, and the registry URL is a closed port, so an unknown
 * schema id reads exactly as "registry down".
 */
#include "order/ingest/apply_fixture.h"

/* ---- tests -------------------------------------------------------------- */

START_TEST(test_valid_create_then_update_are_applied)
{
    built b;
    order_event ev = create_event("APPLY-1");
    record_of(&b, 0, 0, &ev, SCHEMA_ID);
    apply_one(&b);
    ev = update_event("APPLY-1", "SHIPPED");
    record_of(&b, 0, 1, &ev, SCHEMA_ID);
    apply_one(&b);

    store_order o;
    ck_assert_int_eq(stored("APPLY-1", &o), STORE_OK);
    ck_assert_str_eq(o.status, "shipped"); /* normalised by validation */
    ck_assert_int_eq(o.total_cents, 4498);
    ck_assert_int_eq(o.shipping_cents, 90); /* 2 % of 44.98, half-up */
    ck_assert_int_eq(position(0), 2);
    ck_assert_int_eq(fk.nletters, 0);
    ck_assert_int_eq(fk.rewinds, 0);
    ck_assert_int_eq(fk.commits, 2); /* after each store commit */
    ck_assert_uint_eq(ap.applied, 2);
    ck_assert_int_eq(ap.orders, 1);
    ck_assert_int_eq(ap.parts[0].next, 2);
    ck_assert(ap.parts[0].moved);
}
END_TEST

START_TEST(test_duplicate_create_is_dead_lettered)
{
    built b;
    order_event ev = create_event("APPLY-DUP");
    record_of(&b, 1, 10, &ev, SCHEMA_ID);
    apply_one(&b);
    order_event dup = other_customer(ev);
    record_of(&b, 1, 11, &dup, SCHEMA_ID);
    apply_one(&b);
    ck_assert_int_eq(fk.nletters, 1);
    const letter *l = &fk.letters[0];
    ck_assert_str_eq(l->reason, DLQ_R_DUPLICATE);
    ck_assert_str_eq(l->category, DLQ_NO_RETRY);
    ck_assert_int_eq(l->retry_count, 0);
    ck_assert_int_eq(l->partition, 1);
    ck_assert_int_eq(l->offset, 11);
    /* the original bytes, unchanged */
    ck_assert_uint_eq(l->value_len, b.r.value_len);
    ck_assert(memcmp(l->value, b.value, b.r.value_len) == 0);
    ck_assert(l->key_len == strlen("APPLY-DUP") && memcmp(l->key, "APPLY-DUP", l->key_len) == 0);
    /* the position moved past the dead letter: it is never read again */
    ck_assert_int_eq(position(1), 12);
    ck_assert_uint_eq(ap.dead_lettered, 1);
    ck_assert_int_eq(ap.orders, 1);
}
END_TEST

START_TEST(test_update_of_unknown_order_is_dead_lettered)
{
    built b;
    order_event ev = update_event("APPLY-NOPE", "confirmed");
    record_of(&b, 0, 0, &ev, SCHEMA_ID);
    apply_one(&b);
    ck_assert_int_eq(fk.nletters, 1);
    ck_assert_str_eq(fk.letters[0].reason, DLQ_R_NOT_FOUND);
    ck_assert_str_eq(fk.letters[0].category, DLQ_NO_RETRY);
    ck_assert_int_eq(position(0), 1);
    store_order o;
    ck_assert_int_eq(stored("APPLY-NOPE", &o), STORE_NOT_FOUND);
}
END_TEST

START_TEST(test_undecodable_bytes_are_dead_lettered)
{
    /* bad magic byte */
    static const uint8_t bad_magic[] = {1, 0, 0, 0, SCHEMA_ID, 2, 'x'};
    built b;
    memset(&b, 0, sizeof b);
    b.r.partition = 0;
    b.r.offset = 0;
    b.r.timestamp_ms = -1;
    b.r.value = bad_magic;
    b.r.value_len = sizeof bad_magic;
    apply_one(&b);
    /* corrupt Avro under a known id: a valid frame cut short */
    order_event ev = create_event("APPLY-CUT");
    record_of(&b, 0, 1, &ev, SCHEMA_ID);
    b.r.value_len -= 3;
    apply_one(&b);
    /* no value at all */
    memset(&b.r, 0, sizeof b.r);
    b.r.offset = 2;
    apply_one(&b);
    ck_assert_int_eq(fk.nletters, 3);
    for (int i = 0; i < 3; i++) {
        ck_assert_str_eq(fk.letters[i].reason, DLQ_R_DESERIALIZATION);
        ck_assert_str_eq(fk.letters[i].category, DLQ_NO_RETRY);
        ck_assert_int_eq(fk.letters[i].offset, i);
    }
    ck_assert_uint_eq(fk.letters[0].value_len, sizeof bad_magic);
    ck_assert_int_eq(position(0), 3);
    store_order o;
    ck_assert_int_eq(stored("APPLY-CUT", &o), STORE_NOT_FOUND);
}
END_TEST

START_TEST(test_contract_violation_is_dead_lettered)
{
    built b;
    order_event ev = create_event("APPLY-SUM");
    ev.total_cents += 1; /* not the sum of the items */
    record_of(&b, 0, 0, &ev, SCHEMA_ID);
    apply_one(&b);
    ev = create_event("APPLY-EMPTY");
    ev.item_count = 0;
    ev.total_cents = 0;
    record_of(&b, 0, 1, &ev, SCHEMA_ID);
    apply_one(&b);
    ck_assert_int_eq(fk.nletters, 2);
    ck_assert_str_eq(fk.letters[0].reason, DLQ_R_INVALID_EVENT);
    ck_assert_str_eq(fk.letters[1].reason, DLQ_R_INVALID_EVENT);
    store_order o;
    ck_assert_int_eq(stored("APPLY-SUM", &o), STORE_NOT_FOUND);
    ck_assert_int_eq(position(0), 2);
}
END_TEST

START_TEST(test_registry_down_waits_and_never_dead_letters)
{
    built b;
    order_event ev = create_event("APPLY-REG");
    record_of(&b, 1, 5, &ev, SCHEMA_ID + 1); /* an id the decoder must fetch */
    for (int round = 1; round <= 4; round++) {
        ap.parts[1].waiting = 0; /* resumed */
        apply_one(&b);
        ck_assert_int_eq(fk.rewinds, round);
        ck_assert_int_eq(fk.rewind_part, 1);
        ck_assert_int_eq(fk.rewind_offset, 5); /* sought back to the record itself */
        ck_assert(ap.parts[1].waiting);
        ck_assert_int_eq(ap.parts[1].attempts, round);
    }
    /* infrastructure failures are retried past max_retries, never dead-lettered */
    ck_assert_int_eq(fk.nletters, 0);
    ck_assert_int_eq(position(1), -1);
    ck_assert_msg(strstr(fk.last_error, "registry") != NULL, "%s", fk.last_error);
    /* a waiting partition's records are not even looked at */
    uint64_t consumed = ap.consumed;
    apply_one(&b);
    ck_assert_uint_eq(ap.consumed, consumed);
    ck_assert_int_eq(fk.rewinds, 4);
}
END_TEST

START_TEST(test_dlq_down_keeps_the_position)
{
    built b;
    order_event ev = update_event("APPLY-GONE", "confirmed");
    record_of(&b, 0, 3, &ev, SCHEMA_ID);
    fk.dlq_down = 1;
    apply_one(&b);
    ck_assert_int_eq(fk.nletters, 0);
    ck_assert_int_eq(fk.rewinds, 1);
    ck_assert(ap.parts[0].waiting);
    ck_assert_int_eq(position(0), -1); /* not moved past an unacknowledged dead letter */
    ck_assert_uint_eq(ap.dead_lettered, 0);
    fk.dlq_down = 0;
    ap.parts[0].waiting = 0;
    apply_one(&b);
    ck_assert_int_eq(fk.nletters, 1);
    ck_assert_str_eq(fk.letters[0].reason, DLQ_R_NOT_FOUND);
    ck_assert_int_eq(position(0), 4);
}
END_TEST

START_TEST(test_processing_failure_retries_then_dead_letters)
{
    cfg.test_fail_prefix = "FLAKY-";
    cfg.test_fail_times = 1000;
    built b;
    order_event ev = create_event("FLAKY-1");
    record_of(&b, 0, 0, &ev, SCHEMA_ID);
    for (int i = 0; i < cfg.max_retries; i++) {
        ap.parts[0].waiting = 0;
        apply_one(&b);
        ck_assert_int_eq(fk.nletters, 0);
        ck_assert_int_eq(fk.rewinds, i + 1);
    }
    ap.parts[0].waiting = 0;
    apply_one(&b); /* retries used up */
    ck_assert_int_eq(fk.nletters, 1);
    ck_assert_str_eq(fk.letters[0].reason, DLQ_R_PROCESSING);
    ck_assert_str_eq(fk.letters[0].category, DLQ_RETRY_THEN);
    ck_assert_int_eq(fk.letters[0].retry_count, cfg.max_retries);
    ck_assert_int_eq(position(0), 1);
    store_order o;
    ck_assert_int_eq(stored("FLAKY-1", &o), STORE_NOT_FOUND);
}
END_TEST

START_TEST(test_redelivered_records_are_skipped)
{
    built b[2];
    order_event ev = create_event("APPLY-AGAIN");
    record_of(&b[0], 0, 0, &ev, SCHEMA_ID);
    apply_one(&b[0]);
    /* As after a restart: the partition state is fresh, the store has the position. */
    ap.parts[0].next = -1;
    order_event dup = other_customer(ev);
    record_of(&b[1], 0, 1, &dup, SCHEMA_ID); /* a duplicate after the redelivered one */
    apply_record both[2] = {b[0].r, b[1].r};
    apply_batch(&ap, both, 2);
    ck_assert_uint_eq(ap.skipped, 1); /* the store refused offset 0: already applied */
    ck_assert_int_eq(fk.nletters, 1); /* only the real duplicate */
    ck_assert_int_eq(fk.letters[0].offset, 1);
    ck_assert_int_eq(position(0), 2);
    ck_assert_int_eq(ap.orders, 1);
}
END_TEST

START_TEST(test_error_records_and_unknown_partitions_are_not_applied)
{
    built b;
    order_event ev = create_event("APPLY-P9");
    record_of(&b, 9, 0, &ev, SCHEMA_ID); /* never assigned: outside the partition table */
    apply_record recs[2];
    memset(&recs[0], 0, sizeof recs[0]);
    recs[0].err = RD_KAFKA_RESP_ERR__TRANSPORT;
    recs[0].errstr = "broker connection lost";
    recs[0].partition = 0;
    recs[1] = b.r;
    apply_batch(&ap, recs, 2);
    ck_assert_str_eq(fk.last_error, "kafka: broker connection lost");
    ck_assert_uint_eq(ap.consumed, 0);
    store_order o;
    ck_assert_int_eq(stored("APPLY-P9", &o), STORE_NOT_FOUND);
    ck_assert_int_eq(fk.commits, 1); /* the (empty) transaction still committed */
}
END_TEST

START_TEST(test_store_failure_rolls_back_the_batch)
{
    /* The file cannot grow (as on a full disk): a batch of enough CREATEs fails in the store. */
    enum { N = 3000, SLOT = 512 };
    uint8_t *pool = malloc((size_t)N * SLOT);
    apply_record *recs = calloc(N, sizeof *recs);
    ck_assert(pool && recs);
    char err[256];
    for (int i = 0; i < N; i++) {
        char id[32];
        snprintf(id, sizeof id, "APPLY-RB-%d", i);
        order_event ev = create_event(id);
        size_t len = 0;
        ck_assert(codec_encode(enc, SCHEMA_ID, &ev, pool + (size_t)i * SLOT, SLOT, &len, err,
                               sizeof err) == CODEC_OK);
        recs[i].partition = 0;
        recs[i].offset = i;
        recs[i].value = pool + (size_t)i * SLOT;
        recs[i].value_len = len;
    }
    ck_assert_int_eq(store_limit_pages(ap.st, 1, err, sizeof err), STORE_OK); /* = current size */
    apply_batch(&ap, recs, N);
    ck_assert(!ap.store_ok);
    ck_assert_int_eq(fk.nletters, 0); /* I/O errors wait; they never dead-letter */
    ck_assert_int_eq(fk.rewinds, 1);
    ck_assert_int_eq(fk.rewind_part, 0);
    ck_assert_int_eq(fk.rewind_offset, 0); /* the whole batch comes again */
    ck_assert(ap.parts[0].waiting);
    ck_assert_int_eq(fk.commits, 0);
    ck_assert_uint_eq(ap.applied, 0);
    ck_assert_int_eq(ap.orders, 0);
    ck_assert_int_eq(position(0), -1);
    /* the partition's retry names the store's reason */
    ck_assert_msg(strstr(fk.last_error, "disk is full") != NULL, "%s", fk.last_error);
    /* Space returns: the batch applies whole. */
    ck_assert_int_eq(store_limit_pages(ap.st, 1000000, err, sizeof err), STORE_OK);
    ap.parts[0].waiting = 0;
    apply_batch(&ap, recs, N);
    ck_assert(ap.store_ok);
    ck_assert_int_eq(ap.orders, N);
    ck_assert_int_eq(position(0), N);
    free(recs);
    free(pool);
}
END_TEST

START_TEST(test_corrupt_store_is_retried_forever_never_dead_lettered)
{
    /* Some orders, then the file is damaged behind the store's back: every
     * page but the first (the schema) is overwritten. */
    built b;
    order_event c = create_event("CORRUPT-0");
    record_of(&b, 0, 0, &c, SCHEMA_ID);
    apply_one(&b);
    ck_assert_int_eq(position(0), 1);
    store_close(ap.st);
    FILE *f = fopen(dbpath, "r+b");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
    long size = ftell(f);
    ck_assert_int_gt(size, 4096);
    ck_assert_int_eq(fseek(f, 4096, SEEK_SET), 0);
    for (long i = 4096; i < size; i++)
        ck_assert_int_ne(fputc(0xA5, f), EOF);
    ck_assert_int_eq(fclose(f), 0);
    char err[256];
    ap.st = store_open(dbpath, 0, err, sizeof err);
    ck_assert_msg(ap.st != NULL, "%s", err);
    /* A valid event, many more times than PROCESSING_MAX_RETRIES: it waits, it is never
     * the event's fault. */
    order_event c1 = create_event("CORRUPT-1");
    record_of(&b, 0, 1, &c1, SCHEMA_ID);
    for (int i = 0; i < 3 * cfg.max_retries + 3; i++) {
        ap.parts[0].waiting = 0;
        apply_one(&b);
        ck_assert(!ap.store_ok);
        ck_assert(!ap.parts[0].poison);
    }
    ck_assert_int_eq(fk.nletters, 0);
    ck_assert_msg(strstr(fk.last_error, "malformed") != NULL, "%s", fk.last_error);
}
END_TEST

START_TEST(test_client_retry_is_already_applied)
{
    /* A client's retry: the same content (cart_gen is deterministic), a later event time. */
    built b[3];
    order_event c = create_event("RETRY-A");
    order_event retry = c;
    retry.timestamp_ms += 5000;
    order_event u = update_event("RETRY-A", "shipped"), u_retry = u;
    u_retry.timestamp_ms += 7000;
    record_of(&b[0], 0, 0, &c, SCHEMA_ID);
    record_of(&b[1], 0, 1, &retry, SCHEMA_ID);
    record_of(&b[2], 0, 2, &u, SCHEMA_ID);
    apply_record recs[3] = {b[0].r, b[1].r, b[2].r};
    apply_batch(&ap, recs, 3);
    record_of(&b[0], 0, 3, &retry, SCHEMA_ID); /* and in a later batch */
    record_of(&b[1], 0, 4, &u_retry, SCHEMA_ID);
    apply_record later[2] = {b[0].r, b[1].r};
    apply_batch(&ap, later, 2);
    ck_assert(ap.store_ok);
    ck_assert_uint_eq(ap.redelivered, 3);
    ck_assert_int_eq(fk.nletters, 0);
    ck_assert_int_eq(position(0), 5);
    store_order o;
    ck_assert_int_eq(stored("RETRY-A", &o), STORE_OK);
    ck_assert_int_eq(o.created_at_ms, c.timestamp_ms); /* the first one's, unchanged */
    ck_assert_int_eq(o.updated_at_ms, u.timestamp_ms);
}
END_TEST

START_TEST(test_dead_letter_keeps_the_trace_context)
{
    static const char tp[] = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    built b[3];
    order_event ev = update_event("TRACE-NONE", "confirmed");
    record_of(&b[0], 0, 0, &ev, SCHEMA_ID);
    b[0].r.traceparent = tp;
    b[0].r.traceparent_len = sizeof tp - 1;
    record_of(&b[1], 0, 1, &ev, SCHEMA_ID);
    b[1].r.traceparent = "00-00000000000000000000000000000000-00f067aa0ba902b7-01"; /* invalid */
    b[1].r.traceparent_len = sizeof tp - 1;
    record_of(&b[2], 0, 2, &ev, SCHEMA_ID); /* none */
    apply_record recs[3] = {b[0].r, b[1].r, b[2].r};
    apply_batch(&ap, recs, 3);
    ck_assert_int_eq(fk.nletters, 3);
    ck_assert_str_eq(fk.letters[0].traceparent, tp);
    ck_assert_str_eq(fk.letters[1].traceparent, "");
    ck_assert_str_eq(fk.letters[2].traceparent, "");
    ck_assert_str_eq(log_trace_get(), ""); /* cleared after each record */
}
END_TEST

START_TEST(test_identical_copies_are_redeliveries_not_new_orders)
{
    /* A producer retry can land an acknowledged event twice: the copy is not a new order. */
    built b[5];
    order_event c = create_event("COPY-A"), u = update_event("COPY-A", "shipped");
    order_event other = other_customer(c);
    record_of(&b[0], 0, 0, &c, SCHEMA_ID);
    record_of(&b[1], 0, 1, &c, SCHEMA_ID);
    record_of(&b[2], 0, 2, &u, SCHEMA_ID);
    record_of(&b[3], 0, 3, &u, SCHEMA_ID);
    record_of(&b[4], 0, 4, &other, SCHEMA_ID);
    apply_record recs[5];
    for (int i = 0; i < 5; i++)
        recs[i] = b[i].r;
    apply_batch(&ap, recs, 3);     /* copies within the batch ... */
    apply_batch(&ap, recs + 3, 2); /* ... and of the previous one */
    ck_assert(ap.store_ok);
    ck_assert_uint_eq(ap.redelivered, 2);
    ck_assert_int_eq(fk.nletters, 1); /* only the different CREATE */
    ck_assert_str_eq(fk.letters[0].reason, DLQ_R_DUPLICATE);
    ck_assert_int_eq(fk.letters[0].offset, 4);
    ck_assert_int_eq(position(0), 5);
    ck_assert_int_eq(ap.orders, 1);
    store_order o;
    ck_assert_int_eq(stored("COPY-A", &o), STORE_OK);
    ck_assert_str_eq(o.status, "shipped");
    ck_assert_str_eq(o.customer_id, c.customer_id);
}
END_TEST

START_TEST(test_fenced_commit_drops_the_batch_and_reseeks)
{
    /* This instance applies offset 0 of partition 0 and caches position 1. */
    built b0, b1;
    order_event c0 = create_event("FENCE-0"), c1 = create_event("FENCE-ZOMBIE");
    record_of(&b0, 0, 0, &c0, SCHEMA_ID);
    apply_one(&b0);
    ck_assert(ap.store_ok);
    ck_assert_int_eq(position(0), 1);
    /* Meanwhile the partition moved to another instance, which applied 1 and 2. */
    char err[256];
    store *owner = store_open(pg_where, 0, err, sizeof err);
    ck_assert_msg(owner != NULL, "%s", err);
    ck_assert_int_eq(store_begin(owner, err, sizeof err), STORE_OK);
    order_event o1 = create_event("FENCE-OWNER-1"), o2 = create_event("FENCE-OWNER-2");
    ck_assert_int_eq(store_apply(owner, TOPIC, 0, 1, &o1, err, sizeof err), STORE_OK);
    ck_assert_int_eq(store_apply(owner, TOPIC, 0, 2, &o2, err, sizeof err), STORE_OK);
    ck_assert_int_eq(store_commit(owner, err, sizeof err), STORE_OK);
    store_close(owner);
    /* The zombie's next batch (offset 1, another order) must not commit. */
    record_of(&b1, 0, 1, &c1, SCHEMA_ID);
    int commits = fk.commits;
    apply_one(&b1);
    ck_assert_uint_eq(ap.fenced, 1);
    ck_assert(ap.store_ok); /* nothing wrong with the store */
    ck_assert_int_eq(fk.commits, commits);
    ck_assert_int_eq(fk.nletters, 0);
    store_order o;
    ck_assert_int_eq(stored("FENCE-ZOMBIE", &o), STORE_NOT_FOUND);
    ck_assert_int_eq(stored("FENCE-OWNER-2", &o), STORE_OK);
    /* Re-sought at once to the owner's position, with no attempt counted. */
    ck_assert_int_eq(fk.rewinds, 1);
    ck_assert_int_eq(fk.rewind_offset, 3);
    ck_assert_int_eq(ap.parts[0].next, 3);
    ck_assert_int_eq(ap.parts[0].attempts, 0);
    ck_assert_uint_eq(ap.retries, 0);
    ck_assert_int_le(ap.parts[0].resume_at_ms, clock_mono_ms());
}
END_TEST

/* Every per-record decision of the batch, in each setup. */
static void add_decision_tests(TCase *tc)
{
    tcase_add_test(tc, test_valid_create_then_update_are_applied);
    tcase_add_test(tc, test_duplicate_create_is_dead_lettered);
    tcase_add_test(tc, test_update_of_unknown_order_is_dead_lettered);
    tcase_add_test(tc, test_undecodable_bytes_are_dead_lettered);
    tcase_add_test(tc, test_contract_violation_is_dead_lettered);
    tcase_add_test(tc, test_registry_down_waits_and_never_dead_letters);
    tcase_add_test(tc, test_dlq_down_keeps_the_position);
    tcase_add_test(tc, test_processing_failure_retries_then_dead_letters);
    tcase_add_test(tc, test_redelivered_records_are_skipped);
    tcase_add_test(tc, test_error_records_and_unknown_partitions_are_not_applied);
    tcase_add_test(tc, test_store_failure_rolls_back_the_batch);
    tcase_add_test(tc, test_corrupt_store_is_retried_forever_never_dead_lettered);
    tcase_add_test(tc, test_identical_copies_are_redeliveries_not_new_orders);
    tcase_add_test(tc, test_client_retry_is_already_applied);
    tcase_add_test(tc, test_dead_letter_keeps_the_trace_context);
}

static Suite *apply_suite(void)
{
    Suite *s = suite_create("ingest_apply");
    TCase *tc = tcase_create("apply");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    add_decision_tests(tc);
    suite_add_tcase(s, tc);
    tc = tcase_create("decode_ahead");
    tcase_add_checked_fixture(tc, setup_ahead, teardown_ahead);
    tcase_set_timeout(tc, 30);
    add_decision_tests(tc);
    suite_add_tcase(s, tc);
    if (pgfx_url()) {
        tc = tcase_create("postgresql");
        tcase_add_checked_fixture(tc, setup_pg, teardown_pg);
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, test_fenced_commit_drops_the_batch_and_reseeks);
        tcase_add_test(tc, test_identical_copies_are_redeliveries_not_new_orders);
        tcase_add_test(tc, test_client_retry_is_already_applied);
        tcase_add_test(tc, test_dead_letter_keeps_the_trace_context);
        suite_add_tcase(s, tc);
    } else {
        printf("ingest_apply: ORDERSTREAM_TEST_PG_URL unset, PostgreSQL cases skipped\n");
    }
    return s;
}

Suite *test_suite(int *rc)
{
    (void)rc;
    return apply_suite();
}
