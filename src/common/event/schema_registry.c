/*
 * schema_registry: Confluent Schema Registry REST client over libcurl.
 *
 * Design notes:
 * - One easy handle per client, reused for every request, so the TCP
 *   connection stays alive between calls (the consumer fetches schemas on a
 *   hot path when a new id appears; the producer registers at start-up).
 * - Responses are accumulated into one buffer owned by the client, capped at
 *   SR_MAX_RESPONSE: a misbehaving registry or proxy cannot make us allocate
 *   without bound.
 * - Status mapping follows the header: 404 is SR_NOT_FOUND only with the
 *   error code the caller expects (40403 for a schema id), any other 404 is
 *   SR_NOT_REGISTRY (a wrong path or a proxy: a roll-out must not turn into
 *   dead letters); 408/429/5xx and every transport error -> SR_UNAVAILABLE
 *   (retry later); other 4xx -> SR_REJECTED with the registry's own message.
 * - Credentials in the URL (http://user:pw@host/...) are moved into
 *   CURLOPT_USERNAME/PASSWORD and removed from the URL we keep, so no error
 *   message built from the URL can leak them.
 * - curl_global_init() is not thread-safe; sr_client_new() runs it once per
 *   process through pthread_once. Code that uses libcurl elsewhere must also
 *   call sr_client_new() first or call curl_global_init() itself before
 *   starting threads.
 */
#include "event/schema_registry.h"

#include "platform/errfmt.h"

#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SR_MAX_RESPONSE (1024 * 1024)
#define SR_URL_MAX 2048
#define SR_CODE_SCHEMA_NOT_FOUND 40403 /* Confluent API: "Schema not found" */

