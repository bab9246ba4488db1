/*
 * http_io: a connection's bytes: reading and framing requests (head, then a
 * Content-Length or chunked body) into calls, and writing answers.
 *
 * Why it looks like this:
 * - The read event is edge-triggered and added once: every readiness is read
 *   until EAGAIN. While a call is in flight (one per connection at a time)
 *   further bytes (pipelined requests) are read into the buffer's free room
 *   only; with the buffer full reading stops (read_blocked) and resumes by
 *   hand once the answer is out, so memory per connection stays bounded.
 *   Reading on while a handler works is also what notices a client leaving
 *   (EOF), for http_call_watch_gone.
 * - The buffer comes from a per-thread pool when bytes arrive and goes back
 *   when the connection is idle with nothing buffered: ten thousand idle
 *   connections hold no buffers. It grows (up to the head and body limits)
 *   only while no call is in flight, since a call's head points into it.
 * - Answers are written at once (writev); only what the socket does not take
 *   is copied, and only then is the write event added.
 * - Nothing here closes a connection from inside an answer (a handler's
 *   reply may run inside this file's read loop, or answer another
 *   connection): a failed write marks the connection dead and activates its
 *   write event, which closes it from the loop.
 * - A request answered with Connection: close lingers: our side is shut,
 *   and the client's remaining bytes are read and dropped for a moment, so
 *   the kernel does not reset the connection (and the answer with it) over
 *   unread data.
 */
#include "platform/http_internal.h"

#include "platform/log.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define HTTP_CHUNK_SLACK 16384 /* raw chunk framing buffered beyond the decoded body */

static char *buf_get(http_thread *th)
{
    http_buf *b = th->free_bufs;
    if (b) {
        th->free_bufs = b->next;
        th->nfree_bufs--;
        return (char *)b;
    }
    return malloc(HTTP_BUF_SIZE);
}

void http_io_buf_free(http_conn *c)
{
    http_thread *th = c->th;
    if (c->in && c->cap == HTTP_BUF_SIZE && th->nfree_bufs < HTTP_FREE_BUFS_MAX) {
        http_buf *b = (http_buf *)(void *)c->in;
        b->next = th->free_bufs;
        th->free_bufs = b;
        th->nfree_bufs++;
    } else {
        free(c->in);
    }
    c->in = NULL;
    c->cap = c->off = c->len = 0;
}

/* Room for need bytes from off (no call in flight): compacts, then grows. 0, or -1. */
static int buf_reserve(http_conn *c, size_t need)
{
    if (c->off > 0) {
        memmove(c->in, c->in + c->off, c->len - c->off);
        c->len -= c->off;
        c->off = 0;
    }
    if (need <= c->cap)
        return 0;
    size_t cap = c->cap * 2;
    while (cap < need)
        cap *= 2;
    char *p = malloc(cap);
    if (!p)
        return -1;
    memcpy(p, c->in, c->len);
    size_t len = c->len;
    http_io_buf_free(c);
    c->in = p;
    c->cap = cap;
    c->len = len;
    return 0;
}

/* A write failed or the client is gone: closed from the write event (see the top). */
static void io_fail(http_conn *c)
{
    c->dead = 1;
    event_active(&c->wr, EV_WRITE, 0);
}

static int io_queue(http_conn *c, const struct iovec *iov, int n, size_t skip)
{
    size_t total = 0;
    for (int i = 0; i < n; i++)
        total += iov[i].iov_len;
    total -= skip;
    size_t have = c->out_len - c->out_off;
    if (c->out_off > 0) {
        memmove(c->out, c->out + c->out_off, have);
        c->out_off = 0;
        c->out_len = have;
    }
    if (have + total > c->out_cap) {
        size_t cap = c->out_cap ? c->out_cap : 4096;
        while (cap < have + total)
            cap *= 2;
        char *p = realloc(c->out, cap);
        if (!p)
            return -1;
        c->out = p;
        c->out_cap = cap;
    }
    for (int i = 0; i < n; i++) {
        size_t len = iov[i].iov_len;
        const char *src = iov[i].iov_base;
        if (skip >= len) {
            skip -= len;
            continue;
        }
        memcpy(c->out + c->out_len, src + skip, len - skip);
        c->out_len += len - skip;
        skip = 0;
    }
    if (!c->wr_added) {
        if (event_add(&c->wr, NULL) != 0)
            return -1;
        c->wr_added = 1;
    }
    http_conn_progress(c); /* the answer not read by the client is timed now */
    return 0;
}

