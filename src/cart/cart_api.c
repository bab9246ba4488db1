/*
 * cart_api: handlers and delivery reports; see the header for the flow.
 *
 * Status codes: validation 422/400 (cart_validate), 503 + Retry-After for
 * anything a retry can fix (not ready, queue full, broker unreachable,
 * delivery timed out, producer restarting), 400 for an event that cannot be
 * serialized or is refused as too large, 500 for the unexpected.
 */
#include "cart_api.h"
#include "cart_health.h"
#include "cart_idem.h"
#include "cart_validate.h"

#include "event/order_json.h"
#include "event/order_schema.h"
#include "platform/clock.h"
#include "platform/log.h"
#include "platform/metrics.h"
#include "platform/service.h"

#include <stdlib.h>
#include <string.h>

#define PENDING_FREE_MAX 256

struct cart_pending {
    http_call *call;
    cart_thread *th;                      /* the call's thread: its pool takes the slot back */
    char idem_key[CART_IDEM_KEY_MAX + 1]; /* the request's Idempotency-Key */
    size_t idem_len;                      /* 0: none */
    cart_pending *next;
    double queued_at; /* monotonic, for the produce latency histogram */
    /* the delivery report, kept for the call's thread to answer from */
    rd_kafka_resp_err_t err;
    int maybe_written;
    int32_t partition;
    int64_t offset;
    /* what the answer needs of the event (built in the thread's scratch
     * event): the answer itself is rendered up to its partition when queued,
     * so a write waiting for Kafka holds a few hundred bytes, not the ~8 KiB
     * of a whole order_event (1,000 connections: 1,000 of them at once) */
    order_event_type type;
    char order_id[ORDER_ID_MAX + 1];
    jsonw ans;
};

/* Produce metrics (issue 7): acknowledged events by type, failures by reason,
 * and the time from queueing to Kafka's acknowledgement. */
enum {
    PRODUCE_ERR_TIMEOUT,
    PRODUCE_ERR_UNAVAILABLE,
    PRODUCE_ERR_QUEUE_FULL,
    PRODUCE_ERR_REFUSED,
    PRODUCE_ERR_SERIALIZATION,
    PRODUCE_ERR_UNEXPECTED,
    PRODUCE_ERR_N
};
static const char *const produce_err_names[PRODUCE_ERR_N] = {
    "timeout", "unavailable", "queue_full", "refused", "serialization", "unexpected"};
static metrics_counter m_produced[2]; /* indexed by order_event_type */
static metrics_counter m_produce_errors[PRODUCE_ERR_N];
static metrics_histogram m_produce_latency;

void cart_app_init(cart_app *a, const cart_config *cfg, cart_bootstrap *boot)
{
    memset(a, 0, sizeof *a);
    a->cfg = cfg;
    a->boot = boot;
    atomic_init(&a->pending, 0);
    atomic_init(&a->shutting_down, 0);
}

static void pending_destroy(cart_pending *p)
{
    jsonw_free(&p->ans);
    free(p);
}

void *cart_thread_init(void *app, int index, char *err, size_t errlen)
{
    (void)app;
    cart_thread *t = calloc(1, sizeof *t);
    if (!t) {
        snprintf(err, errlen, "out of memory for HTTP thread %d", index);
        return NULL;
    }
    t->index = index;
    t->codec = codec_new(order_schema_json, err, errlen);
    if (!t->codec) {
        free(t);
        return NULL;
    }
    jsonw_init(&t->out);
    return t;
}

void cart_thread_free(void *thread_ctx)
{
    cart_thread *t = thread_ctx;
    if (!t)
        return;
    while (t->free_pending) {
        cart_pending *p = t->free_pending;
        t->free_pending = p->next;
        pending_destroy(p);
    }
    jsonw_free(&t->out);
    codec_free(t->codec);
    free(t);
}

static cart_pending *pending_get(cart_thread *t)
{
    cart_pending *p = t->free_pending;
    if (p) {
        t->free_pending = p->next;
        t->nfree--;
    } else {
        p = malloc(sizeof *p);
        if (!p)
            return NULL;
        jsonw_init(&p->ans);
    }
    p->th = t;
    return p;
}

/* On p's own thread only. */
static void pending_put(cart_pending *p)
{
    cart_thread *t = p->th;
    if (t->nfree < PENDING_FREE_MAX) {
        p->next = t->free_pending;
        t->free_pending = p;
        t->nfree++;
    } else {
        pending_destroy(p);
    }
}

