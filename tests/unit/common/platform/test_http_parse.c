/*
 * Unit tests for http_parse (the request parser, no sockets): the end of a
 * head found at every possible split of the bytes into two reads, pipelined
 * heads one after the other, request line and field parsing in place,
 * framing and connection rules (Content-Length, chunked, keep-alive for
 * HTTP/1.0 and 1.1, Expect), malformed heads refused with their status,
 * chunked bodies decoded at every split and bounded, query values.
 */
#include "platform/http_parse.h"

#include "test_main.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static http_head H; /* large: not on the stack */

/* Parses a copy of s (its head must be complete); returns the status (0: parsed). */
static int parse(const char *s, char *buf, size_t cap)
{
    size_t n = strlen(s);
    ck_assert_uint_lt(n, cap);
    memcpy(buf, s, n + 1);
    size_t scan = 0;
    size_t end = http_head_end(buf, n, &scan);
    ck_assert_msg(end > 0, "no head end in '%s'", s);
    return http_head_parse(buf, end, &H) == 0 ? 0 : H.status;
}

START_TEST(test_head_end_at_every_split)
{
    const char *reqs[] = {
        "GET /a HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /a HTTP/1.1\nHost: x\n\n",
        "POST /b HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc",
        "GET / HTTP/1.0\r\n\r\n",
    };
    for (size_t r = 0; r < sizeof reqs / sizeof reqs[0]; r++) {
        const char *s = reqs[r];
        size_t n = strlen(s);
        size_t whole_scan = 0;
        size_t want = http_head_end(s, n, &whole_scan);
        ck_assert_uint_gt(want, 0);
        for (size_t cut = 0; cut <= n; cut++) {
            size_t scan = 0;
            size_t got = http_head_end(s, cut, &scan);
            if (got == 0)
                got = http_head_end(s, n, &scan);
            ck_assert_msg(got == want, "req %zu cut %zu: %zu != %zu", r, cut, got, want);
        }
        /* byte by byte, as a slowloris client sends */
        size_t scan = 0, got = 0;
        for (size_t len = 1; len <= n && !got; len++)
            got = http_head_end(s, len, &scan);
        ck_assert_uint_eq(got, want);
    }
}
END_TEST

START_TEST(test_pipelined_heads)
{
    char buf[512];
    const char *two = "GET /one HTTP/1.1\r\nHost: x\r\n\r\nGET /two?q=1 HTTP/1.1\r\n\r\n";
    size_t n = strlen(two);
    memcpy(buf, two, n + 1);
    size_t scan = 0;
    size_t e1 = http_head_end(buf, n, &scan);
    ck_assert_uint_eq(e1, strlen("GET /one HTTP/1.1\r\nHost: x\r\n\r\n"));
    ck_assert_int_eq(http_head_parse(buf, e1, &H), 0);
    ck_assert_str_eq(buf + H.path_at, "/one");
    scan = 0;
    size_t e2 = http_head_end(buf + e1, n - e1, &scan);
    ck_assert_uint_eq(e1 + e2, n);
    ck_assert_int_eq(http_head_parse(buf + e1, e2, &H), 0);
    ck_assert_str_eq(buf + e1 + H.path_at, "/two");
    ck_assert_str_eq(buf + e1 + H.query_at, "q=1");
}
END_TEST

START_TEST(test_request_line_and_fields)
{
    char buf[1024];
    ck_assert_int_eq(parse("\r\nPOST /items/a-1?x=%41&y=2#frag HTTP/1.1\r\nHost: h\r\n"
                           "X-Request-ID:  abc \r\nAuthorization:\tBearer t\r\n"
                           "Content-Length: 5\r\n\r\n",
                           buf, sizeof buf),
                     0);
    ck_assert_int_eq(H.method, HTTP_METHOD_POST);
    ck_assert_str_eq(buf + H.method_at, "POST");
    ck_assert_str_eq(buf + H.path_at, "/items/a-1");
    ck_assert_uint_eq(H.path_len, 10);
    ck_assert_str_eq(buf + H.query_at, "x=%41&y=2");
    ck_assert_int_eq(H.minor, 1);
    ck_assert_uint_eq(H.nfields, 4);
    ck_assert_str_eq(http_head_field(&H, buf, "x-request-id"), "abc");
    ck_assert_str_eq(http_head_field(&H, buf, "AUTHORIZATION"), "Bearer t");
    ck_assert_ptr_null(http_head_field(&H, buf, "Cookie"));
    ck_assert_int_eq(H.content_length, 5);
    ck_assert_int_eq(H.chunked, 0);
    ck_assert_int_eq(H.keep_alive, 1);
    /* absolute form: the path after the authority */
    ck_assert_int_eq(parse("GET http://h:8000/health?a=1 HTTP/1.1\r\n\r\n", buf, sizeof buf), 0);
    ck_assert_str_eq(buf + H.path_at, "/health");
    ck_assert_int_eq(H.content_length, -1);
    /* unknown methods parse (and are answered 405 by routing) */
    ck_assert_int_eq(parse("BREW /pot HTTP/1.1\r\n\r\n", buf, sizeof buf), 0);
    ck_assert_int_eq(H.method, HTTP_METHOD_OTHER);
}
END_TEST

