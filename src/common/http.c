/*
 * http: routing, limits, JSON replies and deferred answers over evhttp
 * (libevent 2.1).
 *
 * Why it looks like this:
 * - One gencb per evhttp routes against the fixed table, so unknown paths and
 *   wrong methods get our JSON 404/405 instead of evhttp's HTML pages; every
 *   method is allowed at the evhttp level for the same reason.
 * - Calls are recycled through a small per-thread free list: a busy server
 *   allocates no call structs in steady state, and no lock is needed.
 * - Deferred answers: evhttp keeps a request it has handed to us until we
 *   reply. If the client leaves first, libevent 2.1 detaches the request from
 *   its connection (it stays allocated; replying frees it). Any other way the
 *   request could be freed under us (the connection freed while the request
 *   is still attached, or evhttp answering it itself) is reported through the
 *   connection close callback and the request's completion callback, which
 *   clear call->req so that the eventual reply only releases the call.
 * - Bodies: evhttp's own limit is set to twice ours, so a body just over the
 *   documented limit gets our JSON 413; beyond that evhttp refuses it itself
 *   (its 413 page is HTML) without buffering it, which bounds memory.
 * - Threads: each extra thread has its own event_base and evhttp accepting on
 *   a dup() of the listening socket; control (stop accepting, quit) reaches a
 *   thread through an event activated from outside, the only cross-thread
 *   libevent call, which evthread_use_pthreads() makes safe.
 */
#include "http.h"

#include "log.h"
#include "metrics.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/thread.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define HTTP_FREE_CALLS_MAX 256 /* recycled calls kept per thread */

typedef struct http_thread http_thread;

/* The public http_call plus what only this module needs. */
typedef struct call_box {
    http_call call; /* first: a call pointer is a box pointer */
    http_thread *th;
    struct call_box *next;           /* free list */
} call_box;

struct http_thread {
    http_server *srv;
    int index;
    struct event_base *base;
    int own_base;
    struct evhttp *http;
    struct evhttp_bound_socket *bound;
    struct event *ctl;
    void *ctx;
    pthread_t tid;
    int running;
    call_box *free_calls;
    size_t nfree;
    uint64_t rng;
};

struct http_server {
    http_config cfg;
    const http_route *routes;
    size_t nroutes;
    void *app;
    int fd;
    int nthreads;
    http_thread *threads;
    atomic_long in_flight;
    atomic_int stopping;
    atomic_int quitting;
};

static double http_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

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

static void http_seed(http_thread *th)
{
    uint64_t seed = 0;
    if (getrandom(&seed, sizeof seed, GRND_NONBLOCK) != (ssize_t)sizeof seed)
        seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
    th->rng = (seed ^ ((uint64_t)th->index + 1) * 0x9E3779B97F4A7C15ULL) | 1;
}

static int request_id_char_ok(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_' || c == '.' || c == ':';
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
    case 200: return "OK";
    case 201: return "Created";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Entity";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return NULL; /* evhttp picks its own phrase */
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

void http_reply_typed(http_call *call, int status, const char *content_type, const char *body,
                      size_t len)
{
    call_box *b = (call_box *)call;
    metrics_http_observe(call->route, status, http_now() - call->started);
    call_detach_hooks(b);
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
    if (log_enabled(LOG_DEBUG))
        log_msg(LOG_DEBUG, "http", call->request_id, "answered %d in %.3f ms", status,
                (http_now() - call->started) * 1e3);
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
        snprintf(msg, sizeof msg, "malformed JSON: %s (line %d, column %d)", jerr.text,
                 jerr.line, jerr.column);
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
        /* a malformed query string leaves the list as far as it got */
        if (q && evhttp_parse_query_str(q, &call->query) != 0)
            log_msg(LOG_DEBUG, "http", call->request_id, "malformed query string");
    }
    return evhttp_find_header(&call->query, key);
}

/* ---- dispatch ---- */

