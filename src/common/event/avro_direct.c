/*
 * avro_direct: see the header. Avro binary, as the specification has it:
 * int and long are zig-zag varints; a string or bytes is its length (long)
 * then the bytes; an enum is its symbol index (int); a union its branch index
 * (long) then the value; an array one block (count, the items) and the
 * terminating 0 (an empty array is the 0 alone), which is what libavro writes.
 */
#include "event/avro_direct.h"

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
