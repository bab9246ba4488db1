/*
 * test_schema_registry: the registry client against the REAL registry named
 * by SCHEMA_REGISTRY_URL (skipped, exit 77, when it is not set), plus the
 * failure modes a healthy registry never shows on demand (5xx, 409, an
 * endless body, a peer that never answers), injected by a raw TCP endpoint in
 * this process. That endpoint only produces HTTP faults; every behaviour of
 * the registry itself is checked against the real one.
 */
#include "event/avro_codec.h"
#include "event/order_schema.h"
#include "event/schema_registry.h"

#include <arpa/inet.h>
#include "test_main.h"

#include <check.h>
#include <jansson.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define SUBJECT "orderstream-codec-unittest-value"

static const char *registry_url;

START_TEST(test_register_idempotent_and_fetch)
{
    char err[512] = "";
    sr_client *c = sr_client_new(registry_url, 5000, err, sizeof err);
    uint32_t id1 = 0, id2 = 0;
    char *text = NULL;
    ck_assert_msg(c != NULL, "%s", err);

    ck_assert_msg(sr_ping(c, err, sizeof err) == SR_OK, "%s", err);
    ck_assert_msg(sr_register(c, SUBJECT, order_schema_json, &id1, err, sizeof err) == SR_OK, "%s",
                  err);
    ck_assert_msg(sr_register(c, SUBJECT, order_schema_json, &id2, err, sizeof err) == SR_OK, "%s",
                  err);
    ck_assert_uint_eq(id1, id2);

    ck_assert_msg(sr_fetch_schema(c, id1, &text, err, sizeof err) == SR_OK, "%s", err);
    ck_assert_ptr_nonnull(text);
    /* the registry may reformat the text, but it is the same schema */
    json_t *a = json_loads(text, 0, NULL), *b = json_loads(order_schema_json, 0, NULL);
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);
    ck_assert(json_equal(a, b));
    json_decref(a);
    json_decref(b);

    /* and what it serves is usable as a writer schema by the codec */
    codec *cd = codec_new(order_schema_json, err, sizeof err);
    ck_assert_ptr_nonnull(cd);
    ck_assert_int_eq(codec_add_writer_schema(cd, id1, text, err, sizeof err), CODEC_OK);
    codec_free(cd);
    free(text);
    sr_client_free(c);
}
END_TEST

START_TEST(test_unknown_id_and_rejected)
{
    char err[512] = "";
    sr_client *c = sr_client_new(registry_url, 5000, err, sizeof err);
    char *text = (char *)"untouched";
    uint32_t id = 0;
    ck_assert_ptr_nonnull(c);

    ck_assert_int_eq(sr_fetch_schema(c, 2000000000u, &text, err, sizeof err), SR_NOT_FOUND);
    ck_assert_ptr_null(text);
    ck_assert_msg(strstr(err, "404") != NULL && strstr(err, "4040") != NULL, "%s", err);
    /* a schema that is not Avro at all: a 4xx other than 404 */
    ck_assert_int_eq(sr_register(c, SUBJECT "-bad", "{not json", &id, err, sizeof err),
                     SR_REJECTED);
    ck_assert_msg(strstr(err, "HTTP 4") != NULL, "%s", err);
    /* the same client still works after errors (connection reuse) */
    ck_assert_int_eq(sr_ping(c, err, sizeof err), SR_OK);
    sr_client_free(c);
}
END_TEST

