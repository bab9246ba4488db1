/*
 * consumer: the consume loop's thread and lifecycle (see consumer.h for the
 * model), and the Kafka side of applying: it turns librdkafka messages into
 * apply_records and serves apply_ops (dead-letter writes, pause + rewind,
 * offset commits). The per-record decisions, retries and the batch
 * transaction live in apply.c; group membership (rebalances, the group's
 * description, the one-SQLite-instance check) in consumer_group.c; the
 * Kafka clients' settings in consumer_kafka.c.
 *
 * Batching: records are first collected (up to CONSUMER_BATCH_MAX, waiting
 * at most CONSUMER_BATCH_WAIT_MS), then applied in one transaction. A
 * rebalance can only happen while collecting (inside rd_kafka_consumer_poll),
 * never in the middle of a transaction; it drops the records collected so far
 * of the partitions that leave. On assignment every partition is sought to
 * the store's position (or its beginning when the store has none), so
 * Kafka's committed offsets are never what decides where to start.
 */
#include "ingest/consumer_int.h"

#include "ingest/decode_ahead.h"

#include "platform/clock.h"
#include "platform/kafka_util.h"
#include "platform/log.h"

#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* what: a short prefix ("store", "kafka"), or NULL. */
void consumer_set_error(order_consumer *c, const char *what, const char *detail)
{
    snprintf(c->last_error, sizeof c->last_error, "%s%s%s", what ? what : "", what ? ": " : "",
             detail);
}

/* ---- apply_ops: the Kafka side of apply.c ------------------------------ */

static int op_dead_letter(void *arg, const apply_record *r, const dlq_info *d, char *err,
                          size_t errlen)
{
    order_consumer *c = arg;
    return dlq_writer_send(c->dlq, r->key, r->key_len, r->value, r->value_len, d, err, errlen);
}

