/*
 * http_stream: a JSON answer sent in chunks (the contract is in http.h), so
 * a large answer never exists whole in memory.
 *
 * Why it looks like this:
 * - Back-pressure: the next piece is rendered only from evhttp's write
 *   callback, which fires once the previous piece left the output buffer;
 *   a slow reader holds about one piece, not the answer.
 * - The call stays attached to its connection for the whole stream (a plain
 *   answer detaches at once): when the client leaves, evhttp calls no write
 *   callback again, and only the connection's close callback (http_conn.c)
 *   can end the stream, through http_stream_conn_gone.
 * - HTTP/1.0 has no chunked encoding: such a client gets the bytes as they
 *   come and the end of the answer is the connection closing.
 */
#include "platform/http.h"

#include "platform/http_internal.h"
#include "platform/log.h"

#include <assert.h>
#include <event2/buffer.h>
#include <event2/http_struct.h>

/* Frees what the stream holds and releases the call; b is gone after. */
static void stream_end(call_box *b)
{
    void (*done)(void *) = b->stream_done;
    void *arg = b->stream_arg;
    b->streaming = 0;
    jsonw_free(&b->stream_w);
    if (b->stream_buf)
        evbuffer_free(b->stream_buf);
    b->stream_buf = NULL;
    http_call_release(b);
    done(arg);
}

static void stream_on_written(struct evhttp_connection *evcon, void *arg);

/* Sends pieces until one is in flight or the last one went. */
static void stream_pump(call_box *b)
{
    struct evhttp_request *req = b->req;
    assert(b->streaming && req != NULL);
    for (;;) {
        jsonw_reset(&b->stream_w);
        int more = b->stream_next(b->stream_arg, &b->stream_w);
        if (more < 0 || !jsonw_ok(&b->stream_w) ||
            evbuffer_add(b->stream_buf, b->stream_w.buf, b->stream_w.len) != 0) {
            log_msg(LOG_ERROR, "http", b->call.request_id,
                    "streamed answer failed: closing the connection");
            struct evhttp_connection *evcon = evhttp_request_get_connection(req);
            if (evcon) {
                evhttp_connection_free(evcon); /* its close callback ends the stream */
            } else {
                b->req = NULL;
                http_conn_detach_call(b);
                evhttp_send_reply_end(req); /* a detached request: only frees it */
                stream_end(b);
            }
            return;
        }
        if (!more) {
            if (evbuffer_get_length(b->stream_buf) > 0)
                evhttp_send_reply_chunk(req, b->stream_buf);
            b->req = NULL;
            http_conn_detach_call(b);
            evhttp_send_reply_end(req); /* evhttp frees req once written */
            stream_end(b);
            return;
        }
        if (evbuffer_get_length(b->stream_buf) > 0) {
            evhttp_send_reply_chunk_with_cb(req, b->stream_buf, stream_on_written, b);
            return;
        }
    }
}

static void stream_on_written(struct evhttp_connection *evcon, void *arg)
{
    (void)evcon;
    call_box *b = arg;
    if (b->streaming && b->req)
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
    b->stream_buf = b->req ? evbuffer_new() : NULL;
    if (!b->stream_buf) {
        if (b->req) {
            log_msg(LOG_ERROR, "http", call->request_id, "out of memory for a streamed answer");
            http_conn_detach_call(b);
            evhttp_send_error(b->req, 500, NULL);
            b->req = NULL;
        }
        http_call_release(b);
        done(arg);
        return;
    }
    struct evhttp_request *req = b->req;
    b->streaming = 1;
    b->stream_next = next;
    b->stream_done = done;
    b->stream_arg = arg;
    jsonw_init(&b->stream_w);
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Content-Type", "application/json");
    evhttp_add_header(h, "X-Request-ID", call->request_id);
    evhttp_add_header(h, "traceparent", call->traceparent);
    if (req->major == 1 && req->minor == 0)
        evhttp_add_header(h, "Connection", "close");
    evhttp_send_reply_start(req, status, http_reason(status));
    stream_pump(b);
}

void http_stream_conn_gone(call_box *b)
{
    assert(b->streaming);
    struct evhttp_request *req = b->req;
    b->req = NULL;
    b->conn = NULL;
    if (req)
        evhttp_send_reply_end(req); /* detached from its connection: only frees it */
    stream_end(b);
}