/* The real registry under a wrong path (no /apis/ccompat/v7): never "unknown". */
START_TEST(test_wrong_path_is_not_unknown)
{
    char err[512] = "", base[512];
    const char *api = strstr(registry_url, "/apis/");
    ck_assert_msg(api != NULL, "SCHEMA_REGISTRY_URL has no /apis/ path: %s", registry_url);
    snprintf(base, sizeof base, "%.*s", (int)(api - registry_url), registry_url);
    sr_client *c = sr_client_new(base, 5000, err, sizeof err);
    char *text = NULL;
    uint32_t id = 0;
    ck_assert_ptr_nonnull(c);

    ck_assert_int_eq(sr_fetch_schema(c, 2000000000u, &text, err, sizeof err), SR_NOT_REGISTRY);
    ck_assert_ptr_null(text);
    ck_assert_msg(strstr(err, "SCHEMA_REGISTRY_URL") != NULL && strstr(err, base) != NULL, "%s",
                  err);
    ck_assert_int_eq(sr_ping(c, err, sizeof err), SR_NOT_REGISTRY);
    ck_assert_msg(strstr(err, base) != NULL, "%s", err);
    sr_status st = sr_register(c, SUBJECT, order_schema_json, &id, err, sizeof err);
    ck_assert_msg(st == SR_NOT_REGISTRY || st == SR_REJECTED, "%s: %s", sr_status_name(st), err);
    sr_client_free(c);
    /* a wrong path below the API root: the same */
    snprintf(base, sizeof base, "%s/nope", registry_url);
    c = sr_client_new(base, 5000, err, sizeof err);
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(sr_fetch_schema(c, 2000000000u, &text, err, sizeof err), SR_NOT_REGISTRY);
    sr_client_free(c);
}
END_TEST

START_TEST(test_subject_is_escaped)
{
    char err[512] = "";
    sr_client *c = sr_client_new(registry_url, 5000, err, sizeof err);
    uint32_t id = 0, plain = 0;
    ck_assert_ptr_nonnull(c);
    /* '/' and '?' would change the path if sent raw */
    ck_assert_msg(sr_register(c, "orderstream codec/unit?test-value", order_schema_json, &id, err,
                              sizeof err) == SR_OK,
                  "%s", err);
    ck_assert_int_eq(sr_register(c, SUBJECT, order_schema_json, &plain, err, sizeof err), SR_OK);
    ck_assert_uint_eq(id, plain); /* same content, same id */
    sr_client_free(c);
}
END_TEST

START_TEST(test_unreachable)
{
    char err[512] = "";
    sr_client *c = sr_client_new("http://127.0.0.1:1/apis/ccompat/v7", 2000, err, sizeof err);
    uint32_t id;
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(sr_ping(c, err, sizeof err), SR_UNAVAILABLE);
    ck_assert_int_eq(sr_register(c, SUBJECT, order_schema_json, &id, err, sizeof err),
                     SR_UNAVAILABLE);
    sr_client_free(c);
    ck_assert_ptr_null(sr_client_new("not a url at all", 1000, err, sizeof err));
    ck_assert_ptr_null(sr_client_new(registry_url, 0, err, sizeof err));
}
END_TEST

/* ---- injected HTTP faults ------------------------------------------------ */

typedef struct {
    int fd;
    int port;
    const char *response; /* NULL: accept and never answer */
    size_t junk;          /* extra body bytes to stream after response */
    char request[4096];   /* the last request head received */
} fault_server;

static void *fault_serve(void *arg)
{
    fault_server *s = arg;
    int conn = accept(s->fd, NULL, NULL);
    if (conn < 0)
        return NULL;
    size_t n = 0;
    while (n < sizeof s->request - 1) {
        ssize_t r = read(conn, s->request + n, sizeof s->request - 1 - n);
        if (r <= 0)
            break;
        n += (size_t)r;
        s->request[n] = '\0';
        if (strstr(s->request, "\r\n\r\n") != NULL)
            break;
    }
    if (s->response == NULL) {
        sleep(2); /* longer than the client's timeout */
    } else {
        static char junk[65536];
        memset(junk, ' ', sizeof junk);
        /* send(MSG_NOSIGNAL): the client hangs up mid-body on purpose (a body
         * too large), and a plain write() would then kill this test with SIGPIPE */
        if (send(conn, s->response, strlen(s->response), MSG_NOSIGNAL) < 0)
            perror("send");
        for (size_t sent = 0; sent < s->junk; sent += sizeof junk)
            if (send(conn, junk, sizeof junk, MSG_NOSIGNAL) < 0)
                break;
    }
    close(conn);
    return NULL;
}

