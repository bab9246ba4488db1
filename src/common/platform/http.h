/*
 * http: the HTTP front of both services: an HTTP/1.1 server of its own on
 * libevent's event_base (keep-alive, pipelining, chunked bodies both ways).
 *
 * Routing is a fixed table: an unknown path answers 404, a known path with a
 * method it does not serve answers 405 with Allow. Every answer is JSON, carries
 * X-Request-ID (taken from the request, or generated) and `traceparent` (the
 * service's span, see http_call.trace) and is counted. Limits
 * (body and head size, idle timeout) are enforced before a handler runs,
 * with a JSON 413 or 431 (and the connection closed). Deadlines for the
 * whole request head and body, and the cap on open connections, are
 * http_conn.c's.
 *
 * A server may run several threads, each with its own event loop accepting
 * on the same listening socket; thread 0 runs on the caller's event_base and
 * the caller dispatches it. thread_init builds each thread's own context
 * (e.g. a read-only store connection) so handlers share nothing by accident.
 *
 * A handler gets an http_call and must answer it exactly once with one of the
 * http_reply* functions, either before returning or later from the same
 * thread's event loop (cart-service answers from Kafka's delivery report).
 * The call stays valid until then, even if the client went away; replying to
 * a call whose client left just releases it. After the answer the call is
 * gone (recycled): debug builds assert that no second answer, and no header
 * after the answer, is attempted.
 */
#ifndef HTTP_H
#define HTTP_H

#include "platform/jsonw.h"
#include "platform/trace.h"

#include <jansson.h>
#include <stddef.h>

struct event_base; /* libevent's loop: the server runs on it, handlers never see it */

#define HTTP_M_GET 0x1u
#define HTTP_M_POST 0x2u
#define HTTP_M_PUT 0x4u

#define HTTP_REQUEST_ID_MAX 64
#define HTTP_DEFAULT_MAX_CONNECTIONS 10000
#define HTTP_MIN_CONNECTIONS 16
#define HTTP_FD_RESERVE 1024 /* descriptors kept for everything but HTTP connections */

typedef struct http_server http_server;

/* What a handler sees of its call; the request itself stays inside http. */
typedef struct http_call {
    char request_id[HTTP_REQUEST_ID_MAX + 1];
    /* W3C trace context of the service's own span for this request: the
     * caller's trace (a valid `traceparent` header) or a new one, with a new
     * span id. Sent back as `traceparent`; its trace id is on every log line
     * written while the handler runs and on the access line. */
    trace_ctx trace;
    char traceparent[TRACE_PARENT_LEN + 1];
    void *app;        /* the server's app pointer */
    void *thread_ctx; /* this thread's context from thread_init */
} http_call;

typedef void (*http_handler_fn)(http_call *call);

typedef struct {
    const char *path; /* exact, or ending in a "{name}" segment: any one (http_path_tail) */
    unsigned methods; /* HTTP_M_* mask */
    http_handler_fn fn;
} http_route;

typedef struct {
    const char *listen_addr; /* e.g. "0.0.0.0" */
    int port;
    size_t max_body_bytes;   /* larger bodies: 413 */
    size_t max_header_bytes; /* a larger request head: 431 (0: 16 KiB) */
    int idle_timeout_s;      /* a read waiting longer closes the connection (keep-alive idle) */
    int header_timeout_s;    /* a request head must be complete this long after it started
                                (the connection opened, or a keep-alive request's first byte) */
    int body_timeout_s;      /* and its body this long after the head */
    int max_connections;     /* open connections, split evenly among threads; at the cap the
                                oldest idle ones are closed, else accepting pauses (0: default) */
    int threads;             /* >= 1 */
    void *(*thread_init)(void *app, int index, char *err, size_t errlen);
    void (*thread_free)(void *thread_ctx);
} http_config;

/*
 * An event_base for a loop that serves HTTP (the caller's thread 0 and every
 * extra thread): epoll's changelist on, so an add and a remove of one
 * descriptor within one loop iteration (a write event added and removed
 * again) cost at most one epoll_ctl. NULL on failure.
 */
struct event_base *http_base_new(void);

/* Binds the socket (so a taken port fails here, with a clear message). */
http_server *http_server_new(struct event_base *base, const http_config *cfg,
                             const http_route *routes, size_t nroutes, void *app, char *err,
                             size_t errlen);
/* Starts threads 1..n-1 (thread 0 is served by the caller dispatching base). */
int http_server_start(http_server *s, char *err, size_t errlen);
/*
 * Stops accepting new connections; calls in flight may still be answered.
 * Call it from thread 0's loop (a signal event, for example).
 */
