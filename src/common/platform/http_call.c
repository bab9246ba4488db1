/*
 * http_call: what a handler does with its call: read the request (JSON body,
 * query parameters) and answer it, now or later from the same thread's loop.
 * Also the call's lifetime, which the answer ends.
 *
 * Why it looks like this:
 * - Calls are recycled through a small per-thread free list: a busy server
 *   allocates no call structs in steady state, and no lock is needed.
 * - Deferred answers: evhttp keeps a request it has handed to us until we
 *   reply. While it waits, libevent 2.1.12 does not read the connection, so a
 *   client that left is noticed only when the answer is written: the write
 *   fails and evhttp frees connection and request itself, after our reply
 *   (test_http checks this under ASan). Should a connection go while its
 *   request is still ours (EOF or timeout seen by evhttp, which then detaches
 *   a request the user has not answered; the server freed), or evhttp answer
 *   a request itself, the connection's close callback and the request's
 *   completion callback (both owned by http_conn.c) clear the call's request,
 *   so the eventual reply only releases the call instead of touching freed
 *   memory.
 * - Bodies: evhttp's own limit is set to twice ours, so a body just over the
 *   documented limit gets our JSON 413; beyond that evhttp refuses it itself
 *   (its 413 page is HTML) without buffering it, which bounds memory.
 */
#include "platform/http.h"

#include "platform/clock.h"
#include "platform/http_internal.h"
#include "platform/log.h"
#include "platform/metrics.h"

#include <assert.h>
#include <errno.h>
#include <event2/buffer.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>

const char *http_reason(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 409:
        return "Conflict";
    case 413:
        return "Payload Too Large";
    case 415:
        return "Unsupported Media Type";
    case 422:
        return "Unprocessable Entity";
    case 429:
        return "Too Many Requests";
    case 500:
        return "Internal Server Error";
    case 503:
        return "Service Unavailable";
    default:
        return NULL; /* evhttp picks its own phrase */
    }
}

/* ---- call lifetime ---- */

/* What happens to the request if the connection goes first: see http_conn.c. */
void http_call_release(call_box *b)
{
    assert(!b->streaming && !b->deferred && b->gone_ev == NULL);
    http_thread *th = b->th;
    if (b->query_parsed)
        evhttp_clear_headers(&b->query);
    assert(atomic_load(&th->srv->in_flight) > 0);
    atomic_fetch_sub(&th->srv->in_flight, 1);
    if (th->nfree < HTTP_FREE_CALLS_MAX) {
        b->next = th->free_calls;
        th->free_calls = b;
        th->nfree++;
    } else {
        free(b);
    }
}

call_box *http_call_get(http_thread *th)
{
    call_box *b = th->free_calls;
    if (b) {
        th->free_calls = b->next;
        th->nfree--;
    } else {
        b = malloc(sizeof *b);
        if (!b)
            return NULL;
    }
    memset(b, 0, sizeof *b);
    b->th = th;
    TAILQ_INIT(&b->query);
    atomic_fetch_add(&th->srv->in_flight, 1);
    return b;
}

void http_call_attach(call_box *b, struct evhttp_request *req, http_conn *conn)
{
    b->req = req;
    if (conn)
        http_conn_attach_call(conn, b, req);
}

/* ---- replies ---- */

void http_add_header(http_call *call, const char *name, const char *value)
{
    call_box *b = (call_box *)call;
    assert(!b->answered && !b->deferred); /* headers go with the one answer */
    if (b->req)
        evhttp_add_header(evhttp_request_get_output_headers(b->req), name, value);
}

void http_reply(http_call *call, int status, const char *json, size_t len)
{
    http_reply_typed(call, status, "application/json", json, len);
}

static const char *http_method_name(enum evhttp_cmd_type cmd)
{
    switch (cmd) {
    case EVHTTP_REQ_GET:
        return "GET";
    case EVHTTP_REQ_POST:
        return "POST";
    case EVHTTP_REQ_PUT:
        return "PUT";
    case EVHTTP_REQ_DELETE:
        return "DELETE";
    case EVHTTP_REQ_HEAD:
        return "HEAD";
    case EVHTTP_REQ_OPTIONS:
        return "OPTIONS";
    case EVHTTP_REQ_PATCH:
        return "PATCH";
    default:
        return "OTHER";
    }
}

