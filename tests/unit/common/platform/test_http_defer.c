/*
 * Unit tests for http's deferred and streamed answers (http_defer.c, http_stream.c): a call
 * handed to another thread is answered once, on its own loop thread; a client that left before
 * the completion only releases the call; a streamed answer arrives whole and in order over
 * chunked encoding, and a client that leaves mid-stream ends it (done runs, nothing leaks: ASan).
 * A parked call that watches its client (http_call_watch_gone) learns at once that it left, and
 * not at all when it is answered first; the server's end tells it too.
 * Kept apart from test_http.c, which is near the size limit for one file.
 */
#include "platform/http.h"

#include "test_main.h"

#include <check.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define PIECES 4000 /* of ~1 KB each: far more than socket buffers hold */

static pthread_t loop_tid;
static atomic_int completed, on_loop, stream_done, gone_seen;

typedef struct {
    http_call *call;
    int delay_ms;
} work;

static void work_answer(http_call *call, void *arg)
{
    if (pthread_equal(pthread_self(), loop_tid))
        atomic_fetch_add(&on_loop, 1);
    atomic_fetch_add(&completed, 1);
    free(arg);
    static const char body[] = "{\"ok\":true}";
    http_reply(call, 200, body, sizeof body - 1);
}

static void *work_main(void *arg)
{
    work *w = arg;
    usleep((useconds_t)w->delay_ms * 1000);
    http_call_complete(w->call, work_answer, w);
    return NULL;
}

/* A worker thread completes the (deferred) call after delay_ms. */
static void spawn_work(http_call *call, int delay_ms)
{
    work *w = malloc(sizeof *w);
    ck_assert_ptr_nonnull(w);
    w->call = call;
    w->delay_ms = delay_ms;
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, work_main, w), 0);
    ck_assert_int_eq(pthread_detach(t), 0);
}

static void h_work(http_call *call)
{
    const char *d = http_query(call, "delay");
    http_call_defer(call);
    spawn_work(call, d ? atoi(d) : 0);
}

/* A long-poll: answered by a worker after delay ms, or (no delay) only when its client goes. */
static void park_gone(http_call *call, void *arg)
{
    (void)arg;
    if (pthread_equal(pthread_self(), loop_tid))
        atomic_fetch_add(&on_loop, 1);
    atomic_fetch_add(&gone_seen, 1);
    http_call_complete(call, work_answer, NULL);
}

static void h_park(http_call *call)
{
    const char *d = http_query(call, "delay");
    http_call_defer(call);
    ck_assert_int_eq(http_call_watch_gone(call, park_gone, NULL), 0);
    if (d)
        spawn_work(call, atoi(d));
}

typedef struct {
    int next;
} piece_state;

static int piece_next(void *arg, jsonw *out)
{
    piece_state *p = arg;
    if (p->next == 0)
        jsonw_bytes(out, "[", 1);
    jsonw_list_continues(out, p->next > 0);
    char id[1100];
    memset(id, 'x', sizeof id - 1);
    id[sizeof id - 1] = '\0';
    snprintf(id, 16, "%06d", p->next);
    id[6] = 'x';
    jsonw_str(out, id);
    if (++p->next < PIECES)
        return 1;
    jsonw_bytes(out, "]", 1);
    return 0;
}

static void piece_done(void *arg)
{
    free(arg);
    atomic_fetch_add(&stream_done, 1);
}

static void h_stream(http_call *call)
{
    piece_state *p = calloc(1, sizeof *p);
    ck_assert_ptr_nonnull(p);
    http_reply_stream(call, 200, piece_next, piece_done, p);
}

static const http_route routes[] = {
    {"/work", HTTP_M_GET, h_work},
    {"/stream", HTTP_M_GET, h_stream},
    {"/park", HTTP_M_GET, h_park},
};

typedef struct {
    struct event_base *base;
    http_server *srv;
    pthread_t tid;
    int port;
} server;

static void *loop_main(void *arg)
{
    server *s = arg;
    loop_tid = pthread_self();
    event_base_loop(s->base, EVLOOP_NO_EXIT_ON_EMPTY);
    return NULL;
}

