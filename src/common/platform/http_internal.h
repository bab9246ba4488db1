/*
 * http_internal: what http.c (dispatch), http_call.c (a call's lifetime and
 * answer), http_conn.c (a connection's deadlines and the cap) and
 * http_server.c (sockets, threads, lifecycle) share. Not for use outside
 * those files: handlers only ever see http.h.
 */
#ifndef HTTP_INTERNAL_H
#define HTTP_INTERNAL_H

#include "platform/http.h"
#include "platform/jsonw.h"

#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/queue.h>
#include <time.h>

#define HTTP_FREE_CALLS_MAX 256 /* recycled calls kept per thread */

typedef struct http_thread http_thread;
typedef struct http_conn http_conn; /* one accepted connection (http_conn.c) */

/* The public http_call plus what only this module needs. */
typedef struct call_box {
    http_call call; /* first: a call pointer is a box pointer */
    http_thread *th;
    struct call_box *next;      /* free list */
    struct evhttp_request *req; /* NULL once answered or freed by evhttp */
    http_conn *conn;            /* its connection, NULL once gone or answered */
    int route;                  /* index into the route table, -1 none */
    struct evkeyvalq query;     /* parsed query string (http_query) */
    int query_parsed;
    int answered;   /* the one answer was given (checked by assert) */
    double started; /* monotonic seconds, for the latency histogram */
    /* http_defer.c: handed to another thread, and the completion it posted */
    int deferred;
    http_complete_fn post_fn;
    void *post_arg;
    struct call_box *post_next;
    /* http_defer.c: a deferred call's watch on its client leaving (http_call_watch_gone) */
    struct event *gone_ev;
    http_gone_fn gone_fn;
    void *gone_arg;
    /* http_stream.c: an answer being streamed */
    int streaming;
    http_stream_next_fn stream_next;
    void (*stream_done)(void *arg);
    void *stream_arg;
    jsonw stream_w;
    struct evbuffer *stream_buf;
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
    time_t date_at; /* the second date[] names (http_call.c: the Date header) */
    char date[40];
    /* connections (http_conn.c) */
    TAILQ_HEAD(, http_conn) conns; /* every record */
    TAILQ_HEAD(, http_conn) idle;  /* no request in progress, oldest first */
    http_conn **by_fd;             /* records by descriptor */
    size_t by_fd_len;
    int nconns, max_conns;
    int cap_paused;    /* listener disabled: at the cap */
    int accept_paused; /* listener disabled: accept() ran out of descriptors */
    struct event *accept_retry;
    const struct timeval *head_tv, *body_tv; /* common timeouts */
    unsigned long conn_expired, conn_shed;   /* since the last summary line */
    double conn_log_at;
    /* completions posted by other threads (http_defer.c) */
    pthread_mutex_t post_mu;
    int post_mu_ok;
    call_box *post_head, *post_tail;
    int post_woken;  /* a wake-up byte is in the pipe */
    int post_fds[2]; /* self-pipe: safe from any thread, whatever the base's locking */
    struct event *post_ev;
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

/* A cleared call of thread th (counted in flight), or NULL when out of memory. */
call_box *http_call_get(http_thread *th);
/* Binds the call to evhttp's request and its connection (which notices if evhttp frees it first).
 */
void http_call_attach(call_box *b, struct evhttp_request *req, http_conn *conn);

/* Returns the call to its thread's free list (the answer is given). */
void http_call_release(call_box *b);
/* Counts the answer in the metrics and writes the access line. */
void http_call_observe(call_box *b, int status);
/* The reason phrase of status, or NULL for evhttp's own. */
const char *http_reason(int status);

/* Thread th's completion queue and its wake-up pipe (http_defer.c). */
int http_defer_thread_setup(http_thread *th, char *err, size_t errlen);
/* After evhttp_free: runs the completions still queued (their answers only release), frees. */
void http_defer_thread_free(http_thread *th);
/* A streamed call's connection went (http_conn.c's close callback): ends the stream. */
void http_stream_conn_gone(call_box *b);
/* The call's connection went (http_conn.c's close callback): ends its watch, tells its owner. */
void http_defer_conn_gone(call_box *b);

/* Deadlines, cap and accept errors of thread th's connections (after its evhttp is bound). */
int http_conn_thread_setup(http_thread *th, char *err, size_t errlen);
/* Marks th as the thread running this loop (call from that thread, before dispatching). */
void http_conn_thread_enter(http_thread *th);
/* After evhttp_free: the records left. */
void http_conn_thread_free(http_thread *th);
/* A request is complete and goes to dispatch: its connection (deadlines off), or NULL if untracked.
 */
http_conn *http_conn_request_begins(http_thread *th, struct evhttp_request *req);
/* The call now carries the connection's request; the connection tells it when that goes. */
void http_conn_attach_call(http_conn *c, call_box *b, struct evhttp_request *req);
/* The call was answered (or is being): no more news from its connection. */
void http_conn_detach_call(call_box *b);

/* Where a route's "{name}" last segment starts (after its '/'), or 0 when it has none. */
size_t http_route_param_at(const char *route);

/* evhttp's gencb for every thread; arg is the http_thread. */
void http_dispatch(struct evhttp_request *req, void *arg);
/* Seeds the thread's request-id generator. */
void http_seed(http_thread *th);

#endif
