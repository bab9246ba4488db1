/*
 * avro_values: see avro_values.h. libavro owns the strings it decoded; they
 * are copied into the fixed-size model after their bounds are checked.
 */
#include "event/avro_values.h"

#include <string.h>

#define cfail codec_fail

static codec_status get_str(avro_value_t *rec, int idx, char *dst, size_t cap, const char *what,
                            char *err, size_t errlen)
{
    avro_value_t f;
    const char *s = NULL;
    size_t size = 0, n;

    if (avro_value_get_by_index(rec, (size_t)idx, &f, NULL) != 0 ||
        avro_value_get_string(&f, &s, &size) != 0)
        return cfail(CODEC_ERR_INTERNAL, err, errlen, "%s: %s", what, avro_strerror());
    n = size > 0 ? size - 1 : 0; /* libavro counts the terminating NUL */
    if (n > cap)
        return cfail(CODEC_ERR_LIMIT, err, errlen, "%s longer than %zu bytes", what, cap);
    if (n > 0 && memchr(s, '\0', n) != NULL)
        return cfail(CODEC_ERR_LIMIT, err, errlen, "%s contains a NUL byte", what);
    if (n > 0)
        memcpy(dst, s, n);
    dst[n] = '\0';
    return CODEC_OK;
}

static codec_status get_decimal(avro_value_t *rec, int idx, int digits, int64_t *out,
                                const char *what, char *err, size_t errlen)
{
    avro_value_t f;
    const void *b = NULL;
    size_t n = 0;
    int rc;

    if (avro_value_get_by_index(rec, (size_t)idx, &f, NULL) != 0 ||
        avro_value_get_bytes(&f, &b, &n) != 0)
        return cfail(CODEC_ERR_INTERNAL, err, errlen, "%s: %s", what, avro_strerror());
    rc = avlayout_dec_decode(b, n, out);
    if (rc == -1)
        return cfail(CODEC_ERR_MALFORMED, err, errlen, "%s: empty decimal", what);
    if (rc != 0)
        return cfail(CODEC_ERR_LIMIT, err, errlen, "%s: decimal exceeds 64 bits", what);
    if (!avlayout_within_digits(*out, digits))
        return cfail(CODEC_ERR_LIMIT, err, errlen, "%s exceeds decimal(%d,2)", what, digits);
    return CODEC_OK;
}

#define TRY(expr)                                                                                  \
    do {                                                                                           \
        codec_status st_ = (expr);                                                                 \
        if (st_ != CODEC_OK)                                                                       \
            return st_;                                                                            \
    } while (0)

static codec_status extract_create(const avlayout *L, avro_value_t *br, order_event *out, char *err,
                                   size_t errlen)
{
    avro_value_t items, f;
    size_t count;

    TRY(get_str(br, L->c_customer, out->customer_id, ORDER_CUSTOMER_ID_MAX, "customerId", err,
                errlen));
    TRY(get_str(br, L->c_date, out->order_date, ORDER_DATE_MAX, "orderDate", err, errlen));
    TRY(get_str(br, L->c_currency, out->currency, ORDER_CURRENCY_MAX, "currency", err, errlen));
    TRY(get_str(br, L->c_status, out->status, ORDER_STATUS_MAX, "status", err, errlen));
    TRY(get_decimal(br, L->c_total, L->total_digits, &out->total_cents, "totalAmount", err,
                    errlen));
    if (avro_value_get_by_index(br, (size_t)L->c_items, &items, NULL) != 0 ||
        avro_value_get_size(&items, &count) != 0)
        return cfail(CODEC_ERR_INTERNAL, err, errlen, "items: %s", avro_strerror());
    if (count > ORDER_ITEMS_MAX)
        return cfail(CODEC_ERR_LIMIT, err, errlen, "%zu items, at most %d allowed", count,
                     ORDER_ITEMS_MAX);
    for (size_t i = 0; i < count; i++) {
        order_item *it = &out->items[i];
        avro_value_t item;
        int32_t q;
        if (avro_value_get_by_index(&items, i, &item, NULL) != 0 ||
            avro_value_get_by_index(&item, (size_t)L->i_quantity, &f, NULL) != 0 ||
            avro_value_get_int(&f, &q) != 0)
            return cfail(CODEC_ERR_INTERNAL, err, errlen, "item %zu: %s", i, avro_strerror());
        it->quantity = q;
        TRY(get_str(&item, L->i_item_id, it->item_id, ORDER_ITEM_ID_MAX, "itemId", err, errlen));
        TRY(get_decimal(&item, L->i_price, L->price_digits, &it->price_cents, "price", err,
                        errlen));
    }
    out->item_count = count;
    return CODEC_OK;
}

codec_status avvalues_extract(const avlayout *L, const avro_value_t *value, const int8_t *enum_map,
                              size_t enum_count, order_event *out, char *err, size_t errlen)
{
    avro_value_t top = *value, f, payload, branch;
    int sym, disc;

    /* Clear only the scalars and string heads: the item array is filled up
     * to item_count and nothing reads past it. */
    out->order_id[0] = out->customer_id[0] = out->order_date[0] = '\0';
    out->currency[0] = out->status[0] = '\0';
    out->item_count = 0;
    out->total_cents = 0;
    out->timestamp_ms = 0;

    if (avro_value_get_by_index(&top, (size_t)L->event_type, &f, NULL) != 0 ||
        avro_value_get_enum(&f, &sym) != 0)
        return cfail(CODEC_ERR_INTERNAL, err, errlen, "eventType: %s", avro_strerror());
    /* Resolution mapped the writer's symbol to the reader's by name. */
    if (sym < 0 || (size_t)sym >= enum_count || enum_map[sym] < 0)
        return cfail(CODEC_ERR_INCOMPATIBLE, err, errlen,
                     "eventType symbol %d is unknown to the reader", sym);
    out->type = (order_event_type)enum_map[sym];
    TRY(get_str(&top, L->order_id, out->order_id, ORDER_ID_MAX, "orderId", err, errlen));
    if (avro_value_get_by_index(&top, (size_t)L->timestamp, &f, NULL) != 0 ||
        avro_value_get_long(&f, &out->timestamp_ms) != 0 ||
        avro_value_get_by_index(&top, (size_t)L->payload, &payload, NULL) != 0 ||
        avro_value_get_discriminant(&payload, &disc) != 0 ||
        avro_value_get_current_branch(&payload, &branch) != 0)
        return cfail(CODEC_ERR_INTERNAL, err, errlen, "event: %s", avro_strerror());
    /* The payload kind is reported as found; whether it matches eventType
     * is a contract question for order_event_validate(). */
    if (disc == L->br_create)
        return extract_create(L, &branch, out, err, errlen);
    if (disc == L->br_update)
        return get_str(&branch, L->u_status, out->status, ORDER_STATUS_MAX, "status", err, errlen);
    return cfail(CODEC_ERR_INCOMPATIBLE, err, errlen, "payload branch %d unknown", disc);
}
