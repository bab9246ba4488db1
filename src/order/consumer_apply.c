/*
 * consumer_apply: what the consume loop does with a batch of records.
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
 * Dead letters are written synchronously (acks=all) before the position moves;
 * the transaction is committed right after, so a crash between the two can at
 * worst dead-letter a record twice, never lose it.
 */
#include "consumer_int.h"
#include "clock.h"
#include "order_metrics.h"

#include "log.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#define CONSUMER_SEEK_TIMEOUT_MS 5000

/* what: a short prefix ("store", "kafka"), or NULL. */
void consumer_set_error(order_consumer *c, const char *what, const char *detail)
{
    snprintf(c->last_error, sizeof c->last_error, "%s%s%s", what ? what : "", what ? ": " : "",
             detail);
}

/* Pauses partition p and seeks it to offset: its records come again on resume. */
static void part_rewind(order_consumer *c, int32_t p, int64_t offset, int64_t delay_ms)
{
    part_state *ps = &c->parts[p];
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    if (!l) {
        log_error("rewind: out of memory");
        return;
    }
    rd_kafka_topic_partition_list_add(l, c->cfg.topic, p)->offset = offset;
    rd_kafka_resp_err_t e = rd_kafka_pause_partitions(c->rk, l);
    if (e)
        log_error("pause %s[%d]: %s", c->cfg.topic, p, rd_kafka_err2str(e));
    rd_kafka_error_t *se = rd_kafka_seek_partitions(c->rk, l, CONSUMER_SEEK_TIMEOUT_MS);
    if (se) {
        log_error("seek %s[%d] to %lld: %s", c->cfg.topic, p, (long long)offset,
                  rd_kafka_error_string(se));
        rd_kafka_error_destroy(se);
    } else if (l->elems[0].err) {
        log_error("seek %s[%d] to %lld: %s", c->cfg.topic, p, (long long)offset,
                  rd_kafka_err2str(l->elems[0].err));
    }
    rd_kafka_topic_partition_list_destroy(l);
    ps->waiting = 1;
    ps->resume_at_ms = clock_mono_ms() + delay_ms;
}

/* Commits the positions that moved; async in the loop, sync when leaving. */
void consumer_kafka_commit(order_consumer *c, int async)
{
    rd_kafka_topic_partition_list_t *l = NULL;
    for (int p = 0; p < c->nparts; p++) {
        part_state *ps = &c->parts[p];
        if (!ps->assigned || !ps->moved || ps->next < 0)
            continue;
        if (!l && !(l = rd_kafka_topic_partition_list_new(c->nparts)))
            return;
        rd_kafka_topic_partition_list_add(l, c->cfg.topic, p)->offset = ps->next;
        ps->moved = 0;
    }
    if (!l)
        return;
    rd_kafka_resp_err_t e = rd_kafka_commit(c->rk, l, async);
    /* Not fatal: the store holds the truth; Kafka's offsets only help a fresh store. */
    if (e && e != RD_KAFKA_RESP_ERR__NO_OFFSET)
        log_warn("offset commit: %s", rd_kafka_err2str(e));
    rd_kafka_topic_partition_list_destroy(l);
}

/* ---- failure handling --------------------------------------------------- */

/*
 * Counts a failure of record fail_offset and rewinds the partition to
 * seek_offset for the backoff. Returns 1 when the partition waits, 0 when a
 * processing failure has used up its retries (nothing rewound).
 */
static int part_fail(order_consumer *c, int32_t p, int64_t fail_offset, int64_t seek_offset,
                     int infra, const char *why)
{
    part_state *ps = &c->parts[p];
    if (ps->fail_offset == fail_offset) {
        ps->attempts++;
    } else {
        ps->fail_offset = fail_offset;
        ps->attempts = 1;
        ps->poison = 0;
    }
    if (!infra && ps->attempts > c->cfg.max_retries)
        return 0;
    int64_t delay = order_backoff_for(&c->cfg, ps->attempts);
    log_warn("%s[%d] offset %lld failed (%s, attempt %d): %s; retrying in %lld ms", c->cfg.topic, p,
             (long long)fail_offset, infra ? "infrastructure" : "processing", ps->attempts, why,
             (long long)delay);
    consumer_set_error(c, NULL, why);
    c->retries++;
    order_metrics_retry_scheduled(delay);
    part_rewind(c, p, seek_offset, delay);
    return 1;
}

static void part_succeeded(part_state *ps, int64_t offset)
{
    ps->next = offset + 1;
    ps->moved = 1;
    if (ps->fail_offset == offset) {
        ps->fail_offset = -1;
        ps->attempts = 0;
        ps->poison = 0;
    }
}

