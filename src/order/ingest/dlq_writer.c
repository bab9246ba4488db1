/*
 * dlq_writer: a synchronous, idempotent producer of dead letters (see
 * dlq_writer.h; the record's headers are event/dlq_info.h).
 *
 * The producer is driven only by the consumer thread: dlq_writer_send()
 * produces one record and serves delivery reports until that record's report
 * arrives. librdkafka guarantees a report within message.timeout.ms, so the
 * wait is bounded; a failed or timed-out record is reported to the caller,
 * which retries (never losing the event; at worst the DLQ holds it twice).
 */
#include "ingest/dlq_writer.h"

#include "platform/kafka_util.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct dlq_writer {
    rd_kafka_t *rk;
    char topic[DLQ_TOPIC_MAX + 1];
    uint64_t seq; /* id of the record being waited for */
    int done;     /* its report arrived */
    rd_kafka_resp_err_t result;
};

static void dlq_dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    dlq_writer *p = opaque;
    /* Reports of earlier, abandoned sends are ignored: only the awaited one counts. */
    if ((uint64_t)(uintptr_t)m->_private != p->seq)
        return;
    p->done = 1;
    p->result = m->err;
}

dlq_writer *dlq_writer_new(rd_kafka_conf_t *conf, const char *topic, int delivery_timeout_ms,
                           char *err, size_t errlen)
{
    dlq_writer *p = calloc(1, sizeof *p);
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

void dlq_writer_free(dlq_writer *p)
{
    if (!p)
        return;
    /* Anything still queued is a record we already reported as failed; bounded wait. */
    (void)rd_kafka_flush(p->rk, 5000);
    rd_kafka_destroy(p->rk);
    free(p);
}

rd_kafka_t *dlq_writer_handle(dlq_writer *p)
{
    return p->rk;
}

int dlq_writer_send(dlq_writer *p, const void *key, size_t keylen, const void *value, size_t vlen,
                    const dlq_info *d, char *err, size_t errlen)
{
    rd_kafka_headers_t *h = dlq_info_headers(d);
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