static void start_server(server *s)
{
    char err[256];
    s->base = event_base_new();
    ck_assert_ptr_nonnull(s->base);
    http_config c = {.listen_addr = "127.0.0.1",
                     .max_body_bytes = 1024,
                     .max_header_bytes = 2048,
                     .idle_timeout_s = 10,
                     .header_timeout_s = 10,
                     .body_timeout_s = 10,
                     .threads = 1};
    s->srv = http_server_new(s->base, &c, routes, sizeof routes / sizeof routes[0], NULL, err,
                             sizeof err);
    ck_assert_msg(s->srv != NULL, "%s", err);
    ck_assert_msg(http_server_start(s->srv, err, sizeof err) == 0, "%s", err);
    s->port = http_server_port(s->srv);
    ck_assert_int_eq(pthread_create(&s->tid, NULL, loop_main, s), 0);
}

static int connect_to(int port);

static void stop_server(server *s)
{
    event_base_loopbreak(s->base);
    /* the base has no thread notification: a connection wakes the loop, which then sees the
     * break (else it would sleep until its next timer, seconds away) */
    close(connect_to(s->port));
    pthread_join(s->tid, NULL);
    http_server_free(s->srv);
    event_base_free(s->base);
}

static int connect_to(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(fd, 0);
    struct timeval tv = {10, 0};
    ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    return fd;
}

static void send_str(int fd, const char *s)
{
    size_t n = strlen(s);
    ck_assert_int_eq(send(fd, s, n, MSG_NOSIGNAL), (ssize_t)n);
}

