/*
 * cart-service: wires configuration, the HTTP server, the producer and the
 * background bootstrap together, and runs the graceful shutdown:
 * SIGTERM/SIGINT -> stop accepting, refuse new writes, wait (at most
 * DELIVERY_TIMEOUT_MS + 1 s) for the writes in flight to be acknowledged,
 * purge whatever is left (those clients get 503), let the replies drain,
 * flush, exit 0. A second signal skips the wait.
 */
#include "avro_codec.h"
#include "service_config.h"
#include "clock.h"
#include "cart_api.h"
#include "cart_bootstrap.h"
#include "cart_config.h"
#include "cart_producer.h"
#include "http.h"
#include "log.h"
#include "order_schema.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define MAX_HEADER_BYTES 16384
#define DRAIN_TICK_MS 50
#define REPLY_DRAIN_MS 200

typedef struct {
    struct event_base *base;
    http_server *srv;
    cart_app *app;
    struct event *drain;
    int signals;
    double deadline;
} shutdown_ctx;

static void exit_soon(shutdown_ctx *s)
{
    struct timeval tv = {0, REPLY_DRAIN_MS * 1000};
    event_base_loopexit(s->base, &tv);
}

static void on_drain_tick(evutil_socket_t fd, short what, void *arg)
{
    shutdown_ctx *s = arg;
    (void)fd;
    (void)what;
    if (s->app->pending == 0) {
        event_del(s->drain);
        exit_soon(s);
    } else if (clock_mono_s() > s->deadline) {
        log_warn("shutdown: %ld writes still unacknowledged, answering 503", s->app->pending);
        event_del(s->drain);
        cart_producer_purge(s->app->producer);
        exit_soon(s);
    }
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    shutdown_ctx *s = arg;
    (void)what;
    if (++s->signals > 1) {
        log_warn("second signal: stopping now");
        event_base_loopbreak(s->base);
        return;
    }
    log_info("signal %d: shutting down, %ld writes in flight", (int)sig, s->app->pending);
    http_server_stop_accepting(s->srv);
    s->app->shutting_down = 1;
    s->deadline = clock_mono_s() + (s->app->cfg->delivery_timeout_ms + 1000) / 1000.0;
    struct timeval tv = {0, DRAIN_TICK_MS * 1000};
    if (!s->drain || event_add(s->drain, &tv) != 0)
        event_base_loopbreak(s->base);
}

int main(int argc, char **argv)
{
    int rc = service_cli(argc, argv, "cart-service", cart_config_help);
    if (rc >= 0)
        return rc;
    char err[512] = "";
    cart_config cfg;
    if (cart_config_load(&cfg, err, sizeof err) != 0) {
        fprintf(stderr, "cart-service: configuration error: %s\n", err);
        return 2;
    }
    if (service_log_init("cart-service", cfg.log_level) != 0)
        return 2;
    cart_config_log();

    rc = 1;
    struct event_base *base = NULL;
    codec *cd = NULL;
    cart_bootstrap *boot = NULL;
    cart_producer *prod = NULL;
    http_server *srv = NULL;
    struct event *sigterm = NULL, *sigint = NULL;
    cart_app app;
    int app_ready = 0;
    shutdown_ctx sd;
    memset(&sd, 0, sizeof sd);

    cd = codec_new(order_schema_json, err, sizeof err);
    if (!cd)
        goto out;
    base = event_base_new();
    if (!base) {
        snprintf(err, sizeof err, "event_base_new failed");
        goto out;
    }
    boot = cart_bootstrap_start(&cfg, codec_reader_schema_json(cd), err, sizeof err);
    if (!boot)
        goto out;
    cart_app_init(&app, &cfg, cd, boot);
    app_ready = 1;
    prod = cart_producer_new(base, &cfg, cart_on_delivery, cart_on_brokers_down, &app, err,
                             sizeof err);
    if (!prod)
        goto out;
    app.producer = prod;

    http_config hc = {
        .listen_addr = cfg.http_host,
        .port = cfg.http_port,
        .max_body_bytes = cfg.max_body_bytes,
        .max_header_bytes = MAX_HEADER_BYTES,
        .idle_timeout_s = cfg.idle_timeout_s,
        .threads = 1,
    };
    size_t nroutes;
    const http_route *routes = cart_routes(&nroutes);
    srv = http_server_new(base, &hc, routes, nroutes, &app, err, sizeof err);
    if (!srv || http_server_start(srv, err, sizeof err) != 0)
        goto out;

    sd.base = base;
    sd.srv = srv;
    sd.app = &app;
    sd.drain = event_new(base, -1, EV_PERSIST, on_drain_tick, &sd);
    sigterm = evsignal_new(base, SIGTERM, on_signal, &sd);
    sigint = evsignal_new(base, SIGINT, on_signal, &sd);
    if (!sd.drain || !sigterm || !sigint || event_add(sigterm, NULL) != 0 ||
        event_add(sigint, NULL) != 0) {
        snprintf(err, sizeof err, "cannot install signal handlers");
        goto out;
    }
    log_info("cart-service listening on http://%s:%d (topic %s)", cfg.http_host, cfg.http_port,
             cfg.topic);
    if (event_base_dispatch(base) < 0) {
        snprintf(err, sizeof err, "event loop failed");
        goto out;
    }
    rc = 0;
out:
    if (rc != 0)
        log_error("cart-service: %s", err);
    /* Reports that still arrive must not answer calls of a freed server. */
    if (app_ready && prod && app.pending > 0)
        cart_producer_purge(prod);
    http_server_free(srv);
    if (app_ready)
        app.http_gone = 1;
    cart_producer_free(prod, 2000);
    cart_bootstrap_stop(boot);
    if (app_ready)
        cart_app_free(&app);
    if (sigterm)
        event_free(sigterm);
    if (sigint)
        event_free(sigint);
    if (sd.drain)
        event_free(sd.drain);
    codec_free(cd);
    if (base)
        event_base_free(base);
    if (rc == 0)
        log_info("cart-service stopped");
    return rc;
}
