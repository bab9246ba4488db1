/*
 * cart_config: cart-service settings, read once from the environment through
 * config.h's table (so --help, validation and the start-up log agree) and
 * copied into a typed struct the rest of the service uses.
 */
#ifndef CART_CONFIG_H
#define CART_CONFIG_H

#include <stddef.h>
#include <stdio.h>

typedef struct {
    const char *bootstrap;
    const char *registry_url;
    const char *topic;
    const char *dlq_topic;
    int partitions;
    int replication_factor;  /* CONFIG_AUTO (-1): from the cluster's size */
    int min_insync_replicas; /* CONFIG_AUTO (-1): from the cluster's size */
    long long retention_ms;
    int dlq_partitions;
    long long dlq_retention_ms;
    const char *http_host;
    int http_port;
    size_t max_body_bytes;
    int idle_timeout_s;
    int header_timeout_s, body_timeout_s, max_connections;
    int http_threads;
    const char *log_level;
    const char *docs_ui_dir; /* DOCS_UI_DIR ("": the default places) */
    int delivery_timeout_ms;
    int linger_ms;
    long max_pending_writes; /* MAX_PENDING_WRITES: beyond, writes get 503 */
} cart_config;

/* 0, or -1 with "NAME: reason" in err. */
int cart_config_load(cart_config *c, char *err, size_t errlen);
void cart_config_help(FILE *out);
/* Logs the effective settings (after cart_config_load and log_init). */
void cart_config_log(void);

#endif
