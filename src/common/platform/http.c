/*
 * http: request ids and dispatch over evhttp (libevent 2.1): every request
 * becomes a call, routed against the fixed table. What a handler does with
 * its call (read it, answer it) is in http_call.c; sockets, threads and the
 * server lifecycle are in http_server.c.
 *
 * Why it looks like this:
 * - One gencb per evhttp routes against the fixed table, so unknown paths and
 *   wrong methods get our JSON 404/405 instead of evhttp's HTML pages; every
 *   method is allowed at the evhttp level for the same reason.
 * - Requests that would desync the connection (conflicting framing, a body
 *   evhttp does not read) are answered and the connection closed.
 */
#include "platform/http.h"

#include "platform/clock.h"
#include "platform/http_internal.h"
#include "platform/numfmt.h"
#include "platform/log.h"

#include <stdio.h>
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

static void http_route_call(http_server *s, call_box *b, struct evhttp_request *req,
                            http_conn *conn);

/*
 * The caller's trace context: exactly one valid `traceparent` header (the
 * spec has a repeated or invalid one ignored, and a new trace started).
 */
static const trace_ctx *request_trace(const struct evkeyvalq *h, trace_ctx *parsed)
{
    const char *tp = NULL;
    const struct evkeyval *kv;
    TAILQ_FOREACH(kv, h, next)
    {
        if (strcasecmp(kv->key, "traceparent") == 0) {
            if (tp)
                return NULL;
            tp = kv->value;
        }
    }
    if (!tp)
        return NULL;
    /* evhttp keeps optional whitespace around the value; the spec allows it (OWS) */
    while (*tp == ' ' || *tp == '\t')
        tp++;
    size_t n = strlen(tp);
    while (n && (tp[n - 1] == ' ' || tp[n - 1] == '\t'))
        n--;
    return trace_parse(tp, n, parsed) == 0 ? parsed : NULL;
}

/* An exact path, or one whose last segment is "{name}": any one non-empty segment there. */
static int http_route_matches(const char *route, const char *path)
{
    size_t n = http_route_param_at(route);
    if (n == 0)
        return strcmp(route, path) == 0;
    if (strncmp(route, path, n) != 0)
        return 0;
    return path[n] != '\0' && strchr(path + n, '/') == NULL;
}

void http_dispatch(struct evhttp_request *req, void *arg)
{
    http_thread *th = arg;
    http_server *s = th->srv;
    double started = clock_mono_s();
    call_box *b = http_call_get(th);
    if (!b) {
        evhttp_send_error(req, 500, "out of memory");
        return;
    }
    http_conn *conn = http_conn_request_begins(th, req);
    http_call *call = &b->call;
    call->app = s->app;
    call->thread_ctx = th->ctx;
    b->route = -1;
    b->started = started;
    const char *rid = evhttp_find_header(evhttp_request_get_input_headers(req), "X-Request-ID");
    if (rid && request_id_ok(rid)) {
        snprintf(call->request_id, sizeof call->request_id, "%s", rid);
    } else {
        /* 32 hex digits without printf (every request without an id of its own) */
        numfmt_hex64(call->request_id, http_rand(th));
        numfmt_hex64(call->request_id + 16, http_rand(th));
        call->request_id[32] = '\0';
    }
    trace_ctx parent;
    trace_start(request_trace(evhttp_request_get_input_headers(req), &parent), &call->trace);
    trace_format(&call->trace, call->traceparent);
    /* the handler's log lines carry the trace id; a deferred answer sets it again */
    char outer[TRACE_ID_HEX + 1];
    snprintf(outer, sizeof outer, "%s", log_trace_get());
    log_trace_set(call->traceparent + 3, TRACE_ID_HEX);
    http_route_call(s, b, req, conn);
    log_trace_set(outer, strlen(outer));
}

/* Routes the call (its ids are set) and runs the handler, or answers it here. */
static void http_route_call(http_server *s, call_box *b, struct evhttp_request *req,
                            http_conn *conn)
{
    http_call *call = &b->call;
    http_call_attach(b, req, conn);
    if (!conn) {
        /* a connection without its record (out of memory at accept): nothing
         * would notice it closing under a deferred answer, so answer now */
        http_add_header(call, "Connection", "close");
        http_reply_error(call, 503, "out of memory for the connection");
        return;
    }

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
        if (http_route_matches(s->routes[i].path, path)) {
            route = &s->routes[i];
            b->route = (int)i;
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
