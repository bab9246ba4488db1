/* cart_health: see cart_health.h. */
#include "cart_health.h"

void cart_health_ready_checks(const cart_status *st, int shutting_down, health_report *r)
{
    health_report_init(r);
    health_add(r, "accepting", !shutting_down, "shutting down: no new writes");
    health_add(r, "kafka", st->kafka_ok, "no Kafka broker answers the producer (%s)",
               st->reason[0] ? st->reason : "unreachable");
    health_add(r, "topics", st->topics_ready, "topics not ensured yet (%s)",
               st->reason[0] ? st->reason : "starting");
    health_add(r, "schema", st->schema_id != 0, "schema not registered yet (%s)",
               st->reason[0] ? st->reason : "starting");
}

void cart_health_live(http_call *call)
{
    health_report r;
    health_report_init(&r);
    health_add(&r, "eventLoop", 1, NULL);
    health_reply(call, &((cart_thread *)call->thread_ctx)->out, "cart-service", &r);
}

void cart_health_ready(http_call *call)
{
    cart_app *a = call->app;
    cart_status st;
    cart_bootstrap_status(a->boot, &st);
    health_report r;
    cart_health_ready_checks(&st, atomic_load(&a->shutting_down), &r);
    health_reply(call, &((cart_thread *)call->thread_ctx)->out, "cart-service", &r);
}
