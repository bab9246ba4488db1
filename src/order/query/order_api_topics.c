/*
 * order_api_topics: the endpoints that read Kafka topics rather than the
 * store: GET /getAllOrderIdsFromTopic, /dlq/stats and /dlq/messages.
 *
 * Each uses topic_scan: a private assign-only consumer per request that never
 * touches the group's offsets. Only the service's own two topics can be read.
 * DLQ pages are in topic order (partition, then offset), so limit/offset are
 * stable while the DLQ only grows.
 */
#include "query/order_api_int.h"

#include "event/dlq_info.h"
#include "event/order_decoder.h"
#include "event/order_json.h"
#include "platform/base64.h"
#include "platform/log.h"
#include "query/idset.h"
#include "query/topic_scan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

void order_api_topics_ids(http_call *call)
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

void order_api_topics_dlq_stats(http_call *call)
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
    order_api_put_time(w, "timestamp", ev->timestamp_ms);
    jsonw_key(w, "payload");
    jsonw_obj_begin(w);
    if (ev->type == ORDER_EVENT_CREATE)
        order_json_create_fields(w, ev);
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
        order_api_put_time(w, key, ms);
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
        order_api_put_time(w, "timestamp", r->timestamp_ms);
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
    size_t need = BASE64_LEN(r->value_len) + 1;
    if (need > c->b64cap) {
        char *nb = realloc(c->b64, need);
        if (!nb) {
            c->failed = 1;
            return 1;
        }
        c->b64 = nb;
        c->b64cap = need;
    }
    size_t blen = base64_encode(r->value, r->value ? r->value_len : 0, c->b64, c->b64cap);
    jsonw_key(w, "value");
    jsonw_strn(w, c->b64, blen);
    order_decoder_result pr;
    order_decoder_decode(c->dec, r->value, r->value_len, &c->ev, &pr);
    jsonw_key(w, "event");
    if (pr.decoded)
        put_event(w, &c->ev);
    else
        jsonw_null(w);
    if (pr.kind != ORDER_DECODER_EVENT) {
        jsonw_key(w, "decodeError");
        jsonw_str(w, pr.message);
    }
    jsonw_obj_end(w);
    c->count++;
    return 0;
}

void order_api_topics_dlq_messages(http_call *call)
{
    order_app *a = call->app;
    order_thread *t = call->thread_ctx;
    long long limit, offset;
    if (http_parse_uint(http_query(call, "limit"), DLQ_PAGE_DEFAULT, 1, DLQ_PAGE_MAX, &limit)) {
        http_reply_error(call, 400, "limit must be an integer from 1 to 1000");
        return;
    }
    if (http_parse_uint(http_query(call, "offset"), 0, 0, 999999999999999LL, &offset)) {
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
