/*
 * http_conn: what libevent 2.1's evhttp does not do for a connection: a
 * deadline for the request head and body, a cap on open connections, and
 * accept() errors that do not spin (see http.h for the settings).
 *
 * Why it looks like this:
 * - evhttp's own timeout is per read, so a client sending one byte now and
 *   then holds a connection for ever. Every connection gets a record and a
 *   timer here: the head must be complete HTTP_HEADER_TIMEOUT_S after the
 *   connection opened (first request) or after its first byte (a keep-alive
 *   request), and the body HTTP_BODY_TIMEOUT_S after the head; then the
 *   connection is closed. The timers use libevent's common timeouts (one
 *   queue per duration), so ten thousand of them cost a list insert each.
 * - evhttp 2.1 has no "new connection" hook. evhttp_set_bevcb is called at
 *   accept(), before evhttp has its connection, so the record is bound to the
 *   evhttp_connection just after (an activated event, run before any byte is
 *   read): the bufferevent's callback argument is that connection (asserted
 *   against evhttp_connection_get_bufferevent). Until then a reference on the
 *   bufferevent keeps that check safe even if evhttp dropped the connection.
 * - Bytes are watched with a callback on the bufferevent's input buffer
 *   (evhttp does not use those): the first byte of a request starts its
 *   deadline, the blank line that ends the head starts the body's.
 * - The close callback of the evhttp_connection is ours (one per
 *   connection); it also tells a call that its request went away (the rules
 *   of http_call.c), so calls never install connection hooks themselves.
 * - The cap is per thread (HTTP_MAX_CONNECTIONS split evenly): at the cap the
 *   oldest idle connection (no request in progress) is closed to make room;
 *   with none idle the thread's listener is disabled until one closes, so
 *   clients wait in the kernel's backlog instead of meeting errors.
 * - accept() failing for lack of descriptors (EMFILE, ENFILE...) would fire
 *   again at once on a level-triggered listener: it is paused for a second,
 *   and said once per pause.
 */
#include "platform/http_internal.h"

#include "platform/clock.h"
#include "platform/log.h"

#include <assert.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>
#include <stdlib.h>
#include <string.h>

#if EVENT__NUMERIC_VERSION < 0x02010000 || EVENT__NUMERIC_VERSION >= 0x02020000
#error "http_conn binds connections the way libevent 2.1's evhttp builds them: check it"
#endif

#define HTTP_CONN_LOG_EVERY_S 5.0 /* summary lines of closed connections, at most this often */

typedef enum {
    CONN_BINDING, /* accepted; evhttp's connection not known yet */
    CONN_FIRST,   /* waiting for the first request's first byte (deadline from accept) */
    CONN_IDLE,    /* keep-alive: waiting for the next request (evhttp's idle timeout) */
    CONN_HEAD,    /* reading a request head */
    CONN_BODY,    /* head read, reading the body */
    CONN_BUSY     /* the request is with a handler, or its answer is being written */
} conn_state;

struct http_conn {
    http_thread *th;
    struct bufferevent *bev;
    struct evhttp_connection *evcon; /* NULL while binding */
    struct evbuffer_cb_entry *watch;
    struct event *timer;
    int fd;
    conn_state state;
    int line_empty; /* head scan: the current line has no byte but CR so far */
    call_box *call; /* the call whose request this connection carries */
    int in_idle;    /* on th->idle */
    TAILQ_ENTRY(http_conn) idle_link;
    TAILQ_ENTRY(http_conn) all_link;
};

static _Thread_local http_thread *conn_thread; /* the thread whose loop runs here */

static int conn_is_idle(conn_state s)
{
    return s == CONN_FIRST || s == CONN_IDLE;
}

static void conn_set_idle(http_conn *c, int idle)
{
    if (idle && !c->in_idle)
        TAILQ_INSERT_TAIL(&c->th->idle, c, idle_link);
    else if (!idle && c->in_idle)
        TAILQ_REMOVE(&c->th->idle, c, idle_link);
    c->in_idle = idle;
}

static void conn_enter(http_conn *c, conn_state s)
{
    c->state = s;
    conn_set_idle(c, conn_is_idle(s));
}

/* Arms the deadline of the current phase (head or body), replacing any other. */
static void conn_arm(http_conn *c, const struct timeval *tv)
{
    if (event_add(c->timer, tv) != 0)
        log_msg(LOG_ERROR, "http", NULL, "cannot arm a connection deadline");
}

static void conn_log_closed(http_thread *th)
{
    double now = clock_mono_s();
    if (now - th->conn_log_at < HTTP_CONN_LOG_EVERY_S)
        return;
    if (th->conn_expired || th->conn_shed)
        log_msg(LOG_INFO, "http", NULL,
                "closed %lu connections past the request head/body deadline and %lu idle ones "
                "at the connection cap (thread %d, %d open)",
                th->conn_expired, th->conn_shed, th->index, th->nconns);
    th->conn_expired = th->conn_shed = 0;
    th->conn_log_at = now;
}

