/*
 * replay_run: one replay's Kafka work (see replay_run.h).
 *
 * Why it looks like this:
 * - The DLQ is read by an assign()ed consumer from each selected partition's
 *   first offset to the end offset captured before anything is read, so
 *   records dead-lettered meanwhile (the replay's own, dead-lettered again,
 *   among them) wait for the next replay. Nothing is committed.
 * - A replayed record goes to its original partition (dlq.original.partition)
 *   when the events topic still has it, so it stays in order with the other
 *   events of its order; otherwise to the partition its key hashes to with
 *   cart-service's partitioner.
 * - Records in flight are bounded (REPLAY_INFLIGHT_MAX slots); the delivery
 *   report, served on this thread, releases the slot and writes the durable
 *   mark: a record is replayed once Kafka acknowledged it, never before.
 * - A broker outage stalls reading and delivery alike; the replay waits for
 *   it up to the delivery timeout without progress, then fails, and the
 *   records it could not deliver stay unmarked (counted failed).
 * - Every loop that may wait renews the replay lease (replay_lease.h) and
 *   stops once it is lost, so no other instance's replay overlaps this one.
 */
#include "replay/replay_run.h"

#include "replay/replay_status.h"

#include "platform/clock.h"
#include "platform/kafka_util.h"
#include "platform/log.h"
#include "store/store.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define REPLAY_INFLIGHT_MAX 256
#define REPLAY_META_TIMEOUT_MS 10000
#define REPLAY_ABORT_FLUSH_MS 5000
#define REPLAY_MARK_TRIES 5

typedef struct {
    int32_t partition;
    int64_t offset;
    int prior; /* earlier replays */
} replay_slot;

typedef struct {
    int32_t partition;
    int64_t next;    /* first offset to read */
    int64_t end;     /* one past the last offset to read */
    int64_t hwm_end; /* the captured end offset */
    int done;
} replay_part;

typedef struct {
    replay_job *job;
    const replay_config *cfg;
    store *st;
    rd_kafka_t *cons, *prod;
    replay_part *parts;
    int nparts;
    int active; /* partitions still being read */
    int target_parts;
    replay_slot slots[REPLAY_INFLIGHT_MAX];
    int free_slots[REPLAY_INFLIGHT_MAX];
    int nfree;
    int64_t next_send_us;
    int64_t progress_ms; /* last read or delivery report (monotonic) */
    long long selected;
    int64_t warned_ms; /* last read error logged (monotonic): at most one a few seconds */
    replay_lease *lease;
    int lease_lost;
    char lease_err[320];
    int64_t published_ms; /* monotonic: the status last written to the store */
} replay_ctx;

static int64_t replay_now_us(void)
{
    return (int64_t)(clock_mono_s() * 1e6);
}

/*
 * 1 while the replay may go on; 0 once the service stops or the lease is
 * lost. Renews the lease when due: every loop that may wait calls it.
 */
static int replay_go_on(replay_ctx *c, const atomic_int *stop)
{
    if (c->lease_lost)
        return 0;
    if (replay_lease_keep(c->lease, c->lease_err, sizeof c->lease_err) != 0) {
        c->lease_lost = 1;
        log_msg(LOG_ERROR, "replay", NULL, "DLQ replay %s stops: %s", c->job->id, c->lease_err);
        return 0;
    }
    int64_t now = clock_mono_ms();
    if (now - c->published_ms >= REPLAY_STATUS_EVERY_MS) {
        c->published_ms = now;
        (void)replay_status_publish(c->job, c->st); /* what other instances show meanwhile */
    }
    return !atomic_load(stop);
}

/* The durable mark, retried briefly: a store hiccup should not cost a second replay later. */
static void replay_mark(replay_ctx *c, const replay_slot *s)
{
    char err[256] = "";
    for (int i = 0; i < REPLAY_MARK_TRIES; i++) {
        if (store_replay_mark(c->st, c->cfg->dlq_topic, s->partition, s->offset, clock_wall_ms(),
                              err, sizeof err) == STORE_OK)
            return;
        if (i + 1 < REPLAY_MARK_TRIES)
            nanosleep(&(struct timespec){0, 200 * 1000 * 1000}, NULL);
    }
    char msg[320];
    snprintf(msg, sizeof msg, "replayed, but its replay mark could not be stored (%s)", err);
    log_msg(LOG_ERROR, "replay", NULL, "DLQ %d:%" PRId64 " %s", s->partition, s->offset, msg);
    replay_job_note(c->job, s->partition, s->offset, msg);
}