/* After a successful store commit: the transaction's effects now count. */
static void txn_committed(order_consumer *c)
{
    c->orders += c->txn_orders;
    c->applied += c->txn_applied;
    c->txn_orders = 0;
    c->txn_applied = 0;
}

static handle_result dead_letter(order_consumer *c, const rd_kafka_message_t *m,
                                 const char *category, const char *reason, const char *message,
                                 int retries)
{
    char err[256];
    dlq_info d;
    rd_kafka_timestamp_type_t tt;
    dlq_info_init(&d, category, reason, message, retries, c->cfg.topic, m->partition, m->offset,
                  rd_kafka_message_timestamp(m, &tt), clock_wall_ms());
    if (dlq_send(c->dlq, m->key, m->key_len, m->payload, m->len, &d, err, sizeof err) != 0) {
        part_fail(c, m->partition, m->offset, m->offset, 1, err);
        return H_PART_WAIT;
    }
    /* Acknowledged: now, and only now, the position may move past the record. */
    store_status s = store_mark(c->st, c->cfg.topic, m->partition, m->offset, err, sizeof err);
    if (s == STORE_OK || s == STORE_SKIPPED) {
        s = store_commit(c->st, err, sizeof err);
        if (s == STORE_OK)
            txn_committed(c);
    }
    if (s == STORE_OK)
        s = store_begin(c->st, err, sizeof err);
    if (s != STORE_OK) {
        c->store_fail_part = m->partition;
        c->store_fail_offset = m->offset;
        c->store_fail_internal = 0;
        snprintf(c->store_err, sizeof c->store_err, "%s", err);
        return H_STORE_FAIL;
    }
    part_succeeded(&c->parts[m->partition], m->offset);
    c->dead_lettered++;
    order_metrics_dead_lettered(reason);
    log_warn("dead-lettered %s[%d] offset %lld: %s %s", c->cfg.topic, m->partition,
             (long long)m->offset, reason, message);
    return H_NEXT;
}

static handle_result processing_failed(order_consumer *c, const rd_kafka_message_t *m,
                                       const char *why)
{
    if (part_fail(c, m->partition, m->offset, m->offset, 0, why))
        return H_PART_WAIT;
    return dead_letter(c, m, DLQ_RETRY_THEN, DLQ_R_PROCESSING, why, c->cfg.max_retries);
}

/* Test-only failure injection (ORDER_TEST_FAIL_PREFIX / ORDER_TEST_FAIL_TIMES). */
static int inject_failure(order_consumer *c, const part_state *ps, int64_t offset)
{
    const char *prefix = c->cfg.test_fail_prefix;
    if (!prefix || !*prefix || strncmp(c->ev.order_id, prefix, strlen(prefix)) != 0)
        return 0;
    int failed_before = ps->fail_offset == offset ? ps->attempts : 0;
    return failed_before < c->cfg.test_fail_times;
}

static handle_result handle(order_consumer *c, const rd_kafka_message_t *m)
{
    part_state *ps = &c->parts[m->partition];
    if (ps->next >= 0 && m->offset < ps->next) {
        c->skipped++;
        return H_NEXT;
    }
    char msg[DLQ_MESSAGE_MAX + 1];
    if (ps->poison && ps->fail_offset == m->offset) {
        snprintf(msg, sizeof msg, "the store keeps rejecting the event: %s", c->store_err);
        return dead_letter(c, m, DLQ_RETRY_THEN, DLQ_R_PROCESSING, msg, c->cfg.max_retries);
    }
    proc_result r;
    order_decode(c->dec, m->payload, m->len, &c->ev, &r);
    if (r.kind == PROC_EVENT && inject_failure(c, ps, m->offset)) {
        r.kind = PROC_FAILED;
        snprintf(r.message, sizeof r.message, "injected test failure (ORDER_TEST_FAIL_PREFIX)");
    }
    switch (r.kind) {
    case PROC_RETRY_INFRA:
        part_fail(c, m->partition, m->offset, m->offset, 1, r.message);
        return H_PART_WAIT;
    case PROC_FAILED:
        return processing_failed(c, m, r.message);
    case PROC_DLQ:
        return dead_letter(c, m, DLQ_NO_RETRY, r.reason, r.message, 0);
    case PROC_EVENT:
        break;
    }
    char err[256] = "";
    store_status s =
        store_apply(c->st, c->cfg.topic, m->partition, m->offset, &c->ev, err, sizeof err);
    switch (s) {
    case STORE_OK:
        part_succeeded(ps, m->offset);
        order_metrics_event_applied(c->ev.timestamp_ms, clock_wall_ms());
        c->txn_applied++;
        if (c->ev.type == ORDER_EVENT_CREATE)
            c->txn_orders++;
        return H_NEXT;
    case STORE_SKIPPED:
        c->skipped++;
        return H_NEXT;
    case STORE_DUPLICATE:
        snprintf(msg, sizeof msg, "order %s already exists", c->ev.order_id);
        return dead_letter(c, m, DLQ_NO_RETRY, DLQ_R_DUPLICATE, msg, 0);
    case STORE_NOT_FOUND:
        snprintf(msg, sizeof msg, "order %s does not exist", c->ev.order_id);
        return dead_letter(c, m, DLQ_NO_RETRY, DLQ_R_NOT_FOUND, msg, 0);
    case STORE_ERR_IO:
    case STORE_ERR_INTERNAL:
    case STORE_FENCED: /* store_commit() only */
        break;
    }
    c->store_fail_part = m->partition;
    c->store_fail_offset = m->offset;
    c->store_fail_internal = s == STORE_ERR_INTERNAL;
    snprintf(c->store_err, sizeof c->store_err, "%s", err);
    return H_STORE_FAIL;
}