/* Reads to the close (requests below ask for it). */
static char *read_to_close(int fd, size_t *len)
{
    size_t cap = 1 << 20, n = 0;
    char *buf = malloc(cap);
    ck_assert_ptr_nonnull(buf);
    for (;;) {
        if (n + 65536 + 1 > cap) {
            cap *= 2;
            buf = realloc(buf, cap);
            ck_assert_ptr_nonnull(buf);
        }
        ssize_t r = recv(fd, buf + n, 65536, 0);
        ck_assert_int_ge(r, 0);
        if (r == 0)
            break;
        n += (size_t)r;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

static void wait_count(atomic_int *c, int want)
{
    for (int k = 0; k < 500 && atomic_load(c) < want; k++)
        usleep(10000);
    ck_assert_int_eq(atomic_load(c), want);
}

/* Polls until the server holds exactly want calls (5 s at most), then checks it. */
static void wait_in_flight(http_server *srv, long want)
{
    for (int k = 0; k < 500 && http_server_in_flight(srv) != want; k++)
        usleep(10000);
    ck_assert_int_eq(http_server_in_flight(srv), want);
}

START_TEST(test_deferred_answer_on_its_loop)
{
    server s;
    start_server(&s);
    atomic_store(&completed, 0);
    atomic_store(&on_loop, 0);
    for (int i = 0; i < 5; i++) {
        int fd = connect_to(s.port);
        send_str(fd, "GET /work?delay=20 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        size_t n;
        char *r = read_to_close(fd, &n);
        ck_assert_msg(strncmp(r, "HTTP/1.1 200", 12) == 0, "%.80s", r);
        ck_assert_ptr_nonnull(strstr(r, "{\"ok\":true}"));
        free(r);
        close(fd);
    }
    ck_assert_int_eq(atomic_load(&completed), 5);
    ck_assert_int_eq(atomic_load(&on_loop), 5);
    ck_assert_int_eq(http_server_in_flight(s.srv), 0);
    stop_server(&s);
}
END_TEST

START_TEST(test_deferred_client_left_first)
{
    server s;
    start_server(&s);
    atomic_store(&completed, 0);
    for (int i = 0; i < 5; i++) {
        int fd = connect_to(s.port);
        send_str(fd, "GET /work?delay=100 HTTP/1.1\r\nHost: x\r\n\r\n");
        close(fd);
    }
    wait_count(&completed, 5);
    wait_in_flight(s.srv, 0);
    stop_server(&s);
}
END_TEST

START_TEST(test_stream_whole_and_in_order)
{
    server s;
    start_server(&s);
    atomic_store(&stream_done, 0);
    int fd = connect_to(s.port);
    /* HTTP/1.0: no chunked encoding, the answer ends with the connection */
    send_str(fd, "GET /stream HTTP/1.0\r\nHost: x\r\n\r\n");
    size_t n;
    char *r = read_to_close(fd, &n);
    close(fd);
    char *body = strstr(r, "\r\n\r\n");
    ck_assert_ptr_nonnull(body);
    body += 4;
    ck_assert_int_eq(body[0], '[');
    ck_assert_int_eq(r[n - 1], ']');
    int count = 0;
    for (char *p = body; (p = strchr(p, '"')) != NULL; p++) {
        char want[8];
        snprintf(want, sizeof want, "%06d", count);
        ck_assert_msg(strncmp(p + 1, want, 6) == 0, "piece %d out of order", count);
        count++;
        p = strchr(p + 1, '"');
        ck_assert_ptr_nonnull(p);
        if (p[1] == ',')
            p++;
    }
    ck_assert_int_eq(count, PIECES);
    free(r);
    wait_count(&stream_done, 1);
    stop_server(&s);
}
END_TEST

START_TEST(test_stream_client_left_midway)
{
    server s;
    start_server(&s);
    atomic_store(&stream_done, 0);
    for (int i = 0; i < 4; i++) {
        int fd = connect_to(s.port);
        int small = 4096;
        ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small), 0);
        send_str(fd, "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n");
        char buf[512];
        ck_assert_int_gt(recv(fd, buf, sizeof buf, 0), 0);
        close(fd);
    }
    wait_count(&stream_done, 4);
    wait_in_flight(s.srv, 0);
    stop_server(&s);
}
END_TEST

START_TEST(test_parked_client_left)
{
    server s;
    start_server(&s);
    atomic_store(&gone_seen, 0);
    atomic_store(&on_loop, 0);
    int fds[3];
    for (int i = 0; i < 3; i++) {
        fds[i] = connect_to(s.port);
        send_str(fds[i], "GET /park HTTP/1.1\r\nHost: x\r\n\r\n");
    }
    wait_in_flight(s.srv, 3);
    ck_assert_int_eq(atomic_load(&gone_seen), 0); /* nobody left yet */
    for (int i = 0; i < 3; i++)
        close(fds[i]);
    wait_count(&gone_seen, 3);
    wait_in_flight(s.srv, 0);
    ck_assert_int_eq(atomic_load(&on_loop), 6); /* the three callbacks and the three answers */
    stop_server(&s);
}
END_TEST

START_TEST(test_parked_answered_first)
{
    server s;
    start_server(&s);
    atomic_store(&gone_seen, 0);
    atomic_store(&completed, 0);
    int fd = connect_to(s.port);
    send_str(fd, "GET /park?delay=50 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    size_t n;
    char *r = read_to_close(fd, &n);
    ck_assert_msg(strncmp(r, "HTTP/1.1 200", 12) == 0, "%.80s", r);
    free(r);
    close(fd);
    wait_count(&completed, 1);
    usleep(50000);
    ck_assert_int_eq(atomic_load(&gone_seen), 0); /* the answer ended the watch */
    ck_assert_int_eq(http_server_in_flight(s.srv), 0);
    stop_server(&s);
}
END_TEST

START_TEST(test_parked_at_server_end)
{
    server s;
    start_server(&s);
    atomic_store(&gone_seen, 0);
    int fd = connect_to(s.port);
    send_str(fd, "GET /park HTTP/1.1\r\nHost: x\r\n\r\n");
    wait_in_flight(s.srv, 1);
    /* freeing the server drops the connection: the call learns it, and is released (ASan) */
    stop_server(&s);
    ck_assert_int_eq(atomic_load(&gone_seen), 1);
    close(fd);
}
END_TEST

Suite *test_suite(int *rc)
{
    (void)rc;
    Suite *su = suite_create("http_defer");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_deferred_answer_on_its_loop);
    tcase_add_test(tc, test_deferred_client_left_first);
    tcase_add_test(tc, test_stream_whole_and_in_order);
    tcase_add_test(tc, test_stream_client_left_midway);
    tcase_add_test(tc, test_parked_client_left);
    tcase_add_test(tc, test_parked_answered_first);
    tcase_add_test(tc, test_parked_at_server_end);
    suite_add_tcase(su, tc);
    return su;
}
