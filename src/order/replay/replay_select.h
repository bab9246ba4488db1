/*
 * replay_select: what a POST /dlq/replay asks for, parsed and checked, and
 * whether one dead letter matches it. Pure logic (no Kafka, no store), so
 * every rule is unit-tested (tests/unit/order/replay/).
 *
 * The request body (JSON object; every field optional, unknown fields are
 * refused):
 *   ranges       [{partition, fromOffset, toOffset}] DLQ offsets, per
 *                partition, both ends inclusive (fromOffset default 0,
 *                toOffset default: the end); at most REPLAY_RANGES_MAX, one
 *                per partition. Absent: every partition, every offset.
 *   reason       one dlq.reason (DUPLICATE_ORDER, ORDER_NOT_FOUND, ...)
 *   orderId      the record's key
 *   failedFrom   dlq.failed.at >= this (ISO 8601 UTC, "...T14:00:00.000Z")
 *   failedTo     dlq.failed.at <  this
 *   targetTopic  where to replay; only ORDER_EVENTS_TOPIC is accepted (the
 *                record's own dlq.original.topic must be it too)
 *   dryRun       list what would be replayed, change nothing
 *   force        replay records already replayed too
 *   limit        at most this many records selected (1..REPLAY_LIMIT_MAX,
 *                default REPLAY_LIMIT_DEFAULT); the replay stops there
 * Criteria combine with AND. A record without the header a criterion needs
 * (no dlq.reason with reason given, no dlq.failed.at with a time range) does
 * not match.
 */
#ifndef REPLAY_SELECT_H
#define REPLAY_SELECT_H

#include "event/dlq_info.h"
#include "event/order_model.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define REPLAY_RANGES_MAX 64
#define REPLAY_LIMIT_DEFAULT 10000
#define REPLAY_LIMIT_MAX 1000000
#define REPLAY_PARTITION_MAX 100000 /* a partition number beyond any real topic */

typedef struct {
    int32_t partition;
    int64_t from; /* first DLQ offset */
    int64_t to;   /* last DLQ offset, inclusive; INT64_MAX: to the end */
} replay_range;

typedef struct {
    replay_range ranges[REPLAY_RANGES_MAX];
    size_t nranges; /* 0: every partition, every offset */
    char reason[DLQ_REASON_MAX + 1];
    char order_id[ORDER_ID_MAX + 1];
    int64_t failed_from_ms; /* INT64_MIN: unbounded */
    int64_t failed_to_ms;   /* INT64_MAX: unbounded */
    int dry_run;
    int force;
    long long limit;
} replay_selection;

/*
 * Parses body into out. own_topic is ORDER_EVENTS_TOPIC. Returns 0, or -1
 * with the offending field (JSON path, e.g. "ranges[1].toOffset") and a
 * readable message: the caller answers 400.
 */
int replay_select_parse(const json_t *body, const char *own_topic, replay_selection *out,
                        char *field, size_t fieldlen, char *err, size_t errlen);

/*
 * The DLQ offsets of partition p to read: 1 with [*from, *to_excl) clipped
 * to what the selection allows (the caller clips to the watermarks), or 0
 * when the selection excludes the partition.
 */
int replay_select_partition(const replay_selection *s, int32_t p, int64_t *from, int64_t *to_excl);

/* 1 if the dead letter at (p, offset) with headers d and key matches every criterion. */
int replay_select_match(const replay_selection *s, const dlq_info *d, int32_t p, int64_t offset,
                        const void *key, size_t keylen);

/*
 * "2026-11-25T14:00:00Z" or with .f to .fff fractions, UTC only, into ms
 * since the epoch. 0, or -1 if it is not such a time.
 */
int replay_select_parse_time(const char *s, int64_t *ms);

#endif
