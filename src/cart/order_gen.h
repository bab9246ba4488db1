/*
 * order_gen: the random order behind POST /create-order.
 *
 * The generator state is explicit (no global rand()) so the event loop owns
 * one and the tests can seed it. Ranges are documented here and in the README:
 * customerId "CUST-" + 6 digits, itemId "ITEM-" + 5 digits, quantity 1..5,
 * unit price 1.00..500.00 USD in cents, total = the exact integer sum, so the
 * largest order (100 items x 5 x 500.00) is 250,000.00: far inside the Avro
 * decimal(12,2)/(14,2) of the schema.
 */
#ifndef ORDER_GEN_H
#define ORDER_GEN_H

#include "order_model.h"

#include <stddef.h>
#include <stdint.h>

#define ORDER_GEN_QTY_MIN 1
#define ORDER_GEN_QTY_MAX 5
#define ORDER_GEN_PRICE_MIN_CENTS 100
#define ORDER_GEN_PRICE_MAX_CENTS 50000
#define ORDER_GEN_CURRENCY "USD"

typedef struct {
    uint64_t s;
} order_rng;

/* seed 0: seed from the OS. */
void order_rng_seed(order_rng *r, uint64_t seed);
/* Uniform in [lo, hi] (hi >= lo), without modulo bias. */
int64_t order_rng_range(order_rng *r, int64_t lo, int64_t hi);

/*
 * A CREATE event for order_id (already validated) with items_count items
 * (1..ORDER_ITEMS_MAX), event time and orderDate both now_ms. 0, or -1 + err.
 */
int order_gen_create(order_rng *r, const char *order_id, int items_count, int64_t now_ms,
                     order_event *out, char *err, size_t errlen);

/* An UPDATE event carrying only the (normalised) status. */
int order_gen_update(const char *order_id, const char *status, int64_t now_ms, order_event *out,
                     char *err, size_t errlen);

#endif
