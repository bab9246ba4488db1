/*
 * order-service: wires configuration, the store-backed consumer (ingest/)
 * and the HTTP API (query/) together on the shared service skeleton
 * (platform/service.h). The two sides meet only here and on the status
 * board. Graceful shutdown: SIGTERM/SIGINT -> stop accepting, let the answers
 * in flight go out, stop HTTP; then the consumer finishes its batch, commits
 * store and offsets, leaves the group and closes the store; exit 0. A second
 * signal stops the HTTP side at once.
 */
#include "order_config.h"
#include "order_status.h"

#include "ingest/consumer.h"
#include "ingest/ingest_metrics.h"
#include "platform/config.h"
#include "platform/log.h"
#include "platform/service.h"
#include "query/order_api.h"
#include "replay/replay_api.h"
#include "replay/replay_lookup.h"
#include "store/store.h"

#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    order_config cfg;
    order_status_board *status;
    order_consumer *consumer;
    order_app app;
    replay_runner *replay;        /* DLQ replay (replay/): its own thread */
    replay_lookup *replay_lookup; /* GET /dlq/replay/{id} from the store: its own thread */
    replay_api replay_api;
    http_route *routes; /* query/'s routes, then replay/'s */
} order_service;

/* The server's app is the order_app inside order_service: replay/'s handlers find theirs. */
static replay_api *order_replay_api(void *app)
{
    order_service *s = (order_service *)((char *)app - offsetof(order_service, app));
    return &s->replay_api;
}

