/*
 * order_api: the HTTP handlers of order-service (see order_api.h).
 *
 * Reads go to the thread's read-only store connection, never through the
 * consumer; on a server store a plain order-details read goes to the
 * batching reader instead (order_reader.h), so the loop never waits for
 * it. The endpoints that read topics are in order_api_topics.c.
 */
#include "query/order_api_int.h"
#include "query/order_render.h"
#include "query/topic_index.h"

#include "platform/clock.h"
#include "platform/log.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void *order_api_thread_init(void *app, int index, char *err, size_t errlen)
{
    order_app *a = app;
    (void)index;
    order_thread *t = calloc(1, sizeof *t);
    if (!t) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    jsonw_init(&t->w);
    jsonw_init(&t->hist);
    t->st = store_open(a->cfg->store_location, STORE_READONLY, err, errlen);
    if (!t->st ||
        store_read_mmap(t->st, (int64_t)a->cfg->store_read_mmap_mb << 20, err, errlen) !=
            STORE_OK ||
        store_read_timeout(t->st, a->cfg->store_read_timeout_ms, err, errlen) != STORE_OK) {
        order_api_thread_free(t);
        return NULL;
    }
    return t;
}

void order_api_thread_free(void *thread_ctx)
{
    order_thread *t = thread_ctx;
    if (!t)
        return;
    store_close(t->st);
    jsonw_free(&t->w);
    jsonw_free(&t->hist);
    free(t);
}

static int reply_store_error(http_call *call, store_status st, const char *err)
{
    log_msg(LOG_ERROR, "http", call->request_id, "store read failed: %s", err);
    if (st == STORE_ERR_IO) {
        http_add_header(call, "Retry-After", "1");
        http_reply_error(call, 503, "order store temporarily unavailable");
    } else {
        http_reply_error(call, 500, "order store error");
    }
    return 0;
}

/* ---- GET /order-details ------------------------------------------------ */

static void history_cb(void *arg, const char *status, int64_t at_ms)
{
    order_render_change(arg, status, at_ms);
}

/* Renders the order into t->w (check jsonw_ok of t->w and t->hist):
 * STORE_OK, STORE_NOT_FOUND or a store failure (err). */
static store_status render_order(order_thread *t, const char *id, char *err, size_t errlen)
{
    /* The history is rendered first (the store streams it), then embedded. */
    store_order o;
    jsonw *h = &t->hist;
    jsonw_reset(h);
    jsonw_arr_begin(h);
    store_status st = store_get_order(t->st, id, &o, history_cb, h, err, errlen);
    if (st != STORE_OK)
        return st;
    jsonw_arr_end(h);
    jsonw *w = &t->w;
    jsonw_reset(w);
    order_render_head(w, &o);
    if (jsonw_ok(h))
        jsonw_raw(w, h->buf, h->len);
    order_render_tail(w);
    return STORE_OK;
}

/* 503 with Retry-After: a bound reached, or the service stopping; the client retries. */
static void reply_busy(http_call *call, const char *detail)
{
    http_add_header(call, "Retry-After", "1");
    http_reply_error(call, 503, detail);
}

static void reply_not_found(http_call *call, const char *id)
{
    char msg[128];
    snprintf(msg, sizeof msg, "Order %s not found", id);
    http_reply_error(call, 404, msg);
}

/* 504: the store has not applied the write after= names (yet). */
static void reply_not_applied(http_call *call, order_thread *t, const wait_req *r, int64_t next)
{
    char msg[160];
    snprintf(msg, sizeof msg, "the write at partition %d offset %lld is not applied yet",
             (int)r->partition, (long long)r->offset);
    jsonw *w = &t->w;
    jsonw_reset(w);
    jsonw_obj_begin(w);
    jsonw_key(w, "detail");
    jsonw_str(w, msg);
    jsonw_key(w, "partition");
    jsonw_int(w, r->partition);
    jsonw_key(w, "appliedBelow"); /* the store's position: offsets below it are applied */
    if (next >= 0)
        jsonw_int(w, next);
    else
        jsonw_null(w);
    jsonw_obj_end(w);
    http_reply_jsonw(call, 504, w);
}

