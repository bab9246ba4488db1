/*
 * Unit tests for http (http.c, http_call.c, http_server.c) against a real listening socket and raw
 * client sockets: routing (404/405 + Allow), request ids, JSON body checks (415/400/422/413),
 * the framing limits (huge body, huge header), deferred replies when the client left first (the
 * request must stay valid; replying releases it), pipelined requests, idle timeout, several server
 * threads, many connections at once, and stop_accepting.
 */
#include "platform/http.h"

#include "http_test_client.h"
#include "test_main.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_BODY 1024

typedef struct {
    struct event_base *base;
    http_server *srv;
    pthread_t tid;
    int port;
} server;

static atomic_int deferred_replied;
static atomic_int ctx_inits, ctx_frees;
static int thread_tags[8];

static void h_sync(http_call *call)
{
    int tag = call->thread_ctx ? *(int *)call->thread_ctx : -1;
    char body[64];
    int n = snprintf(body, sizeof body, "{\"ok\":true,\"thread\":%d}", tag);
    http_reply(call, 200, body, (size_t)n);
}

static void defer_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    http_call *call = arg;
    http_reply_error(call, 503, "late answer");
    atomic_fetch_add(&deferred_replied, 1);
}

static void h_defer(http_call *call)
{
    struct event_base *base = *(struct event_base **)call->app;
    struct timeval tv = {0, 300 * 1000};
    event_base_once(base, -1, EV_TIMEOUT, defer_cb, call, &tv);
}

static void h_query(http_call *call)
{
    const char *v = http_query(call, "q");
    jsonw w;
    jsonw_init(&w);
    jsonw_obj_begin(&w);
    jsonw_key(&w, "q");
    if (v)
        jsonw_str(&w, v);
    else
        jsonw_null(&w);
    jsonw_obj_end(&w);
    http_reply_jsonw(call, 200, &w);
    jsonw_free(&w);
}

/* {"tail": <http_path_tail>, "auth": <Authorization header>} */
static void h_item(http_call *call)
{
    const char *tail = http_path_tail(call);
    const char *auth = http_header(call, "authorization");
    jsonw w;
    jsonw_init(&w);
    jsonw_obj_begin(&w);
    jsonw_key(&w, "tail");
    if (tail)
        jsonw_str(&w, tail);
    else
        jsonw_null(&w);
    jsonw_key(&w, "auth");
    if (auth)
        jsonw_str(&w, auth);
    else
        jsonw_null(&w);
    jsonw_obj_end(&w);
    http_reply_jsonw(call, 200, &w);
    jsonw_free(&w);
}

static const http_route routes[] = {
    {"/sync", HTTP_M_GET, h_sync},   {"/items/{id}", HTTP_M_GET, h_item},
    {"/items", HTTP_M_GET, h_item},  {"/echo", HTTP_M_POST | HTTP_M_PUT, test_h_echo},
    {"/defer", HTTP_M_GET, h_defer}, {"/query", HTTP_M_GET, h_query},
};

static void *tinit(void *app, int index, char *err, size_t errlen)
{
    (void)app;
    (void)err;
    (void)errlen;
    atomic_fetch_add(&ctx_inits, 1);
    thread_tags[index] = index;
    return &thread_tags[index];
}

static void tfree(void *ctx)
{
    (void)ctx;
    atomic_fetch_add(&ctx_frees, 1);
}

static struct event_base *app_base; /* the handlers' app pointer points here */

static void *loop_main(void *arg)
{
    server *s = arg;
    event_base_loop(s->base, EVLOOP_NO_EXIT_ON_EMPTY);
    return NULL;
}

static void start_server(server *s, int threads, int idle_s)
{
    char err[256];
    evthread_use_pthreads();
    s->base = event_base_new();
    ck_assert_ptr_nonnull(s->base);
    app_base = s->base;
    http_config c = {.listen_addr = "127.0.0.1",
                     .max_body_bytes = MAX_BODY,
                     .max_header_bytes = 2048,
                     .idle_timeout_s = idle_s,
                     .header_timeout_s = 10,
                     .body_timeout_s = 10,
                     .threads = threads,
                     .thread_init = tinit,
                     .thread_free = tfree};
    s->srv = http_server_new(s->base, &c, routes, sizeof routes / sizeof routes[0], &app_base, err,
                             sizeof err);
    ck_assert_msg(s->srv != NULL, "%s", err);
    ck_assert_msg(http_server_start(s->srv, err, sizeof err) == 0, "%s", err);
    s->port = http_server_port(s->srv);
    ck_assert_int_gt(s->port, 0);
    ck_assert_int_eq(pthread_create(&s->tid, NULL, loop_main, s), 0);
}