struct sr_client {
    CURL *curl;
    struct curl_slist *headers;
    char base[SR_URL_MAX]; /* without user info, without trailing '/' */
    char *resp;
    size_t resp_len, resp_cap;
    int overflow;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
/* The error text into err, and the status for the caller to return. */
#define sfail(st, err, errlen, ...) (errfmt(err, errlen, __VA_ARGS__), (st))

static CURLcode curl_init_rc = CURLE_FAILED_INIT;

static void curl_init_once(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

const char *sr_status_name(sr_status s)
{
    switch (s) {
    case SR_OK:
        return "OK";
    case SR_NOT_FOUND:
        return "NOT_FOUND";
    case SR_REJECTED:
        return "REJECTED";
    case SR_UNAVAILABLE:
        return "UNAVAILABLE";
    case SR_WRONG_TYPE:
        return "WRONG_TYPE";
    case SR_NOT_REGISTRY:
        return "NOT_REGISTRY";
    }
    return "UNKNOWN";
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *userp)
{
    sr_client *c = userp;
    size_t n = size * nmemb;

    if (n > SR_MAX_RESPONSE - c->resp_len) {
        c->overflow = 1;
        return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
    }
    if (c->resp_len + n + 1 > c->resp_cap) {
        size_t cap = c->resp_cap ? c->resp_cap : 4096;
        char *p;
        while (cap < c->resp_len + n + 1)
            cap *= 2;
        p = realloc(c->resp, cap);
        if (p == NULL)
            return 0;
        c->resp = p;
        c->resp_cap = cap;
    }
    memcpy(c->resp + c->resp_len, data, n);
    c->resp_len += n;
    c->resp[c->resp_len] = '\0';
    return n;
}

/* Splits user info off the URL; keeps the credential-free URL in c->base. */
static int set_url(sr_client *c, const char *base_url, char *err, size_t errlen)
{
    CURLU *u = curl_url();
    char *user = NULL, *pw = NULL, *clean = NULL;
    int rc = -1;
    size_t n;

    if (u == NULL) {
        errfmt(err, errlen, "out of memory");
        return -1;
    }
    if (curl_url_set(u, CURLUPART_URL, base_url, 0) != CURLUE_OK) {
        /* do not echo the URL: it may hold a password */
        errfmt(err, errlen, "SCHEMA_REGISTRY_URL is not a valid URL");
        goto out;
    }
    if (curl_url_get(u, CURLUPART_USER, &user, CURLU_URLDECODE) == CURLUE_OK) {
        if (curl_url_get(u, CURLUPART_PASSWORD, &pw, CURLU_URLDECODE) != CURLUE_OK)
            pw = NULL;
        if (curl_easy_setopt(c->curl, CURLOPT_USERNAME, user) != CURLE_OK ||
            curl_easy_setopt(c->curl, CURLOPT_PASSWORD, pw ? pw : "") != CURLE_OK ||
            curl_easy_setopt(c->curl, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC) != CURLE_OK) {
            errfmt(err, errlen, "cannot set registry credentials");
            goto out;
        }
        if (curl_url_set(u, CURLUPART_USER, NULL, 0) != CURLUE_OK ||
            curl_url_set(u, CURLUPART_PASSWORD, NULL, 0) != CURLUE_OK) {
            errfmt(err, errlen, "cannot strip registry credentials");
            goto out;
        }
    }
    if (curl_url_get(u, CURLUPART_URL, &clean, 0) != CURLUE_OK) {
        errfmt(err, errlen, "SCHEMA_REGISTRY_URL is not a valid URL");
        goto out;
    }
    n = strlen(clean);
    while (n > 0 && clean[n - 1] == '/')
        n--;
    if (n + 64 >= sizeof c->base) {
        errfmt(err, errlen, "SCHEMA_REGISTRY_URL is too long");
        goto out;
    }
    memcpy(c->base, clean, n);
    c->base[n] = '\0';
    rc = 0;
out:
    if (pw != NULL) {
        memset(pw, 0, strlen(pw));
        curl_free(pw);
    }
    curl_free(user);
    curl_free(clean);
    curl_url_cleanup(u);
    return rc;
}

sr_client *sr_client_new(const char *base_url, long timeout_ms, char *err, size_t errlen)
{
    sr_client *c;

    if (base_url == NULL || timeout_ms <= 0) {
        errfmt(err, errlen, "registry URL and a positive timeout are required");
        return NULL;
    }
    if (pthread_once(&curl_once, curl_init_once) != 0 || curl_init_rc != CURLE_OK) {
        errfmt(err, errlen, "curl_global_init failed");
        return NULL;
    }
    c = calloc(1, sizeof *c);
    if (c == NULL || (c->curl = curl_easy_init()) == NULL) {
        errfmt(err, errlen, "out of memory");
        free(c);
        return NULL;
    }
    c->headers = curl_slist_append(NULL, "Accept: application/vnd.schemaregistry.v1+json, "
                                         "application/json");
    if (c->headers != NULL) {
        struct curl_slist *h =
            curl_slist_append(c->headers, "Content-Type: application/vnd.schemaregistry.v1+json");
        if (h == NULL) {
            curl_slist_free_all(c->headers);
            c->headers = NULL;
        } else {
            c->headers = h;
        }
    }
    if (c->headers == NULL) {
        errfmt(err, errlen, "out of memory");
        goto fail;
    }
    if (set_url(c, base_url, err, errlen) != 0)
        goto fail;
    if (curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
        curl_easy_setopt(c->curl, CURLOPT_TIMEOUT_MS, timeout_ms) != CURLE_OK ||
        curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms) != CURLE_OK ||
        curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, c->headers) != CURLE_OK ||
        curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, on_body) != CURLE_OK ||
        curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, c) != CURLE_OK ||
        curl_easy_setopt(c->curl, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK ||
        curl_easy_setopt(c->curl, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK ||
        curl_easy_setopt(c->curl, CURLOPT_TCP_KEEPALIVE, 1L) != CURLE_OK) {
        errfmt(err, errlen, "cannot configure libcurl");
        goto fail;
    }
    return c;
fail:
    sr_client_free(c);
    return NULL;
}

void sr_client_free(sr_client *c)
{
    if (c == NULL)
        return;
    if (c->curl != NULL)
        curl_easy_cleanup(c->curl);
    curl_slist_free_all(c->headers);
    free(c->resp);
    free(c);
}