static int op_rewind(void *arg, int32_t p, int64_t offset)
{
    order_consumer *c = arg;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    if (!l) {
        log_error("rewind: out of memory");
        return -1;
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
    return 0;
}

static void op_commit(void *arg)
{
    order_consumer *c = arg;
    order_status_committed(c->board); /* readers waiting for these writes look now */
}

/* Test-only (ORDER_TEST_COMMIT_DELAY_MS): holds the batch before its commit. */
static void op_before_commit(void *arg)
{
    order_consumer *c = arg;
    log_warn("TEST-ONLY: holding the batch %d ms before its commit", c->cfg.test_commit_delay_ms);
    struct timespec ts = {c->cfg.test_commit_delay_ms / 1000,
                          (long)(c->cfg.test_commit_delay_ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

static void op_kafka_error(void *arg, const apply_record *r)
{
    order_consumer *c = arg;
    if (r->err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN)
        c->brokers_down = 1;
    if (r->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        log_warn("consumer: %s", r->errstr);
        consumer_set_error(c, "kafka", r->errstr);
    }
}

/* The cart's trace context (apply.c validates it), from the record's headers:
 * librdkafka parses them all into a list (a calloc and ~1,000 instructions),
 * so only for a record that logs a line or is dead-lettered. */
static int op_traceparent(void *arg, const apply_record *r, const char **tp, size_t *len)
{
    (void)arg;
    const rd_kafka_message_t *m = r->src;
    rd_kafka_headers_t *h = NULL;
    const void *v = NULL;
    size_t n = 0;
    if (!m || m->err || rd_kafka_message_headers(m, &h) != RD_KAFKA_RESP_ERR_NO_ERROR ||
        rd_kafka_header_get_last(h, "traceparent", &v, &n) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return -1;
    *tp = v;
    *len = n;
    return 0;
}

static void op_set_error(void *arg, const char *what, const char *detail)
{
    consumer_set_error(arg, what, detail);
}

/* ---- Kafka helpers ---------------------------------------------------- */

static void resume_due(order_consumer *c)
{
    int64_t now = clock_mono_ms();
    rd_kafka_topic_partition_list_t *l = NULL;
    for (int p = 0; p < c->ap.nparts; p++) {
        apply_part *ps = &c->ap.parts[p];
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

void consumer_drop_batch(order_consumer *c)
{
    for (int i = 0; i < c->nbatch; i++)
        rd_kafka_message_destroy(c->batch[i]);
    c->nbatch = 0;
}

/* ---- the loop ------------------------------------------------------------ */

/*
 * The fetched queue ran dry right after a full batch: catch-up outran the
 * prefetch (queued.max.messages.kbytes), and librdkafka would fetch the
 * stopped partitions again only at its next wake-up (kafka_wake_fetcher;
 * bench/profile-notes.md). Once per such batch: at most one round trip per
 * partition per CONSUMER_BATCH_MAX records, and never for a live trickle,
 * whose batches are not full.
 */
static void wake_fetchers(order_consumer *c)
{
    for (int p = 0; p < c->ap.nparts; p++) {
        const apply_part *ps = &c->ap.parts[p];
        if (!ps->assigned || ps->waiting)
            continue;
        kafka_wake_fetcher(c->rk, c->cfg.topic, p, CONSUMER_WAKE_TIMEOUT_MS);
        c->fetch_wakes++;
    }
}

static void poll_batch(order_consumer *c)
{
    int64_t first = 0;
    int after_full = c->last_batch_full;
    while (c->nbatch < c->cfg.batch_max && !atomic_load(&c->stop)) {
        /* Idle: wake up now and then for resumes and shutdown. Filling: take
         * what is queued without waiting. When the queue runs dry the batch
         * is applied at once (CONSUMER_BATCH_WAIT_MS 0, the default): a
         * backlog keeps librdkafka's queue full, so catch-up batches stay at
         * CONSUMER_BATCH_MAX, while a trickle is committed as it comes instead
         * of waiting out an interval (end-to-end latency, issue 15). A
         * positive wait trades that latency for fewer, larger transactions.
         * Right after a full batch even the first look does not wait: a
         * queue that the full batch emptied wakes the fetchers at once. */
        int wait_ms = c->nbatch == 0 && !after_full ? 100 : 0;
        rd_kafka_message_t *m = rd_kafka_consumer_poll(c->rk, wait_ms);
        if (!m && c->nbatch > 0 && c->cfg.batch_wait_ms > 0) {
            int64_t left = first + c->cfg.batch_wait_ms - clock_mono_ms();
            if (left > 0)
                m = rd_kafka_consumer_poll(c->rk, (int)left);
        }
        if (!m) {
            if (after_full)
                wake_fetchers(c);
            break;
        }
        if (c->nbatch == 0 && c->cfg.batch_wait_ms > 0)
            first = clock_mono_ms();
        c->batch[c->nbatch++] = m; /* a rebalance inside poll may have emptied the batch */
    }
    c->last_batch_full = c->nbatch >= c->cfg.batch_max;
}

/* The batch as plain records (pointers into the messages, valid until drop_batch). */
static const apply_record *to_records(order_consumer *c)
{
    for (int i = 0; i < c->nbatch; i++) {
        const rd_kafka_message_t *m = c->batch[i];
        apply_record *r = &c->recs[i];
        memset(r, 0, sizeof *r);
        r->err = m->err;
        r->errstr = m->err ? rd_kafka_message_errstr(m) : NULL;
        r->partition = m->partition;
        r->offset = m->offset;
        rd_kafka_timestamp_type_t tt;
        r->timestamp_ms = m->err ? -1 : rd_kafka_message_timestamp(m, &tt);
        r->key = m->key;
        r->key_len = m->key_len;
        r->value = m->payload;
        r->value_len = m->len;
        r->src = m; /* its headers are parsed only if apply.c asks (op_traceparent) */
    }
    return c->recs;
}

/*
 * What partition p still has to consume: from the next offset to apply (or,
 * with none yet, the partition's start) to its end. Watermarks come from the
 * fetches, else from the query at assignment. An empty or fully consumed
 * partition is 0; -1 when the end is not known.
 */
static int64_t consumer_part_lag(order_consumer *c, int32_t p, const apply_part *ps)
{
    int64_t lo = -1, hi = -1;
    if (rd_kafka_get_watermark_offsets(c->rk, c->cfg.topic, p, &lo, &hi) || hi < 0) {
        lo = ps->low;
        hi = ps->high;
    }
    if (lo < 0)
        lo = ps->low;
    if (hi < 0)
        return -1;
    int64_t pos = ps->next >= 0 ? ps->next : lo;
    if (pos < 0)
        return hi == 0 ? 0 : -1;
    return hi > pos ? hi - pos : 0;
}

static void publish_status(order_consumer *c)
{
    order_status s;
    memset(&s, 0, sizeof s);
    s.running = !atomic_load(&c->stop);
    s.subscribed = c->subscribed;
    s.store_ok = c->ap.store_ok;
    s.kafka_ok = c->kafka_ok && !c->brokers_down;
    s.lag = 0;
    int64_t position = 0; /* moves whenever a partition's next offset does */
    for (int p = 0; p < c->ap.nparts; p++) {
        const apply_part *ps = &c->ap.parts[p];
        if (!ps->assigned)
            continue;
        position += (ps->next >= 0 ? ps->next : 0) + (int64_t)p * 1000003;
        int slot = s.nassigned < ORDER_STATUS_PARTS ? s.nassigned : -1;
        if (slot >= 0) {
            s.assigned[slot] = p;
            s.part_lag[slot] = -1;
        }
        s.nassigned++;
        if (ps->waiting)
            s.nwaiting++;
        if (slot >= 0) {
            s.part_lost[slot] = ps->history_lost;
            s.part_waiting[slot] = ps->waiting;
        }
        int64_t behind = consumer_part_lag(c, p, ps);
        if (slot >= 0)
            s.part_lag[slot] = behind;
        if (behind < 0)
            s.lag = -1;
        else if (s.lag >= 0)
            s.lag += behind;
    }
    s.stalled_ms = order_stall_update(&c->stall, clock_mono_ms(), s.lag, position);
    if (s.nassigned > ORDER_STATUS_PARTS)
        s.nassigned = ORDER_STATUS_PARTS;
    s.orders = c->ap.orders;
    s.consumed = c->ap.consumed;
    s.applied = c->ap.applied;
    s.skipped = c->ap.skipped;
    s.dead_lettered = c->ap.dead_lettered;
    s.retries = c->ap.retries;
    s.fetch_wakes = (uint64_t)c->fetch_wakes;
    s.offset_commits = (uint64_t)c->offset_commits;
    s.offset_commit_failures = (uint64_t)c->offset_commit_failures;
    s.fenced = c->ap.fenced;
    snprintf(s.group_state, sizeof s.group_state, "%s", c->group_state);
    s.group_members = c->group_members;
    snprintf(s.last_error, sizeof s.last_error, "%s", c->last_error);
    const char *rp = order_decoder_registry_problem(c->ap.dec);
    snprintf(s.registry_error, sizeof s.registry_error, "%s", rp ? rp : "");
    const char *dp = dlq_writer_problem(c->dlq);
    snprintf(s.dlq_error, sizeof s.dlq_error, "%s", dp ? dp : "");
    order_status_publish(c->board, &s);
}

void consumer_sleep_ms(order_consumer *c, int64_t ms)
{
    int64_t until = clock_mono_ms() + ms;
    while (!atomic_load(&c->stop) && clock_mono_ms() < until) {
        order_status_beat(c->board, clock_mono_ms()); /* waiting on purpose: alive */
        struct timespec ts = {0, 50 * 1000000L};
        nanosleep(&ts, NULL);
    }
}

/* Whether a broker answers now: the only thing that clears brokers_down
 * (an idle consumer gets no record to tell, a busy one may be reading records
 * fetched before the broker went away). Repeats every tick while in doubt. */
static void probe_brokers(order_consumer *c)
{
    const struct rd_kafka_metadata *md = NULL;
    if (rd_kafka_metadata(c->rk, 0, NULL, &md, 500) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        if (c->brokers_down)
            log_info("a Kafka broker answers again");
        c->brokers_down = 0;
        c->brokers_suspect = 0;
    } else {
        c->brokers_down = 1;
    }
    if (md)
        rd_kafka_metadata_destroy(md);
}

/* The registry URL is checked at start-up, and again while it fails (for /health). */
static void probe_registry(order_consumer *c, int at_start)
{
    char err[300];
    int was_failing = order_decoder_registry_problem(c->ap.dec) != NULL;
    if (order_decoder_check_registry(c->ap.dec, err, sizeof err) == 0) {
        if (was_failing)
            log_info("the schema registry answers again");
    } else if (at_start || !was_failing) {
        log_msg(LOG_ERROR, "registry", NULL, "schema registry check failed: %s", err);
    }
    c->next_registry_probe_ms = clock_mono_ms() + CONSUMER_REGISTRY_PROBE_MS;
}

static int start_consuming(order_consumer *c)
{
    kafka_topic_spec specs[2] = {
        {c->cfg.topic, c->cfg.topic_partitions, c->cfg.topic_replication, c->cfg.topic_retention_ms,
         c->cfg.topic_min_isr},
        {c->cfg.dlq_topic, c->cfg.dlq_partitions, c->cfg.topic_replication, c->cfg.dlq_retention_ms,
         c->cfg.topic_min_isr},
    };
    char err[256];
    probe_registry(c, 1);
    for (int attempt = 1; !atomic_load(&c->stop); attempt++) {
        order_status_beat(c->board, clock_mono_ms());
        if (kafka_topics_ensure(dlq_writer_handle(c->dlq), specs, 2, 10000, err, sizeof err) == 0)
            break;
        consumer_set_error(c, "topics", err);
        publish_status(c);
        log_warn("ensuring topics failed (attempt %d): %s", attempt, err);
        consumer_sleep_ms(c, order_config_backoff_for(&c->cfg, attempt));
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
        consumer_set_error(c, "subscribe", rd_kafka_err2str(e));
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
            order_status_beat(c->board, clock_mono_ms());
            resume_due(c);
            poll_batch(c);
            int worked = c->nbatch > 0;
            if (worked) {
                apply_batch(&c->ap, to_records(c), c->nbatch);
                consumer_drop_batch(c);
            }
            char fe[256];
            if (rd_kafka_fatal_error(c->rk, fe, sizeof fe)) {
                c->kafka_ok = 0;
                consumer_set_error(c, "kafka fatal", fe);
            }
            int64_t now = clock_mono_ms();
            if (now >= c->next_commit_ms) {
                consumer_kafka_commit(c, 1);
                c->next_commit_ms = now + CONSUMER_COMMIT_EVERY_MS;
            }
            if ((c->brokers_down || c->brokers_suspect) && now >= c->next_tick_ms)
                probe_brokers(c);
            if (order_decoder_registry_problem(c->ap.dec) && now >= c->next_registry_probe_ms)
                probe_registry(c, 0);
            if (dlq_writer_problem(c->dlq) && now >= c->next_tick_ms) {
                char de[300];
                (void)dlq_writer_recover(c->dlq, de, sizeof de); /* logs what it does */
            }
            int described = consumer_group_refresh(c);
            if (worked || described || now >= c->next_tick_ms) {
                publish_status(c);
                c->next_tick_ms = now + CONSUMER_TICK_MS;
            }
        }
        consumer_kafka_commit(c, 0);
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

order_consumer *consumer_new(const order_config *cfg, order_status_board *board, char *err,
                             size_t errlen)
{
    order_consumer *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    c->cfg = *cfg;
    c->board = board;
    c->kafka_ok = 1;
    c->group_members = -1;
    pthread_mutex_init(&c->group_mu, NULL);
    c->ap.cfg = &c->cfg;
    c->ap.store_ok = 1;
    c->ap.ops =
        (apply_ops){.dead_letter = op_dead_letter,
                    .rewind = op_rewind,
                    .commit = op_commit,
                    .before_commit = cfg->test_commit_delay_ms > 0 ? op_before_commit : NULL,
                    .kafka_error = op_kafka_error,
                    .set_error = op_set_error,
                    .traceparent = op_traceparent,
                    .arg = c};
    atomic_init(&c->stop, 0);
    c->batch = calloc((size_t)cfg->batch_max, sizeof *c->batch);
    c->recs = calloc((size_t)cfg->batch_max, sizeof *c->recs);
    if (!c->batch || !c->recs) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    c->ap.st = store_open(cfg->store_location, 0, err, errlen);
    if (!c->ap.st)
        goto fail;
    if (store_count_orders(c->ap.st, &c->ap.orders, err, errlen) != STORE_OK)
        goto fail;
    /* checkpoints off the commits that make events visible (store_sqlite_ckpt.c) */
    if (cfg->wal_checkpoint_pages > 0 &&
        store_checkpointer_start(c->ap.st, cfg->wal_checkpoint_pages, cfg->wal_max_pages, err,
                                 errlen) != STORE_OK)
        goto fail;
    if (cfg->test_store_max_pages > 0) {
        log_warn("TEST-ONLY: store capped at %lld pages (ORDER_TEST_STORE_MAX_PAGES)",
                 cfg->test_store_max_pages);
        if (store_limit_pages(c->ap.st, cfg->test_store_max_pages, err, errlen) != STORE_OK)
            goto fail;
    }
    c->ap.dec =
        order_decoder_new_with_reader(cfg->registry_url, cfg->reader_schema_json, err, errlen);
    if (!c->ap.dec)
        goto fail;
    if (cfg->decode_thread && !(c->ap.ahead = decode_ahead_new(c->ap.dec, err, errlen)))
        goto fail;
    c->ap.ahead_min_batch = DECODE_AHEAD_MIN_BATCH;

    if (consumer_kafka_open(c, err, errlen) != 0)
        goto fail;
    publish_status(c);
    return c;
fail:
    consumer_free(c);
    return NULL;
}

int consumer_start(order_consumer *c, char *err, size_t errlen)
{
    if (consumer_group_refuse_second_sqlite(c, err, errlen) != 0)
        return -1;
    order_status_beat(c->board, clock_mono_ms()); /* the thread's first turn is due now */
    int rc = pthread_create(&c->thread, NULL, consumer_main, c);
    if (rc != 0) {
        snprintf(err, errlen, "consumer thread: %s", strerror(rc));
        return -1;
    }
    c->started = 1;
    if (consumer_group_watch_start(c, err, errlen) != 0) {
        consumer_stop(c);
        return -1;
    }
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
    consumer_group_watch_stop(c);
}

/*
 * librdkafka 2.0.2 (Debian 12's) aborts inside rd_kafka_destroy() of a
 * cooperative-sticky consumer that joined its group but never received an
 * assignment (assert on a NULL assignor state; librdkafka issue #4312, fixed
 * in 2.3.0): a SIGTERM during a rebalance, or an instance beyond the
 * partition count, would end in SIGABRT instead of exit 0. The consumer is
 * closed by then (it left the group, nothing is left to commit), so in that
 * one case the handle is left to the process exit; kept reachable here so a
 * leak checker does not count it.
 */
static rd_kafka_t *consumer_parked_rk;

void consumer_free(order_consumer *c)
{
    if (!c)
        return;
    consumer_stop(c);
    consumer_drop_batch(c);
    if (c->rk && c->subscribed && !c->ever_assigned) {
        log_warn("consumer never received an assignment: its handle is left to the process exit "
                 "(librdkafka 2.0.2 would abort destroying it)");
        consumer_parked_rk = c->rk;
    } else if (c->rk) {
        rd_kafka_destroy(c->rk);
    }
    dlq_writer_free(c->dlq);
    decode_ahead_free(c->ap.ahead); /* before the decoder it uses */
    order_decoder_free(c->ap.dec);
    store_close(c->ap.st);
    free(c->batch);
    free(c->recs);
    free(c->ap.parts);
    pthread_mutex_destroy(&c->group_mu);
    free(c);
}
