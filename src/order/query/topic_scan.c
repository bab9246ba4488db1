/*
 * topic_scan: a short-lived assign-only consumer per scan (see topic_scan.h).
 *
 * Why a fresh consumer each time: scans are rare admin reads, and a private
 * client cannot disturb the service's group (no join, no commit) nor share
 * fetch state with the consume loop. The callback sees pointers into
 * librdkafka's buffers (no payload copy), records are dequeued in batches.
 *
 * Memory (issue 15, bench/profile-notes.md): what a scan holds is librdkafka's
 * prefetch, and a queued record costs about 2.5 times its payload (the
 * message op next to the fetch buffer it points into), so the prefetch is
 * kept small (3 MB fetches, 1 MiB per partition, 4 MiB queued; the indexed
 * reads of topic_index.c also run one at a time). A small queue alone would make a
 * scan slow: librdkafka 2.0 re-decides a partition that stopped fetching
 * because its queue was full only when its broker thread wakes up (up to
 * 1 s later), so scan_wake gives it a reason to wake as soon as the queue is
 * empty.
 */
#include "query/topic_scan.h"
#include "platform/clock.h"

#include "platform/kafka_util.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SCAN_BATCH 1024

static int scan_left(int64_t deadline)
{
    int64_t left = deadline - clock_mono_ms();
    return left < 1 ? 1 : (int)left;
}

typedef struct {
    int64_t start, end; /* [start, end) still to read */
    int done;
} scan_range;

static rd_kafka_t *scan_client(const scan_request *req, char *err, size_t errlen)
{
    const char *const props[][2] = {
        {"group.id", req->group_id},
        {"enable.auto.commit", "false"},
        {"enable.auto.offset.store", "false"},
        {"enable.partition.eof", "true"},
        {"auto.offset.reset", "earliest"},
        /* Bounds what a scan buffers ahead of the callback (the queue is the
         * consumer's one, over all partitions, and may be overshot by one
         * fetch). Measured over 1M events (117-byte records, 3 partitions,
         * /dlq/stats): 32 MB fetches, 8 MiB per partition, 16 MiB queued
         * peaked at +109 MB RssAnon in 1.4 s; these at +36 MB in 2.2 s. */
        {"fetch.max.bytes", "3145728"},
        {"max.partition.fetch.bytes", "1048576"},
        {"fetch.wait.max.ms", "10"},
        {"queued.min.messages", "200000"},
        {"queued.max.messages.kbytes", "4096"},
    };
    rd_kafka_conf_t *conf = kafka_conf_new(req->bootstrap, "order-service-scan", props,
                                           sizeof props / sizeof props[0], err, errlen);
    if (!conf)
        return NULL;
    char kerr[256];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, kerr, sizeof kerr);
    if (!rk) {
        snprintf(err, errlen, "scan consumer: %s", kerr);
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    (void)rd_kafka_poll_set_consumer(rk);
    return rk;
}

/* The consumer queue ran dry: wakes the fetchers of the partitions still
 * read (kafka_wake_fetcher), within the scan's deadline. */
static void scan_wake(rd_kafka_t *rk, const char *topic, const scan_range *r, int np,
                      int64_t deadline)
{
    for (int p = 0; p < np; p++) {
        if (r[p].done)
            continue;
        int left = scan_left(deadline);
        kafka_wake_fetcher(rk, topic, p, left < 1000 ? left : 1000);
    }
}

/* Reads the assigned ranges until all are done. */
static scan_status scan_drain(rd_kafka_t *rk, const char *topic, scan_range *r, int np, int pending,
                              int64_t deadline, scan_fn fn, void *arg, int *stopped, char *err,
                              size_t errlen)
{
    rd_kafka_queue_t *q = rd_kafka_queue_get_consumer(rk);
    if (!q) {
        snprintf(err, errlen, "scan: no consumer queue");
        return SCAN_ERROR;
    }
    rd_kafka_message_t *msgs[SCAN_BATCH];
    scan_status st = SCAN_OK;
    ssize_t n = 0;
    while (pending > 0 && !*stopped) {
        if (clock_mono_ms() >= deadline) {
            snprintf(err, errlen, "topic read timed out");
            st = SCAN_UNAVAILABLE;
            break;
        }
        /* after records came, an empty queue means the fetching may have stopped */
        if (n > 0 && rd_kafka_queue_length(q) == 0)
            scan_wake(rk, topic, r, np, deadline);
        n = rd_kafka_consume_batch_queue(q, 100, msgs, SCAN_BATCH);
        if (n < 0) {
            snprintf(err, errlen, "scan: %s", rd_kafka_err2str(rd_kafka_last_error()));
            st = SCAN_ERROR;
            break;
        }
        for (ssize_t i = 0; i < n; i++) {
            rd_kafka_message_t *m = msgs[i];
            int32_t p = m->partition;
            if (*stopped || p < 0 || p >= np || r[p].done) {
                rd_kafka_message_destroy(m);
                continue;
            }
            if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                r[p].done = 1;
                pending--;
            } else if (m->err) {
                /* Transient (broker down, leader change): librdkafka retries; the deadline bounds
                 * us. */
            } else if (m->offset >= r[p].end) {
                r[p].done = 1;
                pending--;
            } else if (m->offset >= r[p].start) {
                rd_kafka_timestamp_type_t tt;
                int64_t ts = rd_kafka_message_timestamp(m, &tt);
                scan_record rec = {p, m->offset, ts, m->key, m->key_len, m->payload, m->len, m};
                if (fn(arg, &rec))
                    *stopped = 1;
                if (m->offset + 1 >= r[p].end) {
                    r[p].done = 1;
                    pending--;
                }
            }
            rd_kafka_message_destroy(m);
        }
    }
    rd_kafka_queue_destroy(q);
    return st;
}