static void stop_server(server *s)
{
    event_base_loopbreak(s->base);
    pthread_join(s->tid, NULL);
    http_server_free(s->srv);
    event_base_free(s->base);
}

START_TEST(test_routing_and_request_ids)
{
    server s;
    start_server(&s, 1, 30);
    char resp[8192];
    ck_assert_int_eq(simple(s.port, "GET", "/sync", NULL, NULL, resp, sizeof resp), 200);
    ck_assert_ptr_nonnull(strstr(resp, "Content-Type: application/json"));
    ck_assert_str_eq(body_of(resp), "{\"ok\":true,\"thread\":0}");
    const char *rid = strstr(resp, "X-Request-ID: ");
    ck_assert_ptr_nonnull(rid);
    ck_assert_int_eq((int)strcspn(rid + 14, "\r"), 32);
    ck_assert_int_eq((int)strspn(rid + 14, "0123456789abcdef"), 32); /* generated: hex */
    /* one Date header, RFC 1123, now */
    const char *date = strstr(resp, "\r\nDate: ");
    ck_assert_ptr_nonnull(date);
    ck_assert_ptr_null(strstr(date + 1, "\r\nDate: "));
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *end = strptime(date + 8, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    ck_assert_ptr_nonnull(end);
    ck_assert_int_eq(end[0], '\r');
    long skew = (long)(timegm(&tm) - time(NULL));
    ck_assert_msg(skew >= -5 && skew <= 5, "Date header %ld s away from now", skew);

    const char *with_id = "GET /sync HTTP/1.1\r\nHost: x\r\nX-Request-ID: abc-123.x\r\n"
                          "Connection: close\r\n\r\n";
    ck_assert_int_eq(request(s.port, with_id, strlen(with_id), resp, sizeof resp), 200);
    ck_assert_ptr_nonnull(strstr(resp, "X-Request-ID: abc-123.x\r\n"));
    const char *bad_id = "GET /sync HTTP/1.1\r\nHost: x\r\nX-Request-ID: a<b>\r\n"
                         "Connection: close\r\n\r\n";
    ck_assert_int_eq(request(s.port, bad_id, strlen(bad_id), resp, sizeof resp), 200);
    ck_assert_ptr_null(strstr(resp, "a<b>"));

    ck_assert_int_eq(simple(s.port, "GET", "/nope", NULL, NULL, resp, sizeof resp), 404);
    ck_assert_ptr_nonnull(strstr(body_of(resp), "\"detail\""));
    ck_assert_int_eq(simple(s.port, "POST", "/sync", "application/json", "{}", resp, sizeof resp),
                     405);
    ck_assert_ptr_nonnull(strstr(resp, "Allow: GET\r\n"));
    ck_assert_int_eq(simple(s.port, "DELETE", "/echo", NULL, NULL, resp, sizeof resp), 405);
    ck_assert_ptr_nonnull(strstr(resp, "Allow: POST, PUT\r\n"));
    ck_assert_int_eq(simple(s.port, "PATCH", "/echo", NULL, NULL, resp, sizeof resp), 405);

    ck_assert_int_eq(simple(s.port, "GET", "/query?q=a%20b&z=1", NULL, NULL, resp, sizeof resp),
                     200);
    ck_assert_str_eq(body_of(resp), "{\"q\":\"a b\"}");
    ck_assert_int_eq(simple(s.port, "GET", "/query", NULL, NULL, resp, sizeof resp), 200);
    ck_assert_str_eq(body_of(resp), "{\"q\":null}");
    /* an encoded NUL must not cut the value short (A%00B is not "A") */
    ck_assert_int_eq(simple(s.port, "GET", "/query?q=A%00B%00", NULL, NULL, resp, sizeof resp),
                     200);
    ck_assert_str_eq(body_of(resp), "{\"q\":\"A\\u0001B\\u0001\"}");
    ck_assert_int_eq(http_server_in_flight(s.srv), 0);
    stop_server(&s);
}
END_TEST

START_TEST(test_route_parameter_and_headers)
{
    server s;
    start_server(&s, 1, 30);
    char resp[8192];
    /* a "{id}" last segment matches any one non-empty segment */
    ck_assert_int_eq(simple(s.port, "GET", "/items/rp-1-ab", NULL, NULL, resp, sizeof resp), 200);
    ck_assert_str_eq(body_of(resp), "{\"tail\":\"rp-1-ab\",\"auth\":null}");
    ck_assert_int_eq(simple(s.port, "GET", "/items", NULL, NULL, resp, sizeof resp), 200);
    ck_assert_str_eq(body_of(resp), "{\"tail\":null,\"auth\":null}");
    ck_assert_int_eq(simple(s.port, "GET", "/items/", NULL, NULL, resp, sizeof resp), 404);
    ck_assert_int_eq(simple(s.port, "GET", "/items/a/b", NULL, NULL, resp, sizeof resp), 404);
    ck_assert_int_eq(simple(s.port, "GET", "/itemsx/a", NULL, NULL, resp, sizeof resp), 404);
    ck_assert_int_eq(
        simple(s.port, "POST", "/items/a", "application/json", "{}", resp, sizeof resp), 405);
    /* headers by name, any case */
    const char *req = "GET /items/x HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer t0k\r\n"
                      "Connection: close\r\n\r\n";
    ck_assert_int_eq(request(s.port, req, strlen(req), resp, sizeof resp), 200);
    ck_assert_str_eq(body_of(resp), "{\"tail\":\"x\",\"auth\":\"Bearer t0k\"}");
    stop_server(&s);
}
END_TEST

START_TEST(test_json_bodies)
{
    server s;
    start_server(&s, 1, 30);
    char resp[8192];
    const char *js = "application/json";
    ck_assert_int_eq(
        simple(s.port, "POST", "/echo", js, "{\"b\":1,\"a\":[true]}", resp, sizeof resp), 200);
    ck_assert_str_eq(body_of(resp), "{\"a\":[true],\"b\":1}");
    ck_assert_int_eq(
        simple(s.port, "PUT", "/echo", "application/json; charset=utf-8", "{}", resp, sizeof resp),
        200);
    ck_assert_int_eq(
        simple(s.port, "POST", "/echo", "application/problem+json", "{}", resp, sizeof resp), 200);
    ck_assert_int_eq(simple(s.port, "POST", "/echo", "text/plain", "{}", resp, sizeof resp), 415);
    ck_assert_int_eq(simple(s.port, "POST", "/echo", NULL, "{}", resp, sizeof resp), 415);
    ck_assert_int_eq(simple(s.port, "POST", "/echo", "application/jsonx", "{}", resp, sizeof resp),
                     415);
    ck_assert_int_eq(simple(s.port, "POST", "/echo", js, "{\"a\":", resp, sizeof resp), 400);
    ck_assert_ptr_nonnull(strstr(body_of(resp), "malformed JSON"));
    ck_assert_int_eq(simple(s.port, "POST", "/echo", js, "", resp, sizeof resp), 400);
    ck_assert_int_eq(simple(s.port, "POST", "/echo", js, "{\"a\":1,\"a\":2}", resp, sizeof resp),
                     400);
    ck_assert_int_eq(simple(s.port, "POST", "/echo", js, "{\"a\":\"\xff\xfe\"}", resp, sizeof resp),
                     400);
    ck_assert_int_eq(simple(s.port, "POST", "/echo", js, "{\"a\":\"\\u0000\"}", resp, sizeof resp),
                     400);
    ck_assert_int_eq(simple(s.port, "POST", "/echo", js, "[1]", resp, sizeof resp), 422);
    ck_assert_ptr_nonnull(strstr(body_of(resp), "\"errors\""));

    /* just over our limit: our JSON 413 */
    char *big = malloc(MAX_BODY + 64);
    memset(big, ' ', MAX_BODY + 10);
    big[0] = '{';
    big[MAX_BODY + 8] = '}';
    big[MAX_BODY + 9] = '\0';
    ck_assert_int_eq(simple(s.port, "POST", "/echo", js, big, resp, sizeof resp), 413);
    ck_assert_ptr_nonnull(strstr(body_of(resp), "\"detail\""));
    free(big);

    /* far over it: refused from the Content-Length, without reading the body */
    char hdr[256];
    int n = snprintf(hdr, sizeof hdr,
                     "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     "Connection: close\r\nContent-Length: %d\r\n\r\n{",
                     100 * MAX_BODY);
    ck_assert_int_eq(request(s.port, hdr, (size_t)n, resp, sizeof resp), 413);

    /* a header block over the limit: refused (4xx) or closed, never served */
    char *huge = malloc(8192);
    n = snprintf(huge, 8192, "GET /sync HTTP/1.1\r\nHost: x\r\nX-Big: ");
    memset(huge + n, 'a', 6000);
    memcpy(huge + n + 6000, "\r\nConnection: close\r\n\r\n", 24);
    int st = request(s.port, huge, strlen(huge), resp, sizeof resp);
    ck_assert_msg(st == 0 || (st >= 400 && st < 500), "huge header answered %d", st);
    free(huge);

    /* still serving */
    ck_assert_int_eq(simple(s.port, "GET", "/sync", NULL, NULL, resp, sizeof resp), 200);
    ck_assert_int_eq(http_server_in_flight(s.srv), 0);
    stop_server(&s);
}
END_TEST

START_TEST(test_conflicting_framing_is_refused)
{
    server s;
    start_server(&s, 1, 30);
    char resp[8192];
    /* two lengths: refused, and the rest is not taken as a second request */
    const char *two = "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      "Content-Length: 2\r\nContent-Length: 40\r\n\r\n{}"
                      "GET /sync HTTP/1.1\r\nHost: x\r\n\r\n";
    ck_assert_int_eq(request(s.port, two, strlen(two), resp, sizeof resp), 400);
    ck_assert_ptr_null(strstr(resp + 4, "HTTP/1.1 200"));
    const char *both =
        "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Content-Length: 7\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n";
    ck_assert_int_eq(request(s.port, both, strlen(both), resp, sizeof resp), 400);
    /* the same length twice is harmless */
    const char *same = "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                       "Content-Length: 2\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}";
    ck_assert_int_eq(request(s.port, same, strlen(same), resp, sizeof resp), 200);
    ck_assert_int_eq(http_server_in_flight(s.srv), 0);
    stop_server(&s);
}
END_TEST

START_TEST(test_unread_body_closes_the_connection)
{
    server s;
    start_server(&s, 1, 30);
    char resp[8192];
    /* libevent reads no body for GET/DELETE/TRACE...: the body must not be
     * taken as the next request; the server answers once, then closes */
    const char *methods[] = {"GET /sync", "DELETE /sync", "TRACE /echo"};
    const int want[] = {200, 405, 405};
    for (int i = 0; i < 3; i++) {
        const char *smuggled = "GET /sync HTTP/1.1\r\nHost: x\r\n\r\n";
        char req[512];
        snprintf(req, sizeof req,
                 "%s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 "Content-Length: %zu\r\n\r\n%s",
                 methods[i], strlen(smuggled), smuggled);
        int st = request(s.port, req, strlen(req), resp, sizeof resp);
        ck_assert_msg(st == want[i], "%s: got %d: %s", methods[i], st, resp);
        ck_assert_ptr_nonnull(strstr(resp, "Connection: close"));
        ck_assert_ptr_null(strstr(resp + 4, "HTTP/1.1 "));
    }
    ck_assert_int_eq(http_server_in_flight(s.srv), 0);
    stop_server(&s);
}
END_TEST

START_TEST(test_deferred_reply_after_client_left)
{
    server s;
    start_server(&s, 1, 30);
    atomic_store(&deferred_replied, 0);
    for (int i = 0; i < 5; i++) {
        int fd = connect_to(s.port);
        const char *req = "GET /defer HTTP/1.1\r\nHost: x\r\n\r\n";
        send_all(fd, req, strlen(req));
        /* wait until the handler holds the call, then leave */
        for (int k = 0; k < 200 && http_server_in_flight(s.srv) == 0; k++)
            usleep(5000);
        ck_assert_int_ge(http_server_in_flight(s.srv), 1);
        close(fd);
    }
    for (int k = 0; k < 400 && atomic_load(&deferred_replied) < 5; k++)
        usleep(10000);
    ck_assert_int_eq(atomic_load(&deferred_replied), 5);
    ck_assert_int_eq(http_server_in_flight(s.srv), 0);

    /* a client that waits gets the late answer */
    char resp[4096];
    ck_assert_int_eq(simple(s.port, "GET", "/defer", NULL, NULL, resp, sizeof resp), 503);
    ck_assert_ptr_nonnull(strstr(body_of(resp), "late answer"));
    stop_server(&s);
}
END_TEST

START_TEST(test_pipelined_requests)
{
    server s;
    start_server(&s, 1, 30);
    char resp[8192];
    const char *two = "GET /defer HTTP/1.1\r\nHost: x\r\n\r\n"
                      "GET /sync HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    int fd = connect_to(s.port);
    send_all(fd, two, strlen(two));
    read_all(fd, resp, sizeof resp);
    close(fd);
    ck_assert_int_eq(status_of(resp), 503);
    const char *second = strstr(resp + 4, "HTTP/1.1 ");
    ck_assert_ptr_nonnull(second);
    ck_assert_int_eq(status_of(second), 200);
    stop_server(&s);
}
END_TEST

START_TEST(test_idle_client_is_closed)
{
    server s;
    start_server(&s, 1, 1);
    int fd = connect_to(s.port);
    send_all(fd, "GET /sy", 7); /* a slow client that stops mid-request */
    char buf[256];
    ssize_t r = recv(fd, buf, sizeof buf, 0); /* SO_RCVTIMEO 10 s: must be closed before */
    ck_assert_int_le(r, 0);
    ck_assert(r == 0 || errno != EAGAIN);
    close(fd);
    char resp[4096];
    ck_assert_int_eq(simple(s.port, "GET", "/sync", NULL, NULL, resp, sizeof resp), 200);
    stop_server(&s);
}
END_TEST

typedef struct {
    int port;
    int ok;
} client_arg;

static void *client_main(void *arg)
{
    client_arg *c = arg;
    char resp[4096];
    for (int i = 0; i < 20; i++) {
        int fd = connect_to(c->port);
        if (fd < 0)
            continue;
        const char *req = "GET /sync HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
        send_all(fd, req, strlen(req));
        read_all(fd, resp, sizeof resp);
        close(fd);
        c->ok += status_of(resp) == 200;
    }
    return NULL;
}

START_TEST(test_threads_and_many_connections)
{
    atomic_store(&ctx_inits, 0);
    atomic_store(&ctx_frees, 0);
    server s;
    start_server(&s, 3, 30);
    ck_assert_int_eq(atomic_load(&ctx_inits), 3);
    /* many idle connections open at once do not block others */
    int idle[200];
    for (int i = 0; i < 200; i++)
        idle[i] = connect_to(s.port);
    pthread_t t[8];
    client_arg args[8];
    for (int i = 0; i < 8; i++) {
        args[i].port = s.port;
        args[i].ok = 0;
        ck_assert_int_eq(pthread_create(&t[i], NULL, client_main, &args[i]), 0);
    }
    int total = 0;
    for (int i = 0; i < 8; i++) {
        pthread_join(t[i], NULL);
        total += args[i].ok;
    }
    ck_assert_int_eq(total, 160);
    for (int i = 0; i < 200; i++)
        if (idle[i] >= 0)
            close(idle[i]);
    stop_server(&s);
    ck_assert_int_eq(atomic_load(&ctx_frees), 3);
}
END_TEST

static void stop_accepting_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    http_server_stop_accepting(arg);
}

