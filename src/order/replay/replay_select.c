/*
 * replay_select: the replay request's parsing and the selection rule (see
 * replay_select.h). Every refusal names its field, so an operator sees at
 * once which part of the request to fix.
 */
#include "replay/replay_select.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static const char *const replay_reasons[] = {DLQ_R_DESERIALIZATION, DLQ_R_INVALID_EVENT,
                                             DLQ_R_DUPLICATE, DLQ_R_NOT_FOUND, DLQ_R_PROCESSING};

static int replay_fail(char *field, size_t fieldlen, const char *name, char *err, size_t errlen,
                       const char *msg)
{
    snprintf(field, fieldlen, "%s", name);
    snprintf(err, errlen, "%s", msg);
    return -1;
}

/* Two digits at s into *v: 0, or -1. */
static int replay_digits(const char *s, int n, int *v)
{
    *v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        *v = *v * 10 + (s[i] - '0');
    }
    return 0;
}

int replay_select_parse_time(const char *s, int64_t *ms)
{
    /* YYYY-MM-DDTHH:MM:SS[.f{1,3}]Z */
    int y, mo, d, h, mi, sec;
    if (strlen(s) < 20 || replay_digits(s, 4, &y) || s[4] != '-' || replay_digits(s + 5, 2, &mo) ||
        s[7] != '-' || replay_digits(s + 8, 2, &d) || s[10] != 'T' ||
        replay_digits(s + 11, 2, &h) || s[13] != ':' || replay_digits(s + 14, 2, &mi) ||
        s[16] != ':' || replay_digits(s + 17, 2, &sec))
        return -1;
    const char *p = s + 19;
    int frac = 0;
    if (*p == '.') {
        p++;
        int n = 0;
        while (p[n] >= '0' && p[n] <= '9' && n < 4)
            n++;
        if (n < 1 || n > 3)
            return -1;
        for (int i = 0; i < 3; i++)
            frac = frac * 10 + (i < n ? p[i] - '0' : 0);
        p += n;
    }
    if (strcmp(p, "Z") != 0)
        return -1;
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 ||
        sec > 59)
        return -1;
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (mo == 2 && d == 29 && !leap)
        return -1;
    struct tm tm = {.tm_year = y - 1900,
                    .tm_mon = mo - 1,
                    .tm_mday = d,
                    .tm_hour = h,
                    .tm_min = mi,
                    .tm_sec = sec};
    time_t t = timegm(&tm);
    if (t == (time_t)-1)
        return -1;
    *ms = (int64_t)t * 1000 + frac;
    return 0;
}

/* A JSON integer in [min, max] at obj[name]: 1 present, 0 absent, -1 bad. */
static int replay_int(const json_t *v, long long min, long long max, long long *out)
{
    if (!v)
        return 0;
    if (!json_is_integer(v))
        return -1;
    long long n = json_integer_value(v);
    if (n < min || n > max)
        return -1;
    *out = n;
    return 1;
}