static void reply_503(http_call *call, const char *detail)
{
    http_add_header(call, "Retry-After", "2");
    http_reply_error(call, 503, detail);
}

/* Whether writes can be taken now; answers the call if not. */
static int write_gate(cart_app *a, http_call *call, uint32_t *schema_id)
{
    if (atomic_load(&a->shutting_down)) {
        reply_503(call, "shutting down");
        return 0;
    }
    cart_status st;
    cart_bootstrap_status(a->boot, &st);
    if (!st.topics_ready || !st.schema_id) {
        char msg[320];
        snprintf(msg, sizeof msg, "not ready: %s", st.reason[0] ? st.reason : "starting");
        reply_503(call, msg);
        return 0;
    }
    /* early refusal before the body is encoded; publish() reserves for real */
    if (atomic_load(&a->pending) >= a->cfg->max_pending_writes) {
        reply_503(call, "too many writes waiting for Kafka");
        return 0;
    }
    *schema_id = st.schema_id;
    return 1;
}

/* Answers a write that could not be queued (e: cart_producer_send's error). */
static void answer_not_queued(http_call *call, rd_kafka_resp_err_t e)
{
    log_msg(LOG_WARN, "cart", call->request_id, "cannot queue the event: %s", rd_kafka_err2str(e));
    switch (e) {
    case RD_KAFKA_RESP_ERR__QUEUE_FULL:
        metrics_add(&m_produce_errors[PRODUCE_ERR_QUEUE_FULL], 1);
        reply_503(call, "local producer queue full");
        break;
    case RD_KAFKA_RESP_ERR__FATAL:
        metrics_add(&m_produce_errors[PRODUCE_ERR_UNAVAILABLE], 1);
        reply_503(call, "Kafka producer restarting");
        break;
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
        metrics_add(&m_produce_errors[PRODUCE_ERR_REFUSED], 1);
        http_reply_error(call, 400, "event too large for Kafka");
        break;
    default: {
        metrics_add(&m_produce_errors[PRODUCE_ERR_UNEXPECTED], 1);
        char msg[256];
        snprintf(msg, sizeof msg, "cannot queue the event: %s", rd_kafka_err2str(e));
        http_reply_error(call, 500, msg);
    }
    }
}

/* A deferred call's queueing failure, answered on its own thread. */
static void answer_not_queued_posted(http_call *call, void *arg)
{
    cart_pending *p = arg;
    answer_not_queued(call, p->err);
    pending_put(p);
}

/* The 2xx answer up to its topic: known before Kafka acknowledges. */
static void render_ack_head(jsonw *w, const order_event *ev, const char *topic)
{
    jsonw_reset(w);
    jsonw_obj_begin(w);
    jsonw_key(w, "message");
    if (ev->type == ORDER_EVENT_CREATE) {
        jsonw_str(w, "Order created");
        jsonw_key(w, "order");
        jsonw_obj_begin(w);
        jsonw_key(w, "orderId");
        jsonw_str(w, ev->order_id);
        order_json_create_fields(w, ev);
        jsonw_key(w, "status");
        jsonw_str(w, ev->status);
        jsonw_obj_end(w);
    } else {
        jsonw_str(w, "Order status updated");
        jsonw_key(w, "orderId");
        jsonw_str(w, ev->order_id);
        jsonw_key(w, "status");
        jsonw_str(w, ev->status);
    }
    jsonw_key(w, "topic");
    jsonw_str(w, topic);
}

/* ... and the rest, from the acknowledgement. */
static void render_ack_tail(jsonw *w, int32_t partition, int64_t offset)
{
    jsonw_key(w, "partition");
    jsonw_int(w, partition);
    jsonw_key(w, "offset");
    jsonw_int(w, offset);
    jsonw_obj_end(w);
}