START_TEST(test_connection_rules)
{
    char buf[512];
    ck_assert_int_eq(parse("GET / HTTP/1.1\r\nConnection: close\r\n\r\n", buf, sizeof buf), 0);
    ck_assert_int_eq(H.keep_alive, 0);
    ck_assert_int_eq(parse("GET / HTTP/1.1\r\nConnection: Upgrade, Close\r\n\r\n", buf, sizeof buf),
                     0);
    ck_assert_int_eq(H.keep_alive, 0);
    ck_assert_int_eq(parse("GET / HTTP/1.0\r\n\r\n", buf, sizeof buf), 0);
    ck_assert_int_eq(H.keep_alive, 0);
    ck_assert_int_eq(H.minor, 0);
    ck_assert_int_eq(parse("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", buf, sizeof buf), 0);
    ck_assert_int_eq(H.keep_alive, 1);
    ck_assert_int_eq(parse("PUT / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
                           "Expect: 100-continue\r\n\r\n",
                           buf, sizeof buf),
                     0);
    ck_assert_int_eq(H.chunked, 1);
    ck_assert_int_eq(H.expect_continue, 1);
    /* the same length twice is one length */
    ck_assert_int_eq(
        parse("POST / HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n", buf, sizeof buf),
        0);
    ck_assert_int_eq(H.content_length, 2);
}
END_TEST

START_TEST(test_malformed_heads)
{
    static const struct {
        const char *req;
        int status;
    } bad[] = {
        {"GET / HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nContent-Length: 1 2\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nContent-Length: 9999999999999999999\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nX-A: a\r\n b\r\n\r\n", 400}, /* folding */
        {"GET / HTTP/1.1\r\nX-A : a\r\n\r\n", 400},      /* space before the colon */
        {"GET / HTTP/1.1\r\nno colon\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\n: empty name\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nX-A: a\x01b\r\n\r\n", 400},
        {"GET /a\x01 HTTP/1.1\r\n\r\n", 400},
        {"GET /a\rb HTTP/1.1\r\n\r\n", 400},
        {"GET HTTP/1.1\r\n\r\n", 400},
        {"GET /\r\n\r\n", 400},
        {"GET / HTTX/1.1\r\n\r\n", 400},
        {"GET / HTTP/2.0\r\n\r\n", 505},
        {"GET / HTTP/1.2\r\n\r\n", 505},
        {"GET * HTTP/1.1\r\n\r\n", 400},
        {"GET ftp:/x HTTP/1.1\r\n\r\n", 400},
        {"GET http://host HTTP/1.1\r\n\r\n", 400},
        {"G(T / HTTP/1.1\r\n\r\n", 400},
        {"GETGETGETGETGETGETGET / HTTP/1.1\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nExpect: 200-ok\r\n\r\n", 417},
    };
    char buf[512];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int st = parse(bad[i].req, buf, sizeof buf);
        ck_assert_msg(st == bad[i].status, "case %zu: %d, want %d", i, st, bad[i].status);
        ck_assert_ptr_nonnull(H.error);
    }
    /* more fields than the table holds: 431 */
    char *many = malloc(20000);
    size_t n = (size_t)snprintf(many, 20000, "GET / HTTP/1.1\r\n");
    for (int i = 0; i <= HTTP_PARSE_MAX_HEADERS; i++)
        n += (size_t)snprintf(many + n, 20000 - n, "X-%d: v\r\n", i);
    memcpy(many + n, "\r\n", 3);
    char *copy = malloc(20000);
    ck_assert_int_eq(parse(many, copy, 20000), 431);
    free(many);
    free(copy);
}
END_TEST

