/*
 * Unit tests of platform/numfmt.c: every formatter against snprintf over the
 * edges (0, each power of ten, the int64/uint64 limits) and a spread of values.
 */
#include "platform/numfmt.h"

#include "test_main.h"

#include <check.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static void check_u64(uint64_t v)
{
    char want[32], got[32];
    snprintf(want, sizeof want, "%" PRIu64, v);
    size_t n = numfmt_u64(got, v);
    got[n] = '\0';
    ck_assert_str_eq(got, want);
}

static void check_i64(int64_t v)
{
    char want[32], got[32];
    snprintf(want, sizeof want, "%" PRId64, v);
    size_t n = numfmt_i64(got, v);
    ck_assert_uint_le(n, NUMFMT_I64_MAX);
    got[n] = '\0';
    ck_assert_str_eq(got, want);
}

START_TEST(test_decimal)
{
    uint64_t p = 1;
    for (int i = 0; i < 20; i++) {
        check_u64(p);
        check_u64(p - 1);
        check_u64(p + 1);
        check_i64((int64_t)(p - 1));
        check_i64(-(int64_t)(p - 1));
        if (p <= UINT64_MAX / 10)
            p *= 10;
    }
    check_u64(UINT64_MAX);
    check_i64(INT64_MAX);
    check_i64(INT64_MIN);
    check_i64(-1);
    for (uint64_t v = 7; v < UINT64_MAX / 3; v = v * 3 + 1)
        check_u64(v);
}
END_TEST

START_TEST(test_pad_and_hex)
{
    char b[32];
    numfmt_pad(b, 7, 3);
    ck_assert_int_eq(memcmp(b, "007", 3), 0);
    numfmt_pad(b, 0, 2);
    ck_assert_int_eq(memcmp(b, "00", 2), 0);
    numfmt_pad(b, 2026, 4);
    ck_assert_int_eq(memcmp(b, "2026", 4), 0);
    numfmt_hex64(b, 0);
    ck_assert_int_eq(memcmp(b, "0000000000000000", 16), 0);
    numfmt_hex64(b, 0x0123456789abcdefULL);
    ck_assert_int_eq(memcmp(b, "0123456789abcdef", 16), 0);
    numfmt_hex64(b, UINT64_MAX);
    ck_assert_int_eq(memcmp(b, "ffffffffffffffff", 16), 0);
}
END_TEST

Suite *test_suite(int *rc)
{
    (void)rc;
    Suite *s = suite_create("numfmt");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_decimal);
    tcase_add_test(tc, test_pad_and_hex);
    suite_add_tcase(s, tc);
    return s;
}
