/*
 * Unit tests of the id set behind getAllOrderIdsFromTopic (query/idset.c).
 */
#include "query/idset.h"

#include "test_main.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

START_TEST(test_idset_distinct_first_seen)
{
    idset s;
    idset_init(&s);
    ck_assert_int_eq(idset_add(&s, "B", 1), 1);
    ck_assert_int_eq(idset_add(&s, "A", 1), 1);
    ck_assert_int_eq(idset_add(&s, "B", 1), 0);
    ck_assert_int_eq(idset_add(&s, "", 0), 1);
    ck_assert_int_eq(idset_add(&s, "", 0), 0);
    ck_assert_int_eq(idset_add(&s, "A\0x", 3), 1); /* bytes, not C strings */
    ck_assert_uint_eq(s.count, 4);
    size_t len;
    const char *id = idset_get(&s, 0, &len);
    ck_assert_uint_eq(len, 1);
    ck_assert(memcmp(id, "B", 1) == 0);
    id = idset_get(&s, 1, &len);
    ck_assert(len == 1 && id[0] == 'A');
    idset_get(&s, 2, &len);
    ck_assert_uint_eq(len, 0);
    id = idset_get(&s, 3, &len);
    ck_assert(len == 3 && memcmp(id, "A\0x", 3) == 0);
    char big[70000];
    memset(big, 'k', sizeof big);
    ck_assert_int_eq(idset_add(&s, big, sizeof big), -1);
    idset_free(&s);
}
END_TEST

START_TEST(test_idset_many)
{
    /* Growth of arena, entries and table keeps every id and the order. */
    idset s;
    idset_init(&s);
    char id[32];
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < 200000; i++) {
            int n = snprintf(id, sizeof id, "ORDER-%07d", i);
            ck_assert_int_eq(idset_add(&s, id, (size_t)n), round == 0 ? 1 : 0);
        }
    }
    ck_assert_uint_eq(s.count, 200000);
    for (uint32_t i = 0; i < s.count; i += 9973) {
        size_t len;
        const char *got = idset_get(&s, i, &len);
        int n = snprintf(id, sizeof id, "ORDER-%07u", i);
        ck_assert_uint_eq(len, (size_t)n);
        ck_assert(memcmp(got, id, len) == 0);
    }
    idset_free(&s);
}
END_TEST

/* The i-th id of test_idset_get_any_order: lengths that take 1, 2 and 3 bytes
 * in the arena, distinct by their first 8 bytes. */
static size_t long_id(uint32_t i, char *buf)
{
    static const size_t lens[] = {8, 127, 128, 300, 16383, 16384, 65535, 9};
    size_t len = lens[i % 8];
    memset(buf, 'x', len);
    char head[16];
    snprintf(head, sizeof head, "%08u", i);
    memcpy(buf, head, 8);
    return len;
}

START_TEST(test_idset_get_any_order)
{
    /* The i-th id whether asked in order, backwards, twice, or far ahead. */
    idset s;
    idset_init(&s);
    static char want[70000];
    const uint32_t n = 1000;
    for (uint32_t i = 0; i < n; i++)
        ck_assert_int_eq(idset_add(&s, want, long_id(i, want)), 1);
    ck_assert_int_eq(idset_add(&s, want, long_id(7, want)), 0);
    ck_assert_uint_eq(s.count, n);
    const uint32_t order[] = {0, 1, 2, 3, 2, 2, 900, 901, 64, 63, 1, 999, 0, 999, 128, 191, 192};
    for (size_t k = 0; k < sizeof order / sizeof order[0]; k++) {
        size_t len;
        const char *got = idset_get(&s, order[k], &len);
        size_t wlen = long_id(order[k], want);
        ck_assert_uint_eq(len, wlen);
        ck_assert(memcmp(got, want, len) == 0);
    }
    for (uint32_t i = 0; i < n; i++) {
        size_t len;
        const char *got = idset_get(&s, i, &len);
        ck_assert_uint_eq(len, long_id(i, want));
        ck_assert(memcmp(got, want, len) == 0);
    }
    idset_free(&s);
}
END_TEST

Suite *test_suite(int *rc)
{
    (void)rc;
    Suite *su = suite_create("idset");
    TCase *tc = tcase_create("util");
    tcase_add_test(tc, test_idset_distinct_first_seen);
    tcase_add_test(tc, test_idset_many);
    tcase_add_test(tc, test_idset_get_any_order);
    suite_add_tcase(su, tc);
    return su;
}
