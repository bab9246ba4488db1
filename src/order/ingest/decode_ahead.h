/*
 * decode_ahead: decodes a batch's records on a helper thread while the
 * consumer thread applies the ones before them, in order.
 *
 * Why: catch-up is one thread's work, and decoding (Avro walk, resolution,
 * validation) is about 40 % of it per event (bench/profile-notes.md). With a
 * second core the two halves overlap; applying stays on the consumer thread,
 * in record order, in the batch's one transaction, so exactly-once is the
 * same as with inline decoding: the helper only computes, it never touches
 * the store, Kafka or a partition's state.
 *
 * The helper owns the decoder while a batch runs (decode_ahead_start ..
 * decode_ahead_stop): the consumer thread must not call order_decoder_*
 * between the two. Results live in a ring of DECODE_AHEAD_SLOTS slots: the
 * helper runs at most that many records ahead (bounded memory, ~10 KB a
 * slot, plus a CREATE's items JSON, which the helper renders too so the
 * consume thread does not: decode_ahead_items), and record i's slot stays
 * valid until decode_ahead_release(i + 1).
 */
#ifndef DECODE_AHEAD_H
#define DECODE_AHEAD_H

#include "ingest/apply.h"

#include "event/order_decoder.h"
#include "event/order_model.h"

#include <stddef.h>
#include <stdint.h>

#define DECODE_AHEAD_SLOTS 256
/* The helper, its window full, sleeps until no more than this many decoded
 * records wait for the consumer: one wake-up per SLOTS - RESUME_AT records.
 * decode_ahead_get() may look this far past the last release, no further. */
#define DECODE_AHEAD_RESUME_AT 128
/* Batches smaller than this are decoded inline (apply.c): a live trickle of
 * one or two records would wait on two thread wake-ups for no overlap. */
#define DECODE_AHEAD_MIN_BATCH 16
#define DECODE_AHEAD_RELEASE_EVERY 16 /* below DECODE_AHEAD_RESUME_AT */
_Static_assert(DECODE_AHEAD_RELEASE_EVERY < DECODE_AHEAD_RESUME_AT &&
                   DECODE_AHEAD_RESUME_AT < DECODE_AHEAD_SLOTS,
               "release steps fit under the resume mark, which is inside the window");

typedef struct decode_ahead decode_ahead;

/* Starts the helper thread; NULL + err on failure. dec must outlive it. */
decode_ahead *decode_ahead_new(order_decoder *dec, char *err, size_t errlen);
/* Stops and joins the helper (NULL is fine). */
void decode_ahead_free(decode_ahead *d);

/* Hands recs[0..n) over (error records are passed by, not decoded); recs
 * stays valid until decode_ahead_stop(). No batch may be running. */
void decode_ahead_start(decode_ahead *d, const apply_record *recs, int n);

/*
 * Waits for record i (i >= every index released so far: see
 * decode_ahead_release) and returns its
 * event, with its verdict copied into *out; NULL if the helper gave up on the
 * batch (the caller then decodes inline, which is safe: the helper is idle).
 */
const order_event *decode_ahead_get(decode_ahead *d, int i, order_decoder_result *out);

/* Record i's items JSON (order_json_items), rendered by the helper when i
 * decoded to a CREATE, or NULL (then *len is 0); valid as decode_ahead_get's
 * event. Call only after decode_ahead_get(i) returned an event. */
const char *decode_ahead_items(decode_ahead *d, int i, size_t *len);

/* The consumer thread is done with every record below upto: their slots are
 * free. Taken into account every DECODE_AHEAD_RELEASE_EVERY records (an
 * atomic store; a wake-up only for a helper asleep on a full window). */
void decode_ahead_release(decode_ahead *d, int upto);

/* Ends the batch early or on time: the helper stops and is idle when this returns. */
void decode_ahead_stop(decode_ahead *d);

/* How many times the helper has slept on a full window (tests: the wake-ups
 * per batch stay one per SLOTS - RESUME_AT records). */
uint64_t decode_ahead_sleeps(decode_ahead *d);

#endif
