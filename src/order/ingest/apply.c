/*
 * apply: what the consume loop does with a batch of records (see apply.h).
 *
 * Exactly-once into the store: every applied or dead-lettered record moves
 * the store's (partition -> next offset) inside the same transaction as its
 * effect, and the store refuses records below that position.
 *
 * Failures, per partition: the partition is paused and sought back to the
 * failed record, and resumed when its backoff expires; the others keep
 * flowing and polling goes on, so the group session stays alive.
 *   - registry unavailable, DLQ write failed: retried forever;
 *   - unexpected processing failure: PROCESSING_MAX_RETRIES retries, then
 *     dead-lettered as PROCESSING_FAILED;
 *   - store failure: the whole transaction is rolled back and every partition
 *     of the batch rewinds and waits (I/O errors forever; a record the store
 *     keeps rejecting for another reason is dead-lettered after the retries).
 * Fencing (several instances on one PostgreSQL store): a commit refused with
 * STORE_FENCED means another instance moved a position of the batch, so it
 * owns the partition now (this instance lost it and does not know yet). The
 * batch is dropped as if it had never been read, every partition of it
 * re-reads its position from the store and seeks there at once: no backoff,
 * no attempt counted, no "store failure" (nothing is wrong with the store).
 * Dead letters are written synchronously (acks=all) before the position moves;
 * the acknowledgement is remembered (apply_retry.c) before the position can
 * fail to move, so a store failure or fencing never writes it twice; only a
 * crash in the few statements between the two can.
 * Attempts survive restarts and moves between instances: apply_retry.c.
 */
#include "ingest/apply_int.h"

#include "ingest/decode_ahead.h"

#include "ingest/ingest_metrics.h"
#include "platform/clock.h"
#include "platform/log.h"
#include "platform/trace.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef enum { H_NEXT, H_PART_WAIT, H_STORE_FAIL } handle_result;

/* Every path below indexes a->parts by a record's partition: only a
 * partition apply_batch() checked (or the caller created) may get here. */
static void part_check(const apply_ctx *a, int32_t p)
{
    assert(p >= 0 && p < a->nparts);
    (void)a;
    (void)p;
}

apply_part *apply_part_get(apply_ctx *a, int32_t p)
{
    if (p < 0)
        return NULL;
    if (p >= a->nparts) {
        int n = p + 1;
        apply_part *np = realloc(a->parts, (size_t)n * sizeof *np);
        if (!np)
            return NULL;
        for (int i = a->nparts; i < n; i++) {
            memset(&np[i], 0, sizeof np[i]);
            np[i].next = -1;
            np[i].batch_start = -1;
            np[i].fail_offset = -1;
            np[i].low = -1;
            np[i].high = -1;
            np[i].clear_below = -1;
            np[i].dlq_acked = -1;
        }
        a->parts = np;
        a->nparts = n;
    }
    return &a->parts[p];
}

static void set_error(apply_ctx *a, const char *what, const char *detail)
{
    a->ops.set_error(a->ops.arg, what, detail);
}

/* Pauses partition p and seeks it to offset: its records come again on resume. */
static void part_rewind(apply_ctx *a, int32_t p, int64_t offset, int64_t delay_ms)
{
    part_check(a, p);
    if (a->ops.rewind(a->ops.arg, p, offset) != 0)
        return; /* could not even ask (out of memory): it was logged */
    apply_part *ps = &a->parts[p];
    ps->waiting = 1;
    ps->resume_at_ms = clock_mono_ms() + delay_ms;
}

/* ---- failure handling --------------------------------------------------- */

/*
 * Counts a failure of record fail_offset and rewinds the partition to
 * seek_offset for the backoff. Returns 1 when the partition waits, 0 when a
 * processing failure has used up its retries (nothing rewound).
 */
