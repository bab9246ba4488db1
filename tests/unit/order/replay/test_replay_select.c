/*
 * replay_select and replay_auth: the replay request's parsing (every field,
 * every refusal naming its field), the selection rule, the time format, and
 * the bearer token check.
 */
#include "replay/replay_auth.h"
#include "replay/replay_select.h"

#include "test_main.h"

#include <check.h>
#include <stdio.h>
#include <string.h>

#define OWN "order-events"

static replay_selection sel;
static char field[96], err[400];

/* Parses text; returns the rc (field/err hold the refusal). */
static int parse(const char *text)
{
    json_error_t je;
    json_t *j = json_loads(text, 0, &je);
    ck_assert_msg(j != NULL, "test JSON: %s", je.text);
    field[0] = err[0] = '\0';
    int rc = replay_select_parse(j, OWN, &sel, field, sizeof field, err, sizeof err);
    json_decref(j);
    return rc;
}

static void refused(const char *text, const char *want_field)
{
    ck_assert_msg(parse(text) == -1, "accepted: %s", text);
    ck_assert_msg(strcmp(field, want_field) == 0, "%s: field '%s' (%s), want '%s'", text, field,
                  err, want_field);
    ck_assert_msg(err[0] != '\0', "%s: no message", text);
}

static dlq_info info(const char *reason, int64_t failed_at)
{
    dlq_info d;
    dlq_info_init(&d, DLQ_NO_RETRY, reason, "m", 0, OWN, 0, 1, 2, failed_at);
    return d;
}

START_TEST(test_defaults_select_everything)
{
    ck_assert_int_eq(parse("{}"), 0);
    ck_assert_int_eq(sel.dry_run, 0);
    ck_assert_int_eq(sel.force, 0);
    ck_assert_int_eq(sel.limit, REPLAY_LIMIT_DEFAULT);
    ck_assert_uint_eq(sel.nranges, 0);
    dlq_info d = info(DLQ_R_NOT_FOUND, 5);
    ck_assert(replay_select_match(&sel, &d, 0, 0, "A", 1));
    ck_assert(replay_select_match(&sel, &d, 7, 123456, NULL, 0));
    dlq_info none;
    memset(&none, 0, sizeof none); /* no headers at all: still selected by an empty request */
    ck_assert(replay_select_match(&sel, &none, 0, 0, NULL, 0));
    int64_t from, to;
    ck_assert(replay_select_partition(&sel, 3, &from, &to));
    ck_assert(from == 0 && to == INT64_MAX);
}
END_TEST

START_TEST(test_every_field_parses)
{
    ck_assert_int_eq(parse("{\"ranges\":[{\"partition\":0,\"fromOffset\":2,\"toOffset\":4},"
                           "{\"partition\":3}],\"reason\":\"ORDER_NOT_FOUND\","
                           "\"orderId\":\"ORD-1\",\"failedFrom\":\"2026-11-25T14:00:00Z\","
                           "\"failedTo\":\"2026-11-25T15:00:00.5Z\",\"targetTopic\":\"" OWN
                           "\",\"dryRun\":true,\"force\":true,\"limit\":5}"),
                     0);
    ck_assert_uint_eq(sel.nranges, 2);
    ck_assert_str_eq(sel.reason, "ORDER_NOT_FOUND");
    ck_assert_str_eq(sel.order_id, "ORD-1");
    ck_assert(sel.failed_from_ms == 1795615200000LL);
    ck_assert(sel.failed_to_ms == 1795618800500LL);
    ck_assert(sel.dry_run && sel.force && sel.limit == 5);
    int64_t from, to;
    ck_assert(replay_select_partition(&sel, 0, &from, &to));
    ck_assert(from == 2 && to == 5); /* inclusive toOffset: one past it */
    ck_assert(replay_select_partition(&sel, 3, &from, &to));
    ck_assert(from == 0 && to == INT64_MAX);
    ck_assert(!replay_select_partition(&sel, 1, &from, &to));
}
END_TEST

