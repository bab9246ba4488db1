/* Unit tests for cart_validate: every rule of the request table and its status code,
 * from jansson's document and, where it reads the body, from cart_body_scan. */
#include "cart_validate.h"

#include "test_main.h"

#include <check.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *body;
    int status;        /* expected */
    const char *field; /* first field reported, or NULL when valid */
} vcase;

/* Validates text as jansson's document; when cart_body_scan also reads it,
 * that view must give exactly the same result (status, every error, outputs). */
static int run(const char *text, int (*validate)(const cart_body *, cart_validation *),
               cart_validation *v)
{
    json_error_t e;
    json_t *j = json_loads(text, JSON_REJECT_DUPLICATES, &e);
    ck_assert_msg(j != NULL, "test body does not parse: %s", text);
    cart_body b;
    cart_body_from_json(j, &b);
    int st = validate(&b, v);
    if (cart_body_scan(text, strlen(text), &b) == 0) {
        cart_validation w;
        ck_assert_int_eq(validate(&b, &w), st);
        ck_assert_uint_eq(w.nerrors, v->nerrors);
        for (size_t i = 0; i < w.nerrors; i++) {
            ck_assert_str_eq(w.errors[i].field, v->errors[i].field);
            ck_assert_str_eq(w.errors[i].message, v->errors[i].message);
        }
        ck_assert_str_eq(w.order_id, v->order_id);
        ck_assert_int_eq(w.items_count, v->items_count);
        ck_assert_str_eq(w.order_status, v->order_status);
    }
    json_decref(j);
    return st;
}

static int run_create(const char *text, cart_validation *v)
{
    return run(text, cart_validate_create, v);
}

static int run_update(const char *text, cart_validation *v)
{
    return run(text, cart_validate_update, v);
}

static const vcase create_cases[] = {
    {"{\"orderId\":\"ORDER-001\",\"itemsCount\":3}", 0, NULL},
    {"{\"orderId\":\"a.b_c:d-E9\",\"itemsCount\":1}", 0, NULL},
    /* 422: an unknown member is refused, not silently dropped */
    {"{\"orderId\":\"A\",\"itemsCount\":1,\"extra\":true}", 422, "body"},
    {"{\"orderId\":\"A\",\"itemCount\":1}", 422, "itemsCount"},
    {"{\"orderId\":\"X\",\"itemsCount\":100}", 0, NULL},
    /* 422: shape */
    {"{\"itemsCount\":3}", 422, "orderId"},
    {"{\"orderId\":\"A\"}", 422, "itemsCount"},
    {"{}", 422, "orderId"},
    {"{\"orderId\":5,\"itemsCount\":3}", 422, "orderId"},
    {"{\"orderId\":null,\"itemsCount\":3}", 422, "orderId"},
    {"{\"orderId\":\"A\",\"itemsCount\":\"3\"}", 422, "itemsCount"},
    {"{\"orderId\":\"A\",\"itemsCount\":3.5}", 422, "itemsCount"},
    {"{\"orderId\":\"A\",\"itemsCount\":3.0}", 422, "itemsCount"},
    {"{\"orderId\":\"A\",\"itemsCount\":true}", 422, "itemsCount"},
    {"{\"orderId\":[\"A\"],\"itemsCount\":[3]}", 422, "orderId"},
    {"[1,2]", 422, "body"},
    /* 400: values */
    {"{\"orderId\":\"\",\"itemsCount\":3}", 400, "orderId"},
    {"{\"orderId\":\"has space\",\"itemsCount\":3}", 400, "orderId"},
    {"{\"orderId\":\"slash/no\",\"itemsCount\":3}", 400, "orderId"},
    {"{\"orderId\":\"\\u00e9t\\u00e9\",\"itemsCount\":3}", 400, "orderId"},
    {"{\"orderId\":\"A\",\"itemsCount\":0}", 400, "itemsCount"},
    {"{\"orderId\":\"A\",\"itemsCount\":-1}", 400, "itemsCount"},
    {"{\"orderId\":\"A\",\"itemsCount\":101}", 400, "itemsCount"},
    {"{\"orderId\":\"A\",\"itemsCount\":9223372036854775807}", 400, "itemsCount"},
};

START_TEST(test_create_table)
{
    const vcase *c = &create_cases[_i];
    cart_validation v;
    int st = run_create(c->body, &v);
    ck_assert_msg(st == c->status, "%s: got %d, want %d", c->body, st, c->status);
    if (c->field) {
        ck_assert_uint_ge(v.nerrors, 1);
        ck_assert_str_eq(v.errors[0].field, c->field);
        ck_assert_ptr_nonnull(v.detail);
        ck_assert_ptr_nonnull(v.errors[0].message);
    } else {
        ck_assert_uint_eq(v.nerrors, 0);
    }
}
END_TEST

