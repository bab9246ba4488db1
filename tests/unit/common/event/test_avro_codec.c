/*
 * test_avro_codec: the wire format byte for byte, round trips, schema
 * evolution through real libavro resolution, and hostile input (truncation at
 * every length, random corruption, lengths that lie). Frames for the hostile
 * cases are built by hand with a tiny Avro writer below, independent of the
 * encoder under test, so the encoder cannot hide a bug in both directions.
 *
 * ORDERSTREAM_BENCH=N in the environment additionally runs N encode+decode
 * pairs and prints ns/op and libavro allocations/op (no assertion on time).
 */
#include "event/avro_codec.h"
#include "platform/fileio.h"
#include "event/avro_layout.h"
#include "event/order_schema.h"

#include <avro.h>
#include "test_main.h"

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ID 7u

static codec *new_codec(const char *schema)
{
    char err[256] = "";
    codec *c = codec_new(schema, err, sizeof err);
    ck_assert_msg(c != NULL, "codec_new: %s", err);
    return c;
}

/* A codec that reads the compiled-in schema, registered under ID. */
static codec *std_codec(void)
{
    codec *c = new_codec(order_schema_json);
    char err[256] = "";
    ck_assert_msg(codec_add_writer_schema(c, ID, order_schema_json, err, sizeof err) == CODEC_OK,
                  "%s", err);
    return c;
}

/* A schema text with one textual edit, for schema-evolution cases. */
static char *schema_edit_in(const char *base, const char *from, const char *to)
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

static char *schema_edit(const char *from, const char *to)
{
    return schema_edit_in(order_schema_json, from, to);
}

static order_event *make_create(size_t items, int max_strings)
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

static void assert_same(const order_event *a, const order_event *b)
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

static size_t encode_ok(codec *c, uint32_t id, const order_event *ev)
{
    char err[256] = "";
    size_t len = 0;
    codec_status st = codec_encode(c, id, ev, frame, sizeof frame, &len, err, sizeof err);
    ck_assert_msg(st == CODEC_OK, "encode: %s %s", codec_status_name(st), err);
    return len;
}

static codec_status decode(codec *c, const uint8_t *buf, size_t len, order_event *out, char *err,
                           size_t errlen)
{
    uint32_t sid = 0;
    return codec_decode(c, buf, len, &sid, out, err, errlen);
}

/* ---- a minimal independent Avro writer for hand-built frames ----------- */

typedef struct {
    uint8_t b[200000];
    size_t n;
} bb;

static void put_raw(bb *w, const void *p, size_t n)
{
    ck_assert(w->n + n <= sizeof w->b);
    memcpy(w->b + w->n, p, n);
    w->n += n;
}

static void put_long(bb *w, int64_t v)
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

static void put_str(bb *w, const char *s, size_t n)
{
    put_long(w, (int64_t)n);
    put_raw(w, s, n);
}

static void put_header(bb *w, uint32_t id)
{
    uint8_t h[5] = {0, (uint8_t)(id >> 24), (uint8_t)(id >> 16), (uint8_t)(id >> 8), (uint8_t)id};
    w->n = 0;
    put_raw(w, h, 5);
}

