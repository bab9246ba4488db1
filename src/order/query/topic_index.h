/*
 * topic_index: a topic read that scans only the tail past what the store's
 * topic index (store.h, store_tix_*) already holds, and extends the index
 * with what it read. Used by GET /getAllOrderIdsFromTopic (the distinct
 * keys of any topic the endpoint accepts) and /dlq/stats (counts by
 * category and reason).
 *
 * The answer is always the topic's own: the index as loaded (one snapshot:
 * positions and content agree) plus every record of the topic from the
 * index's position to the high watermark the read began with. The index is
 * rebuilt from the low watermark when the topic no longer holds what it
 * indexed (retention deleted indexed records, a partition shrank or went
 * away). Extending it is optional for the answer: chunks of
 * TOPIC_INDEX_CHUNK records are written as the scan goes (one short store
 * transaction each, so a SQLite consumer is never held up long), and a
 * chunk another handle beat us to (STORE_FENCED) or a failing store just
 * stops the writing; without a store (NULL) the read is a plain scan.
 */
#ifndef TOPIC_INDEX_H
#define TOPIC_INDEX_H

#include "event/dlq_info.h"
#include "platform/metrics.h"
#include "query/idset.h"
#include "query/topic_scan.h"
#include "store/store.h"

#include <stdatomic.h>

#define TOPIC_INDEX_CHUNK 65536 /* records per index write during a scan */
#define TOPIC_STATS_NAMES 64    /* names per table; more fold into "OTHER" */

typedef struct {
    char name[DLQ_REASON_MAX + 1];
    long long n;
    long long flushed; /* the part of n the store's index holds */
} topic_stat;

typedef struct {
    topic_stat cat[TOPIC_STATS_NAMES], reason[TOPIC_STATS_NAMES];
    int ncat, nreason;
} topic_stats;

/* What a read did, for logs and tests. */
typedef struct {
    int64_t scanned;  /* records read from Kafka */
    int from_index;   /* the index was loaded (and not rebuilt) */
    int index_failed; /* the store could not be read or written: see the log */
} topic_index_info;

/*
 * The distinct keys of req->topic into ids (empty on entry). *total: records
 * in the topic. SCAN_ERROR with *failed = 1 when ids is over its bounds.
 */
scan_status topic_index_ids(store *st, const scan_request *req, const atomic_int *stop, idset *ids,
                            int *failed, int64_t *total, topic_index_info *info, char *err,
                            size_t errlen);

/* Counts by the dead-letter headers' category and reason of req->topic (zeroed on entry). */
scan_status topic_index_stats(store *st, const scan_request *req, const atomic_int *stop,
                              topic_stats *stats, int64_t *total, topic_index_info *info, char *err,
                              size_t errlen);

/* Records read by a topic read that uses no index (/dlq/messages). */
void topic_index_count_scanned(int64_t n);

/* order_topic_read_* families for /metrics. */
void topic_index_metrics_render(metrics_text *t);

#endif