static int part_fail(apply_ctx *a, int32_t p, int64_t fail_offset, int64_t seek_offset, int infra,
                     const char *why)
{
    part_check(a, p);
    apply_part *ps = &a->parts[p];
    if (ps->fail_offset == fail_offset) {
        ps->attempts++;
    } else {
        ps->fail_offset = fail_offset;
        ps->attempts = 1;
        ps->poison = 0;
        ps->crashed = 0;
    }
    if (!infra && ps->attempts > a->cfg->max_retries) {
        ps->persist = 1; /* used up: a restart dead-letters it at once */
        ps->due_wall_ms = 0;
        return 0;
    }
    int64_t delay = order_config_backoff_for(a->cfg, ps->attempts);
    if (!infra) {
        ps->persist = 1; /* the schedule survives a restart or a move */
        ps->due_wall_ms = clock_wall_ms() + delay;
    }
    log_warn("%s[%d] offset %lld failed (%s, attempt %d): %s; retrying in %lld ms", a->cfg->topic,
             p, (long long)fail_offset, infra ? "infrastructure" : "processing", ps->attempts, why,
             (long long)delay);
    set_error(a, NULL, why);
    a->retries++;
    ingest_metrics_retry_scheduled(delay);
    part_rewind(a, p, seek_offset, delay);
    return 1;
}

void apply_part_succeeded(apply_part *ps, int64_t offset)
{
    ps->next = offset + 1;
    ps->moved = 1;
    if (ps->fail_offset == offset || ps->dlq_acked == offset)
        ps->clear_below = offset + 1; /* its retry state is past (once committed) */
    if (ps->fail_offset == offset) {
        ps->fail_offset = -1;
        ps->attempts = 0;
        ps->poison = 0;
        ps->crashed = 0;
        ps->persist = 0;
    }
}

/* After a successful store commit: the transaction's effects now count. */
static void txn_committed(apply_ctx *a)
{
    a->orders += a->txn_orders;
    a->applied += a->txn_applied;
    a->txn_orders = 0;
    a->txn_applied = 0;
}

void apply_note_store_failure(apply_ctx *a, const apply_record *r, store_status s, int internal,
                              const char *err)
{
    a->store_fail_part = r->partition;
    a->store_fail_offset = r->offset;
    a->store_fail_internal = internal;
    a->store_fenced = s == STORE_FENCED;
    snprintf(a->store_err, sizeof a->store_err, "%s", err);
}

/* The batch's store work failed at record r: the caller rolls the batch back. */
static handle_result store_failed_at(apply_ctx *a, const apply_record *r, store_status s,
                                     int internal, const char *err)
{
    apply_note_store_failure(a, r, s, internal, err);
    return H_STORE_FAIL;
}

/* r's traceparent header: as the record carries it, else looked up now. */
static const char *record_traceparent(const apply_ctx *a, const apply_record *r, size_t *len)
{
    *len = r->traceparent_len;
    if (r->traceparent || !a->ops.traceparent)
        return r->traceparent;
    const char *tp = NULL;
    if (a->ops.traceparent(a->ops.arg, r, &tp, len) != 0) {
        *len = 0;
        return NULL;
    }
    return tp;
}

/* 1 if r's dead letter was acknowledged before (by this process, or one the store remembers). */
static int dead_letter_known(apply_ctx *a, apply_part *ps, const apply_record *r)
{
    if (ps->dlq_acked == r->offset)
        return 1;
    int written = 0;
    char err[256];
    if (store_dlq_written_check(a->st, a->cfg->topic, r->partition, r->offset, &written, err,
                                sizeof err) != STORE_OK) {
        log_warn("%s[%d] offset %lld: was it dead-lettered before? %s (writing it)", a->cfg->topic,
                 r->partition, (long long)r->offset, err);
        return 0;
    }
    if (written) {
        ps->dlq_acked = r->offset;
        ps->dlq_mark_pending = 0;
    }
    return written;
}

