/*
 * Unit tests of the clock helpers (platform/clock.c): ISO-8601 timestamps.
 */
#include "platform/clock.h"

#include "test_main.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

START_TEST(test_format_time)
{
    char buf[40];
    clock_format_iso_ms(0, buf, sizeof buf);
    ck_assert_str_eq(buf, "1970-01-01T00:00:00.000Z");
    clock_format_iso_ms(1764079200123LL, buf, sizeof buf);
    ck_assert_str_eq(buf, "2025-11-25T14:00:00.123Z");
    clock_format_iso_ms(-1, buf, sizeof buf);
    ck_assert_str_eq(buf, "1969-12-31T23:59:59.999Z");
    /* past the 4-digit years of the fast path: still right (the printf path) */
    clock_format_iso_ms(253402300800001LL, buf, sizeof buf);
    ck_assert_str_eq(buf, "10000-01-01T00:00:00.001Z");
    /* too small a buffer: -1 and "" on both paths */
    char small[24];
    ck_assert_int_eq(clock_format_iso_ms(0, small, sizeof small), -1);
    ck_assert_str_eq(small, "");
}
END_TEST

Suite *test_suite(int *rc)
{
    (void)rc;
    Suite *s = suite_create("clock");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_format_time);
    suite_add_tcase(s, tc);
    return s;
}