/* UPDATE with an orderId of `oid_len` 'x's. */
static void build_update(bb *w, size_t oid_len, const char *status)
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
static void build_create_for(bb *w, const char *cust, size_t items, const uint8_t *price,
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

static void build_create(bb *w, size_t items, const uint8_t *price, size_t price_len)
{
    build_create_for(w, "c", items, price, price_len);
}

/* ---- tests --------------------------------------------------------------- */

START_TEST(test_roundtrip_create)
{
    static const size_t counts[] = {1, 2, 17, ORDER_ITEMS_MAX};
    codec *c = std_codec();
    order_event *out = calloc(1, sizeof *out);
    char err[256] = "";

    for (int maxs = 0; maxs <= 1; maxs++) {
        for (size_t k = 0; k < sizeof counts / sizeof counts[0]; k++) {
            order_event *ev = make_create(counts[k], maxs);
            size_t len = encode_ok(c, ID, ev);
            codec_status st = decode(c, frame, len, out, err, sizeof err);
            ck_assert_msg(st == CODEC_OK, "%s %s", codec_status_name(st), err);
            assert_same(ev, out);
            ck_assert_int_eq(order_event_validate(out, err, sizeof err), 0);
            free(ev);
        }
    }
    codec_free(c);
    free(out);
}
END_TEST

START_TEST(test_roundtrip_update_and_reuse)
{
    codec *c = std_codec();
    order_event ev, *out = calloc(1, sizeof *out);
    order_event *big = make_create(ORDER_ITEMS_MAX, 1);
    char err[256] = "";
    size_t len;

    memset(&ev, 0, sizeof ev);
    ev.type = ORDER_EVENT_UPDATE;
    strcpy(ev.order_id, "order-1");
    ev.timestamp_ms = -5; /* before the epoch still round-trips */
    strcpy(ev.status, "shipped");
    /* alternate with a big CREATE: values are reused, nothing may leak over */
    for (int round = 0; round < 3; round++) {
        len = encode_ok(c, ID, big);
        ck_assert_int_eq(decode(c, frame, len, out, err, sizeof err), CODEC_OK);
        assert_same(big, out);
        len = encode_ok(c, ID, &ev);
        ck_assert_int_eq(decode(c, frame, len, out, err, sizeof err), CODEC_OK);
        assert_same(&ev, out);
        ck_assert_str_eq(out->customer_id, "");
        ck_assert_uint_eq(out->item_count, 0);
    }
    free(big);
    free(out);
    codec_free(c);
}
END_TEST

START_TEST(test_exact_bytes)
{
    codec *c = std_codec();
    order_event *ev = calloc(1, sizeof *ev);
    size_t len;
    /* UPDATE: enum 1, "o1", ts 5, branch 1, "shipped" */
    static const uint8_t upd[] = {0x00, 0x01, 0x02, 0x03, 0x04, 0x02, 0x04, 'o', '1', 0x0a,
                                  0x02, 0x0e, 's',  'h',  'i',  'p',  'p',  'e', 'd'};
    /* CREATE: enum 0, "A", ts 0, branch 0, "c", "d", [1 item: "i", qty 2,
     * price 99.98 = 9998 = 0x270E], total 199.96 = 19996 = 0x4E1C, "USD", "new" */
    static const uint8_t cre[] = {0x00, 0x00, 0x00, 0x00, 0x07, 0x00, 0x02, 'A',  0x00, 0x00, 0x02,
                                  'c',  0x02, 'd',  0x02, 0x02, 'i',  0x04, 0x04, 0x27, 0x0e, 0x00,
                                  0x04, 0x4e, 0x1c, 0x06, 'U',  'S',  'D',  0x06, 'n',  'e',  'w'};

    ev->type = ORDER_EVENT_UPDATE;
    strcpy(ev->order_id, "o1");
    ev->timestamp_ms = 5;
    strcpy(ev->status, "shipped");
    len = encode_ok(c, 0x01020304u, ev);
    ck_assert_uint_eq(len, sizeof upd);
    ck_assert_mem_eq(frame, upd, sizeof upd);

    memset(ev, 0, sizeof *ev);
    ev->type = ORDER_EVENT_CREATE;
    strcpy(ev->order_id, "A");
    strcpy(ev->customer_id, "c");
    strcpy(ev->order_date, "d");
    strcpy(ev->currency, "USD");
    strcpy(ev->status, "new");
    ev->item_count = 1;
    strcpy(ev->items[0].item_id, "i");
    ev->items[0].quantity = 2;
    ev->items[0].price_cents = 9998;
    ev->total_cents = 19996;
    len = encode_ok(c, ID, ev);
    ck_assert_uint_eq(len, sizeof cre);
    ck_assert_mem_eq(frame, cre, sizeof cre);
    free(ev);
    codec_free(c);
}
END_TEST

START_TEST(test_decimal_bytes)
{
    static const struct {
        int64_t v;
        size_t n;
        uint8_t b[8];
    } rows[] = {
        {0, 1, {0x00}},
        {1, 1, {0x01}},
        {-1, 1, {0xff}},
        {127, 1, {0x7f}},
        {128, 2, {0x00, 0x80}},
        {-128, 1, {0x80}},
        {-129, 2, {0xff, 0x7f}},
        {9998, 2, {0x27, 0x0e}},
        {-9998, 2, {0xd8, 0xf2}},
        {INT64_MAX, 8, {0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}},
        {INT64_MIN, 8, {0x80, 0, 0, 0, 0, 0, 0, 0}},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        uint8_t b[8];
        int64_t back = 12345;
        size_t n = avlayout_dec_encode(rows[i].v, b);
        ck_assert_msg(n == rows[i].n, "row %zu: %zu bytes", i, n);
        ck_assert_mem_eq(b, rows[i].b, n);
        ck_assert_int_eq(avlayout_dec_decode(b, n, &back), 0);
        ck_assert_int_eq(back, rows[i].v);
    }
    /* decode accepts non-minimal and wider-than-8 sign-extended forms */
    static const uint8_t wide_pos[] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0x05};
    static const uint8_t wide_neg[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                       0xff, 0xff, 0xff, 0xff, 0xfb};
    static const uint8_t too_big[] = {0x01, 0, 0, 0, 0, 0, 0, 0, 0};
    static const uint8_t bad_sign[] = {0x00, 0x80, 0, 0, 0, 0, 0, 0, 0}; /* 2^63 */
    static const uint8_t three[] = {0xff, 0xff, 0x38};                   /* -200 */
    int64_t v;
    ck_assert_int_eq(avlayout_dec_decode(wide_pos, sizeof wide_pos, &v), 0);
    ck_assert_int_eq(v, 5);
    ck_assert_int_eq(avlayout_dec_decode(wide_neg, sizeof wide_neg, &v), 0);
    ck_assert_int_eq(v, -5);
    ck_assert_int_eq(avlayout_dec_decode(three, sizeof three, &v), 0);
    ck_assert_int_eq(v, -200);
    ck_assert_int_eq(avlayout_dec_decode(too_big, sizeof too_big, &v), -2);
    ck_assert_int_eq(avlayout_dec_decode(bad_sign, sizeof bad_sign, &v), -2);
    ck_assert_int_eq(avlayout_dec_decode(three, 0, &v), -1);
}
END_TEST