static unsigned method_bit(enum evhttp_cmd_type t)
{
    switch (t) {
    case EVHTTP_REQ_GET: return HTTP_M_GET;
    case EVHTTP_REQ_POST: return HTTP_M_POST;
    case EVHTTP_REQ_PUT: return HTTP_M_PUT;
    default: return 0;
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

static void http_dispatch(struct evhttp_request *req, void *arg)
{
    http_thread *th = arg;
    http_server *s = th->srv;
    double started = http_now();
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

/* ---- server and threads ---- */

static void thread_ctl_cb(evutil_socket_t fd, short what, void *arg)
{
    http_thread *th = arg;
    (void)fd;
    (void)what;
    if (atomic_load(&th->srv->stopping) && th->bound) {
        evhttp_del_accept_socket(th->http, th->bound);
        th->bound = NULL;
    }
    if (atomic_load(&th->srv->quitting))
        event_base_loopbreak(th->base);
}

static int thread_setup(http_thread *th, int fd, char *err, size_t errlen)
{
    const http_config *c = &th->srv->cfg;
    http_seed(th);
    th->http = evhttp_new(th->base);
    if (!th->http) {
        snprintf(err, errlen, "evhttp_new failed");
        return -1;
    }
    /* body cap above the documented limit: see the comment at the top */
    size_t cap = c->max_body_bytes > SIZE_MAX / 2 ? SIZE_MAX : c->max_body_bytes * 2;
    evhttp_set_max_body_size(th->http, (ev_ssize_t)(cap > 0x7fffffff ? 0x7fffffff : cap));
    if (c->max_header_bytes > 0)
        evhttp_set_max_headers_size(th->http, (ev_ssize_t)c->max_header_bytes);
    if (c->idle_timeout_s > 0)
        evhttp_set_timeout(th->http, c->idle_timeout_s);
    evhttp_set_allowed_methods(th->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
                                             EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
                                             EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE |
                                             EVHTTP_REQ_CONNECT | EVHTTP_REQ_PATCH);
    evhttp_set_gencb(th->http, http_dispatch, th);
    th->bound = evhttp_accept_socket_with_handle(th->http, fd);
    if (!th->bound) {
        snprintf(err, errlen, "evhttp_accept_socket failed");
        return -1;
    }
    th->ctl = event_new(th->base, -1, 0, thread_ctl_cb, th);
    if (!th->ctl) {
        snprintf(err, errlen, "event_new failed");
        return -1;
    }
    if (c->thread_init) {
        th->ctx = c->thread_init(th->srv->app, th->index, err, errlen);
        if (!th->ctx)
            return -1;
    }
    return 0;
}

static int listen_socket(const char *addr, int port, char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, addr, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)port);
        sl = sizeof *a4;
    } else if (inet_pton(AF_INET6, addr, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        sl = sizeof *a6;
    } else {
        snprintf(err, errlen, "listen address '%s' is not an IPv4 or IPv6 address", addr);
        return -1;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    int one = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(fd, (struct sockaddr *)&ss, sl) != 0 || listen(fd, 1024) != 0) {
        snprintf(err, errlen, "cannot listen on %s:%d: %s", addr, port, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

http_server *http_server_new(struct event_base *base, const http_config *cfg,
                             const http_route *routes, size_t nroutes, void *app, char *err,
                             size_t errlen)
{
    if (!base || !cfg || cfg->threads < 1 || cfg->threads > 64 || !routes || nroutes == 0) {
        snprintf(err, errlen, "http_server_new: bad arguments");
        return NULL;
    }
    /* a client closing early must not kill the process with SIGPIPE */
    signal(SIGPIPE, SIG_IGN);
    if (cfg->threads > 1 && evthread_use_pthreads() != 0) {
        snprintf(err, errlen, "evthread_use_pthreads failed");
        return NULL;
    }
    http_server *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->cfg = *cfg;
    s->routes = routes;
    s->nroutes = nroutes;
    s->app = app;
    s->nthreads = cfg->threads;
    s->fd = -1;
    for (size_t i = 0; i < nroutes; i++)
        metrics_http_register_route((int)i, routes[i].path);
    s->threads = calloc((size_t)s->nthreads, sizeof *s->threads);
    if (!s->threads) {
        snprintf(err, errlen, "out of memory");
        free(s);
        return NULL;
    }
    for (int i = 0; i < s->nthreads; i++) {
        s->threads[i].srv = s;
        s->threads[i].index = i;
    }
    s->fd = listen_socket(cfg->listen_addr ? cfg->listen_addr : "127.0.0.1", cfg->port, err,
                          errlen);
    if (s->fd < 0) {
        http_server_free(s);
        return NULL;
    }
    http_thread *t0 = &s->threads[0];
    t0->base = base;
    /* thread 0's evhttp gets a dup: every evhttp closes its own socket */
    int fd0 = dup(s->fd);
    if (fd0 < 0 || thread_setup(t0, fd0, err, errlen) != 0) {
        if (fd0 >= 0 && !t0->bound)
            close(fd0);
        if (fd0 < 0)
            snprintf(err, errlen, "dup: %s", strerror(errno));
        http_server_free(s);
        return NULL;
    }
    return s;
}

static void *thread_main(void *arg)
{
    http_thread *th = arg;
    event_base_loop(th->base, EVLOOP_NO_EXIT_ON_EMPTY);
    return NULL;
}

int http_server_start(http_server *s, char *err, size_t errlen)
{
    for (int i = 1; i < s->nthreads; i++) {
        http_thread *th = &s->threads[i];
        th->base = event_base_new();
        th->own_base = 1;
        if (!th->base) {
            snprintf(err, errlen, "event_base_new failed");
            return -1;
        }
        int fd = dup(s->fd);
        if (fd < 0) {
            snprintf(err, errlen, "dup: %s", strerror(errno));
            return -1;
        }
        if (thread_setup(th, fd, err, errlen) != 0) {
            if (!th->bound)
                close(fd);
            return -1;
        }
        int rc = pthread_create(&th->tid, NULL, thread_main, th);
        if (rc != 0) {
            snprintf(err, errlen, "pthread_create: %s", strerror(rc));
            return -1;
        }
        th->running = 1;
    }
    return 0;
}

void http_server_stop_accepting(http_server *s)
{
    if (!s)
        return;
    atomic_store(&s->stopping, 1);
    http_thread *t0 = &s->threads[0];
    if (t0->bound) {
        evhttp_del_accept_socket(t0->http, t0->bound);
        t0->bound = NULL;
    }
    for (int i = 1; i < s->nthreads; i++)
        if (s->threads[i].running)
            event_active(s->threads[i].ctl, 0, 0);
    /* the original socket is closed last, so no thread ever sees it reused */
    if (s->fd >= 0) {
        close(s->fd);
        s->fd = -1;
    }
}

void http_server_free(http_server *s)
{
    if (!s)
        return;
    atomic_store(&s->quitting, 1);
    for (int i = 1; i < s->nthreads; i++) {
        http_thread *th = &s->threads[i];
        if (th->running) {
            event_active(th->ctl, 0, 0);
            pthread_join(th->tid, NULL);
            th->running = 0;
        }
    }
    for (int i = 0; i < s->nthreads; i++) {
        http_thread *th = &s->threads[i];
        if (th->http)
            evhttp_free(th->http); /* closes its socket and connections */
        if (th->ctl)
            event_free(th->ctl);
        if (th->ctx && s->cfg.thread_free)
            s->cfg.thread_free(th->ctx);
        while (th->free_calls) {
            call_box *b = th->free_calls;
            th->free_calls = b->next;
            free(b);
        }
        if (th->own_base && th->base)
            event_base_free(th->base);
    }
    if (s->fd >= 0)
        close(s->fd);
    free(s->threads);
    free(s);
}

int http_server_port(const http_server *s)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (!s || s->fd < 0 || getsockname(s->fd, (struct sockaddr *)&ss, &sl) != 0)
        return -1;
    if (ss.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

long http_server_in_flight(const http_server *s)
{
    return s ? atomic_load(&((http_server *)s)->in_flight) : 0;
}
