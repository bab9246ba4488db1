/*
 * order_metrics: order-service's own Prometheus metrics beyond the consumer's
 * status counters: dead letters by reason, time scheduled in retry backoff,
 * and the lag from an event's timestamp to its application. Process-wide
 * atomics (one consumer per process), recorded from the consume thread and
 * rendered by the HTTP threads.
 */
#ifndef ORDER_METRICS_H
#define ORDER_METRICS_H

#include "consumer.h"
#include "metrics.h"

#include <stdint.h>

/* reason: one of dlq.h's DLQ_R_* names. */
void order_metrics_dead_lettered(const char *reason);
void order_metrics_retry_scheduled(int64_t delay_ms);
/* event_ms: the event's own timestamp (the producer's clock). */
void order_metrics_event_applied(int64_t event_ms, int64_t now_ms);

/* Renders every order-service family (HTTP ones included) from a status snapshot. */
void order_metrics_render(metrics_text *t, const consumer_status *s);

#endif
