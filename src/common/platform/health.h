/*
 * health: the answer of GET /health/live and GET /health/ready, shared by
 * both services so an orchestrator reads one format.
 *
 * A probe is a list of named checks, each ok or failing with a reason. The
 * answer is 200 {"status":"ok","checks":{...}} when every check is ok, else
 * 503 (with Retry-After) {"status":"unavailable","detail":"<failing names>",
 * "checks":{"<name>":{"ok":false,"detail":"why"},...}}. Liveness answers
 * "restart me?" and must not fail because a dependency is down; readiness
 * answers "send me traffic?" and names every dependency it waits for.
 */
#ifndef HEALTH_H
#define HEALTH_H

#include "platform/http.h"
#include "platform/jsonw.h"

#include <stddef.h>

#define HEALTH_DETAIL_MAX 256
#define HEALTH_CHECKS_MAX 16

typedef struct {
    const char *name; /* static text, e.g. "kafka" */
    int ok;
    char detail[HEALTH_DETAIL_MAX]; /* why it fails ("" when ok) */
} health_check;

typedef struct {
    health_check checks[HEALTH_CHECKS_MAX];
    size_t n;
} health_report;

void health_report_init(health_report *r);
/* Adds a check; why (printf format) is used only when !ok. Beyond
 * HEALTH_CHECKS_MAX checks are dropped (a programming error, asserted). */
void health_add(health_report *r, const char *name, int ok, const char *why, ...)
    __attribute__((format(printf, 4, 5)));
/* 1 when every check is ok. */
int health_ok(const health_report *r);
/* The check named name, or NULL. */
const health_check *health_find(const health_report *r, const char *name);
/* 1 when the check named name passes, 0 when it fails, -1 when there is none. */
int health_passed(const health_report *r, const char *name);
/* Renders the report into w (reset first) and answers the call: 200 or 503. */
void health_reply(http_call *call, jsonw *w, const char *service, const health_report *r);

#endif