static handle_result dead_letter(apply_ctx *a, const apply_record *r, const char *category,
                                 const char *reason, const char *message, int retries)
{
    char err[256];
    part_check(a, r->partition);
    apply_part *ps = &a->parts[r->partition];
    store_status s = STORE_OK;
    if (dead_letter_known(a, ps, r)) {
        log_info("%s[%d] offset %lld: its dead letter was written before, not again", a->cfg->topic,
                 r->partition, (long long)r->offset);
    } else {
        dlq_info d;
        dlq_info_init(&d, category, reason, message, retries, a->cfg->topic, r->partition,
                      r->offset, r->timestamp_ms, clock_wall_ms());
        trace_ctx t;
        size_t tplen = 0;
        const char *tp = record_traceparent(a, r, &tplen);
        if (tp && trace_parse(tp, tplen, &t) == 0)
            trace_format(&t, d.traceparent); /* as received, normalised to version 00 */
        if (a->ops.dead_letter(a->ops.arg, r, &d, err, sizeof err) != 0) {
            part_fail(a, r->partition, r->offset, r->offset, 1, err);
            return H_PART_WAIT;
        }
        /* Acknowledged: remembered now, and in the store before the position moves (the
         * batch so far commits first: the mark is not part of it). */
        ps->dlq_acked = r->offset;
        ps->dlq_mark_pending = 1;
        s = store_commit(a->st, err, sizeof err);
        if (s == STORE_OK) {
            txn_committed(a);
            if (store_dlq_written_mark(a->st, a->cfg->topic, r->partition, r->offset, err,
                                       sizeof err) == STORE_OK)
                ps->dlq_mark_pending = 0;
            else
                log_warn("%s[%d] offset %lld: remembering its dead letter: %s", a->cfg->topic,
                         r->partition, (long long)r->offset, err);
            s = store_begin(a->st, err, sizeof err);
        }
        if (s != STORE_OK)
            return store_failed_at(a, r, s, 0, err);
        a->dead_lettered++;
        ingest_metrics_dead_lettered(reason);
        log_warn("dead-lettered %s[%d] offset %lld: %s %s", a->cfg->topic, r->partition,
                 (long long)r->offset, reason, message);
    }
    s = store_mark(a->st, a->cfg->topic, r->partition, r->offset, err, sizeof err);
    if (s != STORE_OK && s != STORE_SKIPPED)
        return store_failed_at(a, r, s, 0, err);
    apply_part_succeeded(ps, r->offset);
    return H_NEXT;
}

static handle_result processing_failed(apply_ctx *a, const apply_record *r, const char *why)
{
    if (part_fail(a, r->partition, r->offset, r->offset, 0, why))
        return H_PART_WAIT;
    return dead_letter(a, r, DLQ_RETRY_THEN, DLQ_R_PROCESSING, why, a->cfg->max_retries);
}

/* Record i's event and verdict: from the helper when it decodes the batch, else here. */
static const order_event *decode(apply_ctx *a, const apply_record *r, int i, int ahead,
                                 order_decoder_result *v)
{
    const order_event *ev = ahead ? decode_ahead_get(a->ahead, i, v) : NULL;
    if (ev)
        return ev;
    order_decoder_decode(a->dec, r->value, r->value_len, &a->ev, v);
    return &a->ev;
}

static handle_result handle_record(apply_ctx *a, const apply_record *r, int i, int ahead);

typedef struct {
    const apply_ctx *a;
    const apply_record *r;
} trace_source;

static void trace_from_record(void *arg)
{
    const trace_source *t = arg;
    size_t len = 0;
    const char *tp = record_traceparent(t->a, t->r, &len);
    trace_ctx c;
    if (tp && trace_parse(tp, len, &c) == 0)
        log_trace_set(tp + 3, TRACE_ID_HEX);
}

/*
 * The record's log lines (applied, retried, dead-lettered) carry the trace id
 * of its valid `traceparent` header, so they join the cart's request lines.
 * Found only when a line is written (log_trace_defer): most records log none.
 */
static handle_result handle(apply_ctx *a, const apply_record *r, int i, int ahead)
{
    trace_source t = {a, r};
    log_trace_defer(trace_from_record, &t);
    handle_result h = handle_record(a, r, i, ahead);
    log_trace_set(NULL, 0);
    return h;
}

