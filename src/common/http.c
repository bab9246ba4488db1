/*
 * http: calls, routing, limits, JSON replies and deferred answers over evhttp
 * (libevent 2.1). Sockets, threads and the server lifecycle are in
 * http_server.c.
 *
 * Why it looks like this:
 * - One gencb per evhttp routes against the fixed table, so unknown paths and
 *   wrong methods get our JSON 404/405 instead of evhttp's HTML pages; every
 *   method is allowed at the evhttp level for the same reason.
 * - Calls are recycled through a small per-thread free list: a busy server
 *   allocates no call structs in steady state, and no lock is needed.
 * - Deferred answers: evhttp keeps a request it has handed to us until we
 *   reply. While it waits, libevent 2.1.12 does not read the connection, so a
 *   client that left is noticed only when the answer is written: the write
 *   fails and evhttp frees connection and request itself, after our reply
 *   (test_http checks this under ASan). Should a connection go while its
 *   request is still ours (EOF or timeout seen by evhttp, which then detaches
 *   a request the user has not answered; the server freed), or evhttp answer
 *   a request itself, the connection close callback and the request's
 *   completion callback clear call->req, so the eventual reply only releases
 *   the call instead of touching freed memory.
 * - Bodies: evhttp's own limit is set to twice ours, so a body just over the
 *   documented limit gets our JSON 413; beyond that evhttp refuses it itself
 *   (its 413 page is HTML) without buffering it, which bounds memory.
 */
#include "http.h"
#include "clock.h"

#include "http_internal.h"
#include "log.h"
#include "metrics.h"

#include <event2/buffer.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

static uint64_t http_rand(http_thread *th)
{
    /* xorshift64*: request ids need uniqueness, not secrecy */
    uint64_t x = th->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    th->rng = x;
    return x * 0x2545F4914F6CDD1DULL;
}

void http_seed(http_thread *th)
{
    uint64_t seed = 0;
    if (getrandom(&seed, sizeof seed, GRND_NONBLOCK) != (ssize_t)sizeof seed)
        seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
    th->rng = (seed ^ ((uint64_t)th->index + 1) * 0x9E3779B97F4A7C15ULL) | 1;
}

static int request_id_char_ok(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.' || c == ':';
}

/* A client's X-Request-ID is echoed only if harmless in headers and logs. */
static int request_id_ok(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++)
        if (n >= HTTP_REQUEST_ID_MAX || !request_id_char_ok(s[n]))
            return 0;
    return n > 0;
}

static const char *http_reason(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 400:
        return "Bad Request";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 413:
        return "Payload Too Large";
    case 415:
        return "Unsupported Media Type";
    case 422:
        return "Unprocessable Entity";
    case 500:
        return "Internal Server Error";
    case 503:
        return "Service Unavailable";
    default:
        return NULL; /* evhttp picks its own phrase */
    }
}

/* ---- call lifetime ---- */

static void on_conn_close(struct evhttp_connection *evcon, void *arg)
{
    call_box *b = arg;
    /*
     * A request still attached to the connection is freed with it; a detached
     * one (client left while we were working) survives until we reply.
     */
    if (b->call.req && evhttp_request_get_connection(b->call.req) == evcon)
        b->call.req = NULL;
}

static void on_req_complete(struct evhttp_request *req, void *arg)
{
    call_box *b = arg;
    (void)req;
    /* evhttp answered and freed the request itself; our reply must not touch it */
    b->call.req = NULL;
}

/* Only through a live request: its connection, if any, is live too. */
static void call_detach_hooks(call_box *b)
{
    if (!b->call.req)
        return;
    struct evhttp_connection *evcon = evhttp_request_get_connection(b->call.req);
    if (evcon)
        evhttp_connection_set_closecb(evcon, NULL, NULL);
    evhttp_request_set_on_complete_cb(b->call.req, NULL, NULL);
}

static void call_release(call_box *b)
{
    http_thread *th = b->th;
    if (b->call.query_parsed)
        evhttp_clear_headers(&b->call.query);
    atomic_fetch_sub(&th->srv->in_flight, 1);
    if (th->nfree < HTTP_FREE_CALLS_MAX) {
        b->next = th->free_calls;
        th->free_calls = b;
        th->nfree++;
    } else {
        free(b);
    }
}

static call_box *call_get(http_thread *th)
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
    TAILQ_INIT(&b->call.query);
    atomic_fetch_add(&th->srv->in_flight, 1);
    return b;
}

/* ---- replies ---- */