static scan_status scan_assign(rd_kafka_t *rk, const char *topic, scan_range *r, int first,
                               int last, int *pending, char *err, size_t errlen)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(last - first + 1);
    if (!l) {
        snprintf(err, errlen, "out of memory");
        return SCAN_ERROR;
    }
    *pending = 0;
    for (int p = first; p <= last; p++) {
        if (r[p].done)
            continue;
        rd_kafka_topic_partition_list_add(l, topic, p)->offset = r[p].start;
        (*pending)++;
    }
    rd_kafka_resp_err_t e = rd_kafka_assign(rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    if (e) {
        snprintf(err, errlen, "scan assign: %s", rd_kafka_err2str(e));
        return SCAN_ERROR;
    }
    return SCAN_OK;
}

/* Each partition's [start, end): from the plan's starts, or skip/limit in topic order. */
static void scan_plan_ranges(const scan_request *req, int np, const int64_t *lo, const int64_t *hi,
                             const int64_t *start, scan_range *r)
{
    int64_t skip = req->skip < 0 ? 0 : req->skip;
    int64_t want = req->limit;
    for (int p = 0; p < np; p++) {
        r[p].start = r[p].end = hi[p];
        if (req->plan) {
            r[p].start = start[p] < lo[p] ? lo[p] : start[p] > hi[p] ? hi[p] : start[p];
        } else if (skip >= hi[p] - lo[p]) {
            skip -= hi[p] - lo[p];
        } else {
            r[p].start = lo[p] + skip;
            skip = 0;
            int64_t take = hi[p] - r[p].start;
            if (want >= 0 && take > want)
                take = want;
            r[p].end = r[p].start + take;
            if (want >= 0)
                want -= take;
        }
        r[p].done = r[p].start >= r[p].end;
    }
}

scan_status topic_scan(const scan_request *req, scan_fn fn, void *arg, int64_t *total, char *err,
                       size_t errlen)
{
    int64_t deadline = clock_mono_ms() + req->timeout_ms;
    *total = 0;
    rd_kafka_t *rk = scan_client(req, err, errlen);
    if (!rk)
        return SCAN_ERROR;
    scan_status st = SCAN_OK;
    scan_range *r = NULL;
    int np = kafka_topic_partitions(rk, req->topic, scan_left(deadline), err, errlen);
    if (np < 0) {
        st = SCAN_UNAVAILABLE;
        goto out;
    }
    if (np == 0) {
        snprintf(err, errlen, "topic '%s' does not exist", req->topic);
        st = SCAN_NO_TOPIC;
        goto out;
    }
    r = calloc((size_t)np, sizeof *r);
    if (!r) {
        snprintf(err, errlen, "out of memory");
        st = SCAN_ERROR;
        goto out;
    }
    int64_t *lo = calloc((size_t)np * 3, sizeof *lo);
    if (!lo) {
        snprintf(err, errlen, "out of memory");
        st = SCAN_ERROR;
        goto out;
    }
    int64_t *hi = lo + np, *start = hi + np;
    for (int p = 0; p < np; p++) {
        rd_kafka_resp_err_t e = rd_kafka_query_watermark_offsets(rk, req->topic, p, &lo[p], &hi[p],
                                                                 scan_left(deadline));
        if (e) {
            snprintf(err, errlen, "watermarks of %s[%d]: %s", req->topic, p, rd_kafka_err2str(e));
            st = SCAN_UNAVAILABLE;
            free(lo);
            goto out;
        }
        if (hi[p] < lo[p])
            hi[p] = lo[p];
        *total += hi[p] - lo[p];
        start[p] = lo[p];
    }
    if (req->plan && req->plan(req->plan_arg, np, lo, hi, start)) {
        snprintf(err, errlen, "topic read: planning failed");
        st = SCAN_ERROR;
        free(lo);
        goto out;
    }
    scan_plan_ranges(req, np, lo, hi, start, r);
    free(lo);
    int stopped = 0, pending = 0;
    if (req->ordered) {
        for (int p = 0; p < np && st == SCAN_OK && !stopped; p++) {
            if (r[p].done)
                continue;
            st = scan_assign(rk, req->topic, r, p, p, &pending, err, errlen);
            if (st == SCAN_OK)
                st = scan_drain(rk, req->topic, r, np, pending, deadline, fn, arg, &stopped, err,
                                errlen);
        }
    } else {
        st = scan_assign(rk, req->topic, r, 0, np - 1, &pending, err, errlen);
        if (st == SCAN_OK && pending > 0)
            st = scan_drain(rk, req->topic, r, np, pending, deadline, fn, arg, &stopped, err,
                            errlen);
    }
out:
    free(r);
    (void)rd_kafka_assign(rk, NULL);
    (void)rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    /* A scan of millions of records leaves large free blocks in this thread's
     * arena; hand them back so resident memory stays bounded between scans. */
    malloc_trim(0);
    return st;
}