static void listener_set(http_thread *th, int enable)
{
    struct evconnlistener *l = th->bound ? evhttp_bound_socket_get_listener(th->bound) : NULL;
    if (!l)
        return;
    if ((enable ? evconnlistener_enable(l) : evconnlistener_disable(l)) != 0)
        log_msg(LOG_ERROR, "http", NULL, "cannot %s the listener", enable ? "enable" : "disable");
}

/* Frees the record (the connection itself is evhttp's). */
static void conn_free(http_conn *c)
{
    http_thread *th = c->th;
    conn_set_idle(c, 0);
    TAILQ_REMOVE(&th->conns, c, all_link);
    if (c->fd >= 0 && (size_t)c->fd < th->by_fd_len && th->by_fd[c->fd] == c)
        th->by_fd[c->fd] = NULL;
    if (c->watch)
        evbuffer_remove_cb_entry(bufferevent_get_input(c->bev), c->watch);
    event_free(c->timer);
    if (c->state == CONN_BINDING)
        bufferevent_decref(c->bev);
    free(c);
    assert(th->nconns > 0);
    th->nconns--;
    if (th->cap_paused && th->nconns < th->max_conns && !th->accept_paused) {
        th->cap_paused = 0;
        listener_set(th, 1);
    }
}

/* evhttp frees the connection: the record goes, and a call learns its request may be gone. */
static void conn_on_close(struct evhttp_connection *evcon, void *arg)
{
    http_conn *c = arg;
    assert(c->evcon == evcon);
    call_box *b = c->call;
    if (b) {
        /*
         * A request still attached is freed with the connection; a detached
         * one (the client left while a handler works) lives until the reply,
         * which then only frees it: it must not call back into this record.
         */
        if (b->req && evhttp_request_get_connection(b->req) == evcon)
            b->req = NULL;
        else if (b->req)
            evhttp_request_set_on_complete_cb(b->req, NULL, NULL);
        b->conn = NULL;
        if (b->streaming)
            http_stream_conn_gone(b); /* nothing else would ever end it */
        http_defer_conn_gone(b);      /* a waiting call's owner learns its client left */
    }
    conn_free(c);
}

static void conn_close(http_conn *c)
{
    assert(c->evcon != NULL && c->call == NULL);
    evhttp_connection_free(c->evcon); /* calls conn_on_close */
}

/* Scans n new bytes of a head for its end (an empty line); 1 when found. */
static int conn_scan_head(http_conn *c, struct evbuffer *in, size_t from, size_t n)
{
    struct evbuffer_ptr pos;
    if (evbuffer_ptr_set(in, &pos, from, EVBUFFER_PTR_SET) != 0)
        return 0;
    struct evbuffer_iovec v[8];
    while (n > 0) {
        int nv = evbuffer_peek(in, (ev_ssize_t)n, &pos, v, 8);
        if (nv <= 0)
            return 0;
        size_t done = 0;
        for (int i = 0; i < nv && i < 8 && done < n; i++) {
            const char *p = v[i].iov_base;
            size_t len = v[i].iov_len < n - done ? v[i].iov_len : n - done;
            done += len;
            /* line by line with memchr: a header line ends the scan of its
             * bytes at its first one (not CR), so a head costs its line count */
            while (len > 0) {
                const char *nl = memchr(p, '\n', len);
                size_t seg = nl ? (size_t)(nl - p) : len;
                for (size_t k = 0; k < seg; k++)
                    if (p[k] != '\r') {
                        c->line_empty = 0;
                        break;
                    }
                if (!nl)
                    break;
                if (c->line_empty)
                    return 1;
                c->line_empty = 1;
                p = nl + 1;
                len -= seg + 1;
            }
        }
        if (done == 0 || evbuffer_ptr_set(in, &pos, done, EVBUFFER_PTR_ADD) != 0)
            return 0;
        n -= done;
    }
    return 0;
}

/* Bytes arrived (or were taken by evhttp). */
static void conn_on_input(struct evbuffer *in, const struct evbuffer_cb_info *info, void *arg)
{
    http_conn *c = arg;
    if (info->n_added == 0 || c->state == CONN_BINDING || c->state == CONN_BUSY ||
        c->state == CONN_BODY)
        return;
    if (c->state == CONN_IDLE) {
        conn_arm(c, c->th->head_tv); /* a keep-alive request's head: timed from its first byte */
        c->line_empty = 0;
    }
    if (c->state != CONN_HEAD)
        conn_enter(c, CONN_HEAD);
    size_t len = evbuffer_get_length(in);
    size_t n = info->n_added < len ? info->n_added : len;
    if (conn_scan_head(c, in, len - n, n)) {
        conn_enter(c, CONN_BODY);
        conn_arm(c, c->th->body_tv);
    }
}

