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

/* 0 if every decimal in the schema JSON has scale 2 (what cents mean), -1 if
 * one does not or the text is not JSON. */
int avlayout_decimals_scale2(const char *json);

/*
 * 0 if `w` (writer) resolves to `r` (reader) by Avro's rules as libavro 1.11
 * implements them, -1 + reason otherwise. Must run before
 * avro_resolved_writer_new(): libavro's cleanup after a failed nested
 * resolution frees memoized resolvers that are still shared (use after free,
 * a crash on an incompatible schema from the registry). So libavro only ever
 * sees pairs this check accepted; it is conservative (when unsure, refuse).
 */
int avlayout_resolvable(avro_schema_t w, avro_schema_t r, char *err, size_t errlen);

/* Minimal big-endian two's complement of v; returns the length (1..8). */
size_t avlayout_dec_encode(int64_t v, uint8_t out[8]);

/* 0 ok; -1 empty (malformed); -2 does not fit in int64. Any length is
 * accepted as long as the leading bytes are sign extension. */
int avlayout_dec_decode(const uint8_t *b, size_t n, int64_t *out);

/* 1 if |v| < 10^digits. */
int avlayout_within_digits(int64_t v, int digits);

#endif
