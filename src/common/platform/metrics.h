/*
 * metrics: Prometheus counters, gauges and histograms, lock-free (C11 atomics)
 * so the hot paths (HTTP handlers, the consume loop) pay one atomic add, and a
 * renderer for the text exposition format (version 0.0.4) served at /metrics.
 *
 * Metrics are plain structs a service owns statically; rendering is explicit
 * (the service lists its families), which keeps names reviewable in one place.
 * HTTP request counts and latencies are shared: http_call.c records them for every
 * route, both services render them with metrics_http_render().
 */
#ifndef METRICS_H
#define METRICS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    atomic_ullong v;
} metrics_counter;

typedef struct {
    atomic_llong v;
} metrics_gauge;

#define METRICS_HIST_BUCKETS 16

typedef struct {
    atomic_ullong bucket[METRICS_HIST_BUCKETS]; /* non-cumulative; +Inf is count */
    atomic_ullong count;
    atomic_ullong sum_us; /* microseconds, rendered as seconds */
} metrics_histogram;

/* Upper bounds (seconds) of the histogram buckets: 100 us .. 10 s. */
extern const double metrics_hist_bounds[METRICS_HIST_BUCKETS];

static inline void metrics_add(metrics_counter *c, unsigned long long n)
{
    atomic_fetch_add_explicit(&c->v, n, memory_order_relaxed);
}
static inline void metrics_gauge_set(metrics_gauge *g, long long v)
{
    atomic_store_explicit(&g->v, v, memory_order_relaxed);
}
void metrics_observe(metrics_histogram *h, double seconds);

/* Text output buffer; errors (out of memory) are sticky. */
typedef struct {
    char *buf;
    size_t len, cap;
    int failed;
} metrics_text;

void metrics_text_init(metrics_text *t);
void metrics_text_free(metrics_text *t);
/* # HELP and # TYPE lines; type is "counter", "gauge" or "histogram". */
void metrics_text_family(metrics_text *t, const char *name, const char *type, const char *help);
/* One sample. labels: already formatted, e.g. `reason="DUPLICATE_ORDER"`, or NULL. */
void metrics_text_sample(metrics_text *t, const char *name, const char *labels, double value);
/* _bucket/_sum/_count samples of one histogram (family line written separately). */
void metrics_text_histogram(metrics_text *t, const char *name, const char *labels,
                            const metrics_histogram *h);
/* Escapes a label value into out (backslash, quote, newline). */
void metrics_label_escape(const char *in, char *out, size_t outlen);

/* HTTP metrics shared by both services (routes registered once at start-up). */
#define METRICS_HTTP_MAX_ROUTES 16
void metrics_http_register_route(int index, const char *path);
/* route: index from the route table, or -1 for an unknown path. */
void metrics_http_observe(int route, int status, double seconds);
void metrics_http_render(metrics_text *t);

#endif