START_TEST(test_decimal_in_frames)
{
    codec *c = std_codec();
    order_event *out = calloc(1, sizeof *out);
    static bb w;
    char err[256];
    static const uint8_t neg[] = {0xff};
    static const uint8_t wide[] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x80};
    static const uint8_t huge[] = {0x7f, 0, 0, 0, 0, 0, 0, 0, 0};
    static const uint8_t over_precision[] = {0x00, 0xe8, 0xd4, 0xa5, 0x10, 0x00}; /* 10^12 */

    build_create(&w, 1, neg, sizeof neg);
    ck_assert_int_eq(decode(c, w.b, w.n, out, err, sizeof err), CODEC_OK);
    ck_assert_int_eq(out->items[0].price_cents, -1);
    ck_assert_int_eq(order_event_validate(out, err, sizeof err), -1); /* decodes, invalid */
    build_create(&w, 1, wide, sizeof wide);
    ck_assert_int_eq(decode(c, w.b, w.n, out, err, sizeof err), CODEC_OK);
    ck_assert_int_eq(out->items[0].price_cents, 128);
    build_create(&w, 1, huge, sizeof huge);
    ck_assert_int_eq(decode(c, w.b, w.n, out, err, sizeof err), CODEC_ERR_LIMIT);
    build_create(&w, 1, over_precision, sizeof over_precision);
    ck_assert_int_eq(decode(c, w.b, w.n, out, err, sizeof err), CODEC_ERR_LIMIT);
    ck_assert_ptr_nonnull(strstr(err, "decimal(12,2)"));
    build_create(&w, 1, neg, 0); /* empty bytes is not a decimal */
    ck_assert_int_eq(decode(c, w.b, w.n, out, err, sizeof err), CODEC_ERR_MALFORMED);
    free(out);
    codec_free(c);
}
END_TEST

