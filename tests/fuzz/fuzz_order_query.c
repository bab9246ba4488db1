/*
 * fuzz_order_query: libFuzzer target for order-service's query strings, the
 * only outside data its HTTP API reads. Input: a request target as a client
 * sends it ("/dlq/messages?limit=5&offset=0"). It goes through the same steps
 * as a request: the request line parsed by http_head_parse, each parameter
 * found and decoded by http_query_find (what http_query does), then the
 * checks the handlers apply to each parameter (order_id_valid,
 * http_parse_uint). Properties beyond "no crash, no sanitizer report":
 * - an accepted number lies in [min, max], consists of decimal digits only
 *   and prints back to the same value (no sign, space or overflow slips in);
 * - an absent parameter yields the default;
 * - an accepted orderId is 1..64 bytes of the documented alphabet, so it can
 *   never inject anything into a SQL parameter, a log line or a JSON answer.
 * Seeds: tests/fuzz/corpus/order_query/.
 */
#include "platform/http.h"
#include "query/order_api.h"
#include "event/order_model.h"

#include "platform/http_parse.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_uint(const char *s, long long def, long long min, long long max)
{
    long long v = -1;
    if (http_parse_uint(s, def, min, max, &v) != 0)
        return;
    if (!s) {
        if (v != def)
            abort();
        return;
    }
    if (v < min || v > max)
        abort();
    for (const char *p = s; *p; p++)
        if (*p < '0' || *p > '9')
            abort();
    if (strtoll(s, NULL, 10) != v)
        abort();
}

static void check_order_id(const char *id)
{
    if (!id || !order_id_valid(id, strlen(id)))
        return;
    size_t n = strlen(id);
    if (n < 1 || n > 64)
        abort();
    for (size_t i = 0; i < n; i++) {
        char c = id[i];
        int ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                 c == '.' || c == '_' || c == ':' || c == '-';
        if (!ok)
            abort();
    }
}

/* The parameter as http_query() returns it (NULL when absent), in out[0..cap). */
static const char *param(const char *q, size_t qn, const char *key, char *out, size_t cap)
{
    long n = http_query_find(q, qn, key, out, cap);
    if (n >= 0 && (size_t)n != strlen(out))
        abort(); /* no NUL inside a value (%00 decodes to 0x01) */
    return n >= 0 ? out : NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* the server's header limit caps the request line long before this */
    if (size > 8192)
        return 0;
    static const char pre[] = "GET ", post[] = " HTTP/1.1\r\n\r\n";
    char *req = malloc(sizeof pre - 1 + size + sizeof post);
    char *out = malloc(size + 1);
    http_head *h = malloc(sizeof *h);
    if (!req || !out || !h) {
        free(req);
        free(out);
        free(h);
        return 0;
    }
    size_t n = 0;
    memcpy(req, pre, sizeof pre - 1);
    n += sizeof pre - 1;
    memcpy(req + n, data, size);
    n += size;
    memcpy(req + n, post, sizeof post - 1);
    n += sizeof post - 1;
    if (http_head_parse(req, n, h) == 0 && h->query_at) {
        const char *q = req + h->query_at;
        size_t qn = h->query_len;
        check_order_id(param(q, qn, "orderId", out, size + 1));
        check_uint(param(q, qn, "limit", out, size + 1), DLQ_PAGE_DEFAULT, 1, DLQ_PAGE_MAX);
        check_uint(param(q, qn, "offset", out, size + 1), 0, 0, 999999999999999LL);
        /* every value, as a handler might read any of them: decode each pair */
        for (size_t i = 0; i < qn;) {
            size_t e = i;
            while (e < qn && q[e] != '&')
                e++;
            size_t dn = http_pct_decode(q + i, e - i, out, 1);
            if (dn > e - i)
                abort(); /* decoding never grows */
            check_order_id(out);
            check_uint(out, 0, 0, 999999999999999LL);
            i = e + 1;
        }
    }
    free(req);
    free(out);
    free(h);
    return 0;
}