static void replay_dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    replay_ctx *c = opaque;
    int idx = (int)((uintptr_t)m->_private) - 1;
    if (idx < 0 || idx >= REPLAY_INFLIGHT_MAX)
        return;
    replay_slot s = c->slots[idx];
    c->free_slots[c->nfree++] = idx;
    c->progress_ms = clock_mono_ms();
    replay_job_add(c->job, REPLAY_C_PENDING, -1);
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        replay_mark(c, &s);
        replay_job_add(c->job, REPLAY_C_REPLAYED, 1);
        return;
    }
    char msg[200];
    snprintf(msg, sizeof msg, "not acknowledged: %s", rd_kafka_err2str(m->err));
    replay_job_fail_record(c->job, s.partition, s.offset, msg);
}

static rd_kafka_t *replay_make(replay_ctx *c, rd_kafka_type_t type, char *err, size_t errlen)
{
    char group[300], tmo[24];
    snprintf(group, sizeof group, "%s-replay", c->cfg->group_id);
    snprintf(tmo, sizeof tmo, "%d", c->cfg->delivery_timeout_ms);
    const char *const cprops[][2] = {{"group.id", group},
                                     {"enable.auto.commit", "false"},
                                     {"enable.auto.offset.store", "false"},
                                     {"enable.partition.eof", "true"},
                                     {"auto.offset.reset", "earliest"},
                                     {"queued.max.messages.kbytes", "4096"}};
    const char *const pprops[][2] = {{"enable.idempotence", "true"},
                                     {"acks", "all"},
                                     {"message.timeout.ms", tmo},
                                     {"linger.ms", "5"},
                                     {"partitioner", "murmur2_random"}};
    int cons = type == RD_KAFKA_CONSUMER;
    rd_kafka_conf_t *conf = kafka_conf_new(c->cfg->bootstrap, "order-service-replay",
                                           cons ? cprops : pprops, cons ? 6 : 5, err, errlen);
    if (!conf)
        return NULL;
    if (!cons) {
        rd_kafka_conf_set_opaque(conf, c);
        rd_kafka_conf_set_dr_msg_cb(conf, replay_dr_cb);
    }
    char kerr[256];
    rd_kafka_t *rk = rd_kafka_new(type, conf, kerr, sizeof kerr);
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        snprintf(err, errlen, "%s", kerr);
    }
    return rk;
}

/* Partition count of topic, retried until the stall bound: > 0, 0 (no topic), -1 + err. */
static int replay_partitions(replay_ctx *c, const char *topic, const atomic_int *stop, char *err,
                             size_t errlen)
{
    int64_t deadline = clock_mono_ms() + c->cfg->delivery_timeout_ms;
    for (;;) {
        int n = kafka_topic_partitions(c->cons, topic, REPLAY_META_TIMEOUT_MS, err, errlen);
        if (n >= 0 || clock_mono_ms() >= deadline || !replay_go_on(c, stop))
            return n;
        rd_kafka_poll(c->cons, 500);
    }
}

/* Captures the DLQ's end offsets and assigns what the selection reads: 0, or -1 + err. */
static int replay_assign(replay_ctx *c, const atomic_int *stop, char *err, size_t errlen)
{
    int n = replay_partitions(c, c->cfg->dlq_topic, stop, err, errlen);
    if (n < 0)
        return -1;
    c->parts = calloc(n > 0 ? (size_t)n : 1, sizeof *c->parts);
    replay_end *ends = calloc(n > 0 ? (size_t)n : 1, sizeof *ends);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(n > 0 ? n : 1);
    if (!c->parts || !ends || !l) {
        free(ends);
        if (l)
            rd_kafka_topic_partition_list_destroy(l);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    c->nparts = n;
    int rc = 0;
    for (int p = 0; p < n && rc == 0; p++) {
        int64_t lo = 0, hi = 0;
        int64_t deadline = clock_mono_ms() + c->cfg->delivery_timeout_ms;
        rd_kafka_resp_err_t e;
        while ((e = rd_kafka_query_watermark_offsets(c->cons, c->cfg->dlq_topic, p, &lo, &hi,
                                                     REPLAY_META_TIMEOUT_MS)) !=
                   RD_KAFKA_RESP_ERR_NO_ERROR &&
               clock_mono_ms() < deadline && replay_go_on(c, stop))
            rd_kafka_poll(c->cons, 500);
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
            snprintf(err, errlen, "cannot read the DLQ's end offsets: %s", rd_kafka_err2str(e));
            rc = -1;
            break;
        }
        replay_part *pp = &c->parts[p];
        pp->partition = p;
        pp->hwm_end = hi;
        ends[p] = (replay_end){p, hi};
        int64_t from, to_excl;
        if (!replay_select_partition(&c->job->sel, p, &from, &to_excl)) {
            pp->done = 1;
            continue;
        }
        pp->next = from > lo ? from : lo;
        pp->end = to_excl < hi ? to_excl : hi;
        if (pp->next >= pp->end) {
            pp->done = 1;
            continue;
        }
        rd_kafka_topic_partition_list_add(l, c->cfg->dlq_topic, p)->offset = pp->next;
        c->active++;
    }
    if (rc == 0 && replay_job_set_ends(c->job, ends, (size_t)n) != 0) {
        snprintf(err, errlen, "out of memory");
        rc = -1;
    }
    free(ends);
    if (rc == 0 && c->active > 0) {
        rd_kafka_resp_err_t e = rd_kafka_assign(c->cons, l);
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
            snprintf(err, errlen, "assign the DLQ partitions: %s", rd_kafka_err2str(e));
            rc = -1;
        }
    }
    rd_kafka_topic_partition_list_destroy(l);
    return rc;
}

