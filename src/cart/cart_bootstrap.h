/*
 * cart_bootstrap: what cart-service must have before it accepts writes, made
 * to happen in the background so the HTTP port is up from the first second:
 * the topics (created idempotently) and the schema (registered under
 * "<topic>-value"). A thread retries both with capped exponential backoff,
 * then keeps probing Kafka (a metadata request every few seconds on its own
 * client) so GET /health can answer from memory, without blocking the loop.
 */
#ifndef CART_BOOTSTRAP_H
#define CART_BOOTSTRAP_H

#include "cart_config.h"

#include <stddef.h>
#include <stdint.h>

typedef struct cart_bootstrap cart_bootstrap;

/* schema_json: the schema text to register; copied. */
cart_bootstrap *cart_bootstrap_start(const cart_config *cfg, const char *schema_json, char *err,
                                     size_t errlen);
void cart_bootstrap_stop(cart_bootstrap *b);

typedef struct {
    int topics_ready;
    uint32_t schema_id; /* 0 until registered */
    int kafka_ok;       /* last probe (or delivery) reached a broker */
    char reason[256];   /* why not ready / not healthy; "" when all is well */
} cart_status;

/* A consistent snapshot; any thread. */
void cart_bootstrap_status(cart_bootstrap *b, cart_status *out);
/* Hints from the producer: every broker is down / a delivery just succeeded. */
void cart_bootstrap_kafka_down(cart_bootstrap *b, const char *reason);
void cart_bootstrap_kafka_up(cart_bootstrap *b);

#endif
