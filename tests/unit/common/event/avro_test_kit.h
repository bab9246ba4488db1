/*
 * avro_test_kit: what the Avro codec tests share: codecs over the shipped
 * schema (or a textual edit of it), sample events, an equality check, and a
 * minimal Avro writer of its own for hand-built frames, independent of the
 * encoder under test, so the encoder cannot hide a bug in both directions.
 * Header-only (static inline): every test file is its own binary.
 */
#ifndef AVRO_TEST_KIT_H
#define AVRO_TEST_KIT_H

#include "event/avro_codec.h"
#include "event/order_schema.h"

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ID 7u

static inline codec *new_codec(const char *schema)
{
    char err[256] = "";
    codec *c = codec_new(schema, err, sizeof err);
    ck_assert_msg(c != NULL, "codec_new: %s", err);
    return c;
}

/* A codec that reads the compiled-in schema, registered under ID. */
static inline codec *std_codec(void)
{
    codec *c = new_codec(order_schema_json);
    char err[256] = "";
    ck_assert_msg(codec_add_writer_schema(c, ID, order_schema_json, err, sizeof err) == CODEC_OK,
                  "%s", err);
    return c;
}

/* A schema text with one textual edit, for schema-evolution cases. */
static inline char *schema_edit_in(const char *base, const char *from, const char *to)
{
    const char *at = strstr(base, from);
    size_t pre, flen = strlen(from), tlen = strlen(to), total = strlen(base);
    char *out;
    ck_assert_msg(at != NULL, "schema text lacks %s", from);
    pre = (size_t)(at - base);
    out = malloc(total - flen + tlen + 1);
    ck_assert_ptr_nonnull(out);
    memcpy(out, base, pre);
    memcpy(out + pre, to, tlen);
    memcpy(out + pre + tlen, at + flen, total - pre - flen + 1);
    return out;
}

static inline char *schema_edit(const char *from, const char *to)
{
    return schema_edit_in(order_schema_json, from, to);
}

static inline order_event *make_create(size_t items, int max_strings)
{
    order_event *ev = calloc(1, sizeof *ev);
    ck_assert_ptr_nonnull(ev);
    ev->type = ORDER_EVENT_CREATE;
    ev->timestamp_ms = 1764079200123;
    if (max_strings) {
        memset(ev->order_id, 'o', ORDER_ID_MAX);
        memset(ev->customer_id, 'c', ORDER_CUSTOMER_ID_MAX);
        memset(ev->order_date, 'd', ORDER_DATE_MAX);
        memset(ev->currency, 'U', ORDER_CURRENCY_MAX);
    } else {
        strcpy(ev->order_id, "order-1");
        strcpy(ev->customer_id, "cust-42");
        strcpy(ev->order_date, "2026-11-25T14:00:00.123Z");
        strcpy(ev->currency, "USD");
    }
    strcpy(ev->status, "new");
    ev->item_count = items;
    for (size_t i = 0; i < items; i++) {
        order_item *it = &ev->items[i];
        if (max_strings)
            memset(it->item_id, 'a' + (int)(i % 26), ORDER_ITEM_ID_MAX);
        else
            snprintf(it->item_id, sizeof it->item_id, "item-%zu", i);
        it->quantity = (int32_t)(i % 7 + 1);
        it->price_cents = (int64_t)((i * 7919) % 100000) + (i == 0 ? 128 : 0);
        ev->total_cents += it->quantity * it->price_cents;
    }
    return ev;
}

