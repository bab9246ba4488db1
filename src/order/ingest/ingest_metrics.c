/* ingest_metrics: see ingest_metrics.h. Names follow Prometheus conventions:
 * _total counters, _seconds units, one family per concept with labels. */
#include "ingest/ingest_metrics.h"

#include "event/dlq_info.h"

#include <stdio.h>
#include <string.h>

static const char *const dlq_reasons[] = {DLQ_R_DESERIALIZATION, DLQ_R_INVALID_EVENT,
                                          DLQ_R_DUPLICATE, DLQ_R_NOT_FOUND, DLQ_R_PROCESSING};
#define NREASONS (sizeof dlq_reasons / sizeof dlq_reasons[0])

static metrics_counter m_dlq[NREASONS + 1]; /* last: any other reason */
static metrics_counter m_retry_wait_ms;
static metrics_counter m_redelivered;
static metrics_histogram m_event_lag;

void ingest_metrics_dead_lettered(const char *reason)
{
    size_t i = 0;
    while (i < NREASONS && strcmp(dlq_reasons[i], reason) != 0)
        i++;
    metrics_add(&m_dlq[i], 1);
}

void ingest_metrics_retry_scheduled(int64_t delay_ms)
{
    if (delay_ms > 0)
        metrics_add(&m_retry_wait_ms, (unsigned long long)delay_ms);
}

void ingest_metrics_duplicate_redelivered(void)
{
    metrics_add(&m_redelivered, 1);
}

void ingest_metrics_event_applied(int64_t event_ms, int64_t now_ms)
{
    /* a producer clock ahead of ours shows as zero lag, not negative */
    metrics_observe(&m_event_lag, now_ms > event_ms ? (double)(now_ms - event_ms) / 1000.0 : 0.0);
}

static void metric(metrics_text *t, const char *name, const char *type, const char *help, double v)
{
    metrics_text_family(t, name, type, help);
    metrics_text_sample(t, name, NULL, v);
}

void ingest_metrics_render(metrics_text *t, void *status)
{
    const order_status *s = status;
    char labels[96];
    metric(t, "order_events_consumed_total", "counter", "Records read from the events topic.",
           (double)s->consumed);
    metric(t, "order_events_applied_total", "counter", "Events applied to the store.",
           (double)s->applied);
    metric(t, "order_events_skipped_total", "counter",
           "Records skipped because the store already had them.", (double)s->skipped);
    metric(t, "order_duplicates_redelivered_total", "counter",
           "Events identical to the stored state (a CREATE equal to the stored order, an UPDATE "
           "equal to the last applied one): redelivered copies, not applied again.",
           (double)atomic_load_explicit(&m_redelivered.v, memory_order_relaxed));
    metrics_text_family(t, "order_dlq_messages_total", "counter",
                        "Records sent to the DLQ (acknowledged by Kafka), by reason.");
    for (size_t i = 0; i <= NREASONS; i++) {
        snprintf(labels, sizeof labels, "reason=\"%s\"", i < NREASONS ? dlq_reasons[i] : "OTHER");
        metrics_text_sample(t, "order_dlq_messages_total", labels,
                            (double)atomic_load_explicit(&m_dlq[i].v, memory_order_relaxed));
    }
    metric(t, "order_event_retries_total", "counter", "Retries scheduled after failures.",
           (double)s->retries);
    metric(t, "order_consumer_fetch_wakes_total", "counter",
           "Watermark queries sent to wake a partition's fetcher when the fetched queue ran dry "
           "after a full batch (catch-up; librdkafka 2.0.2 would resume it only at its next "
           "wake-up).",
           (double)s->fetch_wakes);
    metric(t, "order_consumer_offset_commits_total", "counter",
           "Commits of the consumer's positions to Kafka (a copy for lag tools: the store "
           "decides where to start), at most one a second while positions move.",
           (double)s->offset_commits);
    metric(t, "order_consumer_offset_commit_failures_total", "counter",
           "Commits of the positions to Kafka that failed (the broker or the group coordinator "
           "unreachable); the positions are sent again at the next tick.",
           (double)s->offset_commit_failures);
    metric(t, "order_retry_wait_seconds_total", "counter",
           "Backoff time scheduled for retries (a partition waits, others flow).",
           (double)atomic_load_explicit(&m_retry_wait_ms.v, memory_order_relaxed) / 1000.0);
    metrics_text_family(t, "order_consumer_lag", "gauge",
                        "Records behind the end of each assigned partition.");
    for (int i = 0; i < s->nassigned; i++) {
        if (s->part_lag[i] < 0)
            continue;
        snprintf(labels, sizeof labels, "partition=\"%d\"", s->assigned[i]);
        metrics_text_sample(t, "order_consumer_lag", labels, (double)s->part_lag[i]);
    }
    metrics_text_family(t, "order_event_lag_seconds", "histogram",
                        "From an event's timestamp (set by the producer) to its application.");
    metrics_text_histogram(t, "order_event_lag_seconds", NULL, &m_event_lag);
    metric(t, "order_orders_stored", "gauge", "Orders in the store.", (double)s->orders);
}
