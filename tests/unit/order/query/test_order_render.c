/*
 * order_render: the order-details JSON is the same bytes whether the history
 * is rendered aside and embedded (a single read) or streamed after the
 * order's fields (a batched read), and it is the documented shape: the
 * fields in order, money with two decimals, ISO-8601 UTC times, the history
 * last.
 */
#include "query/order_render.h"

#include "test_main.h"

#include <check.h>
#include <stdio.h>
#include <string.h>

static store_order sample(void)
{
    store_order o;
    memset(&o, 0, sizeof o);
    snprintf(o.order_id, sizeof o.order_id, "ORDER-1");
    snprintf(o.customer_id, sizeof o.customer_id, "CUST-\"7\"");
    snprintf(o.order_date, sizeof o.order_date, "2026-11-25T14:00:00.123Z");
    o.items_json = "[{\"itemId\":\"I-1\",\"quantity\":3,\"price\":19.99}]";
    o.items_json_len = strlen(o.items_json);
    o.total_cents = 5997;
    snprintf(o.currency, sizeof o.currency, "USD");
    snprintf(o.status, sizeof o.status, "shipped");
    o.shipping_cents = 120;
    o.created_at_ms = 1764079200123;
    o.updated_at_ms = 1764079400000;
    return o;
}

static const char want[] =
    "{\"orderId\":\"ORDER-1\",\"customerId\":\"CUST-\\\"7\\\"\",\"orderDate\":\"2026-11-25T14:00:"
    "00.123Z\",\"items\":[{\"itemId\":\"I-1\",\"quantity\":3,\"price\":19.99}],\"totalAmount\":"
    "59.97,\"currency\":\"USD\",\"status\":\"shipped\",\"shippingCost\":1.20,\"createdAt\":"
    "\"2025-11-25T14:00:00.123Z\",\"updatedAt\":\"2025-11-25T14:03:20.000Z\",\"statusHistory\":"
    "[{\"status\":\"new\",\"at\":\"2025-11-25T14:00:00.123Z\"},{\"status\":\"shipped\",\"at\":"
    "\"2025-11-25T14:03:20.000Z\"}]}";

START_TEST(test_embedded_and_streamed_are_the_same_bytes)
{
    store_order o = sample();
    /* a single read: history aside, then embedded */
    jsonw h, a, b;
    jsonw_init(&h);
    jsonw_init(&a);
    jsonw_init(&b);
    jsonw_arr_begin(&h);
    order_render_change(&h, "new", o.created_at_ms);
    order_render_change(&h, "shipped", o.updated_at_ms);
    jsonw_arr_end(&h);
    order_render_head(&a, &o);
    jsonw_raw(&a, h.buf, h.len);
    order_render_tail(&a);
    /* a batched read: the history streamed after the fields */
    order_render_head(&b, &o);
    jsonw_arr_begin(&b);
    order_render_change(&b, "new", o.created_at_ms);
    order_render_change(&b, "shipped", o.updated_at_ms);
    jsonw_arr_end(&b);
    order_render_tail(&b);
    ck_assert(jsonw_ok(&a) && jsonw_ok(&b));
    ck_assert_uint_eq(a.len, strlen(want));
    ck_assert(memcmp(a.buf, want, a.len) == 0);
    ck_assert_uint_eq(b.len, a.len);
    ck_assert(memcmp(b.buf, a.buf, a.len) == 0);
    jsonw_free(&h);
    jsonw_free(&a);
    jsonw_free(&b);
}
END_TEST

START_TEST(test_render_time)
{
    jsonw w;
    jsonw_init(&w);
    jsonw_obj_begin(&w);
    order_render_time(&w, "at", 0);
    jsonw_obj_end(&w);
    ck_assert(jsonw_ok(&w));
    static const char t[] = "{\"at\":\"1970-01-01T00:00:00.000Z\"}";
    ck_assert_uint_eq(w.len, strlen(t));
    ck_assert(memcmp(w.buf, t, w.len) == 0);
    jsonw_free(&w);
}
END_TEST

Suite *test_suite(int *rc)
{
    (void)rc;
    Suite *su = suite_create("order_render");
    TCase *tc = tcase_create("render");
    tcase_add_test(tc, test_embedded_and_streamed_are_the_same_bytes);
    tcase_add_test(tc, test_render_time);
    suite_add_tcase(su, tc);
    return su;
}
