/*
 * consumer: the consume/apply loop (see consumer.h).
 *
 * Exactly-once into the store: every applied or dead-lettered record moves
 * the store's (partition -> next offset) inside the same transaction as its
 * effect, and the store refuses records below that position. Kafka's
 * committed offsets are only a hint for a fresh store; on assignment each
 * partition is sought to the store's position.
 *
 * Batching: records are first collected (up to CONSUMER_BATCH_MAX, waiting
 * at most CONSUMER_BATCH_WAIT_MS), then applied in one transaction. A
 * rebalance can only happen while collecting (inside rd_kafka_consumer_poll),
 * never in the middle of a transaction; it drops the records collected so far
 * (they are fetched again from the store's positions).
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
#include "consumer.h"

#include "dlq.h"
#include "kafka_util.h"
#include "log.h"
#include "order_process.h"
#include "store.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CONSUMER_TICK_MS 1000
#define CONSUMER_DLQ_TIMEOUT_MS 10000
#define CONSUMER_SEEK_TIMEOUT_MS 5000

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
} part_state;

typedef enum { H_NEXT, H_PART_WAIT, H_STORE_FAIL } handle_result;

struct order_consumer {
    order_settings cfg;
    store *st;
    order_decoder *dec;
    rd_kafka_t *rk;
    dlq_producer *dlq;
    pthread_t thread;
    int started;
    atomic_int stop;

    part_state *parts;
    int nparts;
    rd_kafka_message_t **batch;
    int nbatch;
    order_event ev;

    /* the record whose store failure aborted the batch */
    int32_t store_fail_part;
    int64_t store_fail_offset;
    int store_fail_internal;
    char store_err[256];

    int64_t next_tick_ms;
    int subscribed, store_ok, kafka_ok;
    int brokers_down; /* librdkafka reported all brokers down; cleared by a probe */
    int64_t orders;
    uint64_t consumed, applied, skipped, dead_lettered, retries;
    /* effects of the open transaction, counted only once it commits */
    int64_t txn_orders;
    uint64_t txn_applied;
    char last_error[256];

    pthread_mutex_t mu;
    consumer_status snap;
};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* what: a short prefix ("store", "kafka"), or NULL. */
static void set_error(order_consumer *c, const char *what, const char *detail)
{
    snprintf(c->last_error, sizeof c->last_error, "%s%s%s", what ? what : "", what ? ": " : "",
             detail);
}

static part_state *part_get(order_consumer *c, int32_t p)
{
    if (p < 0)
        return NULL;
    if (p >= c->nparts) {
        int n = p + 1;
        part_state *np = realloc(c->parts, (size_t)n * sizeof *np);
        if (!np)
            return NULL;
        for (int i = c->nparts; i < n; i++) {
            memset(&np[i], 0, sizeof np[i]);
            np[i].next = -1;
            np[i].batch_start = -1;
            np[i].fail_offset = -1;
        }
        c->parts = np;
        c->nparts = n;
    }
    return &c->parts[p];
}

/* ---- Kafka helpers ---------------------------------------------------- */

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
    ps->resume_at_ms = mono_ms() + delay_ms;
}

static void resume_due(order_consumer *c)
{
    int64_t now = mono_ms();
    rd_kafka_topic_partition_list_t *l = NULL;
    for (int p = 0; p < c->nparts; p++) {
        part_state *ps = &c->parts[p];
        if (!ps->assigned || !ps->waiting || now < ps->resume_at_ms)
            continue;
        if (!l && !(l = rd_kafka_topic_partition_list_new(4)))
            return;
        rd_kafka_topic_partition_list_add(l, c->cfg.topic, p);
        ps->waiting = 0;
        log_info("resuming %s[%d] at offset %lld (attempt %d)", c->cfg.topic, p,
                 (long long)ps->fail_offset, ps->attempts + 1);
    }
    if (!l)
        return;
    rd_kafka_resp_err_t e = rd_kafka_resume_partitions(c->rk, l);
    if (e)
        log_error("resume: %s", rd_kafka_err2str(e));
    rd_kafka_topic_partition_list_destroy(l);
}

/* Commits the positions that moved; async in the loop, sync when leaving. */
static void kafka_commit(order_consumer *c, int async)
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