/* Encodes and queues the thread's event (t->ev); on failure answers the call and recycles p. */
static void publish(cart_app *a, http_call *call, cart_pending *p, uint32_t schema_id)
{
    cart_thread *t = p->th;
    char err[256];
    size_t len = 0;
    codec_status cs =
        codec_encode(t->codec, schema_id, &t->ev, t->frame, sizeof t->frame, &len, err, sizeof err);
    if (cs != CODEC_OK) {
        char msg[320];
        snprintf(msg, sizeof msg, "event cannot be serialized: %s", err);
        log_msg(LOG_ERROR, "cart", call->request_id, "%s (%s)", msg, codec_status_name(cs));
        http_reply_error(call, cs == CODEC_ERR_INTERNAL ? 500 : 400, msg);
        metrics_add(&m_produce_errors[PRODUCE_ERR_SERIALIZATION], 1);
        pending_put(p);
        return;
    }
    p->call = call;
    p->type = t->ev.type;
    memcpy(p->order_id, t->ev.order_id, sizeof p->order_id);
    render_ack_head(&p->ans, &t->ev, a->cfg->topic);
    p->queued_at = clock_mono_s();
    /* the slot is reserved, not checked then taken: threads racing past
     * write_gate's check would otherwise all get in over the bound */
    if (atomic_fetch_add(&a->pending, 1) >= a->cfg->max_pending_writes) {
        atomic_fetch_sub(&a->pending, 1);
        reply_503(call, "too many writes waiting for Kafka");
        pending_put(p);
        return;
    }
    /* another thread's report may come back before send returns: deferred first */
    int deferred = t->index != 0;
    if (deferred)
        http_call_defer(call);
    cart_headers h = {call->traceparent, p->idem_key, p->idem_len};
    rd_kafka_resp_err_t e = cart_producer_send(a->producer, a->cfg->topic, p->order_id,
                                               strlen(p->order_id), t->frame, len, &h, p);
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
        return;
    atomic_fetch_sub(&a->pending, 1);
    if (deferred) {
        p->err = e;
        http_call_complete(call, answer_not_queued_posted, p);
        return;
    }
    answer_not_queued(call, e);
    pending_put(p);
}

/*
 * What both writes share: parse and validate the body, check that Kafka and
 * the schema are ready, take a pending slot. Returns the slot, or NULL after
 * answering the call.
 */
static cart_pending *begin_write(cart_app *a, http_call *call,
                                 int (*validate)(const cart_body *, cart_validation *),
                                 cart_validation *v, uint32_t *schema_id)
{
    size_t len = 0;
    const char *raw = http_json_body(call, &len);
    if (!raw)
        return NULL;
    /* the plain shape without a document; anything else through jansson,
     * which also words the error of a malformed body */
    cart_body body;
    json_t *doc = NULL;
    if (cart_body_scan(raw, len, &body) != 0) {
        if (!(doc = http_parse_json_object(call, raw, len)))
            return NULL;
        cart_body_from_json(doc, &body);
    }
    validate(&body, v);
    json_decref(doc);
    if (v->status) {
        http_reply_validation(call, v->status, v->detail, v->errors, v->nerrors);
        return NULL;
    }
    /* a malformed key is the client's mistake whatever the state of Kafka: checked first */
    char key[CART_IDEM_KEY_MAX + 1], kerr[128];
    size_t klen = 0;
    const char *kh = http_header(call, "Idempotency-Key");
    if (kh && cart_idem_parse(kh, key, &klen, kerr, sizeof kerr) != 0) {
        http_reply_error(call, 400, kerr);
        return NULL;
    }
    if (!write_gate(a, call, schema_id))
        return NULL;
    cart_pending *p = pending_get(call->thread_ctx);
    if (!p) {
        http_reply_error(call, 500, "out of memory");
        return NULL;
    }
    memcpy(p->idem_key, key, klen);
    p->idem_key[klen] = '\0';
    p->idem_len = klen;
    return p;
}

static void handle_create(http_call *call)
{
    cart_app *a = call->app;
    cart_validation v;
    uint32_t id;
    cart_pending *p = begin_write(a, call, cart_validate_create, &v, &id);
    if (!p)
        return;
    char err[128];
    /* the content is the request's (retry-safe); only the event time is the clock's */
    cart_gen_rng rng;
    cart_gen_seed(&rng, cart_gen_request_seed(v.order_id, v.items_count,
                                              p->idem_len ? p->idem_key : NULL, p->idem_len));
    if (cart_gen_create(&rng, v.order_id, v.items_count, clock_wall_ms(), &p->th->ev, err,
                        sizeof err) != 0) {
        pending_put(p);
        http_reply_error(call, 500, err);
        return;
    }
    publish(a, call, p, id);
}

static void handle_update(http_call *call)
{
    cart_app *a = call->app;
    cart_validation v;
    uint32_t id;
    cart_pending *p = begin_write(a, call, cart_validate_update, &v, &id);
    if (!p)
        return;
    char err[128];
    if (cart_gen_update(v.order_id, v.order_status, clock_wall_ms(), &p->th->ev, err, sizeof err) !=
        0) {
        pending_put(p);
        http_reply_error(call, 500, err);
        return;
    }
    publish(a, call, p, id);
}