START_TEST(test_limits)
{
    codec *c = std_codec();
    order_event *out = calloc(1, sizeof *out);
    static bb w;
    char err[256];
    static const uint8_t one[] = {0x01};

    build_update(&w, ORDER_ID_MAX, "shipped");
    ck_assert_int_eq(decode(c, w.b, w.n, out, err, sizeof err), CODEC_OK);
    build_update(&w, ORDER_ID_MAX + 1, "shipped");
    ck_assert_int_eq(decode(c, w.b, w.n, out, err, sizeof err), CODEC_ERR_LIMIT);
    build_update(&w, 3, "a very long status that is longer than thirty-two bytes");
    ck_assert_int_eq(decode(c, w.b, w.n, out, err, sizeof err), CODEC_ERR_LIMIT);
    build_create(&w, ORDER_ITEMS_MAX, one, 1);
    ck_assert_int_eq(decode(c, w.b, w.n, out, err, sizeof err), CODEC_OK);
    ck_assert_uint_eq(out->item_count, ORDER_ITEMS_MAX);
    build_create(&w, ORDER_ITEMS_MAX + 1, one, 1);
    ck_assert_int_eq(decode(c, w.b, w.n, out, err, sizeof err), CODEC_ERR_LIMIT);
    build_create(&w, 0, one, 1); /* no items: decodes, the contract check rejects it */
    ck_assert_int_eq(decode(c, w.b, w.n, out, err, sizeof err), CODEC_OK);
    ck_assert_int_eq(order_event_validate(out, err, sizeof err), -1);
    /* a NUL inside orderId cannot live in a C string */
    put_header(&w, ID);
    put_long(&w, 1);
    put_str(&w, "a\0b", 3);
    put_long(&w, 1);
    put_long(&w, 1);
    put_str(&w, "shipped", 7);
    ck_assert_int_eq(decode(c, w.b, w.n, out, err, sizeof err), CODEC_ERR_LIMIT);

    /* encode side: over-bound model values are refused, not truncated */
    order_event *ev = make_create(1, 0);
    size_t len;
    ev->item_count = ORDER_ITEMS_MAX + 1;
    ck_assert_int_eq(codec_encode(c, ID, ev, frame, sizeof frame, &len, err, sizeof err),
                     CODEC_ERR_LIMIT);
    ev->item_count = 1;
    memset(ev->currency, 'X', sizeof ev->currency); /* unterminated */
    ck_assert_int_eq(codec_encode(c, ID, ev, frame, sizeof frame, &len, err, sizeof err),
                     CODEC_ERR_LIMIT);
    free(ev);
    ev = make_create(1, 0);
    ev->items[0].price_cents = 1000000000000; /* 10^12 > decimal(12,2) */
    ev->total_cents = ev->items[0].price_cents;
    ck_assert_int_eq(codec_encode(c, ID, ev, frame, sizeof frame, &len, err, sizeof err),
                     CODEC_ERR_LIMIT);
    free(ev);
    ev = make_create(1, 0);
    ck_assert_int_eq(codec_encode(c, ID, ev, frame, 20, &len, err, sizeof err), CODEC_ERR_INTERNAL);
    ck_assert_int_eq(codec_encode(c, ID, ev, frame, 5, &len, err, sizeof err), CODEC_ERR_INTERNAL);
    ev->type = (order_event_type)9;
    ck_assert_int_eq(codec_encode(c, ID, ev, frame, sizeof frame, &len, err, sizeof err),
                     CODEC_ERR_INTERNAL);
    free(ev);
    free(out);
    codec_free(c);
}
END_TEST

START_TEST(test_utf8)
{
    static const struct {
        const char *cust;
        codec_status st;
    } rows[] = {
        {"plain", CODEC_OK},
        {"Zo\xc3\xab \xe2\x82\xac \xf0\x9f\x99\x82", CODEC_OK}, /* e-umlaut, euro, emoji */
        {"\xc3", CODEC_ERR_MALFORMED},                          /* cut sequence */
        {"\xc0\xaf", CODEC_ERR_MALFORMED},                      /* overlong '/' */
        {"\xe0\x80\xaf", CODEC_ERR_MALFORMED},                  /* overlong, 3 bytes */
        {"\xed\xa0\x80", CODEC_ERR_MALFORMED},                  /* UTF-16 surrogate */
        {"\xf4\x90\x80\x80", CODEC_ERR_MALFORMED},              /* > U+10FFFF */
        {"\xff", CODEC_ERR_MALFORMED},
        {"a\x80"
         "b",
         CODEC_ERR_MALFORMED}, /* stray continuation byte */
    };
    codec *c = std_codec();
    order_event *out = calloc(1, sizeof *out);
    static bb w;
    static const uint8_t one[] = {0x01};
    char err[256];

    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        build_create_for(&w, rows[i].cust, 1, one, 1);
        codec_status st = decode(c, w.b, w.n, out, err, sizeof err);
        ck_assert_msg(st == rows[i].st, "row %zu: %s %s", i, codec_status_name(st), err);
        if (st == CODEC_OK)
            ck_assert_str_eq(out->customer_id, rows[i].cust);
    }
    free(out);
    codec_free(c);
}
END_TEST

START_TEST(test_framing_and_unknown_schema)
{
    codec *c = std_codec();
    order_event *out = calloc(1, sizeof *out);
    char err[256];
    uint32_t sid = 0;
    static const uint8_t bad_magic[] = {1, 0, 0, 0, 7, 2, 2, 'a', 0, 2, 2, 'x'};
    static const uint8_t unknown[] = {0, 0, 0, 0x30, 0x39, 2, 2, 'a', 0, 2, 2, 'x'};

    for (size_t n = 0; n < CODEC_WIRE_HEADER; n++)
        ck_assert_int_eq(codec_decode(c, unknown, n, &sid, out, err, sizeof err),
                         CODEC_ERR_FRAMING);
    ck_assert_int_eq(codec_decode(c, bad_magic, sizeof bad_magic, &sid, out, err, sizeof err),
                     CODEC_ERR_FRAMING);
    ck_assert_int_eq(codec_decode(c, unknown, sizeof unknown, &sid, out, err, sizeof err),
                     CODEC_ERR_UNKNOWN_SCHEMA);
    ck_assert_uint_eq(sid, 12345);
    ck_assert_int_eq(codec_has_schema(c, 12345), 0);
    ck_assert_int_eq(codec_has_schema(c, ID), 1);
    ck_assert_int_eq(codec_decode(c, NULL, 3, &sid, out, err, sizeof err), CODEC_ERR_INTERNAL);
    ck_assert_str_eq(codec_status_name(CODEC_ERR_UNKNOWN_SCHEMA), "UNKNOWN_SCHEMA");
    ck_assert_str_eq(codec_reader_schema_json(c), order_schema_json);
    free(out);
    codec_free(c);
}
END_TEST

