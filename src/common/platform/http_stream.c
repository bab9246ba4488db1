/*
 * http_stream: a JSON answer sent in chunks (the contract is in http.h), so
 * a large answer never exists whole in memory.
 *
 * Why it looks like this:
 * - Back-pressure: the next piece is rendered only once the socket took the
 *   previous one. A piece the socket takes at once is followed by the next in
 *   a later loop turn (the write event activated by hand), so one long
 *   answer to a fast reader does not starve the loop's other connections.
 * - The call stays attached to its connection for the whole stream (a plain
 *   answer detaches at once): when the client leaves, the connection's close
 *   (http_conn.c) ends the stream through http_stream_conn_gone.
 * - HTTP/1.0 has no chunked encoding: such a client gets the bytes as they
 *   come and the end of the answer is the connection closing.
 */
#include "platform/http.h"

#include "platform/http_internal.h"
#include "platform/log.h"

#include <assert.h>
#include <stdio.h>

/* Frees what the stream holds and releases the call; b is gone after. */
static void stream_end(call_box *b)
{
    void (*done)(void *) = b->stream_done;
    void *arg = b->stream_arg;
    b->streaming = 0;
    jsonw_free(&b->stream_w);
    http_call_release(b);
    done(arg);
}

/* One piece, framed as a chunk when chunked (n 0: the last chunk). */
static int stream_send(call_box *b, const char *p, size_t n, int last)
{
    char size[24];
    struct iovec iov[4];
    int k = 0;
    if (b->stream_chunked && n > 0) {
        int sn = snprintf(size, sizeof size, "%zx\r\n", n);
        iov[k++] = (struct iovec){size, (size_t)sn};
    }
    if (n > 0)
        iov[k++] = (struct iovec){(void *)p, n};
    if (b->stream_chunked && n > 0)
        iov[k++] = (struct iovec){"\r\n", 2};
    if (b->stream_chunked && last)
        iov[k++] = (struct iovec){"0\r\n\r\n", 5};
    return k ? http_io_send(b->conn, iov, k) : 0;
}

/* Sends the next piece; the end when that was the last. */
static void stream_pump(call_box *b)
{
    assert(b->streaming && b->conn != NULL);
    http_conn *c = b->conn;
    for (;;) {
        jsonw_reset(&b->stream_w);
        int more = b->stream_next(b->stream_arg, &b->stream_w);
        if (more < 0 || !jsonw_ok(&b->stream_w)) {
            log_msg(LOG_ERROR, "http", b->call.request_id,
                    "streamed answer failed: closing the connection");
            c->dead = 1;
            event_active(&c->wr, EV_WRITE, 0); /* its close ends the stream */
            return;
        }
        if (stream_send(b, b->stream_w.buf, b->stream_w.len, !more) != 0)
            return; /* the connection closes and ends the stream */
        if (!more) {
            http_io_answered(b);
            stream_end(b);
            return;
        }
        if (b->stream_w.len > 0) {
            if (c->out_len == c->out_off)
                event_active(&c->wr, EV_WRITE, 0); /* taken at once: the next in a later turn */
            return;
        }
    }
}

void http_stream_flushed(call_box *b)
{
    if (b->streaming && b->conn)
        stream_pump(b);
}

void http_reply_stream(http_call *call, int status, http_stream_next_fn next,
                       void (*done)(void *arg), void *arg)
{
    call_box *b = (call_box *)call;
    assert(!b->answered && !b->deferred && !b->streaming);
    assert(next != NULL && done != NULL);
    assert(status >= 100 && status <= 599);
    b->answered = 1;
    http_call_observe(b, status);
    if (!b->conn) {
        http_call_release(b); /* the client left */
        done(arg);
        return;
    }
    b->streaming = 1;
    b->stream_next = next;
    b->stream_done = done;
    b->stream_arg = arg;
    b->stream_chunked = b->head.minor >= 1;
    if (!b->stream_chunked)
        b->close_after = 1;
    jsonw_init(&b->stream_w);
    char head[512 + HTTP_EXTRA_HEADERS_MAX];
    size_t hn = http_call_head(b, status, "application/json", -1, head, sizeof head);
    assert(hn > 0);
    struct iovec v = {head, hn};
    if (http_io_send(b->conn, &v, 1) != 0)
        return; /* the connection closes and ends the stream */
    if (b->head.method == HTTP_METHOD_HEAD) {
        http_io_answered(b);
        stream_end(b);
        return;
    }
    stream_pump(b);
}

void http_stream_conn_gone(call_box *b)
{
    assert(b->streaming);
    b->conn = NULL;
    b->base = NULL;
    stream_end(b);
}