void apply_record_applied(apply_ctx *a, apply_part *ps, const apply_record *r,
                          const order_event *ev)
{
    if (log_enabled(LOG_DEBUG)) { /* with r's trace id, also when a run applied it */
        trace_source t = {a, r};
        log_trace_defer(trace_from_record, &t);
        log_debug("%s[%d] offset %lld: applied %s %s", a->cfg->topic, r->partition,
                  (long long)r->offset, ev->type == ORDER_EVENT_CREATE ? "CREATE" : "UPDATE",
                  ev->order_id);
        log_trace_set(NULL, 0);
    }
    apply_part_succeeded(ps, r->offset);
    ingest_metrics_event_applied(ev->timestamp_ms, clock_wall_ms());
    a->txn_applied++;
    if (ev->type == ORDER_EVENT_CREATE)
        a->txn_orders++;
}

static handle_result handle_record(apply_ctx *a, const apply_record *r, int i, int ahead)
{
    part_check(a, r->partition);
    apply_part *ps = &a->parts[r->partition];
    if (ps->next >= 0 && r->offset < ps->next) {
        a->skipped++;
        return H_NEXT;
    }
    char msg[DLQ_MESSAGE_MAX + 1];
    if (ps->poison && ps->fail_offset == r->offset) {
        if (ps->crashed)
            snprintf(msg, sizeof msg,
                     "failed (or killed the process) on each of its %d attempts, counted in the "
                     "store",
                     ps->attempts);
        else
            snprintf(msg, sizeof msg, "the store keeps rejecting the event: %s", a->store_err);
        return dead_letter(a, r, DLQ_RETRY_THEN, DLQ_R_PROCESSING, msg, a->cfg->max_retries);
    }
    order_decoder_result v;
    const order_event *ev = decode(a, r, i, ahead, &v);
    if (v.kind == ORDER_DECODER_EVENT && apply_inject_failure(a, ev, ps, r->offset)) {
        v.kind = ORDER_DECODER_FAILED;
        snprintf(v.message, sizeof v.message, "injected test failure (ORDER_TEST_FAIL_PREFIX)");
    }
    if (v.kind == ORDER_DECODER_EVENT && apply_crash_requested(a, ev)) {
        log_error("TEST-ONLY: exiting while processing %s (ORDER_TEST_CRASH_PREFIX)", ev->order_id);
        if (a->test_crash)
            a->test_crash(70);
        _exit(70);
    }
    switch (v.kind) {
    case ORDER_DECODER_RETRY_INFRA:
        part_fail(a, r->partition, r->offset, r->offset, 1, v.message);
        return H_PART_WAIT;
    case ORDER_DECODER_FAILED:
        return processing_failed(a, r, v.message);
    case ORDER_DECODER_DLQ:
        return dead_letter(a, r, DLQ_NO_RETRY, v.reason, v.message, 0);
    case ORDER_DECODER_EVENT:
        break;
    }
    char err[256] = "";
    store_status s =
        store_apply(a->st, a->cfg->topic, r->partition, r->offset, ev, err, sizeof err);
    switch (s) {
    case STORE_OK:
        apply_record_applied(a, ps, r, ev);
        return H_NEXT;
    case STORE_SKIPPED:
        a->skipped++;
        return H_NEXT;
    case STORE_REDELIVERED:
        /* The stored state already says what it says: a producer retry that landed
         * twice, or a client retrying a request (same content, another event time). */
        apply_part_succeeded(ps, r->offset);
        a->redelivered++;
        ingest_metrics_duplicate_redelivered();
        log_info("%s[%d] offset %lld: %s %s is already applied (a redelivered copy or a "
                 "client's retry), not applied again",
                 a->cfg->topic, r->partition, (long long)r->offset,
                 ev->type == ORDER_EVENT_CREATE ? "CREATE" : "UPDATE", ev->order_id);
        return H_NEXT;
    case STORE_DUPLICATE:
        snprintf(msg, sizeof msg, "order %s already exists", ev->order_id);
        return dead_letter(a, r, DLQ_NO_RETRY, DLQ_R_DUPLICATE, msg, 0);
    case STORE_NOT_FOUND:
        snprintf(msg, sizeof msg, "order %s does not exist", ev->order_id);
        return dead_letter(a, r, DLQ_NO_RETRY, DLQ_R_NOT_FOUND, msg, 0);
    case STORE_ERR_IO:
    case STORE_ERR_INTERNAL:
    case STORE_FENCED: /* store_commit() only */
        break;
    }
    return store_failed_at(a, r, s, s == STORE_ERR_INTERNAL, err);
}

