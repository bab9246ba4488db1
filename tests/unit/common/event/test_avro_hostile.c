/*
 * test_avro_hostile: hostile input to the decoder: framing and unknown
 * schema ids, truncation at every length, trailing bytes, lengths that lie,
 * and random corruption. Frames are built with avro_test_kit.h's own writer.
 */
#include "avro_test_kit.h"
#include "test_main.h"

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    /* valgrind runs ~50 times slower: a tenth of the corruptions there (the
     * ASan run does them all) still walks every decode path under memcheck */
    int iters = getenv("ORDERSTREAM_MEMCHECK") ? 20000 : 200000;
    for (int iter = 0; iter < iters; iter++) {
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

static Suite *codec_suite(void)
{
    Suite *s = suite_create("avro_hostile");
    TCase *tc = tcase_create("hostile");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_framing_and_unknown_schema);
    tcase_add_test(tc, test_truncated_and_trailing);
    tcase_add_test(tc, test_lying_lengths);
    tcase_add_test(tc, test_random_corruption);
    suite_add_tcase(s, tc);
    return s;
}

Suite *test_suite(int *rc)
{
    (void)rc;
    return codec_suite();
}
