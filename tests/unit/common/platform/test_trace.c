/*
 * Unit tests for trace (W3C Trace Context): what the spec calls valid and
 * invalid traceparent values, the span a service starts under a parent or
 * without one, the text form, and the thread's log trace id.
 */
#include "platform/log.h"
#include "platform/trace.h"

#include "test_main.h"

#include <check.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static const char SPEC_EXAMPLE[] = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

static int parse(const char *s, trace_ctx *t)
{
    return trace_parse(s, strlen(s), t);
}

START_TEST(test_parses_the_spec_example)
{
    trace_ctx t;
    ck_assert_int_eq(parse(SPEC_EXAMPLE, &t), 0);
    ck_assert_int_eq(t.trace_id[0], 0x4b);
    ck_assert_int_eq(t.trace_id[15], 0x36);
    ck_assert_int_eq(t.span_id[0], 0x00);
    ck_assert_int_eq(t.span_id[7], 0xb7);
    ck_assert_int_eq(t.flags, 1);
    char out[TRACE_PARENT_LEN + 1];
    trace_format(&t, out);
    ck_assert_str_eq(out, SPEC_EXAMPLE);
    ck_assert_int_eq(parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", &t), 0);
    ck_assert_int_eq(t.flags, 0);
    /* any flags of version 00 are accepted (only "sampled" is kept when forwarding) */
    ck_assert_int_eq(parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-ff", &t), 0);
}
END_TEST

START_TEST(test_rejects_what_the_spec_calls_invalid)
{
    static const char *const bad[] = {
        "",
        "00",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0",   /* short */
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-011", /* v00 is exactly 55 */
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x",
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", /* version ff */
        "0g-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01", /* zero trace id */
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", /* zero parent id */
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", /* upper case */
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00F067AA0BA902B7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0X",
        "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", /* separators */
        "00-4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7_01",
        "00-4bf92f3577b34da6a3ce929d0e0e473-600f067aa0ba902b7-01",
        "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x", /* v>00: '-' must follow */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        trace_ctx t;
        ck_assert_msg(parse(bad[i], &t) == -1, "accepted %s", bad[i]);
    }
    trace_ctx t;
    ck_assert_int_eq(trace_parse(NULL, 0, &t), -1);
    /* the length is honoured: nothing past it is read */
    ck_assert_int_eq(trace_parse(SPEC_EXAMPLE, sizeof SPEC_EXAMPLE - 2, &t), -1);
}
END_TEST

START_TEST(test_future_versions_are_read_by_their_first_fields)
{
    trace_ctx t;
    ck_assert_int_eq(parse("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", &t), 0);
    ck_assert_int_eq(
        parse("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-the-future-adds", &t),
        0);
    ck_assert_int_eq(t.trace_id[0], 0x4b);
    /* what we write back is always version 00 */
    char out[TRACE_PARENT_LEN + 1];
    trace_format(&t, out);
    ck_assert_str_eq(out, SPEC_EXAMPLE);
}
END_TEST

START_TEST(test_span_under_a_parent_keeps_the_trace)
{
    trace_ctx parent, span;
    ck_assert_int_eq(parse(SPEC_EXAMPLE, &parent), 0);
    parent.flags = 0xff;
    trace_start(&parent, &span);
    ck_assert(memcmp(span.trace_id, parent.trace_id, sizeof span.trace_id) == 0);
    ck_assert(memcmp(span.span_id, parent.span_id, sizeof span.span_id) != 0);
    ck_assert_int_eq(span.flags, TRACE_FLAG_SAMPLED); /* unknown flags are not forwarded */
    char out[TRACE_PARENT_LEN + 1];
    trace_format(&span, out);
    ck_assert_uint_eq(strlen(out), TRACE_PARENT_LEN);
    ck_assert_int_eq(strncmp(out, SPEC_EXAMPLE, 36), 0);
    trace_ctx back;
    ck_assert_int_eq(parse(out, &back), 0); /* what we send is valid */
}
END_TEST

static int cmp_range(const void *a, const void *b, size_t off, size_t n)
{
    return strncmp((const char *)a + off, (const char *)b + off, n);
}
static int cmp_trace_id(const void *a, const void *b)
{
    return cmp_range(a, b, 3, TRACE_ID_HEX);
}
static int cmp_span_id(const void *a, const void *b)
{
    return cmp_range(a, b, 36, TRACE_SPAN_HEX);
}

START_TEST(test_new_traces_are_valid_and_distinct)
{
    /* sorted, then neighbours compared: n log n, so valgrind runs it in seconds */
    enum { N = 2000 };
    static char seen[N][TRACE_PARENT_LEN + 1];
    for (int i = 0; i < N; i++) {
        trace_ctx t, back;
        trace_start(NULL, &t);
        trace_format(&t, seen[i]);
        ck_assert_int_eq(parse(seen[i], &back), 0);
        ck_assert_int_eq(back.flags, TRACE_FLAG_SAMPLED);
    }
    qsort(seen, N, sizeof seen[0], cmp_trace_id);
    for (int i = 1; i < N; i++)
        ck_assert(cmp_trace_id(seen[i - 1], seen[i]) != 0);
    qsort(seen, N, sizeof seen[0], cmp_span_id);
    for (int i = 1; i < N; i++)
        ck_assert(cmp_span_id(seen[i - 1], seen[i]) != 0);
}
END_TEST

static void *draw(void *arg)
{
    *(uint64_t *)arg = trace_rand64();
    return NULL;
}

START_TEST(test_threads_have_their_own_generator)
{
    /* each thread seeds its own state from the OS: two first draws differ */
    uint64_t a = 0, b = 0;
    pthread_t t1, t2;
    ck_assert_int_eq(pthread_create(&t1, NULL, draw, &a), 0);
    ck_assert_int_eq(pthread_create(&t2, NULL, draw, &b), 0);
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);
    ck_assert(a != b);
}
END_TEST

START_TEST(test_log_trace_is_per_thread_and_bounded)
{
    ck_assert_str_eq(log_trace_get(), "");
    log_trace_set(SPEC_EXAMPLE + 3, TRACE_ID_HEX);
    ck_assert_str_eq(log_trace_get(), "4bf92f3577b34da6a3ce929d0e0e4736");
    log_trace_set(SPEC_EXAMPLE, 500); /* longer than an id: cut at 32 */
    ck_assert_uint_eq(strlen(log_trace_get()), TRACE_ID_HEX);
    log_trace_set(log_trace_get(), 8); /* from its own buffer */
    ck_assert_str_eq(log_trace_get(), "00-4bf92");
    log_trace_set(NULL, 5);
    ck_assert_str_eq(log_trace_get(), "");
}
END_TEST

START_TEST(test_log_trace_nests)
{
    log_trace_set("outer", 5);
    log_trace_saved a, b;
    log_trace_enter(&a, SPEC_EXAMPLE + 3, TRACE_ID_HEX);
    ck_assert_str_eq(log_trace_get(), "4bf92f3577b34da6a3ce929d0e0e4736");
    log_trace_enter(&b, "inner", 5);
    ck_assert_str_eq(log_trace_get(), "inner");
    log_trace_leave(&b);
    ck_assert_str_eq(log_trace_get(), "4bf92f3577b34da6a3ce929d0e0e4736");
    log_trace_leave(&a);
    ck_assert_str_eq(log_trace_get(), "outer");
    log_trace_set(NULL, 0);
}
END_TEST

static int deferred_calls;
static void deferred_id(void *arg)
{
    deferred_calls++;
    log_trace_set(arg, TRACE_ID_HEX);
}

/* log_trace_defer: the id is looked up only when asked for, once; a set or a
 * new defer cancels a pending one. */
START_TEST(test_log_trace_defer_looks_up_once_when_asked)
{
    static char id[TRACE_ID_HEX + 1] = "4bf92f3577b34da6a3ce929d0e0e4736";
    deferred_calls = 0;
    log_trace_defer(deferred_id, id);
    ck_assert_int_eq(deferred_calls, 0);
    ck_assert_str_eq(log_trace_get(), "4bf92f3577b34da6a3ce929d0e0e4736");
    ck_assert_str_eq(log_trace_get(), "4bf92f3577b34da6a3ce929d0e0e4736");
    ck_assert_int_eq(deferred_calls, 1);
    log_trace_defer(deferred_id, id);
    log_trace_set(NULL, 0); /* the record logged nothing: never looked up */
    ck_assert_str_eq(log_trace_get(), "");
    log_trace_defer(deferred_id, id);
    log_trace_defer(NULL, NULL);
    ck_assert_str_eq(log_trace_get(), "");
    ck_assert_int_eq(deferred_calls, 1);
}
END_TEST

Suite *test_suite(int *rc)
{
    (void)rc;
    Suite *s = suite_create("trace");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_parses_the_spec_example);
    tcase_add_test(tc, test_rejects_what_the_spec_calls_invalid);
    tcase_add_test(tc, test_future_versions_are_read_by_their_first_fields);
    tcase_add_test(tc, test_span_under_a_parent_keeps_the_trace);
    tcase_add_test(tc, test_new_traces_are_valid_and_distinct);
    tcase_add_test(tc, test_threads_have_their_own_generator);
    tcase_add_test(tc, test_log_trace_is_per_thread_and_bounded);
    tcase_add_test(tc, test_log_trace_nests);
    tcase_add_test(tc, test_log_trace_defer_looks_up_once_when_asked);
    suite_add_tcase(s, tc);
    return s;
}
