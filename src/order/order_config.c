/*
 * order_config: the table of order-service's environment variables and
 * their parsing into order_config. Defaults fit the local stack; every
 * bound is explicit so a typo fails at start-up with the variable's name
 * instead of misbehaving later.
 */
#include "order_config.h"

#include "platform/kafka_util.h"
#include "platform/service_config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static config_var vars[] = {
    SERVICE_CONFIG_COMMON("8001"),
    {"HTTP_THREADS", CONFIG_INT, "2", 1, 64, 0,
     "HTTP threads, each with its own read-only store connection", NULL, 0},
    {"STORE_PATH", CONFIG_STR, "var/order-service.db", 0, 0, 0,
     "SQLite file holding orders and consumed positions (directories are created)", NULL, 0},
    {"CONSUMER_GROUP_ID", CONFIG_STR, "order-service", 0, 0, 0, "Kafka consumer group", NULL, 0},
    {"RETRY_BACKOFF_MS", CONFIG_STR, "2000,5000,10000", 0, 0, 0,
     "waits between retries in ms; the last one repeats (infrastructure failures retry forever)",
     NULL, 0},
    {"PROCESSING_MAX_RETRIES", CONFIG_INT, "3", 0, 1000, 0,
     "retries of an unexpected processing failure before the event goes to the DLQ", NULL, 0},
    {"CONSUMER_BATCH_MAX", CONFIG_INT, "2000", 1, 100000, 0, "events applied per store transaction",
     NULL, 0},
    {"CONSUMER_BATCH_WAIT_MS", CONFIG_INT, "5", 0, 1000, 0,
     "how long a batch may wait to fill before it is applied", NULL, 0},
    {"TOPIC_SCAN_TIMEOUT_MS", CONFIG_INT, "30000", 100, 600000, 0,
     "bound of one topic read for getAllOrderIdsFromTopic and the /dlq endpoints", NULL, 0},
    {"ORDER_TEST_FAIL_PREFIX", CONFIG_STR, "", 0, 0, 0,
     "TEST ONLY: events whose orderId starts with this fail processing (unset in production)", NULL,
     0},
    {"ORDER_TEST_FAIL_TIMES", CONFIG_INT, "0", 0, 1000000, 0,
     "TEST ONLY: how many times each such event fails before it succeeds", NULL, 0},
    {"ORDER_TEST_STORE_MAX_PAGES", CONFIG_INT, "0", 0, 1LL << 40, 0,
     "TEST ONLY: cap the store file at this many pages to simulate a full disk (0: no cap)", NULL,
     0},
    {"ORDER_TEST_DLQ_FATAL", CONFIG_INT, "0", 0, 1000, 0,
     "TEST ONLY: the DLQ producer fails fatally before each of its first N writes (0: never)", NULL,
     0},
};

#define NVARS (sizeof vars / sizeof vars[0])

config_var *order_config_vars(size_t *n)
{
    *n = NVARS;
    return vars;
}

int order_config_parse_backoff(const char *text, int64_t *out, size_t cap, size_t *n, char *err,
                               size_t errlen)
{
    size_t count = 0;
    const char *p = text;
    for (;;) {
        while (*p == ' ')
            p++;
        errno = 0;
        char *end = NULL;
        long long v = strtoll(p, &end, 10);
        if (end == p || errno || v < 0 || v > 3600000) {
            snprintf(err, errlen, "RETRY_BACKOFF_MS: '%s' is not a list of 0..3600000 ms", text);
            return -1;
        }
        if (count >= cap) {
            snprintf(err, errlen, "RETRY_BACKOFF_MS: more than %zu values", cap);
            return -1;
        }
        out[count++] = v;
        p = end;
        while (*p == ' ')
            p++;
        if (*p == '\0')
            break;
        if (*p != ',') {
            snprintf(err, errlen, "RETRY_BACKOFF_MS: '%s' is not a list of 0..3600000 ms", text);
            return -1;
        }
        p++;
    }
    *n = count;
    return 0;
}