static void drop_batch(order_consumer *c)
{
    for (int i = 0; i < c->nbatch; i++)
        rd_kafka_message_destroy(c->batch[i]);
    c->nbatch = 0;
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    order_consumer *c = opaque;
    drop_batch(c);
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        for (int i = 0; i < parts->cnt; i++) {
            rd_kafka_topic_partition_t *tp = &parts->elems[i];
            part_state *ps = part_get(c, tp->partition);
            if (!ps) {
                log_error("assign: out of memory");
                continue;
            }
            int64_t next = -1;
            char e[256] = "";
            store_status s =
                store_get_position(c->st, c->cfg.topic, tp->partition, &next, e, sizeof e);
            if (s == STORE_OK)
                tp->offset = next; /* resume exactly where the store is */
            else if (s != STORE_NOT_FOUND)
                log_error("assign: reading position: %s", e);
            memset(ps, 0, sizeof *ps);
            ps->assigned = 1;
            ps->next = s == STORE_OK ? next : -1;
            ps->batch_start = -1;
            ps->fail_offset = -1;
            log_info("assigned %s[%d] from %s %lld", c->cfg.topic, tp->partition,
                     s == STORE_OK ? "store offset" : "committed/earliest", (long long)next);
        }
        rd_kafka_resp_err_t e = rd_kafka_assign(rk, parts);
        if (e)
            log_error("assign: %s", rd_kafka_err2str(e));
    } else {
        if (err != RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS)
            log_warn("rebalance error: %s", rd_kafka_err2str(err));
        kafka_commit(c, 0);
        for (int p = 0; p < c->nparts; p++) {
            c->parts[p].assigned = 0;
            c->parts[p].waiting = 0;
        }
        log_info("partitions revoked (%d)", parts ? parts->cnt : 0);
        (void)rd_kafka_assign(rk, NULL);
    }
}

/* Served from rd_kafka_consumer_poll on the consumer thread (poll_set_consumer). */
static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    order_consumer *c = opaque;
    (void)rk;
    if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN)
        c->brokers_down = 1;
    set_error(c, "kafka", reason);
    log_msg(err == RD_KAFKA_RESP_ERR__TRANSPORT ? LOG_WARN : LOG_ERROR, "kafka", NULL,
            "consumer: %s: %s", rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
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
    set_error(c, NULL, why);
    c->retries++;
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
                  rd_kafka_message_timestamp(m, &tt), wall_ms());
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
    set_error(c, "store", c->store_err);
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

static void process_batch(order_consumer *c)
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
    for (int i = 0; i < c->nbatch; i++) {
        const rd_kafka_message_t *m = c->batch[i];
        if (m->err) {
            if (m->err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN)
                c->brokers_down = 1;
            if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                log_warn("consumer: %s", rd_kafka_message_errstr(m));
                set_error(c, "kafka", rd_kafka_message_errstr(m));
            }
            continue;
        }
        if (m->partition < 0 || m->partition >= c->nparts)
            continue;
        part_state *ps = &c->parts[m->partition];
        if (!ps->assigned || ps->waiting)
            continue; /* it was sought back: the record comes again */
        c->consumed++;
        c->brokers_down = 0;
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
    kafka_commit(c, 1);
out:
    for (int p = 0; p < c->nparts; p++)
        c->parts[p].batch_start = -1;
}

/* ---- the loop ------------------------------------------------------------ */

static void poll_batch(order_consumer *c)
{
    int64_t first = 0;
    while (c->nbatch < c->cfg.batch_max && !atomic_load(&c->stop)) {
        /* Idle: wake up now and then for resumes and shutdown. Filling: take
         * what is queued without waiting, and only when the queue runs dry
         * wait out the rest of the batch wait (no clock read per record). */
        rd_kafka_message_t *m = rd_kafka_consumer_poll(c->rk, c->nbatch == 0 ? 100 : 0);
        if (!m && c->nbatch > 0) {
            int64_t left = first + c->cfg.batch_wait_ms - mono_ms();
            if (left > 0)
                m = rd_kafka_consumer_poll(c->rk, (int)left);
        }
        if (!m)
            break;
        if (c->nbatch == 0)
            first = mono_ms();
        c->batch[c->nbatch++] = m; /* a rebalance inside poll may have emptied the batch */
    }
}

