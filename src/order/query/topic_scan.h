/*
 * topic_scan: reads a topic from a start position to the end it had when
 * the scan began, over all partitions, without joining the consumer group
 * and without committing anything (the service's group offsets are never
 * touched). Used by GET /getAllOrderIdsFromTopic and the /dlq endpoints.
 *
 * Positions are counted in "topic order": partition ascending, then offset
 * ascending, so skip/limit page through a topic deterministically; or a
 * plan callback picks each partition's start (a topic index's tail). A scan
 * with ordered=0 reads all partitions at once (fastest; records of different
 * partitions interleave, each partition still in offset order).
 */
#ifndef TOPIC_SCAN_H
#define TOPIC_SCAN_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    int32_t partition;
    int64_t offset;
    int64_t timestamp_ms; /* -1 when the broker gave none */
    const void *key;
    size_t key_len;
    const void *value;
    size_t value_len;
    rd_kafka_message_t *msg; /* for headers (rd_kafka_message_headers) */
} scan_record;

/* Return non-zero to stop the scan early (not an error). */
typedef int (*scan_fn)(void *arg, const scan_record *r);

typedef enum {
    SCAN_OK = 0,
    SCAN_NO_TOPIC,    /* the topic does not exist */
    SCAN_UNAVAILABLE, /* broker unreachable or the scan timed out */
    SCAN_ERROR        /* anything else */
} scan_status;

typedef struct {
    const char *bootstrap;
    const char *group_id; /* required by librdkafka for assign(); never joined or committed */
    const char *topic;
    int64_t skip;   /* records to pass over first, in topic order */
    int64_t limit;  /* records to deliver at most; < 0: all */
    int ordered;    /* deliver strictly in topic order */
    int timeout_ms; /* bound on the whole scan */
    /*
     * Optional, for a read of a topic's tail: called once the np partitions'
     * watermarks lo[] and hi[] are known, before anything is read; fills
     * start[p], where partition p is read from (clamped to [lo, hi]; skip
     * and limit are then ignored). Non-zero stops the scan (SCAN_ERROR).
     */
    int (*plan)(void *arg, int np, const int64_t *lo, const int64_t *hi, int64_t *start);
    void *plan_arg;
} scan_request;

/*
 * Runs the scan. *total receives the number of records in the topic when the
 * scan began (sum over partitions of high - low watermark).
 */
scan_status topic_scan(const scan_request *req, scan_fn fn, void *arg, int64_t *total, char *err,
                       size_t errlen);

#endif
