/*
 * Unit tests of event/avro_direct.c through the codec: the direct encoding of
 * the shipped schema gives libavro's bytes exactly, over creates with 0 to
 * ORDER_ITEMS_MAX items, the longest strings, decimal and varint edges, and
 * updates; it decodes back; a too small buffer fails cleanly; and a reader
 * schema with another field order is not encoded directly (libavro does it).
 * Decoding: frames of the shipped layout decode directly to what libavro's
 * generic path gives, with the same verdict and message for damaged frames,
 * arrays in several blocks, wide decimals and every refusal; another layout
 * is not decoded directly.
 */
#include "event/avro_codec.h"
#include "event/order_schema.h"

#include "test_main.h"

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ID 0x01020304u

static codec *codec_for(const char *schema)
{
    char err[256] = "";
    codec *c = codec_new(schema, err, sizeof err);
    ck_assert_msg(c != NULL, "codec_new: %s", err);
    ck_assert_msg(codec_add_writer_schema(c, ID, schema, err, sizeof err) == CODEC_OK, "%s", err);
    return c;
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;
static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static void fill_str(char *dst, size_t max, char base)
{
    size_t n = rnd() % (max + 1);
    for (size_t i = 0; i < n; i++)
        dst[i] = (char)(base + (int)(rnd() % 26));
    dst[n] = '\0';
}

/* A random event; k steers it to the edges now and then. */
static void make_event(order_event *ev, int k)
{
    memset(ev, 0, sizeof *ev);
    static const int64_t edges[] = {0, 1, 63, 64, -64, -65, 127, 128, 8191, 8192, 99999999999LL};
    int update = k % 5 == 4;
    ev->type = update ? ORDER_EVENT_UPDATE : ORDER_EVENT_CREATE;
    fill_str(ev->order_id, ORDER_ID_MAX, 'A');
    if (!ev->order_id[0])
        strcpy(ev->order_id, "X");
    ev->timestamp_ms = (k % 3 == 0) ? edges[(size_t)k % 11] : (int64_t)(rnd() >> 1);
    if (k % 7 == 0)
        ev->timestamp_ms = -ev->timestamp_ms;
    if (update) {
        strcpy(ev->status, k % 2 ? "shipped" : "cancelled");
        return;
    }
    fill_str(ev->customer_id, ORDER_CUSTOMER_ID_MAX, 'a');
    fill_str(ev->order_date, ORDER_DATE_MAX, '0');
    strcpy(ev->currency, "USD");
    strcpy(ev->status, "new");
    ev->item_count = k % 11 == 0 ? ORDER_ITEMS_MAX : (size_t)(rnd() % 6);
    for (size_t i = 0; i < ev->item_count; i++) {
        order_item *it = &ev->items[i];
        fill_str(it->item_id, ORDER_ITEM_ID_MAX, 'a');
        it->quantity = (int32_t)(rnd() % 1000) - (k % 13 == 0 ? 500 : 0);
        it->price_cents = i < 11 ? edges[i] : (int64_t)(rnd() % 100000000);
        ev->total_cents += it->price_cents;
    }
}

START_TEST(test_same_bytes_as_libavro)
{
    codec *c = codec_for(order_schema_json);
    ck_assert_int_eq(codec_encodes_directly(c), 1);
    static uint8_t direct[CODEC_MAX_ENCODED], generic[CODEC_MAX_ENCODED];
    static order_event ev, back;
    char err[256];
    for (int k = 0; k < 2000; k++) {
        make_event(&ev, k);
        size_t nd = 0, ng = 0;
        ck_assert_msg(codec_encode(c, ID, &ev, direct, sizeof direct, &nd, err, sizeof err) ==
                          CODEC_OK,
                      "event %d: %s", k, err);
        ck_assert_int_eq(
            codec_encode_path(c, ID, &ev, generic, sizeof generic, &ng, 1, err, sizeof err),
            CODEC_OK);
        ck_assert_uint_eq(nd, ng);
        ck_assert_msg(memcmp(direct, generic, nd) == 0, "event %d: bytes differ", k);
        uint32_t sid = 0;
        ck_assert_msg(codec_decode(c, direct, nd, &sid, &back, err, sizeof err) == CODEC_OK,
                      "event %d: %s", k, err);
        ck_assert_uint_eq(sid, ID);
        ck_assert_str_eq(back.order_id, ev.order_id);
        ck_assert_int_eq(back.timestamp_ms, ev.timestamp_ms);
        ck_assert_uint_eq(back.item_count, ev.item_count);
        for (size_t i = 0; i < ev.item_count; i++) {
            ck_assert_str_eq(back.items[i].item_id, ev.items[i].item_id);
            ck_assert_int_eq(back.items[i].price_cents, ev.items[i].price_cents);
            ck_assert_int_eq(back.items[i].quantity, ev.items[i].quantity);
        }
    }
    codec_free(c);
}
END_TEST

/* Decodes frame b both ways (direct where the codec can, and libavro's
 * generic path): the same status, the same message, the same event. */
static codec_status same_decode(codec *c, const uint8_t *b, size_t n, const char *what)
{
    static order_event d, g;
    char ed[256] = "", eg[256] = "";
    uint32_t sd = 0, sg = 0;
    memset(&d, 0x5a, sizeof d); /* whatever the paths leave alone must not matter */
    memset(&g, 0x5a, sizeof g);
    codec_status rd = codec_decode_path(c, b, n, &sd, &d, 0, ed, sizeof ed);
    codec_status rg = codec_decode_path(c, b, n, &sg, &g, 1, eg, sizeof eg);
    ck_assert_msg(rd == rg, "%s: direct %s (%s), generic %s (%s)", what, codec_status_name(rd), ed,
                  codec_status_name(rg), eg);
    if (rd != CODEC_OK) {
        ck_assert_str_eq(ed, eg);
        return rd;
    }
    ck_assert_int_eq(d.type, g.type);
    ck_assert_str_eq(d.order_id, g.order_id);
    ck_assert_int_eq(d.timestamp_ms, g.timestamp_ms);
    ck_assert_str_eq(d.status, g.status);
    if (d.type != ORDER_EVENT_CREATE && g.item_count == 0)
        return rd;
    ck_assert_str_eq(d.customer_id, g.customer_id);
    ck_assert_str_eq(d.order_date, g.order_date);
    ck_assert_str_eq(d.currency, g.currency);
    ck_assert_int_eq(d.total_cents, g.total_cents);
    ck_assert_uint_eq(d.item_count, g.item_count);
    for (size_t i = 0; i < d.item_count; i++) {
        ck_assert_str_eq(d.items[i].item_id, g.items[i].item_id);
        ck_assert_int_eq(d.items[i].quantity, g.items[i].quantity);
        ck_assert_int_eq(d.items[i].price_cents, g.items[i].price_cents);
    }
    return rd;
}

START_TEST(test_decodes_directly_as_libavro)
{
    codec *c = codec_for(order_schema_json);
    ck_assert_int_eq(codec_decodes_directly(c, ID), 1);
    ck_assert_int_eq(codec_decodes_directly(c, ID + 1), 0); /* unknown id */
    static uint8_t b[CODEC_MAX_ENCODED];
    static order_event ev;
    char err[256], what[64];
    for (int k = 0; k < 2000; k++) {
        make_event(&ev, k);
        size_t n = 0;
        ck_assert_int_eq(codec_encode(c, ID, &ev, b, sizeof b, &n, err, sizeof err), CODEC_OK);
        snprintf(what, sizeof what, "event %d", k);
        same_decode(c, b, n, what);
        /* damaged copies: a byte changed, or cut short; same verdict both ways */
        for (int m = 0; m < 4; m++) {
            uint8_t saved;
            size_t at = CODEC_WIRE_HEADER + (size_t)(rnd() % (n - CODEC_WIRE_HEADER));
            saved = b[at];
            b[at] = (uint8_t)rnd();
            snprintf(what, sizeof what, "event %d, byte %zu changed", k, at);
            same_decode(c, b, n, what);
            b[at] = saved;
            snprintf(what, sizeof what, "event %d, cut at %zu", k, at);
            same_decode(c, b, at, what);
        }
    }
    codec_free(c);
}
END_TEST

/* Avro binary by hand, for what the encoder never writes. */
typedef struct {
    uint8_t b[4096];
    size_t n;
} frame;

static void f_long(frame *f, int64_t v)
{
    uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
    while (z >= 0x80) {
        f->b[f->n++] = (uint8_t)(z | 0x80);
        z >>= 7;
    }
    f->b[f->n++] = (uint8_t)z;
}

static void f_bytes(frame *f, const void *p, size_t n)
{
    f_long(f, (int64_t)n);
    memcpy(f->b + f->n, p, n);
    f->n += n;
}

static void f_str(frame *f, const char *s)
{
    f_bytes(f, s, strlen(s));
}

/* Header, CREATE, orderId, timestamp, branch 0, customer, date. */
static void f_create_head(frame *f, const char *id)
{
    f->n = 0;
    const uint8_t hdr[5] = {0, (ID >> 24) & 0xff, (ID >> 16) & 0xff, (ID >> 8) & 0xff, ID & 0xff};
    memcpy(f->b, hdr, 5);
    f->n = 5;
    f_long(f, 0);
    f_str(f, id);
    f_long(f, 1764079200123LL);
    f_long(f, 0);
    f_str(f, "CUST-1");
    f_str(f, "2026-11-25T14:00:00.123Z");
}

static void f_item(frame *f, const char *id, int64_t quantity, const void *price, size_t plen)
{
    f_str(f, id);
    f_long(f, quantity);
    f_bytes(f, price, plen);
}

static void f_create_tail(frame *f, const void *total, size_t tlen, const char *currency)
{
    f_bytes(f, total, tlen);
    f_str(f, currency);
    f_str(f, "new");
}

START_TEST(test_direct_decode_of_odd_frames)
{
    codec *c = codec_for(order_schema_json);
    frame f;
    const uint8_t p100[] = {0x64}, total[] = {0x01, 0x2c};                         /* 1.00, 3.00 */
    const uint8_t wide[] = {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x64}; /* 9 bytes */
    const uint8_t huge[] = {0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    const uint8_t digits[] = {0x00, 0xe8, 0xd4, 0xa5, 0x10, 0x00}; /* 10^12: past decimal(12,2) */
    /* items in two blocks, the first with a negative count and its byte size */
    f_create_head(&f, "ODD-1");
    f_long(&f, -2);
    f_long(&f, 14); /* two items of 7 bytes */
    f_item(&f, "I-1", 1, p100, 1);
    f_item(&f, "I-2", 2, p100, 1);
    f_long(&f, 1);
    f_item(&f, "I-3", 0, p100, 1);
    f_long(&f, 0);
    f_create_tail(&f, total, 2, "USD");
    ck_assert_int_eq(same_decode(c, f.b, f.n, "blocks"), CODEC_OK);
    /* a price written in more bytes than it needs (sign extension) */
    f_create_head(&f, "ODD-2");
    f_long(&f, 1);
    f_item(&f, "I-1", 1, wide, sizeof wide);
    f_long(&f, 0);
    f_create_tail(&f, total, 2, "USD");
    ck_assert_int_eq(same_decode(c, f.b, f.n, "wide decimal"), CODEC_OK);
    /* what the generic path refuses: each the same verdict directly */
    const char *cases[] = {"price > 64 bits",  "price digits",     "empty price",
                           "NUL in currency",  "orderId too long", "too many items",
                           "quantity past int"};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        char id[80] = "ODD-3";
        if (k == 4) {
            memset(id, 'L', ORDER_ID_MAX + 1);
            id[ORDER_ID_MAX + 1] = '\0';
        }
        f_create_head(&f, id);
        int items = k == 5 ? ORDER_ITEMS_MAX + 1 : 1;
        const uint8_t *price = k == 0 ? huge : k == 1 ? digits : p100;
        size_t plen = k == 0 ? sizeof huge : k == 1 ? sizeof digits : k == 2 ? 0 : 1;
        f_long(&f, items);
        for (int i = 0; i < items; i++)
            f_item(&f, "I-1", k == 6 ? 4294967296LL : 1, price, plen);
        f_long(&f, 0);
        if (k == 3) {
            f_bytes(&f, total, 2);
            f_bytes(&f, "U\0S", 3);
            f_str(&f, "new");
        } else {
            f_create_tail(&f, total, 2, "USD");
        }
        codec_status st = same_decode(c, f.b, f.n, cases[k]);
        if (k != 6) /* the walk decides about an int's range */
            ck_assert_msg(st != CODEC_OK, "%s: decoded", cases[k]);
    }
    codec_free(c);
}
END_TEST

START_TEST(test_small_buffer)
{
    codec *c = codec_for(order_schema_json);
    static order_event ev;
    make_event(&ev, 11); /* ORDER_ITEMS_MAX items */
    uint8_t full[CODEC_MAX_ENCODED];
    char err[256];
    size_t n = 0;
    ck_assert_int_eq(codec_encode(c, ID, &ev, full, sizeof full, &n, err, sizeof err), CODEC_OK);
    /* every size short of the frame fails, and never writes past cap (ASan watches) */
    for (size_t cap = 6; cap < n; cap += 1 + cap / 8) {
        uint8_t *b = malloc(cap);
        ck_assert_ptr_nonnull(b);
        size_t m = 0;
        ck_assert_int_eq(codec_encode(c, ID, &ev, b, cap, &m, err, sizeof err), CODEC_ERR_INTERNAL);
        free(b);
    }
    uint8_t *exact = malloc(n);
    ck_assert_ptr_nonnull(exact);
    size_t m = 0;
    ck_assert_int_eq(codec_encode(c, ID, &ev, exact, n, &m, err, sizeof err), CODEC_OK);
    ck_assert_uint_eq(m, n);
    ck_assert_int_eq(memcmp(exact, full, n), 0);
    free(exact);
    codec_free(c);
}
END_TEST

START_TEST(test_other_layout_uses_libavro)
{
    /* orderId first: a valid OrderEvent, but not the order the direct writer knows */
    const char *from = "{\"name\": \"eventType\"";
    const char *at = strstr(order_schema_json, from);
    const char *oid = strstr(order_schema_json, "{\"name\": \"orderId\", \"type\": \"string\"},");
    ck_assert_ptr_nonnull(at);
    ck_assert_ptr_nonnull(oid);
    const char *oid_end = oid + strlen("{\"name\": \"orderId\", \"type\": \"string\"},");
    size_t total = strlen(order_schema_json);
    char *s = malloc(total + 2);
    ck_assert_ptr_nonnull(s);
    /* prefix, the orderId field, the fields before it, the rest */
    size_t pre = (size_t)(at - order_schema_json);
    size_t olen = (size_t)(oid_end - oid);
    memcpy(s, order_schema_json, pre);
    memcpy(s + pre, oid, olen);
    memcpy(s + pre + olen, at, (size_t)(oid - at));
    strcpy(s + pre + olen + (size_t)(oid - at), oid_end);
    codec *c = codec_for(s);
    ck_assert_int_eq(codec_encodes_directly(c), 0);
    ck_assert_int_eq(codec_decodes_directly(c, ID), 0);
    static order_event ev, back;
    uint8_t b[CODEC_MAX_ENCODED];
    char err[256];
    for (int k = 0; k < 50; k++) {
        make_event(&ev, k);
        size_t n = 0;
        uint32_t sid = 0;
        ck_assert_int_eq(codec_encode(c, ID, &ev, b, sizeof b, &n, err, sizeof err), CODEC_OK);
        ck_assert_msg(codec_decode(c, b, n, &sid, &back, err, sizeof err) == CODEC_OK, "%s", err);
        ck_assert_str_eq(back.order_id, ev.order_id);
        ck_assert_int_eq(back.timestamp_ms, ev.timestamp_ms);
    }
    codec_free(c);
    free(s);
}
END_TEST

Suite *test_suite(int *rc)
{
    (void)rc;
    Suite *s = suite_create("avro_direct");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_same_bytes_as_libavro);
    tcase_add_test(tc, test_decodes_directly_as_libavro);
    tcase_add_test(tc, test_direct_decode_of_odd_frames);
    tcase_add_test(tc, test_small_buffer);
    tcase_add_test(tc, test_other_layout_uses_libavro);
    suite_add_tcase(s, tc);
    return s;
}
