/*
 * Unit tests for cart_idem: the Idempotency-Key header's syntax (an RFC 8941
 * sf-string), its bound, and what is refused with a reason.
 */
#include "cart_idem.h"

#include "test_main.h"

#include <check.h>
#include <stdio.h>
#include <string.h>

static char key[CART_IDEM_KEY_MAX + 1], err[160];
static size_t len;

static int parse(const char *v)
{
    err[0] = '\0';
    return cart_idem_parse(v, key, &len, err, sizeof err);
}

START_TEST(test_accepts_quoted_keys)
{
    ck_assert_int_eq(parse("\"8e03978e-40d5-43e8-bc93-6894a57f9324\""), 0);
    ck_assert_str_eq(key, "8e03978e-40d5-43e8-bc93-6894a57f9324");
    ck_assert_uint_eq(len, 36);
    ck_assert_int_eq(parse("  \"a b!~\"\t"), 0); /* spaces around, printable inside */
    ck_assert_str_eq(key, "a b!~");
    ck_assert_int_eq(parse("\"q\\\"uote\\\\d\""), 0); /* the two escapes */
    ck_assert_str_eq(key, "q\"uote\\d");
    ck_assert_uint_eq(len, 8);
}
END_TEST

START_TEST(test_refuses_malformed_keys)
{
    static const char *const bad[] = {
        "abc",             /* a token, not a string */
        "",                /* nothing */
        "\"\"",            /* empty */
        "\"open",          /* not closed */
        "\"a\\n\"",        /* only \" and \\ may be escaped */
        "\"a\" b",         /* something after it */
        "\"a\";p=1",       /* parameters */
        "\"a\",\"b\"",     /* a list (a repeated header joined by a proxy) */
        "\"tab\there\"",   /* control character */
        "\"caf\xc3\xa9\"", /* not ASCII */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_msg(parse(bad[i]) == -1, "accepted %s", bad[i]);
        ck_assert_msg(strstr(err, "Idempotency-Key") != NULL, "no reason for %s", bad[i]);
    }
}
END_TEST

START_TEST(test_length_is_bounded)
{
    char v[CART_IDEM_KEY_MAX + 8];
    v[0] = '"';
    memset(v + 1, 'k', CART_IDEM_KEY_MAX);
    v[CART_IDEM_KEY_MAX + 1] = '"';
    v[CART_IDEM_KEY_MAX + 2] = '\0';
    ck_assert_int_eq(parse(v), 0);
    ck_assert_uint_eq(len, CART_IDEM_KEY_MAX);
    v[CART_IDEM_KEY_MAX + 1] = 'k';
    v[CART_IDEM_KEY_MAX + 2] = '"';
    v[CART_IDEM_KEY_MAX + 3] = '\0';
    ck_assert_int_eq(parse(v), -1);
    ck_assert_msg(strstr(err, "longer than") != NULL, "%s", err);
}
END_TEST

Suite *test_suite(int *rc)
{
    (void)rc;
    Suite *s = suite_create("cart_idem");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_accepts_quoted_keys);
    tcase_add_test(tc, test_refuses_malformed_keys);
    tcase_add_test(tc, test_length_is_bounded);
    suite_add_tcase(s, tc);
    return s;
}
