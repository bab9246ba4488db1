/*
 * avro_layout: schema inspection for the codec (see avro_layout.h). Runs once
 * per schema, so it favours clarity over speed.
 */
#include "event/avro_layout.h"

#include "platform/errfmt.h"

#include <errno.h>
#include <stdlib.h>

#include <jansson.h>
#include <stdio.h>
#include <string.h>

/* ---- decimal(scale 2) <-> int64 cents ---------------------------------- */

size_t avlayout_dec_encode(int64_t v, uint8_t out[8])
{
    size_t n = 1;
    /* Minimal two's complement: the fewest bytes whose sign-extension gives
     * v back (128 needs 00 80, -128 fits in 80). */
    while (n < 8) {
        int64_t lim = (int64_t)1 << (8 * n - 1);
        if (v >= -lim && v < lim)
            break;
        n++;
    }
    for (size_t i = 0; i < n; i++)
        out[n - 1 - i] = (uint8_t)((uint64_t)v >> (8 * i));
    return n;
}

int avlayout_dec_decode(const uint8_t *b, size_t n, int64_t *out)
{
    uint64_t v;
    size_t skip = 0;

    if (n == 0)
        return -1;
    if (n > 8) {
        /* Wider than int64 is fine if the extra leading bytes are pure sign
         * extension of what remains. */
        uint8_t fill = (b[n - 8] & 0x80) ? 0xff : 0x00;
        skip = n - 8;
        for (size_t i = 0; i < skip; i++) {
            if (b[i] != fill)
                return -2;
        }
    }
    v = (b[skip] & 0x80) ? UINT64_MAX : 0;
    for (size_t i = skip; i < n; i++)
        v = (v << 8) | b[i];
    *out = (int64_t)v;
    return 0;
}

int avlayout_within_digits(int64_t v, int digits)
{
    int64_t lim = 1;
    for (int i = 0; i < digits && i < 18; i++)
        lim *= 10;
    return v > -lim && v < lim;
}

/* ---- reader schema layout --------------------------------------------- */

avro_schema_t avlayout_deref(avro_schema_t s)
{
    while (is_avro_link(s))
        s = avro_schema_link_target(s);
    return s;
}

int avlayout_field(avro_schema_t rec, const char *name, avro_type_t type, avro_schema_t *fs)
{
    int idx = avro_schema_record_field_get_index(rec, name);
    avro_schema_t f;
    if (idx < 0)
        return -1;
    f = avlayout_deref(avro_schema_record_field_get_by_index(rec, idx));
    if (f == NULL || avro_typeof(f) != type)
        return -1;
    if (fs != NULL)
        *fs = f;
    return idx;
}

static int union_branch_named(avro_schema_t u, const char *name, avro_schema_t *bs)
{
    size_t n = avro_schema_union_size(u);
    for (size_t i = 0; i < n; i++) {
        avro_schema_t b = avlayout_deref(avro_schema_union_branch(u, (int)i));
        if (is_avro_record(b) && strcmp(avro_schema_name(b), name) == 0) {
            *bs = b;
            return (int)i;
        }
    }
    return -1;
}

/* Finds the decimal type of field `name` anywhere in the schema JSON. */
static int decimal_of(json_t *node, const char *name, int *precision, int *scale)
{
    if (json_is_object(node)) {
        json_t *n = json_object_get(node, "name"), *t = json_object_get(node, "type");
        const char *key;
        json_t *val;
        if (json_is_string(n) && strcmp(json_string_value(n), name) == 0 && json_is_object(t)) {
            json_t *lt = json_object_get(t, "logicalType");
            if (json_is_string(lt) && strcmp(json_string_value(lt), "decimal") == 0) {
                *precision = (int)json_integer_value(json_object_get(t, "precision"));
                *scale = (int)json_integer_value(json_object_get(t, "scale"));
                return 0;
            }
        }
        json_object_foreach(node, key, val)
        {
            if (decimal_of(val, name, precision, scale) == 0)
                return 0;
        }
    } else if (json_is_array(node)) {
        size_t i;
        json_t *val;
        json_array_foreach(node, i, val)
        {
            if (decimal_of(val, name, precision, scale) == 0)
                return 0;
        }
    }
    return -1;
}

