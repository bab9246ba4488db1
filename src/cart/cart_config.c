/*
 * cart_config: the one table of cart-service settings. Defaults fit the local
 * stack; bounds reject nonsense at start-up rather than at the first request.
 */
#include "cart_config.h"

#include "config.h"

#define DAY_MS (24LL * 3600 * 1000)

static config_var cart_vars[] = {
    {"KAFKA_BOOTSTRAP_SERVERS", CONFIG_STR, "127.0.0.1:9092", 0, 0, 0,
     "Kafka bootstrap servers (host:port,...)", NULL, 0},
    {"SCHEMA_REGISTRY_URL", CONFIG_STR, "http://127.0.0.1:8081/apis/ccompat/v7", 0, 0, 1,
     "Confluent-compatible schema registry API root (user:password@ allowed, never logged)", NULL,
     0},
    {"ORDER_EVENTS_TOPIC", CONFIG_STR, "order-events", 0, 0, 0, "topic for order events", NULL, 0},
    {"DLQ_TOPIC", CONFIG_STR, "order-events-dlq", 0, 0, 0,
     "dead-letter topic (created at start-up, used by order-service)", NULL, 0},
    {"TOPIC_PARTITIONS", CONFIG_INT, "3", 1, 1000, 0, "partitions of the order topic", NULL, 0},
    {"TOPIC_REPLICATION_FACTOR", CONFIG_INT, "1", 1, 16, 0, "replication factor of both topics",
     NULL, 0},
    {"TOPIC_RETENTION_MS", CONFIG_INT, "604800000", 60000, 3650 * DAY_MS, 0,
     "retention of the order topic (ms; 7 days)", NULL, 0},
    {"DLQ_PARTITIONS", CONFIG_INT, "1", 1, 1000, 0, "partitions of the DLQ topic", NULL, 0},
    {"DLQ_RETENTION_MS", CONFIG_INT, "2592000000", 60000, 3650 * DAY_MS, 0,
     "retention of the DLQ topic (ms; 30 days)", NULL, 0},
    {"HTTP_HOST", CONFIG_STR, "127.0.0.1", 0, 0, 0, "listen address (IPv4 or IPv6 literal)", NULL,
     0},
    {"HTTP_PORT", CONFIG_INT, "8000", 1, 65535, 0, "listen port", NULL, 0},
    {"HTTP_MAX_BODY_BYTES", CONFIG_INT, "65536", 256, 16 * 1024 * 1024, 0,
     "largest accepted request body; larger: 413", NULL, 0},
    {"HTTP_IDLE_TIMEOUT_S", CONFIG_INT, "30", 1, 3600, 0,
     "idle or slow client connections are closed after this many seconds", NULL, 0},
    {"LOG_LEVEL", CONFIG_STR, "info", 0, 0, 0, "debug, info, warn or error", NULL, 0},
    {"DELIVERY_TIMEOUT_MS", CONFIG_INT, "10000", 1000, 300000, 0,
     "longest wait for Kafka's acknowledgement before answering 503", NULL, 0},
    {"PRODUCER_LINGER_MS", CONFIG_INT, "5", 0, 1000, 0,
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
    c->retention_ms = I("TOPIC_RETENTION_MS");
    c->dlq_partitions = (int)I("DLQ_PARTITIONS");
    c->dlq_retention_ms = I("DLQ_RETENTION_MS");
    c->http_host = S("HTTP_HOST");
    c->http_port = (int)I("HTTP_PORT");
    c->max_body_bytes = (size_t)I("HTTP_MAX_BODY_BYTES");
    c->idle_timeout_s = (int)I("HTTP_IDLE_TIMEOUT_S");
    c->log_level = S("LOG_LEVEL");
    c->delivery_timeout_ms = (int)I("DELIVERY_TIMEOUT_MS");
    c->linger_ms = (int)I("PRODUCER_LINGER_MS");
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
    fprintf(out, "KAFKA_PROP_<NAME>\n    any librdkafka property, e.g. "
                 "KAFKA_PROP_SECURITY_PROTOCOL=SASL_SSL sets security.protocol\n");
}

void cart_config_log(void)
{
    config_log(cart_vars, NVARS);
}
