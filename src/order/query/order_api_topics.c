/*
 * order_api_topics: the endpoints that read Kafka topics rather than the
 * store: GET /getAllOrderIdsFromTopic, /dlq/stats and /dlq/messages.
 *
 * Each uses topic_scan: a private assign-only consumer per request that never
 * touches the group's offsets. Only the service's own two topics can be read.
 * The ids and the DLQ statistics come from the store's topic index plus the
 * topic's tail past it (topic_index.c), so a read after the first scans only
 * what is new; a DLQ page reads only its own records. DLQ pages are in topic
 * order (partition, then offset), so limit/offset are stable while the DLQ
 * only grows.
 *
 * The handler only checks the query on its HTTP thread; the read runs on a
 * topic_pool worker (a full pool: 429 with Retry-After) with the worker's
 * own writable store handle, and the answer is given back on the call's own
 * loop thread (http_call_complete). Every answer is streamed in pieces of
 * about TOPIC_IDS_PIECE bytes: the ids from the id set, the rendered /dlq
 * answers from their buffer.
 */
#include "query/order_api_int.h"

#include "event/dlq_info.h"
#include "event/order_decoder.h"
#include "event/order_json.h"
#include "platform/base64.h"
#include "platform/log.h"
#include "query/idset.h"
#include "query/order_render.h"
#include "query/topic_index.h"
#include "query/topic_pool.h"
#include "query/topic_scan.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The workers' store handles only append index chunks and read them back in
 * large rows: a small page cache does (measured: a 32 MiB one held ~10 MB per
 * worker after a read of a 1M-id index, for nothing). */
#define TOPIC_WORKER_CACHE_KIB 2048

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
    scan_request r = {.bootstrap = a->cfg->bootstrap,
                      .group_id = group,
                      .topic = topic,
                      .limit = -1,
                      .timeout_ms = a->cfg->scan_timeout_ms};
    return r;
}

/* One topic read, from the handler through the worker to the answer. */
typedef enum { JOB_IDS, JOB_STATS, JOB_PAGE } job_kind;

typedef struct {
    http_call *call;
    const order_app *app;
    job_kind kind;
    const char *topic; /* one of the configured topic names */
    long long limit, offset;
    const atomic_int *stop; /* the pool's stop flag, while the worker runs */
    /* the result */
    int refused;   /* the pool was full: 429 */
    int cancelled; /* the service is stopping: 503 */
    int failed;    /* out of memory or over the id set's bounds */
    scan_status st;
    char err[256];
    int64_t total;
    idset ids;          /* JOB_IDS */
    topic_stats *stats; /* JOB_STATS */
    jsonw body;         /* JOB_STATS, JOB_PAGE: the rendered answer */
    /* streaming the ids: 0 the head, 1 the ids from next_id on, 2 done */
    int stage;
    uint32_t next_id;
    size_t body_sent; /* streaming the body: bytes of it sent */
} topic_job;

static void job_free(void *arg)
{
    topic_job *j = arg;
    idset_free(&j->ids);
    free(j->stats);
    jsonw_free(&j->body);
    free(j);
}

static void put_stats(jsonw *w, const char *key, const topic_stat *tab, int n)
{
    jsonw_key(w, key);
    jsonw_obj_begin(w);
    for (int i = 0; i < n; i++) {
        jsonw_key(w, tab[i].name);
        jsonw_int(w, tab[i].n);
    }
    jsonw_obj_end(w);
}

static void stats_render(topic_job *j)
{
    jsonw *w = &j->body;
    jsonw_obj_begin(w);
    jsonw_key(w, "topic");
    jsonw_str(w, j->topic);
    jsonw_key(w, "total_messages");
    jsonw_int(w, j->total);
    put_stats(w, "error_categories", j->stats->cat, j->stats->ncat);
    put_stats(w, "error_reasons", j->stats->reason, j->stats->nreason);
    jsonw_obj_end(w);
}

static void put_event(jsonw *w, const order_event *ev)
{
    jsonw_obj_begin(w);
    jsonw_key(w, "eventType");
    jsonw_str(w, ev->type == ORDER_EVENT_CREATE ? "CREATE" : "UPDATE");
    jsonw_key(w, "orderId");
    jsonw_str(w, ev->order_id);
    order_render_time(w, "timestamp", ev->timestamp_ms);
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
    const atomic_int *stop;
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
        order_render_time(w, key, ms);
    } else {
        jsonw_key(w, key);
        jsonw_null(w);
    }
}

