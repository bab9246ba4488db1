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
#include "ingest/apply.h"

#include "event/avro_codec.h"
#include "platform/clock.h"
#include "event/order_schema.h"
#include "order/store/pg_fixture.h"
#include "test_main.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define TOPIC "order-events"
#define SCHEMA_ID 7
#define MAX_LETTERS 16

typedef struct {
    char reason[DLQ_REASON_MAX + 1];
    char category[DLQ_CATEGORY_MAX + 1];
    int64_t retry_count, partition, offset;
    uint8_t key[64], value[CODEC_MAX_ENCODED];
    size_t key_len, value_len;
} letter;

/* What the fake Kafka side saw. */
typedef struct {
    letter letters[MAX_LETTERS];
    int nletters;
    int dlq_down;        /* dead-letter writes fail while set */
    int kill_store_once; /* PostgreSQL: the store's sessions die right after the next write */
    int rewinds;
    int32_t rewind_part;
    int64_t rewind_offset;
    int commits;
    char last_error[256];
} fake_kafka;

static char tmpdir[256], dbpath[320];
static char pg_schema[64], pg_where[1024]; /* the PostgreSQL case's store */
static order_config cfg;
static fake_kafka fk;
static apply_ctx ap;
static codec *enc;

static int fake_dead_letter(void *arg, const apply_record *r, const dlq_info *d, char *err,
                            size_t errlen)
{
    fake_kafka *k = arg;
    if (k->dlq_down) {
        snprintf(err, errlen, "DLQ delivery: broker down (test)");
        return -1;
    }
    ck_assert_int_lt(k->nletters, MAX_LETTERS);
    letter *l = &k->letters[k->nletters++];
    snprintf(l->reason, sizeof l->reason, "%s", d->reason);
    snprintf(l->category, sizeof l->category, "%s", d->category);
    l->retry_count = d->retry_count;
    l->partition = d->original_partition;
    l->offset = d->original_offset;
    ck_assert_uint_le(r->key_len, sizeof l->key);
    ck_assert_uint_le(r->value_len, sizeof l->value);
    l->key_len = r->key_len;
    l->value_len = r->value_len;
    if (r->key_len)
        memcpy(l->key, r->key, r->key_len);
    if (r->value_len)
        memcpy(l->value, r->value, r->value_len);
    if (k->kill_store_once) {
        k->kill_store_once = 0;
        char sql[256];
        snprintf(sql, sizeof sql,
                 "SELECT count(pg_terminate_backend(pid, 5000)) FROM pg_stat_activity"
                 " WHERE application_name = '%s'",
                 pg_schema);
        ck_assert_int_ge(pgfx_value(sql), 1);
    }
    return 0;
}

static int fake_rewind(void *arg, int32_t partition, int64_t offset)
{
    fake_kafka *k = arg;
    k->rewinds++;
    k->rewind_part = partition;
    k->rewind_offset = offset;
    return 0;
}

static void fake_commit(void *arg)
{
    ((fake_kafka *)arg)->commits++;
}

static void fake_kafka_error(void *arg, const apply_record *r)
{
    fake_kafka *k = arg;
    snprintf(k->last_error, sizeof k->last_error, "kafka: %s", r->errstr);
}

static void fake_set_error(void *arg, const char *what, const char *detail)
{
    fake_kafka *k = arg;
    snprintf(k->last_error, sizeof k->last_error, "%s%s%s", what ? what : "", what ? ": " : "",
             detail);
}

