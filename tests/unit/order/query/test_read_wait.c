/*
 * Unit tests of read-your-writes' parts that need no server: the waitMs /
 * after= parser (query/wait_req.c) and the waiter registry (query/wait_set.c):
 * the cap, slot reuse, the questions one probe asks for all waiters, and the
 * sweep that answers the ready and the expired ones exactly once.
 */
#include "query/wait_req.h"
#include "query/wait_set.h"

#include "test_main.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

START_TEST(test_wait_req_valid)
{
    wait_req r;
    const char *why = NULL;
    ck_assert_int_eq(wait_req_parse(NULL, NULL, 30000, &r, &why), 0);
    ck_assert(r.wait_ms == 0 && !r.has_after);
    ck_assert_int_eq(wait_req_parse("2000", NULL, 30000, &r, &why), 0);
    ck_assert(r.wait_ms == 2000 && !r.has_after);
    ck_assert_int_eq(wait_req_parse("30000", "3:1207", 30000, &r, &why), 0);
    ck_assert(r.wait_ms == 30000 && r.has_after && r.partition == 3 && r.offset == 1207);
    /* after= alone waits the default; the server's limit cuts any wait */
    ck_assert_int_eq(wait_req_parse(NULL, "0:0", 30000, &r, &why), 0);
    ck_assert(r.wait_ms == READ_WAIT_AFTER_DEFAULT_MS && r.partition == 0 && r.offset == 0);
    ck_assert_int_eq(wait_req_parse("25000", NULL, 200, &r, &why), 0);
    ck_assert_int_eq(r.wait_ms, 200);
    ck_assert_int_eq(wait_req_parse("0", "99999:999999999999999999", 0, &r, &why), 0);
    ck_assert(r.wait_ms == 0 && r.partition == 99999 && r.offset == 999999999999999999LL);
}
END_TEST

START_TEST(test_wait_req_invalid)
{
    static const char *const waits[] = {"",   "-1", "abc", "30001", "1e3",
                                        " 5", "5 ", "+5",  "0x10",  "1000000000000000000000"};
    static const char *const afters[] = {
        "",     "3",    ":",     "3:",       ":7",   "a:1",  "1:b",
        "-1:5", "1:-5", "1:2:3", "100000:1", "1: 2", " 1:2", "1:99999999999999999999"};
    wait_req r;
    for (size_t i = 0; i < sizeof waits / sizeof waits[0]; i++) {
        const char *why = NULL;
        ck_assert_msg(wait_req_parse(waits[i], NULL, 30000, &r, &why) == -1, "waitMs=%s", waits[i]);
        ck_assert_ptr_nonnull(strstr(why, "waitMs"));
    }
    for (size_t i = 0; i < sizeof afters / sizeof afters[0]; i++) {
        const char *why = NULL;
        ck_assert_msg(wait_req_parse("100", afters[i], 30000, &r, &why) == -1, "after=%s",
                      afters[i]);
        ck_assert_ptr_nonnull(strstr(why, "after"));
    }
}
END_TEST

typedef struct {
    void *owners[16];
    int ready[16];
    int n;
} swept;

static void on_swept(void *arg, void *owner, int ready)
{
    swept *s = arg;
    ck_assert_int_lt(s->n, 16);
    s->owners[s->n] = owner;
    s->ready[s->n++] = ready;
}

static int index_of(const swept *s, void *owner)
{
    for (int i = 0; i < s->n; i++)
        if (s->owners[i] == owner)
            return i;
    return -1;
}

START_TEST(test_wait_set_cap_and_reuse)
{
    wait_set s;
    ck_assert_int_eq(wait_set_init(&s, 2), 0);
    int a, b, c;
    wait_entry *ea = wait_set_add(&s, &a, "A", 0, 0, 0, 100);
    ck_assert_ptr_nonnull(ea);
    ck_assert_ptr_nonnull(wait_set_add(&s, &b, "B", 0, 0, 0, 100));
    ck_assert_ptr_null(wait_set_add(&s, &c, "C", 0, 0, 0, 100)); /* full */
    ck_assert_uint_eq(s.n, 2);
    wait_set_remove(&s, ea);
    wait_entry *ec = wait_set_add(&s, &c, "C", 0, 0, 0, 100);
    ck_assert_ptr_eq(ec, ea); /* the freed slot */
    ck_assert_int_eq(ec->q, -1);
    ck_assert_str_eq(ec->order_id, "C");
    wait_set_free(&s);
}
END_TEST

