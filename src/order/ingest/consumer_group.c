/*
 * consumer_group: order-service as a member of its consumer group (see
 * consumer.h): the rebalance callback (which partitions come and go, where
 * each one starts, pause state kept right across moves), the group's
 * description for /health, and the refusal of a second instance on a SQLite
 * store. Split from consumer.c because membership is its own concern: the
 * loop only polls, and rebalances happen inside that poll.
 */
#include "ingest/consumer_int.h"

#include "platform/clock.h"
#include "platform/log.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

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
 * purpose); otherwise the store's retry state for that position, if any,
 * continues it (apply_part_restore(): attempts, next-due time, a dead letter
 * already written, a batch that died).
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
    int keep = s == STORE_OK && ps->fail_offset == next && ps->waiting;
    /* moved: Kafka's copy may be behind the store's position (a commit that
     * failed when the partition was revoked, a previous owner's crash), and an
     * idle partition would show that lag for ever: the next tick sends it */
    apply_part fresh = {.assigned = 1,
                        .moved = s == STORE_OK,
                        .next = s == STORE_OK ? next : -1,
                        .batch_start = -1,
                        .fail_offset = -1,
                        .clear_below = -1,
                        .dlq_acked = -1};
    if (keep) {
        fresh.fail_offset = ps->fail_offset;
        fresh.attempts = ps->attempts;
        fresh.poison = ps->poison;
        fresh.crashed = ps->crashed;
        fresh.isolate = ps->isolate;
        fresh.persist = ps->persist;
        fresh.due_wall_ms = ps->due_wall_ms;
        fresh.dlq_acked = ps->dlq_acked;
        fresh.dlq_mark_pending = ps->dlq_mark_pending;
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
    /* No stored position: start at the beginning we just read rather than at
     * the logical BEGINNING, which librdkafka resolves with an offset query of
     * its own; the resume below bumps the partition's version, so that
     * query's answer was discarded and asked again 500 ms later (every
     * rebuild from Kafka started half a second late). */
    tp->offset = s == STORE_OK ? next : (fresh.low >= 0 ? fresh.low : RD_KAFKA_OFFSET_BEGINNING);
    /* Attempts counted by a previous owner (or a previous life of this one) continue. */
    if (!keep && (s == STORE_OK || s == STORE_NOT_FOUND))
        *repause = apply_part_restore(&c->ap, tp->partition, &fresh);
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
    if (!parts) { /* an error without a list: everything goes */
        consumer_drop_batch(c);
        consumer_kafka_commit(c, 0);
        for (int p = 0; p < c->ap.nparts; p++)
            c->ap.parts[p].assigned = 0;
        if (!cooperative)
            (void)rd_kafka_assign(c->rk, NULL);
        return;
    }
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
void consumer_group_rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                                 rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    order_consumer *c = opaque;
    const char *proto = rd_kafka_rebalance_protocol(rk);
    int cooperative = proto && strcmp(proto, "COOPERATIVE") == 0;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        c->ever_assigned = 1;
        rebalance_assign(c, parts, cooperative);
    } else {
        if (err != RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS)
            log_warn("rebalance error: %s", rd_kafka_err2str(err));
        rebalance_revoke(c, parts, cooperative);
    }
}

/* The group's members and state from the broker: 0, or -1 + err. */
static int describe_group(order_consumer *c, int timeout_ms, int *members, char *state,
                          size_t statelen, char *err, size_t errlen)
{
    const struct rd_kafka_group_list *gl = NULL;
    rd_kafka_resp_err_t e = rd_kafka_list_groups(c->rk, c->cfg.group_id, &gl, timeout_ms);
    /* _PARTIAL (some brokers did not answer in time) comes with a list that
     * is ours to free (leaking it every refresh grew the process while a
     * broker was down); the group's coordinator may be among those that did */
    if (e && !(e == RD_KAFKA_RESP_ERR__PARTIAL && gl)) {
        if (gl)
            rd_kafka_group_list_destroy(gl);
        snprintf(err, errlen, "list groups: %s", rd_kafka_err2str(e));
        return -1;
    }
    int found = 0;
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
        found = 1;
    }
    rd_kafka_group_list_destroy(gl);
    if (e && !found) { /* its coordinator did not answer: unknown, not empty */
        snprintf(err, errlen, "list groups: %s", rd_kafka_err2str(e));
        return -1;
    }
    return 0;
}

