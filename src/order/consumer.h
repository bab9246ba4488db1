/*
 * consumer: the consume/apply loop of order-service, on its own thread.
 *
 * It owns the writer store connection, the decoder, the group consumer and
 * the DLQ producer. Events are applied in batches (one store transaction per
 * batch, positions inside it); Kafka offsets are committed after the store
 * commit; on every assignment each partition resumes from the store's
 * position. Failures wait per partition (pause + seek back + resume after the
 * backoff) so the other partitions keep flowing. See consumer.c for details.
 *
 * Other threads only read consumer_get_status(), a snapshot under a mutex.
 */
#ifndef CONSUMER_H
#define CONSUMER_H

#include "order_config.h"

#include <stdint.h>

#define CONSUMER_STATUS_PARTS 64 /* partitions listed in the snapshot */

typedef struct order_consumer order_consumer;

typedef struct {
    int running;    /* the thread runs its loop */
    int subscribed; /* topics ensured and subscribed */
    int store_ok;   /* the last store transaction succeeded */
    int kafka_ok;   /* no fatal client error */
    int nassigned;
    int32_t assigned[CONSUMER_STATUS_PARTS];
    int64_t part_lag[CONSUMER_STATUS_PARTS]; /* per assigned[i]; -1 unknown */
    int nwaiting;                            /* partitions paused for a retry */
    int64_t lag;                             /* sum over assigned partitions; -1 unknown */
    int64_t orders;                          /* orders stored */
    uint64_t consumed, applied, skipped, dead_lettered, retries;
    char last_error[256];
} consumer_status;

/* Opens the store (creating it) and the Kafka clients; does not start the thread. */
order_consumer *consumer_new(const order_settings *cfg, char *err, size_t errlen);
int consumer_start(order_consumer *c, char *err, size_t errlen);
/* Finishes the batch in hand, commits, leaves the group; joins the thread. */
void consumer_stop(order_consumer *c);
void consumer_free(order_consumer *c);
void consumer_get_status(order_consumer *c, consumer_status *out);

#endif
