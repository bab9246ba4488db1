/*
 * Unit tests for the DLQ record headers (event/dlq_info.h): a round trip through real
 * librdkafka header lists, and a parser that takes any bytes without reading
 * past them, ignores foreign headers and refuses malformed numbers.
 */
#include "event/dlq_info.h"

#include "test_main.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

START_TEST(test_round_trip)
{
    dlq_info in, out;
    dlq_info_init(&in, DLQ_RETRY_THEN, DLQ_R_PROCESSING, "boom: \"quoted\" \xc3\xa9", 3,
                  "order-events", 2, 123456789012LL, 1764079200123LL, 1764079209999LL);
    ck_assert_uint_eq(in.present, DLQ_F_ALL);
    rd_kafka_headers_t *h = dlq_info_headers(&in);
    ck_assert_ptr_nonnull(h);
    ck_assert_uint_eq(rd_kafka_header_cnt(h), 9);
    const void *v;
    size_t n;
    ck_assert_int_eq(rd_kafka_header_get_last(h, "dlq.reason", &v, &n), RD_KAFKA_RESP_ERR_NO_ERROR);
    ck_assert_uint_eq(n, strlen(DLQ_R_PROCESSING));
    ck_assert(memcmp(v, DLQ_R_PROCESSING, n) == 0);
    ck_assert_int_eq(rd_kafka_header_get_last(h, "dlq.original.offset", &v, &n),
                     RD_KAFKA_RESP_ERR_NO_ERROR);
    ck_assert_uint_eq(n, 12);
    ck_assert(memcmp(v, "123456789012", 12) == 0);

    dlq_info_from_headers(&out, h);
    ck_assert_uint_eq(out.present, DLQ_F_ALL);
    ck_assert_str_eq(out.category, "RETRY_THEN_DLQ");
    ck_assert_str_eq(out.reason, "PROCESSING_FAILED");
    ck_assert_str_eq(out.message, in.message);
    ck_assert_int_eq(out.retry_count, 3);
    ck_assert_str_eq(out.original_topic, "order-events");
    ck_assert_int_eq(out.original_partition, 2);
    ck_assert_int_eq(out.original_offset, 123456789012LL);
    ck_assert_int_eq(out.original_timestamp_ms, 1764079200123LL);
    ck_assert_int_eq(out.failed_at_ms, 1764079209999LL);
    rd_kafka_headers_destroy(h);
}
END_TEST

START_TEST(test_no_headers)
{
    dlq_info d;
    memset(&d, 0x5a, sizeof d);
    dlq_info_from_headers(&d, NULL);
    ck_assert_uint_eq(d.present, 0);
    ck_assert_str_eq(d.reason, "");
}
END_TEST

START_TEST(test_foreign_and_bad_values)
{
    dlq_info d;
    memset(&d, 0, sizeof d);
    ck_assert_int_eq(dlq_info_set_header(&d, "traceparent", "00-abc", 6), 0);
    ck_assert_int_eq(dlq_info_set_header(&d, "dlq.reasonX", "x", 1), 0);
    ck_assert_uint_eq(d.present, 0);
    static const char *const bad[] = {
        "", "-", "12a", "+5", " 5", "5 ", "1.5", "0x10", "99999999999999999999", "--1", "1-"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(dlq_info_set_header(&d, "dlq.original.offset", bad[i], strlen(bad[i])) == -1,
                      "accepted '%s'", bad[i]);
    ck_assert_uint_eq(d.present & DLQ_F_OFFSET, 0);
    ck_assert_int_eq(dlq_info_set_header(&d, "dlq.retry.count", NULL, 0), -1);
    ck_assert_int_eq(dlq_info_set_header(&d, "dlq.original.partition", "-1", 2), 1);
    ck_assert_int_eq(d.original_partition, -1);
    /* Values are length-delimited, not NUL-terminated: only len bytes count. */
    ck_assert_int_eq(dlq_info_set_header(&d, "dlq.original.offset", "42999", 2), 1);
    ck_assert_int_eq(d.original_offset, 42);
    ck_assert_int_eq(dlq_info_set_header(&d, "dlq.reason", "DUPLICATE_ORDERxyz", 15), 1);
    ck_assert_str_eq(d.reason, "DUPLICATE_ORDER");
}
END_TEST

START_TEST(test_truncation_is_bounded)
{
    dlq_info d;
    memset(&d, 0, sizeof d);
    size_t big = 100000;
    char *v = malloc(big);
    ck_assert_ptr_nonnull(v);
    memset(v, 'm', big);
    ck_assert_int_eq(dlq_info_set_header(&d, "dlq.message", v, big), 1);
    ck_assert_uint_eq(strlen(d.message), DLQ_MESSAGE_MAX);
    ck_assert_int_eq(dlq_info_set_header(&d, "dlq.category", v, big), 1);
    ck_assert_uint_eq(strlen(d.category), DLQ_CATEGORY_MAX);
    ck_assert_int_eq(dlq_info_set_header(&d, "dlq.original.topic", v, big), 1);
    ck_assert_uint_eq(strlen(d.original_topic), DLQ_TOPIC_MAX);
    free(v);
    /* And dlq_info_init truncates its inputs the same way. */
    char longmsg[DLQ_MESSAGE_MAX * 2];
    memset(longmsg, 'x', sizeof longmsg - 1);
    longmsg[sizeof longmsg - 1] = '\0';
    dlq_info_init(&d, DLQ_NO_RETRY, DLQ_R_DUPLICATE, longmsg, 0, "t", 0, 0, 0, 0);
    ck_assert_uint_eq(strlen(d.message), DLQ_MESSAGE_MAX);
}
END_TEST

START_TEST(test_last_value_wins_and_all_flags)
{
    rd_kafka_headers_t *h = rd_kafka_headers_new(4);
    ck_assert_ptr_nonnull(h);
    ck_assert_int_eq(rd_kafka_header_add(h, "dlq.reason", -1, "A", 1), 0);
    ck_assert_int_eq(rd_kafka_header_add(h, "dlq.reason", -1, "B", 1), 0);
    ck_assert_int_eq(rd_kafka_header_add(h, "dlq.retry.count", -1, "x", 1), 0);
    ck_assert_int_eq(rd_kafka_header_add(h, "dlq.failed.at", -1, "7", 1), 0);
    dlq_info d;
    dlq_info_from_headers(&d, h);
    ck_assert_str_eq(d.reason, "B");
    ck_assert_uint_eq(d.present, DLQ_F_REASON | DLQ_F_FAILED_AT);
    ck_assert_int_eq(d.failed_at_ms, 7);
    rd_kafka_headers_destroy(h);
}
END_TEST

Suite *test_suite(int *rc)
{
    (void)rc;
    Suite *s = suite_create("dlq_headers");
    TCase *tc = tcase_create("headers");
    tcase_add_test(tc, test_round_trip);
    tcase_add_test(tc, test_no_headers);
    tcase_add_test(tc, test_foreign_and_bad_values);
    tcase_add_test(tc, test_truncation_is_bounded);
    tcase_add_test(tc, test_last_value_wins_and_all_flags);
    suite_add_tcase(s, tc);
    return s;
}
