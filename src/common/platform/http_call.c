/*
 * http_call: what a handler does with its call: read the request (JSON body,
 * query parameters, headers) and answer it, now or later from the same
 * thread's loop. Also the call's lifetime, which the answer ends.
 *
 * Why it looks like this:
 * - Calls are recycled through a small per-thread free list: a busy server
 *   allocates no call structs in steady state, and no lock is needed.
 * - The request stays where it was read (the connection's buffer, parsed in
 *   place), so reading a header or the body copies nothing; only query values
 *   are decoded, into the call itself (or a block it owns when long).
 * - The answer head is built by hand (no printf), with the Date header
 *   formatted once a second, and handed to the connection with the body in
 *   one writev.
 * - A call whose client left (its connection closed while a handler held
 *   it) has no connection; answering it only releases it.
 */
#include "platform/http.h"

#include "platform/clock.h"
#include "platform/http_internal.h"
#include "platform/log.h"
#include "platform/metrics.h"

#include "platform/numfmt.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>

const char *http_reason(int status)
{
    switch (status) {
    case 100:
        return "Continue";
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
    case 417:
        return "Expectation Failed";
    case 431:
        return "Request Header Fields Too Large";
    case 503:
        return "Service Unavailable";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return status < 300 ? "OK" : status < 500 ? "Client Error" : "Server Error";
    }
}

/* ---- call lifetime ---- */

void http_call_release(call_box *b)
{
    assert(!b->streaming && !b->deferred && b->gone_fn == NULL);
    assert(b->conn == NULL || b->conn->call != b); /* the connection let go of it */
    http_thread *th = b->th;
    while (b->qblocks) {
        http_qblock *q = b->qblocks;
        b->qblocks = q->next;
        free(q);
    }
    http_call_uncount(b);
    if (th->nfree < HTTP_FREE_CALLS_MAX) {
        b->next = th->free_calls;
        th->free_calls = b;
        th->nfree++;
    } else {
        free(b);
    }
}

void http_call_uncount(call_box *b)
{
    if (!b->counted)
        return;
    b->counted = 0;
    assert(atomic_load(&b->th->srv->in_flight) > 0);
    atomic_fetch_sub(&b->th->srv->in_flight, 1);
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
    /* the head's field table is written by the parser: only the part before it is cleared */
    memset(b, 0, offsetof(call_box, head));
    memset(&b->head, 0, offsetof(http_head, fields));
    b->base = NULL;
    b->head_ok = 0;
    b->body_at = b->body_len = 0;
    b->qused = 0;
    b->qblocks = NULL;
    b->extra_len = 0;
    memset(&b->deferred, 0, sizeof *b - offsetof(call_box, deferred));
    b->th = th;
    b->route = -1;
    b->counted = 1;
    atomic_fetch_add(&th->srv->in_flight, 1);
    return b;
}

/* ---- replies ---- */

static size_t put(char *out, size_t at, size_t cap, const char *s, size_t n)
{
    if (at + n > cap)
        return cap + 1; /* marks overflow: every later put fails too */
    memcpy(out + at, s, n);
    return at + n;
}

#define PUTS(lit) (at = put(out, at, cap, lit, sizeof lit - 1))

void http_add_header(http_call *call, const char *name, const char *value)
{
    call_box *b = (call_box *)call;
    assert(!b->answered && !b->deferred); /* headers go with the one answer */
    size_t nn = strlen(name), vn = strlen(value);
    if (strpbrk(value, "\r\n") || strpbrk(name, "\r\n: ")) {
        log_msg(LOG_ERROR, "http", call->request_id, "header %.40s: not a valid field", name);
        return;
    }
    size_t cap = sizeof b->extra, at = b->extra_len;
    char *out = b->extra;
    at = put(out, at, cap, name, nn);
    PUTS(": ");
    at = put(out, at, cap, value, vn);
    PUTS("\r\n");
    if (at > cap) {
        log_msg(LOG_ERROR, "http", call->request_id, "header %.40s: no room left", name);
        return;
    }
    b->extra_len = at;
}

void http_reply(http_call *call, int status, const char *json, size_t len)
{
    http_reply_typed(call, status, "application/json", json, len);
}

static const char *http_method_name(const call_box *b)
{
    return b->base && b->head_ok ? b->base + b->head.method_at : "-";
}

void http_call_observe(call_box *b, int status)
{
    http_call *call = &b->call;
    metrics_http_observe(b->route, status, clock_mono_s() - b->started);
    /* the access line: 5xx at warn so they show at the default level */
    log_level level = status >= 500 ? LOG_WARN : LOG_DEBUG;
    if (log_enabled(level)) {
        /* answered from the handler or later (a delivery report): the call's trace either way */
        log_trace_saved outer;
        log_trace_enter(&outer, call->traceparent + 3, TRACE_ID_HEX);
        int has = b->base && b->head_ok;
        const char *path = has ? b->base + b->head.path_at : "(client gone)";
        const char *q = has && b->head.query_at ? b->base + b->head.query_at : NULL;
        log_msg(level, "http", call->request_id, "%s %.200s%s%.200s -> %d in %.3f ms",
                http_method_name(b), path, q ? "?" : "", q ? q : "", status,
                (clock_mono_s() - b->started) * 1e3);
        log_trace_leave(&outer);
    }
}

/* The Date header, formatted once per second per thread (gmtime and strftime are not cheap). */
static const char *http_date(http_thread *th, size_t *len)
{
    time_t now = time(NULL);
    if (now != th->date_at || !th->date[0]) {
        struct tm tm;
        if (!gmtime_r(&now, &tm) ||
            strftime(th->date, sizeof th->date, "%a, %d %b %Y %H:%M:%S GMT", &tm) == 0)
            th->date[0] = '\0';
        th->date_len = strlen(th->date);
        th->date_at = now;
    }
    *len = th->date_len;
    return th->date[0] ? th->date : NULL;
}