int http_io_send(http_conn *c, const struct iovec *iov, int n)
{
    if (c->dead)
        return -1;
    if (c->out_len > c->out_off)
        return io_queue(c, iov, n, 0) == 0 ? 0 : (io_fail(c), -1); /* keep the order */
    size_t total = 0;
    for (int i = 0; i < n; i++)
        total += iov[i].iov_len;
    ssize_t w;
    do
        w = writev(c->fd, iov, n);
    while (w < 0 && errno == EINTR);
    if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
        io_fail(c);
        return -1;
    }
    size_t done = w < 0 ? 0 : (size_t)w;
    if (done == total)
        return 0;
    if (io_queue(c, iov, n, done) != 0) {
        io_fail(c);
        return -1;
    }
    return 0;
}

/* Answered with Connection: close and all written: shut our side, drain theirs briefly. */
static void io_linger(http_conn *c)
{
    if (shutdown(c->fd, SHUT_WR) != 0 || c->peer_eof) {
        c->dead = 1;
        event_active(&c->wr, EV_WRITE, 0);
        return;
    }
    c->off = c->len = 0;
    http_conn_enter(c, CONN_LINGER);
    event_active(&c->rd, EV_READ, 0); /* what is already there is dropped now */
}

/* The connection is ready for its next request (the answer is out, or queued). */
static void io_next(http_conn *c)
{
    if (c->out_len > c->out_off)
        return; /* http_io_on_write comes back here once flushed */
    if (c->peer_eof && c->off == c->len) {
        c->dead = 1; /* nothing more will come */
        event_active(&c->wr, EV_WRITE, 0);
        return;
    }
    c->scan = 0;
    c->continue_sent = 0;
    http_conn_enter(c, c->off < c->len ? CONN_HEAD : CONN_IDLE);
    if (c->off < c->len || c->read_blocked)
        event_active(&c->rd, EV_READ, 0); /* a pipelined request, in a fresh loop turn */
}

void http_io_answered(call_box *b)
{
    http_conn *c = b->conn;
    assert(c != NULL && c->call == b);
    c->call = NULL;
    b->conn = NULL;
    b->base = NULL;
    c->off += c->req_len;
    c->req_len = 0;
    if (c->off == c->len)
        c->off = c->len = 0;
    c->body_need = -1;
    if (c->dead)
        return;
    if (b->close_after) {
        if (c->out_len == c->out_off)
            io_linger(c);
        else
            c->close_pending = 1; /* lingers once flushed (http_io_on_write) */
        return;
    }
    io_next(c);
}

void http_io_on_write(evutil_socket_t fd, short what, void *arg)
{
    http_conn *c = arg;
    (void)what;
    while (!c->dead && c->out_len > c->out_off) {
        ssize_t w = write(fd, c->out + c->out_off, c->out_len - c->out_off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            http_conn_progress(c);
            return;
        }
        if (w <= 0) {
            c->dead = 1;
            break;
        }
        c->out_off += (size_t)w;
    }
    if (c->dead) {
        http_conn_close(c);
        return;
    }
    c->out_off = c->out_len = 0;
    if (c->wr_added) {
        event_del(&c->wr);
        c->wr_added = 0;
    }
    if (c->call && c->call->streaming) {
        http_stream_flushed(c->call);
        return;
    }
    if (c->call)
        return; /* a 100 Continue went: the request is still being read */
    if (c->close_pending) {
        c->close_pending = 0;
        io_linger(c);
        return;
    }
    if (c->state == CONN_BUSY)
        io_next(c);
}

