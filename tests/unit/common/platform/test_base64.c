/*
 * Unit tests of base64 (platform/base64.c), used for the raw bytes of dead letters.
 */
#include "platform/base64.h"

#include "test_main.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

START_TEST(test_base64_vectors)
{
    static const char *const cases[][2] = {{"", ""},
                                           {"f", "Zg=="},
                                           {"fo", "Zm8="},
                                           {"foo", "Zm9v"},
                                           {"foob", "Zm9vYg=="},
                                           {"fooba", "Zm9vYmE="},
                                           {"foobar", "Zm9vYmFy"}};
    char out[32];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t n = base64_encode(cases[i][0], strlen(cases[i][0]), out, sizeof out);
        ck_assert_uint_eq(n, strlen(cases[i][1]));
        ck_assert_str_eq(out, cases[i][1]);
    }
    const unsigned char bin[] = {0x00, 0xff, 0xfe, 0x80};
    ck_assert_uint_eq(base64_encode(bin, sizeof bin, out, sizeof out), 8);
    ck_assert_str_eq(out, "AP/+gA==");
    /* Too small an output buffer: nothing written past it, empty result. */
    char small[8];
    ck_assert_uint_eq(base64_encode("foobar", 6, small, sizeof small), 0);
    ck_assert_str_eq(small, "");
}
END_TEST

Suite *test_suite(int *rc)
{
    (void)rc;
    Suite *s = suite_create("base64");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_base64_vectors);
    suite_add_tcase(s, tc);
    return s;
}