void http_add_header(http_call *call, const char *name, const char *value)
{
    if (call->req)
        evhttp_add_header(evhttp_request_get_output_headers(call->req), name, value);
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

void http_reply_typed(http_call *call, int status, const char *content_type, const char *body,
                      size_t len)
{
    call_box *b = (call_box *)call;
    metrics_http_observe(call->route, status, clock_mono_s() - call->started);
    call_detach_hooks(b);
    /* the access line: 5xx at warn so they show at the default level */
    log_level level = status >= 500 ? LOG_WARN : LOG_DEBUG;
    if (log_enabled(level)) {
        const char *uri = call->req ? evhttp_request_get_uri(call->req) : NULL;
        log_msg(level, "http", call->request_id, "%s %.200s -> %d in %.3f ms",
                call->req ? http_method_name(evhttp_request_get_command(call->req)) : "-",
                uri ? uri : "(client gone)", status, (clock_mono_s() - call->started) * 1e3);
    }
    if (call->req) {
        struct evhttp_request *req = call->req;
        struct evkeyvalq *h = evhttp_request_get_output_headers(req);
        evhttp_add_header(h, "Content-Type", content_type);
        evhttp_add_header(h, "X-Request-ID", call->request_id);
        if (evbuffer_add(evhttp_request_get_output_buffer(req), body, len) != 0) {
            log_msg(LOG_ERROR, "http", call->request_id, "out of memory for the reply body");
            status = 500;
        }
        /* Frees req if the client already left (libevent detached it). */
        evhttp_send_reply(req, status, http_reason(status), NULL);
        call->req = NULL;
    }
    call_release(b);
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
    struct evhttp_request *req = call->req;
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

const char *http_query(http_call *call, const char *key)
{
    if (!call->query_parsed) {
        call->query_parsed = 1;
        if (!call->req)
            return NULL;
        const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(call->req);
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
        if (q && evhttp_parse_query_str(q, &call->query) != 0)
            log_msg(LOG_DEBUG, "http", call->request_id, "malformed query string");
        free(copy);
    }
    return evhttp_find_header(&call->query, key);
}

/* ---- dispatch ---- */

static unsigned method_bit(enum evhttp_cmd_type t)
{
    switch (t) {
    case EVHTTP_REQ_GET:
        return HTTP_M_GET;
    case EVHTTP_REQ_POST:
        return HTTP_M_POST;
    case EVHTTP_REQ_PUT:
        return HTTP_M_PUT;
    default:
        return 0;
    }
}

static void allow_header(unsigned methods, char *out, size_t cap)
{
    out[0] = '\0';
    static const struct {
        unsigned bit;
        const char *name;
    } m[] = {{HTTP_M_GET, "GET"}, {HTTP_M_POST, "POST"}, {HTTP_M_PUT, "PUT"}};
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++)
        if (methods & m[i].bit) {
            if (out[0])
                strncat(out, ", ", cap - strlen(out) - 1);
            strncat(out, m[i].name, cap - strlen(out) - 1);
        }
}

/*
 * Request smuggling guard: evhttp takes the first Content-Length and prefers
 * chunked over Content-Length; a request that carries two different lengths,
 * or both, is refused rather than interpreted.
 */
static int framing_ok(const struct evkeyvalq *h)
{
    const char *len = NULL;
    int te = 0;
    const struct evkeyval *kv;
    TAILQ_FOREACH(kv, h, next)
    {
        if (strcasecmp(kv->key, "Content-Length") == 0) {
            if (len && strcmp(len, kv->value) != 0)
                return 0;
            len = kv->value;
        } else if (strcasecmp(kv->key, "Transfer-Encoding") == 0) {
            te = 1;
        }
    }
    return !(te && len);
}

/*
 * libevent 2.1 reads a body only for POST, PUT and PATCH. A body sent with any
 * other method stays in the stream and would be parsed as the next request on
 * that connection (a desync: the next request gets an HTML 400, or worse, is
 * smuggled). Such a request is still answered, then the connection is closed.
 */
static int body_left_unread(struct evhttp_request *req)
{
    enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
    if (cmd == EVHTTP_REQ_POST || cmd == EVHTTP_REQ_PUT || cmd == EVHTTP_REQ_PATCH)
        return 0;
    const struct evkeyvalq *h = evhttp_request_get_input_headers(req);
    const char *len = evhttp_find_header(h, "Content-Length");
    if (evhttp_find_header(h, "Transfer-Encoding"))
        return 1;
    return len && strspn(len, "0") != strlen(len);
}

void http_dispatch(struct evhttp_request *req, void *arg)
{
    http_thread *th = arg;
    http_server *s = th->srv;
    double started = clock_mono_s();
    call_box *b = call_get(th);
    if (!b) {
        evhttp_send_error(req, 500, "out of memory");
        return;
    }
    http_call *call = &b->call;
    call->req = req;
    call->app = s->app;
    call->thread_ctx = th->ctx;
    call->route = -1;
    call->started = started;
    const char *rid = evhttp_find_header(evhttp_request_get_input_headers(req), "X-Request-ID");
    if (rid && request_id_ok(rid)) {
        snprintf(call->request_id, sizeof call->request_id, "%s", rid);
    } else {
        snprintf(call->request_id, sizeof call->request_id, "%016llx%016llx",
                 (unsigned long long)http_rand(th), (unsigned long long)http_rand(th));
    }
    /* Hooks that tell us if the request is freed before we answer. */
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    if (evcon)
        evhttp_connection_set_closecb(evcon, on_conn_close, b);
    evhttp_request_set_on_complete_cb(req, on_req_complete, b);

    if (!framing_ok(evhttp_request_get_input_headers(req))) {
        /* the bytes after this request cannot be trusted: answer and close */
        http_add_header(call, "Connection", "close");
        http_reply_error(call, 400, "conflicting Content-Length / Transfer-Encoding headers");
        return;
    }
    if (body_left_unread(req))
        http_add_header(call, "Connection", "close");
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
    if (!path) {
        http_reply_error(call, 400, "malformed request target");
        return;
    }
    const http_route *route = NULL;
    for (size_t i = 0; i < s->nroutes; i++)
        if (strcmp(s->routes[i].path, path) == 0) {
            route = &s->routes[i];
            call->route = (int)i;
            break;
        }
    if (!route) {
        http_reply_error(call, 404, "not found");
        return;
    }
    if (!(method_bit(evhttp_request_get_command(req)) & route->methods)) {
        char allow[32];
        allow_header(route->methods, allow, sizeof allow);
        http_add_header(call, "Allow", allow);
        http_reply_error(call, 405, "method not allowed");
        return;
    }
    route->fn(call);
}