int avlayout_reader(avro_schema_t rschema, const char *json, avlayout *L, char *err, size_t errlen)
{
    avro_schema_t r = avlayout_deref(rschema), et, pay, cr, up, items, item;
    json_error_t jerr;
    json_t *root;
    int scale_p = -1, scale_t = -1;

    if (!is_avro_record(r))
        return errfmt(err, errlen, "reader schema is not a record");
    L->event_type = avlayout_field(r, "eventType", AVRO_ENUM, &et);
    L->order_id = avlayout_field(r, "orderId", AVRO_STRING, NULL);
    L->timestamp = avlayout_field(r, "timestamp", AVRO_INT64, NULL);
    L->payload = avlayout_field(r, "payload", AVRO_UNION, &pay);
    if (L->event_type < 0 || L->order_id < 0 || L->timestamp < 0 || L->payload < 0)
        return errfmt(err, errlen, "reader schema lacks eventType/orderId/timestamp/payload");
    L->enum_create = avro_schema_enum_get_by_name(et, "CREATE");
    L->enum_update = avro_schema_enum_get_by_name(et, "UPDATE");
    L->br_create = union_branch_named(pay, "CreateOrderPayload", &cr);
    L->br_update = union_branch_named(pay, "UpdateOrderPayload", &up);
    if (L->enum_create < 0 || L->enum_update < 0 || L->br_create < 0 || L->br_update < 0)
        return errfmt(err, errlen, "reader schema lacks CREATE/UPDATE or their payloads");
    L->c_customer = avlayout_field(cr, "customerId", AVRO_STRING, NULL);
    L->c_date = avlayout_field(cr, "orderDate", AVRO_STRING, NULL);
    L->c_items = avlayout_field(cr, "items", AVRO_ARRAY, &items);
    L->c_total = avlayout_field(cr, "totalAmount", AVRO_BYTES, NULL);
    L->c_currency = avlayout_field(cr, "currency", AVRO_STRING, NULL);
    L->c_status = avlayout_field(cr, "status", AVRO_STRING, NULL);
    L->u_status = avlayout_field(up, "status", AVRO_STRING, NULL);
    if (L->c_customer < 0 || L->c_date < 0 || L->c_items < 0 || L->c_total < 0 ||
        L->c_currency < 0 || L->c_status < 0 || L->u_status < 0)
        return errfmt(err, errlen, "reader schema: payload fields missing or mistyped");
    item = avlayout_deref(avro_schema_array_items(items));
    if (!is_avro_record(item))
        return errfmt(err, errlen, "reader schema: items are not records");
    L->i_item_id = avlayout_field(item, "itemId", AVRO_STRING, NULL);
    L->i_quantity = avlayout_field(item, "quantity", AVRO_INT32, NULL);
    L->i_price = avlayout_field(item, "price", AVRO_BYTES, NULL);
    if (L->i_item_id < 0 || L->i_quantity < 0 || L->i_price < 0)
        return errfmt(err, errlen, "reader schema: OrderItem fields missing or mistyped");

    root = json_loads(json, 0, &jerr);
    if (root == NULL)
        return errfmt(err, errlen, "reader schema JSON: %s", jerr.text);
    if (decimal_of(root, "price", &L->price_digits, &scale_p) != 0 ||
        decimal_of(root, "totalAmount", &L->total_digits, &scale_t) != 0 || scale_p != 2 ||
        scale_t != 2 || L->price_digits < 1 || L->price_digits > 18 || L->total_digits < 1 ||
        L->total_digits > 18) {
        json_decref(root);
        return errfmt(err, errlen,
                      "reader schema: price/totalAmount must be decimal "
                      "(precision 1..18, scale 2)");
    }
    json_decref(root);
    return 0;
}
