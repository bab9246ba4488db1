/*
 * http_defer: handing a call to another thread and getting its completion
 * back onto the call's own loop thread (the contract is in http.h).
 *
 * Why it looks like this:
 * - A call and its connection belong to one loop thread; a worker never
 *   touches them. It only posts (call, fn, arg) to that thread's queue, and
 *   fn runs there, where answering is the ordinary, single-threaded reply.
 * - The wake-up is a self-pipe, not event_active(): it is safe from any
 *   thread whether or not the base was built with locking (one HTTP thread
 *   needs no evthread_use_pthreads). One byte per batch: the poster writes
 *   only when no wake-up is pending, so the pipe never fills.
 * - The queue is intrusive (a link in the call), so posting cannot fail and
 *   is bounded by the calls in flight.
 * - A client that leaves while a worker runs is handled by the connection's
 *   close (http_conn.c), which detaches the call; the completion's answer
 *   then only releases the call.
 * - A call that waits long (a long-poll) may watch its client: the
 *   connection keeps reading while a handler holds its request (http_io.c),
 *   so its EOF, or its close, is the news; the watch is only a callback.
 */
#include "platform/http.h"

#include "platform/http_internal.h"
#include "platform/log.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void http_call_defer(http_call *call)
{
    call_box *b = (call_box *)call;
    assert(!b->answered && !b->deferred);
    b->deferred = 1;
}

static void defer_lock(http_thread *th)
{
    int rc = pthread_mutex_lock(&th->post_mu);
    if (rc != 0) {
        /* only a corrupted mutex fails here: going on would lose or double an answer */
        log_error("http: completion queue lock: %s", strerror(rc));
        abort();
    }
}

static void defer_unlock(http_thread *th)
{
    int rc = pthread_mutex_unlock(&th->post_mu);
    if (rc != 0) {
        log_error("http: completion queue unlock: %s", strerror(rc));
        abort();
    }
}

void http_call_complete(http_call *call, http_complete_fn fn, void *arg)
{
    call_box *b = (call_box *)call;
    http_thread *th = b->th;
    assert(b->deferred && !b->answered && fn != NULL);
    assert(b->post_fn == NULL); /* completed once */
    b->post_fn = fn;
    b->post_arg = arg;
    b->post_next = NULL;
    defer_lock(th);
    if (th->post_tail)
        th->post_tail->post_next = b;
    else
        th->post_head = b;
    th->post_tail = b;
    int wake = !th->post_woken;
    th->post_woken = 1;
    defer_unlock(th);
    if (!wake)
        return;
    ssize_t n;
    do
        n = write(th->post_fds[1], "c", 1);
    while (n < 0 && errno == EINTR);
    /* EAGAIN: the pipe is full of wake-ups already, the loop will look */
    if (n < 0 && errno != EAGAIN)
        log_error("http: completion wake-up: %s", strerror(errno));
}

/* Ends the call's watch on its client (on its loop thread); nothing if none. */
static void defer_unwatch(call_box *b)
{
    b->gone_fn = NULL;
    b->gone_arg = NULL;
}

int http_call_watch_gone(http_call *call, http_gone_fn gone, void *arg)
{
    call_box *b = (call_box *)call;
    assert(b->deferred && !b->answered && b->post_fn == NULL && gone != NULL);
    assert(b->gone_fn == NULL); /* one watch per call */
    if (!b->conn || b->conn->peer_eof || b->conn->dead)
        return -1; /* the client already went */
    b->gone_fn = gone;
    b->gone_arg = arg;
    return 0;
}

void http_defer_conn_gone(call_box *b)
{
    if (!b->gone_fn)
        return;
    http_gone_fn fn = b->gone_fn;
    void *fn_arg = b->gone_arg;
    defer_unwatch(b);
    fn(&b->call, fn_arg);
}

/* Runs every completion queued on th (on th's loop thread, or at free). */
static void defer_run(http_thread *th)
{
    defer_lock(th);
    call_box *b = th->post_head;
    th->post_head = th->post_tail = NULL;
    th->post_woken = 0;
    defer_unlock(th);
    while (b) {
        call_box *next = b->post_next;
        http_complete_fn fn = b->post_fn;
        void *arg = b->post_arg;
        b->post_fn = NULL;
        b->post_arg = NULL;
        b->post_next = NULL;
        b->deferred = 0;
        defer_unwatch(b);  /* answered now: its client's leaving is no longer news */
        fn(&b->call, arg); /* answers the call, which may recycle b */
        b = next;
    }
}

static void defer_on_wake(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    char buf[64];
    ssize_t n;
    do
        n = read(fd, buf, sizeof buf);
    while (n > 0 || (n < 0 && errno == EINTR));
    if (n < 0 && errno != EAGAIN)
        log_error("http: completion pipe: %s", strerror(errno));
    defer_run(arg);
}

int http_defer_thread_setup(http_thread *th, char *err, size_t errlen)
{
    th->post_fds[0] = th->post_fds[1] = -1;
    int rc = pthread_mutex_init(&th->post_mu, NULL);
    if (rc != 0) {
        snprintf(err, errlen, "completion queue mutex: %s", strerror(rc));
        return -1;
    }
    th->post_mu_ok = 1;
    if (pipe2(th->post_fds, O_NONBLOCK | O_CLOEXEC) != 0) {
        snprintf(err, errlen, "completion pipe: %s", strerror(errno));
        th->post_fds[0] = th->post_fds[1] = -1;
        return -1;
    }
    th->post_ev = event_new(th->base, th->post_fds[0], EV_READ | EV_PERSIST, defer_on_wake, th);
    if (!th->post_ev || event_add(th->post_ev, NULL) != 0) {
        snprintf(err, errlen, "completion event: cannot add");
        return -1;
    }
    return 0;
}

void http_defer_thread_free(http_thread *th)
{
    if (!th->post_mu_ok)
        return;    /* set-up never got this far: nothing of ours exists */
    defer_run(th); /* the connections are gone: these answers only release */
    pthread_mutex_destroy(&th->post_mu);
    th->post_mu_ok = 0;
    if (th->post_ev) {
        event_free(th->post_ev);
        th->post_ev = NULL;
    }
    for (int i = 0; i < 2; i++)
        if (th->post_fds[i] >= 0) {
            close(th->post_fds[i]);
            th->post_fds[i] = -1;
        }
}
