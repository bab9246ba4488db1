/*
 * fuzz_order_query: libFuzzer target for order-service's query strings, the
 * only outside data its HTTP API reads. Input: a request target as a client
 * sends it ("/dlq/messages?limit=5&offset=0"). It goes through the same steps
 * as a request: libevent's URI parse (with the flags evhttp uses for request
 * lines), evhttp_parse_query_str (what http_query does), then the checks the
 * handlers apply to each parameter (order_id_valid, http_parse_uint).
 *
 * libevent itself is not instrumented (system library), so the coverage
 * feedback comes from our validators; the sanitizers still watch every byte
 * libevent hands back. Properties beyond "no crash, no sanitizer report":
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

#include <sys/queue.h> /* before libevent: TAILQ_INIT/FOREACH */

#include <event2/http.h>
#include <event2/keyvalq_struct.h>
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* evhttp caps the request line long before this; the bound keeps runs fast */
    if (size > 8192)
        return 0;
    char *target = malloc(size + 1);
    if (!target)
        return 0;
    memcpy(target, data, size);
    target[size] = '\0';

    struct evhttp_uri *uri = evhttp_uri_parse_with_flags(target, EVHTTP_URI_NONCONFORMANT);
    if (uri) {
        const char *q = evhttp_uri_get_query(uri);
        struct evkeyvalq params;
        TAILQ_INIT(&params);
        if (q)
            (void)evhttp_parse_query_str(q, &params);
        check_order_id(evhttp_find_header(&params, "orderId"));
        check_uint(evhttp_find_header(&params, "limit"), DLQ_PAGE_DEFAULT, 1, DLQ_PAGE_MAX);
        check_uint(evhttp_find_header(&params, "offset"), 0, 0, 999999999999999LL);
        /* every value the list holds, as a handler might read any of them */
        const struct evkeyval *kv;
        TAILQ_FOREACH(kv, &params, next)
        {
            check_order_id(kv->value);
            check_uint(kv->value, 0, 0, 999999999999999LL);
        }
        evhttp_clear_headers(&params);
        evhttp_uri_free(uri);
    }
    free(target);
    return 0;
}
