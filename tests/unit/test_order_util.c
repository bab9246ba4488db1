/*
 * Unit tests for order-service's small pure helpers: the id set behind
 * getAllOrderIdsFromTopic, base64 of DLQ values, query integers, timestamps,
 * and the retry backoff list.
 */
#include "clock.h"
#include "idset.h"
#include "order_api.h"
#include "order_config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

START_TEST(test_idset_distinct_first_seen)
{
    idset s;
    idset_init(&s);
    ck_assert_int_eq(idset_add(&s, "B", 1), 1);
    ck_assert_int_eq(idset_add(&s, "A", 1), 1);
    ck_assert_int_eq(idset_add(&s, "B", 1), 0);
    ck_assert_int_eq(idset_add(&s, "", 0), 1);
    ck_assert_int_eq(idset_add(&s, "", 0), 0);
    ck_assert_int_eq(idset_add(&s, "A\0x", 3), 1); /* bytes, not C strings */
    ck_assert_uint_eq(s.count, 4);
    size_t len;
    const char *id = idset_get(&s, 0, &len);
    ck_assert_uint_eq(len, 1);
    ck_assert(memcmp(id, "B", 1) == 0);
    id = idset_get(&s, 1, &len);
    ck_assert(len == 1 && id[0] == 'A');
    idset_get(&s, 2, &len);
    ck_assert_uint_eq(len, 0);
    id = idset_get(&s, 3, &len);
    ck_assert(len == 3 && memcmp(id, "A\0x", 3) == 0);
    char big[70000];
    memset(big, 'k', sizeof big);
    ck_assert_int_eq(idset_add(&s, big, sizeof big), -1);
    idset_free(&s);
}
END_TEST

START_TEST(test_idset_many)
{
    /* Growth of arena, entries and table keeps every id and the order. */
    idset s;
    idset_init(&s);
    char id[32];
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < 200000; i++) {
            int n = snprintf(id, sizeof id, "ORDER-%07d", i);
            ck_assert_int_eq(idset_add(&s, id, (size_t)n), round == 0 ? 1 : 0);
        }
    }
    ck_assert_uint_eq(s.count, 200000);
    for (uint32_t i = 0; i < s.count; i += 9973) {
        size_t len;
        const char *got = idset_get(&s, i, &len);
        int n = snprintf(id, sizeof id, "ORDER-%07u", i);
        ck_assert_uint_eq(len, (size_t)n);
        ck_assert(memcmp(got, id, len) == 0);
    }
    idset_free(&s);
}
END_TEST

START_TEST(test_base64_vectors)
{
    static const char *const cases[][2] = {{"", ""},
                                           {"f", "Zg=="},
                                           {"fo", "Zm8="},
                                           {"foo", "Zm9v"},
                                           {"foob", "Zm9vYg=="},
                                           {"fooba", "Zm9vYmE="},
                                           {"foobar", "Zm9vYmFy"}};
    char out[32];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t n = order_api_base64(cases[i][0], strlen(cases[i][0]), out, sizeof out);
        ck_assert_uint_eq(n, strlen(cases[i][1]));
        ck_assert_str_eq(out, cases[i][1]);
    }
    const unsigned char bin[] = {0x00, 0xff, 0xfe, 0x80};
    ck_assert_uint_eq(order_api_base64(bin, sizeof bin, out, sizeof out), 8);
    ck_assert_str_eq(out, "AP/+gA==");
    /* Too small an output buffer: nothing written past it, empty result. */
    char small[8];
    ck_assert_uint_eq(order_api_base64("foobar", 6, small, sizeof small), 0);
    ck_assert_str_eq(small, "");
}
END_TEST