static void fault_start(fault_server *s, pthread_t *th)
{
    struct sockaddr_in a;
    socklen_t al = sizeof a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    s->fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(s->fd, 0);
    ck_assert_int_eq(bind(s->fd, (struct sockaddr *)&a, sizeof a), 0);
    ck_assert_int_eq(listen(s->fd, 4), 0);
    ck_assert_int_eq(getsockname(s->fd, (struct sockaddr *)&a, &al), 0);
    s->port = ntohs(a.sin_port);
    ck_assert_int_eq(pthread_create(th, NULL, fault_serve, s), 0);
}

/* One call against the fault endpoint: fetch_id 0 pings, else fetches that schema id. */
static sr_status fault_call(const char *response, size_t junk, const char *userinfo,
                            uint32_t fetch_id, char *err, size_t errlen, fault_server *s)
{
    pthread_t th;
    char url[128];
    sr_client *c;
    sr_status st;

    memset(s, 0, sizeof *s);
    s->response = response;
    s->junk = junk;
    fault_start(s, &th);
    snprintf(url, sizeof url, "http://%s127.0.0.1:%d/api/", userinfo, s->port);
    c = sr_client_new(url, 500, err, errlen);
    ck_assert_ptr_nonnull(c);
    if (fetch_id == 0) {
        st = sr_ping(c, err, errlen);
    } else {
        char *text = NULL;
        st = sr_fetch_schema(c, fetch_id, &text, err, errlen);
        ck_assert(st == SR_OK || text == NULL);
        free(text);
    }
    sr_client_free(c);
    pthread_join(th, NULL);
    close(s->fd);
    return st;
}

static sr_status fault_ping(const char *response, size_t junk, const char *userinfo, char *err,
                            size_t errlen, fault_server *s)
{
    return fault_call(response, junk, userinfo, 0, err, errlen, s);
}

START_TEST(test_fault_statuses)
{
    static fault_server s;
    char err[512];

    ck_assert_int_eq(fault_ping("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n"
                                "Connection: close\r\n\r\n",
                                0, "", err, sizeof err, &s),
                     SR_UNAVAILABLE);
    ck_assert_int_eq(fault_ping("HTTP/1.1 409 Conflict\r\nConnection: "
                                "close\r\n\r\n{\"error_code\":409,\"message\":\"incompatible\"}",
                                0, "", err, sizeof err, &s),
                     SR_REJECTED);
    ck_assert_msg(strstr(err, "incompatible") != NULL, "%s", err);
    /* the client asked for exactly the path under the base, once '/'-trimmed */
    ck_assert_msg(strncmp(s.request, "GET /api/subjects HTTP/1.1", 26) == 0, "%s", s.request);
    ck_assert_int_eq(fault_ping("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n[", 2u << 20, "", err,
                                sizeof err, &s),
                     SR_UNAVAILABLE);
    ck_assert_msg(strstr(err, "larger than") != NULL, "%s", err);
    ck_assert_int_eq(fault_ping(NULL, 0, "", err, sizeof err, &s), SR_UNAVAILABLE);
}
END_TEST

