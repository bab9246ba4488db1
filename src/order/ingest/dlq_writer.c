/*
 * dlq_writer: a synchronous, idempotent producer of dead letters (see
 * dlq_writer.h; the record's headers are event/dlq_info.h).
 *
 * The producer is driven only by the consumer thread: dlq_writer_send()
 * produces one record and serves delivery reports until that record's report
 * arrives. librdkafka guarantees a report within message.timeout.ms, so the
 * wait is bounded; a failed or timed-out record is reported to the caller,
 * which retries (never losing the event; at worst the DLQ holds it twice).
 *
 * Fatal errors: rd_kafka_fatal_error() is checked around every send; once set,
 * the handle is purged and destroyed and a new one created from a copy of the
 * configuration kept for that purpose (same settings, same callbacks). The
 * record that met the error was not acknowledged, so the caller writes it
 * again with the new producer: the dead letter is still written, once (or,
 * as always, at worst twice if it had reached the broker unacknowledged).
 */
#include "ingest/dlq_writer.h"

#include "platform/clock.h"
#include "platform/kafka_util.h"
#include "platform/log.h"

#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct dlq_writer {
    rd_kafka_t *rk;        /* NULL only while a recreation failed */
    rd_kafka_conf_t *conf; /* template for recreating rk (rd_kafka_new takes its conf) */
    char topic[DLQ_TOPIC_MAX + 1];
    uint64_t seq; /* id of the record being waited for */
    int done;     /* its report arrived */
    rd_kafka_resp_err_t result;
    int test_fatal_left; /* TEST ONLY: fatal errors still to raise */
    char fatal[256];     /* non-empty: down after a fatal error, not yet recreated */
    int64_t fatal_at_ms; /* when it was seen (monotonic) */
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

/* A new handle from the template: 0, or -1 + err. */
static int dlq_writer_create(dlq_writer *p, char *err, size_t errlen)
{
    assert(p->rk == NULL);
    rd_kafka_conf_t *conf = rd_kafka_conf_dup(p->conf);
    if (!conf) {
        snprintf(err, errlen, "DLQ producer: out of memory");
        return -1;
    }
    char kerr[256];
    p->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, kerr, sizeof kerr);
    if (!p->rk) {
        rd_kafka_conf_destroy(conf);
        snprintf(err, errlen, "DLQ producer: %s", kerr);
        return -1;
    }
    return 0;
}

/* Notes a fatal error of the current handle, if it has one: 1 if it has. */
static int dlq_writer_check_fatal(dlq_writer *p)
{
    char why[200];
    if (p->fatal[0])
        return 1;
    if (!p->rk)
        return 0;
    rd_kafka_resp_err_t fe = rd_kafka_fatal_error(p->rk, why, sizeof why);
    if (fe == RD_KAFKA_RESP_ERR_NO_ERROR)
        return 0;
    snprintf(p->fatal, sizeof p->fatal, "fatal error %s: %s", rd_kafka_err2name(fe), why);
    p->fatal_at_ms = clock_mono_ms();
    log_msg(LOG_ERROR, "kafka", NULL, "DLQ producer: %s; recreating it in %d ms", p->fatal,
            DLQ_WRITER_RECREATE_MS);
    return 1;
}

dlq_writer *dlq_writer_new(rd_kafka_conf_t *conf, const char *topic, int delivery_timeout_ms,
                           int test_fatal_times, char *err, size_t errlen)
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
    p->test_fatal_left = test_fatal_times > 0 ? test_fatal_times : 0;
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
    p->conf = conf;
    if (dlq_writer_create(p, err, errlen) != 0) {
        dlq_writer_free(p);
        return NULL;
    }
    if (p->test_fatal_left > 0)
        log_warn("TEST-ONLY: the DLQ producer fails fatally before its first %d writes "
                 "(ORDER_TEST_DLQ_FATAL)",
                 p->test_fatal_left);
    return p;
}

/* Purges what is queued (already reported as failed to our caller) and destroys the handle. */
static void dlq_writer_drop(dlq_writer *p, int flush_ms)
{
    if (!p->rk)
        return;
    if (flush_ms > 0)
        (void)rd_kafka_flush(p->rk, flush_ms);
    (void)rd_kafka_purge(p->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    (void)rd_kafka_poll(p->rk, 0); /* purged reports: not awaited, ignored */
    rd_kafka_destroy(p->rk);
    p->rk = NULL;
}

void dlq_writer_free(dlq_writer *p)
{
    if (!p)
        return;
    /* Anything still queued is a record we already reported as failed; bounded wait. */
    dlq_writer_drop(p, p->fatal[0] ? 0 : 5000);
    if (p->conf)
        rd_kafka_conf_destroy(p->conf);
    free(p);
}

rd_kafka_t *dlq_writer_handle(dlq_writer *p)
{
    return p->rk;
}

const char *dlq_writer_problem(const dlq_writer *p)
{
    if (p->fatal[0])
        return p->fatal;
    return p->rk ? NULL : "DLQ producer could not be recreated";
}

int dlq_writer_recover(dlq_writer *p, char *err, size_t errlen)
{
    if (!dlq_writer_check_fatal(p) && p->rk)
        return 0;
    int64_t left = p->fatal_at_ms + DLQ_WRITER_RECREATE_MS - clock_mono_ms();
    if (left > 0) {
        snprintf(err, errlen, "DLQ producer down (%s), recreated in %lld ms", p->fatal,
                 (long long)left);
        return -1;
    }
    dlq_writer_drop(p, 0);
    if (dlq_writer_create(p, err, errlen) != 0) {
        log_msg(LOG_ERROR, "kafka", NULL, "cannot recreate the DLQ producer: %s", err);
        p->fatal_at_ms = clock_mono_ms(); /* try again later */
        return -1;
    }
    log_msg(LOG_INFO, "kafka", NULL, "DLQ producer recreated after %s", p->fatal);
    p->fatal[0] = '\0';
    return 0;
}

int dlq_writer_send(dlq_writer *p, const void *key, size_t keylen, const void *value, size_t vlen,
                    const dlq_info *d, char *err, size_t errlen)
{
    if (dlq_writer_recover(p, err, errlen) != 0)
        return -1;
    if (p->test_fatal_left > 0) {
        p->test_fatal_left--;
        rd_kafka_resp_err_t te =
            rd_kafka_test_fatal_error(p->rk, RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER,
                                      "TEST-ONLY: ORDER_TEST_DLQ_FATAL");
        if (te != RD_KAFKA_RESP_ERR_NO_ERROR)
            log_warn("TEST-ONLY: rd_kafka_test_fatal_error: %s", rd_kafka_err2str(te));
    }
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
        if (dlq_writer_check_fatal(p))
            snprintf(err, errlen, "DLQ producer down: %s", p->fatal);
        else
            snprintf(err, errlen, "DLQ produce: %s", rd_kafka_err2str(e));
        return -1;
    }
    while (!p->done)
        rd_kafka_poll(p->rk, 100);
    if (p->result != RD_KAFKA_RESP_ERR_NO_ERROR) {
        if (dlq_writer_check_fatal(p))
            snprintf(err, errlen, "DLQ producer down: %s", p->fatal);
        else
            snprintf(err, errlen, "DLQ delivery: %s", rd_kafka_err2str(p->result));
        return -1;
    }
    return 0;
}