size_t http_call_head(call_box *b, int status, const char *content_type, long long body_len,
                      char *out, size_t cap)
{
    size_t at = 0;
    char num[NUMFMT_U64_MAX];
    PUTS("HTTP/1.1 ");
    at = put(out, at, cap, num, numfmt_u64(num, (uint64_t)status));
    PUTS(" ");
    const char *reason = http_reason(status);
    at = put(out, at, cap, reason, strlen(reason));
    PUTS("\r\nContent-Type: ");
    at = put(out, at, cap, content_type, strlen(content_type));
    if (body_len >= 0) {
        PUTS("\r\nContent-Length: ");
        at = put(out, at, cap, num, numfmt_u64(num, (uint64_t)body_len));
    } else if (b->stream_chunked) {
        PUTS("\r\nTransfer-Encoding: chunked");
    }
    PUTS("\r\nX-Request-ID: ");
    at = put(out, at, cap, b->call.request_id, strlen(b->call.request_id));
    size_t dlen;
    const char *date = http_date(b->th, &dlen);
    if (date) {
        PUTS("\r\nDate: ");
        at = put(out, at, cap, date, dlen);
    }
    PUTS("\r\ntraceparent: ");
    at = put(out, at, cap, b->call.traceparent, TRACE_PARENT_LEN);
    PUTS("\r\n");
    at = put(out, at, cap, b->extra, b->extra_len);
    if (b->close_after)
        PUTS("Connection: close\r\n");
    else if (b->head.minor == 0)
        PUTS("Connection: keep-alive\r\n");
    PUTS("\r\n");
    return at > cap ? 0 : at;
}

void http_reply_typed(http_call *call, int status, const char *content_type, const char *body,
                      size_t len)
{
    call_box *b = (call_box *)call;
    /* Exactly one answer per call: a second one would write to a recycled
     * call and answer someone else's request. A deferred call is answered
     * only from its completion, on its own loop thread. */
    assert(!b->answered && !b->deferred);
    assert(status >= 100 && status <= 599);
    b->answered = 1;
    http_call_observe(b, status);
    http_call_uncount(b); /* the client may see the answer (and count) before this returns */
    if (b->conn) {
        char head[512 + HTTP_EXTRA_HEADERS_MAX];
        size_t hn = http_call_head(b, status, content_type, (long long)len, head, sizeof head);
        assert(hn > 0); /* the fixed part fits; extra headers are bounded by their own room */
        struct iovec iov[2] = {{head, hn}, {(void *)body, len}};
        /* a HEAD request gets the head only */
        int n = b->head.method == HTTP_METHOD_HEAD || len == 0 ? 1 : 2;
        (void)http_io_send(b->conn, iov, n); /* a failure closes the connection later */
        http_io_answered(b);
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

const char *http_json_body(http_call *call, size_t *len)
{
    call_box *b = (call_box *)call;
    http_thread *th = b->th;
    if (!b->base) {
        http_reply_error(call, 400, "request gone");
        return NULL;
    }
    const char *ct = http_head_field(&b->head, b->base, "Content-Type");
    if (!content_type_is_json(ct)) {
        http_reply_error(call, 415, "Content-Type must be application/json");
        return NULL;
    }
    if (b->body_len > th->srv->cfg.max_body_bytes) {
        char msg[96];
        snprintf(msg, sizeof msg, "request body larger than %zu bytes",
                 th->srv->cfg.max_body_bytes);
        http_reply_error(call, 413, msg);
        return NULL;
    }
    if (b->body_len == 0) {
        http_reply_error(call, 400, "malformed JSON: empty body");
        return NULL;
    }
    *len = b->body_len;
    return b->base + b->body_at;
}

json_t *http_read_json_object(http_call *call)
{
    size_t len = 0;
    const char *body = http_json_body(call, &len);
    return body ? http_parse_json_object(call, body, len) : NULL;
}

json_t *http_parse_json_object(http_call *call, const char *body, size_t len)
{
    json_error_t jerr;
    /* jansson rejects invalid UTF-8 and \u0000, and bounds nesting depth */
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
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
    return b->base && b->head_ok ? http_head_field(&b->head, b->base, name) : NULL;
}

/* Room for n bytes of decoded values that live as long as the call. */
static char *query_room(call_box *b, size_t n)
{
    if (sizeof b->qinline - b->qused >= n) {
        char *p = b->qinline + b->qused;
        return p;
    }
    http_qblock *q = malloc(sizeof *q + n);
    if (!q)
        return NULL;
    q->next = b->qblocks;
    b->qblocks = q;
    return q->data;
}

const char *http_query(http_call *call, const char *key)
{
    call_box *b = (call_box *)call;
    assert(!b->deferred); /* a worker must not touch the request: copy before deferring */
    if (!b->base || !b->head_ok || !b->head.query_at)
        return NULL;
    const char *q = b->base + b->head.query_at;
    size_t qn = b->head.query_len;
    /* a value is never longer than the query it came from */
    char *out = query_room(b, qn + 1);
    if (!out) {
        log_msg(LOG_WARN, "http", call->request_id, "query value: out of memory");
        return NULL;
    }
    long n = http_query_find(q, qn, key, out, qn + 1);
    if (n < 0)
        return NULL;
    if (out >= b->qinline && out < b->qinline + sizeof b->qinline)
        b->qused += (size_t)n + 1;
    return out;
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
    if (!b->base || !b->head_ok || b->route < 0)
        return NULL;
    size_t n = http_route_param_at(b->th->srv->routes[b->route].path);
    return n && b->head.path_len > n ? b->base + b->head.path_at + n : NULL;
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