void http_server_stop_accepting(http_server *s);
/* Stops the extra threads and frees everything. Call after base stopped. */
void http_server_free(http_server *s);
/* The bound port (useful with port 0: the kernel picks one). */
int http_server_port(const http_server *s);
/* Calls accepted but not yet answered, over all threads. */
long http_server_in_flight(const http_server *s);

/*
 * Answering from another thread. On its loop thread, a handler reads what it
 * needs from the request (http_query copies), then http_call_defer()s the
 * call and hands it to a worker. From then on only one thing may be done with
 * the call, from any thread, exactly once: http_call_complete(call, fn, arg).
 * fn(call, arg) then runs on the call's own loop thread and must answer it
 * (http_reply*, http_reply_stream) as any handler would; arg is fn's to free.
 * A client that left meanwhile changes nothing for the worker: fn still runs
 * and its answer only releases the call. Completions still queued when the
 * server is freed run then (their answers release the calls).
 */
typedef void (*http_complete_fn)(http_call *call, void *arg);
void http_call_defer(http_call *call);
void http_call_complete(http_call *call, http_complete_fn fn, void *arg);

/*
 * Noticing that a deferred call's client left while the call waits (a
 * long-poll): otherwise the call learns it only when it is answered. Call on
 * the call's loop thread, after http_call_defer(). gone(call, arg) then runs
 * at most once, on that thread, when the client closes the connection (or
 * shuts down its sending side: taken as leaving) or the server drops it. It
 * is only news: the call must still be completed exactly once (gone may
 * complete it itself). The watch ends when the completion runs. Returns 0,
 * or -1 when the client already went: the call is then completed as usual
 * and its answer only releases it. Bytes of a pipelined request are not
 * news (they wait for their turn).
 */
typedef void (*http_gone_fn)(http_call *call, void *arg);
int http_call_watch_gone(http_call *call, http_gone_fn gone, void *arg);

/*
 * A streamed JSON answer (chunked transfer encoding), for answers too large
 * to build whole. next(arg, out) appends the next piece to out (reset before
 * each call) and returns 1 (more to come), 0 (that was the last) or -1 (a
 * failure: the connection is closed, the client sees a truncated answer).
 * The next piece is asked for only once the previous one was written to the
 * socket, so memory stays at about one piece. done(arg) runs exactly once, at
 * the end or when the client leaves. This is the call's answer.
 */
typedef int (*http_stream_next_fn)(void *arg, jsonw *out);
void http_reply_stream(http_call *call, int status, http_stream_next_fn next,
                       void (*done)(void *arg), void *arg);

void http_reply(http_call *call, int status, const char *json, size_t len);
/* The one non-JSON answer (Prometheus text at /metrics): explicit content type. */
void http_reply_typed(http_call *call, int status, const char *content_type, const char *body,
                      size_t len);
void http_reply_jsonw(http_call *call, int status, const jsonw *w);
/* {"detail": detail}; extra headers such as Retry-After via http_add_header first. */
void http_reply_error(http_call *call, int status, const char *detail);
void http_add_header(http_call *call, const char *name, const char *value);

typedef struct {
    const char *field; /* JSON path, e.g. "orderId" */
    const char *message;
} http_field_error;
/* {"detail": detail, "errors": [{"field":..., "message":...}]} */
void http_reply_validation(http_call *call, int status, const char *detail,
                           const http_field_error *errors, size_t n);

/*
 * Reads the body as a JSON object. On 415 (not application/json), 413 (too
 * large), 400 (malformed, duplicate keys, invalid UTF-8) or 422 (valid JSON
 * but not an object: the wrong shape) it answers the call itself and returns
 * NULL. Caller json_decref()s the result.
 */
json_t *http_read_json_object(http_call *call);

/*
 * The two halves of http_read_json_object, for a handler that reads a known
 * shape itself and parses only what it declines. http_json_body: the checks
 * before the parse (415, 413, and 400 for an empty body, answered here, NULL
 * returned), then the body's bytes, *len of them, not NUL-terminated, valid
 * until the call is answered. http_parse_json_object: the parse of those
 * bytes, answering 400 or 422 itself as above.
 */
const char *http_json_body(http_call *call, size_t *len);
json_t *http_parse_json_object(http_call *call, const char *body, size_t len);

/* Query parameter value, or NULL if absent. */
const char *http_query(http_call *call, const char *key);

/* A request header's value (first of that name, any case), or NULL. Before deferring only. */
const char *http_header(http_call *call, const char *name);

/* For a route ending in "{name}": that segment of the path (still percent-encoded), else NULL. */
const char *http_path_tail(http_call *call);

/*
 * A query value as a non-negative decimal in [min, max]; NULL (absent) means
 * def. Returns 0, or -1 when it is not such a number (at most 18 digits).
 */
int http_parse_uint(const char *s, long long def, long long min, long long max, long long *out);

#endif
