/*
 * fuzz_order_replay_request: libFuzzer target for the body of POST
 * /dlq/replay, parsed as the service parses it (jansson with duplicate keys
 * refused, then replay_select_parse), and for the Authorization header check.
 *
 * Properties beyond "no crash, no sanitizer report", for every accepted body:
 * - at most REPLAY_RANGES_MAX ranges, each with 0 <= partition <= the cap,
 *   0 <= from <= to, and no partition twice;
 * - limit within 1..REPLAY_LIMIT_MAX; failedTo after failedFrom when both set;
 * - reason empty or one of the five DLQ reasons; orderId empty or valid;
 * - matching a record is consistent with the partition bounds it reports.
 * And the token check never accepts a header that does not carry the token.
 * Seeds: tests/fuzz/corpus/order_replay_request/.
 */
#include "replay/replay_auth.h"
#include "replay/replay_select.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_selection(const replay_selection *s)
{
    if (s->nranges > REPLAY_RANGES_MAX || s->limit < 1 || s->limit > REPLAY_LIMIT_MAX)
        abort();
    for (size_t i = 0; i < s->nranges; i++) {
        const replay_range *r = &s->ranges[i];
        if (r->partition < 0 || r->partition > REPLAY_PARTITION_MAX || r->from < 0 ||
            r->to < r->from)
            abort();
        for (size_t j = 0; j < i; j++)
            if (s->ranges[j].partition == r->partition)
                abort();
    }
    if (s->failed_from_ms != INT64_MIN && s->failed_to_ms != INT64_MAX &&
        s->failed_to_ms <= s->failed_from_ms)
        abort();
    if (s->reason[0] && strcmp(s->reason, DLQ_R_DESERIALIZATION) &&
        strcmp(s->reason, DLQ_R_INVALID_EVENT) && strcmp(s->reason, DLQ_R_DUPLICATE) &&
        strcmp(s->reason, DLQ_R_NOT_FOUND) && strcmp(s->reason, DLQ_R_PROCESSING))
        abort();
    if (s->order_id[0] && !order_id_valid(s->order_id, strlen(s->order_id)))
        abort();
    /* a record inside a reported range with no other criterion in the way matches */
    dlq_info d;
    dlq_info_init(&d, DLQ_NO_RETRY, s->reason[0] ? s->reason : DLQ_R_NOT_FOUND, "m", 0,
                  "order-events", 0, 0, 0, s->failed_from_ms != INT64_MIN ? s->failed_from_ms : 0);
    for (int32_t p = 0; p < 3; p++) {
        int64_t from, to;
        if (!replay_select_partition(s, p, &from, &to))
            continue;
        if (to <= from)
            abort();
        if (!s->order_id[0] && (s->failed_to_ms == INT64_MAX || s->failed_from_ms != INT64_MIN) &&
            !replay_select_match(s, &d, p, from, "K", 1))
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_error_t je;
    json_t *j = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &je);
    if (j) {
        replay_selection s;
        char field[96], err[400];
        if (replay_select_parse(j, "order-events", &s, field, sizeof field, err, sizeof err) == 0)
            check_selection(&s);
        else if (!field[0] || !err[0])
            abort(); /* every refusal names its field and says why */
        json_decref(j);
    }
    /* the same bytes as an Authorization header */
    char *h = malloc(size + 1);
    if (!h)
        return 0;
    memcpy(h, data, size);
    h[size] = '\0';
    if (replay_auth_check("s3cret", h) == REPLAY_AUTH_OK && !strstr(h, "s3cret"))
        abort();
    int64_t ms;
    (void)replay_select_parse_time(h, &ms);
    free(h);
    return 0;
}