START_TEST(test_create_outputs_and_all_errors_listed)
{
    cart_validation v;
    ck_assert_int_eq(run_create("{\"orderId\":\"ORDER-7\",\"itemsCount\":42}", &v), 0);
    ck_assert_str_eq(v.order_id, "ORDER-7");
    ck_assert_int_eq(v.items_count, 42);
    /* both fields missing: both listed */
    ck_assert_int_eq(run_create("{}", &v), 422);
    ck_assert_uint_eq(v.nerrors, 2);
    ck_assert_str_eq(v.errors[1].field, "itemsCount");
    /* both values bad: both listed */
    ck_assert_int_eq(run_create("{\"orderId\":\"\",\"itemsCount\":0}", &v), 400);
    ck_assert_uint_eq(v.nerrors, 2);
}
END_TEST

START_TEST(test_order_id_length_bound)
{
    char body[256], id[80];
    cart_validation v;
    memset(id, 'a', 64);
    id[64] = '\0';
    snprintf(body, sizeof body, "{\"orderId\":\"%s\",\"itemsCount\":1}", id);
    ck_assert_int_eq(run_create(body, &v), 0);
    ck_assert_str_eq(v.order_id, id);
    id[64] = 'a';
    id[65] = '\0';
    snprintf(body, sizeof body, "{\"orderId\":\"%s\",\"itemsCount\":1}", id);
    ck_assert_int_eq(run_create(body, &v), 400);
    ck_assert_str_eq(v.errors[0].field, "orderId");
}
END_TEST

static const vcase update_cases[] = {
    {"{\"orderId\":\"ORDER-001\",\"status\":\"shipped\"}", 0, NULL},
    {"{\"orderId\":\"ORDER-001\",\"status\":\"SHIPPED\"}", 0, NULL},
    {"{\"orderId\":\"O\",\"status\":\"Cancelled\"}", 0, NULL},
    {"{\"orderId\":\"O\",\"status\":\"pending\"}", 0, NULL},
    {"{\"orderId\":\"O\",\"status\":\"confirmed\"}", 0, NULL},
    {"{\"orderId\":\"O\",\"status\":\"processing\"}", 0, NULL},
    {"{\"orderId\":\"O\",\"status\":\"delivered\"}", 0, NULL},
    {"{\"status\":\"shipped\"}", 422, "orderId"},
    {"{\"orderId\":\"O\"}", 422, "status"},
    {"{\"orderId\":\"O\",\"status\":\"shipped\",\"note\":\"x\"}", 422, "body"},
    {"{\"orderId\":\"O\",\"status\":1}", 422, "status"},
    {"{\"orderId\":\"O\",\"status\":null}", 422, "status"},
    {"{\"orderId\":\"O\",\"status\":\"new\"}", 400, "status"},
    {"{\"orderId\":\"O\",\"status\":\"NEW\"}", 400, "status"},
    {"{\"orderId\":\"O\",\"status\":\"lost\"}", 400, "status"},
    {"{\"orderId\":\"O\",\"status\":\"\"}", 400, "status"},
    {"{\"orderId\":\"O\",\"status\":\"shipped \"}", 400, "status"},
    {"{\"orderId\":\"bad id\",\"status\":\"shipped\"}", 400, "orderId"},
};

START_TEST(test_update_table)
{
    const vcase *c = &update_cases[_i];
    cart_validation v;
    int st = run_update(c->body, &v);
    ck_assert_msg(st == c->status, "%s: got %d, want %d", c->body, st, c->status);
    if (c->field) {
        ck_assert_uint_ge(v.nerrors, 1);
        ck_assert_str_eq(v.errors[0].field, c->field);
    } else {
        ck_assert_uint_eq(v.nerrors, 0);
    }
}
END_TEST

START_TEST(test_update_normalises_status)
{
    cart_validation v;
    ck_assert_int_eq(run_update("{\"orderId\":\"O-1\",\"status\":\"ShIpPeD\"}", &v), 0);
    ck_assert_str_eq(v.order_status, "shipped");
    ck_assert_str_eq(v.order_id, "O-1");
}
END_TEST

Suite *test_suite(int *rc)
{
    (void)rc;
    Suite *s = suite_create("cart_validate");
    TCase *tc = tcase_create("core");
    tcase_add_loop_test(tc, test_create_table, 0,
                        (int)(sizeof create_cases / sizeof create_cases[0]));
    tcase_add_test(tc, test_create_outputs_and_all_errors_listed);
    tcase_add_test(tc, test_order_id_length_bound);
    tcase_add_loop_test(tc, test_update_table, 0,
                        (int)(sizeof update_cases / sizeof update_cases[0]));
    tcase_add_test(tc, test_update_normalises_status);
    suite_add_tcase(s, tc);
    return s;
}
