/*
 * service: the start-up and shutdown skeleton both services share, and the
 * two HTTP handlers they serve alike (GET /metrics, GET /openapi.yaml).
 *
 * service_main() runs, in order: the command line (--help), the
 * configuration (an error exits 2 with the variable's name on stderr),
 * logging, the service's own set-up on a fresh event loop, the HTTP server
 * (bound now, so a taken port fails at once), the service's start hook,
 * SIGTERM/SIGINT, and the loop. The first signal stops accepting and hands
 * over to the service's shutdown hook (default: let the answers in flight go
 * out for SERVICE_REPLY_DRAIN_MS, then leave the loop); a second one leaves
 * the loop at once. Then the HTTP server and the service are freed, in the
 * order the hooks say. Exit 0 after a clean stop, 1 after a failure (logged).
 */
#ifndef SERVICE_H
#define SERVICE_H

#include "platform/docs_ui.h"
#include "platform/http.h"
#include "platform/metrics.h"

#include <stddef.h>
#include <stdio.h>

#define SERVICE_MAX_HEADER_BYTES 16384
#define SERVICE_REPLY_DRAIN_MS 200

typedef struct service_loop service_loop;

/* What a service builds in its set-up hook: its HTTP front. */
typedef struct {
    http_config http; /* max_header_bytes is SERVICE_MAX_HEADER_BYTES unless set */
    const http_route *routes;
    size_t nroutes;
    void *app;               /* handlers' call->app */
    char listening[256];     /* extra words for the "listening" log line, e.g. "(topic t)" */
    const char *docs_ui_dir; /* DOCS_UI_DIR for GET /docs (platform/docs_ui.h); may be NULL */
} service_front;

typedef struct {
    const char *name;        /* "cart-service": command line, logs, messages */
    void (*help)(FILE *out); /* --help text */
    /* Reads the settings (before logging is up): 0, or -1 with "NAME: reason" in err.
     * *level: the LOG_LEVEL value. */
    int (*configure)(void *svc, const char **level, char *err, size_t errlen);
    /* Logs the effective settings (logging is up). */
    void (*log_config)(void *svc);
    /* Builds the service on base and describes its HTTP front: 0, or -1 + err. */
    int (*setup)(void *svc, struct event_base *base, service_front *front, char *err,
                 size_t errlen);
    /* Optional: runs once the server is bound, before it serves (start threads). */
    int (*start)(void *svc, char *err, size_t errlen);
    /* Optional: the first signal (accepting stops right after it returns). It
     * must end with service_exit_soon() or service_exit_now(), now or from a
     * later event. */
    void (*shutdown)(void *svc, service_loop *loop, int sig);
    /* Optional: after the loop, before the HTTP server is freed (answer or drop what waits). */
    void (*before_http_free)(void *svc);
    /* Frees what setup built (also after a failed setup: free what exists). */
    void (*teardown)(void *svc);
} service_def;

/* Runs the service; returns the process exit code. */
int service_main(const service_def *def, void *svc, int argc, char **argv);

/* From the shutdown hook: leave the loop after SERVICE_REPLY_DRAIN_MS / at once. */
void service_exit_soon(service_loop *loop);
void service_exit_now(service_loop *loop);
/* The loop's event_base (for the shutdown hook's own timers). */
struct event_base *service_loop_base(service_loop *loop);

/* GET /openapi.yaml: the compiled-in docs/openapi.yaml. */
void service_handle_openapi(http_call *call);

/* The routes of GET /docs (platform/docs_ui.h; loaded by service_main after setup). */
/* clang-format off */
#define SERVICE_DOCS_ROUTES                                                   \
    {"/docs", HTTP_M_GET, docs_ui_handle_page},                               \
    {"/docs/swagger-ui.css", HTTP_M_GET, docs_ui_handle_css},                 \
    {"/docs/swagger-ui-bundle.js", HTTP_M_GET, docs_ui_handle_bundle}
/* clang-format on */

/* Renders a service's own metric families (after the shared HTTP ones). */
typedef void (*service_metrics_fn)(metrics_text *t, void *arg);
/* Answers GET /metrics: the HTTP families, then render(t, arg); 500 if rendering failed. */
void service_reply_metrics(http_call *call, service_metrics_fn render, void *arg);

#endif