/* Waits for the rate limit's next slot and a free in-flight slot, serving reports meanwhile. */
static int replay_wait_turn(replay_ctx *c, const atomic_int *stop)
{
    for (;;) {
        if (!replay_go_on(c, stop))
            return -1;
        int64_t wait_us = c->next_send_us - replay_now_us();
        if (c->nfree > 0 && wait_us <= 0)
            break;
        int ms = c->nfree == 0 ? 100 : (int)((wait_us + 999) / 1000);
        rd_kafka_poll(c->prod, ms > 100 ? 100 : ms);
    }
    int64_t now = replay_now_us();
    int64_t gap = 1000000 / (c->cfg->rate > 0 ? c->cfg->rate : 1);
    c->next_send_us = (c->next_send_us > now - gap ? c->next_send_us : now) + gap;
    return 0;
}

/* The record's headers plus the replay's; NULL when out of memory. */
static rd_kafka_headers_t *replay_headers(const rd_kafka_message_t *m)
{
    rd_kafka_headers_t *orig = NULL;
    if (rd_kafka_message_headers(m, &orig) != RD_KAFKA_RESP_ERR_NO_ERROR)
        orig = NULL;
    rd_kafka_headers_t *h = orig ? rd_kafka_headers_copy(orig) : rd_kafka_headers_new(3);
    if (!h)
        return NULL;
    /* An earlier replay's headers are replaced, not repeated. */
    (void)rd_kafka_header_remove(h, "replayedFrom");
    (void)rd_kafka_header_remove(h, "replayCount");
    (void)rd_kafka_header_remove(h, "replayedAt");
    return h;
}

static void replay_send(replay_ctx *c, const rd_kafka_message_t *m, const dlq_info *d, int prior,
                        const atomic_int *stop)
{
    int32_t p = m->partition;
    if (replay_wait_turn(c, stop) != 0) {
        replay_job_fail_record(c->job, p, m->offset,
                               c->lease_lost ? "not replayed: the replay lease was lost"
                                             : "not replayed: the service is shutting down");
        return;
    }
    rd_kafka_headers_t *h = replay_headers(m);
    char from[300], cnt[16], at[24];
    snprintf(from, sizeof from, "%s:%" PRId32 ":%" PRId64, c->cfg->dlq_topic, p, m->offset);
    snprintf(cnt, sizeof cnt, "%d", prior + 1);
    snprintf(at, sizeof at, "%" PRId64, clock_wall_ms());
    if (!h || rd_kafka_header_add(h, "replayedFrom", -1, from, -1) ||
        rd_kafka_header_add(h, "replayCount", -1, cnt, -1) ||
        rd_kafka_header_add(h, "replayedAt", -1, at, -1)) {
        if (h)
            rd_kafka_headers_destroy(h);
        replay_job_fail_record(c->job, p, m->offset, "out of memory for the headers");
        return;
    }
    int32_t target = RD_KAFKA_PARTITION_UA;
    if ((d->present & DLQ_F_PARTITION) && d->original_partition >= 0 &&
        d->original_partition < c->target_parts)
        target = (int32_t)d->original_partition;
    int idx = c->free_slots[--c->nfree];
    c->slots[idx] = (replay_slot){p, m->offset, prior};
    rd_kafka_resp_err_t e;
    for (;;) {
        e = rd_kafka_producev(c->prod, RD_KAFKA_V_TOPIC(c->cfg->topic),
                              RD_KAFKA_V_PARTITION(target),
                              RD_KAFKA_V_KEY(m->key, m->key ? m->key_len : 0),
                              RD_KAFKA_V_VALUE(m->payload, m->payload ? m->len : 0),
                              RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                              RD_KAFKA_V_OPAQUE((void *)(uintptr_t)(idx + 1)), RD_KAFKA_V_END);
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL || !replay_go_on(c, stop))
            break;
        rd_kafka_poll(c->prod, 100);
    }
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        rd_kafka_headers_destroy(h); /* not taken over on failure */
        c->free_slots[c->nfree++] = idx;
        char msg[200];
        snprintf(msg, sizeof msg, "produce refused: %s", rd_kafka_err2str(e));
        replay_job_fail_record(c->job, p, m->offset, msg);
        return;
    }
    replay_job_add(c->job, REPLAY_C_PENDING, 1);
}