/* A fresh apply context on the store at where (a SQLite path or a PostgreSQL URL). */
static void setup_on(const char *where)
{
    memset(&cfg, 0, sizeof cfg);
    cfg.topic = TOPIC;
    cfg.max_retries = 2;
    cfg.backoff_ms[0] = 0; /* a rewound partition may resume at once */
    cfg.nbackoff = 1;
    cfg.test_fail_prefix = "";
    memset(&fk, 0, sizeof fk);
    memset(&ap, 0, sizeof ap);
    char err[256];
    ap.cfg = &cfg;
    ap.store_ok = 1;
    ap.st = store_open(where, 0, err, sizeof err);
    ck_assert_msg(ap.st != NULL, "%s", err);
    /* A closed port: any schema id the decoder does not know is "registry down". */
    ap.dec = order_decoder_new("http://127.0.0.1:1", err, sizeof err);
    ck_assert_msg(ap.dec != NULL, "%s", err);
    ck_assert_msg(order_decoder_add_schema(ap.dec, SCHEMA_ID, order_schema_json, err, sizeof err) ==
                      0,
                  "%s", err);
    ap.ops = (apply_ops){.dead_letter = fake_dead_letter,
                         .rewind = fake_rewind,
                         .commit = fake_commit,
                         .kafka_error = fake_kafka_error,
                         .set_error = fake_set_error,
                         .arg = &fk};
    for (int32_t p = 0; p < 2; p++) {
        apply_part *ps = apply_part_get(&ap, p);
        ck_assert_ptr_nonnull(ps);
        ps->assigned = 1;
    }
    enc = codec_new(order_schema_json, err, sizeof err);
    ck_assert_msg(enc != NULL, "%s", err);
}

static void setup(void)
{
    const char *base = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/apply-XXXXXX", base && *base ? base : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
    snprintf(dbpath, sizeof dbpath, "%s/orders.db", tmpdir);
    setup_on(dbpath);
}

static void setup_pg(void)
{
    tmpdir[0] = '\0';
    pgfx_setup(pg_schema, sizeof pg_schema, pg_where, sizeof pg_where);
    setup_on(pg_where);
}

static void teardown_pg(void)
{
    codec_free(enc);
    order_decoder_free(ap.dec);
    store_close(ap.st);
    free(ap.parts);
    pgfx_teardown(pg_schema);
}

static void teardown(void)
{
    codec_free(enc);
    order_decoder_free(ap.dec);
    store_close(ap.st);
    free(ap.parts);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", tmpdir);
}

/* ---- records ------------------------------------------------------------ */

typedef struct {
    apply_record r;
    uint8_t value[CODEC_MAX_ENCODED];
    char key[ORDER_ID_MAX + 1];
} built;

static order_event create_event(const char *id)
{
    order_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = ORDER_EVENT_CREATE;
    snprintf(ev.order_id, sizeof ev.order_id, "%s", id);
    ev.timestamp_ms = 1764079200123LL;
    snprintf(ev.customer_id, sizeof ev.customer_id, "CUST-000001");
    snprintf(ev.order_date, sizeof ev.order_date, "2026-11-25T14:00:00.123Z");
    ev.item_count = 2;
    snprintf(ev.items[0].item_id, sizeof ev.items[0].item_id, "ITEM-00001");
    ev.items[0].quantity = 2;
    ev.items[0].price_cents = 1999;
    snprintf(ev.items[1].item_id, sizeof ev.items[1].item_id, "ITEM-00002");
    ev.items[1].quantity = 1;
    ev.items[1].price_cents = 500;
    ev.total_cents = 2 * 1999 + 500;
    snprintf(ev.currency, sizeof ev.currency, "USD");
    snprintf(ev.status, sizeof ev.status, "new");
    return ev;
}

static order_event update_event(const char *id, const char *status)
{
    order_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = ORDER_EVENT_UPDATE;
    snprintf(ev.order_id, sizeof ev.order_id, "%s", id);
    ev.timestamp_ms = 1764079300000LL;
    snprintf(ev.status, sizeof ev.status, "%s", status);
    return ev;
}

/* A record at (partition, offset) whose value is ev encoded under schema_id. */
/* ev for another order under the same orderId (a real duplicate, not a copy). */
static order_event other_customer(order_event ev)
{
    snprintf(ev.customer_id, sizeof ev.customer_id, "CUST-OTHER");
    return ev;
}

