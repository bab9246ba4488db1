/*
 * Unit tests of how cart-service classifies a failed delivery: what a retry
 * of the same request can fix is a 503 with Retry-After, never a 500.
 */
#include "cart_api.h"

#include "test_main.h"

#include <check.h>

START_TEST(test_failover_errors_are_retryable)
{
    /* a leader SIGKILLed under load: the idempotent producer's sequence
     * against the new leader (seen as 500s in the three-broker test) */
    ck_assert(cart_error_retryable(RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER));
    ck_assert(cart_error_retryable(RD_KAFKA_RESP_ERR_UNKNOWN_PRODUCER_ID));
    ck_assert(cart_error_retryable(RD_KAFKA_RESP_ERR_INVALID_PRODUCER_EPOCH));
    ck_assert(cart_error_retryable(RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION));
    ck_assert(cart_error_retryable(RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS));
    ck_assert(cart_error_retryable(RD_KAFKA_RESP_ERR__MSG_TIMED_OUT));
    ck_assert(cart_error_retryable(RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN));
    ck_assert(cart_error_retryable(RD_KAFKA_RESP_ERR_KAFKA_STORAGE_ERROR));
}
END_TEST

START_TEST(test_refusals_are_not_retryable)
{
    /* the broker will refuse the same event again: a retry cannot fix it */
    ck_assert(!cart_error_retryable(RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE));
    ck_assert(!cart_error_retryable(RD_KAFKA_RESP_ERR_INVALID_MSG));
    ck_assert(!cart_error_retryable(RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED));
    ck_assert(!cart_error_retryable(RD_KAFKA_RESP_ERR_NO_ERROR));
}
END_TEST

Suite *test_suite(int *rc)
{
    (void)rc;
    Suite *s = suite_create("cart_api");
    TCase *tc = tcase_create("errors");
    tcase_add_test(tc, test_failover_errors_are_retryable);
    tcase_add_test(tc, test_refusals_are_not_retryable);
    suite_add_tcase(s, tc);
    return s;
}
