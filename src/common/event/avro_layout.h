/*
 * avro_layout: where OrderEvent's fields sit in an Avro schema, and what its
 * decimals mean.
 *
 * Split out of avro_codec.c because it is schema inspection, not data: done
 * once per codec (reader schema) or once per writer schema id, never per
 * message. libavro ignores logicalType, so the decimal facts (precision,
 * scale) come from the schema's JSON text via jansson.
 */
#ifndef AVRO_LAYOUT_H
#define AVRO_LAYOUT_H

#include <avro.h>
#include <stddef.h>
#include <stdint.h>

/* Field indices of the reader schema, looked up once by name. */
typedef struct {
    int event_type, order_id, timestamp, payload;
    int br_create, br_update; /* payload union branches */
    int c_customer, c_date, c_items, c_total, c_currency, c_status;
    int i_item_id, i_quantity, i_price;
    int u_status;
    int enum_create, enum_update;   /* reader eventType symbol indices */
    int price_digits, total_digits; /* decimal precision */
} avlayout;

/* Follows named-type references to the schema they name. */
avro_schema_t avlayout_deref(avro_schema_t s);

/* Index of field `name` in record `rec` if it has `type`, else -1. */
int avlayout_field(avro_schema_t rec, const char *name, avro_type_t type, avro_schema_t *fs);

/* Fills L from the reader schema and its JSON text; -1 + err if the schema
 * is not a usable OrderEvent (missing field, wrong type, decimal scale != 2). */
int avlayout_reader(avro_schema_t rschema, const char *json, avlayout *L, char *err, size_t errlen);

/* Minimal big-endian two's complement of v; returns the length (1..8). */
size_t avlayout_dec_encode(int64_t v, uint8_t out[8]);

/* 0 ok; -1 empty (malformed); -2 does not fit in int64. Any length is
 * accepted as long as the leading bytes are sign extension. */
int avlayout_dec_decode(const uint8_t *b, size_t n, int64_t *out);

/* 1 if |v| < 10^digits. */
int avlayout_within_digits(int64_t v, int digits);

#endif