START_TEST(test_parse_uint)
{
    long long v = -1;
    ck_assert_int_eq(order_api_parse_uint(NULL, 10, 1, 1000, &v), 0);
    ck_assert_int_eq(v, 10);
    ck_assert_int_eq(order_api_parse_uint("1000", 10, 1, 1000, &v), 0);
    ck_assert_int_eq(v, 1000);
    ck_assert_int_eq(order_api_parse_uint("007", 10, 1, 1000, &v), 0);
    ck_assert_int_eq(v, 7);
    static const char *const bad[] = {"",    "0",   "1001", "-1",  "+1",
                                      "1.0", "1e3", " 1",   "abc", "99999999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(order_api_parse_uint(bad[i], 10, 1, 1000, &v) == -1, "accepted '%s'", bad[i]);
}
END_TEST

START_TEST(test_format_time)
{
    char buf[40];
    clock_format_iso_ms(0, buf, sizeof buf);
    ck_assert_str_eq(buf, "1970-01-01T00:00:00.000Z");
    clock_format_iso_ms(1764079200123LL, buf, sizeof buf);
    ck_assert_str_eq(buf, "2025-11-25T14:00:00.123Z");
    clock_format_iso_ms(-1, buf, sizeof buf);
    ck_assert_str_eq(buf, "1969-12-31T23:59:59.999Z");
}
END_TEST

START_TEST(test_backoff)
{
    int64_t v[ORDER_BACKOFF_MAX];
    size_t n = 0;
    char err[256];
    ck_assert_int_eq(
        order_parse_backoff("2000,5000,10000", v, ORDER_BACKOFF_MAX, &n, err, sizeof err), 0);
    ck_assert_uint_eq(n, 3);
    ck_assert(v[0] == 2000 && v[1] == 5000 && v[2] == 10000);
    ck_assert_int_eq(order_parse_backoff(" 1 , 0 ", v, ORDER_BACKOFF_MAX, &n, err, sizeof err), 0);
    ck_assert(n == 2 && v[0] == 1 && v[1] == 0);
    static const char *const bad[] = {"", ",", "1,", "1,,2", "a", "-1", "3600001", "1;2"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        ck_assert_msg(order_parse_backoff(bad[i], v, ORDER_BACKOFF_MAX, &n, err, sizeof err) == -1,
                      "accepted '%s'", bad[i]);
        ck_assert_msg(strstr(err, "RETRY_BACKOFF_MS") != NULL, "%s", err);
    }
    ck_assert_int_eq(order_parse_backoff("1,2,3", v, 2, &n, err, sizeof err), -1);

    order_settings s;
    memset(&s, 0, sizeof s);
    s.backoff_ms[0] = 2000;
    s.backoff_ms[1] = 5000;
    s.backoff_ms[2] = 10000;
    s.nbackoff = 3;
    ck_assert_int_eq(order_backoff_for(&s, 1), 2000);
    ck_assert_int_eq(order_backoff_for(&s, 2), 5000);
    ck_assert_int_eq(order_backoff_for(&s, 3), 10000);
    ck_assert_int_eq(order_backoff_for(&s, 4), 10000); /* the last one repeats, forever */
    ck_assert_int_eq(order_backoff_for(&s, 1000000), 10000);
}
END_TEST

START_TEST(test_settings_from_env)
{
    char err[256];
    order_settings s;
    setenv("RETRY_BACKOFF_MS", "10,20", 1);
    setenv("PROCESSING_MAX_RETRIES", "5", 1);
    setenv("STORE_PATH", "some/where.db", 1);
    ck_assert_msg(order_settings_load(&s, err, sizeof err) == 0, "%s", err);
    ck_assert_uint_eq(s.nbackoff, 2);
    ck_assert_int_eq(s.backoff_ms[1], 20);
    ck_assert_int_eq(s.max_retries, 5);
    ck_assert_str_eq(s.store_path, "some/where.db");
    ck_assert_int_eq(s.http_port, 8001);
    setenv("DLQ_TOPIC", s.topic, 1);
    ck_assert_int_eq(order_settings_load(&s, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "DLQ_TOPIC") != NULL, "%s", err);
    unsetenv("DLQ_TOPIC");
    setenv("HTTP_THREADS", "0", 1);
    ck_assert_int_eq(order_settings_load(&s, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "HTTP_THREADS") != NULL, "%s", err);
    unsetenv("HTTP_THREADS");
    setenv("RETRY_BACKOFF_MS", "fast", 1);
    ck_assert_int_eq(order_settings_load(&s, err, sizeof err), -1);
    unsetenv("RETRY_BACKOFF_MS");
    unsetenv("PROCESSING_MAX_RETRIES");
    unsetenv("STORE_PATH");
    ck_assert_msg(order_settings_load(&s, err, sizeof err) == 0, "%s", err);
    ck_assert_uint_eq(s.nbackoff, 3);
    ck_assert_int_eq(s.max_retries, 3);
}
END_TEST

int main(void)
{
    Suite *su = suite_create("order_util");
    TCase *tc = tcase_create("util");
    tcase_add_test(tc, test_idset_distinct_first_seen);
    tcase_add_test(tc, test_idset_many);
    tcase_add_test(tc, test_base64_vectors);
    tcase_add_test(tc, test_parse_uint);
    tcase_add_test(tc, test_format_time);
    tcase_add_test(tc, test_backoff);
    tcase_add_test(tc, test_settings_from_env);
    suite_add_tcase(su, tc);
    SRunner *sr = srunner_create(su);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
