/*
 * http_server: the listening socket, the per-thread loops and the server's
 * lifecycle (see http.h). Each extra thread has its own event_base accepting
 * on a dup() of the listening socket (so stopping one thread's accepting
 * closes only its copy); control (stop accepting, quit) reaches a thread
 * through an event activated from outside, the only cross-thread libevent
 * call, which evthread_use_pthreads() makes safe.
 */
#include "platform/http.h"

#include "platform/http_internal.h"
#include "platform/log.h"
#include "platform/metrics.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/thread.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

struct event_base *http_base_new(void)
{
    struct event_config *cfg = event_config_new();
    if (!cfg)
        return NULL;
    /* the changelist folds an add and a delete of one descriptor within a loop
     * turn into nothing; libevent retries a changed MOD/DEL as ADD when a
     * descriptor number was closed and reused within one iteration;
     * descriptors that share one open file (dup) are never in one base here:
     * each loop has its own copy of the listening socket */
    struct event_base *b = event_config_set_flag(cfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST) == 0
                               ? event_base_new_with_config(cfg)
                               : NULL;
    event_config_free(cfg);
    return b ? b : event_base_new();
}

/* Closes th's copy of the listening socket (on th's loop thread). */
static void thread_stop_accepting(http_thread *th)
{
    http_conn_listen(th); /* sees stopping: the accept event goes */
    if (th->listen_fd >= 0) {
        close(th->listen_fd);
        th->listen_fd = -1;
    }
}

static void thread_ctl_cb(evutil_socket_t fd, short what, void *arg)
{
    http_thread *th = arg;
    (void)fd;
    (void)what;
    if (atomic_load(&th->srv->stopping))
        thread_stop_accepting(th);
    if (atomic_load(&th->srv->quitting))
        event_base_loopbreak(th->base);
}

static int thread_setup(http_thread *th, int fd, char *err, size_t errlen)
{
    const http_config *c = &th->srv->cfg;
    http_seed(th);
    th->listen_fd = fd;
    if (http_conn_thread_setup(th, err, errlen) != 0)
        return -1;
    th->ctl = event_new(th->base, -1, 0, thread_ctl_cb, th);
    if (!th->ctl) {
        snprintf(err, errlen, "event_new failed");
        return -1;
    }
    if (http_defer_thread_setup(th, err, errlen) != 0)
        return -1;
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

/*
 * Every connection costs a descriptor, and the service needs some more
 * (Kafka, the store, the registry). When the cap needs more than the soft
 * limit it is raised to the hard one; a cap above even that is lowered to
 * what fits, with a warning, so accept() never runs out first.
 */
static int fit_fd_limit(int max_connections)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
        log_msg(LOG_WARN, "http", NULL, "getrlimit(RLIMIT_NOFILE): %s", strerror(errno));
        return max_connections;
    }
    rlim_t want = (rlim_t)max_connections + HTTP_FD_RESERVE;
    if (rl.rlim_cur < want && rl.rlim_cur < rl.rlim_max) {
        rlim_t old = rl.rlim_cur;
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
            log_msg(LOG_WARN, "http", NULL, "setrlimit(RLIMIT_NOFILE, %llu): %s",
                    (unsigned long long)rl.rlim_max, strerror(errno));
            rl.rlim_cur = old;
        }
    }
    if (rl.rlim_cur >= want)
        return max_connections;
    long fit = (long)rl.rlim_cur - HTTP_FD_RESERVE;
    if (fit < HTTP_MIN_CONNECTIONS)
        fit = HTTP_MIN_CONNECTIONS;
    log_msg(LOG_WARN, "http", NULL,
            "HTTP_MAX_CONNECTIONS=%d needs %llu descriptors, RLIMIT_NOFILE allows %llu: capped at "
            "%ld connections",
            max_connections, (unsigned long long)want, (unsigned long long)rl.rlim_cur, fit);
    return (int)fit;
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
    if (s->cfg.max_connections <= 0)
        s->cfg.max_connections = HTTP_DEFAULT_MAX_CONNECTIONS;
    s->cfg.max_connections = fit_fd_limit(s->cfg.max_connections);
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
        s->threads[i].listen_fd = -1;
    }
    s->fd =
        listen_socket(cfg->listen_addr ? cfg->listen_addr : "127.0.0.1", cfg->port, err, errlen);
    if (s->fd < 0) {
        http_server_free(s);
        return NULL;
    }
    http_thread *t0 = &s->threads[0];
    t0->base = base;
    /* thread 0 gets a dup too: each thread closes its own copy when it stops accepting */
    int fd0 = dup(s->fd);
    if (fd0 < 0)
        snprintf(err, errlen, "dup: %s", strerror(errno));
    if (fd0 < 0 || thread_setup(t0, fd0, err, errlen) != 0) {
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
        th->base = http_base_new();
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
        if (thread_setup(th, fd, err, errlen) != 0)
            return -1; /* th owns fd now: closed when the server is freed */
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
    thread_stop_accepting(&s->threads[0]);
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
        atomic_store(&s->stopping, 1); /* closing connections must not resume accepting */
        http_conn_thread_free(th);     /* closes the connections; their calls learn it */
        if (th->listen_fd >= 0)
            close(th->listen_fd);
        th->listen_fd = -1;
        http_defer_thread_free(th); /* after the connections: queued answers only release */
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
