/*
 * http_test_client: a raw-socket HTTP client for the HTTP layer's unit tests
 * (test_http.c, test_http_wire.c): connect, send, read until EOF, status and
 * body of an answer, and the echo handler both use. Header-only (static functions): every test file
 * is its own binary.
 */
#ifndef HTTP_TEST_CLIENT_H
#define HTTP_TEST_CLIENT_H

#include "platform/http.h"

#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

static inline int connect_to(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(fd, 0);
    struct timeval tv = {10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static inline void send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0)
            return; /* the server may close early on purpose */
        p += w;
        n -= (size_t)w;
    }
}

/* Reads until buf holds want (NULL: until EOF); returns the bytes read. */
static inline size_t read_until(int fd, char *buf, size_t cap, const char *want)
{
    size_t len = 0;
    buf[0] = '\0';
    while (len + 1 < cap && !(want && strstr(buf, want))) {
        ssize_t r = recv(fd, buf + len, cap - 1 - len, 0);
        if (r <= 0)
            break;
        len += (size_t)r;
        buf[len] = '\0';
    }
    return len;
}

/* Reads until EOF (requests say Connection: close). Returns bytes read. */
static inline size_t read_all(int fd, char *buf, size_t cap)
{
    return read_until(fd, buf, cap, NULL);
}

/* A handler: the JSON object body, echoed with sorted keys. */
static inline void test_h_echo(http_call *call)
{
    json_t *j = http_read_json_object(call);
    if (!j)
        return;
    char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    http_reply(call, 200, s, strlen(s));
    free(s);
    json_decref(j);
}

static inline int status_of(const char *resp)
{
    int st = 0;
    if (sscanf(resp, "HTTP/1.%*d %d", &st) != 1)
        return 0;
    return st;
}

static inline int request(int port, const char *raw, size_t rawlen, char *resp, size_t cap)
{
    int fd = connect_to(port);
    ck_assert_int_ge(fd, 0);
    send_all(fd, raw, rawlen);
    read_all(fd, resp, cap);
    close(fd);
    return status_of(resp);
}

static inline int simple(int port, const char *method, const char *path, const char *ctype,
                         const char *body, char *resp, size_t cap)
{
    char raw[4096];
    size_t blen = body ? strlen(body) : 0;
    int n = snprintf(raw, sizeof raw,
                     "%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n%s%s%sContent-Length: "
                     "%zu\r\n\r\n%s",
                     method, path, ctype ? "Content-Type: " : "", ctype ? ctype : "",
                     ctype ? "\r\n" : "", blen, body ? body : "");
    return request(port, raw, (size_t)n, resp, cap);
}

static inline const char *body_of(const char *resp)
{
    const char *p = strstr(resp, "\r\n\r\n");
    return p ? p + 4 : "";
}

#endif