/* One DLQ record of a selected partition, below its end. */
static void replay_record(replay_ctx *c, const rd_kafka_message_t *m, const atomic_int *stop)
{
    rd_kafka_headers_t *hdrs = NULL;
    if (rd_kafka_message_headers(m, &hdrs) != RD_KAFKA_RESP_ERR_NO_ERROR)
        hdrs = NULL;
    dlq_info d;
    dlq_info_from_headers(&d, hdrs);
    const replay_selection *sel = &c->job->sel;
    if (!replay_select_match(sel, &d, m->partition, m->offset, m->key, m->key_len))
        return;
    if (c->selected >= sel->limit) {
        replay_job_limit_reached(c->job);
        c->active = 0; /* stop reading */
        return;
    }
    c->selected++;
    replay_job_add(c->job, REPLAY_C_SELECTED, 1);
    if (!(d.present & DLQ_F_TOPIC) || strcmp(d.original_topic, c->cfg->topic) != 0) {
        char msg[320];
        if (d.present & DLQ_F_TOPIC)
            snprintf(msg, sizeof msg,
                     "original topic '%s' is not this service's events topic (ORDER_EVENTS_TOPIC)",
                     d.original_topic);
        else
            snprintf(msg, sizeof msg, "no dlq.original.topic header: target unknown");
        replay_job_fail_record(c->job, m->partition, m->offset, msg);
        return;
    }
    store_replay prior;
    char err[256] = "";
    store_status st = store_replay_get(c->st, c->cfg->dlq_topic, m->partition, m->offset, &prior,
                                       err, sizeof err);
    if (st != STORE_OK && st != STORE_NOT_FOUND) {
        char msg[320];
        snprintf(msg, sizeof msg, "replay mark unreadable (%s): not replayed", err);
        replay_job_fail_record(c->job, m->partition, m->offset, msg);
        return;
    }
    if (sel->dry_run) {
        replay_item it = {
            .partition = m->partition, .offset = m->offset, .info = d, .replays = prior.count};
        if (m->key && m->key_len <= ORDER_ID_MAX) {
            memcpy(it.order_id, m->key, m->key_len);
            it.order_id[m->key_len] = '\0';
        }
        replay_job_list(c->job, &it);
        if (prior.count > 0 && !sel->force)
            replay_job_add(c->job, REPLAY_C_SKIPPED, 1);
        return;
    }
    if (prior.count > 0 && !sel->force) {
        replay_job_add(c->job, REPLAY_C_SKIPPED, 1);
        return;
    }
    replay_send(c, m, &d, prior.count, stop);
}

/* Reads to the captured ends. 0, or -1 + err (stalled). */
static int replay_read(replay_ctx *c, const atomic_int *stop, char *err, size_t errlen)
{
    c->progress_ms = clock_mono_ms();
    while (c->active > 0 && replay_go_on(c, stop)) {
        rd_kafka_poll(c->prod, 0);
        rd_kafka_message_t *m = rd_kafka_consumer_poll(c->cons, 100);
        if (!m) {
            if (clock_mono_ms() - c->progress_ms > c->cfg->delivery_timeout_ms) {
                snprintf(err, errlen, "reading the DLQ stalled for %d ms (broker unreachable?)",
                         c->cfg->delivery_timeout_ms);
                return -1;
            }
            continue;
        }
        int32_t p = m->partition;
        replay_part *pp = p >= 0 && p < c->nparts ? &c->parts[p] : NULL;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            if (pp && !pp->done && m->offset >= pp->end) {
                pp->done = 1;
                c->active--;
            }
        } else if (m->err) {
            if (clock_mono_ms() - c->warned_ms >= 5000) {
                c->warned_ms = clock_mono_ms();
                log_msg(LOG_WARN, "replay", NULL, "reading the DLQ: %s",
                        rd_kafka_message_errstr(m));
            }
        } else if (pp && !pp->done && m->offset < pp->end) {
            c->progress_ms = clock_mono_ms();
            replay_record(c, m, stop);
            if (m->offset + 1 >= pp->end && !pp->done && c->active > 0) {
                pp->done = 1;
                c->active--;
            }
        }
        rd_kafka_message_destroy(m);
    }
    return 0;
}