/* query/'s and replay/'s routes in one table. */
static int order_routes(order_service *s, service_front *front, char *err, size_t errlen)
{
    size_t nq, nr;
    const http_route *q = order_api_routes(&nq);
    const http_route *r = replay_api_routes(&nr, order_replay_api);
    s->routes = calloc(nq + nr, sizeof *s->routes);
    if (!s->routes) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    memcpy(s->routes, q, nq * sizeof *q);
    memcpy(s->routes + nq, r, nr * sizeof *r);
    front->routes = s->routes;
    front->nroutes = nq + nr;
    return 0;
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

static int order_configure(void *svc, const char **level, char *err, size_t errlen)
{
    order_service *s = svc;
    if (order_config_load(&s->cfg, err, errlen) != 0)
        return -1;
    *level = s->cfg.log_level;
    return 0;
}

static void order_log_config(void *svc)
{
    order_service *s = svc;
    size_t nvars;
    config_var *vars = order_config_vars(&nvars);
    config_log(vars, nvars);
    if (s->cfg.test_fail_prefix[0])
        log_warn("TEST-ONLY failure injection is on: orderIds starting with '%s' fail %d times",
                 s->cfg.test_fail_prefix, s->cfg.test_fail_times);
    if (s->cfg.test_crash_prefix && s->cfg.test_crash_prefix[0])
        log_warn(
            "TEST-ONLY crash injection is on: the process exits on orderIds starting with '%s'",
            s->cfg.test_crash_prefix);
}

static int order_setup(void *svc, struct event_base *base, service_front *front, char *err,
                       size_t errlen)
{
    order_service *s = svc;
    (void)base;
    /* Broken pipes are reported by write(2); they must not kill the service. */
    signal(SIGPIPE, SIG_IGN);
    s->status = order_status_board_new();
    if (!s->status) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    /* before any store handle opens: every one of the process uses the same */
    if (store_sqlite_exclusive(s->cfg.store_sqlite_exclusive) != 0) {
        snprintf(err, errlen, "STORE_SQLITE_EXCLUSIVE: a store handle is open already");
        return -1;
    }
    s->consumer = consumer_new(&s->cfg, s->status, err, errlen);
    if (!s->consumer)
        return -1;
    s->app = (order_app){&s->cfg, s->status, ingest_metrics_render, NULL, NULL, NULL};
    topic_pool_config pc = {.workers = s->cfg.topic_read_workers,
                            .queue_max = s->cfg.topic_read_queue,
                            .worker_init = order_api_topic_worker_init,
                            .worker_free = order_api_topic_worker_free,
                            .app = &s->app};
    s->app.topics = topic_pool_new(&pc, err, errlen);
    if (!s->app.topics)
        return -1;
    read_wait_config wc = {.store_location = s->cfg.store_location,
                           .topic = s->cfg.topic,
                           .max_waiters = s->cfg.read_wait_max,
                           .poll_ms = s->cfg.read_wait_poll_ms,
                           .read_timeout_ms = s->cfg.store_read_timeout_ms,
                           .answer = order_api_wait_answer};
    s->app.waits = read_wait_new(&wc, err, errlen);
    if (!s->app.waits)
        return -1;
    order_status_on_commit(s->status, read_wait_kick, s->app.waits);
    if (store_is_url(s->cfg.store_location)) {
        /* a server store: plain order-details reads are batched off the loops */
        order_reader_config oc = {.store_location = s->cfg.store_location,
                                  .max_inflight = s->cfg.read_queue_max,
                                  .read_timeout_ms = s->cfg.store_read_timeout_ms,
                                  .answer = order_api_lookup_answer};
        s->app.reader = order_reader_new(&oc, err, errlen);
        if (!s->app.reader)
            return -1;
    }
    front->http = (http_config){
        .listen_addr = s->cfg.http_host,
        .port = s->cfg.http_port,
        .max_body_bytes = s->cfg.http_max_body,
        .idle_timeout_s = s->cfg.http_idle_timeout_s,
        .header_timeout_s = s->cfg.http_header_timeout_s,
        .body_timeout_s = s->cfg.http_body_timeout_s,
        .max_connections = s->cfg.http_max_connections,
        .threads = s->cfg.http_threads,
        .thread_init = order_api_thread_init,
        .thread_free = order_api_thread_free,
    };
    replay_config rc = {.bootstrap = s->cfg.bootstrap,
                        .group_id = s->cfg.group_id,
                        .dlq_topic = s->cfg.dlq_topic,
                        .topic = s->cfg.topic,
                        .store_location = s->cfg.store_location,
                        .rate = s->cfg.replay_rate,
                        .delivery_timeout_ms = s->cfg.replay_timeout_ms};
    s->replay = replay_runner_new(&rc, err, errlen);
    if (!s->replay)
        return -1;
    s->replay_lookup = replay_lookup_new(s->cfg.store_location, err, errlen);
    if (!s->replay_lookup)
        return -1;
    s->replay_api = (replay_api){s->replay, s->replay_lookup, s->cfg.replay_token, s->cfg.topic};
    if (order_routes(s, front, err, errlen) != 0)
        return -1;
    front->app = &s->app;
    front->docs_ui_dir = s->cfg.docs_ui_dir;
    char where[192];
    store_describe(s->cfg.store_location, where, sizeof where);
    snprintf(front->listening, sizeof front->listening, "(topic %s, store %s)", s->cfg.topic,
             where);
    return 0;
}

static int order_start(void *svc, char *err, size_t errlen)
{
    order_service *s = svc;
    if (read_wait_start(s->app.waits, err, errlen) != 0)
        return -1;
    if (s->app.reader && order_reader_start(s->app.reader, err, errlen) != 0)
        return -1;
    return consumer_start(s->consumer, err, errlen);
}

/* The first signal: parked read-your-writes requests get their 503 while the
 * loops still write answers, then the default drain. */
static void order_shutdown(void *svc, service_loop *loop, int sig)
{
    order_service *s = svc;
    log_info("signal %d: shutting down", sig);
    read_wait_stop(s->app.waits);
    service_exit_soon(loop);
}

/* The topic reads end before the HTTP server goes: their answers are queued
 * to the loops, and freeing the server runs them (they only release). */
static void order_before_http_free(void *svc)
{
    order_service *s = svc;
    topic_pool_stop(s->app.topics);
    read_wait_stop(s->app.waits); /* (a failed start, a second signal): the answers only release */
    /* queued lookups get their 503, the round trip in progress its answers; joined */
    order_reader_stop(s->app.reader);
    /* The replay thread answers POSTs it holds (deferred calls) before the server goes; a
     * replay still running is aborted: its unacknowledged records stay unmarked. */
    replay_runner_free(s->replay);
    s->replay = NULL;
    replay_lookup_free(s->replay_lookup); /* the same for the GETs it holds */
    s->replay_lookup = NULL;
}

static void order_teardown(void *svc)
{
    order_service *s = svc;
    topic_pool_free(s->app.topics);
    s->app.topics = NULL;
    /* (when the front never started) */
    replay_runner_free(s->replay);
    s->replay = NULL;
    replay_lookup_free(s->replay_lookup);
    s->replay_lookup = NULL;
    free(s->routes);
    s->routes = NULL;
    /* Finishes the batch, commits store and offsets, leaves the group, closes the store. */
    consumer_free(s->consumer);
    /* after the consumer: its commits call read_wait_kick until it stops */
    read_wait_free(s->app.waits);
    s->app.waits = NULL;
    /* after the HTTP server: its last completions gave their records back */
    order_reader_free(s->app.reader);
    s->app.reader = NULL;
    order_status_board_free(s->status);
}

int main(int argc, char **argv)
{
    static const service_def def = {
        .name = "order-service",
        .help = usage,
        .configure = order_configure,
        .log_config = order_log_config,
        .setup = order_setup,
        .start = order_start,
        .shutdown = order_shutdown,
        .before_http_free = order_before_http_free,
        .teardown = order_teardown,
    };
    order_service svc = {0};
    return service_main(&def, &svc, argc, argv);
}
