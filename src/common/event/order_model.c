/*
 * order_model: validation and exact money arithmetic for OrderEvent.
 *
 * Both services apply the same rules, so they live here once: the producer
 * checks requests against them, the consumer checks decoded events against
 * them (a producer we do not control may write anything the schema allows).
 * Money stays in int64 cents end to end; every sum is overflow-checked because
 * a hostile event can carry any 64-bit value.
 */
#include "event/order_model.h"

#include "platform/errfmt.h"
#include "platform/numfmt.h"

#include <stdio.h>
#include <string.h>

static const char *const status_vocab[] = {"new",     "pending",   "confirmed", "processing",
                                           "shipped", "delivered", "cancelled"};
#define STATUS_COUNT (sizeof status_vocab / sizeof status_vocab[0])

static int id_char_ok(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '.' || ch == '_' || ch == ':' || ch == '-';
}

int order_id_valid(const char *id, size_t len)
{
    if (id == NULL || len == 0 || len > ORDER_ID_MAX)
        return 0;
    for (size_t i = 0; i < len; i++) {
        if (!id_char_ok((unsigned char)id[i]))
            return 0;
    }
    return 1;
}

int order_status_normalize(const char *in, size_t len, int allow_new,
                           char out[ORDER_STATUS_MAX + 1])
{
    char low[ORDER_STATUS_MAX + 1];

    if (in == NULL || len == 0 || len > ORDER_STATUS_MAX)
        return -1;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)in[i];
        /* ASCII-only folding: locale-dependent tolower() could accept
         * look-alike bytes in some locales. */
        low[i] = (char)((ch >= 'A' && ch <= 'Z') ? ch + ('a' - 'A') : ch);
    }
    low[len] = '\0';
    for (size_t s = 0; s < STATUS_COUNT; s++) {
        if (strlen(status_vocab[s]) == len && memcmp(status_vocab[s], low, len) == 0) {
            if (s == 0 && !allow_new)
                return -1;
            if (out != NULL)
                memcpy(out, low, len + 1);
            return 0;
        }
    }
    return -1;
}

const char *order_status_list(void)
{
    return "new, pending, confirmed, processing, shipped, delivered, cancelled";
}

/* Bounded strlen: the model's strings are fixed arrays, but a caller that
 * filled one without terminating it must not make us read past it. */
static size_t field_len(const char *s, size_t cap)
{
    const char *nul = memchr(s, '\0', cap + 1);
    return nul ? (size_t)(nul - s) : cap + 1;
}

static int validate_create(const order_event *ev, char *err, size_t errlen)
{
    char status[ORDER_STATUS_MAX + 1];
    size_t slen = field_len(ev->status, ORDER_STATUS_MAX);
    int64_t sum = 0;

    if (field_len(ev->customer_id, ORDER_CUSTOMER_ID_MAX) == 0 ||
        field_len(ev->customer_id, ORDER_CUSTOMER_ID_MAX) > ORDER_CUSTOMER_ID_MAX)
        return errfmt(err, errlen, "CREATE: customerId is empty or too long");
    if (field_len(ev->currency, ORDER_CURRENCY_MAX) == 0 ||
        field_len(ev->currency, ORDER_CURRENCY_MAX) > ORDER_CURRENCY_MAX)
        return errfmt(err, errlen, "CREATE: currency is empty or too long");
    if (ev->item_count == 0)
        return errfmt(err, errlen, "CREATE: the order has no items");
    if (ev->item_count > ORDER_ITEMS_MAX)
        return errfmt(err, errlen, "CREATE: more items than allowed");
    for (size_t i = 0; i < ev->item_count; i++) {
        const order_item *it = &ev->items[i];
        int64_t line;
        size_t ilen = field_len(it->item_id, ORDER_ITEM_ID_MAX);

        if (ilen == 0 || ilen > ORDER_ITEM_ID_MAX) {
            if (err != NULL && errlen > 0)
                snprintf(err, errlen, "CREATE: item %zu has an empty or too long itemId", i);
            return -1;
        }
        if (it->quantity <= 0) {
            if (err != NULL && errlen > 0)
                snprintf(err, errlen, "CREATE: item %zu has a non-positive quantity (%d)", i,
                         (int)it->quantity);
            return -1;
        }
        if (it->price_cents < 0) {
            if (err != NULL && errlen > 0)
                snprintf(err, errlen, "CREATE: item %zu has a negative price", i);
            return -1;
        }
        if (__builtin_mul_overflow(it->price_cents, (int64_t)it->quantity, &line) ||
            __builtin_add_overflow(sum, line, &sum))
            return errfmt(err, errlen, "CREATE: the item total overflows");
    }
    if (sum != ev->total_cents) {
        if (err != NULL && errlen > 0) {
            char want[24], got[24];
            money_format(sum, want, sizeof want);
            money_format(ev->total_cents, got, sizeof got);
            snprintf(err, errlen, "CREATE: totalAmount %s is not the sum of its items (%s)", got,
                     want);
        }
        return -1;
    }
    if (slen > ORDER_STATUS_MAX || order_status_normalize(ev->status, slen, 1, status) != 0 ||
        strcmp(status, "new") != 0)
        return errfmt(err, errlen, "CREATE: status must be \"new\"");
    return 0;
}

