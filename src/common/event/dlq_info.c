/*
 * dlq_info: the dead-letter record's headers, written and parsed. See
 * dlq_info.h for the names and why the record is shaped so.
 */
#include "event/dlq_info.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *name;
    unsigned flag;
} dlq_names[] = {
    {"dlq.category", DLQ_F_CATEGORY},      {"dlq.reason", DLQ_F_REASON},
    {"dlq.message", DLQ_F_MESSAGE},        {"dlq.retry.count", DLQ_F_RETRY_COUNT},
    {"dlq.original.topic", DLQ_F_TOPIC},   {"dlq.original.partition", DLQ_F_PARTITION},
    {"dlq.original.offset", DLQ_F_OFFSET}, {"dlq.original.timestamp", DLQ_F_TIMESTAMP},
    {"dlq.failed.at", DLQ_F_FAILED_AT},
};
#define DLQ_NNAMES (sizeof dlq_names / sizeof dlq_names[0])

static void dlq_copy(char *dst, size_t cap, const char *src, size_t len)
{
    if (len >= cap)
        len = cap - 1;
    memcpy(dst, src, len);
    dst[len] = '\0';
}

void dlq_info_init(dlq_info *d, const char *category, const char *reason, const char *message,
                   int64_t retry_count, const char *topic, int32_t partition, int64_t offset,
                   int64_t timestamp_ms, int64_t failed_at_ms)
{
    memset(d, 0, sizeof *d);
    dlq_copy(d->category, sizeof d->category, category, strlen(category));
    dlq_copy(d->reason, sizeof d->reason, reason, strlen(reason));
    dlq_copy(d->message, sizeof d->message, message, strlen(message));
    dlq_copy(d->original_topic, sizeof d->original_topic, topic, strlen(topic));
    d->retry_count = retry_count;
    d->original_partition = partition;
    d->original_offset = offset;
    d->original_timestamp_ms = timestamp_ms;
    d->failed_at_ms = failed_at_ms;
    d->present = DLQ_F_ALL;
}

/* Strict decimal integer from len bytes (optional '-'), no trailing junk. */
static int dlq_parse_int(const void *value, size_t len, int64_t *out)
{
    char buf[24];
    if (len == 0 || len >= sizeof buf)
        return -1;
    memcpy(buf, value, len);
    buf[len] = '\0';
    for (size_t i = 0; i < len; i++) {
        if (!((buf[i] >= '0' && buf[i] <= '9') || (i == 0 && buf[i] == '-' && len > 1)))
            return -1;
    }
    errno = 0;
    char *end = NULL;
    long long v = strtoll(buf, &end, 10);
    if (errno || *end != '\0')
        return -1;
    *out = v;
    return 0;
}

int dlq_info_set_header(dlq_info *d, const char *name, const void *value, size_t len)
{
    unsigned flag = 0;
    for (size_t i = 0; i < DLQ_NNAMES; i++) {
        if (strcmp(name, dlq_names[i].name) == 0) {
            flag = dlq_names[i].flag;
            break;
        }
    }
    if (!flag)
        return 0;
    if (!value)
        return -1;
    int64_t num = 0;
    switch (flag) {
    case DLQ_F_CATEGORY:
        dlq_copy(d->category, sizeof d->category, value, len);
        break;
    case DLQ_F_REASON:
        dlq_copy(d->reason, sizeof d->reason, value, len);
        break;
    case DLQ_F_MESSAGE:
        dlq_copy(d->message, sizeof d->message, value, len);
        break;
    case DLQ_F_TOPIC:
        dlq_copy(d->original_topic, sizeof d->original_topic, value, len);
        break;
    default:
        if (dlq_parse_int(value, len, &num) != 0)
            return -1;
        if (flag == DLQ_F_RETRY_COUNT)
            d->retry_count = num;
        else if (flag == DLQ_F_PARTITION)
            d->original_partition = num;
        else if (flag == DLQ_F_OFFSET)
            d->original_offset = num;
        else if (flag == DLQ_F_TIMESTAMP)
            d->original_timestamp_ms = num;
        else
            d->failed_at_ms = num;
        break;
    }
    d->present |= flag;
    return 1;
}

void dlq_info_from_headers(dlq_info *d, const rd_kafka_headers_t *hdrs)
{
    memset(d, 0, sizeof *d);
    if (!hdrs)
        return;
    const char *name;
    const void *value;
    size_t size;
    for (size_t i = 0;
         rd_kafka_header_get_all(hdrs, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR; i++)
        (void)dlq_info_set_header(d, name, value, size);
}

static int dlq_add(rd_kafka_headers_t *h, const char *name, const char *value)
{
    return rd_kafka_header_add(h, name, -1, value, (ssize_t)strlen(value)) ==
                   RD_KAFKA_RESP_ERR_NO_ERROR
               ? 0
               : -1;
}

static int dlq_add_int(rd_kafka_headers_t *h, const char *name, int64_t v)
{
    char buf[24];
    snprintf(buf, sizeof buf, "%" PRId64, v);
    return dlq_add(h, name, buf);
}

rd_kafka_headers_t *dlq_info_headers(const dlq_info *d)
{
    rd_kafka_headers_t *h = rd_kafka_headers_new(DLQ_NNAMES);
    if (!h)
        return NULL;
    int rc = dlq_add(h, "dlq.category", d->category);
    rc |= dlq_add(h, "dlq.reason", d->reason);
    rc |= dlq_add(h, "dlq.message", d->message);
    rc |= dlq_add_int(h, "dlq.retry.count", d->retry_count);
    rc |= dlq_add(h, "dlq.original.topic", d->original_topic);
    rc |= dlq_add_int(h, "dlq.original.partition", d->original_partition);
    rc |= dlq_add_int(h, "dlq.original.offset", d->original_offset);
    rc |= dlq_add_int(h, "dlq.original.timestamp", d->original_timestamp_ms);
    rc |= dlq_add_int(h, "dlq.failed.at", d->failed_at_ms);
    if (d->traceparent[0])
        rc |= dlq_add(h, "traceparent", d->traceparent);
    if (rc) {
        rd_kafka_headers_destroy(h);
        return NULL;
    }
    return h;
}