static int page_cb(void *arg, const scan_record *r)
{
    page_ctx *c = arg;
    jsonw *w = c->w;
    if (atomic_load(c->stop))
        return 1;
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
        order_render_time(w, "timestamp", r->timestamp_ms);
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

/* ---- on a worker -------------------------------------------------------- */

static void page_run(topic_job *j, order_decoder *dec)
{
    jsonw *w = &j->body;
    jsonw_obj_begin(w);
    jsonw_key(w, "topic");
    jsonw_str(w, j->topic);
    jsonw_key(w, "offset");
    jsonw_int(w, j->offset);
    jsonw_key(w, "limit");
    jsonw_int(w, j->limit);
    jsonw_key(w, "messages");
    jsonw_arr_begin(w);
    page_ctx c;
    memset(&c, 0, sizeof c);
    c.w = w;
    c.stop = j->stop;
    c.dec = dec;
    scan_request req = scan_req(j->app, j->topic);
    req.skip = j->offset;
    req.limit = j->limit;
    req.ordered = 1;
    j->st = topic_scan(&req, page_cb, &c, &j->total, j->err, sizeof j->err);
    topic_index_count_scanned(c.count);
    j->failed = c.failed;
    jsonw_arr_end(w);
    jsonw_key(w, "count");
    jsonw_int(w, c.count);
    jsonw_key(w, "total");
    jsonw_int(w, j->total);
    jsonw_obj_end(w);
    free(c.b64);
}

static void job_answer(http_call *call, void *arg);

/* The worker's writable store handle for the topic indexes, (re)opened on
 * demand: NULL while the store cannot be opened (the read is then a plain
 * scan of the whole topic, correct but slower). */
static store *worker_store(const order_app *a, void *worker_ctx)
{
    order_topic_worker *w = worker_ctx;
    if (!w->st) {
        char err[256];
        w->st = store_open(a->cfg->store_location, 0, err, sizeof err);
        if (!w->st) {
            log_warn("topic reads: store for the topic indexes: %s", err);
        } else if (store_cache_size(w->st, TOPIC_WORKER_CACHE_KIB, err, sizeof err) != STORE_OK) {
            /* only memory is at stake: the handle works with its default cache */
            log_warn("topic reads: store for the topic indexes: %s", err);
        }
    }
    return w->st;
}

/* topic_pool's job: the scan; the answer goes back to the call's loop thread. */
static void job_run(void *arg, void *worker_ctx, const atomic_int *stop)
{
    topic_job *j = arg;
    j->stop = stop;
    if (atomic_load(stop) || !worker_ctx) {
        j->cancelled = 1;
    } else if (j->kind == JOB_IDS) {
        scan_request req = scan_req(j->app, j->topic);
        topic_index_info info;
        j->st = topic_index_ids(worker_store(j->app, worker_ctx), &req, stop, &j->ids, &j->failed,
                                &j->total, &info, j->err, sizeof j->err);
    } else if (j->kind == JOB_STATS) {
        scan_request req = scan_req(j->app, j->topic);
        topic_index_info info;
        j->st = topic_index_stats(worker_store(j->app, worker_ctx), &req, stop, j->stats, &j->total,
                                  &info, j->err, sizeof j->err);
        if (j->st == SCAN_NO_TOPIC)
            j->st = SCAN_OK; /* no DLQ yet: zero dead letters */
        stats_render(j);
    } else {
        page_run(j, ((order_topic_worker *)worker_ctx)->dec);
        if (j->st == SCAN_NO_TOPIC)
            j->st = SCAN_OK;
    }
    if (atomic_load(stop))
        j->cancelled = 1;
    j->stop = NULL;
    http_call_complete(j->call, job_answer, j);
}

void *order_api_topic_worker_init(void *app, char *err, size_t errlen)
{
    const order_app *a = app;
    order_topic_worker *w = calloc(1, sizeof *w);
    if (!w) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    w->dec = order_decoder_new_with_reader(a->cfg->registry_url, a->cfg->reader_schema_json, err,
                                           errlen);
    if (!w->dec) {
        free(w);
        return NULL;
    }
    return w;
}

void order_api_topic_worker_free(void *worker_ctx)
{
    order_topic_worker *w = worker_ctx;
    if (!w)
        return;
    order_decoder_free(w->dec);
    store_close(w->st);
    free(w);
}

/* ---- back on the call's loop thread ------------------------------------- */

/* The ids answer, piece by piece: {"topic":...,"orderIds":[...],"count":n}. */
static int ids_next(void *arg, jsonw *out)
{
    topic_job *j = arg;
    if (j->stage == 0) {
        static const char a[] = "{\"topic\":", b[] = ",\"orderIds\":[";
        jsonw_bytes(out, a, sizeof a - 1);
        jsonw_str(out, j->topic);
        jsonw_bytes(out, b, sizeof b - 1);
        j->stage = 1;
        return 1;
    }
    jsonw_list_continues(out, j->next_id > 0);
    while (j->next_id < j->ids.count && out->len < TOPIC_IDS_PIECE) {
        size_t len;
        const char *id = idset_get(&j->ids, j->next_id++, &len);
        jsonw_strn(out, id, len);
    }
    if (j->next_id < j->ids.count)
        return 1;
    static const char c[] = "],\"count\":";
    jsonw_bytes(out, c, sizeof c - 1);
    jsonw_list_continues(out, 0);
    jsonw_int(out, j->ids.count);
    jsonw_bytes(out, "}", 1);
    j->stage = 2;
    return 0;
}

/* A rendered answer (the /dlq endpoints), in pieces of TOPIC_IDS_PIECE bytes. */
static int body_next(void *arg, jsonw *out)
{
    topic_job *j = arg;
    size_t n = j->body.len - j->body_sent;
    if (n > TOPIC_IDS_PIECE)
        n = TOPIC_IDS_PIECE;
    jsonw_bytes(out, j->body.buf + j->body_sent, n);
    j->body_sent += n;
    return j->body_sent < j->body.len;
}

static void job_answer(http_call *call, void *arg)
{
    topic_job *j = arg;
    if (j->refused) {
        char detail[160];
        snprintf(detail, sizeof detail,
                 "too many topic reads at once (%d running, %d waiting at most); try again later",
                 j->app->cfg->topic_read_workers, j->app->cfg->topic_read_queue);
        http_add_header(call, "Retry-After", "1");
        http_reply_error(call, 429, detail);
    } else if (j->cancelled) {
        http_add_header(call, "Retry-After", "2");
        http_reply_error(call, 503, "the service is shutting down");
    } else if (j->st != SCAN_OK) {
        reply_scan_error(call, j->st, j->err);
    } else if (j->failed) {
        http_reply_error(call, 500,
                         j->kind == JOB_IDS ? "too many distinct ids to list" : "out of memory");
    } else if (j->kind == JOB_IDS) {
        http_reply_stream(call, 200, ids_next, job_free, j);
        return; /* the stream frees the job */
    } else if (!jsonw_ok(&j->body)) {
        http_reply_error(call, 500, "cannot render the answer");
    } else {
        http_reply_stream(call, 200, body_next, job_free, j);
        return; /* the stream frees the job */
    }
    job_free(j);
}

/* ---- handlers (on an HTTP thread) --------------------------------------- */

static void job_start(http_call *call, topic_job *j)
{
    order_app *a = call->app;
    j->call = call;
    j->app = a;
    http_call_defer(call);
    if (topic_pool_submit(a->topics, job_run, j) != 0) {
        j->refused = 1;
        http_call_complete(call, job_answer, j); /* answered on this loop's next turn */
    }
}

static topic_job *job_new(http_call *call, job_kind kind, const char *topic)
{
    topic_job *j = calloc(1, sizeof *j);
    if (!j) {
        http_reply_error(call, 500, "out of memory");
        return NULL;
    }
    j->kind = kind;
    j->topic = topic;
    idset_init(&j->ids);
    jsonw_init(&j->body);
    if (kind == JOB_STATS) {
        j->stats = calloc(1, sizeof *j->stats);
        if (!j->stats) {
            job_free(j);
            http_reply_error(call, 500, "out of memory");
            return NULL;
        }
    }
    return j;
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
    /* the configuration's own string: the query's goes with the request */
    const char *own = strcmp(topic, a->cfg->topic) == 0 ? a->cfg->topic : a->cfg->dlq_topic;
    topic_job *j = job_new(call, JOB_IDS, own);
    if (j)
        job_start(call, j);
}

void order_api_topics_dlq_stats(http_call *call)
{
    order_app *a = call->app;
    topic_job *j = job_new(call, JOB_STATS, a->cfg->dlq_topic);
    if (j)
        job_start(call, j);
}

void order_api_topics_dlq_messages(http_call *call)
{
    order_app *a = call->app;
    long long limit, offset;
    if (http_parse_uint(http_query(call, "limit"), DLQ_PAGE_DEFAULT, 1, DLQ_PAGE_MAX, &limit)) {
        http_reply_error(call, 400, "limit must be an integer from 1 to 1000");
        return;
    }
    if (http_parse_uint(http_query(call, "offset"), 0, 0, 999999999999999LL, &offset)) {
        http_reply_error(call, 400, "offset must be a non-negative integer");
        return;
    }
    topic_job *j = job_new(call, JOB_PAGE, a->cfg->dlq_topic);
    if (!j)
        return;
    j->limit = limit;
    j->offset = offset;
    job_start(call, j);
}
