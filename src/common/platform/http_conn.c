/*
 * http_conn: a connection's life: accept, the deadline of each phase, the
 * cap on open connections, close (see http.h for the settings). What it
 * reads and writes is http_io.c's.
 *
 * Why it looks like this:
 * - A record per connection from a per-thread free list, with its events
 *   embedded: accepting a connection allocates nothing in steady state, and
 *   its read event is added once for its whole life (edge-triggered), so a
 *   request costs no epoll_ctl.
 * - Deadlines: a request head must be complete HTTP_HEADER_TIMEOUT_S after
 *   the connection opened (first request) or after its first byte, the body
 *   HTTP_BODY_TIMEOUT_S after the head, and no read (or write) may wait
 *   longer than HTTP_IDLE_TIMEOUT_S; then the connection is closed. One timer
 *   per connection, re-armed lazily: a phase change only records its
 *   deadline, and the timer is added again only when that deadline is
 *   earlier than the pending expiry; an expiry that finds a later deadline
 *   re-arms for the rest. A keep-alive request therefore adds no timer.
 * - The cap is per thread (HTTP_MAX_CONNECTIONS split evenly): at the cap the
 *   oldest idle connection (no request in progress) is closed to make room;
 *   with none idle the thread stops accepting until one closes, so clients
 *   wait in the kernel's backlog instead of meeting errors.
 * - accept() failing for lack of descriptors (EMFILE, ENFILE...) would fire
 *   again at once on a level-triggered listener: accepting pauses for a
 *   second, and says so once per pause.
 */
#include "platform/http_internal.h"

#include "platform/clock.h"
#include "platform/log.h"

#include <assert.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define HTTP_CONN_LOG_EVERY_S 5.0 /* summary lines of closed connections, at most this often */
#define HTTP_LINGER_S 2.0         /* an answered, closing connection drains this long at most */
#define HTTP_ACCEPT_BATCH 64      /* accept() calls per readiness, so one loop turn stays short */

static double conn_idle_s(const http_thread *th)
{
    int s = th->srv->cfg.idle_timeout_s;
    return s > 0 ? s : 30;
}

static double conn_head_s(const http_thread *th)
{
    int s = th->srv->cfg.header_timeout_s;
    return s > 0 ? s : 10;
}

static double conn_body_s(const http_thread *th)
{
    int s = th->srv->cfg.body_timeout_s;
    return s > 0 ? s : 30;
}

static void conn_set_idle(http_conn *c, int idle)
{
    if (idle && !c->in_idle)
        TAILQ_INSERT_TAIL(&c->th->idle, c, idle_link);
    else if (!idle && c->in_idle)
        TAILQ_REMOVE(&c->th->idle, c, idle_link);
    c->in_idle = idle;
}

static void conn_arm(http_conn *c, double now)
{
    double in = c->deadline - now;
    if (in < 0.001)
        in = 0.001;
    struct timeval tv = {(time_t)in, (suseconds_t)((in - (double)(time_t)in) * 1e6)};
    if (event_add(&c->timer, &tv) != 0) {
        log_msg(LOG_ERROR, "http", NULL, "cannot arm a connection deadline");
        return;
    }
    c->timer_pending = 1;
    c->timer_at = now + in;
}

/* The deadline of the current phase: the phase's own limit and the idle limit, earliest. */
static void conn_deadline(http_conn *c, double now)
{
    http_thread *th = c->th;
    double idle = now + conn_idle_s(th);
    switch (c->state) {
    case CONN_IDLE:
        c->deadline = c->first ? c->phase_at + conn_head_s(th) : idle;
        if (c->first && idle < c->deadline)
            c->deadline = idle;
        break;
    case CONN_HEAD:
        c->deadline = c->phase_at + conn_head_s(th);
        if (idle < c->deadline)
            c->deadline = idle;
        break;
    case CONN_BODY:
        c->deadline = c->phase_at + conn_body_s(th);
        if (idle < c->deadline)
            c->deadline = idle;
        break;
    case CONN_BUSY:
        /* a handler holds the request: only an answer the client does not read is timed */
        c->deadline = c->out_len > c->out_off ? idle : 0;
        break;
    case CONN_LINGER:
        c->deadline = c->phase_at + HTTP_LINGER_S;
        break;
    }
    if (c->deadline > 0 && (!c->timer_pending || c->deadline < c->timer_at - 0.0005))
        conn_arm(c, now);
}

