/*
 * cart-service: wires configuration, the HTTP server, the producer and the
 * background bootstrap together on the shared service skeleton
 * (platform/service.h), and runs the graceful shutdown: SIGTERM/SIGINT ->
 * stop accepting, refuse new writes, wait (at most DELIVERY_TIMEOUT_MS + 1 s)
 * for the writes in flight to be acknowledged, purge whatever is left (those
 * clients get 503), let the replies drain, flush, exit 0. A second signal
 * skips the wait.
 */
#include "cart_api.h"
#include "cart_bootstrap.h"
#include "cart_config.h"
#include "cart_producer.h"

#include "event/avro_codec.h"
#include "event/order_schema.h"
#include "platform/clock.h"
#include "platform/log.h"
#include "platform/service.h"

#include <event2/event.h>
#include <stdio.h>
#include <string.h>

#define DRAIN_TICK_MS 50

typedef struct {
    cart_config cfg;
    codec *codec;
    cart_bootstrap *boot;
    cart_producer *prod;
    cart_app app;
    int app_ready;
    struct event *drain;
    service_loop *loop; /* set by the first signal */
    double deadline;
} cart_service;

static void on_drain_tick(evutil_socket_t fd, short what, void *arg)
{
    cart_service *s = arg;
    (void)fd;
    (void)what;
    if (atomic_load(&s->app.pending) == 0) {
        event_del(s->drain);
        service_exit_soon(s->loop);
    } else if (clock_mono_s() > s->deadline) {
        log_warn("shutdown: %ld writes still unacknowledged, answering 503",
                 atomic_load(&s->app.pending));
        event_del(s->drain);
        cart_producer_purge(s->app.producer);
        service_exit_soon(s->loop);
    }
}

static void cart_shutdown(void *svc, service_loop *loop, int sig)
{
    cart_service *s = svc;
    log_info("signal %d: shutting down, %ld writes in flight", sig, atomic_load(&s->app.pending));
    s->loop = loop;
    atomic_store(&s->app.shutting_down, 1);
    s->deadline = clock_mono_s() + (s->cfg.delivery_timeout_ms + 1000) / 1000.0;
    struct timeval tv = {0, DRAIN_TICK_MS * 1000};
    if (!s->drain || event_add(s->drain, &tv) != 0)
        service_exit_now(loop);
}

static int cart_configure(void *svc, const char **level, char *err, size_t errlen)
{
    cart_service *s = svc;
    if (cart_config_load(&s->cfg, err, errlen) != 0)
        return -1;
    *level = s->cfg.log_level;
    return 0;
}

static void cart_log_config(void *svc)
{
    (void)svc;
    cart_config_log();
}

static int cart_setup(void *svc, struct event_base *base, service_front *front, char *err,
                      size_t errlen)
{
    cart_service *s = svc;
    s->codec = codec_new(order_schema_json, err, errlen);
    if (!s->codec)
        return -1;
    s->boot = cart_bootstrap_start(&s->cfg, codec_reader_schema_json(s->codec), err, errlen);
    if (!s->boot)
        return -1;
    cart_app_init(&s->app, &s->cfg, s->boot);
    s->app_ready = 1;
    s->prod = cart_producer_new(base, &s->cfg, cart_on_delivery, cart_on_brokers_down, &s->app, err,
                                errlen);
    if (!s->prod)
        return -1;
    s->app.producer = s->prod;
    s->drain = event_new(base, -1, EV_PERSIST, on_drain_tick, s);
    if (!s->drain) {
        snprintf(err, errlen, "cannot install signal handlers");
        return -1;
    }
    front->http = (http_config){
        .listen_addr = s->cfg.http_host,
        .port = s->cfg.http_port,
        .max_body_bytes = s->cfg.max_body_bytes,
        .idle_timeout_s = s->cfg.idle_timeout_s,
        .header_timeout_s = s->cfg.header_timeout_s,
        .body_timeout_s = s->cfg.body_timeout_s,
        .max_connections = s->cfg.max_connections,
        .threads = s->cfg.http_threads,
        .thread_init = cart_thread_init,
        .thread_free = cart_thread_free,
    };
    front->routes = cart_routes(&front->nroutes);
    front->app = &s->app;
    front->docs_ui_dir = s->cfg.docs_ui_dir;
    snprintf(front->listening, sizeof front->listening, "(topic %s)", s->cfg.topic);
    return 0;
}

static void cart_before_http_free(void *svc)
{
    cart_service *s = svc;
    /* Reports that still arrive must not answer calls of a freed server. */
    if (s->app_ready && s->prod && atomic_load(&s->app.pending) > 0)
        cart_producer_purge(s->prod);
}

static void cart_teardown(void *svc)
{
    cart_service *s = svc;
    if (s->app_ready)
        s->app.http_gone = 1;
    cart_producer_free(s->prod, 2000);
    cart_bootstrap_stop(s->boot);
    if (s->drain)
        event_free(s->drain);
    codec_free(s->codec);
}

int main(int argc, char **argv)
{
    static const service_def def = {
        .name = "cart-service",
        .help = cart_config_help,
        .configure = cart_configure,
        .log_config = cart_log_config,
        .setup = cart_setup,
        .shutdown = cart_shutdown,
        .before_http_free = cart_before_http_free,
        .teardown = cart_teardown,
    };
    static cart_service svc;
    return service_main(&def, &svc, argc, argv);
}