START_TEST(test_match_combines_criteria)
{
    ck_assert_int_eq(parse("{\"ranges\":[{\"partition\":0,\"fromOffset\":2,\"toOffset\":4}],"
                           "\"reason\":\"ORDER_NOT_FOUND\",\"orderId\":\"ORD-1\","
                           "\"failedFrom\":\"1970-01-01T00:00:01Z\","
                           "\"failedTo\":\"1970-01-01T00:00:02Z\"}"),
                     0);
    dlq_info d = info(DLQ_R_NOT_FOUND, 1500);
    ck_assert(replay_select_match(&sel, &d, 0, 2, "ORD-1", 5));
    ck_assert(replay_select_match(&sel, &d, 0, 4, "ORD-1", 5));
    ck_assert(!replay_select_match(&sel, &d, 0, 1, "ORD-1", 5));  /* below the range */
    ck_assert(!replay_select_match(&sel, &d, 0, 5, "ORD-1", 5));  /* above it */
    ck_assert(!replay_select_match(&sel, &d, 1, 3, "ORD-1", 5));  /* another partition */
    ck_assert(!replay_select_match(&sel, &d, 0, 3, "ORD-12", 6)); /* a longer key */
    ck_assert(!replay_select_match(&sel, &d, 0, 3, "ORD-", 4));   /* a prefix */
    ck_assert(!replay_select_match(&sel, &d, 0, 3, NULL, 0));
    dlq_info other = info(DLQ_R_DUPLICATE, 1500);
    ck_assert(!replay_select_match(&sel, &other, 0, 3, "ORD-1", 5));
    dlq_info early = info(DLQ_R_NOT_FOUND, 999), late = info(DLQ_R_NOT_FOUND, 2000);
    ck_assert(!replay_select_match(&sel, &early, 0, 3, "ORD-1", 5));
    ck_assert(!replay_select_match(&sel, &late, 0, 3, "ORD-1", 5)); /* failedTo exclusive */
    dlq_info edge = info(DLQ_R_NOT_FOUND, 1000);
    ck_assert(replay_select_match(&sel, &edge, 0, 3, "ORD-1", 5)); /* failedFrom inclusive */
    /* a criterion on a header the record lacks: not selected */
    dlq_info bare = d;
    bare.present &= ~(unsigned)(DLQ_F_REASON | DLQ_F_FAILED_AT);
    ck_assert(!replay_select_match(&sel, &bare, 0, 3, "ORD-1", 5));
}
END_TEST

START_TEST(test_refusals_name_their_field)
{
    refused("{\"x\":1}", "x");
    refused("{\"\":1}", "\"\""); /* an empty key is named too */
    refused("{\"targetTopic\":\"elsewhere\"}", "targetTopic");
    refused("{\"targetTopic\":\"order-events-dlq\"}", "targetTopic");
    refused("{\"targetTopic\":7}", "targetTopic");
    refused("{\"reason\":\"NOPE\"}", "reason");
    refused("{\"reason\":null}", "reason");
    refused("{\"orderId\":\"\"}", "orderId");
    refused("{\"orderId\":\"a b\"}", "orderId");
    refused("{\"dryRun\":1}", "dryRun");
    refused("{\"force\":\"true\"}", "force");
    refused("{\"limit\":0}", "limit");
    refused("{\"limit\":1000001}", "limit");
    refused("{\"limit\":1.5}", "limit");
    refused("{\"failedFrom\":\"2026-11-25\"}", "failedFrom");
    refused("{\"failedTo\":\"2026-11-25T14:00:00+01:00\"}", "failedTo");
    refused("{\"failedFrom\":\"2026-11-25T14:00:00Z\",\"failedTo\":\"2026-11-25T14:00:00Z\"}",
            "failedTo");
    refused("{\"ranges\":[]}", "ranges");
    refused("{\"ranges\":{}}", "ranges");
    refused("{\"ranges\":[1]}", "ranges[0]");
    refused("{\"ranges\":[{}]}", "ranges[0].partition");
    refused("{\"ranges\":[{\"partition\":100001}]}", "ranges[0].partition");
    refused("{\"ranges\":[{\"partition\":0,\"fromOffset\":\"1\"}]}", "ranges[0].fromOffset");
    refused("{\"ranges\":[{\"partition\":0,\"toOffset\":-1}]}", "ranges[0].toOffset");
    refused("{\"ranges\":[{\"partition\":0,\"fromOffset\":3,\"toOffset\":2}]}",
            "ranges[0].toOffset");
    refused("{\"ranges\":[{\"partition\":0},{\"partition\":0}]}", "ranges[1].partition");
    refused("{\"ranges\":[{\"partition\":0,\"size\":1}]}", "ranges[0]");
    char big[4096] = "{\"ranges\":[";
    for (int i = 0; i <= REPLAY_RANGES_MAX; i++) {
        char one[40];
        snprintf(one, sizeof one, "%s{\"partition\":%d}", i ? "," : "", i);
        strcat(big, one);
    }
    strcat(big, "]}");
    refused(big, "ranges");
    /* the limit itself is fine */
    ck_assert_int_eq(parse("{\"limit\":1000000}"), 0);
}
END_TEST