void http_conn_enter(http_conn *c, conn_state s)
{
    double now = clock_mono_s();
    /* the first head stays timed from accept */
    if (s != c->state && (s == CONN_HEAD || s == CONN_BODY || s == CONN_LINGER) &&
        !(s == CONN_HEAD && c->first))
        c->phase_at = now;
    if (s == CONN_BODY || s == CONN_BUSY || s == CONN_LINGER)
        c->first = 0;
    c->state = s;
    conn_set_idle(c, s == CONN_IDLE || s == CONN_LINGER);
    conn_deadline(c, now);
}

void http_conn_progress(http_conn *c)
{
    /* the idle part only ever moves later: no timer is added here */
    conn_deadline(c, clock_mono_s());
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

void http_conn_listen(http_thread *th)
{
    int want = th->listen_fd >= 0 && !th->cap_paused && !th->accept_paused &&
               !atomic_load(&th->srv->stopping);
    if (!th->accept_ev || want == th->accept_on)
        return;
    if ((want ? event_add(th->accept_ev, NULL) : event_del(th->accept_ev)) != 0) {
        log_msg(LOG_ERROR, "http", NULL, "cannot %s accepting", want ? "resume" : "pause");
        return;
    }
    th->accept_on = want;
}

void http_conn_close(http_conn *c)
{
    http_thread *th = c->th;
    call_box *b = c->call;
    if (b) {
        /* the call lives until its answer, which then only releases it */
        c->call = NULL;
        b->conn = NULL;
        if (!b->answered && c->state != CONN_BUSY) {
            http_call_release(b); /* its request never completed: no handler has it */
        } else {
            b->base = NULL;
            if (b->streaming)
                http_stream_conn_gone(b); /* nothing else would ever end it */
            else
                http_defer_conn_gone(b); /* a waiting call's owner learns its client left */
        }
    }
    /* also takes them off the active queue (event_active from http_io.c) */
    event_del(&c->rd);
    event_del(&c->wr);
    event_del(&c->timer);
    close(c->fd);
    conn_set_idle(c, 0);
    TAILQ_REMOVE(&th->conns, c, all_link);
    http_io_buf_free(c);
    free(c->out);
    c->out = NULL;
    assert(th->nconns > 0);
    th->nconns--;
    if (th->nfree_conns < HTTP_FREE_CONNS_MAX) {
        c->next_free = th->free_conns;
        th->free_conns = c;
        th->nfree_conns++;
    } else {
        free(c);
    }
    if (th->cap_paused && th->nconns < th->max_conns) {
        th->cap_paused = 0;
        http_conn_listen(th);
    }
}

static void conn_on_timer(evutil_socket_t fd, short what, void *arg)
{
    http_conn *c = arg;
    (void)fd;
    (void)what;
    c->timer_pending = 0;
    double now = clock_mono_s();
    if (c->deadline <= 0)
        return; /* nothing timed now; the next phase arms it again */
    if (c->deadline > now + 0.0005) {
        conn_arm(c, now); /* moved later meanwhile */
        return;
    }
    http_thread *th = c->th;
    if (c->state != CONN_IDLE && c->state != CONN_LINGER)
        th->conn_expired++;
    http_conn_close(c);
    conn_log_closed(th);
}

/* At the cap: the oldest idle connection makes room, else accepting pauses. */
static void conn_make_room(http_thread *th)
{
    int shed = 0;
    while (th->nconns >= th->max_conns && !TAILQ_EMPTY(&th->idle)) {
        th->conn_shed++;
        shed = 1;
        http_conn_close(TAILQ_FIRST(&th->idle));
    }
    if (shed)
        conn_log_closed(th);
    if (th->nconns >= th->max_conns && !th->cap_paused) {
        th->cap_paused = 1;
        http_conn_listen(th);
    }
}

static http_conn *conn_new(http_thread *th, int fd)
{
    http_conn *c = th->free_conns;
    if (c) {
        th->free_conns = c->next_free;
        th->nfree_conns--;
    } else if (!(c = malloc(sizeof *c))) {
        return NULL;
    }
    memset(c, 0, sizeof *c);
    c->th = th;
    c->fd = fd;
    c->first = 1;
    c->state = CONN_IDLE;
    c->body_need = -1;
    /* EV_CLOSED where the backend has it: http_io.c may then stop reading at a short read */
    short rd = EV_READ | EV_PERSIST | EV_ET | (th->early_close ? EV_CLOSED : 0);
    if (event_assign(&c->rd, th->base, fd, rd, http_io_on_read, c) != 0 ||
        event_assign(&c->wr, th->base, fd, EV_WRITE | EV_PERSIST, http_io_on_write, c) != 0 ||
        event_assign(&c->timer, th->base, -1, 0, conn_on_timer, c) != 0 ||
        event_add(&c->rd, NULL) != 0) {
        free(c);
        return NULL;
    }
    return c;
}

static void conn_on_accept_retry(evutil_socket_t fd, short what, void *arg)
{
    http_thread *th = arg;
    (void)fd;
    (void)what;
    th->accept_paused = 0;
    http_conn_listen(th);
}

/* accept() failed with something other than EAGAIN. */
static void conn_accept_error(http_thread *th, int e)
{
    if (e != EMFILE && e != ENFILE && e != ENOBUFS && e != ENOMEM)
        return; /* ECONNABORTED and the like: that one client's problem */
    if (th->accept_paused)
        return;
    log_msg(LOG_WARN, "http", NULL,
            "accept(): %s with %d connections open on thread %d: not accepting for 1 s "
            "(HTTP_MAX_CONNECTIONS is above what the descriptor limit allows)",
            strerror(e), th->nconns, th->index);
    th->accept_paused = 1;
    http_conn_listen(th);
    struct timeval tv = {1, 0};
    if (event_add(th->accept_retry, &tv) != 0)
        log_msg(LOG_ERROR, "http", NULL, "cannot schedule accepting again");
}

static void conn_on_accept(evutil_socket_t lfd, short what, void *arg)
{
    http_thread *th = arg;
    (void)what;
    for (int i = 0; i < HTTP_ACCEPT_BATCH && th->accept_on; i++) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                conn_accept_error(th, errno);
            return;
        }
        int one = 1;
        /* answers are written whole: Nagle would only hold back a pipelined one */
        (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        http_conn *c = conn_new(th, fd);
        if (!c) {
            log_msg(LOG_ERROR, "http", NULL, "out of memory for a connection");
            close(fd);
            continue;
        }
        TAILQ_INSERT_TAIL(&th->conns, c, all_link);
        th->nconns++;
        c->phase_at = clock_mono_s();
        http_conn_enter(c, CONN_IDLE);
        conn_make_room(th);
    }
}

