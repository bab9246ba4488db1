/*
 * order_api_int: what the HTTP handler files share (order_api.c and
 * order_api_topics.c): the per-thread context and a few renderers.
 */
#ifndef ORDER_API_INT_H
#define ORDER_API_INT_H

#include "query/order_api.h"

#include "event/order_decoder.h"
#include "platform/jsonw.h"
#include "store/store.h"

/* One per HTTP thread (thread_init): nothing here is shared between threads. */
typedef struct {
    store *st;
    jsonw w;    /* response body */
    jsonw hist; /* status history of /order-details */
    /* a shared store's order count, read at most once a second (store_orders_shared) */
    int64_t shared_orders;
    int64_t shared_orders_at_ms;
} order_thread;

/* One per topic_pool worker: the DLQ pages' decoder (codec + registry client)
 * and a writable store handle for the topic indexes (opened on first use). */
typedef struct {
    order_decoder *dec;
    store *st;
} order_topic_worker;

/* Streamed pieces of the ids answer are about this large. */
#define TOPIC_IDS_PIECE (256 * 1024)

/* order_api_topics.c */
void order_api_topics_ids(http_call *call);
void order_api_topics_dlq_stats(http_call *call);
void order_api_topics_dlq_messages(http_call *call);

/* order_api_health.c */
void order_api_health_live(http_call *call);
void order_api_health_ready(http_call *call);

#endif
