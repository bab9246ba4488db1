/*
 * Unit tests for kafka_util and cart_producer against a real broker
 * (KAFKA_BOOTSTRAP_SERVERS, given by scripts/with-stack.sh; exit 77 = skipped
 * without one): idempotent topic creation, delivery reports driving callbacks
 * on the event loop, recovery from a fatal idempotence error by recreating the
 * producer, and a bounded failure when no broker answers.
 */
#include "cart_producer.h"
#include "platform/kafka_util.h"

#include "test_main.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *bootstrap;
static char prefix[64];

typedef struct {
    struct event_base *base;
    int reports, ok, failed, down_calls;
    rd_kafka_resp_err_t last_err;
    int32_t partition;
    int64_t last_offset;
    int in_order;
    int want;
} dr_state;

static void on_dr(void *opaque, rd_kafka_resp_err_t err, int maybe_written, const char *topic,
                  int32_t partition, int64_t offset, void *app)
{
    dr_state *st = app;
    (void)topic;
    (void)maybe_written;
    ck_assert_ptr_eq(opaque, st); /* the opaque travels through librdkafka untouched */
    st->reports++;
    st->last_err = err;
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        st->ok++;
        if (st->partition >= 0 && (partition != st->partition || offset <= st->last_offset))
            st->in_order = 0;
        st->partition = partition;
        st->last_offset = offset;
    } else {
        st->failed++;
    }
    if (st->reports >= st->want)
        event_base_loopbreak(st->base);
}

static void on_down(const char *reason, void *app)
{
    dr_state *st = app;
    ck_assert_ptr_nonnull(reason);
    st->down_calls++;
}

static void guard_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    event_base_loopbreak(arg);
}

/* Runs the loop until `want` reports arrived or `secs` passed (a hang guard). */
static void run_until(dr_state *st, int want, int secs)
{
    st->want = want;
    struct timeval tv = {secs, 0};
    struct event *guard = evtimer_new(st->base, guard_cb, st->base);
    evtimer_add(guard, &tv);
    if (st->reports < want)
        event_base_dispatch(st->base);
    event_free(guard);
}

static cart_config config_for(const char *servers, const char *topic, int timeout_ms)
{
    cart_config c;
    memset(&c, 0, sizeof c);
    c.bootstrap = servers;
    c.topic = topic;
    c.delivery_timeout_ms = timeout_ms;
    c.linger_ms = 5;
    return c;
}

static rd_kafka_t *admin(const char *servers)
{
    char err[512];
    rd_kafka_conf_t *conf = kafka_conf_new(servers, "test-cart-kafka", NULL, 0, err, sizeof err);
    ck_assert_msg(conf != NULL, "%s", err);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    ck_assert_msg(rk != NULL, "%s", err);
    return rk;
}

