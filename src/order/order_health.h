/*
 * order_health: what GET /health/live and GET /health/ready of order-service
 * decide, as pure functions of the status board's snapshot (so the unit
 * tests judge every case without a broker), and the stall tracker the
 * consume thread feeds.
 *
 * Live (restart me?): the HTTP loop answers (it is answering) and the
 * consume thread turns: its heartbeat is younger than
 * LIVE_CONSUMER_TIMEOUT_MS. A dependency that is down never fails it: the
 * thread keeps turning (and beating) while Kafka, the registry or the store
 * fail.
 *
 * Ready (send me traffic?): consumer running, subscribed and assigned (or
 * legitimately idle: the group is Stable and gave this member nothing),
 * Kafka reachable, store writable (the last transaction succeeded) and
 * readable (this HTTP thread's read), registry answering, DLQ producer
 * usable, and not stalled: records waiting (lag > 0) while the position has
 * not moved for READY_STALL_MS.
 */
#ifndef ORDER_HEALTH_H
#define ORDER_HEALTH_H

#include "order_status.h"

#include "platform/health.h"

#include <stdint.h>

/* Feeds on every status publication: how long records have waited without
 * the position moving (0 while it moves, or when nothing waits). */
typedef struct {
    int armed;        /* lag > 0 at the previous update */
    int64_t position; /* the position signature then */
    int64_t since_ms; /* when it last moved (or records began to wait) */
} order_stall;

/* lag: records waiting (-1 unknown: not counted as stalled); position: any
 * value that changes when the consumer moves (sum of next offsets). */
int64_t order_stall_update(order_stall *t, int64_t now_ms, int64_t lag, int64_t position);

/* beat_age_ms: now minus the last heartbeat; bound_ms: LIVE_CONSUMER_TIMEOUT_MS. */
void order_health_live(const order_status *s, int64_t beat_age_ms, int64_t bound_ms,
                       health_report *r);

/* store_read_error: NULL when this thread's store read worked, else why. */
void order_health_ready(const order_status *s, const char *store_read_error,
                        int64_t stall_window_ms, health_report *r);

#endif
