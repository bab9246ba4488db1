/*
 * consumer: the consume loop's thread, group membership and lifecycle (see
 * consumer.h for the model), and the Kafka side of applying: it turns
 * librdkafka messages into apply_records and serves apply_ops (dead-letter
 * writes, pause + rewind, offset commits). The per-record decisions, retries
 * and the batch transaction live in apply.c.
 *
 * Batching: records are first collected (up to CONSUMER_BATCH_MAX, waiting
 * at most CONSUMER_BATCH_WAIT_MS), then applied in one transaction. A
 * rebalance can only happen while collecting (inside rd_kafka_consumer_poll),
 * never in the middle of a transaction; it drops the records collected so far
 * (they are fetched again from the store's positions). On assignment every
 * partition is sought to the store's position, so Kafka's committed offsets
 * are only a hint for a fresh store.
 */
#include "ingest/consumer.h"

#include "ingest/apply.h"
#include "ingest/dlq_writer.h"
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

#define CONSUMER_TICK_MS 1000
#define CONSUMER_DLQ_TIMEOUT_MS 10000
#define CONSUMER_SEEK_TIMEOUT_MS 5000
#define CONSUMER_WATERMARK_TIMEOUT_MS 2000
#define CONSUMER_GROUP_EVERY_MS 5000
/* a crashed member is listed for session.timeout.ms (10 s) at most */
#define CONSUMER_SQLITE_WAIT_MS 12000

struct order_consumer {
    order_config cfg;
    apply_ctx ap; /* store, decoder, partitions, counters: see apply.h */
    order_status_board *board;
    rd_kafka_t *rk;
    dlq_writer *dlq;
    pthread_t thread;
    int started;
    atomic_int stop;

    rd_kafka_message_t **batch;
    apply_record *recs; /* the batch as apply.c sees it */
    int nbatch;

    int64_t next_tick_ms;
    int subscribed, kafka_ok;
    int brokers_down; /* all brokers down (reported or probed); cleared only by a probe */
    /* A connection dropped: probe at the next tick. librdkafka's ALL_BROKERS_DOWN
     * alone is not enough: a consumer busy when the broker went away may never
     * get it, and records already fetched do not prove a broker is up now. */
    int brokers_suspect;
    char last_error[256];
    /* the group as list_groups last described it (refreshed every few ticks) */
    char group_state[32];
    int group_members;
    int64_t next_group_ms;
};

/* what: a short prefix ("store", "kafka"), or NULL. */
static void consumer_set_error(order_consumer *c, const char *what, const char *detail)
{
    snprintf(c->last_error, sizeof c->last_error, "%s%s%s", what ? what : "", what ? ": " : "",
             detail);
}