/* Decodes raw split at cut into two steps; returns the result, the body in buf. */
static int dechunk(const char *raw, size_t cut, size_t max, char *buf, http_chunked *st)
{
    size_t n = strlen(raw);
    memcpy(buf, raw, n);
    memset(st, 0, sizeof *st);
    int too_large = 0;
    const char *err = NULL;
    int r = http_chunked_step(st, buf, cut, max, &too_large, &err);
    if (r == 0)
        r = http_chunked_step(st, buf, n, max, &too_large, &err);
    if (r < 0)
        ck_assert_ptr_nonnull(err);
    return r < 0 && too_large ? -2 : r;
}

START_TEST(test_chunked_bodies)
{
    const char *raw = "4;name=v\r\n{\"a\"\r\nA\r\n:12345678}\r\n0\r\nX-T: 1\r\n\r\nGET /next";
    size_t body_raw = strlen(raw) - strlen("GET /next");
    char buf[256];
    for (size_t cut = 0; cut <= strlen(raw); cut++) {
        http_chunked st;
        ck_assert_int_eq(dechunk(raw, cut, 1024, buf, &st), 1);
        ck_assert_uint_eq(st.out, 14);
        ck_assert_int_eq(memcmp(buf, "{\"a\":12345678}", 14), 0);
        ck_assert_uint_eq(st.in, body_raw); /* the next request is left alone */
    }
    http_chunked st;
    ck_assert_int_eq(dechunk("0\r\n\r\n", 5, 1024, buf, &st), 1);
    ck_assert_uint_eq(st.out, 0);
    ck_assert_int_eq(dechunk("5\r\nabc", 6, 1024, buf, &st), 0); /* more to come */
    /* over the limit, in one chunk or in several */
    ck_assert_int_eq(dechunk("401\r\n", 5, 1024, buf, &st), -2);
    ck_assert_int_eq(dechunk("ffffffffffffffffffff\r\n", 22, 1024, buf, &st), -2);
    ck_assert_int_eq(dechunk("200\r\n", 5, 1024, buf, &st), 0);
    static const char *const bad[] = {"x\r\n", "\r\n", "2\r\nabc\r\n", "2x\r\nab\r\n0\r\n\r\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(dechunk(bad[i], strlen(bad[i]), 1024, buf, &st) == -1, "accepted %s", bad[i]);
}
END_TEST

START_TEST(test_query_values)
{
    const char *q = "a=1&B=x%20y+z&c=%00%zz%&empty=&a=2&novalue&d=%41";
    size_t n = strlen(q);
    char out[64];
    ck_assert_int_eq(http_query_find(q, n, "a", out, sizeof out), 1);
    ck_assert_str_eq(out, "1"); /* the first occurrence */
    ck_assert_int_eq(http_query_find(q, n, "b", out, sizeof out), 5);
    ck_assert_str_eq(out, "x y z");
    ck_assert_int_gt(http_query_find(q, n, "c", out, sizeof out), 0);
    ck_assert_str_eq(out, "\x01%zz%"); /* %00 keeps a byte; bad escapes stay */
    ck_assert_int_eq(http_query_find(q, n, "empty", out, sizeof out), 0);
    ck_assert_str_eq(out, "");
    ck_assert_int_eq(http_query_find(q, n, "novalue", out, sizeof out), -1);
    ck_assert_int_eq(http_query_find(q, n, "zzz", out, sizeof out), -1);
    ck_assert_int_eq(http_query_find(q, n, "d", out, sizeof out), 1);
    ck_assert_str_eq(out, "A");
    ck_assert_int_eq(http_query_find(q, n, "b", out, 3), -2);
}
END_TEST

Suite *test_suite(int *rc)
{
    (void)rc;
    Suite *su = suite_create("http_parse");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_head_end_at_every_split);
    tcase_add_test(tc, test_pipelined_heads);
    tcase_add_test(tc, test_request_line_and_fields);
    tcase_add_test(tc, test_connection_rules);
    tcase_add_test(tc, test_malformed_heads);
    tcase_add_test(tc, test_chunked_bodies);
    tcase_add_test(tc, test_query_values);
    suite_add_tcase(su, tc);
    return su;
}