/* Rolls the batch back; every partition in it rewinds and waits. */
static void store_failure(order_consumer *c)
{
    store_rollback(c->st);
    c->txn_orders = 0;
    c->txn_applied = 0;
    c->store_ok = 0;
    consumer_set_error(c, "store", c->store_err);
    log_error("store failure, batch rolled back: %s", c->store_err);
    for (int p = 0; p < c->nparts; p++) {
        part_state *ps = &c->parts[p];
        if (!ps->assigned || ps->batch_start < 0)
            continue;
        int64_t next = -1;
        char e[256];
        store_status s = store_get_position(c->st, c->cfg.topic, p, &next, e, sizeof e);
        ps->next = s == STORE_OK ? next : -1;
        ps->moved = 0;
        int64_t target = ps->next > ps->batch_start ? ps->next : ps->batch_start;
        int internal = c->store_fail_internal && p == c->store_fail_part;
        int64_t failed = p == c->store_fail_part ? c->store_fail_offset : target;
        if (!part_fail(c, p, failed, target, !internal, c->store_err)) {
            ps->poison = 1; /* retries used up: dead-letter it when it comes again */
            part_rewind(c, p, target, 0);
        }
    }
}

void consumer_process_batch(order_consumer *c)
{
    for (int i = 0; i < c->nbatch; i++) {
        const rd_kafka_message_t *m = c->batch[i];
        if (!m->err && m->partition >= 0 && m->partition < c->nparts &&
            c->parts[m->partition].batch_start < 0)
            c->parts[m->partition].batch_start = m->offset;
    }
    char err[256];
    if (store_begin(c->st, err, sizeof err) != STORE_OK) {
        snprintf(c->store_err, sizeof c->store_err, "%s", err);
        c->store_fail_part = -1;
        c->store_fail_internal = 0;
        store_failure(c);
        goto out;
    }
    /* Keys are orderIds: a server store looks them all up in one round trip. */
    for (int i = 0; i < c->nbatch; i++)
        if (!c->batch[i]->err && c->batch[i]->key)
            store_hint_order(c->st, c->batch[i]->key, c->batch[i]->key_len);
    for (int i = 0; i < c->nbatch; i++) {
        const rd_kafka_message_t *m = c->batch[i];
        if (m->err) {
            if (m->err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN)
                c->brokers_down = 1;
            if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                log_warn("consumer: %s", rd_kafka_message_errstr(m));
                consumer_set_error(c, "kafka", rd_kafka_message_errstr(m));
            }
            continue;
        }
        if (m->partition < 0 || m->partition >= c->nparts)
            continue;
        part_state *ps = &c->parts[m->partition];
        if (!ps->assigned || ps->waiting)
            continue; /* it was sought back: the record comes again */
        c->consumed++;
        if (handle(c, m) == H_STORE_FAIL) {
            store_failure(c);
            goto out;
        }
    }
    if (store_commit(c->st, err, sizeof err) != STORE_OK) {
        snprintf(c->store_err, sizeof c->store_err, "%s", err);
        c->store_fail_part = -1;
        c->store_fail_internal = 0;
        store_failure(c);
        goto out;
    }
    c->store_ok = 1;
    txn_committed(c);
    consumer_kafka_commit(c, 1);
out:
    for (int p = 0; p < c->nparts; p++)
        c->parts[p].batch_start = -1;
}