/* Commits the positions that moved; async in the loop, sync when leaving. */
static void consumer_kafka_commit(order_consumer *c, int async)
{
    rd_kafka_topic_partition_list_t *l = NULL;
    for (int p = 0; p < c->ap.nparts; p++) {
        apply_part *ps = &c->ap.parts[p];
        if (!ps->assigned || !ps->moved || ps->next < 0)
            continue;
        if (!l && !(l = rd_kafka_topic_partition_list_new(c->ap.nparts)))
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
    consumer_kafka_commit(arg, 1);
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

static void drop_batch(order_consumer *c)
{
    for (int i = 0; i < c->nbatch; i++)
        rd_kafka_message_destroy(c->batch[i]);
    c->nbatch = 0;
}

/* Drops the collected records of the partitions in parts only: with the
 * cooperative protocol the others stay assigned and are not fetched again. */
static void drop_batch_of(order_consumer *c, const rd_kafka_topic_partition_list_t *parts)
{
    int kept = 0;
    for (int i = 0; i < c->nbatch; i++) {
        rd_kafka_message_t *m = c->batch[i];
        int revoked = 0;
        for (int j = 0; j < parts->cnt && !revoked; j++)
            revoked = parts->elems[j].partition == m->partition;
        if (revoked || m->err)
            rd_kafka_message_destroy(m);
        else
            c->batch[kept++] = m;
    }
    c->nbatch = kept;
}

/* Pauses (pause = 1) or resumes the partitions in parts, logging a failure. */
static void set_paused(order_consumer *c, rd_kafka_topic_partition_list_t *parts, int pause)
{
    if (parts->cnt == 0)
        return;
    rd_kafka_resp_err_t e =
        pause ? rd_kafka_pause_partitions(c->rk, parts) : rd_kafka_resume_partitions(c->rk, parts);
    if (e)
        log_error("%s: %s", pause ? "pause" : "resume", rd_kafka_err2str(e));
}

/*
 * A partition comes (back) to this instance: its position is always read from
 * the store (another instance may have moved it), and with none the partition
 * is read from its beginning: the store is rebuilt from Kafka, whatever the
 * group's committed offset says. A retry schedule survives when the store is
 * still at the record that was waiting (the partition is paused again on
 * purpose); otherwise it is stale and dropped.
 */
static void assign_one(order_consumer *c, rd_kafka_topic_partition_t *tp, int *repause)
{
    *repause = 0;
    apply_part *ps = apply_part_get(&c->ap, tp->partition);
    if (!ps) {
        log_error("assign: out of memory");
        return;
    }
    int64_t next = -1;
    char e[256] = "";
    store_status s = store_get_position(c->ap.st, c->cfg.topic, tp->partition, &next, e, sizeof e);
    if (s != STORE_OK && s != STORE_NOT_FOUND)
        log_error("assign: reading position: %s", e);
    tp->offset = s == STORE_OK ? next : RD_KAFKA_OFFSET_BEGINNING;
    int keep = s == STORE_OK && ps->fail_offset == next && ps->waiting;
    apply_part fresh = {
        .assigned = 1, .next = s == STORE_OK ? next : -1, .batch_start = -1, .fail_offset = -1};
    if (keep) {
        fresh.fail_offset = ps->fail_offset;
        fresh.attempts = ps->attempts;
        fresh.poison = ps->poison;
        fresh.waiting = 1;
        fresh.resume_at_ms = ps->resume_at_ms;
        *repause = 1;
    }
    int64_t lo = -1, hi = -1;
    rd_kafka_resp_err_t we = rd_kafka_query_watermark_offsets(
        c->rk, c->cfg.topic, tp->partition, &lo, &hi, CONSUMER_WATERMARK_TIMEOUT_MS);
    if (we == RD_KAFKA_RESP_ERR_NO_ERROR) {
        fresh.low = lo;
        fresh.high = hi;
    } else {
        fresh.low = fresh.high = -1;
    }
    if (s != STORE_OK && fresh.low > 0) {
        fresh.history_lost = fresh.low;
        log_warn("%s[%d]: the store has no position, so it is rebuilt from the beginning of the "
                 "partition, but Kafka's retention already deleted offsets 0..%lld: the orders "
                 "of those events are missing from this store (restore it from a backup, or "
                 "accept the loss)",
                 c->cfg.topic, tp->partition, (long long)fresh.low - 1);
    }
    *ps = fresh;
    log_info("assigned %s[%d] from %s %lld%s", c->cfg.topic, tp->partition,
             s == STORE_OK ? "store offset" : "the beginning (no stored position), offset",
             (long long)(s == STORE_OK ? next : (fresh.low > 0 ? fresh.low : 0)),
             keep ? " (retry schedule kept)" : "");
}

static void rebalance_assign(order_consumer *c, rd_kafka_topic_partition_list_t *parts,
                             int cooperative)
{
    rd_kafka_topic_partition_list_t *repause = rd_kafka_topic_partition_list_new(parts->cnt);
    for (int i = 0; i < parts->cnt; i++) {
        int rp = 0;
        assign_one(c, &parts->elems[i], &rp);
        if (rp && repause)
            rd_kafka_topic_partition_list_add(repause, c->cfg.topic, parts->elems[i].partition);
    }
    if (cooperative) {
        rd_kafka_error_t *ie = rd_kafka_incremental_assign(c->rk, parts);
        if (ie) {
            log_error("incremental assign: %s", rd_kafka_error_string(ie));
            rd_kafka_error_destroy(ie);
        }
    } else {
        rd_kafka_resp_err_t e = rd_kafka_assign(c->rk, parts);
        if (e)
            log_error("assign: %s", rd_kafka_err2str(e));
    }
    /* librdkafka keeps a partition's pause flag across assignments: a
     * partition paused here before is resumed, unless it waits on purpose. */
    rd_kafka_topic_partition_list_t *resume = rd_kafka_topic_partition_list_copy(parts);
    if (resume && repause) {
        for (int i = 0; i < repause->cnt; i++)
            rd_kafka_topic_partition_list_del(resume, c->cfg.topic, repause->elems[i].partition);
        set_paused(c, resume, 0);
        set_paused(c, repause, 1);
    } else {
        log_error("assign: out of memory (pause state not restored)");
    }
    if (resume)
        rd_kafka_topic_partition_list_destroy(resume);
    if (repause)
        rd_kafka_topic_partition_list_destroy(repause);
}

static void rebalance_revoke(order_consumer *c, rd_kafka_topic_partition_list_t *parts,
                             int cooperative)
{
    drop_batch_of(c, parts);
    consumer_kafka_commit(c, 0);
    /* Resumed before they go: a paused partition must not stay paused in
     * librdkafka when it comes back. The schedule stays in ap.parts, for a
     * partition that comes back to this instance (assign_one). */
    set_paused(c, parts, 0);
    for (int i = 0; i < parts->cnt; i++) {
        int32_t p = parts->elems[i].partition;
        if (p >= 0 && p < c->ap.nparts)
            c->ap.parts[p].assigned = 0;
    }
    log_info("partitions revoked (%d)", parts->cnt);
    if (cooperative) {
        rd_kafka_error_t *ie = rd_kafka_incremental_unassign(c->rk, parts);
        if (ie) {
            log_error("incremental unassign: %s", rd_kafka_error_string(ie));
            rd_kafka_error_destroy(ie);
        }
    } else {
        rd_kafka_resp_err_t e = rd_kafka_assign(c->rk, NULL);
        if (e)
            log_error("unassign: %s", rd_kafka_err2str(e));
    }
}

/*
 * Cooperative (incremental) rebalancing is configured (cooperative-sticky):
 * a rebalance then revokes and assigns only the partitions that move, and the
 * others keep flowing. The eager protocol (a group still on it during a
 * rolling upgrade) revokes everything; both go through the same two paths.
 */
static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    order_consumer *c = opaque;
    int cooperative = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        rebalance_assign(c, parts, cooperative);
    } else {
        if (err != RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS)
            log_warn("rebalance error: %s", rd_kafka_err2str(err));
        rebalance_revoke(c, parts, cooperative);
    }
}

