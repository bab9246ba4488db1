/*
 * order_api_health: GET /health/live and GET /health/ready (see
 * order_health.h for what each decides). GET /health, the detailed status,
 * stays in order_api.c.
 */
#include "query/order_api_int.h"

#include "order_health.h"
#include "platform/clock.h"
#include "platform/health.h"

void order_api_health_live(http_call *call)
{
    order_app *a = call->app;
    order_thread *t = call->thread_ctx;
    order_status s;
    order_status_read(a->status, &s);
    int64_t age = clock_mono_ms() - order_status_last_beat(a->status);
    health_report r;
    order_health_live(&s, age, a->cfg->live_consumer_timeout_ms, &r);
    health_reply(call, &t->w, "order-service", &r);
}

void order_api_health_ready(http_call *call)
{
    order_app *a = call->app;
    order_thread *t = call->thread_ctx;
    order_status s;
    order_status_read(a->status, &s);
    /* the store as the API sees it: a cheap indexed read on this thread's connection */
    int64_t next;
    char err[256] = "";
    store_status rs = store_get_position(t->st, a->cfg->topic, 0, &next, err, sizeof err);
    int readable = rs == STORE_OK || rs == STORE_NOT_FOUND;
    health_report r;
    order_health_ready(&s, readable ? NULL : (err[0] ? err : store_status_name(rs)),
                       a->cfg->ready_stall_ms, &r);
    health_reply(call, &t->w, "order-service", &r);
}