START_TEST(test_truncated_and_trailing)
{
    codec *c = std_codec();
    order_event *out = calloc(1, sizeof *out);
    order_event *ev = make_create(5, 0);
    char err[256];
    size_t len = encode_ok(c, ID, ev);
    static uint8_t copy[CODEC_MAX_ENCODED + 1];

    for (size_t n = 0; n < len; n++) {
        /* a fresh heap copy of exactly n bytes so ASan sees any overread */
        uint8_t *cut = malloc(n ? n : 1);
        memcpy(cut, frame, n);
        codec_status st = decode(c, cut, n, out, err, sizeof err);
        ck_assert_msg(st == (n < CODEC_WIRE_HEADER ? CODEC_ERR_FRAMING : CODEC_ERR_MALFORMED),
                      "len %zu: %s", n, codec_status_name(st));
        free(cut);
    }
    memcpy(copy, frame, len);
    copy[len] = 0;
    ck_assert_int_eq(decode(c, copy, len + 1, out, err, sizeof err), CODEC_ERR_MALFORMED);
    ck_assert_ptr_nonnull(strstr(err, "trailing"));
    ck_assert_int_eq(decode(c, copy, len, out, err, sizeof err), CODEC_OK);
    free(ev);
    free(out);
    codec_free(c);
}
END_TEST

START_TEST(test_lying_lengths)
{
    codec *c = std_codec();
    order_event *out = calloc(1, sizeof *out);
    static bb w;
    char err[256];
    static const uint8_t ten_ff[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f};
    static const uint8_t eleven[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
                                     0x80, 0x80, 0x80, 0x80, 0x01};

    /* orderId claims 2^62 bytes: must be refused before libavro mallocs */
    put_header(&w, ID);
    put_long(&w, 1);
    put_long(&w, (int64_t)1 << 62);
    put_raw(&w, "abc", 3);
    ck_assert_int_eq(decode(c, w.b, w.n, out, err, sizeof err), CODEC_ERR_MALFORMED);
    /* negative string length */
    put_header(&w, ID);
    put_long(&w, 1);
    put_long(&w, -3);
    ck_assert_int_eq(decode(c, w.b, w.n, out, err, sizeof err), CODEC_ERR_MALFORMED);
    /* varint overflowing 64 bits, and one longer than 10 bytes */
    put_header(&w, ID);
    put_raw(&w, ten_ff, sizeof ten_ff);
    ck_assert_int_eq(decode(c, w.b, w.n, out, err, sizeof err), CODEC_ERR_MALFORMED);
    put_header(&w, ID);
    put_raw(&w, eleven, sizeof eleven);
    ck_assert_int_eq(decode(c, w.b, w.n, out, err, sizeof err), CODEC_ERR_MALFORMED);
    /* enum and union indices out of range */
    build_update(&w, 2, "shipped");
    w.b[5] = 0x04; /* eventType index 2 */
    ck_assert_int_eq(decode(c, w.b, w.n, out, err, sizeof err), CODEC_ERR_MALFORMED);
    build_update(&w, 2, "shipped");
    w.b[5] = 0x01; /* eventType index -1 */
    ck_assert_int_eq(decode(c, w.b, w.n, out, err, sizeof err), CODEC_ERR_MALFORMED);
    build_update(&w, 2, "shipped");
    w.b[10] = 0x04; /* payload branch 2 */
    ck_assert_int_eq(decode(c, w.b, w.n, out, err, sizeof err), CODEC_ERR_MALFORMED);
    /* an item block count far beyond the bytes present */
    put_header(&w, ID);
    put_long(&w, 0);
    put_str(&w, "o1", 2);
    put_long(&w, 1);
    put_long(&w, 0);
    put_str(&w, "c", 1);
    put_str(&w, "d", 1);
    put_long(&w, INT64_MAX / 2);
    put_str(&w, "i", 1);
    ck_assert_int_eq(decode(c, w.b, w.n, out, err, sizeof err), CODEC_ERR_MALFORMED);
    /* INT64_MIN as a block count (libavro would negate it: undefined) */
    w.n -= 2;
    w.n -= 10;
    put_long(&w, INT64_MIN);
    ck_assert_int_eq(decode(c, w.b, w.n, out, err, sizeof err), CODEC_ERR_MALFORMED);
    free(out);
    codec_free(c);
}
END_TEST

