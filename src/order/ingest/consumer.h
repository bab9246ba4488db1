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
 * Other threads only see what it publishes on the status board
 * (order_status.h): ingest and query do not know each other.
 */
#ifndef CONSUMER_H
#define CONSUMER_H

#include "order_config.h"
#include "order_status.h"

#include <stddef.h>

typedef struct order_consumer order_consumer;

/* Opens the store (creating it) and the Kafka clients; does not start the
 * thread. The status goes to board (which must outlive the consumer). */
order_consumer *consumer_new(const order_config *cfg, order_status_board *board, char *err,
                             size_t errlen);
int consumer_start(order_consumer *c, char *err, size_t errlen);
/* Finishes the batch in hand, commits, leaves the group; joins the thread. */
void consumer_stop(order_consumer *c);
void consumer_free(order_consumer *c);

#endif