/* The query parameters again (also in a parked call's completion): 0, or answered 400. */
static int order_details_params(http_call *call, const char **id, wait_req *r)
{
    order_app *a = call->app;
    *id = http_query(call, "orderId");
    if (!*id || !**id) {
        http_reply_error(call, 400, "query parameter orderId is required");
        return -1;
    }
    if (!order_id_valid(*id, strlen(*id))) {
        http_reply_error(call, 400, "orderId must be 1 to 64 characters of [A-Za-z0-9._:-]");
        return -1;
    }
    const char *why = NULL;
    if (wait_req_parse(http_query(call, "waitMs"), http_query(call, "after"),
                       a->cfg->read_wait_limit_ms, r, &why) != 0) {
        http_reply_error(call, 400, why);
        return -1;
    }
    return 0;
}

/*
 * Answers from the store as it is now, or parks the call (may_park, a wait
 * asked for, the order or the after= write not visible yet). With after= the
 * position is read before the order, so an order read after the position
 * passed the write reflects it.
 */
static void order_details_answer(http_call *call, int may_park)
{
    order_app *a = call->app;
    order_thread *t = call->thread_ctx;
    const char *id;
    wait_req r;
    if (order_details_params(call, &id, &r) != 0)
        return;
    if (a->reader && may_park && !r.has_after && r.wait_ms == 0) {
        /* a plain read on a server store: batched, the loop does not wait (order_reader.h) */
        int sr = order_reader_submit(a->reader, call, id);
        if (sr == 0)
            return; /* answered by order_api_lookup_answer */
        reply_busy(call, sr == -1 ? "too many order lookups in flight (READ_QUEUE_MAX)"
                                  : "service stopping");
        return;
    }
    char err[256] = "";
    int64_t next = -1;
    if (r.has_after) {
        store_status ps =
            store_get_position(t->st, a->cfg->topic, r.partition, &next, err, sizeof err);
        if (ps != STORE_OK && ps != STORE_NOT_FOUND) {
            reply_store_error(call, ps, err);
            return;
        }
        if (ps == STORE_NOT_FOUND)
            next = -1;
    }
    int applied = !r.has_after || next > r.offset;
    store_status st = STORE_NOT_FOUND;
    if (applied) {
        st = render_order(t, id, err, sizeof err);
        if (st != STORE_OK && st != STORE_NOT_FOUND) {
            reply_store_error(call, st, err);
            return;
        }
    }
    int visible = applied && (r.has_after || st == STORE_OK);
    if (!visible && may_park && r.wait_ms > 0) {
        int pr = read_wait_park(a->waits, call, id, &r);
        if (pr == 0)
            return; /* answered by order_api_wait_answer */
        reply_busy(call, pr == -1 ? "too many requests waiting for their writes (READ_WAIT_MAX)"
                                  : "service stopping");
        return;
    }
    if (!applied) {
        reply_not_applied(call, t, &r, next);
    } else if (st == STORE_NOT_FOUND) {
        reply_not_found(call, id);
    } else if (jsonw_ok(&t->w) && jsonw_ok(&t->hist)) {
        http_reply_jsonw(call, 200, &t->w);
    } else {
        http_reply_error(call, 500, "cannot render the order");
    }
}

static void handle_order_details(http_call *call)
{
    order_details_answer(call, 1);
}

void order_api_wait_answer(http_call *call, void *arg)
{
    switch ((int)(intptr_t)arg) {
    case READ_WAIT_GONE:
        /* nobody reads it: counted as nginx counts a client that closed first */
        http_reply_error(call, 499, "client closed the request while it waited");
        break;
    case READ_WAIT_STOPPING:
        http_add_header(call, "Retry-After", "1");
        http_reply_error(call, 503, "service stopping: the wait was cut short");
        break;
    default: /* READY or EXPIRED: the store says, now */
        order_details_answer(call, 0);
        break;
    }
}

void order_api_lookup_answer(http_call *call, void *arg)
{
    order_lookup *l = arg;
    if (l->stopping) {
        reply_busy(call, "service stopping");
    } else if (l->st == STORE_OK) {
        http_reply_jsonw(call, 200, &l->body);
    } else if (l->st == STORE_NOT_FOUND) {
        reply_not_found(call, l->id);
    } else {
        reply_store_error(call, l->st, l->err);
    }
    order_reader_release(l);
}

/* ---- health and metrics ------------------------------------------------- */

/*
 * The orders in the store, as /health and /metrics report them. The
 * consumer's own count is exact while it is the store's only writer (SQLite);
 * a shared store (PostgreSQL) is written by every instance of the group, so
 * there this thread counts the table itself, at most once a second: a count
 * of a large table costs tens of milliseconds, and /health is polled often.
 */
