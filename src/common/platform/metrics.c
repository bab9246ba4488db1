/*
 * metrics: see metrics.h. Label sets are fixed at compile time (routes x a
 * short list of status codes), so recording is an index computation and one
 * relaxed atomic add; nothing allocates until a scrape renders the text.
 */
#include "platform/metrics.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const double metrics_hist_bounds[METRICS_HIST_BUCKETS] = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
    0.05,   0.1,     0.25,   0.5,   1.0,    2.5,   5.0,  10.0};

void metrics_observe(metrics_histogram *h, double seconds)
{
    if (seconds < 0)
        seconds = 0;
    int i = 0;
    while (i < METRICS_HIST_BUCKETS && seconds > metrics_hist_bounds[i])
        i++;
    if (i < METRICS_HIST_BUCKETS)
        atomic_fetch_add_explicit(&h->bucket[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->count, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum_us, (unsigned long long)(seconds * 1e6),
                              memory_order_relaxed);
}

void metrics_text_init(metrics_text *t)
{
    memset(t, 0, sizeof *t);
}

void metrics_text_free(metrics_text *t)
{
    free(t->buf);
    memset(t, 0, sizeof *t);
}

static void metrics_printf(metrics_text *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void metrics_printf(metrics_text *t, const char *fmt, ...)
{
    if (t->failed)
        return;
    for (int attempt = 0; attempt < 2; attempt++) {
        size_t room = t->cap - t->len;
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(t->buf ? t->buf + t->len : NULL, t->buf ? room : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            t->failed = 1;
            return;
        }
        if (t->buf && (size_t)n < room) {
            t->len += (size_t)n;
            return;
        }
        size_t cap = t->cap ? t->cap : 4096;
        while (cap < t->len + (size_t)n + 1)
            cap *= 2;
        char *nb = realloc(t->buf, cap);
        if (!nb) {
            t->failed = 1;
            return;
        }
        t->buf = nb;
        t->cap = cap;
    }
    t->failed = 1;
}

void metrics_text_family(metrics_text *t, const char *name, const char *type, const char *help)
{
    metrics_printf(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void metrics_text_sample(metrics_text *t, const char *name, const char *labels, double value)
{
    if (labels && *labels)
        metrics_printf(t, "%s{%s} %.17g\n", name, labels, value);
    else
        metrics_printf(t, "%s %.17g\n", name, value);
}

void metrics_text_histogram(metrics_text *t, const char *name, const char *labels,
                            const metrics_histogram *h)
{
    const char *sep = labels && *labels ? "," : "";
    const char *lab = labels ? labels : "";
    unsigned long long cum = 0;
    /* Read count first: buckets may race ahead but never behind, so the
     * rendered cumulative buckets are clamped to stay <= +Inf. */
    unsigned long long count = atomic_load_explicit(&h->count, memory_order_relaxed);
    for (int i = 0; i < METRICS_HIST_BUCKETS; i++) {
        cum += atomic_load_explicit(&h->bucket[i], memory_order_relaxed);
        metrics_printf(t, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, lab, sep, metrics_hist_bounds[i],
                       cum < count ? cum : count);
    }
    if (cum > count)
        count = cum;
    metrics_printf(t, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, lab, sep, count);
    double sum = (double)atomic_load_explicit(&h->sum_us, memory_order_relaxed) / 1e6;
    if (*lab) {
        metrics_printf(t, "%s_sum{%s} %.6f\n", name, lab, sum);
        metrics_printf(t, "%s_count{%s} %llu\n", name, lab, count);
    } else {
        metrics_printf(t, "%s_sum %.6f\n", name, sum);
        metrics_printf(t, "%s_count %llu\n", name, count);
    }
}

void metrics_label_escape(const char *in, char *out, size_t outlen)
{
    size_t o = 0;
    if (outlen == 0)
        return;
    for (; *in && o + 3 < outlen; in++) {
        if (*in == '\\' || *in == '"') {
            out[o++] = '\\';
            out[o++] = *in;
        } else if (*in == '\n') {
            out[o++] = '\\';
            out[o++] = 'n';
        } else {
            out[o++] = *in;
        }
    }
    out[o] = '\0';
}

/* HTTP: routes x statuses. The status list covers every code the services
 * answer; anything else is counted under "other". */
static const int http_statuses[] = {200, 201, 202, 400, 401, 403, 404, 405,
                                    408, 409, 413, 415, 422, 431, 500, 503};
#define HTTP_NSTATUS (sizeof http_statuses / sizeof http_statuses[0])
#define HTTP_ROUTE_SLOTS (METRICS_HTTP_MAX_ROUTES + 1) /* last: unknown path */

static const char *http_route_names[HTTP_ROUTE_SLOTS];
static metrics_counter http_requests[HTTP_ROUTE_SLOTS][HTTP_NSTATUS + 1];
static metrics_histogram http_latency[HTTP_ROUTE_SLOTS];

void metrics_http_register_route(int index, const char *path)
{
    if (index >= 0 && index < METRICS_HTTP_MAX_ROUTES)
        http_route_names[index] = path;
}

void metrics_http_observe(int route, int status, double seconds)
{
    int r = (route >= 0 && route < METRICS_HTTP_MAX_ROUTES) ? route : METRICS_HTTP_MAX_ROUTES;
    size_t s = HTTP_NSTATUS;
    for (size_t i = 0; i < HTTP_NSTATUS; i++)
        if (http_statuses[i] == status) {
            s = i;
            break;
        }
    metrics_add(&http_requests[r][s], 1);
    metrics_observe(&http_latency[r], seconds);
}

static const char *http_route_label(int r)
{
    if (r == METRICS_HTTP_MAX_ROUTES)
        return "unknown";
    return http_route_names[r];
}

void metrics_http_render(metrics_text *t)
{
    char labels[256], esc[128];
    metrics_text_family(t, "http_requests_total", "counter",
                        "HTTP requests answered, by route and status code.");
    for (int r = 0; r < HTTP_ROUTE_SLOTS; r++) {
        const char *name = http_route_label(r);
        if (!name)
            continue;
        metrics_label_escape(name, esc, sizeof esc);
        for (size_t s = 0; s <= HTTP_NSTATUS; s++) {
            unsigned long long v =
                atomic_load_explicit(&http_requests[r][s].v, memory_order_relaxed);
            if (!v)
                continue;
            if (s < HTTP_NSTATUS)
                snprintf(labels, sizeof labels, "route=\"%s\",status=\"%d\"", esc,
                         http_statuses[s]);
            else
                snprintf(labels, sizeof labels, "route=\"%s\",status=\"other\"", esc);
            metrics_text_sample(t, "http_requests_total", labels, (double)v);
        }
    }
    metrics_text_family(t, "http_request_duration_seconds", "histogram",
                        "Time from request received to response queued, by route.");
    for (int r = 0; r < HTTP_ROUTE_SLOTS; r++) {
        const char *name = http_route_label(r);
        if (!name)
            continue;
        metrics_label_escape(name, esc, sizeof esc);
        snprintf(labels, sizeof labels, "route=\"%s\"", esc);
        metrics_text_histogram(t, "http_request_duration_seconds", labels, &http_latency[r]);
    }
}
