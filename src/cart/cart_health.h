/*
 * cart_health: GET /health/live and GET /health/ready of cart-service
 * (platform/health.h for the answer's shape). GET /health, the detailed
 * status, stays in cart_api.c.
 *
 * Live: the event loop answers (this answer is its proof); every HTTP call,
 * delivery report and producer poll runs on that one loop, so nothing else
 * can be wedged without it. A Kafka outage never fails it.
 * Ready: not shutting down, topics ensured, the schema registered, and the
 * producer reaches a broker (the bootstrap's probe, corrected by the
 * producer's own reports).
 */
#ifndef CART_HEALTH_H
#define CART_HEALTH_H

#include "cart_api.h"

#include "platform/health.h"

/* The readiness checks for a bootstrap snapshot (pure: unit-testable). */
void cart_health_ready_checks(const cart_status *st, int shutting_down, health_report *r);

void cart_health_live(http_call *call);
void cart_health_ready(http_call *call);

#endif