int http_conn_thread_setup(http_thread *th, char *err, size_t errlen)
{
    const http_config *cfg = &th->srv->cfg;
    TAILQ_INIT(&th->conns);
    TAILQ_INIT(&th->idle);
    int share = (cfg->max_connections + th->srv->nthreads - 1) / th->srv->nthreads;
    th->max_conns = share > 0 ? share : 1;
    th->early_close = (event_base_get_features(th->base) & EV_FEATURE_EARLY_CLOSE) != 0;
    th->accept_retry = event_new(th->base, -1, 0, conn_on_accept_retry, th);
    th->accept_ev = event_new(th->base, th->listen_fd, EV_READ | EV_PERSIST, conn_on_accept, th);
    if (!th->accept_retry || !th->accept_ev) {
        snprintf(err, errlen, "cannot set up accepting");
        return -1;
    }
    http_conn_listen(th);
    if (!th->accept_on) {
        snprintf(err, errlen, "cannot start accepting");
        return -1;
    }
    return 0;
}

void http_conn_thread_free(http_thread *th)
{
    if (th->conns.tqh_last) /* set up */
        while (!TAILQ_EMPTY(&th->conns))
            http_conn_close(TAILQ_FIRST(&th->conns));
    if (th->accept_ev)
        event_free(th->accept_ev);
    th->accept_ev = NULL;
    th->accept_on = 0;
    if (th->accept_retry)
        event_free(th->accept_retry);
    th->accept_retry = NULL;
    while (th->free_conns) {
        http_conn *c = th->free_conns;
        th->free_conns = c->next_free;
        free(c);
    }
    th->nfree_conns = 0;
    while (th->free_bufs) {
        http_buf *b = th->free_bufs;
        th->free_bufs = b->next;
        free(b);
    }
    th->nfree_bufs = 0;
}