START_TEST(test_stop_accepting)
{
    server s;
    start_server(&s, 2, 30);
    char resp[4096];
    ck_assert_int_eq(simple(s.port, "GET", "/sync", NULL, NULL, resp, sizeof resp), 200);
    struct timeval now = {0, 0};
    event_base_once(s.base, -1, EV_TIMEOUT, stop_accepting_cb, s.srv, &now);
    int refused = 0;
    for (int k = 0; k < 200 && !refused; k++) {
        int fd = connect_to(s.port);
        if (fd < 0)
            refused = 1;
        else {
            close(fd);
            usleep(10000);
        }
    }
    ck_assert(refused);
    stop_server(&s);
}
END_TEST

START_TEST(test_parse_uint)
{
    long long v = -1;
    ck_assert_int_eq(http_parse_uint(NULL, 10, 1, 1000, &v), 0);
    ck_assert_int_eq(v, 10);
    ck_assert_int_eq(http_parse_uint("1000", 10, 1, 1000, &v), 0);
    ck_assert_int_eq(v, 1000);
    ck_assert_int_eq(http_parse_uint("007", 10, 1, 1000, &v), 0);
    ck_assert_int_eq(v, 7);
    static const char *const bad[] = {"",    "0",   "1001", "-1",  "+1",
                                      "1.0", "1e3", " 1",   "abc", "99999999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(http_parse_uint(bad[i], 10, 1, 1000, &v) == -1, "accepted '%s'", bad[i]);
}
END_TEST

Suite *test_suite(int *rc)
{
    (void)rc;
    Suite *su = suite_create("http");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_routing_and_request_ids);
    tcase_add_test(tc, test_route_parameter_and_headers);
    tcase_add_test(tc, test_json_bodies);
    tcase_add_test(tc, test_conflicting_framing_is_refused);
    tcase_add_test(tc, test_unread_body_closes_the_connection);
    tcase_add_test(tc, test_deferred_reply_after_client_left);
    tcase_add_test(tc, test_pipelined_requests);
    tcase_add_test(tc, test_idle_client_is_closed);
    tcase_add_test(tc, test_threads_and_many_connections);
    tcase_add_test(tc, test_stop_accepting);
    tcase_add_test(tc, test_parse_uint);
    suite_add_tcase(su, tc);
    return su;
}
