/*
 * Unit tests of order_json (event/order_json.c): money as two-decimal JSON numbers.
 */
#include "event/order_json.h"
#include "platform/jsonw.h"

#include "test_main.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

START_TEST(test_money_two_decimals)
{
    jsonw w;
    jsonw_init(&w);
    jsonw_arr_begin(&w);
    order_json_money(&w, 9998);
    order_json_money(&w, 10000);
    order_json_money(&w, 5);
    order_json_money(&w, 0);
    order_json_money(&w, -250);
    jsonw_arr_end(&w);
    ck_assert(jsonw_ok(&w));
    ck_assert_str_eq(w.buf, "[99.98,100.00,0.05,0.00,-2.50]");
    jsonw_free(&w);
}
END_TEST

Suite *test_suite(int *rc)
{
    (void)rc;
    Suite *s = suite_create("order_json");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_money_two_decimals);
    suite_add_tcase(s, tc);
    return s;
}
