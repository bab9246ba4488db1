/*
 * dlq_info: the dead-letter record's contract, shared by who writes dead
 * letters (order-service's ingest) and who reads them back (its /dlq
 * endpoints, other instances, operators replaying them).
 *
 * A DLQ record keeps the original key and value bytes unchanged (so it can be
 * replayed as is) and carries the error context in headers, all UTF-8 text:
 *
 *   dlq.category            NO_RETRY_DLQ | RETRY_THEN_DLQ
 *   dlq.reason              DESERIALIZATION_ERROR | INVALID_EVENT | DUPLICATE_ORDER |
 *                           ORDER_NOT_FOUND | PROCESSING_FAILED
 *   dlq.message             readable detail (at most DLQ_MESSAGE_MAX bytes)
 *   dlq.retry.count         retries made before dead-lettering (decimal)
 *   dlq.original.topic      where the event was read
 *   dlq.original.partition  (decimal)
 *   dlq.original.offset     (decimal)
 *   dlq.original.timestamp  the record's Kafka timestamp, ms since the epoch
 *   dlq.failed.at           when it was dead-lettered, ms since the epoch
 *   traceparent             the original record's W3C trace context, when it had a valid one
 *
 * Parsing (dlq_info_set_header) accepts any bytes: unknown headers are
 * ignored, bad values are reported and leave the field unset, nothing is read
 * past the given length. It parses records written by other instances too.
 */
#ifndef DLQ_INFO_H
#define DLQ_INFO_H

#include "platform/trace.h"

#include <librdkafka/rdkafka.h>
#include <stddef.h>
#include <stdint.h>

#define DLQ_CATEGORY_MAX 32
#define DLQ_REASON_MAX 32
#define DLQ_MESSAGE_MAX 512
#define DLQ_TOPIC_MAX 249

#define DLQ_NO_RETRY "NO_RETRY_DLQ"
#define DLQ_RETRY_THEN "RETRY_THEN_DLQ"

#define DLQ_R_DESERIALIZATION "DESERIALIZATION_ERROR"
#define DLQ_R_INVALID_EVENT "INVALID_EVENT"
#define DLQ_R_DUPLICATE "DUPLICATE_ORDER"
#define DLQ_R_NOT_FOUND "ORDER_NOT_FOUND"
#define DLQ_R_PROCESSING "PROCESSING_FAILED"

/* Bits of dlq_info.present. */
enum {
    DLQ_F_CATEGORY = 1u << 0,
    DLQ_F_REASON = 1u << 1,
    DLQ_F_MESSAGE = 1u << 2,
    DLQ_F_RETRY_COUNT = 1u << 3,
    DLQ_F_TOPIC = 1u << 4,
    DLQ_F_PARTITION = 1u << 5,
    DLQ_F_OFFSET = 1u << 6,
    DLQ_F_TIMESTAMP = 1u << 7,
    DLQ_F_FAILED_AT = 1u << 8,
    DLQ_F_ALL = (1u << 9) - 1
};

typedef struct {
    char category[DLQ_CATEGORY_MAX + 1];
    char reason[DLQ_REASON_MAX + 1];
    char message[DLQ_MESSAGE_MAX + 1];
    int64_t retry_count;
    char original_topic[DLQ_TOPIC_MAX + 1];
    int64_t original_partition;
    int64_t original_offset;
    int64_t original_timestamp_ms;
    int64_t failed_at_ms;
    unsigned present; /* DLQ_F_* of the fields that are set */
    /* the original record's W3C `traceparent` (validated), "" none: written
     * as the DLQ record's own `traceparent` header, so the dead letter stays
     * in the trace of the request that produced it */
    char traceparent[TRACE_PARENT_LEN + 1];
} dlq_info;

/* Fills the fields of a new record (all present); strings are truncated to fit. */
void dlq_info_init(dlq_info *d, const char *category, const char *reason, const char *message,
                   int64_t retry_count, const char *topic, int32_t partition, int64_t offset,
                   int64_t timestamp_ms, int64_t failed_at_ms);

/*
 * Parses one header into d. Returns 1 when it set a field, 0 for a header
 * that is not ours, -1 for one of ours with an invalid value.
 */
int dlq_info_set_header(dlq_info *d, const char *name, const void *value, size_t len);

/* Parses every header of a record (d is cleared first). NULL hdrs: nothing present. */
void dlq_info_from_headers(dlq_info *d, const rd_kafka_headers_t *hdrs);

/* The headers of a record; NULL on allocation failure. */
rd_kafka_headers_t *dlq_info_headers(const dlq_info *d);

#endif