int cart_error_retryable(rd_kafka_resp_err_t e)
{
    switch (e) {
    case RD_KAFKA_RESP_ERR__MSG_TIMED_OUT:
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR__TIMED_OUT_QUEUE:
    case RD_KAFKA_RESP_ERR__TRANSPORT:
    case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
    case RD_KAFKA_RESP_ERR__PURGE_QUEUE:
    case RD_KAFKA_RESP_ERR__PURGE_INFLIGHT:
    case RD_KAFKA_RESP_ERR__FATAL:
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    case RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION:
    case RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS:
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
    case RD_KAFKA_RESP_ERR_NETWORK_EXCEPTION:
    case RD_KAFKA_RESP_ERR_KAFKA_STORAGE_ERROR:
    /* The idempotent producer's state against a new leader after a broker
     * died (seen in the three-broker SIGKILL test): the event is refused and
     * the producer resets its sequence; the same request, retried, is safe. */
    case RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER:
    case RD_KAFKA_RESP_ERR_UNKNOWN_PRODUCER_ID:
    case RD_KAFKA_RESP_ERR_INVALID_PRODUCER_EPOCH:
        return 1;
    default:
        return 0;
    }
}

/* Sends p's answer from its delivery report; on p's own thread. */
static void answer_delivered(cart_app *a, http_call *call, cart_pending *p)
{
    /* the report's log lines belong to the request's trace */
    log_trace_saved outer;
    log_trace_enter(&outer, call->traceparent + 3, TRACE_ID_HEX);
    rd_kafka_resp_err_t err = p->err;
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        metrics_add(&m_produced[p->type == ORDER_EVENT_CREATE ? 0 : 1], 1);
        metrics_observe(&m_produce_latency, clock_mono_s() - p->queued_at);
        cart_bootstrap_kafka_up(a->boot);
        render_ack_tail(&p->ans, p->partition, p->offset);
        http_reply_jsonw(call, p->type == ORDER_EVENT_CREATE ? 201 : 200, &p->ans);
    } else {
        char msg[256];
        log_msg(LOG_WARN, "cart", call->request_id, "delivery of %s failed: %s", p->order_id,
                rd_kafka_err2str(err));
        if (err == RD_KAFKA_RESP_ERR__MSG_TIMED_OUT) {
            metrics_add(&m_produce_errors[PRODUCE_ERR_TIMEOUT], 1);
            /* whether a retry may meet a copy: either way the same request is safe to retry */
            snprintf(msg, sizeof msg, "Kafka did not acknowledge within %d ms (%s)",
                     a->cfg->delivery_timeout_ms,
                     p->maybe_written ? "it may have been written: retry the same request"
                                      : "it was not written: retry the same request");
            reply_503(call, msg);
        } else if (cart_error_retryable(err)) {
            metrics_add(&m_produce_errors[PRODUCE_ERR_UNAVAILABLE], 1);
            snprintf(msg, sizeof msg, "Kafka unavailable: %s", rd_kafka_err2str(err));
            reply_503(call, msg);
        } else if (err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE ||
                   err == RD_KAFKA_RESP_ERR_INVALID_MSG) {
            metrics_add(&m_produce_errors[PRODUCE_ERR_REFUSED], 1);
            snprintf(msg, sizeof msg, "Kafka refused the event: %s", rd_kafka_err2str(err));
            http_reply_error(call, 400, msg);
        } else {
            metrics_add(&m_produce_errors[PRODUCE_ERR_UNEXPECTED], 1);
            snprintf(msg, sizeof msg, "unexpected Kafka error: %s", rd_kafka_err2str(err));
            http_reply_error(call, 500, msg);
        }
    }
    log_trace_leave(&outer);
    pending_put(p);
}

static void answer_delivered_posted(http_call *call, void *arg)
{
    cart_pending *p = arg;
    answer_delivered(call->app, call, p);
}

void cart_on_delivery(void *msg_opaque, rd_kafka_resp_err_t err, int maybe_written,
                      const char *topic, int32_t partition, int64_t offset, void *app)
{
    cart_app *a = app;
    cart_pending *p = msg_opaque;
    (void)topic; /* always cfg->topic: the only one produced to */
    atomic_fetch_sub(&a->pending, 1);
    if (a->http_gone) {
        /* the threads' pools are gone with the server: not recycled */
        pending_destroy(p);
        return;
    }
    p->err = err;
    p->maybe_written = maybe_written;
    p->partition = partition;
    p->offset = offset;
    if (p->th->index == 0)
        answer_delivered(a, p->call, p); /* reports run on thread 0's loop */
    else
        http_call_complete(p->call, answer_delivered_posted, p);
}