void http_call_observe(call_box *b, int status)
{
    http_call *call = &b->call;
    metrics_http_observe(b->route, status, clock_mono_s() - b->started);
    /* the access line: 5xx at warn so they show at the default level */
    log_level level = status >= 500 ? LOG_WARN : LOG_DEBUG;
    if (log_enabled(level)) {
        /* answered from the handler or later (a delivery report): the call's trace either way */
        char outer[TRACE_ID_HEX + 1];
        snprintf(outer, sizeof outer, "%s", log_trace_get());
        log_trace_set(call->traceparent + 3, TRACE_ID_HEX);
        const char *uri = b->req ? evhttp_request_get_uri(b->req) : NULL;
        log_msg(level, "http", call->request_id, "%s %.200s -> %d in %.3f ms",
                b->req ? http_method_name(evhttp_request_get_command(b->req)) : "-",
                uri ? uri : "(client gone)", status, (clock_mono_s() - b->started) * 1e3);
        log_trace_set(outer, strlen(outer));
    }
}

/*
 * The Date header, formatted once per second per thread: evhttp would add it
 * itself, with gmtime and printf on every answer (3 % of a create's
 * instructions, bench/profile-notes.md), and skips that when one is present.
 */
static const char *http_date(http_thread *th)
{
    time_t now = time(NULL);
    if (now != th->date_at || !th->date[0]) {
        struct tm tm;
        if (!gmtime_r(&now, &tm) ||
            strftime(th->date, sizeof th->date, "%a, %d %b %Y %H:%M:%S GMT", &tm) == 0)
            th->date[0] = '\0';
        th->date_at = now;
    }
    return th->date[0] ? th->date : NULL;
}

void http_reply_typed(http_call *call, int status, const char *content_type, const char *body,
                      size_t len)
{
    call_box *b = (call_box *)call;
    /* Exactly one answer per call: a second one would write to a recycled
     * call (or a freed request) and answer someone else's request. A deferred
     * call is answered only from its completion, on its own loop thread. */
    assert(!b->answered && !b->deferred);
    assert(status >= 100 && status <= 599);
    b->answered = 1;
    http_call_observe(b, status);
    http_conn_detach_call(b);
    if (b->req) {
        struct evhttp_request *req = b->req;
        struct evkeyvalq *h = evhttp_request_get_output_headers(req);
        evhttp_add_header(h, "Content-Type", content_type);
        evhttp_add_header(h, "X-Request-ID", call->request_id);
        const char *date = http_date(b->th);
        if (date)
            evhttp_add_header(h, "Date", date);
        evhttp_add_header(h, "traceparent", call->traceparent);
        if (evbuffer_add(evhttp_request_get_output_buffer(req), body, len) != 0) {
            log_msg(LOG_ERROR, "http", call->request_id, "out of memory for the reply body");
            status = 500;
        }
        /* Frees req if the client already left (libevent detached it). */
        evhttp_send_reply(req, status, http_reason(status), NULL);
        b->req = NULL;
    }
    http_call_release(b);
}

void http_reply_jsonw(http_call *call, int status, const jsonw *w)
{
    if (!jsonw_ok(w)) {
        static const char oom[] = "{\"detail\":\"could not render the response\"}";
        http_reply(call, 500, oom, sizeof oom - 1);
        return;
    }
    http_reply(call, status, w->buf, w->len);
}

void http_reply_validation(http_call *call, int status, const char *detail,
                           const http_field_error *errors, size_t n)
{
    jsonw w;
    jsonw_init(&w);
    jsonw_obj_begin(&w);
    jsonw_key(&w, "detail");
    jsonw_str(&w, detail);
    if (errors && n > 0) {
        jsonw_key(&w, "errors");
        jsonw_arr_begin(&w);
        for (size_t i = 0; i < n; i++) {
            jsonw_obj_begin(&w);
            jsonw_key(&w, "field");
            jsonw_str(&w, errors[i].field);
            jsonw_key(&w, "message");
            jsonw_str(&w, errors[i].message);
            jsonw_obj_end(&w);
        }
        jsonw_arr_end(&w);
    }
    jsonw_obj_end(&w);
    http_reply_jsonw(call, status, &w);
    jsonw_free(&w);
}

void http_reply_error(http_call *call, int status, const char *detail)
{
    http_reply_validation(call, status, detail, NULL, 0);
}

/* ---- request helpers ---- */

