/*
 * http_internal: what the files of the HTTP layer share: http.c (ids and
 * dispatch), http_call.c (a call's lifetime, reading it, answering it),
 * http_conn.c (a connection's life: accept, deadlines, the cap), http_io.c
 * (reading and framing requests, writing answers), http_stream.c,
 * http_defer.c and http_server.c (sockets, threads, lifecycle). Not for use
 * outside those files: handlers only ever see http.h.
 */
#ifndef HTTP_INTERNAL_H
#define HTTP_INTERNAL_H

#include "platform/http.h"
#include "platform/http_parse.h"
#include "platform/jsonw.h"

#include <event2/event.h>
#include <event2/event_struct.h> /* events embedded in a connection: none allocated per accept */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/uio.h>
#include <time.h>

#define HTTP_FREE_CALLS_MAX 256     /* recycled calls kept per thread */
#define HTTP_FREE_CONNS_MAX 1024    /* recycled connection records kept per thread */
#define HTTP_BUF_SIZE 4096          /* a connection's input buffer, grown up to the limits */
#define HTTP_FREE_BUFS_MAX 256      /* recycled input buffers kept per thread */
#define HTTP_EXTRA_HEADERS_MAX 1024 /* bytes of http_add_header lines per answer */
#define HTTP_QUERY_INLINE 256       /* decoded query values kept in the call itself */

typedef struct http_thread http_thread;
typedef struct http_conn http_conn;

/* Decoded query values beyond the call's inline room (http_query). */
typedef struct http_qblock {
    struct http_qblock *next;
    char data[];
} http_qblock;

/* The public http_call plus what only this module needs. */
typedef struct call_box {
    http_call call; /* first: a call pointer is a box pointer */
    http_thread *th;
    struct call_box *next; /* free list */
    http_conn *conn;       /* its connection; NULL once that went (the answer only releases) */
    int route;             /* index into the route table, -1 none */
    int answered;          /* the one answer was given (checked by assert) */
    int counted;           /* still counted in the server's in_flight */
    int close_after;       /* the answer says Connection: close, and the connection closes */
    double started;        /* monotonic seconds, for the latency histogram */
    /* the request: its head parsed in place in the connection's buffer */
    http_head head;
    char *base;     /* the request's first byte; NULL once the connection went */
    int head_ok;    /* head parsed (else only ids are generated) */
    size_t body_at; /* body: base[body_at .. body_at + body_len) */
    size_t body_len;
    /* http_query's decoded values */
    char qinline[HTTP_QUERY_INLINE];
    size_t qused;
    http_qblock *qblocks;
    /* http_add_header's lines, sent with the answer */
    char extra[HTTP_EXTRA_HEADERS_MAX];
    size_t extra_len;
    /* http_defer.c: handed to another thread, and the completion it posted */
    int deferred;
    http_complete_fn post_fn;
    void *post_arg;
    struct call_box *post_next;
    /* http_defer.c: a deferred call's watch on its client leaving (http_call_watch_gone) */
    http_gone_fn gone_fn;
    void *gone_arg;
    /* http_stream.c: an answer being streamed */
    int streaming;
    int stream_chunked; /* HTTP/1.1: chunked; HTTP/1.0: raw bytes, then close */
    http_stream_next_fn stream_next;
    void (*stream_done)(void *arg);
    void *stream_arg;
    jsonw stream_w;
} call_box;

typedef enum {
    CONN_IDLE,  /* waiting for a request's first byte */
    CONN_HEAD,  /* reading a request head */
    CONN_BODY,  /* head read, reading the body */
    CONN_BUSY,  /* the request is with a handler, or its answer is being written */
    CONN_LINGER /* answered and closing: our side shut, the client's bytes discarded */
} conn_state;

/* One accepted connection (http_conn.c owns its life, http_io.c its bytes). */
struct http_conn {
    http_thread *th;
    int fd;
    conn_state state;
    struct event rd;    /* EV_READ | EV_PERSIST | EV_ET: added once, for the whole connection */
    struct event wr;    /* EV_WRITE: added only while the socket's buffer is full */
    struct event timer; /* the current deadline, re-armed lazily (http_conn.c) */
    int wr_added;
    int timer_pending;
    double timer_at; /* when the pending timer fires */
    double deadline; /* when the current phase expires; 0: nothing is timed */
    double phase_at; /* when the head (from accept or first byte) or body phase began */
    int first;       /* no request yet: the head is timed from accept */
    /* input: in[off .. len) unconsumed; a request being read starts at off */
    char *in;
    size_t cap, off, len;
    size_t scan;         /* head-end scan position (from off) */
    size_t head_len;     /* CONN_BODY: the head's length */
    long long body_need; /* CONN_BODY, Content-Length framing: body bytes */
    http_chunked chunk;  /* CONN_BODY, chunked framing */
    size_t req_len;      /* CONN_BUSY: bytes of the request in flight (consumed on its answer) */
    int read_blocked;    /* stopped reading with the buffer full: resume by hand (edge-triggered) */
    int peer_eof;        /* the client shut its sending side */
    int dead;            /* a write failed: closed from the write event */
    int continue_sent;   /* 100 Continue written for this request */
    int close_pending;   /* answered with Connection: close: lingers once flushed */
    /* output not yet taken by the socket */
    char *out;
    size_t out_cap, out_off, out_len;
    call_box *call; /* the call this connection's current request belongs to */
    int in_idle;    /* on th->idle */
    TAILQ_ENTRY(http_conn) idle_link;
    TAILQ_ENTRY(http_conn) all_link;
    http_conn *next_free;
};

