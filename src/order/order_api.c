/*
 * order_api: the HTTP handlers of order-service (see order_api.h).
 *
 * Reads go to the thread's read-only SQLite connection, never through the
 * consumer. Topic reads (getAllOrderIdsFromTopic and the DLQ endpoints) use topic_scan:
 * a private assign-only consumer per request that never touches the group's
 * offsets. Only the service's own two topics can be read through the API.
 */
#include "order_api.h"

#include "dlq.h"
#include "idset.h"
#include "log.h"
#include "metrics.h"
#include "order_process.h"
#include "store.h"
#include "topic_scan.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    store *st;
    order_decoder *dec;
    jsonw w;    /* response body */
    jsonw hist; /* status history of /order-details */
} order_thread;

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
    t->st = store_open(a->cfg->store_path, STORE_READONLY, err, errlen);
    if (t->st)
        t->dec = order_decoder_new(a->cfg->registry_url, err, errlen);
    if (!t->st || !t->dec) {
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
    order_decoder_free(t->dec);
    jsonw_free(&t->w);
    jsonw_free(&t->hist);
    free(t);
}

void order_api_format_time(int64_t ms, char *buf, size_t buflen)
{
    time_t secs = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
    int millis = (int)(ms - (int64_t)secs * 1000);
    struct tm tm;
    if (!gmtime_r(&secs, &tm)) {
        snprintf(buf, buflen, "invalid");
        return;
    }
    snprintf(buf, buflen, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, millis);
}

