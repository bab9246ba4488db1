/*
 * Unit tests of the clock helpers (platform/clock.c): ISO-8601 timestamps.
 */
#include "platform/clock.h"

#include "test_main.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

/* The calendar arithmetic against gmtime_r: leap days, century years, the
 * edges of four-digit years, and a sweep of one day plus 7 ms steps. */
START_TEST(test_format_time_matches_gmtime)
{
    static const int64_t secs[] = {
        0,          -1,           951782400,    951868800,    4107542400,
        4107628800, -62167219200, 253402300799, 253402300800, 1709164800,
        68169600,   -2208988800,
    };
    char got[64], want[64];
    for (size_t i = 0; i < sizeof secs / sizeof secs[0]; i++) {
        for (int64_t step = -86400000; step <= 86400000; step += 86400000 / 7 + 7) {
            int64_t ms = secs[i] * 1000 + step;
            int64_t s = ms >= 0 ? ms / 1000 : -((-(ms + 1)) / 1000) - 1;
            time_t t = (time_t)s;
            struct tm tm;
            ck_assert_ptr_nonnull(gmtime_r(&t, &tm));
            snprintf(want, sizeof want, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     (int)(ms - s * 1000));
            ck_assert_int_eq(clock_format_iso_ms(ms, got, sizeof got), 0);
            ck_assert_str_eq(got, want);
        }
    }
    ck_assert_int_eq(clock_format_iso_ms(0, got, 24), -1);
    ck_assert_str_eq(got, "");
}
END_TEST

Suite *test_suite(int *rc)
{
    (void)rc;
    Suite *s = suite_create("clock");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_format_time);
    tcase_add_test(tc, test_format_time_matches_gmtime);
    suite_add_tcase(s, tc);
    return s;
}
