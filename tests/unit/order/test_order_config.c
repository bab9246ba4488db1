/*
 * Unit tests of order-service settings (order_config.c): the retry backoff
 * list and loading from the environment.
 */
#include "order_config.h"

#include "test_main.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

START_TEST(test_backoff)
{
    int64_t v[ORDER_BACKOFF_MAX];
    size_t n = 0;
    char err[256];
    ck_assert_int_eq(
        order_config_parse_backoff("2000,5000,10000", v, ORDER_BACKOFF_MAX, &n, err, sizeof err),
        0);
    ck_assert_uint_eq(n, 3);
    ck_assert(v[0] == 2000 && v[1] == 5000 && v[2] == 10000);
    ck_assert_int_eq(
        order_config_parse_backoff(" 1 , 0 ", v, ORDER_BACKOFF_MAX, &n, err, sizeof err), 0);
    ck_assert(n == 2 && v[0] == 1 && v[1] == 0);
    static const char *const bad[] = {"", ",", "1,", "1,,2", "a", "-1", "3600001", "1;2"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        ck_assert_msg(
            order_config_parse_backoff(bad[i], v, ORDER_BACKOFF_MAX, &n, err, sizeof err) == -1,
            "accepted '%s'", bad[i]);
        ck_assert_msg(strstr(err, "RETRY_BACKOFF_MS") != NULL, "%s", err);
    }
    ck_assert_int_eq(order_config_parse_backoff("1,2,3", v, 2, &n, err, sizeof err), -1);

    order_config s;
    memset(&s, 0, sizeof s);
    s.backoff_ms[0] = 2000;
    s.backoff_ms[1] = 5000;
    s.backoff_ms[2] = 10000;
    s.nbackoff = 3;
    ck_assert_int_eq(order_config_backoff_for(&s, 1), 2000);
    ck_assert_int_eq(order_config_backoff_for(&s, 2), 5000);
    ck_assert_int_eq(order_config_backoff_for(&s, 3), 10000);
    ck_assert_int_eq(order_config_backoff_for(&s, 4), 10000); /* the last one repeats, forever */
    ck_assert_int_eq(order_config_backoff_for(&s, 1000000), 10000);
}
END_TEST

START_TEST(test_settings_from_env)
{
    char err[256];
    order_config s;
    setenv("RETRY_BACKOFF_MS", "10,20", 1);
    setenv("PROCESSING_MAX_RETRIES", "5", 1);
    setenv("STORE_PATH", "some/where.db", 1);
    ck_assert_msg(order_config_load(&s, err, sizeof err) == 0, "%s", err);
    ck_assert_uint_eq(s.nbackoff, 2);
    ck_assert_int_eq(s.backoff_ms[1], 20);
    ck_assert_int_eq(s.max_retries, 5);
    ck_assert_str_eq(s.store_path, "some/where.db");
    ck_assert_int_eq(s.http_port, 8001);
    setenv("DLQ_TOPIC", s.topic, 1);
    ck_assert_int_eq(order_config_load(&s, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "DLQ_TOPIC") != NULL, "%s", err);
    unsetenv("DLQ_TOPIC");
    setenv("HTTP_THREADS", "0", 1);
    ck_assert_int_eq(order_config_load(&s, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "HTTP_THREADS") != NULL, "%s", err);
    unsetenv("HTTP_THREADS");
    setenv("RETRY_BACKOFF_MS", "fast", 1);
    ck_assert_int_eq(order_config_load(&s, err, sizeof err), -1);
    unsetenv("RETRY_BACKOFF_MS");
    unsetenv("PROCESSING_MAX_RETRIES");
    unsetenv("STORE_PATH");
    ck_assert_msg(order_config_load(&s, err, sizeof err) == 0, "%s", err);
    ck_assert_uint_eq(s.nbackoff, 3);
    ck_assert_int_eq(s.max_retries, 3);
}
END_TEST

Suite *test_suite(int *rc)
{
    (void)rc;
    Suite *s = suite_create("order_config");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_backoff);
    tcase_add_test(tc, test_settings_from_env);
    suite_add_tcase(s, tc);
    return s;
}