/* Binds a fresh record to evhttp's connection (see the top of the file). */
static void conn_bind(http_conn *c)
{
    http_thread *th = c->th;
    bufferevent_data_cb rd, wr;
    bufferevent_event_cb ev;
    void *arg = NULL;
    bufferevent_getcb(c->bev, &rd, &wr, &ev, &arg);
    struct evhttp_connection *evcon = arg;
    if (!evcon || !ev || evhttp_connection_get_bufferevent(evcon) != c->bev) {
        /* evhttp dropped it already (bufferevent_free clears the callbacks) */
        conn_free(c);
        return;
    }
    c->evcon = evcon;
    c->fd = (int)bufferevent_getfd(c->bev);
    bufferevent_decref(c->bev); /* from here on the close callback tells us */
    c->state = CONN_FIRST;
    evhttp_connection_set_closecb(evcon, conn_on_close, c);
    if (c->fd >= 0 && (size_t)c->fd >= th->by_fd_len) {
        size_t n = th->by_fd_len ? th->by_fd_len : 1024;
        while (n <= (size_t)c->fd)
            n *= 2;
        http_conn **p = realloc(th->by_fd, n * sizeof *p);
        if (p) {
            memset(p + th->by_fd_len, 0, (n - th->by_fd_len) * sizeof *p);
            th->by_fd = p;
            th->by_fd_len = n;
        }
    }
    if (c->fd >= 0 && (size_t)c->fd < th->by_fd_len)
        th->by_fd[c->fd] = c; /* else its requests are refused (http_dispatch) */
    c->watch = evbuffer_add_cb(bufferevent_get_input(c->bev), conn_on_input, c);
    if (!c->watch)
        log_msg(LOG_ERROR, "http", NULL, "cannot watch a connection's input");
    conn_enter(c, CONN_FIRST);
    conn_arm(c, th->head_tv); /* the first head: timed from accept */
}

static void conn_on_timer(evutil_socket_t fd, short what, void *arg)
{
    http_conn *c = arg;
    (void)fd;
    (void)what;
    if (c->state == CONN_BINDING) {
        conn_bind(c);
        return;
    }
    if (c->state == CONN_BUSY || c->state == CONN_IDLE)
        return; /* a stale expiry: nothing is timed in these states */
    http_thread *th = c->th;
    th->conn_expired++;
    conn_close(c); /* frees c */
    conn_log_closed(th);
}

/* At the cap: the oldest idle connection makes room, else accepting pauses. */
static void conn_make_room(http_thread *th)
{
    int shed = 0;
    while (th->nconns >= th->max_conns && !TAILQ_EMPTY(&th->idle)) {
        th->conn_shed++;
        shed = 1;
        conn_close(TAILQ_FIRST(&th->idle));
    }
    if (shed)
        conn_log_closed(th);
    if (th->nconns >= th->max_conns && !th->cap_paused) {
        th->cap_paused = 1;
        listener_set(th, 0);
    }
}

/* evhttp's bevcb: called at accept(), before evhttp builds its connection. */
static struct bufferevent *conn_on_accept(struct event_base *base, void *arg)
{
    http_thread *th = arg;
    conn_thread = th; /* this runs on th's loop, whichever thread dispatches it */
    struct bufferevent *bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
    http_conn *c = bev ? calloc(1, sizeof *c) : NULL;
    if (c)
        c->timer = event_new(base, -1, 0, conn_on_timer, c);
    if (!c || !c->timer) {
        /* untracked: evhttp serves it, http_dispatch refuses its requests */
        log_msg(LOG_ERROR, "http", NULL, "out of memory for a connection record");
        free(c);
        return bev;
    }
    c->th = th;
    c->bev = bev;
    c->fd = -1;
    c->state = CONN_BINDING;
    bufferevent_incref(bev);
    TAILQ_INSERT_TAIL(&th->conns, c, all_link);
    th->nconns++;
    event_active(c->timer, EV_TIMEOUT, 0); /* binds before any byte is read */
    conn_make_room(th);
    return bev;
}

static void conn_on_accept_retry(evutil_socket_t fd, short what, void *arg)
{
    http_thread *th = arg;
    (void)fd;
    (void)what;
    th->accept_paused = 0;
    if (!th->cap_paused)
        listener_set(th, 1);
}

