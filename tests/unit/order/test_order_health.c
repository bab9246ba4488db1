/*
 * Unit tests of order-service's probe judgements (order_health.c): the stall
 * tracker, liveness from the consume thread's heartbeat, and each readiness
 * check from a status snapshot.
 */
#include "order_health.h"

#include "test_main.h"

#include <check.h>
#include <string.h>

/* A snapshot of a healthy, assigned, caught-up instance. */
static order_status healthy(void)
{
    order_status s;
    memset(&s, 0, sizeof s);
    s.running = 1;
    s.subscribed = 1;
    s.store_ok = 1;
    s.kafka_ok = 1;
    s.nassigned = 1;
    s.assigned[0] = 0;
    snprintf(s.group_state, sizeof s.group_state, "Stable");
    s.group_members = 1;
    return s;
}

START_TEST(test_stall_tracker)
{
    order_stall t;
    memset(&t, 0, sizeof t);
    /* nothing waits: never stalled, however long */
    ck_assert_int_eq(order_stall_update(&t, 1000, 0, 5), 0);
    ck_assert_int_eq(order_stall_update(&t, 90000, 0, 5), 0);
    /* records wait: the clock starts at the first sight of them */
    ck_assert_int_eq(order_stall_update(&t, 100000, 3, 5), 0);
    ck_assert_int_eq(order_stall_update(&t, 104000, 3, 5), 4000);
    /* the position moves: reset, even if the lag stays */
    ck_assert_int_eq(order_stall_update(&t, 105000, 3, 6), 0);
    ck_assert_int_eq(order_stall_update(&t, 135000, 3, 6), 30000);
    /* lag unknown (-1, the broker away): not counted as stalled */
    ck_assert_int_eq(order_stall_update(&t, 136000, -1, 6), 0);
    ck_assert_int_eq(order_stall_update(&t, 137000, 3, 6), 0);
    ck_assert_int_eq(order_stall_update(&t, 138000, 3, 6), 1000);
    /* caught up: reset */
    ck_assert_int_eq(order_stall_update(&t, 139000, 0, 9), 0);
    ck_assert_int_eq(order_stall_update(&t, 140000, 1, 9), 0);
}
END_TEST

START_TEST(test_live_judgement)
{
    order_status s = healthy();
    health_report r;
    order_health_live(&s, 500, 60000, &r);
    ck_assert(health_ok(&r));
    ck_assert(health_passed(&r, "eventLoop") == 1);
    /* exactly at the bound: still live; past it: wedged */
    order_health_live(&s, 60000, 60000, &r);
    ck_assert(health_ok(&r));
    order_health_live(&s, 60001, 60000, &r);
    ck_assert(!health_ok(&r));
    ck_assert(health_passed(&r, "consumerThread") == 0);
    ck_assert(strstr(health_find(&r, "consumerThread")->detail, "wedged") != NULL);
    /* dependencies down never fail liveness */
    s.kafka_ok = 0;
    s.store_ok = 0;
    snprintf(s.registry_error, sizeof s.registry_error, "registry down");
    snprintf(s.dlq_error, sizeof s.dlq_error, "dlq down");
    s.stalled_ms = 1000000;
    order_health_live(&s, 10, 60000, &r);
    ck_assert(health_ok(&r));
    /* a stopped thread is not live */
    s.running = 0;
    order_health_live(&s, 10, 60000, &r);
    ck_assert(health_passed(&r, "consumerThread") == 0);
}
END_TEST

START_TEST(test_ready_judgement)
{
    order_status s = healthy();
    health_report r;
    order_health_ready(&s, NULL, 30000, &r);
    ck_assert(health_ok(&r));
    static const char *const names[] = {"consumer", "kafka",       "store",
                                        "registry", "dlqProducer", "progress"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        ck_assert(health_passed(&r, names[i]) == 1);

    /* idle in a Stable group (more members than partitions): ready */
    s.nassigned = 0;
    order_health_ready(&s, NULL, 30000, &r);
    ck_assert(health_ok(&r));
    /* no assignment while the group rebalances: not ready */
    snprintf(s.group_state, sizeof s.group_state, "PreparingRebalance");
    order_health_ready(&s, NULL, 30000, &r);
    ck_assert(health_passed(&r, "consumer") == 0);
    s = healthy();
    s.subscribed = 0;
    order_health_ready(&s, NULL, 30000, &r);
    ck_assert(health_passed(&r, "consumer") == 0);

    s = healthy();
    s.kafka_ok = 0;
    snprintf(s.last_error, sizeof s.last_error, "kafka: 1/1 brokers are down");
    order_health_ready(&s, NULL, 30000, &r);
    ck_assert(health_passed(&r, "kafka") == 0 && health_passed(&r, "store") == 1);
    ck_assert(strstr(health_find(&r, "kafka")->detail, "1/1 brokers are down") != NULL);

    s = healthy();
    s.store_ok = 0;
    order_health_ready(&s, NULL, 30000, &r);
    ck_assert(health_passed(&r, "store") == 0);
    s = healthy();
    order_health_ready(&s, "connection refused", 30000, &r);
    ck_assert(health_passed(&r, "store") == 0);
    ck_assert(strstr(health_find(&r, "store")->detail, "connection refused") != NULL);

    s = healthy();
    snprintf(s.registry_error, sizeof s.registry_error, "registry: HTTP 404");
    snprintf(s.dlq_error, sizeof s.dlq_error, "fatal: being recreated");
    order_health_ready(&s, NULL, 30000, &r);
    ck_assert(health_passed(&r, "registry") == 0 && health_passed(&r, "dlqProducer") == 0);
    ck_assert_str_eq(health_find(&r, "registry")->detail, "registry: HTTP 404");

    /* stalled: at the window, not before */
    s = healthy();
    s.lag = 7;
    s.stalled_ms = 29999;
    order_health_ready(&s, NULL, 30000, &r);
    ck_assert(health_ok(&r));
    s.stalled_ms = 30000;
    order_health_ready(&s, NULL, 30000, &r);
    ck_assert(health_passed(&r, "progress") == 0);
    ck_assert(strstr(health_find(&r, "progress")->detail, "7 records wait") != NULL);
}
END_TEST

Suite *test_suite(int *rc)
{
    (void)rc;
    Suite *s = suite_create("order_health");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_stall_tracker);
    tcase_add_test(tc, test_live_judgement);
    tcase_add_test(tc, test_ready_judgement);
    suite_add_tcase(s, tc);
    return s;
}