START_TEST(test_random_corruption)
{
    codec *c = std_codec();
    order_event *out = calloc(1, sizeof *out);
    order_event *ev = make_create(3, 0);
    char err[256];
    size_t len = encode_ok(c, ID, ev);
    static uint8_t base[512], buf[512];
    unsigned seed = 12345, counts[CODEC_ERR_INTERNAL + 1] = {0};

    ck_assert_uint_le(len, sizeof base);
    memcpy(base, frame, len);
    for (int iter = 0; iter < 200000; iter++) {
        size_t n = len;
        memcpy(buf, base, len);
        int flips = 1 + (int)(rand_r(&seed) % 4);
        for (int f = 0; f < flips; f++) {
            size_t pos = CODEC_WIRE_HEADER + (size_t)rand_r(&seed) % (len - CODEC_WIRE_HEADER);
            buf[pos] = (uint8_t)rand_r(&seed);
        }
        if (rand_r(&seed) % 8 == 0)
            n = CODEC_WIRE_HEADER + (size_t)rand_r(&seed) % (len - CODEC_WIRE_HEADER);
        codec_status st = decode(c, buf, n, out, err, sizeof err);
        ck_assert_int_ge(st, CODEC_OK);
        ck_assert_int_le(st, CODEC_ERR_LIMIT); /* never INTERNAL on bad input */
        ck_assert(st != CODEC_ERR_FRAMING && st != CODEC_ERR_UNKNOWN_SCHEMA);
        counts[st]++;
        if (st == CODEC_OK) /* whatever decoded must satisfy the model bounds */
            ck_assert_uint_le(out->item_count, ORDER_ITEMS_MAX);
    }
    /* the generator reached both outcomes, so the loop tested something */
    ck_assert_uint_gt(counts[CODEC_OK], 0);
    ck_assert_uint_gt(counts[CODEC_ERR_MALFORMED], 0);
    /* the codec is still healthy afterwards */
    ck_assert_int_eq(decode(c, base, len, out, err, sizeof err), CODEC_OK);
    assert_same(ev, out);
    free(ev);
    free(out);
    codec_free(c);
}
END_TEST

START_TEST(test_evolution_extra_fields)
{
    /* a newer writer: extra top-level fields and an extra OrderItem field,
     * all with defaults; the reader must skip them */
    char *w1 = schema_edit_in(order_schema_json, "{\"name\": \"orderId\", \"type\": \"string\"},",
                              "{\"name\": \"orderId\", \"type\": \"string\"},"
                              "{\"name\": \"channel\", \"type\": \"string\", \"default\": \"web\"},"
                              "{\"name\": \"tags\", \"type\": {\"type\": \"array\", \"items\": "
                              "\"long\"}, \"default\": []},");
    char *w = schema_edit_in(w1, "{\"name\": \"itemId\", \"type\": \"string\"},",
                             "{\"name\": \"itemId\", \"type\": \"string\"},"
                             "{\"name\": \"sku\", \"type\": \"string\", \"default\": \"\"},");
    codec *writer = new_codec(w); /* encodes with the newer schema */
    codec *reader = std_codec();
    order_event *ev = make_create(4, 0), *out = calloc(1, sizeof *out);
    char err[256] = "";
    size_t len = encode_ok(writer, 99, ev);
    size_t std_len;

    ck_assert_int_eq(decode(reader, frame, len, out, err, sizeof err), CODEC_ERR_UNKNOWN_SCHEMA);
    ck_assert_int_eq(codec_add_writer_schema(reader, 99, w, err, sizeof err), CODEC_OK);
    codec_status st = decode(reader, frame, len, out, err, sizeof err);
    ck_assert_msg(st == CODEC_OK, "%s %s", codec_status_name(st), err);
    assert_same(ev, out);
    /* the extra fields really were on the wire: 2 top-level bytes + 1 per item */
    std_len = encode_ok(reader, ID, ev);
    ck_assert_uint_eq(len, std_len + 2 + 4);
    free(w1);
    free(w);
    free(ev);
    free(out);
    codec_free(writer);
    codec_free(reader);
}
END_TEST

