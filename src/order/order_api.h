/*
 * order_api: order-service's HTTP endpoints (routes for http.h).
 *
 * Each HTTP thread gets its own context (thread_init): a read-only store
 * connection, a decoder (codec + registry client) for DLQ values, and a
 * reusable JSON writer, so handlers share nothing and never block the
 * consumer's writes (SQLite WAL readers).
 *
 *   GET /order-details?orderId=           one order with its status history
 *   GET /getAllOrderIdsFromTopic?topic=   distinct keys of an own topic
 *   GET /dlq/stats                        counts by category and reason
 *   GET /dlq/messages?limit=&offset=      a page of dead letters, in topic
 *                                         order (partition, then offset)
 *   GET /health                           consumer and store state
 *   GET /metrics                          Prometheus text format
 */
#ifndef ORDER_API_H
#define ORDER_API_H

#include "consumer.h"
#include "http.h"
#include "order_config.h"

#include <stddef.h>

#define DLQ_PAGE_DEFAULT 10
#define DLQ_PAGE_MAX 1000

typedef struct {
    const order_settings *cfg;
    order_consumer *consumer;
} order_app;

void *order_api_thread_init(void *app, int index, char *err, size_t errlen);
void order_api_thread_free(void *thread_ctx);
const http_route *order_routes(size_t *n);

/*
 * Parses a non-negative decimal query value in [min, max]; NULL means def.
 * Returns 0, or -1 when it is not such a number.
 */
int order_api_parse_uint(const char *s, long long def, long long min, long long max,
                         long long *out);

/* Standard base64 with padding of n bytes into out (cap >= 4*((n+2)/3)+1). */
size_t order_api_base64(const void *in, size_t n, char *out, size_t cap);

#endif
