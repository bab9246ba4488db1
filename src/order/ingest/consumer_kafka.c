/*
 * consumer_kafka: the order-service consumer's two Kafka clients, configured:
 * the group consumer (manual offsets: the store's positions decide where a
 * partition starts, see consumer.c) and the dead-letter producer. Each
 * setting that differs from librdkafka's default says why beside it. Also
 * the copy of the positions this consumer commits to Kafka, and what it does
 * when such a commit fails.
 */
#include "ingest/consumer_int.h"

#include "platform/kafka_util.h"
#include "platform/log.h"

#include <librdkafka/rdkafka.h>
#include <stdio.h>

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

int consumer_kafka_open(order_consumer *c, char *err, size_t errlen)
{
    const order_config *cfg = &c->cfg;
    const char *const cprops[][2] = {
        {"group.id", cfg->group_id},
        {"enable.auto.commit", "false"},
        {"enable.auto.offset.store", "false"},
        {"auto.offset.reset", "earliest"},
        {"enable.partition.eof", "false"},
        /* A fetch waits for 64 KiB or 5 ms, whichever comes first. Each fetch
         * costs the broker sharing the box CPU of its own: answered at the
         * first byte (fetch.min.bytes 1), a live stream made ~800 fetches a
         * second under create load, most of the broker's time per create
         * (bench/profile-notes.md). Now at most 200 a second, whatever the
         * rate; the price is up to 5 ms more end-to-end latency when events
         * trickle (KAFKA_PROP_FETCH_MIN_BYTES=1 takes it back). */
        {"fetch.min.bytes", "65536"},
        {"fetch.wait.max.ms", "5"},
        /* A crashed instance's partitions move on within 10 s, not the default 45 s. */
        {"session.timeout.ms", "10000"},
        {"heartbeat.interval.ms", "2000"},
        /* A rebalance moves only the partitions that must move (consumer_group.c). */
        {"partition.assignment.strategy", "cooperative-sticky"},
        /* Prefetch per partition: 16 MiB keeps catch-up fed (decoding is the
         * bottleneck) without librdkafka's 64 MiB-per-partition default. */
        {"queued.max.messages.kbytes", "16384"},
        /* librdkafka 2.0.2 stops fetching a partition whose queue holds
         * queued.min.messages (default 100,000, about 12 MB of creates) and
         * looks again only at its broker thread's next wake-up, up to 1 s
         * later: catch-up ran in bursts at ~111,000 events/s. At 400,000 the
         * kbytes bound above decides instead: 145,000-180,000 events/s,
         * RssAnon 105 -> 128 MB (bench/profile-notes.md). */
        {"queued.min.messages", "400000"},
    };
    rd_kafka_conf_t *conf = kafka_conf_new(cfg->bootstrap, "order-service", cprops,
                                           sizeof cprops / sizeof cprops[0], err, errlen);
    if (!conf)
        return -1;
    if (*cfg->instance_id) {
        char cerr[256];
        if (rd_kafka_conf_set(conf, "group.instance.id", cfg->instance_id, cerr, sizeof cerr) !=
            RD_KAFKA_CONF_OK) {
            rd_kafka_conf_destroy(conf);
            snprintf(err, errlen, "CONSUMER_INSTANCE_ID: %s", cerr);
            return -1;
        }
    }
    rd_kafka_conf_set_opaque(conf, c);
    rd_kafka_conf_set_rebalance_cb(conf, consumer_group_rebalance_cb);
    rd_kafka_conf_set_error_cb(conf, error_cb);
    rd_kafka_conf_set_offset_commit_cb(conf, consumer_offset_commit_cb);
    char kerr[256];
    c->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, kerr, sizeof kerr);
    if (!c->rk) {
        rd_kafka_conf_destroy(conf);
        snprintf(err, errlen, "consumer: %s", kerr);
        return -1;
    }
    rd_kafka_resp_err_t e = rd_kafka_poll_set_consumer(c->rk);
    if (e) {
        snprintf(err, errlen, "consumer: %s", rd_kafka_err2str(e));
        return -1;
    }
    rd_kafka_conf_t *pconf =
        kafka_conf_new(cfg->bootstrap, "order-service-dlq", NULL, 0, err, errlen);
    if (!pconf)
        return -1;
    c->dlq = dlq_writer_new(pconf, cfg->dlq_topic, CONSUMER_DLQ_TIMEOUT_MS, cfg->test_dlq_fatal,
                            err, errlen);
    if (!c->dlq)
        return -1;
    return 0;
}

/*
 * Commits the positions that moved to Kafka; async in the loop, sync when
 * leaving or giving partitions up. The store holds the truth (every start
 * seeks to the store's position), so Kafka's copy is for operators and their
 * lag tools only: the loop sends it at most every CONSUMER_COMMIT_EVERY_MS,
 * not per batch. Per batch, a live trickle made one OffsetCommit per
 * transaction (450 a second under create load), each a write to
 * __consumer_offsets on the broker sharing the box (bench/profile-notes.md).
 */
void consumer_kafka_commit(order_consumer *c, int async)
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
    c->offset_commits++;
    /* Not fatal: the store holds the truth; only lag tools read Kafka's copy. */
    if (e && e != RD_KAFKA_RESP_ERR__NO_OFFSET)
        log_warn("offset commit: %s", rd_kafka_err2str(e));
    rd_kafka_topic_partition_list_destroy(l);
}

/*
 * A commit's outcome (librdkafka calls it from rd_kafka_consumer_poll, on the
 * consume thread): a partition whose position did not reach Kafka is sent
 * again at the next tick, however idle it is from then on.
 */
void consumer_offset_commit_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                               rd_kafka_topic_partition_list_t *offsets, void *opaque)
{
    (void)rk;
    order_consumer *c = opaque;
    if (err == RD_KAFKA_RESP_ERR__NO_OFFSET || !offsets)
        return;
    int failed = 0;
    for (int i = 0; i < offsets->cnt; i++) {
        const rd_kafka_topic_partition_t *tp = &offsets->elems[i];
        if (!err && !tp->err)
            continue;
        failed++;
        if (tp->partition >= 0 && tp->partition < c->ap.nparts &&
            c->ap.parts[tp->partition].assigned)
            c->ap.parts[tp->partition].moved = 1;
    }
    if (failed) {
        c->offset_commit_failures++;
        log_warn("offset commit of %d partition(s) failed (sent again at the next tick): %s",
                 failed, rd_kafka_err2str(err ? err : offsets->elems[0].err));
    }
}
