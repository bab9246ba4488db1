/*
 * dlq_writer: order-service's producer of dead letters: idempotent, acks=all.
 * dlq_writer_send() waits for Kafka's acknowledgement (dead letters are rare,
 * and the source offset must not be recorded before the record is safe). The
 * record keeps the original key and value; its headers are event/dlq_info.h.
 */
#ifndef DLQ_WRITER_H
#define DLQ_WRITER_H

#include "event/dlq_info.h"

#include <librdkafka/rdkafka.h>
#include <stddef.h>

typedef struct dlq_writer dlq_writer;

/* Takes ownership of conf (also on failure). */
dlq_writer *dlq_writer_new(rd_kafka_conf_t *conf, const char *topic, int delivery_timeout_ms,
                           char *err, size_t errlen);
void dlq_writer_free(dlq_writer *p);
/* The producer's client (the consumer uses it for topic creation). */
rd_kafka_t *dlq_writer_handle(dlq_writer *p);

/* 0 when Kafka acknowledged the record; -1 with err (retry later). */
int dlq_writer_send(dlq_writer *p, const void *key, size_t keylen, const void *value, size_t vlen,
                    const dlq_info *d, char *err, size_t errlen);

#endif