/* Waits for every report; after stop or a stall, at most a short while, then the rest fail. */
static void replay_drain(replay_ctx *c, const atomic_int *stop)
{
    while (c->nfree < REPLAY_INFLIGHT_MAX) {
        int halted = !replay_go_on(c, stop); /* renews the lease while acknowledgements come */
        int64_t bound = halted ? REPLAY_ABORT_FLUSH_MS : c->cfg->delivery_timeout_ms;
        if (clock_mono_ms() - c->progress_ms > bound + 5000)
            break;
        rd_kafka_poll(c->prod, 100);
    }
    if (c->nfree < REPLAY_INFLIGHT_MAX) {
        /* purged records get their (failed) reports here */
        (void)rd_kafka_purge(c->prod, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        (void)rd_kafka_poll(c->prod, 0);
    }
}

void replay_run(replay_job *job, const replay_config *cfg, store *st, replay_lease *lease,
                const atomic_int *stop)
{
    replay_ctx *c = calloc(1, sizeof *c);
    char err[512] = "";
    if (!c) {
        replay_lease_release(lease);
        replay_job_finish(job, REPLAY_FAILED, "out of memory");
        return;
    }
    c->job = job;
    c->cfg = cfg;
    c->st = st;
    c->lease = lease;
    c->published_ms = clock_mono_ms(); /* the runner published the start */
    for (int i = 0; i < REPLAY_INFLIGHT_MAX; i++)
        c->free_slots[c->nfree++] = i;
    log_msg(LOG_INFO, "replay", NULL, "DLQ replay %s started (%s%s)", job->id,
            job->sel.dry_run ? "dry run" : "replaying", job->sel.force ? ", forced" : "");
    int rc = -1;
    if ((c->cons = replay_make(c, RD_KAFKA_CONSUMER, err, sizeof err)) &&
        (c->prod = replay_make(c, RD_KAFKA_PRODUCER, err, sizeof err)))
        rc = replay_assign(c, stop, err, sizeof err);
    if (rc == 0 && c->active > 0) {
        c->target_parts = replay_partitions(c, cfg->topic, stop, err, sizeof err);
        if (c->target_parts <= 0) {
            if (c->target_parts == 0)
                snprintf(err, sizeof err, "the events topic %s does not exist", cfg->topic);
            rc = -1;
        }
    }
    if (rc == 0)
        rc = replay_read(c, stop, err, sizeof err);
    if (c->prod)
        replay_drain(c, stop);
    if (c->cons) {
        (void)rd_kafka_assign(c->cons, NULL);
        (void)rd_kafka_consumer_close(c->cons);
        rd_kafka_destroy(c->cons);
    }
    if (c->prod)
        rd_kafka_destroy(c->prod);
    if (c->lease_lost) { /* whatever else failed after, this is why */
        snprintf(err, sizeof err, "%s", c->lease_err);
        rc = -1;
    }
    replay_state state = rc != 0             ? REPLAY_FAILED
                         : atomic_load(stop) ? REPLAY_ABORTED
                                             : REPLAY_COMPLETED;
    if (state == REPLAY_ABORTED)
        snprintf(err, sizeof err, "the service is shutting down");
    pthread_mutex_lock(job->mu);
    long long sel_n = job->selected, rep = job->replayed, sk = job->skipped, fa = job->failed;
    pthread_mutex_unlock(job->mu);
    /* Released before the replay shows as ended: whoever saw it end may start the next. */
    replay_lease_release(lease);
    replay_job_finish(job, state, state == REPLAY_COMPLETED ? NULL : err);
    log_msg(state == REPLAY_COMPLETED ? LOG_INFO : LOG_WARN, "replay", NULL,
            "DLQ replay %s %s: selected %lld, replayed %lld, skipped %lld, failed %lld%s%s",
            job->id,
            state == REPLAY_COMPLETED ? "completed"
            : state == REPLAY_FAILED  ? "failed"
                                      : "aborted",
            sel_n, rep, sk, fa, state == REPLAY_COMPLETED ? "" : ": ",
            state == REPLAY_COMPLETED ? "" : err);
    free(c->parts);
    free(c);
}
