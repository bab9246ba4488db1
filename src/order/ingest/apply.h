/*
 * apply: what the consume loop does with a batch of records: decode and
 * validate each (event/order_decoder.h), apply it to the store or decide its
 * dead letter, and commit the batch in one store transaction.
 *
 * The seam: records come in as plain apply_record structs, and the three
 * things that need Kafka (write a dead letter, pause and rewind a partition,
 * commit offsets) are calls through apply_ops. consumer.c fills them from
 * librdkafka; the unit tests fill them with records and fakes they build, so
 * the whole decision path runs against a real store without a broker.
 *
 * Not thread-safe: one apply_ctx per consumer thread.
 */
#ifndef APPLY_H
#define APPLY_H

#include "order_config.h"

#include "event/dlq_info.h"
#include "event/order_decoder.h"
#include "store/store.h"

#include <librdkafka/rdkafka.h>
#include <stddef.h>
#include <stdint.h>

/* One partition's progress, as the apply path and the group lifecycle see it. */
typedef struct {
    int assigned;
    int64_t next;        /* next offset to apply; -1 unknown (store has none) */
    int64_t batch_start; /* first offset of this partition in the batch; -1 none */
    int moved;           /* next moved since the last Kafka commit */
    int waiting;         /* paused until resume_at_ms */
    int64_t resume_at_ms;
    int64_t fail_offset; /* the record that failed last; -1 none */
    int attempts;        /* failures of fail_offset so far */
    int poison;          /* fail_offset exhausted its retries in the store: dead-letter it */
    int64_t low, high;   /* watermarks queried at assignment; -1 unknown */
    /* Persisted retry state (apply_retry.c): */
    int crashed;          /* poison from persisted attempts: it failed or killed the process */
    int isolate;          /* records left to try one per transaction (a crash is suspected) */
    int persist;          /* fail_offset's attempts to record once the batch is over */
    int64_t due_wall_ms;  /* ... and when its next attempt is due (wall clock) */
    int64_t clear_below;  /* retry rows below this may go once the batch is over; -1 none */
    int64_t dlq_acked;    /* offset whose dead letter Kafka acknowledged; -1 none */
    int dlq_mark_pending; /* ... not yet remembered in the store */
    int64_t history_lost; /* > 0: rebuilt from the beginning, but offsets below it were deleted */
} apply_part;

/* A record of the batch (or a consumer error delivered in its place). */
typedef struct {
    rd_kafka_resp_err_t err; /* != 0: not a record but an error event */
    const char *errstr;      /* its text, when err != 0 */
    int32_t partition;
    int64_t offset;
    int64_t timestamp_ms; /* the record's Kafka timestamp; -1 none */
    const void *key;
    size_t key_len;
    const void *value;
    size_t value_len;
    /* its `traceparent` header (not validated, not NUL-terminated), or NULL:
     * then ops.traceparent looks it up in src when it is needed */
    const char *traceparent;
    size_t traceparent_len;
    const void *src; /* the caller's message (consumer.c: librdkafka's), for ops.traceparent */
} apply_record;

/* The Kafka side of applying, supplied by the caller. */
typedef struct {
    /* Writes a dead letter (original key and value, headers from d) and waits
     * for Kafka's acknowledgement: 0, or -1 + err (retried later). */
    int (*dead_letter)(void *arg, const apply_record *r, const dlq_info *d, char *err,
                       size_t errlen);
    /* Pauses the partition and seeks it to offset: its records come again on
     * resume. 0, or -1 when it could not even be asked (out of memory). */
    int (*rewind)(void *arg, int32_t partition, int64_t offset);
    /* Commits the positions that moved (asynchronously): after a store commit. */
    void (*commit)(void *arg);
    /* Called just before the batch's store commit (test-only delay); may be NULL. */
    void (*before_commit)(void *arg);
    /* Notes an error record of the batch (broker down, transport...). */
    void (*kafka_error)(void *arg, const apply_record *r);
    /* Records the last error for the status ("store: disk full"); what may be NULL. */
    void (*set_error)(void *arg, const char *what, const char *detail);
    /* r's `traceparent` header when r->traceparent is NULL, looked up only
     * when needed (a log line of the record, its dead letter): parsing a
     * record's headers costs more than a log-free apply spends elsewhere on
     * the consumer thread. 0 + *tp, *len (valid as long as r), or -1: none.
     * NULL: records carry theirs in r->traceparent. */
    int (*traceparent)(void *arg, const apply_record *r, const char **tp, size_t *len);
    void *arg;
} apply_ops;

typedef struct {
    const order_config *cfg; /* topic, retries, backoff, test failure injection */
    store *st;               /* the writer connection */
    order_decoder *dec;
    /* NULL: each record is decoded inline; else a helper thread decodes the
     * batch ahead of the records being applied (decode_ahead.h) */
    struct decode_ahead *ahead;
    /* batches smaller than this are decoded inline (0: every batch goes to the helper) */
    int ahead_min_batch;
    apply_ops ops;
    /* How ORDER_TEST_CRASH_PREFIX ends the process: NULL is _exit(); a unit
     * test supplies one that never returns either (longjmp). */
    void (*test_crash)(int status);

    apply_part *parts; /* indexed by partition; grown by apply_part_get */
    int nparts;
    order_event ev; /* decode scratch */

    /* the record whose store failure aborted the batch */
    int32_t store_fail_part;
    int64_t store_fail_offset;
    int store_fail_internal;
    int store_fenced; /* ... and it was STORE_FENCED: another instance owns a partition now */
    char store_err[256];

    int store_ok; /* the last store transaction succeeded */
    int64_t orders;
    uint64_t consumed, applied, skipped, dead_lettered, retries;
    uint64_t redelivered; /* identical copies of applied events, not applied again */
    uint64_t fenced;      /* batches dropped because their commit was fenced */
    /* effects of the open transaction, counted only once it commits */
    int64_t txn_orders;
    uint64_t txn_applied;
} apply_ctx;

/* The state of partition p (created, unassigned, on first use); NULL if p < 0 or out of memory. */
apply_part *apply_part_get(apply_ctx *a, int32_t p);

/*
 * Continues partition p's retry state from the store, at assignment: ps is
 * the fresh state with ps->next read from the store (-1: none, then ps->low
 * is where reading starts). Returns 1 when the
 * partition must stay paused (its next attempt is not due yet).
 */
int apply_part_restore(apply_ctx *a, int32_t p, apply_part *ps);

/* Applies recs[0..n) in one store transaction (see apply.c). */
void apply_batch(apply_ctx *a, const apply_record *recs, int n);

#endif
