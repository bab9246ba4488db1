/*
 * Unit tests of platform/numfmt.c: decimal digits against snprintf, and the
 * jsonw number that uses them at the edges of long long.
 */
#include "platform/jsonw.h"
#include "platform/numfmt.h"

#include "test_main.h"

#include <check.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

START_TEST(test_u64_matches_printf)
{
    char got[NUMFMT_U64_MAX + 1], want[32];
    uint64_t v = 0;
    for (int i = 0; i < 2000; i++) {
        size_t n = numfmt_u64(got, v);
        got[n] = '\0';
        snprintf(want, sizeof want, "%" PRIu64, v);
        ck_assert_str_eq(got, want);
        v = v * 3 + (uint64_t)i; /* wraps: covers every length */
    }
    size_t n = numfmt_u64(got, UINT64_MAX);
    got[n] = '\0';
    ck_assert_str_eq(got, "18446744073709551615");
}
END_TEST

START_TEST(test_pad)
{
    char b[8] = "";
    numfmt_pad(b, 7, 3);
    ck_assert_str_eq(b, "007");
    numfmt_pad(b, 12345, 4); /* high digits cut: the caller bounds the value */
    ck_assert_str_eq(b, "2345");
}
END_TEST

START_TEST(test_jsonw_int_edges)
{
    jsonw w;
    jsonw_init(&w);
    jsonw_arr_begin(&w);
    jsonw_int(&w, 0);
    jsonw_int(&w, -7);
    jsonw_int(&w, LLONG_MAX);
    jsonw_int(&w, LLONG_MIN);
    jsonw_arr_end(&w);
    ck_assert(jsonw_ok(&w));
    ck_assert_str_eq(w.buf, "[0,-7,9223372036854775807,-9223372036854775808]");
    jsonw_free(&w);
}
END_TEST

Suite *test_suite(int *rc)
{
    (void)rc;
    Suite *s = suite_create("numfmt");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_u64_matches_printf);
    tcase_add_test(tc, test_pad);
    tcase_add_test(tc, test_jsonw_int_edges);
    suite_add_tcase(s, tc);
    return s;
}