void cart_on_brokers_down(const char *reason, void *app)
{
    cart_app *a = app;
    cart_bootstrap_kafka_down(a->boot, reason);
}

static void handle_health(http_call *call)
{
    cart_app *a = call->app;
    cart_status st;
    cart_bootstrap_status(a->boot, &st);
    int down = atomic_load(&a->shutting_down);
    int ok = st.topics_ready && st.schema_id && st.kafka_ok && !down;
    jsonw *w = &((cart_thread *)call->thread_ctx)->out;
    jsonw_reset(w);
    jsonw_obj_begin(w);
    jsonw_key(w, "status");
    jsonw_str(w, ok ? "ok" : "unavailable");
    if (!ok) {
        jsonw_key(w, "detail");
        jsonw_str(w, down ? "shutting down" : (st.reason[0] ? st.reason : "kafka unreachable"));
    }
    jsonw_key(w, "service");
    jsonw_str(w, "cart-service");
    jsonw_key(w, "kafka");
    jsonw_str(w, st.kafka_ok ? "reachable" : "unreachable");
    jsonw_key(w, "topicsReady");
    jsonw_bool(w, st.topics_ready);
    jsonw_key(w, "schemaRegistered");
    jsonw_bool(w, st.schema_id != 0);
    if (st.schema_id) {
        jsonw_key(w, "schemaId");
        jsonw_int(w, st.schema_id);
    }
    jsonw_key(w, "topic");
    jsonw_str(w, a->cfg->topic);
    jsonw_key(w, "pendingWrites");
    jsonw_int(w, atomic_load(&a->pending));
    jsonw_obj_end(w);
    if (!ok)
        http_add_header(call, "Retry-After", "2");
    http_reply_jsonw(call, ok ? 200 : 503, w);
}

/* cart-service's own families; the shared HTTP ones come first (service.h). */
static void render_metrics(metrics_text *t, void *arg)
{
    const cart_app *a = arg;
    metrics_text_family(t, "cart_pending_writes", "gauge",
                        "Writes waiting for Kafka's acknowledgement.");
    metrics_text_sample(t, "cart_pending_writes", NULL, (double)atomic_load(&a->pending));
    metrics_text_family(t, "cart_events_produced_total", "counter",
                        "Events acknowledged by Kafka (acks=all), by type.");
    metrics_text_sample(t, "cart_events_produced_total", "type=\"CREATE\"",
                        (double)atomic_load(&m_produced[0].v));
    metrics_text_sample(t, "cart_events_produced_total", "type=\"UPDATE\"",
                        (double)atomic_load(&m_produced[1].v));
    metrics_text_family(t, "cart_produce_errors_total", "counter",
                        "Events not written (the client got 400/500/503), by reason.");
    for (int i = 0; i < PRODUCE_ERR_N; i++) {
        char labels[64];
        snprintf(labels, sizeof labels, "reason=\"%s\"", produce_err_names[i]);
        metrics_text_sample(t, "cart_produce_errors_total", labels,
                            (double)atomic_load(&m_produce_errors[i].v));
    }
    metrics_text_family(t, "cart_produce_duration_seconds", "histogram",
                        "Time from queueing an event to Kafka's acknowledgement.");
    metrics_text_histogram(t, "cart_produce_duration_seconds", NULL, &m_produce_latency);
}

static void handle_metrics(http_call *call)
{
    service_reply_metrics(call, render_metrics, call->app);
}

static const http_route routes[] = {
    {"/create-order", HTTP_M_POST, handle_create},
    {"/update-order", HTTP_M_PUT, handle_update},
    {"/health", HTTP_M_GET, handle_health},
    {"/health/live", HTTP_M_GET, cart_health_live},
    {"/health/ready", HTTP_M_GET, cart_health_ready},
    {"/metrics", HTTP_M_GET, handle_metrics},
    {"/openapi.yaml", HTTP_M_GET, service_handle_openapi},
    SERVICE_DOCS_ROUTES,
};

const http_route *cart_routes(size_t *n)
{
    *n = sizeof routes / sizeof routes[0];
    return routes;
}
