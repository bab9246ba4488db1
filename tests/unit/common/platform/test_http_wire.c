/*
 * Unit tests for the HTTP layer's wire behaviour (http_io.c, http_conn.c,
 * http_stream.c) against a real listening socket: many pipelined requests in
 * one write answered in order, a request trickled one byte per write,
 * chunked request bodies (and pipelining after them), Expect: 100-continue,
 * HTTP/1.0 and 1.1 keep-alive rules, HEAD, malformed heads refused with a
 * JSON answer and closed, limits (431, 413 for a chunked body), streamed
 * answers (chunked for HTTP/1.1, raw then close for HTTP/1.0).
 */
#include "platform/http.h"

#include "http_test_client.h"
#include "test_main.h"

#include <check.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_BODY 1024

static struct event_base *base;
static http_server *srv;
static pthread_t loop_tid;
static int port;

static void h_sync(http_call *call)
{
    static const char ok[] = "{\"ok\":true}";
    http_reply(call, 200, ok, sizeof ok - 1);
}

static int pieces_left;
static int stream_next(void *arg, jsonw *out)
{
    int *left = arg;
    if (*left == 3)
        jsonw_bytes(out, "[", 1);
    jsonw_bytes(out, "1", 1);
    jsonw_bytes(out, *left > 1 ? "," : "]", 1);
    return --*left > 0;
}

static void stream_done(void *arg)
{
    (void)arg;
}

static void h_stream(http_call *call)
{
    pieces_left = 3;
    http_reply_stream(call, 200, stream_next, stream_done, &pieces_left);
}

static const http_route routes[] = {
    {"/sync", HTTP_M_GET, h_sync},
    {"/echo", HTTP_M_POST | HTTP_M_PUT, test_h_echo},
    {"/stream", HTTP_M_GET, h_stream},
};

static void *loop_main(void *arg)
{
    (void)arg;
    event_base_loop(base, EVLOOP_NO_EXIT_ON_EMPTY);
    return NULL;
}

static void setup(void)
{
    char err[256];
    evthread_use_pthreads();
    base = event_base_new();
    ck_assert_ptr_nonnull(base);
    http_config c = {.listen_addr = "127.0.0.1",
                     .max_body_bytes = MAX_BODY,
                     .max_header_bytes = 2048,
                     .idle_timeout_s = 30,
                     .header_timeout_s = 10,
                     .body_timeout_s = 10,
                     .threads = 1};
    srv =
        http_server_new(base, &c, routes, sizeof routes / sizeof routes[0], NULL, err, sizeof err);
    ck_assert_msg(srv != NULL, "%s", err);
    ck_assert_msg(http_server_start(srv, err, sizeof err) == 0, "%s", err);
    port = http_server_port(srv);
    ck_assert_int_eq(pthread_create(&loop_tid, NULL, loop_main, NULL), 0);
}

static void teardown(void)
{
    event_base_loopbreak(base);
    pthread_join(loop_tid, NULL);
    ck_assert_int_eq(http_server_in_flight(srv), 0);
    http_server_free(srv);
    event_base_free(base);
}

static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++)
        n++;
    return n;
}

START_TEST(test_many_pipelined_in_one_write)
{
    enum { N = 60 };
    static char req[N * 96], resp[N * 512];
    size_t n = 0;
    for (int i = 0; i < N; i++)
        n += (size_t)snprintf(req + n, sizeof req - n,
                              "GET /sync HTTP/1.1\r\nHost: x\r\nX-Request-ID: r%d\r\n%s\r\n", i,
                              i == N - 1 ? "Connection: close\r\n" : "");
    int fd = connect_to(port);
    send_all(fd, req, n);
    read_all(fd, resp, sizeof resp);
    close(fd);
    ck_assert_int_eq(count(resp, "HTTP/1.1 200 OK"), N);
    /* in order */
    const char *p = resp;
    for (int i = 0; i < N; i++) {
        char id[32];
        snprintf(id, sizeof id, "X-Request-ID: r%d\r\n", i);
        const char *at = strstr(p, id);
        ck_assert_msg(at != NULL, "answer %d missing or out of order", i);
        p = at;
    }
}
END_TEST