/* A buffer in the per-thread pool of input buffers. */
typedef struct http_buf {
    struct http_buf *next;
} http_buf;

struct http_thread {
    http_server *srv;
    int index;
    struct event_base *base;
    int own_base;
    int listen_fd; /* this thread's dup of the listening socket, -1 when stopped */
    struct event *accept_ev;
    int accept_on;
    int early_close; /* the backend reports a peer's close (EV_CLOSED) */
    struct event *ctl;
    void *ctx;
    pthread_t tid;
    int running;
    call_box *free_calls;
    size_t nfree;
    http_conn *free_conns;
    size_t nfree_conns;
    http_buf *free_bufs;
    size_t nfree_bufs;
    uint64_t rng;
    time_t date_at; /* the second date[] names (http_call.c: the Date header) */
    char date[40];
    size_t date_len;
    /* connections (http_conn.c) */
    TAILQ_HEAD(, http_conn) conns; /* every connection */
    TAILQ_HEAD(, http_conn) idle;  /* no request in progress, oldest first */
    int nconns, max_conns;
    int cap_paused;    /* not accepting: at the cap */
    int accept_paused; /* not accepting: accept() ran out of descriptors */
    struct event *accept_retry;
    unsigned long conn_expired, conn_shed; /* since the last summary line */
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

/* ---- http_call.c ---- */
/* A cleared call of thread th (counted in flight), or NULL when out of memory. */
call_box *http_call_get(http_thread *th);
/* Returns the call to its thread's free list (answered, or its request never completed). */
void http_call_release(call_box *b);
/* No longer counted in flight (at its answer, before its bytes go out). */
void http_call_uncount(call_box *b);
/* Counts the answer in the metrics and writes the access line. */
void http_call_observe(call_box *b, int status);
/* The reason phrase of status. */
const char *http_reason(int status);
/* Writes an answer head for b (status line, our headers, b's extra ones, the blank line) into
 * out[0..cap); body_len < 0: chunked. Returns its length, or 0 when it does not fit. */
size_t http_call_head(call_box *b, int status, const char *content_type, long long body_len,
                      char *out, size_t cap);

/* ---- http.c ---- */
/* Seeds the thread's request-id generator. */
void http_seed(http_thread *th);
/* Sets the call's request id and trace from its head (or new ones). */
void http_call_ids(call_box *b);
/* A complete request: routes it and runs its handler (or answers it). */
void http_dispatch(call_box *b);
/* A request refused before routing (malformed, too large): answered with detail, then closed. */
void http_refuse(call_box *b, int status, const char *detail);
/* Where a route's "{name}" last segment starts (after its '/'), or 0 when it has none. */
size_t http_route_param_at(const char *route);

/* ---- http_io.c ---- */
/* The connection's read event (edge-triggered): reads, frames and dispatches requests. */
void http_io_on_read(evutil_socket_t fd, short what, void *arg);
/* The connection's write event: flushes what the socket did not take. */
void http_io_on_write(evutil_socket_t fd, short what, void *arg);
/* Sends iov now, keeping what the socket does not take. 0, or -1: the connection failed
 * (it is closed from its write event; the caller just carries on). */
int http_io_send(http_conn *c, const struct iovec *iov, int n);
/* The call's answer was handed to http_io_send in full: the connection goes on
 * (next request, or closing). */
void http_io_answered(call_box *b);
/* The input buffer went back to the pool or was freed (http_conn.c at close). */
void http_io_buf_free(http_conn *c);

/* ---- http_conn.c ---- */
/* Deadlines, cap and accepting of thread th. */
int http_conn_thread_setup(http_thread *th, char *err, size_t errlen);
/* Closes every connection of th (their calls learn it), frees the pools. */
void http_conn_thread_free(http_thread *th);
/* Starts or stops accepting on th (stop_accepting, the cap, descriptor exhaustion). */
void http_conn_listen(http_thread *th);
/* Closes c now (never from inside an answer: see http_io.c); its call learns it. */
void http_conn_close(http_conn *c);
/* Enters state s and sets its deadline (0: none) measured from the phase start. */
void http_conn_enter(http_conn *c, conn_state s);
/* The current phase had progress (bytes read or written): the idle part of its deadline moves. */
void http_conn_progress(http_conn *c);

/* ---- http_stream.c / http_defer.c ---- */
/* Everything the socket took: a stream sends its next piece. */
void http_stream_flushed(call_box *b);
/* A streamed call's connection went: ends the stream. */
void http_stream_conn_gone(call_box *b);
/* The call's connection went or its client shut its side: its watch fires. */
void http_defer_conn_gone(call_box *b);
/* Thread th's completion queue and its wake-up pipe. */
int http_defer_thread_setup(http_thread *th, char *err, size_t errlen);
/* After the connections are closed: runs the completions still queued, frees. */
void http_defer_thread_free(http_thread *th);

#endif