/* Served from rd_kafka_consumer_poll on the consumer thread (poll_set_consumer). */
static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    order_consumer *c = opaque;
    (void)rk;
    if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN)
        c->brokers_down = 1;
    else if (err == RD_KAFKA_RESP_ERR__TRANSPORT)
        c->brokers_suspect = 1;
    consumer_set_error(c, "kafka", reason);
    log_msg(err == RD_KAFKA_RESP_ERR__TRANSPORT ? LOG_WARN : LOG_ERROR, "kafka", NULL,
            "consumer: %s: %s", rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
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
            int64_t left = first + c->cfg.batch_wait_ms - clock_mono_ms();
            if (left > 0)
                m = rd_kafka_consumer_poll(c->rk, (int)left);
        }
        if (!m)
            break;
        if (c->nbatch == 0)
            first = clock_mono_ms();
        c->batch[c->nbatch++] = m; /* a rebalance inside poll may have emptied the batch */
    }
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
    for (int p = 0; p < c->ap.nparts; p++) {
        const apply_part *ps = &c->ap.parts[p];
        if (!ps->assigned)
            continue;
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
    if (s.nassigned > ORDER_STATUS_PARTS)
        s.nassigned = ORDER_STATUS_PARTS;
    s.orders = c->ap.orders;
    s.consumed = c->ap.consumed;
    s.applied = c->ap.applied;
    s.skipped = c->ap.skipped;
    s.dead_lettered = c->ap.dead_lettered;
    s.retries = c->ap.retries;
    s.fenced = c->ap.fenced;
    snprintf(s.group_state, sizeof s.group_state, "%s", c->group_state);
    s.group_members = c->group_members;
    snprintf(s.last_error, sizeof s.last_error, "%s", c->last_error);
    order_status_publish(c->board, &s);
}