START_TEST(test_evolution_enum_by_name)
{
    /* the writer reorders the enum and adds a symbol the reader lacks */
    char *w = schema_edit("\"symbols\": [\"CREATE\", \"UPDATE\"]",
                          "\"symbols\": [\"DELETE\", \"UPDATE\", \"CREATE\"]");
    codec *writer = new_codec(w), *reader = std_codec();
    order_event *ev = make_create(2, 0), *out = calloc(1, sizeof *out);
    char err[256] = "";
    size_t len = encode_ok(writer, 50, ev);

    ck_assert_uint_eq(frame[5], 0x04); /* CREATE is index 2 for this writer */
    ck_assert_int_eq(codec_add_writer_schema(reader, 50, w, err, sizeof err), CODEC_OK);
    ck_assert_int_eq(decode(reader, frame, len, out, err, sizeof err), CODEC_OK);
    ck_assert_int_eq(out->type, ORDER_EVENT_CREATE);
    assert_same(ev, out);
    frame[5] = 0x02; /* UPDATE, index 1: but the payload is still a CREATE body */
    ck_assert_int_eq(decode(reader, frame, len, out, err, sizeof err), CODEC_OK);
    ck_assert_int_eq(out->type, ORDER_EVENT_UPDATE);
    ck_assert_int_eq(order_event_validate(out, err, sizeof err), -1);
    frame[5] = 0x00; /* DELETE: unknown to the reader */
    ck_assert_int_eq(decode(reader, frame, len, out, err, sizeof err), CODEC_ERR_INCOMPATIBLE);
    free(w);
    free(ev);
    free(out);
    codec_free(writer);
    codec_free(reader);
}
END_TEST

START_TEST(test_evolution_incompatible)
{
    static const char *edits[][2] = {
        /* a reader field the writer lacks (no default in the reader) */
        {"{\"name\": \"currency\", \"type\": \"string\"},", ""},
        /* a type change that Avro cannot promote */
        {"{\"name\": \"orderId\", \"type\": \"string\"}", "{\"name\": \"orderId\", \"type\": "
                                                          "\"boolean\"}"},
        /* same bytes, different meaning: scale 3 */
        {"\"precision\": 12, \"scale\": 2}", "\"precision\": 12, \"scale\": 3}"},
        /* a renamed enum */
        {"\"name\": \"EventType\"", "\"name\": \"Kind\""},
    };
    codec *reader = std_codec();
    order_event *out = calloc(1, sizeof *out);
    char err[256];
    static const uint8_t frame42[] = {0, 0, 0, 0, 42, 2, 2, 'a', 0, 2, 2, 'x'};

    for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++) {
        char *w = schema_edit(edits[i][0], edits[i][1]);
        err[0] = '\0';
        ck_assert_msg(codec_add_writer_schema(reader, 40 + (uint32_t)i, w, err, sizeof err) ==
                          CODEC_ERR_INCOMPATIBLE,
                      "edit %zu", i);
        ck_assert_msg(err[0] != '\0', "edit %zu: no message", i);
        ck_assert_int_eq(codec_has_schema(reader, 40 + (uint32_t)i), 1); /* remembered */
        free(w);
    }
    /* remembered verdict: adding again and decoding fail fast */
    ck_assert_int_eq(codec_add_writer_schema(reader, 42, order_schema_json, err, sizeof err),
                     CODEC_ERR_INCOMPATIBLE);
    ck_assert_int_eq(decode(reader, frame42, sizeof frame42, out, err, sizeof err),
                     CODEC_ERR_INCOMPATIBLE);
    ck_assert_int_eq(codec_add_writer_schema(reader, 60, "{not json", err, sizeof err),
                     CODEC_ERR_INCOMPATIBLE);
    ck_assert_int_eq(codec_add_writer_schema(reader, 61, "\"string\"", err, sizeof err),
                     CODEC_ERR_INCOMPATIBLE);
    free(out);
    codec_free(reader);
}
END_TEST

START_TEST(test_bad_reader_schema)
{
    char err[256] = "";
    char *nodec = schema_edit("\"logicalType\": \"decimal\", \"precision\": 12, \"scale\": 2",
                              "\"logicalType\": \"decimal\", \"precision\": 12, \"scale\": 3");
    ck_assert_ptr_null(codec_new(nodec, err, sizeof err));
    ck_assert_ptr_nonnull(strstr(err, "decimal"));
    free(nodec);
    ck_assert_ptr_null(codec_new("{\"type\": \"string\"}", err, sizeof err));
    ck_assert_ptr_null(codec_new("nonsense", err, sizeof err));
    ck_assert_ptr_null(codec_new(NULL, err, sizeof err));
}
END_TEST