int64_t order_config_backoff_for(const order_config *s, int attempt)
{
    if (s->nbackoff == 0)
        return 0;
    size_t i = attempt < 1 ? 0 : (size_t)(attempt - 1);
    if (i >= s->nbackoff)
        i = s->nbackoff - 1;
    return s->backoff_ms[i];
}

#define STR(name) config_str(vars, NVARS, name)
#define NUM(name) config_int(vars, NVARS, name)

int order_config_load(order_config *s, char *err, size_t errlen)
{
    if (config_load(vars, NVARS, err, errlen) != 0)
        return -1;
    memset(s, 0, sizeof *s);
    s->bootstrap = STR("KAFKA_BOOTSTRAP_SERVERS");
    s->registry_url = STR("SCHEMA_REGISTRY_URL");
    s->topic = STR("ORDER_EVENTS_TOPIC");
    s->dlq_topic = STR("DLQ_TOPIC");
    s->topic_partitions = (int)NUM("TOPIC_PARTITIONS");
    s->topic_replication = (int)NUM("TOPIC_REPLICATION_FACTOR");
    s->topic_retention_ms = NUM("TOPIC_RETENTION_MS");
    s->dlq_partitions = (int)NUM("DLQ_PARTITIONS");
    s->dlq_retention_ms = NUM("DLQ_RETENTION_MS");
    s->http_host = STR("HTTP_HOST");
    s->http_port = (int)NUM("HTTP_PORT");
    s->http_max_body = (size_t)NUM("HTTP_MAX_BODY_BYTES");
    s->http_idle_timeout_s = (int)NUM("HTTP_IDLE_TIMEOUT_S");
    s->http_header_timeout_s = (int)NUM("HTTP_HEADER_TIMEOUT_S");
    s->http_body_timeout_s = (int)NUM("HTTP_BODY_TIMEOUT_S");
    s->http_max_connections = (int)NUM("HTTP_MAX_CONNECTIONS");
    s->http_threads = (int)NUM("HTTP_THREADS");
    s->log_level = STR("LOG_LEVEL");
    s->store_path = STR("STORE_PATH");
    s->group_id = STR("CONSUMER_GROUP_ID");
    s->max_retries = (int)NUM("PROCESSING_MAX_RETRIES");
    s->batch_max = (int)NUM("CONSUMER_BATCH_MAX");
    s->batch_wait_ms = (int)NUM("CONSUMER_BATCH_WAIT_MS");
    s->scan_timeout_ms = (int)NUM("TOPIC_SCAN_TIMEOUT_MS");
    s->test_fail_prefix = STR("ORDER_TEST_FAIL_PREFIX");
    s->test_fail_times = (int)NUM("ORDER_TEST_FAIL_TIMES");
    s->test_store_max_pages = NUM("ORDER_TEST_STORE_MAX_PAGES");
    s->test_dlq_fatal = (int)NUM("ORDER_TEST_DLQ_FATAL");
    static const char *const required[] = {"KAFKA_BOOTSTRAP_SERVERS",
                                           "SCHEMA_REGISTRY_URL",
                                           "ORDER_EVENTS_TOPIC",
                                           "DLQ_TOPIC",
                                           "STORE_PATH",
                                           "CONSUMER_GROUP_ID",
                                           "HTTP_HOST"};
    for (size_t i = 0; i < sizeof required / sizeof required[0]; i++) {
        if (!*STR(required[i])) {
            snprintf(err, errlen, "%s: must not be empty", required[i]);
            return -1;
        }
    }
    if (strcmp(s->topic, s->dlq_topic) == 0) {
        snprintf(err, errlen, "DLQ_TOPIC: must differ from ORDER_EVENTS_TOPIC");
        return -1;
    }
    return order_config_parse_backoff(STR("RETRY_BACKOFF_MS"), s->backoff_ms, ORDER_BACKOFF_MAX,
                                      &s->nbackoff, err, errlen);
}