START_TEST(test_request_trickled_byte_by_byte)
{
    const char *req = "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      "Content-Length: 7\r\nConnection: close\r\n\r\n{\"a\":1}";
    int fd = connect_to(port);
    for (size_t i = 0; req[i]; i++) {
        send_all(fd, req + i, 1);
        usleep(1000);
    }
    char resp[4096];
    read_all(fd, resp, sizeof resp);
    close(fd);
    ck_assert_int_eq(status_of(resp), 200);
    ck_assert_str_eq(body_of(resp), "{\"a\":1}");
}
END_TEST

START_TEST(test_chunked_request_body)
{
    const char *req = "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      "Transfer-Encoding: chunked\r\n\r\n"
                      "3\r\n{\"b\r\n5;x=y\r\n\":[1]\r\n1\r\n}\r\n0\r\n\r\n"
                      "GET /sync HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    char resp[4096];
    ck_assert_int_eq(request(port, req, strlen(req), resp, sizeof resp), 200);
    ck_assert_ptr_nonnull(strstr(resp, "\r\n\r\n{\"b\":[1]}HTTP/1.1 200 OK"));
    ck_assert_int_eq(count(resp, "HTTP/1.1 200 OK"), 2);
    /* a chunked body over the limit: a JSON 413 */
    char big[2 * MAX_BODY + 256];
    int n = snprintf(big, sizeof big,
                     "PUT /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     "Transfer-Encoding: chunked\r\n\r\n%x\r\n",
                     MAX_BODY + 1);
    memset(big + n, ' ', MAX_BODY + 1);
    ck_assert_int_eq(request(port, big, (size_t)n + MAX_BODY + 1, resp, sizeof resp), 413);
    ck_assert_ptr_nonnull(strstr(body_of(resp), "\"detail\""));
}
END_TEST

START_TEST(test_expect_continue)
{
    const char *head = "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                       "Content-Length: 2\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n";
    int fd = connect_to(port);
    send_all(fd, head, strlen(head));
    char resp[4096];
    read_until(fd, resp, sizeof resp, "\r\n\r\n");
    ck_assert_str_eq(resp, "HTTP/1.1 100 Continue\r\n\r\n");
    send_all(fd, "{}", 2);
    read_all(fd, resp, sizeof resp);
    close(fd);
    ck_assert_int_eq(status_of(resp), 200);
    /* too large: refused at once, no 100 */
    const char *big = "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      "Content-Length: 999999\r\nExpect: 100-continue\r\n\r\n";
    ck_assert_int_eq(request(port, big, strlen(big), resp, sizeof resp), 413);
}
END_TEST

START_TEST(test_http10_and_keep_alive)
{
    char resp[4096];
    /* HTTP/1.0 without keep-alive: answered, then closed by the server */
    const char *r10 = "GET /sync HTTP/1.0\r\n\r\n";
    ck_assert_int_eq(request(port, r10, strlen(r10), resp, sizeof resp), 200);
    ck_assert_ptr_nonnull(strstr(resp, "Connection: close\r\n"));
    /* HTTP/1.0 with keep-alive: kept, a second request on the same connection */
    const char *ka = "GET /sync HTTP/1.0\r\nConnection: keep-alive\r\n\r\n";
    int fd = connect_to(port);
    for (int i = 0; i < 2; i++) {
        send_all(fd, ka, strlen(ka));
        read_until(fd, resp, sizeof resp, "}");
        ck_assert_int_eq(status_of(resp), 200);
        ck_assert_ptr_nonnull(strstr(resp, "Connection: keep-alive\r\n"));
    }
    close(fd);
    /* HTTP/1.1 keeps by default */
    fd = connect_to(port);
    for (int i = 0; i < 3; i++) {
        const char *r11 = "GET /sync HTTP/1.1\r\nHost: x\r\n\r\n";
        send_all(fd, r11, strlen(r11));
        read_until(fd, resp, sizeof resp, "}");
        ck_assert_int_eq(status_of(resp), 200);
        ck_assert_ptr_null(strstr(resp, "Connection:"));
    }
    close(fd);
}
END_TEST

START_TEST(test_head_method)
{
    char resp[4096];
    const char *req = "HEAD /sync HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    ck_assert_int_eq(request(port, req, strlen(req), resp, sizeof resp), 405);
    ck_assert_ptr_nonnull(strstr(resp, "Allow: GET\r\n"));
    ck_assert_str_eq(body_of(resp), ""); /* a head only, though Content-Length says more */
}
END_TEST

START_TEST(test_malformed_heads_are_refused)
{
    static const struct {
        const char *req;
        int status;
    } bad[] = {
        {"GARBAGE\r\n\r\nGET /sync HTTP/1.1\r\n\r\n", 400},
        {"GET /sync HTTP/2.0\r\n\r\n", 505},
        {"GET /sync HTTP/1.1\r\nBad Header\r\n\r\n", 400},
        {"GET /sync HTTP/1.1\r\nX: a\r\n folded\r\n\r\n", 400},
        {"POST /echo HTTP/1.1\r\nContent-Length: x\r\n\r\n", 400},
        {"POST /echo HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 400},
        {"POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400},
        {"GET /sync\x01 HTTP/1.1\r\n\r\n", 400},
    };
    char resp[4096];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int st = request(port, bad[i].req, strlen(bad[i].req), resp, sizeof resp);
        ck_assert_msg(st == bad[i].status, "case %zu: %d: %s", i, st, resp);
        ck_assert_ptr_nonnull(strstr(resp, "Content-Type: application/json"));
        ck_assert_ptr_nonnull(strstr(body_of(resp), "\"detail\""));
        ck_assert_ptr_nonnull(strstr(resp, "Connection: close"));
        ck_assert_msg(!strstr(resp, "HTTP/1.1 200"), "case %zu: %s", i,
                      resp); /* nothing after it is served */
    }
    /* a head over max_header_bytes: a JSON 431 */
    static char huge[4096];
    int n = snprintf(huge, sizeof huge, "GET /sync HTTP/1.1\r\nX-Big: ");
    memset(huge + n, 'a', 3000);
    memcpy(huge + n + 3000, "\r\n\r\n", 5);
    ck_assert_int_eq(request(port, huge, strlen(huge), resp, sizeof resp), 431);
    ck_assert_ptr_nonnull(strstr(body_of(resp), "\"detail\""));
    /* still serving */
    ck_assert_int_eq(simple(port, "GET", "/sync", NULL, NULL, resp, sizeof resp), 200);
}
END_TEST

START_TEST(test_streamed_answers)
{
    char resp[4096];
    const char *r11 = "GET /stream HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    ck_assert_int_eq(request(port, r11, strlen(r11), resp, sizeof resp), 200);
    ck_assert_ptr_nonnull(strstr(resp, "Transfer-Encoding: chunked\r\n"));
    ck_assert_ptr_null(strstr(resp, "Content-Length"));
    ck_assert_str_eq(body_of(resp), "3\r\n[1,\r\n2\r\n1,\r\n2\r\n1]\r\n0\r\n\r\n");
    const char *r10 = "GET /stream HTTP/1.0\r\n\r\n";
    ck_assert_int_eq(request(port, r10, strlen(r10), resp, sizeof resp), 200);
    ck_assert_ptr_null(strstr(resp, "Transfer-Encoding"));
    ck_assert_str_eq(body_of(resp), "[1,1,1]"); /* the end is the connection closing */
}
END_TEST

Suite *test_suite(int *rc)
{
    (void)rc;
    Suite *su = suite_create("http_wire");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_many_pipelined_in_one_write);
    tcase_add_test(tc, test_request_trickled_byte_by_byte);
    tcase_add_test(tc, test_chunked_request_body);
    tcase_add_test(tc, test_expect_continue);
    tcase_add_test(tc, test_http10_and_keep_alive);
    tcase_add_test(tc, test_head_method);
    tcase_add_test(tc, test_malformed_heads_are_refused);
    tcase_add_test(tc, test_streamed_answers);
    suite_add_tcase(su, tc);
    return su;
}
