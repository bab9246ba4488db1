/*
 * http: request ids and dispatch: every complete request is a call, routed
 * against the fixed table. What a handler does with its call (read it,
 * answer it) is in http_call.c; reading and framing requests in http_io.c;
 * sockets, threads and the server lifecycle in http_server.c.
 *
 * Why it looks like this:
 * - Unknown paths and wrong methods get our JSON 404/405 (with Allow).
 * - A body sent with a method that takes none (GET, DELETE...) is read and
 *   dropped, but the request is still answered with Connection: close: a
 *   client that sends one may frame its requests differently from us.
 * - Refused requests (malformed, too large) get a JSON answer too, with
 *   fresh ids when their head could not be trusted, and close.
 */
#include "platform/http.h"

#include "platform/clock.h"
#include "platform/http_internal.h"
#include "platform/numfmt.h"
#include "platform/log.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
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

static unsigned method_bit(http_method m)
{
    switch (m) {
    case HTTP_METHOD_GET:
        return HTTP_M_GET;
    case HTTP_METHOD_POST:
        return HTTP_M_POST;
    case HTTP_METHOD_PUT:
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
 * The caller's trace context: exactly one valid `traceparent` header (the
 * spec has a repeated or invalid one ignored, and a new trace started).
 */
static const trace_ctx *request_trace(const call_box *b, trace_ctx *parsed)
{
    const char *tp = NULL;
    size_t n = 0;
    for (size_t i = 0; i < b->head.nfields; i++) {
        const http_field *f = &b->head.fields[i];
        if (f->name_len == 11 && strcasecmp(b->base + f->name, "traceparent") == 0) {
            if (tp)
                return NULL;
            tp = b->base + f->value;
            n = f->value_len;
        }
    }
    if (!tp)
        return NULL;
    return trace_parse(tp, n, parsed) == 0 ? parsed : NULL;
}

/* An exact path, or one whose last segment is "{name}": any one non-empty segment there. */
static int http_route_matches(const char *route, const char *path, size_t len)
{
    size_t n = http_route_param_at(route);
    if (n == 0)
        return strlen(route) == len && memcmp(route, path, len) == 0;
    if (len <= n || strncmp(route, path, n) != 0)
        return 0;
    return memchr(path + n, '/', len - n) == NULL;
}

void http_call_ids(call_box *b)
{
    http_thread *th = b->th;
    http_call *call = &b->call;
    call->app = th->srv->app;
    call->thread_ctx = th->ctx;
    b->route = -1;
    b->started = clock_mono_s();
    const char *rid =
        b->head_ok && b->base ? http_head_field(&b->head, b->base, "X-Request-ID") : NULL;
    if (rid && request_id_ok(rid)) {
        size_t n = strlen(rid);
        memcpy(call->request_id, rid, n + 1);
    } else {
        /* 32 hex digits without printf (every request without an id of its own) */
        numfmt_hex64(call->request_id, http_rand(th));
        numfmt_hex64(call->request_id + 16, http_rand(th));
        call->request_id[32] = '\0';
    }
    trace_ctx parent;
    trace_start(b->head_ok && b->base ? request_trace(b, &parent) : NULL, &call->trace);
    trace_format(&call->trace, call->traceparent);
}

static void http_route_call(http_server *s, call_box *b);

void http_dispatch(call_box *b)
{
    http_call_ids(b);
    /* the handler's log lines carry the trace id; a deferred answer sets it again */
    log_trace_saved outer;
    log_trace_enter(&outer, b->call.traceparent + 3, TRACE_ID_HEX);
    http_route_call(b->th->srv, b);
    log_trace_leave(&outer);
}

void http_refuse(call_box *b, int status, const char *detail)
{
    http_call_ids(b);
    b->close_after = 1;
    http_reply_error(&b->call, status, detail);
}

/* Routes the call (its ids are set) and runs the handler, or answers it here. */
static void http_route_call(http_server *s, call_box *b)
{
    http_call *call = &b->call;
    const http_head *h = &b->head;
    if (!h->keep_alive)
        b->close_after = 1;
    /* a body where none is taken: answered, then closed (see the top) */
    if ((h->chunked || h->content_length > 0) && h->method != HTTP_METHOD_POST &&
        h->method != HTTP_METHOD_PUT && h->method != HTTP_METHOD_PATCH)
        b->close_after = 1;
    const char *path = b->base + h->path_at;
    const http_route *route = NULL;
    for (size_t i = 0; i < s->nroutes; i++)
        if (http_route_matches(s->routes[i].path, path, h->path_len)) {
            route = &s->routes[i];
            b->route = (int)i;
            break;
        }
    if (!route) {
        http_reply_error(call, 404, "not found");
        return;
    }
    if (!(method_bit(h->method) & route->methods)) {
        char allow[32];
        allow_header(route->methods, allow, sizeof allow);
        http_add_header(call, "Allow", allow);
        http_reply_error(call, 405, "method not allowed");
        return;
    }
    route->fn(call);
}