static void record_of(built *b, int32_t partition, int64_t offset, const order_event *ev,
                      uint32_t schema_id)
{
    char err[256];
    size_t len = 0;
    memset(&b->r, 0, sizeof b->r);
    ck_assert_msg(codec_encode(enc, schema_id, ev, b->value, sizeof b->value, &len, err,
                               sizeof err) == CODEC_OK,
                  "%s", err);
    snprintf(b->key, sizeof b->key, "%s", ev->order_id);
    b->r.partition = partition;
    b->r.offset = offset;
    b->r.timestamp_ms = ev->timestamp_ms;
    b->r.key = b->key;
    b->r.key_len = strlen(b->key);
    b->r.value = b->value;
    b->r.value_len = len;
}

static void apply_one(const built *b)
{
    apply_batch(&ap, &b->r, 1);
}

static int64_t position(int32_t p)
{
    int64_t next = -1;
    char err[256];
    store_status st = store_get_position(ap.st, TOPIC, p, &next, err, sizeof err);
    ck_assert_msg(st == STORE_OK || st == STORE_NOT_FOUND, "%s", err);
    return st == STORE_OK ? next : -1;
}

static store_status stored(const char *id, store_order *o)
{
    char err[256];
    return store_get_order(ap.st, id, o, NULL, NULL, err, sizeof err);
}

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
    ps->batch_start = ps->fail_offset = ps->low = ps->high = ps->clear_below = ps->dlq_acked = -1;
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

/* In a child process (a crash must not end the test): re-opens the store as a restart
 * does and applies b. Returns the child's exit code (70: the injected crash). */
static int run_in_child(const built *b)
{
    store_close(ap.st);
    ap.st = NULL;
    fflush(NULL);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        char err[256];
        ap.st = store_open(dbpath, 0, err, sizeof err);
        if (!ap.st)
            _exit(2);
        memset(&fk, 0, sizeof fk);
        apply_part *ps = &ap.parts[0];
        memset(ps, 0, sizeof *ps);
        ps->assigned = 1;
        ps->next = -1;
        ps->batch_start = ps->fail_offset = ps->high = ps->clear_below = ps->dlq_acked = -1;
        store_status st = store_get_position(ap.st, TOPIC, 0, &ps->next, err, sizeof err);
        if (st != STORE_OK)
            ps->next = -1;
        ps->low = 0;
        apply_part_restore(&ap, 0, ps);
        apply_one(b);
        int ok = fk.nletters == 1 && strcmp(fk.letters[0].reason, DLQ_R_PROCESSING) == 0;
        store_close(ap.st);
        _exit(ok ? 0 : 3);
    }
    int status = 0;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status));
    char err[256];
    ap.st = store_open(dbpath, 0, err, sizeof err);
    ck_assert_msg(ap.st != NULL, "%s", err);
    return WEXITSTATUS(status);
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
        rc = run_in_child(&b);
        if (rc == 70)
            crashes++;
    }
    ck_assert_int_eq(rc, 0); /* dead-lettered */
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

static Suite *apply_suite(void)
{
    Suite *s = suite_create("ingest_apply");
    TCase *tc = tcase_create("apply");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
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
    tcase_add_test(tc, test_persisted_attempts_continue_after_reopening);
    tcase_add_test(tc, test_identical_copies_are_redeliveries_not_new_orders);
    tcase_add_test(tc, test_record_that_kills_the_process_is_dead_lettered_after_its_attempts);
    suite_add_tcase(s, tc);
    if (pgfx_url()) {
        tc = tcase_create("postgresql");
        tcase_add_checked_fixture(tc, setup_pg, teardown_pg);
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, test_fenced_commit_drops_the_batch_and_reseeks);
        tcase_add_test(tc, test_identical_copies_are_redeliveries_not_new_orders);
        tcase_add_test(tc, test_remembered_dead_letter_is_not_written_again_after_a_store_failure);
        tcase_add_test(tc, test_remembered_dead_letter_survives_a_restart);
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