/* Refuses the request being read (no call in flight yet, or one got at its head). */
static void io_refuse(http_conn *c, int status, const char *detail)
{
    call_box *b = c->call;
    if (!b) {
        b = http_call_get(c->th);
        if (!b) {
            io_fail(c);
            return;
        }
        b->conn = c;
        c->call = b;
    }
    http_conn_enter(c, CONN_BUSY);
    c->req_len = c->len - c->off; /* everything: nothing after it is read */
    http_refuse(b, status, detail);
}

static void io_continue(http_conn *c)
{
    static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
    struct iovec v = {(void *)cont, sizeof cont - 1};
    c->continue_sent = 1;
    (void)http_io_send(c, &v, 1);
}

/* The head is complete at in[off .. off+end): parse it, choose the body's framing. */
static int io_head(http_conn *c, size_t end)
{
    http_server *s = c->th->srv;
    call_box *b = http_call_get(c->th);
    if (!b) {
        io_fail(c);
        return -1;
    }
    b->conn = c;
    c->call = b;
    if (http_head_parse(c->in + c->off, end, &b->head) != 0) {
        b->head_ok = 0;
        b->head.nfields = 0; /* ids from a malformed head are not trusted */
        io_refuse(c, b->head.status, b->head.error);
        return -1;
    }
    b->head_ok = 1;
    b->base = c->in + c->off;
    c->head_len = end;
    if (b->head.chunked) {
        memset(&c->chunk, 0, sizeof c->chunk);
        c->body_need = -1;
    } else {
        c->body_need = b->head.content_length > 0 ? b->head.content_length : 0;
        if ((unsigned long long)c->body_need > s->cfg.max_body_bytes) {
            char msg[96];
            snprintf(msg, sizeof msg, "request body larger than %zu bytes", s->cfg.max_body_bytes);
            io_refuse(c, 413, msg);
            return -1;
        }
    }
    http_conn_enter(c, CONN_BODY);
    if (b->head.expect_continue && c->len - c->off == end && (b->head.chunked || c->body_need))
        io_continue(c);
    return 0;
}

/* The request at off is complete (head_len + raw body bytes, the body decoded at body_at). */
static void io_dispatch(http_conn *c, size_t raw_body, size_t body_len)
{
    call_box *b = c->call;
    b->base = c->in + c->off;
    b->body_at = c->head_len;
    b->body_len = body_len;
    c->req_len = c->head_len + raw_body;
    http_conn_enter(c, CONN_BUSY);
    http_dispatch(b);
}

/* Frames what is buffered (no call in flight, or one whose body is being read). */
static void io_frame(http_conn *c)
{
    http_server *s = c->th->srv;
    size_t max_head = s->cfg.max_header_bytes ? s->cfg.max_header_bytes : 16384;
    while (!c->dead && (c->state == CONN_IDLE || c->state == CONN_HEAD || c->state == CONN_BODY) &&
           c->off < c->len) {
        if (c->state == CONN_IDLE)
            http_conn_enter(c, CONN_HEAD);
        if (c->state == CONN_HEAD) {
            size_t end = http_head_end(c->in + c->off, c->len - c->off, &c->scan);
            if (!end) {
                if (c->len - c->off > max_head)
                    io_refuse(c, 431, "request head larger than the limit");
                else if (c->len == c->cap && buf_reserve(c, c->len - c->off + 1) != 0)
                    io_fail(c);
                return;
            }
            if (end > max_head) {
                io_refuse(c, 431, "request head larger than the limit");
                return;
            }
            if (io_head(c, end) != 0)
                return;
        }
        size_t have = c->len - c->off - c->head_len;
        if (c->body_need >= 0) {
            size_t need = (size_t)c->body_need;
            if (have >= need) {
                io_dispatch(c, need, need);
                return;
            }
            if (c->off + c->head_len + need > c->cap) {
                if (buf_reserve(c, c->head_len + need) != 0) {
                    io_fail(c);
                    return;
                }
                c->call->base = c->in + c->off;
            }
            return;
        }
        int too_large = 0;
        const char *err = NULL;
        char *body = c->in + c->off + c->head_len;
        int r = http_chunked_step(&c->chunk, body, have, s->cfg.max_body_bytes, &too_large, &err);
        if (r < 0) {
            io_refuse(c, too_large ? 413 : 400, err);
            return;
        }
        if (r == 1) {
            io_dispatch(c, c->chunk.in, c->chunk.out);
            return;
        }
        /* decoded bytes sit at the front; only the unread raw tail needs room */
        if (c->len == c->cap) {
            size_t limit = c->head_len + s->cfg.max_body_bytes + HTTP_CHUNK_SLACK;
            if (c->len - c->off >= limit || buf_reserve(c, c->len - c->off + 1) != 0) {
                io_refuse(c, 413, "request body larger than the limit");
                return;
            }
            c->call->base = c->in + c->off;
        }
        return;
    }
}

