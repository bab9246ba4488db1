/*
 * service: see service.h. One skeleton so that both services parse their
 * command line, report configuration errors, install signals and shut down
 * the same way; only what differs (what they build, how they drain) is a hook.
 */
#include "platform/service.h"

#include "platform/log.h"
#include "platform/openapi_spec.h"

#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

struct service_loop {
    struct event_base *base;
    http_server *srv;
    const service_def *def;
    void *svc;
    int signals;
};

static int service_cli(int argc, char **argv, const char *name, void (*help)(FILE *out))
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            help(stdout);
            return 0;
        }
        fprintf(stderr, "%s: unknown argument '%s' (try --help)\n", name, argv[i]);
        return 2;
    }
    return -1;
}

void service_exit_soon(service_loop *loop)
{
    struct timeval tv = {0, SERVICE_REPLY_DRAIN_MS * 1000};
    event_base_loopexit(loop->base, &tv);
}

void service_exit_now(service_loop *loop)
{
    event_base_loopbreak(loop->base);
}

struct event_base *service_loop_base(service_loop *loop)
{
    return loop->base;
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    service_loop *l = arg;
    (void)what;
    if (++l->signals > 1) {
        log_warn("second signal: stopping now");
        service_exit_now(l);
        return;
    }
    if (l->def->shutdown) {
        l->def->shutdown(l->svc, l, (int)sig);
        http_server_stop_accepting(l->srv);
    } else {
        log_info("signal %d: shutting down", (int)sig);
        http_server_stop_accepting(l->srv);
        service_exit_soon(l);
    }
}

/* Everything after the settings: returns 0 after a clean stop, -1 + err. */
static int service_run(const service_def *d, void *svc, service_loop *l, char *err, size_t errlen)
{
    service_front front;
    memset(&front, 0, sizeof front);
    l->base = http_base_new();
    if (!l->base) {
        snprintf(err, errlen, "event_base_new failed");
        return -1;
    }
    if (d->setup(svc, l->base, &front, err, errlen) != 0)
        return -1;
    (void)docs_ui_load(front.docs_ui_dir, d->name); /* missing: /docs answers 503, logged */
    if (!front.http.max_header_bytes)
        front.http.max_header_bytes = SERVICE_MAX_HEADER_BYTES;
    l->srv =
        http_server_new(l->base, &front.http, front.routes, front.nroutes, front.app, err, errlen);
    if (!l->srv)
        return -1;
    if ((d->start && d->start(svc, err, errlen) != 0) ||
        http_server_start(l->srv, err, errlen) != 0)
        return -1;
    struct event *sigterm = evsignal_new(l->base, SIGTERM, on_signal, l);
    struct event *sigint = evsignal_new(l->base, SIGINT, on_signal, l);
    int rc = -1;
    if (!sigterm || !sigint || event_add(sigterm, NULL) != 0 || event_add(sigint, NULL) != 0) {
        snprintf(err, errlen, "cannot install signal handlers");
        goto out;
    }
    log_info("%s listening on http://%s:%d %s", d->name, front.http.listen_addr, front.http.port,
             front.listening);
    if (event_base_dispatch(l->base) < 0) {
        snprintf(err, errlen, "event loop failed");
        goto out;
    }
    rc = 0;
out:
    if (sigterm)
        event_free(sigterm);
    if (sigint)
        event_free(sigint);
    return rc;
}

int service_main(const service_def *d, void *svc, int argc, char **argv)
{
    int rc = service_cli(argc, argv, d->name, d->help);
    if (rc >= 0)
        return rc;
    char err[512] = "";
    const char *level = NULL;
    if (d->configure(svc, &level, err, sizeof err) != 0) {
        fprintf(stderr, "%s: configuration error: %s\n", d->name, err);
        return 2;
    }
    if (log_init(d->name, level) != 0) {
        fprintf(stderr, "%s: LOG_LEVEL '%s' is not debug, info, warn or error\n", d->name, level);
        return 2;
    }
    d->log_config(svc);

    service_loop l;
    memset(&l, 0, sizeof l);
    l.def = d;
    l.svc = svc;
    rc = service_run(d, svc, &l, err, sizeof err) == 0 ? 0 : 1;
    if (rc != 0)
        log_error("%s: %s", d->name, err);
    if (d->before_http_free)
        d->before_http_free(svc);
    http_server_free(l.srv);
    d->teardown(svc);
    if (l.base)
        event_base_free(l.base);
    docs_ui_free();
    if (rc == 0)
        log_info("%s stopped", d->name);
    return rc;
}

void service_handle_openapi(http_call *call)
{
    http_reply_typed(call, 200, "application/yaml", openapi_yaml, strlen(openapi_yaml));
}

void service_reply_metrics(http_call *call, service_metrics_fn render, void *arg)
{
    metrics_text t;
    metrics_text_init(&t);
    metrics_http_render(&t);
    render(&t, arg);
    if (t.failed)
        http_reply_error(call, 500, "cannot render metrics");
    else
        http_reply_typed(call, 200, "text/plain; version=0.0.4", t.buf, t.len);
    metrics_text_free(&t);
}
