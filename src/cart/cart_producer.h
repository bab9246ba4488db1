/*
 * cart_producer: the idempotent Kafka producer of cart-service, driven by the
 * HTTP event loop.
 *
 * librdkafka signals its main queue (delivery reports, errors) on a pipe that
 * the event loop watches; the loop then serves the queue without blocking, so
 * each delivery report runs on the loop thread and can answer its HTTP call
 * directly. Nothing ever flushes per message: requests in flight share batches.
 *
 * Only the loop thread may call these functions (except the constructor and
 * cart_producer_free before/after the loop runs), with one exception:
 * cart_producer_send may be called from any thread (other HTTP threads);
 * its delivery report still runs on the loop thread.
 */
#ifndef CART_PRODUCER_H
#define CART_PRODUCER_H

#include "cart_config.h"

#include <event2/event.h>
#include <librdkafka/rdkafka.h>
#include <stddef.h>
#include <stdint.h>

typedef struct cart_producer cart_producer;

/*
 * Delivery report for one message: err 0 = durably written (acks=all). On a
 * failure, maybe_written says whether the broker may have it anyway (it was
 * sent and not acknowledged: librdkafka's POSSIBLY_PERSISTED) or surely not.
 */
typedef void (*cart_delivery_fn)(void *msg_opaque, rd_kafka_resp_err_t err, int maybe_written,
                                 const char *topic, int32_t partition, int64_t offset, void *app);
/* Called on the loop thread when the brokers are all down (reachability hint). */
typedef void (*cart_brokers_down_fn)(const char *reason, void *app);

cart_producer *cart_producer_new(struct event_base *base, const cart_config *cfg,
                                 cart_delivery_fn on_delivery, cart_brokers_down_fn on_down,
                                 void *app, char *err, size_t errlen);

/* Record headers of one event; a NULL or empty field is left out. */
typedef struct {
    const char *traceparent; /* W3C trace context of the request's span */
    const char *idem_key;    /* the request's Idempotency-Key, unescaped */
    size_t idem_len;
} cart_headers;

/*
 * Queues one message (payload and headers copied; h may be NULL). RD_KAFKA_RESP_ERR_NO_ERROR:
 * exactly one delivery report will follow for msg_opaque. Anything else: none will.
 */
rd_kafka_resp_err_t cart_producer_send(cart_producer *p, const char *topic, const char *key,
                                       size_t keylen, const void *value, size_t len,
                                       const cart_headers *h, void *msg_opaque);

/* Messages queued and not yet reported. */
long cart_producer_in_flight(const cart_producer *p);

/* Fails every queued message now (their reports say PURGE_*): used at shutdown. */
void cart_producer_purge(cart_producer *p);

/* The current librdkafka handle (tests use it to inject a fatal error). */
rd_kafka_t *cart_producer_rk(cart_producer *p);

/* Waits up to timeout_ms for outstanding reports (serving them), then destroys. */
void cart_producer_free(cart_producer *p, int timeout_ms);

#endif
