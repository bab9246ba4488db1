/*
 * dlq_writer: order-service's producer of dead letters: idempotent, acks=all.
 * dlq_writer_send() waits for Kafka's acknowledgement (dead letters are rare,
 * and the source offset must not be recorded before the record is safe). The
 * record keeps the original key and value; its headers are event/dlq_info.h.
 *
 * A fatal error (the idempotent producer lost its guarantees) cannot be
 * cleared in place: the writer drops the handle and creates a new one from
 * the same configuration, no sooner than DLQ_WRITER_RECREATE_MS after the
 * error (a producer failing again at once is not recreated in a tight loop).
 * Until then every send fails (the caller retries) and dlq_writer_problem()
 * says why, for /health.
 */
#ifndef DLQ_WRITER_H
#define DLQ_WRITER_H

#include "event/dlq_info.h"

#include <librdkafka/rdkafka.h>
#include <stddef.h>

#define DLQ_WRITER_RECREATE_MS 2000

typedef struct dlq_writer dlq_writer;

/*
 * Takes ownership of conf (also on failure). test_fatal_times: TEST ONLY, the
 * producer raises a fatal error (rd_kafka_test_fatal_error) before each of
 * its first test_fatal_times writes; 0 in production.
 */
dlq_writer *dlq_writer_new(rd_kafka_conf_t *conf, const char *topic, int delivery_timeout_ms,
                           int test_fatal_times, char *err, size_t errlen);
void dlq_writer_free(dlq_writer *p);
/* The producer's client (the consumer uses it for topic creation at start-up). */
rd_kafka_t *dlq_writer_handle(dlq_writer *p);

/* 0 when Kafka acknowledged the record; -1 with err (retry later). */
int dlq_writer_send(dlq_writer *p, const void *key, size_t keylen, const void *value, size_t vlen,
                    const dlq_info *d, char *err, size_t errlen);

/* After a fatal error: recreates the producer once it is due. 0 when the producer is usable. */
int dlq_writer_recover(dlq_writer *p, char *err, size_t errlen);
/* NULL while the producer is usable, else why not (a fatal error not yet recovered). */
const char *dlq_writer_problem(const dlq_writer *p);

#endif