static void store_orders_shared(order_thread *t, order_status *s)
{
    if (strcmp(store_kind(t->st), "sqlite") == 0)
        return;
    int64_t now = clock_mono_ms();
    if (t->shared_orders_at_ms == 0 || now - t->shared_orders_at_ms >= 1000) {
        int64_t n;
        char err[256];
        if (store_count_orders(t->st, &n, err, sizeof err) != STORE_OK)
            return; /* keep the consumer's figure; the store's failure shows in storeOk */
        t->shared_orders = n;
        t->shared_orders_at_ms = now;
    }
    s->orders = t->shared_orders;
}

static void handle_health(http_call *call)
{
    order_app *a = call->app;
    order_thread *t = call->thread_ctx;
    order_status s;
    order_status_read(a->status, &s);
    store_orders_shared(t, &s);
    /* The store as the API sees it: a cheap indexed read on this thread's connection. */
    int64_t next;
    char err[256] = "";
    store_status rs = store_get_position(t->st, a->cfg->topic, 0, &next, err, sizeof err);
    int store_readable = rs == STORE_OK || rs == STORE_NOT_FOUND;
    const char *problem = NULL;
    if (!s.running)
        problem = "consumer stopped";
    else if (!s.kafka_ok)
        problem = "Kafka unreachable or the client failed";
    else if (!s.subscribed)
        problem = "consumer starting (topics not ready)";
    else if (!s.store_ok || !store_readable)
        problem = "order store failing"; /* "store" names it, lastError says why */
    else if (s.registry_error[0])
        problem = "schema registry failing (wrong SCHEMA_REGISTRY_URL or registry down)";
    else if (s.dlq_error[0])
        problem = "DLQ producer down (fatal error, being recreated)";
    jsonw *w = &t->w;
    jsonw_reset(w);
    jsonw_obj_begin(w);
    jsonw_key(w, "status");
    jsonw_str(w, problem ? "unavailable" : "ok");
    if (problem) {
        jsonw_key(w, "detail");
        jsonw_str(w, problem);
    }
    jsonw_key(w, "topic");
    jsonw_str(w, a->cfg->topic);
    jsonw_key(w, "assignedPartitions");
    jsonw_arr_begin(w);
    for (int i = 0; i < s.nassigned; i++)
        jsonw_int(w, s.assigned[i]);
    jsonw_arr_end(w);
    /* This instance's partitions in detail (lag, waiting for a retry, history deleted). */
    jsonw_key(w, "partitions");
    jsonw_arr_begin(w);
    for (int i = 0; i < s.nassigned; i++) {
        jsonw_obj_begin(w);
        jsonw_key(w, "partition");
        jsonw_int(w, s.assigned[i]);
        jsonw_key(w, "lag");
        if (s.part_lag[i] >= 0)
            jsonw_int(w, s.part_lag[i]);
        else
            jsonw_null(w);
        jsonw_key(w, "waiting");
        jsonw_bool(w, s.part_waiting[i]);
        if (s.part_lost[i] > 0) {
            /* rebuilt from Kafka, but retention had deleted the offsets below this one */
            jsonw_key(w, "historyDeletedBelow");
            jsonw_int(w, s.part_lost[i]);
        }
        jsonw_obj_end(w);
    }
    jsonw_arr_end(w);
    jsonw_key(w, "waitingPartitions");
    jsonw_int(w, s.nwaiting);
    /* The group: this instance's share is assignedPartitions. */
    jsonw_key(w, "group");
    jsonw_obj_begin(w);
    jsonw_key(w, "id");
    jsonw_str(w, a->cfg->group_id);
    jsonw_key(w, "state");
    if (s.group_state[0])
        jsonw_str(w, s.group_state);
    else
        jsonw_null(w);
    jsonw_key(w, "members");
    if (s.group_members >= 0)
        jsonw_int(w, s.group_members);
    else
        jsonw_null(w);
    jsonw_obj_end(w);
    jsonw_key(w, "fencedBatches");
    jsonw_int(w, (long long)s.fenced);
    jsonw_key(w, "lag");
    if (s.lag >= 0)
        jsonw_int(w, s.lag);
    else
        jsonw_null(w);
    jsonw_key(w, "ordersStored");
    jsonw_int(w, s.orders);
    jsonw_key(w, "eventsApplied");
    jsonw_int(w, (long long)s.applied);
    jsonw_key(w, "eventsDeadLettered");
    jsonw_int(w, (long long)s.dead_lettered);
    jsonw_key(w, "storeOk");
    jsonw_bool(w, s.store_ok && store_readable);
    jsonw_key(w, "store");
    jsonw_str(w, store_kind(t->st));
    if (s.last_error[0]) {
        jsonw_key(w, "lastError");
        jsonw_str(w, s.last_error);
    }
    if (s.registry_error[0]) {
        jsonw_key(w, "registryError");
        jsonw_str(w, s.registry_error);
    }
    if (s.dlq_error[0]) {
        jsonw_key(w, "dlqProducerError");
        jsonw_str(w, s.dlq_error);
    }
    jsonw_obj_end(w);
    if (problem)
        http_add_header(call, "Retry-After", "2");
    http_reply_jsonw(call, problem ? 503 : 200, w);
}