/* A 404 means "unknown" only with the registry's own code (40403); any other is infrastructure. */
START_TEST(test_fault_404_mapping)
{
    static fault_server s;
    char err[512];

    ck_assert_int_eq(fault_call("HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n"
                                "{\"error_code\":40403,\"message\":\"Schema not found\"}",
                                0, "", 7, err, sizeof err, &s),
                     SR_NOT_FOUND);
    ck_assert_msg(strncmp(s.request, "GET /api/schemas/ids/7 HTTP/1.1", 31) == 0, "%s", s.request);
    /* a proxy's page during a roll-out */
    ck_assert_int_eq(fault_call("HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n"
                                "<html>no route</html>",
                                0, "", 7, err, sizeof err, &s),
                     SR_NOT_REGISTRY);
    ck_assert_msg(strstr(err, "SCHEMA_REGISTRY_URL") != NULL, "%s", err);
    /* JSON with another code (a subject's 40401 is not "schema not found") */
    ck_assert_int_eq(fault_call("HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n"
                                "{\"error_code\":40401,\"message\":\"Subject not found\"}",
                                0, "", 7, err, sizeof err, &s),
                     SR_NOT_REGISTRY);
    ck_assert_int_eq(fault_call("HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n"
                                "{\"error_code\":404,\"message\":\"HTTP 404 Not Found\"}",
                                0, "", 7, err, sizeof err, &s),
                     SR_NOT_REGISTRY);
    /* a ping that gets a 200 which is not a list of subjects: not the API root */
    ck_assert_int_eq(fault_ping("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n<html>UI</html>", 0,
                                "", err, sizeof err, &s),
                     SR_NOT_REGISTRY);
    ck_assert_int_eq(fault_ping("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n[\"a-value\"]", 0, "",
                                err, sizeof err, &s),
                     SR_OK);
}
END_TEST

/* A schema id of another type is final, and the message names the type. */
START_TEST(test_fault_schema_of_another_type)
{
    static fault_server s;
    char err[512];

    ck_assert_int_eq(
        fault_call("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n"
                   "{\"schema\":\"{\\\"type\\\":\\\"object\\\"}\",\"schemaType\":\"JSON\"}",
                   0, "", 9, err, sizeof err, &s),
        SR_WRONG_TYPE);
    ck_assert_msg(strstr(err, "JSON") != NULL && strstr(err, "Avro") != NULL, "%s", err);
    ck_assert_int_eq(
        fault_call("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n"
                   "{\"schema\":\"syntax = \\\"proto3\\\";\",\"schemaType\":\"PROTOBUF\"}",
                   0, "", 9, err, sizeof err, &s),
        SR_WRONG_TYPE);
    ck_assert_msg(strstr(err, "PROTOBUF") != NULL, "%s", err);
    ck_assert_int_eq(fault_call("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n"
                                "{\"schema\":\"\\\"string\\\"\",\"schemaType\":\"AVRO\"}",
                                0, "", 9, err, sizeof err, &s),
                     SR_OK);
}
END_TEST

START_TEST(test_basic_auth_not_leaked)
{
    static fault_server s;
    char err[512];

    ck_assert_int_eq(fault_ping("HTTP/1.1 500 Oops\r\nContent-Length: 0\r\nConnection: "
                                "close\r\n\r\n",
                                0, "alice:s3cr%40t@", err, sizeof err, &s),
                     SR_UNAVAILABLE);
    /* base64("alice:s3cr@t") */
    ck_assert_msg(strstr(s.request, "Authorization: Basic YWxpY2U6czNjckB0") != NULL, "%s",
                  s.request);
    ck_assert_msg(strstr(err, "s3cr") == NULL && strstr(err, "alice") == NULL, "%s", err);
}
END_TEST

Suite *test_suite(int *rc)
{
    registry_url = test_env_or_skip("SCHEMA_REGISTRY_URL", "the real registry");
    if (registry_url == NULL) {
        *rc = TEST_SKIP;
        return NULL;
    }
    Suite *s = suite_create("schema_registry");
    TCase *real = tcase_create("real_registry"), *faults = tcase_create("faults");
    tcase_set_timeout(real, 30);
    tcase_set_timeout(faults, 30);
    tcase_add_test(real, test_register_idempotent_and_fetch);
    tcase_add_test(real, test_unknown_id_and_rejected);
    tcase_add_test(real, test_subject_is_escaped);
    tcase_add_test(real, test_wrong_path_is_not_unknown);
    tcase_add_test(real, test_unreachable);
    tcase_add_test(faults, test_fault_statuses);
    tcase_add_test(faults, test_basic_auth_not_leaked);
    tcase_add_test(faults, test_fault_404_mapping);
    tcase_add_test(faults, test_fault_schema_of_another_type);
    suite_add_tcase(s, real);
    suite_add_tcase(s, faults);
    return s;
}
