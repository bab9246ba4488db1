/*
 * topic_index against a real broker (KAFKA_BOOTSTRAP_SERVERS, given by
 * scripts/with-stack.sh; exit 77 = skipped without one) and a real store
 * (SQLite always, PostgreSQL when ORDERSTREAM_TEST_PG_URL is set): the first
 * read scans the whole topic and builds the index, a later read scans only
 * the records added since, and every answer equals what the topic holds;
 * without a store, or with a store that cannot serve the index, a read is a
 * plain scan with the same answer.
 */
#include "query/topic_index.h"

#include "order/store/store_fixture.h"
#include "platform/kafka_util.h"
#include "test_main.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *bootstrap;
static char err[256];
static int topic_n;
static const atomic_int no_stop = 0;

/* A new two-partition topic for this case. */
static void new_topic(char *name, size_t len)
{
    snprintf(name, len, "tix-%ld-%d-%d", (long)time(NULL), (int)getpid(), ++topic_n);
    rd_kafka_conf_t *conf = kafka_conf_new(bootstrap, "tix-admin", NULL, 0, err, sizeof err);
    ck_assert_msg(conf != NULL, "%s", err);
    char kerr[256];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, kerr, sizeof kerr);
    ck_assert_msg(rk != NULL, "%s", kerr);
    kafka_topic_spec spec = {name, 2, 1, 3600000, 1};
    ck_assert_msg(kafka_topics_ensure(rk, &spec, 1, 20000, err, sizeof err) == 0, "%s", err);
    rd_kafka_destroy(rk);
}

/* Writes keys prefix0..prefix<n-1> (each twice when twice), round robin over the partitions,
 * with dlq.reason = reason when given ("#": R<i> for record i); waits for every
 * acknowledgement. */
static void produce(const char *topic, const char *prefix, int n, int twice, const char *reason)
{
    rd_kafka_conf_t *conf = kafka_conf_new(bootstrap, "tix-producer", NULL, 0, err, sizeof err);
    ck_assert_msg(conf != NULL, "%s", err);
    char kerr[256];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, kerr, sizeof kerr);
    ck_assert_msg(rk != NULL, "%s", kerr);
    for (int i = 0; i < n * (twice ? 2 : 1); i++) {
        char key[64];
        int klen = snprintf(key, sizeof key, "%s%d", prefix, i % n);
        rd_kafka_headers_t *h = rd_kafka_headers_new(2);
        if (reason) {
            char r[40]; /* "#": a reason of its own per record, R<i> */
            if (reason[0] == '#')
                snprintf(r, sizeof r, "R%d", i);
            else
                snprintf(r, sizeof r, "%s", reason);
            rd_kafka_header_add(h, "dlq.reason", -1, r, -1);
            rd_kafka_header_add(h, "dlq.category", -1, "NO_RETRY_DLQ", -1);
        }
        rd_kafka_resp_err_t e = rd_kafka_producev(
            rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(i % 2), RD_KAFKA_V_KEY(key, klen),
            RD_KAFKA_V_VALUE("v", 1), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_END);
        ck_assert_msg(e == RD_KAFKA_RESP_ERR_NO_ERROR, "produce: %s", rd_kafka_err2str(e));
    }
    ck_assert_int_eq(rd_kafka_flush(rk, 30000), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_destroy(rk);
}

static scan_request request(const char *topic)
{
    scan_request r = {.bootstrap = bootstrap,
                      .group_id = "tix-test.scan",
                      .topic = topic,
                      .limit = -1,
                      .timeout_ms = 30000};
    return r;
}

/* One ids read: the count, and what it scanned in info. */
static uint32_t read_ids(store *st, const char *topic, topic_index_info *info, const char *must)
{
    idset ids;
    idset_init(&ids);
    scan_request req = request(topic);
    int failed = 0;
    int64_t total = 0;
    ck_assert_int_eq(
        topic_index_ids(st, &req, &no_stop, &ids, &failed, &total, info, err, sizeof err), SCAN_OK);
    ck_assert_int_eq(failed, 0);
    int found = must == NULL;
    for (uint32_t i = 0; i < ids.count && !found; i++) {
        size_t len;
        const char *id = idset_get(&ids, i, &len);
        found = len == strlen(must) && memcmp(id, must, len) == 0;
    }
    ck_assert_msg(found, "%s missing from the answer", must);
    uint32_t n = ids.count;
    idset_free(&ids);
    return n;
}

/* One stats read: the topic's record count, the counts into s, what it scanned in info. */
static int64_t read_stats(store *st, const char *topic, topic_stats *s, topic_index_info *info)
{
    int64_t total = 0;
    scan_request req = request(topic);
    ck_assert_int_eq(topic_index_stats(st, &req, &no_stop, s, &total, info, err, sizeof err),
                     SCAN_OK);
    return total;
}

static long long reason_count(const topic_stats *s, const char *name)
{
    for (int i = 0; i < s->nreason; i++)
        if (strcmp(s->reason[i].name, name) == 0)
            return s->reason[i].n;
    return 0;
}