static void publish_status(order_consumer *c)
{
    consumer_status s;
    memset(&s, 0, sizeof s);
    s.running = !atomic_load(&c->stop);
    s.subscribed = c->subscribed;
    s.store_ok = c->store_ok;
    s.kafka_ok = c->kafka_ok && !c->brokers_down;
    s.lag = 0;
    for (int p = 0; p < c->nparts; p++) {
        const part_state *ps = &c->parts[p];
        if (!ps->assigned)
            continue;
        if (s.nassigned < CONSUMER_STATUS_PARTS)
            s.assigned[s.nassigned] = p;
        s.nassigned++;
        if (ps->waiting)
            s.nwaiting++;
        int64_t lo = -1, hi = -1;
        if (rd_kafka_get_watermark_offsets(c->rk, c->cfg.topic, p, &lo, &hi) || hi < 0 ||
            s.lag < 0) {
            s.lag = -1;
            continue;
        }
        int64_t pos = ps->next >= 0 ? ps->next : lo;
        if (hi > pos)
            s.lag += hi - pos;
    }
    if (s.nassigned > CONSUMER_STATUS_PARTS)
        s.nassigned = CONSUMER_STATUS_PARTS;
    s.orders = c->orders;
    s.consumed = c->consumed;
    s.applied = c->applied;
    s.skipped = c->skipped;
    s.dead_lettered = c->dead_lettered;
    s.retries = c->retries;
    snprintf(s.last_error, sizeof s.last_error, "%s", c->last_error);
    pthread_mutex_lock(&c->mu);
    c->snap = s;
    pthread_mutex_unlock(&c->mu);
}

static void sleep_ms_interruptible(order_consumer *c, int64_t ms)
{
    int64_t until = mono_ms() + ms;
    while (!atomic_load(&c->stop) && mono_ms() < until) {
        struct timespec ts = {0, 50 * 1000000L};
        nanosleep(&ts, NULL);
    }
}

/* Clears brokers_down once a broker answers again (an idle consumer gets no record to tell). */
static void probe_brokers(order_consumer *c)
{
    const struct rd_kafka_metadata *md = NULL;
    if (rd_kafka_metadata(c->rk, 0, NULL, &md, 500) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        c->brokers_down = 0;
        log_info("a Kafka broker answers again");
    }
    if (md)
        rd_kafka_metadata_destroy(md);
}

