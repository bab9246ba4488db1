/*
 * cart_gen: generated orders with exact integer money.
 *
 * splitmix64 is small, fast and good enough for fake carts; it is not meant to
 * be unpredictable. The request seed chains its finalizer over the request's
 * bytes (8 at a time, little-endian, each field closed by its length), so two
 * requests that differ anywhere get unrelated orders. Ranges are drawn by rejection so every value
 * is equally likely (tests check bounds, not distribution).
 */
#include "cart_gen.h"
#include "platform/clock.h"
#include "platform/numfmt.h"

#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

static uint64_t rng_next(cart_gen_rng *r)
{
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static uint64_t seed_mix(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static uint64_t seed_absorb(uint64_t h, const void *data, size_t n)
{
    const unsigned char *b = data;
    for (size_t i = 0; i < n; i += 8) {
        uint64_t w = 0;
        for (size_t k = 0; k < 8 && i + k < n; k++)
            w |= (uint64_t)b[i + k] << (8 * k);
        h = seed_mix(h ^ w) + 0x9E3779B97F4A7C15ULL;
    }
    return seed_mix(h ^ ((uint64_t)n << 1 | 1)); /* the length ends the field */
}

uint64_t cart_gen_request_seed(const char *order_id, int items_count, const char *key,
                               size_t keylen)
{
    uint64_t h = 0x63617274763101ULL; /* "cartv1": change it and every retry changes */
    h = seed_absorb(h, order_id, strlen(order_id));
    unsigned char cnt[4] = {(unsigned char)items_count, (unsigned char)(items_count >> 8),
                            (unsigned char)(items_count >> 16), (unsigned char)(items_count >> 24)};
    h = seed_absorb(h, cnt, sizeof cnt);
    unsigned char has_key = key != NULL;
    h = seed_absorb(h, &has_key, 1);
    if (key)
        h = seed_absorb(h, key, keylen);
    return h ? h : 1; /* 0 asks cart_gen_seed for an OS seed */
}

void cart_gen_seed(cart_gen_rng *r, uint64_t seed)
{
    if (seed == 0 && getrandom(&seed, sizeof seed, GRND_NONBLOCK) != (ssize_t)sizeof seed) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        seed = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20);
    }
    r->s = seed;
}

int64_t cart_gen_range(cart_gen_rng *r, int64_t lo, int64_t hi)
{
    if (hi <= lo)
        return lo;
    uint64_t span = (uint64_t)(hi - lo) + 1;
    uint64_t limit = UINT64_MAX - UINT64_MAX % span;
    uint64_t x;
    do {
        x = rng_next(r);
    } while (x >= limit);
    return lo + (int64_t)(x % span);
}

static int copy_id(char *dst, size_t cap, const char *src, char *err, size_t errlen)
{
    size_t n = strlen(src);
    if (!order_id_valid(src, n) || n >= cap) {
        snprintf(err, errlen, "invalid orderId");
        return -1;
    }
    memcpy(dst, src, n + 1);
    return 0;
}

/* prefix (5 chars) then v in exactly width digits, NUL-terminated: the
 * "CUST-000042" / "ITEM-00042" ids (v < 10^width, asserted by numfmt_pad). */
static void put_id(char *dst, const char prefix[6], uint64_t v, int width)
{
    memcpy(dst, prefix, 5);
    numfmt_pad(dst + 5, v, width);
    dst[5 + width] = '\0';
}

int cart_gen_create(cart_gen_rng *r, const char *order_id, int items_count, int64_t now_ms,
                    order_event *out, char *err, size_t errlen)
{
    _Static_assert(sizeof CART_GEN_CURRENCY <= sizeof out->currency &&
                       sizeof out->customer_id >= 12 && sizeof out->items[0].item_id >= 11 &&
                       sizeof out->status >= sizeof "new",
                   "the generated fields fit");
    if (items_count < 1 || items_count > ORDER_ITEMS_MAX) {
        snprintf(err, errlen, "itemsCount must be 1..%d", ORDER_ITEMS_MAX);
        return -1;
    }
    /* Only the fields a CREATE uses are written; the items array is not cleared. */
    out->type = ORDER_EVENT_CREATE;
    if (copy_id(out->order_id, sizeof out->order_id, order_id, err, errlen) != 0)
        return -1;
    out->timestamp_ms = now_ms;
    /* "CUST-%06d" and "ITEM-%05d" without printf: four of them per create
     * were an eighth of cart-service's instructions (bench/profile-notes.md) */
    put_id(out->customer_id, "CUST-", (uint64_t)cart_gen_range(r, 0, 999999), 6);
    if (clock_format_iso_ms(now_ms, out->order_date, sizeof out->order_date) != 0) {
        snprintf(err, errlen, "cannot format the order date");
        return -1;
    }
    int64_t total = 0;
    out->item_count = (size_t)items_count;
    for (int i = 0; i < items_count; i++) {
        order_item *it = &out->items[i];
        put_id(it->item_id, "ITEM-", (uint64_t)cart_gen_range(r, 0, 99999), 5);
        it->quantity = (int32_t)cart_gen_range(r, CART_GEN_QTY_MIN, CART_GEN_QTY_MAX);
        it->price_cents = cart_gen_range(r, CART_GEN_PRICE_MIN_CENTS, CART_GEN_PRICE_MAX_CENTS);
        total += it->price_cents * it->quantity; /* <= 100 * 5 * 50000: no overflow */
    }
    out->total_cents = total;
    memcpy(out->currency, CART_GEN_CURRENCY, sizeof CART_GEN_CURRENCY);
    memcpy(out->status, "new", sizeof "new");
    return 0;
}

int cart_gen_update(const char *order_id, const char *status, int64_t now_ms, order_event *out,
                    char *err, size_t errlen)
{
    out->type = ORDER_EVENT_UPDATE;
    if (copy_id(out->order_id, sizeof out->order_id, order_id, err, errlen) != 0)
        return -1;
    out->timestamp_ms = now_ms;
    out->customer_id[0] = '\0';
    out->order_date[0] = '\0';
    out->item_count = 0;
    out->total_cents = 0;
    out->currency[0] = '\0';
    size_t n = strlen(status);
    if (n == 0 || n > ORDER_STATUS_MAX) {
        snprintf(err, errlen, "invalid status");
        return -1;
    }
    memcpy(out->status, status, n + 1);
    return 0;
}
