/*
 * Unit tests of the probe report (platform/health.c): checks by name, the
 * overall verdict, and reasons bounded to HEALTH_DETAIL_MAX.
 */
#include "platform/health.h"

#include "test_main.h"

#include <check.h>
#include <string.h>

START_TEST(test_report)
{
    health_report r;
    health_report_init(&r);
    ck_assert(health_ok(&r)); /* no check: nothing fails */
    health_add(&r, "kafka", 1, "unused %d", 1);
    ck_assert(health_ok(&r));
    ck_assert_str_eq(health_find(&r, "kafka")->detail, ""); /* a passing check has no reason */
    health_add(&r, "store", 0, "disk %s (%d%%)", "full", 100);
    ck_assert(!health_ok(&r));
    ck_assert_int_eq(health_passed(&r, "kafka"), 1);
    ck_assert_int_eq(health_passed(&r, "store"), 0);
    ck_assert_int_eq(health_passed(&r, "registry"), -1);
    ck_assert_str_eq(health_find(&r, "store")->detail, "disk full (100%)");
}
END_TEST

START_TEST(test_long_reason_is_cut)
{
    char why[4 * HEALTH_DETAIL_MAX];
    memset(why, 'x', sizeof why - 1);
    why[sizeof why - 1] = '\0';
    health_report r;
    health_report_init(&r);
    health_add(&r, "store", 0, "%s", why);
    ck_assert_uint_eq(strlen(health_find(&r, "store")->detail), HEALTH_DETAIL_MAX - 1);
}
END_TEST

Suite *test_suite(int *rc)
{
    (void)rc;
    Suite *s = suite_create("health");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_report);
    tcase_add_test(tc, test_long_reason_is_cut);
    suite_add_tcase(s, tc);
    return s;
}
