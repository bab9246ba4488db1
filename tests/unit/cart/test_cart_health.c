/*
 * Unit tests of cart-service's readiness checks (cart_health.c) from
 * bootstrap snapshots: each missing piece fails its own named check.
 */
#include "cart_health.h"

#include "test_main.h"

#include <check.h>
#include <string.h>

START_TEST(test_ready_checks)
{
    cart_status st;
    memset(&st, 0, sizeof st);
    st.topics_ready = 1;
    st.schema_id = 7;
    st.kafka_ok = 1;
    health_report r;
    cart_health_ready_checks(&st, 0, &r);
    ck_assert(health_ok(&r));

    cart_health_ready_checks(&st, 1, &r);
    ck_assert(health_passed(&r, "accepting") == 0 && health_passed(&r, "kafka") == 1);

    st.kafka_ok = 0;
    snprintf(st.reason, sizeof st.reason, "all brokers down");
    cart_health_ready_checks(&st, 0, &r);
    ck_assert(health_passed(&r, "kafka") == 0 && health_passed(&r, "topics") == 1 &&
              health_passed(&r, "schema") == 1);
    ck_assert(strstr(health_find(&r, "kafka")->detail, "all brokers down") != NULL);

    memset(&st, 0, sizeof st);
    st.kafka_ok = 1;
    cart_health_ready_checks(&st, 0, &r);
    ck_assert(health_passed(&r, "topics") == 0 && health_passed(&r, "schema") == 0 &&
              health_passed(&r, "kafka") == 1);
}
END_TEST

Suite *test_suite(int *rc)
{
    (void)rc;
    Suite *s = suite_create("cart_health");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_ready_checks);
    suite_add_tcase(s, tc);
    return s;
}