START_TEST(test_wait_set_questions_and_sweep)
{
    wait_set s;
    ck_assert_int_eq(wait_set_init(&s, 8), 0);
    char *buf = malloc(8 * (ORDER_ID_MAX + 1));
    ck_assert_ptr_nonnull(buf);
    int w1, w2, w3, w4, w5, late;
    wait_set_add(&s, &w1, "ORDER-1", 0, 0, 0, 1000);  /* id question */
    wait_set_add(&s, &w2, "ORDER-2", 0, 0, 0, 1000);  /* id question, not there */
    wait_set_add(&s, &w3, "ORDER-3", 1, 5, 10, 1000); /* partition 5 past 10 */
    wait_set_add(&s, &w4, "ORDER-4", 1, 2, 7, 1000);  /* partition 2 past 7 */
    wait_set_add(&s, &w5, "ORDER-5", 1, 5, 40, 500);  /* partition 5 past 40, expires first */
    wait_set_questions(&s, buf);
    ck_assert_uint_eq(s.nids, 2);
    ck_assert_uint_eq(s.nparts, 2); /* distinct, ascending */
    ck_assert(s.parts[0] == 2 && s.parts[1] == 5);
    int i1 = strcmp(s.ids[0], "ORDER-1") == 0 ? 0 : 1;
    ck_assert_str_eq(s.ids[i1], "ORDER-1");
    ck_assert_str_eq(s.ids[1 - i1], "ORDER-2");
    /* a waiter parked while the probe runs was not asked */
    wait_set_add(&s, &late, "ORDER-1", 0, 0, 0, 1000);
    uint8_t found[2] = {0, 0};
    found[i1] = 1;
    int64_t next[2] = {7, 11}; /* partition 2: offset 7 not applied yet; partition 5: 10 is */
    swept out = {0};
    ck_assert_uint_eq(wait_set_sweep(&s, found, next, 100, on_swept, &out), 2);
    ck_assert(index_of(&out, &w1) >= 0 && out.ready[index_of(&out, &w1)]);
    ck_assert(index_of(&out, &w3) >= 0 && out.ready[index_of(&out, &w3)]);
    ck_assert_uint_eq(s.n, 4);
    /* the probe failed: only deadlines count, w5 expires at 500 */
    memset(&out, 0, sizeof out);
    ck_assert_uint_eq(wait_set_sweep(&s, NULL, NULL, 500, on_swept, &out), 1);
    ck_assert(out.owners[0] == &w5 && !out.ready[0]);
    /* past every deadline: the rest go, each once, none ready */
    memset(&out, 0, sizeof out);
    wait_set_questions(&s, buf);
    uint8_t none[8] = {0};
    int64_t behind[8] = {-1, -1, -1, -1, -1, -1, -1, -1};
    ck_assert_uint_eq(wait_set_sweep(&s, none, behind, 1000, on_swept, &out), 3);
    ck_assert(index_of(&out, &w2) >= 0 && index_of(&out, &w4) >= 0 && index_of(&out, &late) >= 0);
    for (int i = 0; i < out.n; i++)
        ck_assert_int_eq(out.ready[i], 0);
    ck_assert_uint_eq(s.n, 0);
    ck_assert_uint_eq(wait_set_sweep(&s, none, behind, 5000, on_swept, &out), 0);
    free(buf);
    wait_set_free(&s);
}
END_TEST

START_TEST(test_wait_set_full_questions)
{
    /* every slot in use, all on a few partitions: the arrays hold them all */
    enum { CAP = 10000 };
    wait_set s;
    ck_assert_int_eq(wait_set_init(&s, CAP), 0);
    char *buf = malloc((size_t)CAP * (ORDER_ID_MAX + 1));
    ck_assert_ptr_nonnull(buf);
    static int owners[CAP];
    char id[32];
    for (int i = 0; i < CAP; i++) {
        snprintf(id, sizeof id, "ORDER-%05d", i);
        ck_assert_ptr_nonnull(wait_set_add(&s, &owners[i], id, i % 2, i % 3, i, 1000));
    }
    wait_set_questions(&s, buf);
    ck_assert_uint_eq(s.nids, CAP / 2);
    ck_assert_uint_eq(s.nparts, 3);
    free(buf);
    wait_set_free(&s);
}
END_TEST

Suite *test_suite(int *rc)
{
    (void)rc;
    Suite *su = suite_create("read_wait");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_wait_req_valid);
    tcase_add_test(tc, test_wait_req_invalid);
    tcase_add_test(tc, test_wait_set_cap_and_reuse);
    tcase_add_test(tc, test_wait_set_questions_and_sweep);
    tcase_add_test(tc, test_wait_set_full_questions);
    suite_add_tcase(su, tc);
    return su;
}