static int validate_update(const order_event *ev, char *err, size_t errlen)
{
    size_t slen = field_len(ev->status, ORDER_STATUS_MAX);

    /* An UPDATE that carries an order body is a producer bug (for instance
     * eventType UPDATE with a CreateOrderPayload), not a status change. */
    if (ev->item_count != 0 || field_len(ev->customer_id, ORDER_CUSTOMER_ID_MAX) != 0)
        return errfmt(err, errlen, "UPDATE: carries a CREATE payload");
    if (slen == 0 || slen > ORDER_STATUS_MAX)
        return errfmt(err, errlen, "UPDATE: status is empty or too long");
    if (order_status_normalize(ev->status, slen, 1, NULL) != 0) {
        if (err != NULL && errlen > 0)
            snprintf(err, errlen, "UPDATE: unknown status \"%.*s\" (known: %s)", (int)slen,
                     ev->status, order_status_list());
        return -1;
    }
    if (order_status_normalize(ev->status, slen, 0, NULL) != 0)
        return errfmt(err, errlen, "UPDATE: status \"new\" is reserved for CREATE");
    return 0;
}

int order_event_validate(const order_event *ev, char *err, size_t errlen)
{
    if (ev == NULL)
        return errfmt(err, errlen, "no event");
    if (!order_id_valid(ev->order_id, field_len(ev->order_id, ORDER_ID_MAX)))
        return errfmt(err, errlen,
                      "orderId is empty, too long or has characters outside "
                      "[A-Za-z0-9._:-]");
    switch (ev->type) {
    case ORDER_EVENT_CREATE:
        return validate_create(ev, err, errlen);
    case ORDER_EVENT_UPDATE:
        return validate_update(ev, err, errlen);
    }
    return errfmt(err, errlen, "unknown eventType");
}

int64_t order_shipping_cents(int64_t total_cents)
{
    /* 2% == 1/50. Split into quotient and remainder so no intermediate can
     * overflow; half-up means ties go away from zero (as Decimal's
     * ROUND_HALF_UP does), so negative totals mirror positive ones. */
    int64_t q = total_cents / 50;
    int64_t r = total_cents % 50; /* same sign as total_cents */
    if (r >= 25)
        q++;
    else if (r <= -25)
        q--;
    return q;
}

int money_format(int64_t cents, char *buf, size_t buflen)
{
    /* Unsigned magnitude: -INT64_MIN is not representable as int64. */
    uint64_t mag = cents < 0 ? (uint64_t)0 - (uint64_t)cents : (uint64_t)cents;
    char tmp[1 + NUMFMT_U64_MAX + 3];
    size_t n = 0;

    if (buf == NULL || buflen == 0)
        return -1;
    if (cents < 0)
        tmp[n++] = '-';
    n += numfmt_u64(tmp + n, mag / 100);
    tmp[n++] = '.';
    numfmt_pad(tmp + n, mag % 100, 2);
    n += 2;
    if (n >= buflen) {
        buf[0] = '\0';
        return -1;
    }
    memcpy(buf, tmp, n);
    buf[n] = '\0';
    return (int)n;
}
