/*
 * test_order_model: the validation tables and the exact money rules that both
 * services share. Tables, because each row is one documented rule.
 */
#include "event/order_model.h"

#include "test_main.h"

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

START_TEST(test_order_id_table)
{
    static const struct {
        const char *id;
        int ok;
    } rows[] = {
        {"a", 1},           {"order-1", 1},  {"A.b_c:d-9", 1}, {"", 0},
        {"has space", 0},   {"slash/no", 0}, {"quote\"", 0},   {"semi;colon", 0},
        {"caf\xc3\xa9", 0}, {"tab\t", 0},    {"percent%", 0},  {"ORD_2026.11:25-x", 1},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        ck_assert_msg(order_id_valid(rows[i].id, strlen(rows[i].id)) == rows[i].ok, "row %zu (%s)",
                      i, rows[i].id);

    char max[ORDER_ID_MAX + 2];
    memset(max, 'x', sizeof max);
    ck_assert_int_eq(order_id_valid(max, ORDER_ID_MAX), 1);
    ck_assert_int_eq(order_id_valid(max, ORDER_ID_MAX + 1), 0);
    /* length-delimited: an embedded NUL is a bad character, not the end */
    ck_assert_int_eq(order_id_valid("ab\0cd", 5), 0);
    ck_assert_int_eq(order_id_valid(NULL, 3), 0);
}
END_TEST

START_TEST(test_status_table)
{
    static const struct {
        const char *in;
        int allow_new;
        int rc;
        const char *out;
    } rows[] = {
        {"pending", 0, 0, "pending"},
        {"CONFIRMED", 0, 0, "confirmed"},
        {"Processing", 0, 0, "processing"},
        {"shipped", 0, 0, "shipped"},
        {"delivered", 0, 0, "delivered"},
        {"cancelled", 0, 0, "cancelled"},
        {"new", 0, -1, NULL},
        {"NEW", 0, -1, NULL},
        {"new", 1, 0, "new"},
        {"New", 1, 0, "new"},
        {"canceled", 0, -1, NULL},
        {"", 0, -1, NULL},
        {" shipped", 0, -1, NULL},
        {"shipped ", 0, -1, NULL},
        {"SHIPP\xc3\x89"
         "D",
         0, -1, NULL},
        {"unknown", 1, -1, NULL},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char out[ORDER_STATUS_MAX + 1] = "untouched";
        int rc = order_status_normalize(rows[i].in, strlen(rows[i].in), rows[i].allow_new, out);
        ck_assert_msg(rc == rows[i].rc, "row %zu (%s): rc %d", i, rows[i].in, rc);
        if (rows[i].out != NULL)
            ck_assert_str_eq(out, rows[i].out);
    }
    char long_status[ORDER_STATUS_MAX + 8];
    memset(long_status, 'a', sizeof long_status);
    ck_assert_int_eq(order_status_normalize(long_status, sizeof long_status, 1, NULL), -1);
    ck_assert_ptr_nonnull(strstr(order_status_list(), "cancelled"));
}
END_TEST

START_TEST(test_shipping_table)
{
    static const struct {
        int64_t total, ship;
    } rows[] = {
        {0, 0},
        {1, 0},
        {24, 0},
        {25, 1},
        {49, 1},
        {50, 1},
        {74, 1},
        {75, 2},
        {9998, 200},
        {10000, 200},
        {12345, 247},
        {12375, 248},
        {-25, -1},
        {-24, 0},
        {-75, -2},
        {INT64_MAX - 7 - 25, (INT64_MAX - 7) / 50}, /* remainder 25: rounds up, no overflow */
    };
    /* 12345 * 2% = 246.9 -> 247; 12375 * 2% = 247.5 -> 248 (half-up, away
     * from zero for negatives as Decimal's ROUND_HALF_UP does). */
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        ck_assert_msg(order_shipping_cents(rows[i].total) == rows[i].ship, "row %zu: %lld", i,
                      (long long)order_shipping_cents(rows[i].total));
    ck_assert_int_eq(INT64_MAX % 50, 7);
    ck_assert_int_eq(order_shipping_cents(INT64_MAX), INT64_MAX / 50);
    ck_assert_int_eq(order_shipping_cents(INT64_MIN), INT64_MIN / 50);
    /* brute-force against the textbook formula where it cannot overflow */
    for (int64_t t = 0; t < 100000; t++)
        ck_assert_int_eq(order_shipping_cents(t), (t * 2 + 50) / 100);
}
END_TEST

START_TEST(test_money_format)
{
    static const struct {
        int64_t cents;
        const char *text;
    } rows[] = {
        {0, "0.00"},
        {5, "0.05"},
        {100, "1.00"},
        {9998, "99.98"},
        {-5, "-0.05"},
        {-100, "-1.00"},
        {123456789012, "1234567890.12"},
        {INT64_MAX, "92233720368547758.07"},
        {INT64_MIN, "-92233720368547758.08"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char buf[24];
        int n = money_format(rows[i].cents, buf, sizeof buf);
        ck_assert_str_eq(buf, rows[i].text);
        ck_assert_int_eq(n, (int)strlen(rows[i].text));
    }
    char small[4];
    ck_assert_int_eq(money_format(100, small, sizeof small), -1);
    ck_assert_str_eq(small, "");
}
END_TEST

static void make_create(order_event *ev, size_t items)
{
    memset(ev, 0, sizeof *ev);
    ev->type = ORDER_EVENT_CREATE;
    strcpy(ev->order_id, "order-1");
    ev->timestamp_ms = 1764079200000;
    strcpy(ev->customer_id, "cust-1");
    strcpy(ev->order_date, "2026-11-25T14:00:00.000Z");
    strcpy(ev->currency, "USD");
    strcpy(ev->status, "new");
    ev->item_count = items;
    ev->total_cents = 0;
    for (size_t i = 0; i < items; i++) {
        snprintf(ev->items[i].item_id, sizeof ev->items[i].item_id, "item-%zu", i);
        ev->items[i].quantity = (int32_t)(i % 5 + 1);
        ev->items[i].price_cents = (int64_t)(i * 137 % 10000);
        ev->total_cents += ev->items[i].quantity * ev->items[i].price_cents;
    }
}

static void make_update(order_event *ev, const char *status)
{
    memset(ev, 0, sizeof *ev);
    ev->type = ORDER_EVENT_UPDATE;
    strcpy(ev->order_id, "order-1");
    strcpy(ev->status, status);
}

static void expect_invalid(const order_event *ev, const char *needle)
{
    char err[256] = "";
    ck_assert_int_eq(order_event_validate(ev, err, sizeof err), -1);
    ck_assert_msg(strstr(err, needle) != NULL, "error \"%s\" lacks \"%s\"", err, needle);
}

START_TEST(test_validate_create)
{
    order_event *ev = malloc(sizeof *ev);
    char err[256];
    ck_assert_ptr_nonnull(ev);

    make_create(ev, 1);
    ck_assert_int_eq(order_event_validate(ev, err, sizeof err), 0);
    make_create(ev, ORDER_ITEMS_MAX);
    ck_assert_int_eq(order_event_validate(ev, err, sizeof err), 0);
    strcpy(ev->status, "NEW"); /* case-insensitive like the API */
    ck_assert_int_eq(order_event_validate(ev, err, sizeof err), 0);

    make_create(ev, 0);
    expect_invalid(ev, "no items");
    make_create(ev, 3);
    ev->item_count = ORDER_ITEMS_MAX + 1;
    expect_invalid(ev, "more items");
    make_create(ev, 3);
    ev->items[1].quantity = 0;
    expect_invalid(ev, "non-positive quantity");
    make_create(ev, 3);
    ev->items[2].quantity = -4;
    expect_invalid(ev, "non-positive quantity");
    make_create(ev, 3);
    ev->items[0].price_cents = -1;
    expect_invalid(ev, "negative price");
    make_create(ev, 3);
    ev->total_cents += 1;
    expect_invalid(ev, "not the sum");
    make_create(ev, 2);
    ev->items[0].price_cents = INT64_MAX / 2;
    ev->items[0].quantity = 3;
    expect_invalid(ev, "overflows");
    make_create(ev, 2);
    ev->items[0].price_cents = INT64_MAX;
    ev->items[0].quantity = 1;
    ev->items[1].price_cents = 1;
    expect_invalid(ev, "overflows");
    make_create(ev, 2);
    strcpy(ev->status, "pending");
    expect_invalid(ev, "must be \"new\"");
    make_create(ev, 2);
    ev->customer_id[0] = '\0';
    expect_invalid(ev, "customerId");
    make_create(ev, 2);
    ev->currency[0] = '\0';
    expect_invalid(ev, "currency");
    make_create(ev, 2);
    ev->items[1].item_id[0] = '\0';
    expect_invalid(ev, "itemId");
    make_create(ev, 2);
    strcpy(ev->order_id, "bad id");
    expect_invalid(ev, "orderId");
    make_create(ev, 2);
    memset(ev->order_id, 'x', sizeof ev->order_id); /* unterminated */
    expect_invalid(ev, "orderId");
    free(ev);
}
END_TEST

START_TEST(test_validate_update)
{
    order_event *ev = malloc(sizeof *ev);
    char err[256];
    ck_assert_ptr_nonnull(ev);

    make_update(ev, "shipped");
    ck_assert_int_eq(order_event_validate(ev, err, sizeof err), 0);
    make_update(ev, "Cancelled");
    ck_assert_int_eq(order_event_validate(ev, err, sizeof err), 0);
    make_update(ev, "new");
    expect_invalid(ev, "reserved");
    make_update(ev, "lost");
    expect_invalid(ev, "unknown status");
    make_update(ev, "");
    expect_invalid(ev, "empty");
    make_update(ev, "shipped");
    ev->item_count = 1; /* an UPDATE carrying a CreateOrderPayload */
    expect_invalid(ev, "CREATE payload");
    make_update(ev, "shipped");
    strcpy(ev->customer_id, "c");
    expect_invalid(ev, "CREATE payload");
    make_update(ev, "shipped");
    ev->type = (order_event_type)7;
    expect_invalid(ev, "eventType");
    expect_invalid(NULL, "no event");
    free(ev);
}
END_TEST

static Suite *model_suite(void)
{
    Suite *s = suite_create("order_model");
    TCase *tc = tcase_create("rules");
    tcase_add_test(tc, test_order_id_table);
    tcase_add_test(tc, test_status_table);
    tcase_add_test(tc, test_shipping_table);
    tcase_add_test(tc, test_money_format);
    tcase_add_test(tc, test_validate_create);
    tcase_add_test(tc, test_validate_update);
    suite_add_tcase(s, tc);
    return s;
}

Suite *test_suite(int *rc)
{
    (void)rc;
    return model_suite();
}