/*
 * A partition under suspicion of a crash (apply_retry.c): what the batch did
 * so far is committed and r's attempt counted, durably, before r runs, so a
 * record that kills the process is charged with it. 0, or -1 with the store
 * failure noted.
 */
static int isolate_record(apply_ctx *a, const apply_record *r)
{
    char err[256];
    store_status s = store_commit(a->st, err, sizeof err);
    if (s == STORE_OK) {
        txn_committed(a);
        if (apply_retry_count_attempt(a, r->partition, r->offset, err, sizeof err) != 0)
            s = STORE_ERR_IO;
        else
            s = store_begin(a->st, err, sizeof err);
    }
    if (s == STORE_OK)
        return 0;
    store_failed_at(a, r, s, 0, err);
    return -1;
}

/* A fenced commit: drops the batch; its partitions seek to the store's positions now. */
static void fenced(apply_ctx *a)
{
    store_rollback(a->st);
    apply_retry_rolled_back(a);
    a->txn_orders = 0;
    a->txn_applied = 0;
    a->fenced++;
    log_warn("fenced commit: another instance moved a position of this batch (%s); batch "
             "dropped, re-seeking from the store",
             a->store_err);
    for (int p = 0; p < a->nparts; p++) {
        apply_part *ps = &a->parts[p];
        if (!ps->assigned || ps->batch_start < 0)
            continue;
        int64_t next = -1;
        char e[256];
        store_status s = store_get_position(a->st, a->cfg->topic, p, &next, e, sizeof e);
        if (s != STORE_OK && s != STORE_NOT_FOUND)
            log_error("fenced: reading the position of %s[%d]: %s", a->cfg->topic, p, e);
        ps->next = s == STORE_OK ? next : -1;
        ps->moved = 0;
        ps->fail_offset = -1;
        ps->attempts = 0;
        ps->poison = 0;
        ps->crashed = 0;
        ps->persist = 0; /* the owner's schedule is the one that counts now */
        int64_t target = ps->next >= 0 ? ps->next : ps->batch_start;
        log_info("re-seeking %s[%d] to offset %lld", a->cfg->topic, p, (long long)target);
        part_rewind(a, p, target, 0);
    }
}

/* Rolls the batch back; every partition in it rewinds and waits. */
static void store_failure(apply_ctx *a)
{
    if (a->store_fenced) {
        a->store_fenced = 0;
        fenced(a);
        return;
    }
    store_rollback(a->st);
    apply_retry_rolled_back(a);
    a->txn_orders = 0;
    a->txn_applied = 0;
    a->store_ok = 0;
    set_error(a, "store", a->store_err);
    log_error("store failure, batch rolled back: %s", a->store_err);
    for (int p = 0; p < a->nparts; p++) {
        apply_part *ps = &a->parts[p];
        if (!ps->assigned || ps->batch_start < 0)
            continue;
        int64_t next = -1;
        char e[256];
        store_status s = store_get_position(a->st, a->cfg->topic, p, &next, e, sizeof e);
        ps->next = s == STORE_OK ? next : -1;
        ps->moved = 0;
        int64_t target = ps->next > ps->batch_start ? ps->next : ps->batch_start;
        int internal = a->store_fail_internal && p == a->store_fail_part;
        int64_t failed = p == a->store_fail_part ? a->store_fail_offset : target;
        if (!part_fail(a, p, failed, target, !internal, a->store_err)) {
            ps->poison = 1; /* retries used up: dead-letter it when it comes again */
            part_rewind(a, p, target, 0);
        }
    }
}

