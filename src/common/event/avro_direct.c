/*
 * avro_direct: see the header. Avro binary, as the specification has it:
 * int and long are zig-zag varints; a string or bytes is its length (long)
 * then the bytes; an enum is its symbol index (int); a union its branch index
 * (long) then the value; an array one block (count, the items) and the
 * terminating 0 (an empty array is the 0 alone), which is what libavro writes.
 */
#include "event/avro_direct.h"

#include <stdint.h>
#include <string.h>

typedef struct {
    uint8_t *p, *end;
    int full; /* ran out of room: the result is discarded */
} out_buf;

static void put_long(out_buf *o, int64_t v)
{
    uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63); /* zig-zag */
    uint8_t tmp[10];
    size_t n = 0;
    while (z >= 0x80) {
        tmp[n++] = (uint8_t)(z | 0x80);
        z >>= 7;
    }
    tmp[n++] = (uint8_t)z;
    if (o->full || (size_t)(o->end - o->p) < n) {
        o->full = 1;
        return;
    }
    memcpy(o->p, tmp, n);
    o->p += n;
}

static void put_bytes(out_buf *o, const void *b, size_t n)
{
    put_long(o, (int64_t)n);
    if (o->full || (size_t)(o->end - o->p) < n) {
        o->full = 1;
        return;
    }
    memcpy(o->p, b, n);
    o->p += n;
}

static void put_decimal(out_buf *o, int64_t cents)
{
    uint8_t b[8];
    put_bytes(o, b, avlayout_dec_encode(cents, b));
}

/* The record schema of field idx of rec (followed through named references). */
static avro_schema_t field_schema(avro_schema_t rec, int idx)
{
    return avlayout_deref(avro_schema_record_field_get_by_index(rec, idx));
}

static int record_of(avro_schema_t s, size_t nfields)
{
    return s && is_avro_record(s) && avro_schema_record_size(s) == nfields;
}

int avdirect_fits(avro_schema_t rschema, const avlayout *L)
{
    avro_schema_t top = avlayout_deref(rschema);
    if (!record_of(top, 4) || L->event_type != 0 || L->order_id != 1 || L->timestamp != 2 ||
        L->payload != 3)
        return 0;
    avro_schema_t u = field_schema(top, L->payload);
    if (!u || !is_avro_union(u) || avro_schema_union_size(u) != 2 || L->br_create != 0 ||
        L->br_update != 1)
        return 0;
    avro_schema_t cr = avlayout_deref(avro_schema_union_branch(u, 0));
    avro_schema_t up = avlayout_deref(avro_schema_union_branch(u, 1));
    if (!record_of(cr, 6) || L->c_customer != 0 || L->c_date != 1 || L->c_items != 2 ||
        L->c_total != 3 || L->c_currency != 4 || L->c_status != 5)
        return 0;
    if (!record_of(up, 1) || L->u_status != 0)
        return 0;
    avro_schema_t items = field_schema(cr, L->c_items);
    if (!items || !is_avro_array(items))
        return 0;
    avro_schema_t item = avlayout_deref(avro_schema_array_items(items));
    return record_of(item, 3) && L->i_item_id == 0 && L->i_quantity == 1 && L->i_price == 2;
}

size_t avdirect_encode(const avlayout *L, const order_event *ev, const avdirect_lens *n,
                       uint8_t *buf, size_t cap)
{
    out_buf o = {buf, buf + cap, 0};
    int create = ev->type == ORDER_EVENT_CREATE;
    put_long(&o, create ? L->enum_create : L->enum_update);
    put_bytes(&o, ev->order_id, n->order_id);
    put_long(&o, ev->timestamp_ms);
    put_long(&o, create ? L->br_create : L->br_update);
    if (create) {
        put_bytes(&o, ev->customer_id, n->customer);
        put_bytes(&o, ev->order_date, n->date);
        if (ev->item_count > 0) {
            put_long(&o, (int64_t)ev->item_count);
            for (size_t i = 0; i < ev->item_count; i++) {
                const order_item *it = &ev->items[i];
                put_bytes(&o, it->item_id, n->item_id[i]);
                put_long(&o, it->quantity);
                put_decimal(&o, it->price_cents);
            }
        }
        put_long(&o, 0); /* end of the items array */
        put_decimal(&o, ev->total_cents);
        put_bytes(&o, ev->currency, n->currency);
        put_bytes(&o, ev->status, n->status);
    } else {
        put_bytes(&o, ev->status, n->status);
    }
    return o.full ? 0 : (size_t)(o.p - buf);
}