START_TEST(test_topics_ensure_is_idempotent)
{
    char a[128], b[128], err[512];
    snprintf(a, sizeof a, "%s-events", prefix);
    snprintf(b, sizeof b, "%s-dlq", prefix);
    rd_kafka_t *rk = admin(bootstrap);
    ck_assert_int_eq(kafka_topic_partitions(rk, a, 10000, err, sizeof err), 0);
    kafka_topic_spec specs[2] = {{a, 3, 1, 7LL * 24 * 3600 * 1000, 1},
                                 {b, 1, 1, 30LL * 24 * 3600 * 1000, 1}};
    ck_assert_msg(kafka_topics_ensure(rk, specs, 2, 10000, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(kafka_topic_partitions(rk, a, 10000, err, sizeof err), 3);
    ck_assert_int_eq(kafka_topic_partitions(rk, b, 10000, err, sizeof err), 1);
    /* again, and with a different partition count: kept as it is */
    specs[0].partitions = 5;
    ck_assert_msg(kafka_topics_ensure(rk, specs, 2, 10000, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(kafka_topic_partitions(rk, a, 10000, err, sizeof err), 3);
    rd_kafka_destroy(rk);
}
END_TEST

START_TEST(test_auto_replication_follows_cluster_size)
{
    ck_assert_int_eq(kafka_replication_for(-1, 1), 1);
    ck_assert_int_eq(kafka_replication_for(-1, 2), 2);
    ck_assert_int_eq(kafka_replication_for(-1, 3), 3);
    ck_assert_int_eq(kafka_replication_for(-1, 7), 3);
    ck_assert_int_eq(kafka_replication_for(-1, 0), 1);
    ck_assert_int_eq(kafka_replication_for(5, 1), 5); /* explicit: the broker judges */
    ck_assert_int_eq(kafka_min_isr_for(-1, 1, 1), 1);
    ck_assert_int_eq(kafka_min_isr_for(-1, 2, 2), 1);
    ck_assert_int_eq(kafka_min_isr_for(-1, 3, 3), 2);
    ck_assert_int_eq(kafka_min_isr_for(-1, 5, 3), 2);
    ck_assert_int_eq(kafka_min_isr_for(-1, 3, 1), 1); /* never above the replication factor */
    ck_assert_int_eq(kafka_min_isr_for(3, 3, 3), 3);
}
END_TEST

START_TEST(test_topics_ensure_auto_on_one_broker_and_refuses_isr_above_rf)
{
    char a[128], err[512] = "";
    snprintf(a, sizeof a, "%s-isr", prefix);
    rd_kafka_t *rk = admin(bootstrap);
    kafka_topic_spec spec = {a, 1, 1, 3600000, 2};
    ck_assert_int_eq(kafka_topics_ensure(rk, &spec, 1, 10000, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "TOPIC_MIN_INSYNC_REPLICAS") != NULL, "%s", err);
    ck_assert_int_eq(kafka_topic_partitions(rk, a, 10000, err, sizeof err), 0);
    /* auto on the single-node stack: one replica, min.insync.replicas 1 */
    spec.replication_factor = -1;
    spec.min_insync_replicas = -1;
    ck_assert_msg(kafka_topics_ensure(rk, &spec, 1, 10000, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(kafka_topic_partitions(rk, a, 10000, err, sizeof err), 1);
    rd_kafka_destroy(rk);
}
END_TEST

START_TEST(test_topics_ensure_reports_unreachable_broker)
{
    char err[512] = "";
    rd_kafka_t *rk = admin("127.0.0.1:1");
    kafka_topic_spec spec = {"never", 1, 1, 60000, 1};
    ck_assert_int_eq(kafka_topics_ensure(rk, &spec, 1, 1500, err, sizeof err), -1);
    ck_assert_msg(err[0] != '\0', "no error text");
    ck_assert_int_eq(kafka_topic_partitions(rk, "never", 1500, err, sizeof err), -1);
    rd_kafka_destroy(rk);
}
END_TEST

START_TEST(test_bad_property_is_reported)
{
    char err[512] = "";
    setenv("KAFKA_PROP_NO_SUCH_PROPERTY", "1", 1);
    rd_kafka_conf_t *conf = kafka_conf_new(bootstrap, "x", NULL, 0, err, sizeof err);
    unsetenv("KAFKA_PROP_NO_SUCH_PROPERTY");
    ck_assert_ptr_null(conf);
    ck_assert_ptr_nonnull(strstr(err, "no.such.property"));
}
END_TEST

START_TEST(test_delivery_reports_then_fatal_error_recovery)
{
    char topic[128], err[512];
    snprintf(topic, sizeof topic, "%s-dr", prefix);
    rd_kafka_t *rk = admin(bootstrap);
    kafka_topic_spec spec = {topic, 1, 1, 3600000, 1};
    ck_assert_msg(kafka_topics_ensure(rk, &spec, 1, 10000, err, sizeof err) == 0, "%s", err);
    rd_kafka_destroy(rk);

    dr_state st = {0};
    st.partition = -1;
    st.in_order = 1;
    st.base = event_base_new();
    cart_config cfg = config_for(bootstrap, topic, 10000);
    cart_producer *p = cart_producer_new(st.base, &cfg, on_dr, on_down, &st, err, sizeof err);
    ck_assert_msg(p != NULL, "%s", err);
    for (int i = 0; i < 50; i++)
        ck_assert_int_eq(cart_producer_send(p, topic, "k", 1, "value", 5, NULL, &st),
                         RD_KAFKA_RESP_ERR_NO_ERROR);
    ck_assert_int_eq(cart_producer_in_flight(p), 50);
    run_until(&st, 50, 30);
    ck_assert_int_eq(st.ok, 50);
    ck_assert(st.in_order);
    ck_assert_int_eq(cart_producer_in_flight(p), 0);

    /* a fatal idempotence error: the producer is recreated, sends work again */
    ck_assert_int_eq(rd_kafka_test_fatal_error(cart_producer_rk(p),
                                               RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER,
                                               "injected by test"),
                     RD_KAFKA_RESP_ERR_NO_ERROR);
    int sent = 0;
    for (int i = 0; i < 300 && !sent; i++) {
        /* the error callback and the recreation both run from the loop */
        event_base_loop(st.base, EVLOOP_ONCE);
        sent = cart_producer_send(p, topic, "k", 1, "after", 5, NULL, &st) ==
               RD_KAFKA_RESP_ERR_NO_ERROR;
    }
    ck_assert_msg(sent, "the producer was not recreated");
    ck_assert_int_eq(rd_kafka_fatal_error(cart_producer_rk(p), NULL, 0),
                     RD_KAFKA_RESP_ERR_NO_ERROR);
    run_until(&st, 51, 30);
    ck_assert_int_eq(st.ok, 51);
    cart_producer_free(p, 5000);
    event_base_free(st.base);
}
END_TEST

/* One produce request in flight (see cart_producer.c), unless an operator's
 * KAFKA_PROP_* says otherwise. */
static void expect_in_flight(const char *want)
{
    char err[512], got[32];
    size_t len = sizeof got;
    dr_state st = {0};
    st.base = event_base_new();
    cart_config cfg = config_for("127.0.0.1:1", "nowhere", 2000);
    cart_producer *p = cart_producer_new(st.base, &cfg, on_dr, NULL, &st, err, sizeof err);
    ck_assert_msg(p != NULL, "%s", err);
    ck_assert_int_eq(rd_kafka_conf_get(rd_kafka_conf(cart_producer_rk(p)),
                                       "max.in.flight.requests.per.connection", got, &len),
                     RD_KAFKA_CONF_OK);
    ck_assert_str_eq(got, want);
    cart_producer_free(p, 0);
    event_base_free(st.base);
}

START_TEST(test_one_request_in_flight_unless_overridden)
{
    expect_in_flight("1");
    setenv("KAFKA_PROP_MAX_IN_FLIGHT_REQUESTS_PER_CONNECTION", "3", 1);
    expect_in_flight("3");
    unsetenv("KAFKA_PROP_MAX_IN_FLIGHT_REQUESTS_PER_CONNECTION");
}
END_TEST

START_TEST(test_unreachable_broker_fails_each_message)
{
    char err[512];
    dr_state st = {0};
    st.partition = -1;
    st.base = event_base_new();
    cart_config cfg = config_for("127.0.0.1:1", "nowhere", 2000);
    cart_producer *p = cart_producer_new(st.base, &cfg, on_dr, on_down, &st, err, sizeof err);
    ck_assert_msg(p != NULL, "%s", err);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(cart_producer_send(p, "nowhere", "k", 1, "v", 1, NULL, &st),
                         RD_KAFKA_RESP_ERR_NO_ERROR);
    run_until(&st, 3, 30);
    ck_assert_int_eq(st.failed, 3);
    ck_assert_int_eq(st.last_err, RD_KAFKA_RESP_ERR__MSG_TIMED_OUT);
    ck_assert_int_ge(st.down_calls, 1);
    cart_producer_free(p, 0);
    event_base_free(st.base);
}
END_TEST

START_TEST(test_purge_answers_waiting_messages)
{
    char err[512];
    dr_state st = {0};
    st.partition = -1;
    st.base = event_base_new();
    cart_config cfg = config_for("127.0.0.1:1", "nowhere", 60000);
    cart_producer *p = cart_producer_new(st.base, &cfg, on_dr, NULL, &st, err, sizeof err);
    ck_assert_msg(p != NULL, "%s", err);
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(cart_producer_send(p, "nowhere", "k", 1, "v", 1, NULL, &st),
                         RD_KAFKA_RESP_ERR_NO_ERROR);
    cart_producer_purge(p);
    ck_assert_int_eq(st.failed, 4);
    ck_assert_int_eq(st.last_err, RD_KAFKA_RESP_ERR__PURGE_QUEUE);
    ck_assert_int_eq(cart_producer_in_flight(p), 0);
    cart_producer_free(p, 0);
    event_base_free(st.base);
}
END_TEST

Suite *test_suite(int *rc)
{
    bootstrap = test_env_or_skip("KAFKA_BOOTSTRAP_SERVERS", "a Kafka broker");
    if (!bootstrap) {
        *rc = TEST_SKIP;
        return NULL;
    }
    snprintf(prefix, sizeof prefix, "ut-cart-%ld-%d", (long)time(NULL), (int)getpid());
    Suite *s = suite_create("cart_kafka");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_topics_ensure_is_idempotent);
    tcase_add_test(tc, test_auto_replication_follows_cluster_size);
    tcase_add_test(tc, test_topics_ensure_auto_on_one_broker_and_refuses_isr_above_rf);
    tcase_add_test(tc, test_topics_ensure_reports_unreachable_broker);
    tcase_add_test(tc, test_bad_property_is_reported);
    tcase_add_test(tc, test_delivery_reports_then_fatal_error_recovery);
    tcase_add_test(tc, test_one_request_in_flight_unless_overridden);
    tcase_add_test(tc, test_unreachable_broker_fails_each_message);
    tcase_add_test(tc, test_purge_answers_waiting_messages);
    suite_add_tcase(s, tc);
    return s;
}