START_TEST(test_cache_bound)
{
    codec *c = new_codec(order_schema_json);
    char err[256];
    order_event *ev = make_create(1, 0), *out = calloc(1, sizeof *out);
    for (uint32_t id = 1; id <= 300; id++)
        ck_assert_int_eq(codec_add_writer_schema(c, id, order_schema_json, err, sizeof err),
                         CODEC_OK);
    /* bounded: the oldest ids were evicted, the newest are usable */
    ck_assert_int_eq(codec_has_schema(c, 300), 1);
    ck_assert_int_eq(codec_has_schema(c, 1), 0);
    size_t len = encode_ok(c, 300, ev);
    ck_assert_int_eq(decode(c, frame, len, out, err, sizeof err), CODEC_OK);
    len = encode_ok(c, 1, ev);
    ck_assert_int_eq(decode(c, frame, len, out, err, sizeof err), CODEC_ERR_UNKNOWN_SCHEMA);
    free(ev);
    free(out);
    codec_free(c);
}
END_TEST

START_TEST(test_read_file)
{
    char err[256];
    char *text =
        fileio_read_all(ORDERSTREAM_SOURCE_DIR "/schemas/order-event.avsc", err, sizeof err);
    ck_assert_msg(text != NULL, "%s", err);
    ck_assert_str_eq(text, order_schema_json);
    free(text);
    ck_assert_ptr_null(fileio_read_all(ORDERSTREAM_SOURCE_DIR "/no/such/file", err, sizeof err));
    ck_assert_ptr_nonnull(strstr(err, "no/such/file"));
}
END_TEST

/* ---- optional benchmark --------------------------------------------------- */

static size_t avro_allocs;
static void *counting_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    (void)ud;
    (void)osize;
    if (nsize == 0) {
        free(ptr);
        return NULL;
    }
    avro_allocs++;
    return realloc(ptr, nsize);
}

START_TEST(test_bench)
{
    const char *env = getenv("ORDERSTREAM_BENCH");
    long n = env ? atol(env) : 0;
    if (n <= 0)
        return;
    codec *c = std_codec();
    order_event *ev = make_create(3, 0), *out = calloc(1, sizeof *out);
    char err[256];
    struct timespec t0, t1;
    size_t len = encode_ok(c, ID, ev);

    avro_set_allocator(counting_alloc, NULL);
    avro_allocs = 0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    /* no ck_assert inside the loops: check records every assertion as a
     * checkpoint with a write(2), which would dominate the figures */
    long bad = 0;
    for (long i = 0; i < n; i++)
        bad += codec_encode(c, ID, ev, frame, sizeof frame, &len, err, sizeof err) != CODEC_OK;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double enc = ((double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec)) / n;
    size_t enc_allocs = avro_allocs;
    avro_allocs = 0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (long i = 0; i < n; i++)
        bad += decode(c, frame, len, out, err, sizeof err) != CODEC_OK;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double dec = ((double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec)) / n;
    printf("bench: %ld x CREATE(3 items, %zu bytes): encode %.0f ns/op (%.2f libavro "
           "allocs/op), decode %.0f ns/op (%.2f libavro allocs/op)\n",
           n, len, enc, (double)enc_allocs / (double)n, dec, (double)avro_allocs / (double)n);
    ck_assert_int_eq(bad, 0);
    assert_same(ev, out);
    free(ev);
    free(out);
    codec_free(c);
}
END_TEST

static Suite *codec_suite(void)
{
    Suite *s = suite_create("avro_codec");
    TCase *tc = tcase_create("codec");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_roundtrip_create);
    tcase_add_test(tc, test_roundtrip_update_and_reuse);
    tcase_add_test(tc, test_exact_bytes);
    tcase_add_test(tc, test_decimal_bytes);
    tcase_add_test(tc, test_decimal_in_frames);
    tcase_add_test(tc, test_limits);
    tcase_add_test(tc, test_utf8);
    tcase_add_test(tc, test_framing_and_unknown_schema);
    tcase_add_test(tc, test_truncated_and_trailing);
    tcase_add_test(tc, test_lying_lengths);
    tcase_add_test(tc, test_random_corruption);
    tcase_add_test(tc, test_evolution_extra_fields);
    tcase_add_test(tc, test_evolution_enum_by_name);
    tcase_add_test(tc, test_evolution_incompatible);
    tcase_add_test(tc, test_bad_reader_schema);
    tcase_add_test(tc, test_cache_bound);
    tcase_add_test(tc, test_read_file);
    tcase_add_test(tc, test_bench);
    suite_add_tcase(s, tc);
    return s;
}

Suite *test_suite(int *rc)
{
    (void)rc;
    return codec_suite();
}
