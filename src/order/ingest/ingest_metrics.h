/*
 * ingest_metrics: the consume side's Prometheus metrics beyond the status
 * counters: dead letters by reason, time scheduled in retry backoff,
 * and the lag from an event's timestamp to its application. Process-wide
 * atomics (one consumer per process), recorded from the consume thread and
 * rendered by the HTTP threads.
 */
#ifndef INGEST_METRICS_H
#define INGEST_METRICS_H

#include "order_status.h"

#include "platform/metrics.h"

#include <stdint.h>

/* reason: one of event/dlq_info.h's DLQ_R_* names. */
void ingest_metrics_dead_lettered(const char *reason);
void ingest_metrics_retry_scheduled(int64_t delay_ms);
/* An event identical to the stored state (a redelivered copy): not applied again. */
void ingest_metrics_duplicate_redelivered(void);
/* event_ms: the event's own timestamp (the producer's clock). */
void ingest_metrics_event_applied(int64_t event_ms, int64_t now_ms);

/*
 * Renders order-service's own families from a status snapshot (status: a
 * const order_status *). Shaped as a service_metrics_fn so that main can hand
 * it to the query side, which renders /metrics without knowing ingest.
 */
void ingest_metrics_render(metrics_text *t, void *status);

#endif
