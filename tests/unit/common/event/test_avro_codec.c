/*
 * test_avro_codec: the wire format byte for byte, round trips, decimals,
 * the model's limits and UTF-8. Hostile frames are test_avro_hostile.c's,
 * schema evolution test_avro_evolution.c's.
 */
#include "avro_test_kit.h"
#include "event/avro_layout.h"
#include "test_main.h"

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    suite_add_tcase(s, tc);
    return s;
}

Suite *test_suite(int *rc)
{
    (void)rc;
    return codec_suite();
}
