/*
 * cart_config: the one table of cart-service settings. Defaults fit the local
 * stack; bounds reject nonsense at start-up rather than at the first request.
 */
#include "cart_config.h"

#include "platform/config.h"
#include "platform/service_config.h"

static config_var cart_vars[] = {
    SERVICE_CONFIG_COMMON("8000"),
    /* 1 by default: on a 2-core box shared with the broker a second loop
     * had no idle core to run on (docs/BENCHMARKS.md measures 1, 2 and 4) */
    {"HTTP_THREADS", CONFIG_INT, "1", 1, 64, 0,
     "HTTP threads, each with its own event loop; Kafka's acknowledgements are "
     "handed to the request's thread",
     NULL, 0},
    {"DELIVERY_TIMEOUT_MS", CONFIG_INT, "10000", 1000, 300000, 0,
     "longest wait for Kafka's acknowledgement before answering 503", NULL, 0},
    /* each waiting write holds a pooled slot of about 8 KiB and a queued
     * message: the bound keeps a hung broker from growing memory without end */
    {"MAX_PENDING_WRITES", CONFIG_INT, "10000", 1, 1000000, 0,
     "writes waiting for Kafka's acknowledgement, all threads; beyond: 503", NULL, 0},
    /* 1 ms, not more: each request waits for its batch, so with C concurrent
     * clients throughput is at most C / (linger + ack time) (Little's law);
     * 5 ms capped 64 clients near 7k req/s here, 1 ms still fills batches.
     * Not 0 either: a lone request is then sent at once (p50 0.45 against
     * 1.7 ms at 2 clients), but every produce request costs the broker CPU
     * of its own: 0 gave fewer creates/s at 1,000 clients in every round and
     * at 64 on average (bench/profile-notes.md, tenth pass). */
    {"PRODUCER_LINGER_MS", CONFIG_INT, "1", 0, 1000, 0,
     "producer batching delay (ms); concurrent requests share batches", NULL, 0},
};

#define NVARS (sizeof cart_vars / sizeof cart_vars[0])

int cart_config_load(cart_config *c, char *err, size_t errlen)
{
    if (config_load(cart_vars, NVARS, err, errlen) != 0)
        return -1;
#define S(name) config_str(cart_vars, NVARS, name)
#define I(name) config_int(cart_vars, NVARS, name)
    c->bootstrap = S("KAFKA_BOOTSTRAP_SERVERS");
    c->registry_url = S("SCHEMA_REGISTRY_URL");
    c->topic = S("ORDER_EVENTS_TOPIC");
    c->dlq_topic = S("DLQ_TOPIC");
    c->partitions = (int)I("TOPIC_PARTITIONS");
    c->replication_factor = (int)I("TOPIC_REPLICATION_FACTOR");
    c->min_insync_replicas = (int)I("TOPIC_MIN_INSYNC_REPLICAS");
    c->retention_ms = I("TOPIC_RETENTION_MS");
    c->dlq_partitions = (int)I("DLQ_PARTITIONS");
    c->dlq_retention_ms = I("DLQ_RETENTION_MS");
    c->http_host = S("HTTP_HOST");
    c->http_port = (int)I("HTTP_PORT");
    c->max_body_bytes = (size_t)I("HTTP_MAX_BODY_BYTES");
    c->idle_timeout_s = (int)I("HTTP_IDLE_TIMEOUT_S");
    c->header_timeout_s = (int)I("HTTP_HEADER_TIMEOUT_S");
    c->body_timeout_s = (int)I("HTTP_BODY_TIMEOUT_S");
    c->max_connections = (int)I("HTTP_MAX_CONNECTIONS");
    c->http_threads = (int)I("HTTP_THREADS");
    c->log_level = S("LOG_LEVEL");
    c->docs_ui_dir = S("DOCS_UI_DIR");
    c->delivery_timeout_ms = (int)I("DELIVERY_TIMEOUT_MS");
    c->linger_ms = (int)I("PRODUCER_LINGER_MS");
    c->max_pending_writes = I("MAX_PENDING_WRITES");
#undef S
#undef I
    if (!c->topic[0] || !c->dlq_topic[0] || !c->bootstrap[0]) {
        snprintf(err, errlen,
                 "ORDER_EVENTS_TOPIC, DLQ_TOPIC and KAFKA_BOOTSTRAP_SERVERS must "
                 "not be empty");
        return -1;
    }
    return 0;
}

void cart_config_help(FILE *out)
{
    fprintf(out, "cart-service: order intake over HTTP into Kafka (Avro, schema registry)\n\n"
                 "Usage: cart-service [--help]\n\n");
    config_print_help(out, cart_vars, NVARS);
}

void cart_config_log(void)
{
    config_log(cart_vars, NVARS);
}