/* ---- decoding ----------------------------------------------------------- */

typedef struct {
    const uint8_t *p, *end;
    int bad; /* ran past the end or read something the generic path would refuse */
} in_buf;

static int64_t get_long(in_buf *in)
{
    uint64_t z = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (in->p >= in->end)
            break;
        uint8_t b = *in->p++;
        z |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            return (int64_t)(z >> 1) ^ -(int64_t)(z & 1);
    }
    in->bad = 1;
    return 0;
}

typedef struct {
    const uint8_t *s;
    size_t n;
} span;

static span get_span(in_buf *in)
{
    span r = {NULL, 0};
    int64_t n = get_long(in);
    if (in->bad || n < 0 || (uint64_t)n > (uint64_t)(in->end - in->p)) {
        in->bad = 1;
        return r;
    }
    r.s = in->p;
    r.n = (size_t)n;
    in->p += n;
    return r;
}

/* A string into dst (cap bytes + NUL), as avvalues_extract's get_str accepts it. */
static int take_str(span v, char *dst, size_t cap)
{
    if (v.n > cap || (v.n > 0 && memchr(v.s, '\0', v.n) != NULL))
        return -1;
    if (v.n > 0)
        memcpy(dst, v.s, v.n);
    dst[v.n] = '\0';
    return 0;
}

static int take_decimal(span v, int digits, int64_t *out)
{
    return avlayout_dec_decode(v.s, v.n, out) == 0 && avlayout_within_digits(*out, digits) ? 0 : -1;
}

static int decode_create(const avlayout *L, in_buf *in, order_event *out)
{
    span customer = get_span(in), date = get_span(in);
    size_t count = 0;
    for (;;) { /* the items array: blocks of (count[, byte size]) items, then 0 */
        int64_t block = get_long(in);
        if (in->bad || block == 0)
            break;
        if (block < -(int64_t)ORDER_ITEMS_MAX || block > (int64_t)ORDER_ITEMS_MAX)
            return -1; /* more items than allowed (and no negation of INT64_MIN) */
        if (block < 0) {
            block = -block;
            (void)get_long(in); /* the block's byte size */
        }
        for (int64_t k = 0; k < block && !in->bad; k++, count++) {
            if (count >= ORDER_ITEMS_MAX)
                return -1;
            order_item *it = &out->items[count];
            span id = get_span(in);
            int64_t q = get_long(in);
            span price = get_span(in);
            if (in->bad || q < INT32_MIN || q > INT32_MAX ||
                take_str(id, it->item_id, ORDER_ITEM_ID_MAX) != 0 ||
                take_decimal(price, L->price_digits, &it->price_cents) != 0)
                return -1;
            it->quantity = (int32_t)q;
        }
    }
    span total = get_span(in), currency = get_span(in), status = get_span(in);
    if (in->bad || take_str(customer, out->customer_id, ORDER_CUSTOMER_ID_MAX) != 0 ||
        take_str(date, out->order_date, ORDER_DATE_MAX) != 0 ||
        take_str(currency, out->currency, ORDER_CURRENCY_MAX) != 0 ||
        take_str(status, out->status, ORDER_STATUS_MAX) != 0 ||
        take_decimal(total, L->total_digits, &out->total_cents) != 0)
        return -1;
    out->item_count = count;
    return 0;
}

int avdirect_decode(const avlayout *L, const int8_t *enum_map, size_t enum_count,
                    const uint8_t *body, size_t len, order_event *out)
{
    in_buf in = {body, body + len, 0};
    out->order_id[0] = out->customer_id[0] = out->order_date[0] = '\0';
    out->currency[0] = out->status[0] = '\0';
    out->item_count = 0;
    out->total_cents = 0;
    int64_t sym = get_long(&in);
    if (in.bad || sym < 0 || (uint64_t)sym >= enum_count || enum_map[sym] < 0)
        return 0;
    out->type = (order_event_type)enum_map[sym];
    if (take_str(get_span(&in), out->order_id, ORDER_ID_MAX) != 0 || in.bad)
        return 0;
    out->timestamp_ms = get_long(&in);
    int64_t branch = get_long(&in);
    if (in.bad)
        return 0;
    int rc;
    if (branch == L->br_create)
        rc = decode_create(L, &in, out);
    else if (branch == L->br_update)
        rc = take_str(get_span(&in), out->status, ORDER_STATUS_MAX);
    else
        return 0;
    /* every byte read, none left over: what the walk proved of a datum */
    return rc == 0 && !in.bad && in.p == in.end;
}
