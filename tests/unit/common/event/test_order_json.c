/*
 * Unit tests of order_json (event/order_json.c): money as two-decimal JSON numbers,
 * item lists the same whether an id takes the direct path or needs escaping.
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

static void add_item(order_event *ev, const char *id, int32_t qty, int64_t cents)
{
    order_item *it = &ev->items[ev->item_count++];
    snprintf(it->item_id, sizeof it->item_id, "%s", id);
    it->quantity = qty;
    it->price_cents = cents;
}

START_TEST(test_items_plain_and_escaped)
{
    static order_event ev; /* large: not on the stack */
    memset(&ev, 0, sizeof ev);
    add_item(&ev, "ITEM-1", 2, 1999);
    add_item(&ev, "quo\"te\\back", -3, 5);
    add_item(&ev, "caf\xc3\xa9 \x01", 0, -250);
    add_item(&ev, "", 2147483647, 0);
    jsonw w;
    jsonw_init(&w);
    order_json_items(&w, &ev);
    ck_assert(jsonw_ok(&w));
    ck_assert_str_eq(w.buf, "[{\"itemId\":\"ITEM-1\",\"quantity\":2,\"price\":19.99},"
                            "{\"itemId\":\"quo\\\"te\\\\back\",\"quantity\":-3,\"price\":0.05},"
                            "{\"itemId\":\"caf\xc3\xa9 \\u0001\",\"quantity\":0,\"price\":-2.50},"
                            "{\"itemId\":\"\",\"quantity\":2147483647,\"price\":0.00}]");
    /* inside an object, after a key, as the stored and the answered forms use it */
    jsonw_reset(&w);
    jsonw_obj_begin(&w);
    jsonw_key(&w, "a");
    jsonw_int(&w, 1);
    jsonw_key(&w, "items");
    ev.item_count = 1;
    order_json_items(&w, &ev);
    jsonw_obj_end(&w);
    ck_assert(jsonw_ok(&w));
    ck_assert_str_eq(
        w.buf, "{\"a\":1,\"items\":[{\"itemId\":\"ITEM-1\",\"quantity\":2,\"price\":19.99}]}");
    jsonw_free(&w);
}
END_TEST

Suite *test_suite(int *rc)
{
    (void)rc;
    Suite *s = suite_create("order_json");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_money_two_decimals);
    tcase_add_test(tc, test_items_plain_and_escaped);
    suite_add_tcase(s, tc);
    return s;
}