/* The listener's error callback: accept() failed with something other than EAGAIN. */
static void conn_on_accept_error(struct evconnlistener *l, void *arg)
{
    int e = EVUTIL_SOCKET_ERROR();
    http_thread *th = conn_thread;
    (void)arg;
    if (!th || !th->bound || evhttp_bound_socket_get_listener(th->bound) != l) {
        log_msg(LOG_ERROR, "http", NULL, "accept(): %s", evutil_socket_error_to_string(e));
        return;
    }
    if (e != EMFILE && e != ENFILE && e != ENOBUFS && e != ENOMEM)
        return; /* ECONNABORTED and the like: that one client's problem */
    if (th->accept_paused)
        return;
    log_msg(LOG_WARN, "http", NULL,
            "accept(): %s with %d connections open on thread %d: not accepting for 1 s "
            "(HTTP_MAX_CONNECTIONS is above what the descriptor limit allows)",
            evutil_socket_error_to_string(e), th->nconns, th->index);
    th->accept_paused = 1;
    evconnlistener_disable(l);
    struct timeval tv = {1, 0};
    if (event_add(th->accept_retry, &tv) != 0)
        log_msg(LOG_ERROR, "http", NULL, "cannot schedule accepting again");
}

int http_conn_thread_setup(http_thread *th, char *err, size_t errlen)
{
    const http_config *cfg = &th->srv->cfg;
    TAILQ_INIT(&th->conns);
    TAILQ_INIT(&th->idle);
    int share = (cfg->max_connections + th->srv->nthreads - 1) / th->srv->nthreads;
    th->max_conns = share > 0 ? share : 1;
    struct timeval head = {cfg->header_timeout_s > 0 ? cfg->header_timeout_s : 10, 0};
    struct timeval body = {cfg->body_timeout_s > 0 ? cfg->body_timeout_s : 30, 0};
    th->head_tv = event_base_init_common_timeout(th->base, &head);
    th->body_tv = event_base_init_common_timeout(th->base, &body);
    th->accept_retry = event_new(th->base, -1, 0, conn_on_accept_retry, th);
    if (!th->head_tv || !th->body_tv || !th->accept_retry) {
        snprintf(err, errlen, "cannot set up connection deadlines");
        return -1;
    }
    evhttp_set_bevcb(th->http, conn_on_accept, th);
    struct evconnlistener *l = th->bound ? evhttp_bound_socket_get_listener(th->bound) : NULL;
    if (l)
        evconnlistener_set_error_cb(l, conn_on_accept_error);
    return 0;
}

void http_conn_thread_enter(http_thread *th)
{
    conn_thread = th;
}

void http_conn_thread_free(http_thread *th)
{
    /* evhttp_free closed the bound connections (their close callbacks ran);
     * what is left was still binding: only our bufferevent reference remains */
    while (!TAILQ_EMPTY(&th->conns))
        conn_free(TAILQ_FIRST(&th->conns));
    if (th->accept_retry)
        event_free(th->accept_retry);
    th->accept_retry = NULL;
    free(th->by_fd);
    th->by_fd = NULL;
    th->by_fd_len = 0;
}

http_conn *http_conn_request_begins(http_thread *th, struct evhttp_request *req)
{
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    struct bufferevent *bev = evcon ? evhttp_connection_get_bufferevent(evcon) : NULL;
    evutil_socket_t fd = bev ? bufferevent_getfd(bev) : -1;
    if (fd < 0 || (size_t)fd >= th->by_fd_len)
        return NULL;
    http_conn *c = th->by_fd[fd];
    if (!c || c->evcon != evcon)
        return NULL;
    event_del(c->timer);
    conn_enter(c, CONN_BUSY);
    return c;
}

/* evhttp wrote the answer (or answered itself): the connection waits for the next request. */
static void conn_on_request_done(struct evhttp_request *req, void *arg)
{
    http_conn *c = arg;
    call_box *b = c->call;
    if (b && b->req == req)
        b->req = NULL; /* evhttp frees it now; a later reply must not touch it */
    if (b)
        b->conn = NULL;
    c->call = NULL;
    c->line_empty = 0;
    struct evbuffer *in = bufferevent_get_input(c->bev);
    size_t pending = evbuffer_get_length(in);
    if (pending == 0) {
        conn_enter(c, CONN_IDLE);
        return;
    }
    /* a pipelined request: its head is timed from now */
    conn_enter(c, CONN_HEAD);
    conn_arm(c, c->th->head_tv);
    if (conn_scan_head(c, in, 0, pending)) {
        conn_enter(c, CONN_BODY);
        conn_arm(c, c->th->body_tv);
    }
}

void http_conn_attach_call(http_conn *c, call_box *b, struct evhttp_request *req)
{
    assert(c->call == NULL && c->state == CONN_BUSY);
    c->call = b;
    b->conn = c;
    evhttp_request_set_on_complete_cb(req, conn_on_request_done, c);
}

void http_conn_detach_call(call_box *b)
{
    if (!b->conn)
        return;
    assert(b->conn->call == b);
    b->conn->call = NULL;
    b->conn = NULL;
}
