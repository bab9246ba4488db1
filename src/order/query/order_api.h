/*
 * order_api: order-service's HTTP endpoints (routes for http.h).
 *
 * Each HTTP thread gets its own context (thread_init): a read-only store
 * connection, a decoder (codec + registry client) for DLQ values, and a
 * reusable JSON writer, so handlers share nothing and never block the
 * consumer's writes (SQLite WAL readers).
 *
 *   GET /order-details?orderId=           one order with its status history;
 *       &waitMs=&after=                   ... waiting for a write (read_wait.h)
 *   GET /getAllOrderIdsFromTopic?topic=   distinct keys of an own topic
 *   GET /dlq/stats                        counts by category and reason
 *   GET /dlq/messages?limit=&offset=      a page of dead letters, in topic
 *                                         order (partition, then offset)
 *   GET /health                           consumer and store state
 *   GET /health/live, /health/ready       liveness, readiness (order_health.h)
 *   GET /metrics                          Prometheus text format
 */
#ifndef ORDER_API_H
#define ORDER_API_H

#include "order_config.h"
#include "order_status.h"

#include "platform/http.h"
#include "platform/service.h"
#include "query/order_reader.h"
#include "query/read_wait.h"
#include "query/topic_pool.h"

#include <stddef.h>

#define DLQ_PAGE_DEFAULT 10
#define DLQ_PAGE_MAX 1000

/* What the handlers share (call->app); main wires it. */
typedef struct {
    const order_config *cfg;
    order_status_board *status; /* published by the consume side */
    service_metrics_fn metrics; /* renders the consume side's families from an order_status */
    topic_pool *topics;         /* runs the topic reads (order_api_topic_worker_* per worker) */
    read_wait *waits;           /* parked read-your-writes requests */
    order_reader *reader;       /* batched order-details reads (a server store), or NULL */
} order_app;

void *order_api_thread_init(void *app, int index, char *err, size_t errlen);
void order_api_thread_free(void *thread_ctx);
const http_route *order_api_routes(size_t *n);
/* read_wait's answer_fn: completes a parked /order-details call (arg: READ_WAIT_*). */
void order_api_wait_answer(http_call *call, void *arg);
/* order_reader's answer_fn: completes a batched /order-details read (arg: the order_lookup). */
void order_api_lookup_answer(http_call *call, void *arg);
/* topic_pool's worker_init / worker_free: each worker's own decoder (app is the order_app). */
void *order_api_topic_worker_init(void *app, char *err, size_t errlen);
void order_api_topic_worker_free(void *worker_ctx);

#endif
