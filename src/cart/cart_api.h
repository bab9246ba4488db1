/*
 * cart_api: the HTTP handlers of cart-service and the glue from Kafka's
 * delivery reports back to the waiting HTTP calls.
 *
 * POST /create-order and PUT /update-order validate, build the event, encode
 * it (Confluent wire format) and queue it; the 201/200 is sent from the
 * delivery report, so a 2xx always means "acknowledged by all in-sync
 * replicas". The same request produces the same event content (cart_gen.h,
 * cart_idem.h), so a client may retry a create whose outcome it did not
 * learn. A pending write lives in a pooled struct (no allocation per
 * request in steady state) that the delivery report gets back as its opaque.
 */
#ifndef CART_API_H
#define CART_API_H

#include "event/avro_codec.h"
#include "cart_bootstrap.h"
#include "cart_config.h"
#include "cart_producer.h"
#include "platform/http.h"
#include "cart_gen.h"

#include <stddef.h>

#define CART_MAX_PENDING 10000 /* writes waiting for Kafka (about 8 KiB each); beyond: 503 */

typedef struct cart_pending cart_pending;

typedef struct {
    const cart_config *cfg;
    cart_producer *producer; /* set after cart_app_init */
    cart_bootstrap *boot;
    codec *codec;
    cart_pending *free_pending;
    size_t nfree;
    long pending;      /* writes waiting for a delivery report */
    int shutting_down; /* new writes get 503 */
    int http_gone;     /* server freed: reports only release their call */
    jsonw out;         /* reused response writer */
    uint8_t frame[CODEC_MAX_ENCODED];
} cart_app;

int cart_app_init(cart_app *a, const cart_config *cfg, codec *c, cart_bootstrap *boot);
void cart_app_free(cart_app *a);

/* The route table: /create-order, /update-order, /health. */
const http_route *cart_routes(size_t *n);

/* cart_producer callbacks; app is the cart_app. */
void cart_on_delivery(void *msg_opaque, rd_kafka_resp_err_t err, int maybe_written,
                      const char *topic, int32_t partition, int64_t offset, void *app);
void cart_on_brokers_down(const char *reason, void *app);

#endif