/* The registry's {"error_code", "message"} body, if it sent one; its error_code or 0. */
static long long registry_message(const sr_client *c, char *out, size_t outlen)
{
    json_t *root = c->resp_len ? json_loadb(c->resp, c->resp_len, 0, NULL) : NULL;
    json_t *code = root ? json_object_get(root, "error_code") : NULL;
    json_t *msg = root ? json_object_get(root, "message") : NULL;
    long long ec = json_is_integer(code) ? (long long)json_integer_value(code) : 0LL;

    if (json_is_string(msg))
        snprintf(out, outlen, "error_code %lld: %.200s", ec, json_string_value(msg));
    else
        snprintf(out, outlen, "%s", "no registry error details");
    json_decref(root);
    return ec;
}

/*
 * Performs one request; on SR_OK the body is in c->resp (NUL-terminated).
 * not_found_code: the registry error code that makes a 404 SR_NOT_FOUND (0: none does).
 */
static sr_status perform(sr_client *c, const char *method, const char *path, const char *body,
                         long long not_found_code, char *err, size_t errlen)
{
    char url[SR_URL_MAX + 256], detail[300];
    long http = 0;
    CURLcode rc;

    if (snprintf(url, sizeof url, "%s%s", c->base, path) >= (int)sizeof url)
        return sfail(SR_REJECTED, err, errlen, "registry URL too long");
    c->resp_len = 0;
    c->overflow = 0;
    if (c->resp != NULL)
        c->resp[0] = '\0';
    /* The handle is reused: a GET must also drop the previous POST body. */
    if (curl_easy_setopt(c->curl, CURLOPT_URL, url) != CURLE_OK ||
        curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, body) != CURLE_OK ||
        (body == NULL && curl_easy_setopt(c->curl, CURLOPT_HTTPGET, 1L) != CURLE_OK))
        return sfail(SR_UNAVAILABLE, err, errlen, "cannot configure the request");
    rc = curl_easy_perform(c->curl);
    if (c->overflow)
        return sfail(SR_UNAVAILABLE, err, errlen, "%s %s: response larger than %d bytes", method,
                     path, SR_MAX_RESPONSE);
    if (rc != CURLE_OK)
        return sfail(SR_UNAVAILABLE, err, errlen, "%s %s%s: %s", method, c->base, path,
                     curl_easy_strerror(rc));
    if (curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &http) != CURLE_OK)
        return sfail(SR_UNAVAILABLE, err, errlen, "no HTTP status");
    if (http >= 200 && http < 300) {
        if (c->resp == NULL || c->resp_len == 0)
            return sfail(SR_UNAVAILABLE, err, errlen, "%s %s: empty response", method, path);
        return SR_OK;
    }
    long long code = registry_message(c, detail, sizeof detail);
    if (http == 404 && not_found_code != 0 && code == not_found_code)
        return sfail(SR_NOT_FOUND, err, errlen, "%s %s: HTTP 404, %s", method, path, detail);
    if (http == 404)
        return sfail(SR_NOT_REGISTRY, err, errlen,
                     "%s %s%s: HTTP 404 without the registry's 'not found' code (%s): is "
                     "SCHEMA_REGISTRY_URL the API root (e.g. http://host:8081/apis/ccompat/v7), "
                     "or did a proxy answer?",
                     method, c->base, path, detail);
    if (http == 408 || http == 429 || http >= 500 || http < 200)
        return sfail(SR_UNAVAILABLE, err, errlen, "%s %s: HTTP %ld, %s", method, path, http,
                     detail);
    return sfail(SR_REJECTED, err, errlen, "%s %s: HTTP %ld, %s", method, path, http, detail);
}