/* application/json or any application/<x>+json, parameters ignored. */
static int content_type_is_json(const char *ct)
{
    if (!ct)
        return 0;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    size_t n = strcspn(ct, ";");
    while (n > 0 && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
        n--;
    if (n == 16 && strncasecmp(ct, "application/json", 16) == 0)
        return 1;
    return n > 17 && strncasecmp(ct, "application/", 12) == 0 &&
           strncasecmp(ct + n - 5, "+json", 5) == 0;
}

json_t *http_read_json_object(http_call *call)
{
    http_thread *th = ((call_box *)call)->th;
    struct evhttp_request *req = ((call_box *)call)->req;
    if (!req) {
        http_reply_error(call, 400, "request gone");
        return NULL;
    }
    const char *ct = evhttp_find_header(evhttp_request_get_input_headers(req), "Content-Type");
    if (!content_type_is_json(ct)) {
        http_reply_error(call, 415, "Content-Type must be application/json");
        return NULL;
    }
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in);
    if (len > th->srv->cfg.max_body_bytes) {
        char msg[96];
        snprintf(msg, sizeof msg, "request body larger than %zu bytes",
                 th->srv->cfg.max_body_bytes);
        http_reply_error(call, 413, msg);
        return NULL;
    }
    if (len == 0) {
        http_reply_error(call, 400, "malformed JSON: empty body");
        return NULL;
    }
    const char *data = (const char *)evbuffer_pullup(in, -1);
    if (!data) {
        http_reply_error(call, 500, "out of memory reading the body");
        return NULL;
    }
    json_error_t jerr;
    /* jansson rejects invalid UTF-8 and \u0000, and bounds nesting depth */
    json_t *root = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        char msg[256];
        snprintf(msg, sizeof msg, "malformed JSON: %s (line %d, column %d)", jerr.text, jerr.line,
                 jerr.column);
        http_reply_error(call, 400, msg);
        return NULL;
    }
    if (!json_is_object(root)) {
        /* valid JSON of the wrong shape, like a missing field: 422 */
        json_decref(root);
        static const http_field_error e = {"body", "must be a JSON object"};
        http_reply_validation(call, 422, "request body must be a JSON object", &e, 1);
        return NULL;
    }
    return root;
}

const char *http_header(http_call *call, const char *name)
{
    call_box *b = (call_box *)call;
    assert(!b->deferred); /* as http_query: copy before deferring */
    return b->req ? evhttp_find_header(evhttp_request_get_input_headers(b->req), name) : NULL;
}

const char *http_query(http_call *call, const char *key)
{
    call_box *b = (call_box *)call;
    assert(!b->deferred); /* a worker must not touch the request: copy before deferring */
    if (!b->query_parsed) {
        b->query_parsed = 1;
        if (!b->req)
            return NULL;
        const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(b->req);
        const char *q = uri ? evhttp_uri_get_query(uri) : NULL;
        /* libevent decodes %00 into a NUL that silently cuts the value
         * ("orderId=A%00B" would read as "A"); as %01 the control byte stays
         * in the value, so the handler's validation refuses it (400). */
        char *copy = NULL;
        if (q && strstr(q, "%00")) {
            copy = strdup(q);
            if (!copy) {
                log_msg(LOG_WARN, "http", call->request_id, "query copy: out of memory");
                return NULL;
            }
            for (char *p = copy; (p = strstr(p, "%00")) != NULL; p += 3)
                p[2] = '1';
            q = copy;
        }
        /* a malformed query string leaves the list as far as it got */
        if (q && evhttp_parse_query_str(q, &b->query) != 0)
            log_msg(LOG_DEBUG, "http", call->request_id, "malformed query string");
        free(copy);
    }
    return evhttp_find_header(&b->query, key);
}

size_t http_route_param_at(const char *route)
{
    size_t n = strlen(route);
    const char *slash = strrchr(route, '/');
    if (n < 3 || route[n - 1] != '}' || !slash || slash[1] != '{')
        return 0;
    return (size_t)(slash - route) + 1;
}

const char *http_path_tail(http_call *call)
{
    call_box *b = (call_box *)call;
    assert(!b->deferred);
    if (!b->req || b->route < 0)
        return NULL;
    size_t n = http_route_param_at(b->th->srv->routes[b->route].path);
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(b->req);
    const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
    return n && path && strlen(path) > n ? path + n : NULL;
}

int http_parse_uint(const char *s, long long def, long long min, long long max, long long *out)
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