static int start_consuming(order_consumer *c)
{
    kafka_topic_spec specs[2] = {
        {c->cfg.topic, c->cfg.topic_partitions, c->cfg.topic_replication,
         c->cfg.topic_retention_ms},
        {c->cfg.dlq_topic, c->cfg.dlq_partitions, c->cfg.topic_replication,
         c->cfg.dlq_retention_ms},
    };
    char err[256];
    for (int attempt = 1; !atomic_load(&c->stop); attempt++) {
        if (kafka_topics_ensure(dlq_producer_handle(c->dlq), specs, 2, 10000, err, sizeof err) == 0)
            break;
        set_error(c, "topics", err);
        publish_status(c);
        log_warn("ensuring topics failed (attempt %d): %s", attempt, err);
        sleep_ms_interruptible(c, order_backoff_for(&c->cfg, attempt));
    }
    if (atomic_load(&c->stop))
        return -1;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    if (!l)
        return -1;
    rd_kafka_topic_partition_list_add(l, c->cfg.topic, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t e = rd_kafka_subscribe(c->rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    if (e) {
        set_error(c, "subscribe", rd_kafka_err2str(e));
        log_error("subscribe %s: %s", c->cfg.topic, rd_kafka_err2str(e));
        return -1;
    }
    c->subscribed = 1;
    c->last_error[0] = '\0';
    log_info("consuming %s as group %s", c->cfg.topic, c->cfg.group_id);
    return 0;
}

static void *consumer_main(void *arg)
{
    order_consumer *c = arg;
    if (start_consuming(c) == 0) {
        while (!atomic_load(&c->stop)) {
            resume_due(c);
            poll_batch(c);
            int worked = c->nbatch > 0;
            if (worked) {
                process_batch(c);
                drop_batch(c);
            }
            char fe[256];
            if (rd_kafka_fatal_error(c->rk, fe, sizeof fe)) {
                c->kafka_ok = 0;
                set_error(c, "kafka fatal", fe);
            }
            int64_t now = mono_ms();
            if (c->brokers_down && now >= c->next_tick_ms)
                probe_brokers(c);
            if (worked || now >= c->next_tick_ms) {
                publish_status(c);
                c->next_tick_ms = now + CONSUMER_TICK_MS;
            }
        }
        kafka_commit(c, 0);
        log_info("leaving the group");
        rd_kafka_resp_err_t e = rd_kafka_consumer_close(c->rk);
        if (e)
            log_warn("consumer close: %s", rd_kafka_err2str(e));
    }
    atomic_store(&c->stop, 1);
    publish_status(c);
    return NULL;
}

/* ---- lifecycle --------------------------------------------------------- */

order_consumer *consumer_new(const order_settings *cfg, char *err, size_t errlen)
{
    order_consumer *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    c->cfg = *cfg;
    c->kafka_ok = 1;
    c->store_ok = 1;
    atomic_init(&c->stop, 0);
    pthread_mutex_init(&c->mu, NULL);
    c->batch = calloc((size_t)cfg->batch_max, sizeof *c->batch);
    if (!c->batch) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    c->st = store_open(cfg->store_path, 0, err, errlen);
    if (!c->st)
        goto fail;
    if (store_count_orders(c->st, &c->orders, err, errlen) != STORE_OK)
        goto fail;
    if (cfg->test_store_max_pages > 0) {
        log_warn("TEST-ONLY: store capped at %lld pages (ORDER_TEST_STORE_MAX_PAGES)",
                 cfg->test_store_max_pages);
        if (store_limit_pages(c->st, cfg->test_store_max_pages, err, errlen) != STORE_OK)
            goto fail;
    }
    c->dec = order_decoder_new(cfg->registry_url, err, errlen);
    if (!c->dec)
        goto fail;

    const char *const cprops[][2] = {
        {"group.id", cfg->group_id},
        {"enable.auto.commit", "false"},
        {"enable.auto.offset.store", "false"},
        {"auto.offset.reset", "earliest"},
        {"enable.partition.eof", "false"},
        /* Low fetch wait: an idle partition answers within 10 ms (end-to-end latency). */
        {"fetch.wait.max.ms", "10"},
        /* A crashed instance's partitions move on within 10 s, not the default 45 s. */
        {"session.timeout.ms", "10000"},
        {"heartbeat.interval.ms", "2000"},
    };
    rd_kafka_conf_t *conf = order_kafka_conf(cfg->bootstrap, "order-service", cprops,
                                             sizeof cprops / sizeof cprops[0], err, errlen);
    if (!conf)
        goto fail;
    rd_kafka_conf_set_opaque(conf, c);
    rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb);
    rd_kafka_conf_set_error_cb(conf, error_cb);
    char kerr[256];
    c->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, kerr, sizeof kerr);
    if (!c->rk) {
        rd_kafka_conf_destroy(conf);
        snprintf(err, errlen, "consumer: %s", kerr);
        goto fail;
    }
    rd_kafka_resp_err_t e = rd_kafka_poll_set_consumer(c->rk);
    if (e) {
        snprintf(err, errlen, "consumer: %s", rd_kafka_err2str(e));
        goto fail;
    }
    rd_kafka_conf_t *pconf =
        order_kafka_conf(cfg->bootstrap, "order-service-dlq", NULL, 0, err, errlen);
    if (!pconf)
        goto fail;
    c->dlq = dlq_producer_new(pconf, cfg->dlq_topic, CONSUMER_DLQ_TIMEOUT_MS, err, errlen);
    if (!c->dlq)
        goto fail;
    publish_status(c);
    return c;
fail:
    consumer_free(c);
    return NULL;
}

int consumer_start(order_consumer *c, char *err, size_t errlen)
{
    int rc = pthread_create(&c->thread, NULL, consumer_main, c);
    if (rc != 0) {
        snprintf(err, errlen, "consumer thread: %s", strerror(rc));
        return -1;
    }
    c->started = 1;
    return 0;
}

void consumer_stop(order_consumer *c)
{
    if (!c)
        return;
    atomic_store(&c->stop, 1);
    if (c->started) {
        pthread_join(c->thread, NULL);
        c->started = 0;
    }
}

void consumer_free(order_consumer *c)
{
    if (!c)
        return;
    consumer_stop(c);
    drop_batch(c);
    if (c->rk)
        rd_kafka_destroy(c->rk);
    dlq_producer_free(c->dlq);
    order_decoder_free(c->dec);
    store_close(c->st);
    free(c->batch);
    free(c->parts);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

void consumer_get_status(order_consumer *c, consumer_status *out)
{
    pthread_mutex_lock(&c->mu);
    *out = c->snap;
    pthread_mutex_unlock(&c->mu);
}