typedef struct {
    order_app *a;
    order_status *s;
} metrics_arg;

/* The batching reader's round trips and batch sizes (a server store only). */
static void render_reader_metrics(metrics_text *t, order_reader *r)
{
    order_reader_stats s;
    order_reader_stats_read(r, &s);
    metrics_text_family(t, "order_read_batch_size", "histogram",
                        "order-details reads answered per statement on a server store");
    unsigned long long cum = 0;
    for (int i = 0; i < ORDER_READER_BUCKETS; i++) {
        char le[32];
        cum += s.batch_le[i];
        snprintf(le, sizeof le, "le=\"%d\"", 1 << i);
        metrics_text_sample(t, "order_read_batch_size_bucket", le, (double)cum);
    }
    metrics_text_sample(t, "order_read_batch_size_bucket", "le=\"+Inf\"", (double)s.statements);
    metrics_text_sample(t, "order_read_batch_size_sum", NULL, (double)s.lookups);
    metrics_text_sample(t, "order_read_batch_size_count", NULL, (double)s.statements);
    metrics_text_family(t, "order_read_batch_seconds_total", "counter",
                        "time the order reader spent in its statements: round trips and rendering");
    metrics_text_sample(t, "order_read_batch_seconds_total", NULL, s.seconds);
}

/* The consume side's families, then the query side's own. */
static void render_metrics(metrics_text *t, void *arg)
{
    metrics_arg *m = arg;
    m->a->metrics(t, m->s);
    metrics_text_family(t, "order_read_waiters", "gauge",
                        "order-details requests waiting for a write (waitMs, after)");
    metrics_text_sample(t, "order_read_waiters", NULL, read_wait_count(m->a->waits));
    metrics_text_family(t, "order_read_lookups", "gauge",
                        "order-details reads queued or running on a server store (READ_QUEUE_MAX)");
    metrics_text_sample(t, "order_read_lookups", NULL,
                        m->a->reader ? order_reader_count(m->a->reader) : 0);
    if (m->a->reader)
        render_reader_metrics(t, m->a->reader);
    topic_index_metrics_render(t);
}

static void handle_metrics(http_call *call)
{
    order_app *a = call->app;
    order_thread *t = call->thread_ctx;
    order_status s;
    order_status_read(a->status, &s);
    store_orders_shared(t, &s);
    metrics_arg m = {a, &s};
    service_reply_metrics(call, render_metrics, &m);
}

static const http_route routes[] = {
    {"/order-details", HTTP_M_GET, handle_order_details},
    {"/getAllOrderIdsFromTopic", HTTP_M_GET, order_api_topics_ids},
    {"/dlq/stats", HTTP_M_GET, order_api_topics_dlq_stats},
    {"/dlq/messages", HTTP_M_GET, order_api_topics_dlq_messages},
    {"/health", HTTP_M_GET, handle_health},
    {"/health/live", HTTP_M_GET, order_api_health_live},
    {"/health/ready", HTTP_M_GET, order_api_health_ready},
    {"/metrics", HTTP_M_GET, handle_metrics},
    {"/openapi.yaml", HTTP_M_GET, service_handle_openapi},
    SERVICE_DOCS_ROUTES,
};

const http_route *order_api_routes(size_t *n)
{
    *n = sizeof routes / sizeof routes[0];
    return routes;
}