static int replay_parse_ranges(const json_t *arr, replay_selection *out, char *field,
                               size_t fieldlen, char *err, size_t errlen)
{
    if (!json_is_array(arr))
        return replay_fail(field, fieldlen, "ranges", err, errlen,
                           "must be an array of {partition, fromOffset, toOffset}");
    size_t n = json_array_size(arr);
    if (n == 0 || n > REPLAY_RANGES_MAX) {
        char msg[96];
        snprintf(msg, sizeof msg, "must hold 1 to %d ranges", REPLAY_RANGES_MAX);
        return replay_fail(field, fieldlen, "ranges", err, errlen, msg);
    }
    for (size_t i = 0; i < n; i++) {
        const json_t *r = json_array_get(arr, i);
        char name[48];
        snprintf(name, sizeof name, "ranges[%zu]", i);
        if (!json_is_object(r))
            return replay_fail(field, fieldlen, name, err, errlen,
                               "must be an object {partition, fromOffset, toOffset}");
        const char *k;
        const json_t *v;
        json_object_foreach((json_t *)r, k, v)
        {
            if (strcmp(k, "partition") && strcmp(k, "fromOffset") && strcmp(k, "toOffset")) {
                char msg[96];
                snprintf(msg, sizeof msg, "unknown field '%.40s'", k);
                return replay_fail(field, fieldlen, name, err, errlen, msg);
            }
        }
        long long part = -1, from = 0, to = INT64_MAX;
        char sub[64];
        snprintf(sub, sizeof sub, "%s.partition", name);
        if (replay_int(json_object_get(r, "partition"), 0, REPLAY_PARTITION_MAX, &part) != 1)
            return replay_fail(field, fieldlen, sub, err, errlen,
                               "required: an integer from 0 to 100000");
        snprintf(sub, sizeof sub, "%s.fromOffset", name);
        if (replay_int(json_object_get(r, "fromOffset"), 0, INT64_MAX - 1, &from) < 0)
            return replay_fail(field, fieldlen, sub, err, errlen, "must be a non-negative integer");
        snprintf(sub, sizeof sub, "%s.toOffset", name);
        if (replay_int(json_object_get(r, "toOffset"), 0, INT64_MAX - 1, &to) < 0)
            return replay_fail(field, fieldlen, sub, err, errlen, "must be a non-negative integer");
        if (to < from)
            return replay_fail(field, fieldlen, sub, err, errlen,
                               "must not be below fromOffset (both ends are inclusive)");
        for (size_t j = 0; j < out->nranges; j++)
            if (out->ranges[j].partition == part) {
                snprintf(sub, sizeof sub, "%s.partition", name);
                return replay_fail(field, fieldlen, sub, err, errlen,
                                   "one range per partition: this partition is listed twice");
            }
        out->ranges[out->nranges++] = (replay_range){(int32_t)part, from, to};
    }
    return 0;
}

static int replay_bool(const json_t *v, int *out)
{
    if (!v)
        return 0;
    if (!json_is_boolean(v))
        return -1;
    *out = json_is_true(v);
    return 1;
}

static int replay_parse_time_field(const json_t *v, const char *name, int64_t *out, char *field,
                                   size_t fieldlen, char *err, size_t errlen)
{
    if (!v)
        return 0;
    if (!json_is_string(v) || replay_select_parse_time(json_string_value(v), out) != 0)
        return replay_fail(field, fieldlen, name, err, errlen,
                           "must be an ISO 8601 UTC time such as 2026-11-25T14:00:00.000Z");
    return 0;
}