/* 1 if a partition is under suspicion of a crash (one record per transaction) or holds a poison
 * record. */
static int suspect_partitions(const apply_ctx *a)
{
    for (int p = 0; p < a->nparts; p++)
        if (a->parts[p].isolate > 0 || a->parts[p].poison)
            return 1;
    return 0;
}

void apply_batch(apply_ctx *a, const apply_record *recs, int n)
{
    int ahead = 0;
    for (int i = 0; i < n; i++) {
        const apply_record *r = &recs[i];
        if (!r->err && r->partition >= 0 && r->partition < a->nparts &&
            a->parts[r->partition].batch_start < 0)
            a->parts[r->partition].batch_start = r->offset;
    }
    char err[256];
    if (apply_retry_before_batch(a, err, sizeof err) != 0 ||
        store_begin(a->st, err, sizeof err) != STORE_OK) {
        snprintf(a->store_err, sizeof a->store_err, "%s", err);
        a->store_fail_part = -1;
        a->store_fail_internal = 0;
        a->store_fenced = 0;
        store_failure(a);
        goto out;
    }
    /* Keys are orderIds: a server store looks them all up in one round trip. */
    for (int i = 0; i < n; i++)
        if (!recs[i].err && recs[i].key)
            store_hint_order(a->st, recs[i].key, recs[i].key_len);
    /* A record suspected of killing the process is decoded only once its
     * attempt is counted (isolate_record): no decoding ahead in such a batch.
     * Nor in a small one: handing a few records to the helper and waiting
     * for them costs two thread wake-ups, more than decoding them here. */
    ahead = a->ahead && n >= a->ahead_min_batch && !suspect_partitions(a);
    if (ahead)
        decode_ahead_start(a->ahead, recs, n);
    int runs_from = 0; /* a run that fell back is applied one by one up to here */
    for (int i = 0; i < n; i++) {
        const apply_record *r = &recs[i];
        if (ahead)
            decode_ahead_release(a->ahead, i);
        if (ahead && i >= runs_from) {
            int k = apply_run(a, recs, i, n, &runs_from);
            if (k < 0) {
                store_failure(a);
                goto out;
            }
            if (k > 0) {
                i += k - 1;
                continue;
            }
        }
        if (r->err) {
            a->ops.kafka_error(a->ops.arg, r);
            continue;
        }
        if (r->partition < 0 || r->partition >= a->nparts)
            continue;
        apply_part *ps = &a->parts[r->partition];
        if (!ps->assigned || ps->waiting)
            continue; /* it was sought back: the record comes again */
        a->consumed++;
        int isolated = ps->isolate > 0 && (ps->next < 0 || r->offset >= ps->next);
        if (isolated && isolate_record(a, r) != 0) {
            store_failure(a);
            goto out;
        }
        if (handle(a, r, i, ahead) == H_STORE_FAIL) {
            store_failure(a);
            goto out;
        }
        if (isolated && !ps->waiting)
            ps->isolate--;
    }
    if (a->ops.before_commit)
        a->ops.before_commit(a->ops.arg);
    store_status cs = store_commit(a->st, err, sizeof err);
    if (cs != STORE_OK) {
        snprintf(a->store_err, sizeof a->store_err, "%s", err);
        a->store_fail_part = -1;
        a->store_fail_internal = 0;
        a->store_fenced = cs == STORE_FENCED;
        store_failure(a);
        goto out;
    }
    a->store_ok = 1;
    txn_committed(a);
    a->ops.commit(a->ops.arg);
out:
    if (ahead)
        decode_ahead_stop(a->ahead);
    apply_retry_after_batch(a);
    for (int p = 0; p < a->nparts; p++)
        a->parts[p].batch_start = -1;
}
