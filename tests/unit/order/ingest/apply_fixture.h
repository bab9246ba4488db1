/*
 * apply_fixture: what the tests of the apply path share (test_apply.c, the
 * per-record decisions; test_apply_retry.c, the retry state kept in the
 * store): a fake Kafka side that records what a broker would have seen, a
 * real store (SQLite in a temporary directory, or a PostgreSQL schema), and
 * records built with the project's own codec and schema. Header-only, like
 * pg_fixture.h: each test binary gets its own copy of the state.
 */
#ifndef APPLY_FIXTURE_H
#define APPLY_FIXTURE_H

#include "ingest/apply.h"
#include "ingest/decode_ahead.h"

#include "event/avro_codec.h"
#include "platform/clock.h"
#include "platform/log.h"
#include "platform/trace.h"
#include "event/order_schema.h"
#include "order/store/pg_fixture.h"
#include "test_main.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
    char traceparent[TRACE_PARENT_LEN + 1]; /* the DLQ record's traceparent header, "" none */
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

static inline int fake_dead_letter(void *arg, const apply_record *r, const dlq_info *d, char *err,
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
    snprintf(l->traceparent, sizeof l->traceparent, "%s", d->traceparent);
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

static inline int fake_rewind(void *arg, int32_t partition, int64_t offset)
{
    fake_kafka *k = arg;
    k->rewinds++;
    k->rewind_part = partition;
    k->rewind_offset = offset;
    return 0;
}

static inline void fake_commit(void *arg)
{
    ((fake_kafka *)arg)->commits++;
}

static inline void fake_kafka_error(void *arg, const apply_record *r)
{
    fake_kafka *k = arg;
    snprintf(k->last_error, sizeof k->last_error, "kafka: %s", r->errstr);
}

static inline void fake_set_error(void *arg, const char *what, const char *detail)
{
    fake_kafka *k = arg;
    snprintf(k->last_error, sizeof k->last_error, "%s%s%s", what ? what : "", what ? ": " : "",
             detail);
}

/* A fresh apply context on the store at where (a SQLite path or a PostgreSQL URL). */
static inline void setup_on(const char *where)
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

static inline void setup(void)
{
    const char *base = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/apply-XXXXXX", base && *base ? base : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
    snprintf(dbpath, sizeof dbpath, "%s/orders.db", tmpdir);
    setup_on(dbpath);
}

/* setup() with the batch decoded ahead on the helper thread (decode_ahead.h). */
static inline void setup_ahead(void)
{
    setup();
    char err[256];
    ap.ahead = decode_ahead_new(ap.dec, err, sizeof err);
    ck_assert_msg(ap.ahead != NULL, "%s", err);
}

static inline void setup_pg(void)
{
    tmpdir[0] = '\0';
    pgfx_setup(pg_schema, sizeof pg_schema, pg_where, sizeof pg_where);
    setup_on(pg_where);
}

static inline void teardown_pg(void)
{
    codec_free(enc);
    order_decoder_free(ap.dec);
    store_close(ap.st);
    free(ap.parts);
    pgfx_teardown(pg_schema);
}

static inline void teardown(void)
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

static inline void teardown_ahead(void)
{
    decode_ahead_free(ap.ahead);
    ap.ahead = NULL;
    teardown();
}

/* ---- records ------------------------------------------------------------ */

typedef struct {
    apply_record r;
    uint8_t value[CODEC_MAX_ENCODED];
    char key[ORDER_ID_MAX + 1];
} built;

static inline order_event create_event(const char *id)
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

static inline order_event update_event(const char *id, const char *status)
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
static inline order_event other_customer(order_event ev)
{
    snprintf(ev.customer_id, sizeof ev.customer_id, "CUST-OTHER");
    return ev;
}

static inline void record_of(built *b, int32_t partition, int64_t offset, const order_event *ev,
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

static inline void apply_one(const built *b)
{
    apply_batch(&ap, &b->r, 1);
}

static inline int64_t position(int32_t p)
{
    int64_t next = -1;
    char err[256];
    store_status st = store_get_position(ap.st, TOPIC, p, &next, err, sizeof err);
    ck_assert_msg(st == STORE_OK || st == STORE_NOT_FOUND, "%s", err);
    return st == STORE_OK ? next : -1;
}

static inline store_status stored(const char *id, store_order *o)
{
    char err[256];
    return store_get_order(ap.st, id, o, NULL, NULL, err, sizeof err);
}

#endif