int order_api_parse_uint(const char *s, long long def, long long min, long long max, long long *out)
{
    if (!s) {
        *out = def;
        return 0;
    }
    if (!*s || strlen(s) > 18)
        return -1;
    for (const char *p = s; *p; p++)
        if (*p < '0' || *p > '9')
            return -1;
    errno = 0;
    long long v = strtoll(s, NULL, 10);
    if (errno || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

size_t order_api_base64(const void *in, size_t n, char *out, size_t cap)
{
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *b = in;
    size_t need = 4 * ((n + 2) / 3) + 1;
    if (cap < need) {
        if (cap)
            out[0] = '\0';
        return 0;
    }
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)b[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)b[i + 1] << 8;
        if (i + 2 < n)
            v |= b[i + 2];
        out[o++] = tbl[(v >> 18) & 63];
        out[o++] = tbl[(v >> 12) & 63];
        out[o++] = i + 1 < n ? tbl[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < n ? tbl[v & 63] : '=';
    }
    out[o] = '\0';
    return o;
}

static void put_time(jsonw *w, const char *key, int64_t ms)
{
    char buf[40];
    order_api_format_time(ms, buf, sizeof buf);
    jsonw_key(w, key);
    jsonw_str(w, buf);
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
    jsonw *w = arg;
    jsonw_obj_begin(w);
    jsonw_key(w, "status");
    jsonw_str(w, status);
    put_time(w, "at", at_ms);
    jsonw_obj_end(w);
}

static void handle_order_details(http_call *call)
{
    order_thread *t = call->thread_ctx;
    const char *id = http_query(call, "orderId");
    if (!id || !*id) {
        http_reply_error(call, 400, "query parameter orderId is required");
        return;
    }
    if (!order_id_valid(id, strlen(id))) {
        http_reply_error(call, 400, "orderId must be 1 to 64 characters of [A-Za-z0-9._:-]");
        return;
    }
    /* The history is rendered first (the store streams it), then embedded. */
    store_order o;
    char err[256] = "";
    jsonw *h = &t->hist;
    jsonw_reset(h);
    jsonw_arr_begin(h);
    store_status st = store_get_order(t->st, id, &o, history_cb, h, err, sizeof err);
    if (st == STORE_NOT_FOUND) {
        char msg[128];
        snprintf(msg, sizeof msg, "Order %s not found", id);
        http_reply_error(call, 404, msg);
        return;
    }
    if (st != STORE_OK) {
        reply_store_error(call, st, err);
        return;
    }
    jsonw_arr_end(h);
    jsonw *w = &t->w;
    jsonw_reset(w);
    jsonw_obj_begin(w);
    jsonw_key(w, "orderId");
    jsonw_str(w, o.order_id);
    jsonw_key(w, "customerId");
    jsonw_str(w, o.customer_id);
    jsonw_key(w, "orderDate");
    jsonw_str(w, o.order_date);
    jsonw_key(w, "items");
    jsonw_raw(w, o.items_json, o.items_json_len);
    jsonw_key(w, "totalAmount");
    jsonw_money(w, o.total_cents);
    jsonw_key(w, "currency");
    jsonw_str(w, o.currency);
    jsonw_key(w, "status");
    jsonw_str(w, o.status);
    jsonw_key(w, "shippingCost");
    jsonw_money(w, o.shipping_cents);
    put_time(w, "createdAt", o.created_at_ms);
    put_time(w, "updatedAt", o.updated_at_ms);
    jsonw_key(w, "statusHistory");
    if (jsonw_ok(h))
        jsonw_raw(w, h->buf, h->len);
    jsonw_obj_end(w);
    if (jsonw_ok(w) && jsonw_ok(h))
        http_reply_jsonw(call, 200, w);
    else
        http_reply_error(call, 500, "cannot render the order");
}

/* ---- topic reads -------------------------------------------------------- */

static int reply_scan_error(http_call *call, scan_status st, const char *err)
{
    if (st == SCAN_NO_TOPIC) {
        http_reply_error(call, 404, err);
    } else if (st == SCAN_UNAVAILABLE) {
        log_msg(LOG_WARN, "http", call->request_id, "topic read: %s", err);
        http_add_header(call, "Retry-After", "2");
        http_reply_error(call, 503, "Kafka is unavailable; try again later");
    } else {
        log_msg(LOG_ERROR, "http", call->request_id, "topic read: %s", err);
        http_reply_error(call, 500, "topic read failed");
    }
    return 0;
}

static scan_request scan_req(const order_app *a, const char *topic)
{
    static __thread char group[300];
    snprintf(group, sizeof group, "%s.scan", a->cfg->group_id);
    scan_request r = {a->cfg->bootstrap, group, topic, 0, -1, 0, a->cfg->scan_timeout_ms};
    return r;
}

typedef struct {
    idset ids;
    int failed;
} ids_ctx;

static int ids_cb(void *arg, const scan_record *r)
{
    ids_ctx *c = arg;
    if (!r->key)
        return 0; /* a record without a key names no order */
    if (idset_add(&c->ids, r->key, r->key_len) < 0) {
        c->failed = 1;
        return 1;
    }
    return 0;
}

static void handle_all_ids(http_call *call)
{
    order_app *a = call->app;
    const char *topic = http_query(call, "topic");
    if (!topic || !*topic) {
        http_reply_error(call, 400, "query parameter topic is required");
        return;
    }
    if (strcmp(topic, a->cfg->topic) != 0 && strcmp(topic, a->cfg->dlq_topic) != 0) {
        char msg[600];
        snprintf(msg, sizeof msg, "topic must be %s or %s", a->cfg->topic, a->cfg->dlq_topic);
        http_reply_error(call, 400, msg);
        return;
    }
    ids_ctx c;
    memset(&c, 0, sizeof c);
    idset_init(&c.ids);
    scan_request req = scan_req(a, topic);
    int64_t total = 0;
    char err[256] = "";
    scan_status st = topic_scan(&req, ids_cb, &c, &total, err, sizeof err);
    if (st != SCAN_OK) {
        reply_scan_error(call, st, err);
    } else if (c.failed) {
        http_reply_error(call, 500, "too many distinct ids to list");
    } else {
        jsonw w;
        jsonw_init(&w);
        jsonw_obj_begin(&w);
        jsonw_key(&w, "topic");
        jsonw_str(&w, topic);
        jsonw_key(&w, "orderIds");
        jsonw_arr_begin(&w);
        for (uint32_t i = 0; i < c.ids.count; i++) {
            size_t len;
            const char *id = idset_get(&c.ids, i, &len);
            jsonw_strn(&w, id, len);
        }
        jsonw_arr_end(&w);
        jsonw_key(&w, "count");
        jsonw_int(&w, c.ids.count);
        jsonw_obj_end(&w);
        if (jsonw_ok(&w))
            http_reply_jsonw(call, 200, &w);
        else
            http_reply_error(call, 500, "cannot render the ids");
        jsonw_free(&w);
    }
    idset_free(&c.ids);
}

/* Counts of header values: a few distinct names, so a small linear table. */
#define STATS_NAMES 64
typedef struct {
    char name[DLQ_REASON_MAX + 1];
    long long n;
} stat_entry;

typedef struct {
    stat_entry cat[STATS_NAMES], reason[STATS_NAMES];
    int ncat, nreason;
} dlq_stats;

static void stat_count(stat_entry *tab, int *n, const char *name)
{
    if (!*name)
        name = "UNKNOWN";
    for (int i = 0; i < *n; i++) {
        if (strcmp(tab[i].name, name) == 0) {
            tab[i].n++;
            return;
        }
    }
    if (*n == STATS_NAMES)
        name = "OTHER"; /* never more than STATS_NAMES rows, whatever the DLQ holds */
    for (int i = 0; i < *n; i++) {
        if (strcmp(tab[i].name, name) == 0) {
            tab[i].n++;
            return;
        }
    }
    int i = *n < STATS_NAMES ? (*n)++ : STATS_NAMES - 1;
    snprintf(tab[i].name, sizeof tab[i].name, "%s", name);
    tab[i].n = 1;
}

static int stats_cb(void *arg, const scan_record *r)
{
    dlq_stats *s = arg;
    rd_kafka_headers_t *h = NULL;
    dlq_info d;
    if (rd_kafka_message_headers(r->msg, &h) != RD_KAFKA_RESP_ERR_NO_ERROR)
        h = NULL;
    dlq_info_from_headers(&d, h);
    stat_count(s->cat, &s->ncat, d.category);
    stat_count(s->reason, &s->nreason, d.reason);
    return 0;
}

static void put_stats(jsonw *w, const char *key, const stat_entry *tab, int n)
{
    jsonw_key(w, key);
    jsonw_obj_begin(w);
    for (int i = 0; i < n; i++) {
        jsonw_key(w, tab[i].name);
        jsonw_int(w, tab[i].n);
    }
    jsonw_obj_end(w);
}

static void handle_dlq_stats(http_call *call)
{
    order_app *a = call->app;
    dlq_stats *s = calloc(1, sizeof *s);
    if (!s) {
        http_reply_error(call, 500, "out of memory");
        return;
    }
    scan_request req = scan_req(a, a->cfg->dlq_topic);
    int64_t total = 0;
    char err[256] = "";
    scan_status st = topic_scan(&req, stats_cb, s, &total, err, sizeof err);
    if (st != SCAN_OK && st != SCAN_NO_TOPIC) {
        reply_scan_error(call, st, err);
        free(s);
        return;
    }
    order_thread *t = call->thread_ctx;
    jsonw *w = &t->w;
    jsonw_reset(w);
    jsonw_obj_begin(w);
    jsonw_key(w, "topic");
    jsonw_str(w, a->cfg->dlq_topic);
    jsonw_key(w, "total_messages");
    jsonw_int(w, total);
    put_stats(w, "error_categories", s->cat, s->ncat);
    put_stats(w, "error_reasons", s->reason, s->nreason);
    jsonw_obj_end(w);
    if (jsonw_ok(w))
        http_reply_jsonw(call, 200, w);
    else
        http_reply_error(call, 500, "cannot render the stats");
    free(s);
}

static void put_event(jsonw *w, const order_event *ev)
{
    jsonw_obj_begin(w);
    jsonw_key(w, "eventType");
    jsonw_str(w, ev->type == ORDER_EVENT_CREATE ? "CREATE" : "UPDATE");
    jsonw_key(w, "orderId");
    jsonw_str(w, ev->order_id);
    put_time(w, "timestamp", ev->timestamp_ms);
    jsonw_key(w, "payload");
    jsonw_obj_begin(w);
    if (ev->type == ORDER_EVENT_CREATE) {
        jsonw_key(w, "customerId");
        jsonw_str(w, ev->customer_id);
        jsonw_key(w, "orderDate");
        jsonw_str(w, ev->order_date);
        jsonw_key(w, "items");
        jsonw_arr_begin(w);
        for (size_t i = 0; i < ev->item_count && i < ORDER_ITEMS_MAX; i++) {
            jsonw_obj_begin(w);
            jsonw_key(w, "itemId");
            jsonw_str(w, ev->items[i].item_id);
            jsonw_key(w, "quantity");
            jsonw_int(w, ev->items[i].quantity);
            jsonw_key(w, "price");
            jsonw_money(w, ev->items[i].price_cents);
            jsonw_obj_end(w);
        }
        jsonw_arr_end(w);
        jsonw_key(w, "totalAmount");
        jsonw_money(w, ev->total_cents);
        jsonw_key(w, "currency");
        jsonw_str(w, ev->currency);
    }
    jsonw_key(w, "status");
    jsonw_str(w, ev->status);
    jsonw_obj_end(w);
    jsonw_obj_end(w);
}

typedef struct {
    jsonw *w;
    order_decoder *dec;
    order_event ev;
    char *b64;
    size_t b64cap;
    int count;
    int failed;
} page_ctx;

static void put_opt_str(jsonw *w, const dlq_info *d, unsigned flag, const char *key, const char *v)
{
    jsonw_key(w, key);
    if (d->present & flag)
        jsonw_str(w, v);
    else
        jsonw_null(w);
}

static void put_opt_int(jsonw *w, const dlq_info *d, unsigned flag, const char *key, int64_t v)
{
    jsonw_key(w, key);
    if (d->present & flag)
        jsonw_int(w, v);
    else
        jsonw_null(w);
}

static void put_opt_time(jsonw *w, const dlq_info *d, unsigned flag, const char *key, int64_t ms)
{
    if (d->present & flag) {
        put_time(w, key, ms);
    } else {
        jsonw_key(w, key);
        jsonw_null(w);
    }
}

static int page_cb(void *arg, const scan_record *r)
{
    page_ctx *c = arg;
    jsonw *w = c->w;
    rd_kafka_headers_t *h = NULL;
    if (rd_kafka_message_headers(r->msg, &h) != RD_KAFKA_RESP_ERR_NO_ERROR)
        h = NULL;
    dlq_info d;
    dlq_info_from_headers(&d, h);
    jsonw_obj_begin(w);
    jsonw_key(w, "partition");
    jsonw_int(w, r->partition);
    jsonw_key(w, "offset");
    jsonw_int(w, r->offset);
    if (r->timestamp_ms >= 0)
        put_time(w, "timestamp", r->timestamp_ms);
    jsonw_key(w, "key");
    if (r->key)
        jsonw_strn(w, r->key, r->key_len);
    else
        jsonw_null(w);
    put_opt_str(w, &d, DLQ_F_CATEGORY, "errorCategory", d.category);
    put_opt_str(w, &d, DLQ_F_REASON, "errorReason", d.reason);
    put_opt_str(w, &d, DLQ_F_MESSAGE, "errorMessage", d.message);
    put_opt_int(w, &d, DLQ_F_RETRY_COUNT, "retryCount", d.retry_count);
    put_opt_str(w, &d, DLQ_F_TOPIC, "originalTopic", d.original_topic);
    put_opt_int(w, &d, DLQ_F_PARTITION, "originalPartition", d.original_partition);
    put_opt_int(w, &d, DLQ_F_OFFSET, "originalOffset", d.original_offset);
    put_opt_time(w, &d, DLQ_F_TIMESTAMP, "originalTimestamp", d.original_timestamp_ms);
    put_opt_time(w, &d, DLQ_F_FAILED_AT, "failedAt", d.failed_at_ms);
    size_t need = 4 * ((r->value_len + 2) / 3) + 1;
    if (need > c->b64cap) {
        char *nb = realloc(c->b64, need);
        if (!nb) {
            c->failed = 1;
            return 1;
        }
        c->b64 = nb;
        c->b64cap = need;
    }
    size_t blen = order_api_base64(r->value, r->value ? r->value_len : 0, c->b64, c->b64cap);
    jsonw_key(w, "value");
    jsonw_strn(w, c->b64, blen);
    proc_result pr;
    order_decode(c->dec, r->value, r->value_len, &c->ev, &pr);
    jsonw_key(w, "event");
    if (pr.decoded)
        put_event(w, &c->ev);
    else
        jsonw_null(w);
    if (pr.kind != PROC_EVENT) {
        jsonw_key(w, "decodeError");
        jsonw_str(w, pr.message);
    }
    jsonw_obj_end(w);
    c->count++;
    return 0;
}

static void handle_dlq_messages(http_call *call)
{
    order_app *a = call->app;
    order_thread *t = call->thread_ctx;
    long long limit, offset;
    if (order_api_parse_uint(http_query(call, "limit"), DLQ_PAGE_DEFAULT, 1, DLQ_PAGE_MAX,
                             &limit)) {
        http_reply_error(call, 400, "limit must be an integer from 1 to 1000");
        return;
    }
    if (order_api_parse_uint(http_query(call, "offset"), 0, 0, 999999999999999LL, &offset)) {
        http_reply_error(call, 400, "offset must be a non-negative integer");
        return;
    }
    jsonw *w = &t->w;
    jsonw_reset(w);
    jsonw_obj_begin(w);
    jsonw_key(w, "topic");
    jsonw_str(w, a->cfg->dlq_topic);
    jsonw_key(w, "offset");
    jsonw_int(w, offset);
    jsonw_key(w, "limit");
    jsonw_int(w, limit);
    jsonw_key(w, "messages");
    jsonw_arr_begin(w);
    page_ctx *c = calloc(1, sizeof *c);
    if (!c) {
        http_reply_error(call, 500, "out of memory");
        return;
    }
    c->w = w;
    c->dec = t->dec;
    scan_request req = scan_req(a, a->cfg->dlq_topic);
    req.skip = offset;
    req.limit = limit;
    req.ordered = 1;
    int64_t total = 0;
    char err[256] = "";
    scan_status st = topic_scan(&req, page_cb, c, &total, err, sizeof err);
    if (st != SCAN_OK && st != SCAN_NO_TOPIC) {
        reply_scan_error(call, st, err);
    } else if (c->failed) {
        http_reply_error(call, 500, "out of memory");
    } else {
        jsonw_arr_end(w);
        jsonw_key(w, "count");
        jsonw_int(w, c->count);
        jsonw_key(w, "total");
        jsonw_int(w, total);
        jsonw_obj_end(w);
        if (jsonw_ok(w))
            http_reply_jsonw(call, 200, w);
        else
            http_reply_error(call, 500, "cannot render the messages");
    }
    free(c->b64);
    free(c);
}

/* ---- health and metrics ------------------------------------------------- */

static void handle_health(http_call *call)
{
    order_app *a = call->app;
    order_thread *t = call->thread_ctx;
    consumer_status s;
    consumer_get_status(a->consumer, &s);
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
        problem = "order store failing";
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
    jsonw_key(w, "waitingPartitions");
    jsonw_int(w, s.nwaiting);
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
    if (s.last_error[0]) {
        jsonw_key(w, "lastError");
        jsonw_str(w, s.last_error);
    }
    jsonw_obj_end(w);
    if (problem)
        http_add_header(call, "Retry-After", "2");
    http_reply_jsonw(call, problem ? 503 : 200, w);
}

static void metric(metrics_text *t, const char *name, const char *type, const char *help, double v)
{
    metrics_text_family(t, name, type, help);
    metrics_text_sample(t, name, NULL, v);
}

static void handle_metrics(http_call *call)
{
    order_app *a = call->app;
    consumer_status s;
    consumer_get_status(a->consumer, &s);
    metrics_text t;
    metrics_text_init(&t);
    metrics_http_render(&t);
    metric(&t, "order_events_consumed_total", "counter", "Records read from the events topic.",
           (double)s.consumed);
    metric(&t, "order_events_applied_total", "counter", "Events applied to the store.",
           (double)s.applied);
    metric(&t, "order_events_skipped_total", "counter",
           "Records skipped because the store already had them.", (double)s.skipped);
    metric(&t, "order_events_dead_lettered_total", "counter", "Records sent to the DLQ.",
           (double)s.dead_lettered);
    metric(&t, "order_event_retries_total", "counter", "Retries scheduled after failures.",
           (double)s.retries);
    metric(&t, "order_consumer_lag", "gauge", "Records behind the end, over assigned partitions.",
           (double)(s.lag < 0 ? 0 : s.lag));
    metric(&t, "order_orders_stored", "gauge", "Orders in the store.", (double)s.orders);
    if (t.failed)
        http_reply_error(call, 500, "cannot render metrics");
    else
        http_reply_typed(call, 200, "text/plain; version=0.0.4", t.buf, t.len);
    metrics_text_free(&t);
}

static const http_route routes[] = {
    {"/order-details", HTTP_M_GET, handle_order_details},
    {"/getAllOrderIdsFromTopic", HTTP_M_GET, handle_all_ids},
    {"/dlq/stats", HTTP_M_GET, handle_dlq_stats},
    {"/dlq/messages", HTTP_M_GET, handle_dlq_messages},
    {"/health", HTTP_M_GET, handle_health},
    {"/metrics", HTTP_M_GET, handle_metrics},
};

const http_route *order_routes(size_t *n)
{
    *n = sizeof routes / sizeof routes[0];
    return routes;
}
