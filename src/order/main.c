/*
 * order-service: wires configuration, the store-backed consumer and the HTTP
 * API together, and runs the graceful shutdown: SIGTERM/SIGINT -> stop
 * accepting, let the answers in flight go out, stop HTTP; then the consumer
 * finishes its batch, commits store and offsets, leaves the group and closes
 * the store; exit 0. A second signal stops the HTTP side at once.
 */
#include "consumer.h"
#include "service_config.h"
#include "http.h"
#include "log.h"
#include "order_api.h"
#include "order_config.h"
#include "store.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

#define MAX_HEADER_BYTES 16384
#define REPLY_DRAIN_MS 200

typedef struct {
    struct event_base *base;
    http_server *srv;
    int signals;
} shutdown_ctx;

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    shutdown_ctx *s = arg;
    (void)what;
    if (++s->signals > 1) {
        log_warn("second signal: stopping now");
        event_base_loopbreak(s->base);
        return;
    }
    log_info("signal %d: shutting down", (int)sig);
    http_server_stop_accepting(s->srv);
    struct timeval tv = {0, REPLY_DRAIN_MS * 1000};
    event_base_loopexit(s->base, &tv);
}

static void usage(FILE *out)
{
    fprintf(out, "order-service: consumes order events from Kafka into a SQLite (or PostgreSQL)\n"
                 "store and serves them over HTTP (see README.md).\n\n"
                 "Usage: order-service [--help]\n\n");
    size_t n;
    config_var *vars = order_config_vars(&n);
    config_print_help(out, vars, n);
}

int main(int argc, char **argv)
{
    int rc = service_cli(argc, argv, "order-service", usage);
    if (rc >= 0)
        return rc;
    char err[512] = "";
    order_settings cfg;
    if (order_settings_load(&cfg, err, sizeof err) != 0) {
        fprintf(stderr, "order-service: configuration error: %s\n", err);
        return 2;
    }
    if (service_log_init("order-service", cfg.log_level) != 0)
        return 2;
    size_t nvars;
    config_var *vars = order_config_vars(&nvars);
    config_log(vars, nvars);
    if (cfg.test_fail_prefix[0])
        log_warn("TEST-ONLY failure injection is on: orderIds starting with '%s' fail %d times",
                 cfg.test_fail_prefix, cfg.test_fail_times);

    rc = 1;
    struct event_base *base = NULL;
    http_server *srv = NULL;
    order_consumer *consumer = NULL;
    struct event *sigterm = NULL, *sigint = NULL;
    shutdown_ctx sd;
    memset(&sd, 0, sizeof sd);
    /* Broken pipes are reported by write(2); they must not kill the service. */
    signal(SIGPIPE, SIG_IGN);

    consumer = consumer_new(&cfg, err, sizeof err);
    if (!consumer)
        goto out;
    order_app app = {&cfg, consumer};
    base = event_base_new();
    if (!base) {
        snprintf(err, sizeof err, "event_base_new failed");
        goto out;
    }
    http_config hc = {
        .listen_addr = cfg.http_host,
        .port = cfg.http_port,
        .max_body_bytes = cfg.http_max_body,
        .max_header_bytes = MAX_HEADER_BYTES,
        .idle_timeout_s = cfg.http_idle_timeout_s,
        .threads = cfg.http_threads,
        .thread_init = order_api_thread_init,
        .thread_free = order_api_thread_free,
    };
    size_t nroutes;
    const http_route *routes = order_routes(&nroutes);
    srv = http_server_new(base, &hc, routes, nroutes, &app, err, sizeof err);
    if (!srv)
        goto out;
    if (consumer_start(consumer, err, sizeof err) != 0 ||
        http_server_start(srv, err, sizeof err) != 0)
        goto out;
    sd.base = base;
    sd.srv = srv;
    sigterm = evsignal_new(base, SIGTERM, on_signal, &sd);
    sigint = evsignal_new(base, SIGINT, on_signal, &sd);
    if (!sigterm || !sigint || event_add(sigterm, NULL) != 0 || event_add(sigint, NULL) != 0) {
        snprintf(err, sizeof err, "cannot install signal handlers");
        goto out;
    }
    char store_where[512];
    store_describe(cfg.store_location, store_where, sizeof store_where);
    log_info("order-service listening on http://%s:%d (topic %s, store %s)", cfg.http_host,
             cfg.http_port, cfg.topic, store_where);
    if (event_base_dispatch(base) < 0) {
        snprintf(err, sizeof err, "event loop failed");
        goto out;
    }
    rc = 0;
out:
    if (rc != 0)
        log_error("order-service: %s", err);
    http_server_free(srv);
    /* Finishes the batch, commits store and offsets, leaves the group, closes the store. */
    consumer_free(consumer);
    if (sigterm)
        event_free(sigterm);
    if (sigint)
        event_free(sigint);
    if (base)
        event_base_free(base);
    if (rc == 0)
        log_info("order-service stopped");
    return rc;
}