static inline void assert_same(const order_event *a, const order_event *b)
{
    ck_assert_int_eq(a->type, b->type);
    ck_assert_str_eq(a->order_id, b->order_id);
    ck_assert_int_eq(a->timestamp_ms, b->timestamp_ms);
    ck_assert_str_eq(a->status, b->status);
    ck_assert_uint_eq(a->item_count, b->item_count);
    if (a->type != ORDER_EVENT_CREATE)
        return;
    ck_assert_str_eq(a->customer_id, b->customer_id);
    ck_assert_str_eq(a->order_date, b->order_date);
    ck_assert_str_eq(a->currency, b->currency);
    ck_assert_int_eq(a->total_cents, b->total_cents);
    for (size_t i = 0; i < a->item_count; i++) {
        ck_assert_str_eq(a->items[i].item_id, b->items[i].item_id);
        ck_assert_int_eq(a->items[i].quantity, b->items[i].quantity);
        ck_assert_int_eq(a->items[i].price_cents, b->items[i].price_cents);
    }
}

static uint8_t frame[CODEC_MAX_ENCODED];

static inline size_t encode_ok(codec *c, uint32_t id, const order_event *ev)
{
    char err[256] = "";
    size_t len = 0;
    codec_status st = codec_encode(c, id, ev, frame, sizeof frame, &len, err, sizeof err);
    ck_assert_msg(st == CODEC_OK, "encode: %s %s", codec_status_name(st), err);
    return len;
}

static inline codec_status decode(codec *c, const uint8_t *buf, size_t len, order_event *out,
                                  char *err, size_t errlen)
{
    uint32_t sid = 0;
    return codec_decode(c, buf, len, &sid, out, err, errlen);
}

/* ---- a minimal independent Avro writer for hand-built frames ----------- */

typedef struct {
    uint8_t b[200000];
    size_t n;
} bb;

static inline void put_raw(bb *w, const void *p, size_t n)
{
    ck_assert(w->n + n <= sizeof w->b);
    memcpy(w->b + w->n, p, n);
    w->n += n;
}

static inline void put_long(bb *w, int64_t v)
{
    uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
    do {
        uint8_t byte = (uint8_t)(z & 0x7f);
        z >>= 7;
        if (z != 0)
            byte |= 0x80;
        put_raw(w, &byte, 1);
    } while (z != 0);
}

static inline void put_str(bb *w, const char *s, size_t n)
{
    put_long(w, (int64_t)n);
    put_raw(w, s, n);
}

static inline void put_cstr(bb *w, const char *s)
{
    put_str(w, s, strlen(s));
}

static inline void put_header(bb *w, uint32_t id)
{
    uint8_t h[5] = {0, (uint8_t)(id >> 24), (uint8_t)(id >> 16), (uint8_t)(id >> 8), (uint8_t)id};
    w->n = 0;
    put_raw(w, h, 5);
}

/* UPDATE with an orderId of `oid_len` 'x's. */
static inline void build_update(bb *w, size_t oid_len, const char *status)
{
    static char xs[1000];
    memset(xs, 'x', sizeof xs);
    put_header(w, ID);
    put_long(w, 1); /* UPDATE */
    put_str(w, xs, oid_len);
    put_long(w, 42);
    put_long(w, 1); /* UpdateOrderPayload */
    put_str(w, status, strlen(status));
}

/* CREATE with customerId `cust`, `items` items whose price is the raw
 * decimal bytes given. */
static inline void build_create_for(bb *w, const char *cust, size_t items, const uint8_t *price,
                                    size_t price_len)
{
    put_header(w, ID);
    put_long(w, 0);
    put_str(w, "o1", 2);
    put_long(w, 1);
    put_long(w, 0);
    put_str(w, cust, strlen(cust));
    put_str(w, "d", 1);
    if (items > 0) {
        put_long(w, (int64_t)items);
        for (size_t i = 0; i < items; i++) {
            put_str(w, "i", 1);
            put_long(w, 1);
            put_str(w, (const char *)price, price_len);
        }
    }
    put_long(w, 0);
    put_str(w, "\x00", 1); /* totalAmount 0 */
    put_str(w, "USD", 3);
    put_str(w, "new", 3);
}

static inline void build_create(bb *w, size_t items, const uint8_t *price, size_t price_len)
{
    build_create_for(w, "c", items, price, price_len);
}

#endif
