/*
 * service_config: the settings both services share (Kafka, registry, topics,
 * HTTP front, logging), declared once so names, defaults, bounds and help
 * text cannot drift between cart-service and order-service. A service's table
 * starts with SERVICE_CONFIG_COMMON(port) and adds its own entries.
 */
#ifndef SERVICE_CONFIG_H
#define SERVICE_CONFIG_H

#include "platform/config.h"

#define SERVICE_CONFIG_DAY_MS (24LL * 3600 * 1000)

/* clang-format off */
#define SERVICE_CONFIG_COMMON(http_port_default)                                                  \
    {"KAFKA_BOOTSTRAP_SERVERS", CONFIG_STR, "127.0.0.1:9092", 0, 0, 0,                            \
     "Kafka bootstrap servers (host:port,...)", NULL, 0},                                         \
    {"SCHEMA_REGISTRY_URL", CONFIG_STR, "http://127.0.0.1:8081/apis/ccompat/v7", 0, 0, 1,         \
     "Confluent-compatible schema registry API root; user:password@ is sent as basic auth "      \
     "and never logged", NULL, 0},                                                                \
    {"ORDER_EVENTS_TOPIC", CONFIG_STR, "order-events", 0, 0, 0, "topic of order events", NULL, 0}, \
    {"DLQ_TOPIC", CONFIG_STR, "order-events-dlq", 0, 0, 0,                                        \
     "dead-letter topic (both services create it at start-up)", NULL, 0},                         \
    {"TOPIC_PARTITIONS", CONFIG_INT, "3", 1, 10000, 0,                                            \
     "partitions of the events topic when it is created", NULL, 0},                               \
    {"TOPIC_REPLICATION_FACTOR", CONFIG_INT, "auto", 1, 100, 0,                                   \
     "replication factor of both topics when created; auto: min(3, brokers in the cluster)",      \
     NULL, 0},                                                                                    \
    {"TOPIC_MIN_INSYNC_REPLICAS", CONFIG_INT, "auto", 1, 100, 0,                                  \
     "min.insync.replicas of both topics when created (copies an acks=all write needs); "         \
     "auto: 2 with three or more brokers, else 1, never above the replication factor",            \
     NULL, 0},                                                                                    \
    {"TOPIC_RETENTION_MS", CONFIG_INT, "604800000", 60000, 36500 * SERVICE_CONFIG_DAY_MS, 0,      \
     "retention of the events topic in ms (7 days)", NULL, 0},                                    \
    {"DLQ_PARTITIONS", CONFIG_INT, "1", 1, 10000, 0, "partitions of the dead-letter topic", NULL, \
     0},                                                                                          \
    {"DLQ_RETENTION_MS", CONFIG_INT, "2592000000", 60000, 36500 * SERVICE_CONFIG_DAY_MS, 0,       \
     "retention of the dead-letter topic in ms (30 days)", NULL, 0},                              \
    {"HTTP_HOST", CONFIG_STR, "127.0.0.1", 0, 0, 0,                                               \
     "HTTP listen address (IPv4 or IPv6 literal; 0.0.0.0 for all interfaces)", NULL, 0},          \
    {"HTTP_PORT", CONFIG_INT, http_port_default, 1, 65535, 0, "HTTP listen port", NULL, 0},       \
    {"HTTP_MAX_BODY_BYTES", CONFIG_INT, "65536", 256, 16 * 1024 * 1024, 0,                        \
     "largest accepted request body; larger: 413", NULL, 0},                                      \
    {"HTTP_IDLE_TIMEOUT_S", CONFIG_INT, "30", 1, 3600, 0,                                         \
     "a connection waiting this many seconds for a read (idle keep-alive) is closed", NULL, 0},   \
    {"HTTP_HEADER_TIMEOUT_S", CONFIG_INT, "10", 1, 3600, 0,                                       \
     "a request head must be complete this many seconds after the connection opened (or, "        \
     "on keep-alive, after its first byte), however slowly it trickles; else the connection "     \
     "is closed", NULL, 0},                                                                       \
    {"HTTP_BODY_TIMEOUT_S", CONFIG_INT, "30", 1, 3600, 0,                                         \
     "a request body must be complete this many seconds after its head; else the connection "     \
     "is closed", NULL, 0},                                                                       \
    {"HTTP_MAX_CONNECTIONS", CONFIG_INT, "10000", 16, 1000000, 0,                                 \
     "open HTTP connections (split evenly among HTTP threads); at the cap the oldest idle ones "  \
     "are closed, else new ones wait in the listen backlog; RLIMIT_NOFILE is raised to fit "      \
     "(the cap is lowered, with a warning, if the hard limit is too low)", NULL, 0},              \
    {"LOG_LEVEL", CONFIG_STR, "info", 0, 0, 0, "debug, info, warn or error", NULL, 0},           \
    {"DOCS_UI_DIR", CONFIG_STR, "", 0, 0, 0,                                                      \
     "folder of the Swagger UI assets served at GET /docs (scripts/fetch-docs-ui.sh); unset: "    \
     "var/docs-ui beside the binary's folder, then in the working directory", NULL, 0}
/* clang-format on */

#endif