/* Lingering: what the client still sends is dropped until it closes or the linger ends. */
static void io_drain(http_conn *c)
{
    char sink[4096];
    for (;;) {
        ssize_t r = read(c->fd, sink, sizeof sink);
        if (r > 0)
            continue;
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        http_conn_close(c);
        return;
    }
}

/* The client closed or shut its side, or the read failed. */
static void io_eof(http_conn *c, int failed)
{
    c->peer_eof = 1;
    if (c->state == CONN_BUSY && !failed) {
        /* a handler has it, or its answer is being written: that may still be read (a
         * half-close), and the connection closes after it; a watcher learns now */
        if (c->call && !c->call->answered)
            http_defer_conn_gone(c->call);
        return;
    }
    http_conn_close(c);
}

void http_io_on_read(evutil_socket_t fd, short what, void *arg)
{
    http_conn *c = arg;
    /* A read shorter than the room emptied the socket: new bytes make a new
     * edge, so the EAGAIN read that would confirm it is saved. Not when the
     * client closed (EV_CLOSED): its EOF comes with no further edge. */
    int may_stop = c->th->early_close && !(what & EV_CLOSED);
    if (c->dead)
        return;
    if (c->state == CONN_LINGER) {
        io_drain(c);
        return;
    }
    c->read_blocked = 0;
    int got = 0;
    for (;;) {
        if (c->peer_eof)
            break;
        if (!c->in) {
            c->in = buf_get(c->th);
            if (!c->in) {
                log_msg(LOG_ERROR, "http", NULL, "out of memory for a connection buffer");
                http_conn_close(c);
                return;
            }
            c->cap = HTTP_BUF_SIZE;
            c->off = c->len = 0;
        }
        if (c->len == c->cap) {
            if (c->state == CONN_BUSY || c->dead) {
                c->read_blocked = 1; /* resumed by io_next */
                break;
            }
            io_frame(c); /* grows the buffer as the limits allow, or refuses */
            if (c->len == c->cap) {
                c->read_blocked = 1;
                break;
            }
            continue;
        }
        size_t room = c->cap - c->len;
        ssize_t r = read(fd, c->in + c->len, room);
        if (r > 0) {
            c->len += (size_t)r;
            got = 1;
            if (c->state != CONN_BUSY)
                io_frame(c);
            if (c->dead || c->state == CONN_LINGER)
                return;
            if (may_stop && (size_t)r < room)
                break;
            continue;
        }
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        io_eof(c, r < 0); /* may free c */
        return;
    }
    if (got && c->state != CONN_BUSY && c->state != CONN_IDLE)
        http_conn_progress(c);
    /* frames left from before (a pipelined request resumed by io_next) */
    if (!got && c->state != CONN_BUSY && c->off < c->len)
        io_frame(c);
    if (c->state == CONN_IDLE && c->off == c->len && c->in && !c->call)
        http_io_buf_free(c); /* idle with nothing buffered: the buffer goes back */
}