START_TEST(test_time_format)
{
    int64_t ms;
    ck_assert_int_eq(replay_select_parse_time("1970-01-01T00:00:00Z", &ms), 0);
    ck_assert(ms == 0);
    ck_assert_int_eq(replay_select_parse_time("2026-11-25T14:00:00.123Z", &ms), 0);
    ck_assert(ms == 1795615200123LL);
    ck_assert_int_eq(replay_select_parse_time("2026-11-25T14:00:00.1Z", &ms), 0);
    ck_assert(ms == 1795615200100LL);
    ck_assert_int_eq(replay_select_parse_time("2024-02-29T00:00:00Z", &ms), 0);
    static const char *const bad[] = {"",
                                      "2026-11-25T14:00:00",
                                      "2026-11-25T14:00:00.Z",
                                      "2026-11-25T14:00:00.1234Z",
                                      "2025-02-29T00:00:00Z",
                                      "2026-13-01T00:00:00Z",
                                      "2026-11-31T00:00:00Z",
                                      "2026-11-25T24:00:00Z",
                                      "2026-11-25 14:00:00Z",
                                      "1969-12-31T23:59:59Z",
                                      "2026-11-25T14:00:00Zjunk",
                                      "+026-11-25T14:00:00Z"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(replay_select_parse_time(bad[i], &ms) == -1, "accepted '%s'", bad[i]);
}
END_TEST

START_TEST(test_bearer_token)
{
    ck_assert_int_eq(replay_auth_check("", "Bearer x"), REPLAY_AUTH_DISABLED);
    ck_assert_int_eq(replay_auth_check(NULL, NULL), REPLAY_AUTH_DISABLED);
    ck_assert_int_eq(replay_auth_check("tok", NULL), REPLAY_AUTH_MISSING);
    ck_assert_int_eq(replay_auth_check("tok", ""), REPLAY_AUTH_MISSING);
    ck_assert_int_eq(replay_auth_check("tok", "tok"), REPLAY_AUTH_MISSING);
    ck_assert_int_eq(replay_auth_check("tok", "Basic tok"), REPLAY_AUTH_MISSING);
    ck_assert_int_eq(replay_auth_check("tok", "Bearer "), REPLAY_AUTH_MISSING);
    ck_assert_int_eq(replay_auth_check("tok", "Bearer tok"), REPLAY_AUTH_OK);
    ck_assert_int_eq(replay_auth_check("tok", "bearer   tok "), REPLAY_AUTH_OK);
    ck_assert_int_eq(replay_auth_check("tok", "Bearer to"), REPLAY_AUTH_WRONG);
    ck_assert_int_eq(replay_auth_check("tok", "Bearer tokk"), REPLAY_AUTH_WRONG);
    ck_assert_int_eq(replay_auth_check("tok", "Bearer toktok"), REPLAY_AUTH_WRONG);
    ck_assert_int_eq(replay_auth_check("tok", "Bearer TOK"), REPLAY_AUTH_WRONG);
    ck_assert(replay_auth_equal("abc", 3, "abc", 3));
    ck_assert(!replay_auth_equal("abc", 3, "abd", 3));
    ck_assert(!replay_auth_equal("abc", 3, "abcabc", 6)); /* wrapping is not a match */
    ck_assert(!replay_auth_equal("", 0, "", 0));
}
END_TEST

Suite *test_suite(int *rc)
{
    (void)rc;
    Suite *su = suite_create("replay_select");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_defaults_select_everything);
    tcase_add_test(tc, test_every_field_parses);
    tcase_add_test(tc, test_match_combines_criteria);
    tcase_add_test(tc, test_refusals_name_their_field);
    tcase_add_test(tc, test_time_format);
    tcase_add_test(tc, test_bearer_token);
    suite_add_tcase(su, tc);
    return su;
}
