/*
 * dlq: DLQ header encoding/decoding and a synchronous, idempotent DLQ
 * producer. See dlq.h for the header names and why the record is shaped so.
 *
 * The producer is driven only by the consumer thread: dlq_send() produces
 * one record and serves delivery reports until that record's report arrives.
 * librdkafka guarantees a report within message.timeout.ms, so the wait is
 * bounded; a failed or timed-out record is reported to the caller, which
 * retries (never losing the event; at worst the DLQ holds it twice).
 */
#include "dlq.h"

#include "kafka_util.h"

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

rd_kafka_headers_t *dlq_headers_build(const dlq_info *d)
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
    if (rc) {
        rd_kafka_headers_destroy(h);
        return NULL;
    }
    return h;
}

struct dlq_producer {
    rd_kafka_t *rk;
    char topic[DLQ_TOPIC_MAX + 1];
    uint64_t seq; /* id of the record being waited for */
    int done;     /* its report arrived */
    rd_kafka_resp_err_t result;
};

static void dlq_dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    dlq_producer *p = opaque;
    /* Reports of earlier, abandoned sends are ignored: only the awaited one counts. */
    if ((uint64_t)(uintptr_t)m->_private != p->seq)
        return;
    p->done = 1;
    p->result = m->err;
}

dlq_producer *dlq_producer_new(rd_kafka_conf_t *conf, const char *topic, int delivery_timeout_ms,
                               char *err, size_t errlen)
{
    dlq_producer *p = calloc(1, sizeof *p);
    if (!p) {
        rd_kafka_conf_destroy(conf);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (strlen(topic) > DLQ_TOPIC_MAX) {
        rd_kafka_conf_destroy(conf);
        free(p);
        snprintf(err, errlen, "DLQ topic name too long");
        return NULL;
    }
    snprintf(p->topic, sizeof p->topic, "%s", topic);
    char tmo[24];
    snprintf(tmo, sizeof tmo, "%d", delivery_timeout_ms);
    if (kafka_conf_set(conf, "enable.idempotence", "true", err, errlen) != 0 ||
        kafka_conf_set(conf, "acks", "all", err, errlen) != 0 ||
        kafka_conf_set(conf, "message.timeout.ms", tmo, err, errlen) != 0 ||
        kafka_conf_set(conf, "linger.ms", "0", err, errlen) != 0) {
        rd_kafka_conf_destroy(conf);
        free(p);
        return NULL;
    }
    rd_kafka_conf_set_opaque(conf, p);
    rd_kafka_conf_set_dr_msg_cb(conf, dlq_dr_cb);
    char kerr[256];
    p->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, kerr, sizeof kerr);
    if (!p->rk) {
        rd_kafka_conf_destroy(conf);
        free(p);
        snprintf(err, errlen, "DLQ producer: %s", kerr);
        return NULL;
    }
    return p;
}

void dlq_producer_free(dlq_producer *p)
{
    if (!p)
        return;
    /* Anything still queued is a record we already reported as failed; bounded wait. */
    (void)rd_kafka_flush(p->rk, 5000);
    rd_kafka_destroy(p->rk);
    free(p);
}

rd_kafka_t *dlq_producer_handle(dlq_producer *p)
{
    return p->rk;
}

int dlq_send(dlq_producer *p, const void *key, size_t keylen, const void *value, size_t vlen,
             const dlq_info *d, char *err, size_t errlen)
{
    rd_kafka_headers_t *h = dlq_headers_build(d);
    if (!h) {
        snprintf(err, errlen, "DLQ headers: out of memory");
        return -1;
    }
    p->seq++;
    p->done = 0;
    rd_kafka_resp_err_t e = rd_kafka_producev(
        p->rk, RD_KAFKA_V_TOPIC(p->topic), RD_KAFKA_V_KEY((void *)key, key ? keylen : 0),
        RD_KAFKA_V_VALUE((void *)value, value ? vlen : 0), RD_KAFKA_V_HEADERS(h),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE((void *)(uintptr_t)p->seq),
        RD_KAFKA_V_END);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        rd_kafka_headers_destroy(h); /* not taken over on failure */
        snprintf(err, errlen, "DLQ produce: %s", rd_kafka_err2str(e));
        return -1;
    }
    while (!p->done)
        rd_kafka_poll(p->rk, 100);
    if (p->result != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(err, errlen, "DLQ delivery: %s", rd_kafka_err2str(p->result));
        return -1;
    }
    return 0;
}
