/*
 * order_model: the in-memory form of one OrderEvent, shared by both services.
 *
 * Fixed-size on purpose: decoding into it allocates nothing, and every string
 * and the item count carry a hard bound. Money is exact: int64 minor units
 * (cents), the same value the Avro decimal(scale 2) carries on the wire.
 */
#ifndef ORDER_MODEL_H
#define ORDER_MODEL_H

#include <stddef.h>
#include <stdint.h>

#define ORDER_ID_MAX 64 /* orderId: 1..64 chars of [A-Za-z0-9._:-] */
#define ORDER_CUSTOMER_ID_MAX 64
#define ORDER_ITEM_ID_MAX 64
#define ORDER_DATE_MAX 40 /* ISO-8601 text */
#define ORDER_CURRENCY_MAX 8
#define ORDER_STATUS_MAX 32
#define ORDER_ITEMS_MAX 100 /* itemsCount upper bound, also on decode */

typedef enum { ORDER_EVENT_CREATE = 0, ORDER_EVENT_UPDATE = 1 } order_event_type;

typedef struct {
    char item_id[ORDER_ITEM_ID_MAX + 1];
    int32_t quantity;
    int64_t price_cents; /* unit price */
} order_item;

typedef struct {
    order_event_type type;
    char order_id[ORDER_ID_MAX + 1];
    int64_t timestamp_ms; /* event time, ms since the epoch */
    /* CREATE only */
    char customer_id[ORDER_CUSTOMER_ID_MAX + 1];
    char order_date[ORDER_DATE_MAX + 1];
    size_t item_count;
    order_item items[ORDER_ITEMS_MAX];
    int64_t total_cents;
    char currency[ORDER_CURRENCY_MAX + 1];
    /* CREATE ("new") and UPDATE */
    char status[ORDER_STATUS_MAX + 1];
} order_event;

/* 1 if id is 1..ORDER_ID_MAX chars of [A-Za-z0-9._:-], else 0. */
int order_id_valid(const char *id, size_t len);

/*
 * Normalises a status (case-insensitive) into out (lower-case). Returns 0 for a
 * known status, -1 otherwise. allow_new: whether "new" is accepted (only for
 * CREATE); out may be NULL to only check. Vocabulary: new, pending, confirmed,
 * processing, shipped, delivered, cancelled.
 */
int order_status_normalize(const char *in, size_t len, int allow_new,
                           char out[ORDER_STATUS_MAX + 1]);

/* The documented status list as one comma-separated string (for messages). */
const char *order_status_list(void);

/*
 * Contract check of a decoded event (consumer side): CREATE has 1..MAX items,
 * a customerId, a currency, every itemId non-empty, quantity > 0, price >= 0,
 * total == sum(quantity*price) without overflow, status "new"; UPDATE has a
 * known status other than "new" and no CREATE body (items, customerId).
 * Returns 0 if valid, else -1 with a readable reason in err.
 */
int order_event_validate(const order_event *ev, char *err, size_t errlen);

/* shippingCost = 2% of total, rounded half-up to the cent, exact. */
int64_t order_shipping_cents(int64_t total_cents);

/* Formats cents as "123.45" / "-0.05" into buf (>= 24 bytes). Returns the length,
 * or -1 (buf set to "") if buflen is too small. */
int money_format(int64_t cents, char *buf, size_t buflen);

#endif