static void sleep_ms_interruptible(order_consumer *c, int64_t ms)
{
    int64_t until = clock_mono_ms() + ms;
    while (!atomic_load(&c->stop) && clock_mono_ms() < until) {
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

/* The group's members and state from the broker: 0, or -1 + err. */
static int describe_group(order_consumer *c, int timeout_ms, int *members, char *state,
                          size_t statelen, char *err, size_t errlen)
{
    const struct rd_kafka_group_list *gl = NULL;
    rd_kafka_resp_err_t e = rd_kafka_list_groups(c->rk, c->cfg.group_id, &gl, timeout_ms);
    if (e) {
        snprintf(err, errlen, "list groups: %s", rd_kafka_err2str(e));
        return -1;
    }
    *members = 0;
    snprintf(state, statelen, "Empty");
    for (int i = 0; i < gl->group_cnt; i++) {
        const struct rd_kafka_group_info *g = &gl->groups[i];
        if (strcmp(g->group, c->cfg.group_id) != 0)
            continue;
        if (g->err) {
            snprintf(err, errlen, "describe group %s: %s", g->group, rd_kafka_err2str(g->err));
            rd_kafka_group_list_destroy(gl);
            return -1;
        }
        *members = g->member_cnt;
        snprintf(state, statelen, "%s", g->state ? g->state : "?");
    }
    rd_kafka_group_list_destroy(gl);
    return 0;
}

/* Refreshes the group's description for /health, every CONSUMER_GROUP_EVERY_MS. */
static void refresh_group(order_consumer *c, int64_t now)
{
    if (now < c->next_group_ms)
        return;
    c->next_group_ms = now + CONSUMER_GROUP_EVERY_MS;
    char err[256];
    if (describe_group(c, 500, &c->group_members, c->group_state, sizeof c->group_state, err,
                       sizeof err) != 0) {
        c->group_members = -1;
        c->group_state[0] = '\0';
    }
}

/*
 * A SQLite file is one instance's store: a second instance in the group would
 * take half the partitions into a file nobody else reads. So before joining,
 * a SQLite instance checks that the group has no members. A member that
 * crashed stays listed until its session times out, so members are waited
 * out for a session timeout before refusing (a restart after kill -9 works).
 * Two instances started at the same instant can both see an empty group: the
 * check narrows that race, only PostgreSQL removes it.
 */
static int refuse_second_sqlite(order_consumer *c, char *err, size_t errlen)
{
    if (strcmp(store_kind(c->ap.st), "sqlite") != 0)
        return 0;
    int64_t until = clock_mono_ms() + CONSUMER_SQLITE_WAIT_MS;
    int members = 0;
    for (;;) {
        char state[32], e[256];
        if (describe_group(c, 5000, &members, state, sizeof state, e, sizeof e) != 0) {
            log_warn("cannot check whether group %s already has members (%s): joining anyway",
                     c->cfg.group_id, e);
            return 0;
        }
        if (members == 0)
            return 0;
        if (clock_mono_ms() >= until || atomic_load(&c->stop))
            break;
        log_warn("group %s has %d member(s) (state %s); waiting up to a session timeout for a "
                 "crashed instance to leave before joining with a SQLite store",
                 c->cfg.group_id, members, state);
        sleep_ms_interruptible(c, 1000);
    }
    snprintf(err, errlen,
             "consumer group %s already has %d member(s), and this instance's store is a SQLite "
             "file (STORE_PATH), which only one instance may write: a second instance would "
             "split the partitions between stores that cannot see each other. Run several "
             "instances on the PostgreSQL backend (STORE_URL=postgresql://...), or stop the "
             "other instance",
             c->cfg.group_id, members);
    return -1;
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
        if (kafka_topics_ensure(dlq_writer_handle(c->dlq), specs, 2, 10000, err, sizeof err) == 0)
            break;
        consumer_set_error(c, "topics", err);
        publish_status(c);
        log_warn("ensuring topics failed (attempt %d): %s", attempt, err);
        sleep_ms_interruptible(c, order_config_backoff_for(&c->cfg, attempt));
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
            resume_due(c);
            poll_batch(c);
            int worked = c->nbatch > 0;
            if (worked) {
                apply_batch(&c->ap, to_records(c), c->nbatch);
                drop_batch(c);
            }
            char fe[256];
            if (rd_kafka_fatal_error(c->rk, fe, sizeof fe)) {
                c->kafka_ok = 0;
                consumer_set_error(c, "kafka fatal", fe);
            }
            int64_t now = clock_mono_ms();
            if ((c->brokers_down || c->brokers_suspect) && now >= c->next_tick_ms)
                probe_brokers(c);
            if (worked || now >= c->next_tick_ms) {
                refresh_group(c, now);
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
    c->ap.cfg = &c->cfg;
    c->ap.store_ok = 1;
    c->ap.ops =
        (apply_ops){.dead_letter = op_dead_letter,
                    .rewind = op_rewind,
                    .commit = op_commit,
                    .before_commit = cfg->test_commit_delay_ms > 0 ? op_before_commit : NULL,
                    .kafka_error = op_kafka_error,
                    .set_error = op_set_error,
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
    if (cfg->test_store_max_pages > 0) {
        log_warn("TEST-ONLY: store capped at %lld pages (ORDER_TEST_STORE_MAX_PAGES)",
                 cfg->test_store_max_pages);
        if (store_limit_pages(c->ap.st, cfg->test_store_max_pages, err, errlen) != STORE_OK)
            goto fail;
    }
    c->ap.dec = order_decoder_new(cfg->registry_url, err, errlen);
    if (!c->ap.dec)
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
        /* A rebalance moves only the partitions that must move (see rebalance_cb). */
        {"partition.assignment.strategy", "cooperative-sticky"},
        /* Prefetch per partition: 16 MiB keeps catch-up fed (decoding is the
         * bottleneck) without librdkafka's 64 MiB-per-partition default. */
        {"queued.max.messages.kbytes", "16384"},
    };
    rd_kafka_conf_t *conf = kafka_conf_new(cfg->bootstrap, "order-service", cprops,
                                           sizeof cprops / sizeof cprops[0], err, errlen);
    if (!conf)
        goto fail;
    if (*cfg->instance_id) {
        char cerr[256];
        if (rd_kafka_conf_set(conf, "group.instance.id", cfg->instance_id, cerr, sizeof cerr) !=
            RD_KAFKA_CONF_OK) {
            rd_kafka_conf_destroy(conf);
            snprintf(err, errlen, "CONSUMER_INSTANCE_ID: %s", cerr);
            goto fail;
        }
    }
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
        kafka_conf_new(cfg->bootstrap, "order-service-dlq", NULL, 0, err, errlen);
    if (!pconf)
        goto fail;
    c->dlq = dlq_writer_new(pconf, cfg->dlq_topic, CONSUMER_DLQ_TIMEOUT_MS, err, errlen);
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
    if (refuse_second_sqlite(c, err, errlen) != 0)
        return -1;
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
    dlq_writer_free(c->dlq);
    order_decoder_free(c->ap.dec);
    store_close(c->ap.st);
    free(c->batch);
    free(c->recs);
    free(c->ap.parts);
    free(c);
}