/*
 * The group's description for /health comes from a thread of its own:
 * rd_kafka_list_groups asks every broker and waits for all of them (up to
 * CONSUMER_GROUP_TIMEOUT_MS). Called on the consume thread, it stopped the
 * materialization of every partition for that long, every
 * CONSUMER_GROUP_EVERY_MS, while any broker was down. (The admin API's
 * DescribeConsumerGroups would not block, but librdkafka 2.0.2 aborts in it
 * when the coordinator's connection drops: librdkafka issue #4605.) This
 * thread never beats the status board: liveness stays the consume thread's.
 */
static void *group_watch_main(void *arg)
{
    order_consumer *c = arg;
    while (!atomic_load(&c->stop)) {
        int members = -1;
        char state[sizeof c->group_state] = "", err[256];
        if (describe_group(c, CONSUMER_GROUP_TIMEOUT_MS, &members, state, sizeof state, err,
                           sizeof err) != 0) {
            log_debug("%s", err);
            members = -1;
            state[0] = '\0';
        }
        pthread_mutex_lock(&c->group_mu);
        c->group_seen_members = members;
        memcpy(c->group_seen_state, state, sizeof state);
        c->group_seen_new = 1;
        pthread_mutex_unlock(&c->group_mu);
        int64_t until = clock_mono_ms() + CONSUMER_GROUP_EVERY_MS;
        while (!atomic_load(&c->stop) && clock_mono_ms() < until) {
            struct timespec ts = {0, 50 * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
    return NULL;
}

int consumer_group_watch_start(order_consumer *c, char *err, size_t errlen)
{
    int rc = pthread_create(&c->group_thread, NULL, group_watch_main, c);
    if (rc != 0) {
        snprintf(err, errlen, "group description thread: %s", strerror(rc));
        return -1;
    }
    c->group_started = 1;
    return 0;
}

void consumer_group_watch_stop(order_consumer *c)
{
    assert(atomic_load(&c->stop)); /* else the join could wait for ever */
    if (c->group_started) {
        pthread_join(c->group_thread, NULL);
        c->group_started = 0;
    }
}

int consumer_group_refresh(order_consumer *c)
{
    int changed = 0;
    pthread_mutex_lock(&c->group_mu);
    if (c->group_seen_new) {
        changed = c->group_seen_members != c->group_members ||
                  strcmp(c->group_seen_state, c->group_state) != 0;
        c->group_members = c->group_seen_members;
        memcpy(c->group_state, c->group_seen_state, sizeof c->group_state);
        c->group_seen_new = 0;
    }
    pthread_mutex_unlock(&c->group_mu);
    return changed;
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
int consumer_group_refuse_second_sqlite(order_consumer *c, char *err, size_t errlen)
{
    if (strcmp(store_kind(c->ap.st), "sqlite") != 0)
        return 0;
    int64_t until = clock_mono_ms() + CONSUMER_SQLITE_WAIT_MS;
    int members = 0;
    /* rd_kafka_list_groups() first waits for the client's first metadata,
     * and librdkafka 2.0.2 ends that wait only at a broker state change: a
     * start-up often lost 1 s there. A metadata request returns with its
     * answer, and then the wait is over at once. */
    const rd_kafka_metadata_t *md = NULL;
    rd_kafka_resp_err_t me = rd_kafka_metadata(c->rk, 0, NULL, &md, 5000);
    if (me != RD_KAFKA_RESP_ERR_NO_ERROR) {
        log_warn("cannot check whether group %s already has members (metadata: %s): joining "
                 "anyway",
                 c->cfg.group_id, rd_kafka_err2str(me));
        return 0;
    }
    rd_kafka_metadata_destroy(md);
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
        consumer_sleep_ms(c, 1000);
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