int replay_select_parse(const json_t *body, const char *own_topic, replay_selection *out,
                        char *field, size_t fieldlen, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    out->failed_from_ms = INT64_MIN;
    out->failed_to_ms = INT64_MAX;
    out->limit = REPLAY_LIMIT_DEFAULT;
    if (!json_is_object(body))
        return replay_fail(field, fieldlen, "body", err, errlen, "must be a JSON object");
    static const char *const known[] = {"ranges",     "reason",   "orderId",
                                        "failedFrom", "failedTo", "targetTopic",
                                        "dryRun",     "force",    "limit"};
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)body, k, v)
    {
        size_t i = 0;
        while (i < sizeof known / sizeof known[0] && strcmp(k, known[i]) != 0)
            i++;
        if (i == sizeof known / sizeof known[0]) {
            char name[64];
            snprintf(name, sizeof name, "%.60s", *k ? k : "\"\""); /* "" named as such */
            return replay_fail(field, fieldlen, name, err, errlen,
                               "unknown field (known: ranges, reason, orderId, failedFrom, "
                               "failedTo, targetTopic, dryRun, force, limit)");
        }
    }
    if ((v = json_object_get(body, "ranges")) &&
        replay_parse_ranges(v, out, field, fieldlen, err, errlen) != 0)
        return -1;
    if ((v = json_object_get(body, "reason"))) {
        const char *r = json_is_string(v) ? json_string_value(v) : NULL;
        size_t i = 0;
        while (r && i < sizeof replay_reasons / sizeof replay_reasons[0] &&
               strcmp(r, replay_reasons[i]) != 0)
            i++;
        if (!r || i == sizeof replay_reasons / sizeof replay_reasons[0])
            return replay_fail(field, fieldlen, "reason", err, errlen,
                               "must be one of DESERIALIZATION_ERROR, INVALID_EVENT, "
                               "DUPLICATE_ORDER, ORDER_NOT_FOUND, PROCESSING_FAILED");
        snprintf(out->reason, sizeof out->reason, "%s", r);
    }
    if ((v = json_object_get(body, "orderId"))) {
        const char *id = json_is_string(v) ? json_string_value(v) : NULL;
        if (!id || !order_id_valid(id, json_string_length(v)))
            return replay_fail(field, fieldlen, "orderId", err, errlen,
                               "must be 1 to 64 characters of [A-Za-z0-9._:-]");
        snprintf(out->order_id, sizeof out->order_id, "%s", id);
    }
    if (replay_parse_time_field(json_object_get(body, "failedFrom"), "failedFrom",
                                &out->failed_from_ms, field, fieldlen, err, errlen) != 0 ||
        replay_parse_time_field(json_object_get(body, "failedTo"), "failedTo", &out->failed_to_ms,
                                field, fieldlen, err, errlen) != 0)
        return -1;
    if (out->failed_from_ms != INT64_MIN && out->failed_to_ms != INT64_MAX &&
        out->failed_to_ms <= out->failed_from_ms)
        return replay_fail(field, fieldlen, "failedTo", err, errlen,
                           "must be after failedFrom (failedFrom inclusive, failedTo exclusive)");
    if ((v = json_object_get(body, "targetTopic"))) {
        if (!json_is_string(v) || strcmp(json_string_value(v), own_topic) != 0) {
            char msg[320];
            snprintf(msg, sizeof msg,
                     "only this service's events topic '%s' (ORDER_EVENTS_TOPIC) can be a "
                     "replay target",
                     own_topic);
            return replay_fail(field, fieldlen, "targetTopic", err, errlen, msg);
        }
    }
    if (replay_bool(json_object_get(body, "dryRun"), &out->dry_run) < 0)
        return replay_fail(field, fieldlen, "dryRun", err, errlen, "must be true or false");
    if (replay_bool(json_object_get(body, "force"), &out->force) < 0)
        return replay_fail(field, fieldlen, "force", err, errlen, "must be true or false");
    if (replay_int(json_object_get(body, "limit"), 1, REPLAY_LIMIT_MAX, &out->limit) < 0)
        return replay_fail(field, fieldlen, "limit", err, errlen,
                           "must be an integer from 1 to 1000000");
    return 0;
}

int replay_select_partition(const replay_selection *s, int32_t p, int64_t *from, int64_t *to_excl)
{
    if (s->nranges == 0) {
        *from = 0;
        *to_excl = INT64_MAX;
        return 1;
    }
    for (size_t i = 0; i < s->nranges; i++)
        if (s->ranges[i].partition == p) {
            *from = s->ranges[i].from;
            *to_excl = s->ranges[i].to == INT64_MAX ? INT64_MAX : s->ranges[i].to + 1;
            return 1;
        }
    return 0;
}

int replay_select_match(const replay_selection *s, const dlq_info *d, int32_t p, int64_t offset,
                        const void *key, size_t keylen)
{
    int64_t from, to_excl;
    if (!replay_select_partition(s, p, &from, &to_excl) || offset < from || offset >= to_excl)
        return 0;
    if (s->reason[0] && (!(d->present & DLQ_F_REASON) || strcmp(d->reason, s->reason) != 0))
        return 0;
    if (s->order_id[0]) {
        size_t n = strlen(s->order_id);
        if (!key || keylen != n || memcmp(key, s->order_id, n) != 0)
            return 0;
    }
    if (s->failed_from_ms != INT64_MIN || s->failed_to_ms != INT64_MAX) {
        if (!(d->present & DLQ_F_FAILED_AT) || d->failed_at_ms < s->failed_from_ms ||
            d->failed_at_ms >= s->failed_to_ms)
            return 0;
    }
    return 1;
}