START_TEST(test_second_read_scans_only_the_tail)
{
    char topic[96];
    new_topic(topic, sizeof topic);
    produce(topic, "K", 500, 1, NULL); /* 1000 records, 500 distinct keys */
    store *st = store_open(where, 0, err, sizeof err);
    ck_assert_msg(st != NULL, "%s", err);
    topic_index_info info;
    ck_assert_uint_eq(read_ids(st, topic, &info, "K499"), 500);
    ck_assert_int_eq(info.scanned, 1000);
    ck_assert_int_eq(info.from_index, 0);
    produce(topic, "T", 7, 0, NULL);
    ck_assert_uint_eq(read_ids(st, topic, &info, "T6"), 507);
    ck_assert_int_eq(info.scanned, 7);
    ck_assert_int_eq(info.from_index, 1);
    ck_assert_int_eq(info.index_failed, 0);
    /* Another handle (a restart, another instance) reads the same index. */
    store *other = store_open(where, 0, err, sizeof err);
    ck_assert_msg(other != NULL, "%s", err);
    ck_assert_uint_eq(read_ids(other, topic, &info, "K0"), 507);
    ck_assert_int_eq(info.scanned, 0);
    store_close(other);
    store_close(st);
}
END_TEST

START_TEST(test_stats_kept_incrementally)
{
    char topic[96];
    new_topic(topic, sizeof topic);
    produce(topic, "D", 30, 0, "INVALID_EVENT");
    store *st = store_open(where, 0, err, sizeof err);
    ck_assert_msg(st != NULL, "%s", err);
    topic_stats s;
    topic_index_info info;
    ck_assert_int_eq(read_stats(st, topic, &s, &info), 30);
    ck_assert_int_eq(reason_count(&s, "INVALID_EVENT"), 30);
    ck_assert_int_eq(info.scanned, 30);
    produce(topic, "E", 4, 0, "DUPLICATE_ORDER");
    ck_assert_int_eq(read_stats(st, topic, &s, &info), 34);
    ck_assert_int_eq(info.scanned, 4);
    ck_assert_int_eq(reason_count(&s, "INVALID_EVENT"), 30);
    ck_assert_int_eq(reason_count(&s, "DUPLICATE_ORDER"), 4);
    ck_assert_int_eq(s.ncat, 1);
    ck_assert_int_eq(s.cat[0].n, 34);
    store_close(st);
}
END_TEST

START_TEST(test_stats_names_bounded_across_reads)
{
    char topic[96];
    new_topic(topic, sizeof topic);
    produce(topic, "N", 50, 0, "#");
    store *st = store_open(where, 0, err, sizeof err);
    ck_assert_msg(st != NULL, "%s", err);
    topic_stats s;
    topic_index_info info;
    ck_assert_int_eq(read_stats(st, topic, &s, &info), 50);
    ck_assert_int_eq(s.nreason, 50);
    produce(topic, "M", 40, 0, "#"); /* R0..R39 again: 40 more, on known names */
    produce(topic, "O", 80, 0, "#"); /* R0..R79: 30 new names, 17 past the 63 a name may take */
    ck_assert_int_eq(read_stats(st, topic, &s, &info), 170);
    ck_assert_int_eq(info.scanned, 120);
    ck_assert_int_eq(s.nreason, TOPIC_STATS_NAMES);
    long long sum = 0;
    for (int i = 0; i < s.nreason; i++)
        sum += s.reason[i].n;
    ck_assert_int_eq(sum, 170); /* nothing lost to the bound: the rest is under OTHER */
    ck_assert_int_eq(reason_count(&s, "R0"), 3);
    ck_assert_int_eq(reason_count(&s, "OTHER"), 80 - (TOPIC_STATS_NAMES - 1));
    store_close(st);
}
END_TEST

START_TEST(test_without_a_usable_store_a_read_is_a_plain_scan)
{
    char topic[96];
    new_topic(topic, sizeof topic);
    produce(topic, "P", 40, 1, NULL);
    topic_index_info info;
    ck_assert_uint_eq(read_ids(NULL, topic, &info, "P39"), 40);
    ck_assert_int_eq(info.scanned, 80);
    /* A read-only handle cannot hold an index: scanned whole, every time, same answer. */
    store *w = store_open(where, 0, err, sizeof err); /* creates the store */
    ck_assert_msg(w != NULL, "%s", err);
    store *ro = store_open(where, STORE_READONLY, err, sizeof err);
    ck_assert_msg(ro != NULL, "%s", err);
    for (int i = 0; i < 2; i++) {
        ck_assert_uint_eq(read_ids(ro, topic, &info, "P0"), 40);
        ck_assert_int_eq(info.scanned, 80);
        ck_assert_int_eq(info.index_failed, 1);
    }
    store_close(ro);
    store_close(w);
}
END_TEST

static void add_contract(TCase *tc)
{
    tcase_add_test(tc, test_second_read_scans_only_the_tail);
    tcase_add_test(tc, test_stats_kept_incrementally);
    tcase_add_test(tc, test_stats_names_bounded_across_reads);
    tcase_add_test(tc, test_without_a_usable_store_a_read_is_a_plain_scan);
}

Suite *test_suite(int *rc)
{
    bootstrap = test_env_or_skip("KAFKA_BOOTSTRAP_SERVERS", "a Kafka broker");
    if (!bootstrap) {
        *rc = TEST_SKIP;
        return NULL;
    }
    return stfx_suite("topic_index", add_contract);
}
