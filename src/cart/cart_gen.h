/*
 * cart_gen: the generated order behind POST /create-order.
 *
 * Retry-safe without state: the generator is seeded from the request itself
 * (cart_gen_request_seed), so the same request yields the same customerId and
 * items every time, on every instance. The generator state is explicit (no
 * global rand()) so the tests can seed it too. Ranges are documented here and in the README:
 * customerId "CUST-" + 6 digits, itemId "ITEM-" + 5 digits, quantity 1..5,
 * unit price 1.00..500.00 USD in cents, total = the exact integer sum, so the
 * largest order (100 items x 5 x 500.00) is 250,000.00: far inside the Avro
 * decimal(12,2)/(14,2) of the schema.
 */
#ifndef CART_GEN_H
#define CART_GEN_H

#include "event/order_model.h"

#include <stddef.h>
#include <stdint.h>

#define CART_GEN_QTY_MIN 1
#define CART_GEN_QTY_MAX 5
#define CART_GEN_PRICE_MIN_CENTS 100
#define CART_GEN_PRICE_MAX_CENTS 50000
#define CART_GEN_CURRENCY "USD"

typedef struct {
    uint64_t s;
} cart_gen_rng;

/*
 * The seed of a create: a 64-bit hash of orderId, itemsCount and the
 * Idempotency-Key (key NULL: none; keylen its length). Stable across
 * processes, builds and machines (byte order fixed): it is part of the
 * contract that a retry produces the same order. Not a security boundary:
 * anyone who knows a request can compute its order.
 */
uint64_t cart_gen_request_seed(const char *order_id, int items_count, const char *key,
                               size_t keylen);

/* seed 0: seed from the OS. */
void cart_gen_seed(cart_gen_rng *r, uint64_t seed);
/* Uniform in [lo, hi] (hi >= lo), without modulo bias. */
int64_t cart_gen_range(cart_gen_rng *r, int64_t lo, int64_t hi);

/*
 * A CREATE event for order_id (already validated) with items_count items
 * (1..ORDER_ITEMS_MAX), event time and orderDate both now_ms. 0, or -1 + err.
 */
int cart_gen_create(cart_gen_rng *r, const char *order_id, int items_count, int64_t now_ms,
                    order_event *out, char *err, size_t errlen);

/* An UPDATE event carrying only the (normalised) status. */
int cart_gen_update(const char *order_id, const char *status, int64_t now_ms, order_event *out,
                    char *err, size_t errlen);

#endif
