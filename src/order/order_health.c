/* order_health: see order_health.h. */
#include "order_health.h"

#include <string.h>

int64_t order_stall_update(order_stall *t, int64_t now_ms, int64_t lag, int64_t position)
{
    if (lag <= 0 || !t->armed || position != t->position) {
        t->armed = lag > 0;
        t->position = position;
        t->since_ms = now_ms;
        return 0;
    }
    return now_ms - t->since_ms;
}

void order_health_live(const order_status *s, int64_t beat_age_ms, int64_t bound_ms,
                       health_report *r)
{
    health_report_init(r);
    /* this answer comes from an HTTP loop: it turns */
    health_add(r, "eventLoop", 1, NULL);
    if (!s->running)
        health_add(r, "consumerThread", 0, "the consume thread has stopped (see the log)");
    else
        health_add(r, "consumerThread", beat_age_ms <= bound_ms,
                   "no heartbeat from the consume thread for %lld ms (bound "
                   "LIVE_CONSUMER_TIMEOUT_MS=%lld): it is wedged",
                   (long long)beat_age_ms, (long long)bound_ms);
}

static const char *or_none(const char *s)
{
    return s[0] ? s : "no detail";
}

void order_health_ready(const order_status *s, const char *store_read_error,
                        int64_t stall_window_ms, health_report *r)
{
    health_report_init(r);
    if (!s->running)
        health_add(r, "consumer", 0, "the consume thread has stopped");
    else if (!s->subscribed)
        health_add(r, "consumer", 0, "starting: topics not ensured or not subscribed yet (%s)",
                   or_none(s->last_error));
    else if (s->nassigned == 0 && strcmp(s->group_state, "Stable") != 0)
        health_add(r, "consumer", 0, "no partition assigned yet (group state %s)",
                   s->group_state[0] ? s->group_state : "unknown");
    else
        health_add(r, "consumer", 1, NULL); /* assigned, or idle in a Stable group */
    health_add(r, "kafka", s->kafka_ok, "no Kafka broker answers, or the client failed (%s)",
               or_none(s->last_error));
    if (!s->store_ok)
        health_add(r, "store", 0, "the last store transaction failed: %s", or_none(s->last_error));
    else
        health_add(r, "store", store_read_error == NULL, "store read failed: %s",
                   store_read_error ? store_read_error : "");
    health_add(r, "registry", s->registry_error[0] == '\0', "%s", s->registry_error);
    health_add(r, "dlqProducer", s->dlq_error[0] == '\0', "%s", s->dlq_error);
    health_add(r, "progress", s->stalled_ms < stall_window_ms,
               "stalled: %lld records wait and the position has not moved for %lld ms (bound "
               "READY_STALL_MS=%lld)",
               (long long)s->lag, (long long)s->stalled_ms, (long long)stall_window_ms);
}