sr_status sr_register(sr_client *c, const char *subject, const char *schema_json, uint32_t *id,
                      char *err, size_t errlen)
{
    char path[600];
    char *esc, *body;
    json_t *req, *resp, *jid;
    sr_status st;

    if (c == NULL || subject == NULL || schema_json == NULL || id == NULL || subject[0] == '\0')
        return sfail(SR_REJECTED, err, errlen, "bad argument");
    if (strlen(subject) > 255)
        return sfail(SR_REJECTED, err, errlen, "subject name longer than 255");
    esc = curl_easy_escape(c->curl, subject, 0);
    if (esc == NULL)
        return sfail(SR_UNAVAILABLE, err, errlen, "out of memory");
    snprintf(path, sizeof path, "/subjects/%s/versions", esc);
    curl_free(esc);

    req = json_pack("{s:s}", "schema", schema_json);
    body = req ? json_dumps(req, JSON_COMPACT) : NULL;
    json_decref(req);
    if (body == NULL)
        return sfail(SR_REJECTED, err, errlen, "schema text is not valid UTF-8");
    st = perform(c, "POST", path, body, 0, err, errlen);
    free(body);
    if (st != SR_OK)
        return st;
    resp = json_loadb(c->resp, c->resp_len, 0, NULL);
    jid = resp ? json_object_get(resp, "id") : NULL;
    if (!json_is_integer(jid) || json_integer_value(jid) < 0 ||
        json_integer_value(jid) > (json_int_t)UINT32_MAX) {
        json_decref(resp);
        return sfail(SR_UNAVAILABLE, err, errlen, "POST %s: response without a valid id", path);
    }
    *id = (uint32_t)json_integer_value(jid);
    json_decref(resp);
    return SR_OK;
}

sr_status sr_fetch_schema(sr_client *c, uint32_t id, char **schema_json, char *err, size_t errlen)
{
    char path[64];
    json_t *resp, *js, *type;
    sr_status st;

    if (c == NULL || schema_json == NULL)
        return sfail(SR_REJECTED, err, errlen, "bad argument");
    *schema_json = NULL;
    snprintf(path, sizeof path, "/schemas/ids/%u", (unsigned)id);
    st = perform(c, "GET", path, NULL, SR_CODE_SCHEMA_NOT_FOUND, err, errlen);
    if (st != SR_OK)
        return st;
    resp = json_loadb(c->resp, c->resp_len, 0, NULL);
    js = resp ? json_object_get(resp, "schema") : NULL;
    type = resp ? json_object_get(resp, "schemaType") : NULL;
    if (!json_is_string(js)) {
        json_decref(resp);
        return sfail(SR_NOT_REGISTRY, err, errlen,
                     "GET %s%s: 200 without a schema: not a registry answer", c->base, path);
    }
    /* Absent schemaType means AVRO in the Confluent API. */
    if (type != NULL && !(json_is_string(type) && strcmp(json_string_value(type), "AVRO") == 0)) {
        st =
            sfail(SR_WRONG_TYPE, err, errlen, "schema %u is a %.40s schema, not Avro", (unsigned)id,
                  json_is_string(type) ? json_string_value(type) : "non-string-typed");
        json_decref(resp);
        return st;
    }
    *schema_json = strdup(json_string_value(js));
    json_decref(resp);
    if (*schema_json == NULL)
        return sfail(SR_UNAVAILABLE, err, errlen, "out of memory");
    return SR_OK;
}

sr_status sr_ping(sr_client *c, char *err, size_t errlen)
{
    json_t *list;
    sr_status st;

    if (c == NULL)
        return sfail(SR_REJECTED, err, errlen, "bad argument");
    st = perform(c, "GET", "/subjects", NULL, 0, err, errlen);
    if (st != SR_OK)
        return st;
    list = json_loadb(c->resp, c->resp_len, 0, NULL);
    st = json_is_array(list) ? SR_OK
                             : sfail(SR_NOT_REGISTRY, err, errlen,
                                     "GET %s/subjects: the answer is not a list of subjects: is "
                                     "SCHEMA_REGISTRY_URL the API root (e.g. "
                                     "http://host:8081/apis/ccompat/v7)?",
                                     c->base);
    json_decref(list);
    return st;
}
