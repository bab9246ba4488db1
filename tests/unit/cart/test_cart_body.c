/* Unit tests for cart_body: what the scan reads, what it declines, and that
 * every body it reads gives the view jansson's document gives. */
#include "cart_body.h"

#include "test_main.h"

#include <check.h>
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void assert_same_field(const cart_field *a, const cart_field *b, const char *text)
{
    ck_assert_msg(a->type == b->type, "%s: field types %d and %d", text, a->type, b->type);
    if (a->type == CART_FIELD_INTEGER)
        ck_assert_msg(a->num == b->num, "%s: %lld and %lld", text, a->num, b->num);
    if (a->type == CART_FIELD_STRING)
        ck_assert_msg(a->len == b->len && memcmp(a->str, b->str, a->len) == 0, "%s: strings", text);
}

/* When the scan reads buf, jansson must read it too, into the same view.
 * Returns whether the scan read it. */
static int check_against_jansson(const char *buf, size_t len)
{
    cart_body scanned, parsed;
    if (cart_body_scan(buf, len, &scanned) != 0)
        return 0;
    json_error_t e;
    json_t *doc = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &e);
    ck_assert_msg(doc != NULL, "scan read %.*s, jansson: %s", (int)len, buf, e.text);
    cart_body_from_json(doc, &parsed);
    ck_assert_int_eq(scanned.is_object, parsed.is_object);
    ck_assert_int_eq(scanned.unknown, parsed.unknown);
    assert_same_field(&scanned.order_id, &parsed.order_id, buf);
    assert_same_field(&scanned.items_count, &parsed.items_count, buf);
    assert_same_field(&scanned.status, &parsed.status, buf);
    json_decref(doc);
    return 1;
}

static const char *const read_cases[] = {
    "{\"orderId\":\"ORDER-001\",\"itemsCount\":3}",
    "{\"itemsCount\":3,\"orderId\":\"A\"}",
    " \t\r\n{ \"orderId\" : \"A\" , \"itemsCount\" : 100 } \n",
    "{\"orderId\":\"O\",\"status\":\"shipped\"}",
    "{}",
    "{\"orderId\":\"\"}",
    "{\"orderId\":\"has space / and ~\"}",
    "{\"itemsCount\":0}",
    "{\"itemsCount\":-0}",
    "{\"itemsCount\":-12}",
    "{\"itemsCount\":999999999999999999}", /* 18 digits */
    "{\"orderId\":5,\"itemsCount\":\"3\"}",
    "{\"orderId\":\"A\",\"itemsCount\":3,\"status\":\"x\"}",
};

START_TEST(test_reads_the_plain_shape)
{
    const char *t = read_cases[_i];
    ck_assert_msg(check_against_jansson(t, strlen(t)), "declined: %s", t);
}
END_TEST

START_TEST(test_view_of_a_create)
{
    const char *t = "{\"orderId\":\"ORDER-7\",\"itemsCount\":42}";
    cart_body b;
    ck_assert_int_eq(cart_body_scan(t, strlen(t), &b), 0);
    ck_assert_int_eq(b.is_object, 1);
    ck_assert_int_eq(b.unknown, 0);
    ck_assert_int_eq(b.order_id.type, CART_FIELD_STRING);
    ck_assert_uint_eq(b.order_id.len, 7);
    ck_assert_int_eq(memcmp(b.order_id.str, "ORDER-7", 7), 0);
    ck_assert_ptr_eq(b.order_id.str, t + 12); /* points into the body */
    ck_assert_int_eq(b.items_count.type, CART_FIELD_INTEGER);
    ck_assert_int_eq(b.items_count.num, 42);
    ck_assert_int_eq(b.status.type, CART_FIELD_ABSENT);
}
END_TEST

/* Declined: jansson decides (an error, another type, escapes, other keys). */
static const char *const declined_cases[] = {
    "",
    "   ",
    "[1,2]",
    "\"orderId\"",
    "{",
    "{\"orderId\":\"A\"",
    "{\"orderId\":\"A\",}",
    "{\"orderId\" \"A\"}",
    "{\"orderId\":\"A\"}x",
    "{\"orderId\":\"A\"}{}",
    "{\"orderId\":\"A\",\"orderId\":\"B\"}", /* duplicate: jansson's error */
    "{\"extra\":1}",                         /* another key */
    "{\"orderId\":\"A\\\"B\"}",              /* an escape */
    "{\"orderId\":\"\\u0041\"}",
    "{\"ord\\u0065rId\":\"A\"}",
    "{\"orderId\":\"\xc3\xa9\"}", /* non-ASCII */
    "{\"orderId\":\"a\tb\"}",     /* control byte */
    "{\"itemsCount\":3.0}",
    "{\"itemsCount\":3e2}",
    "{\"itemsCount\":3E2}",
    "{\"itemsCount\":03}",
    "{\"itemsCount\":-}",
    "{\"itemsCount\":+3}",
    "{\"itemsCount\":1000000000000000000}", /* 19 digits */
    "{\"itemsCount\":true}",
    "{\"itemsCount\":null}",
    "{\"itemsCount\":[3]}",
    "{\"itemsCount\":{}}",
    "{\"itemsCount\":3 4}",
};

START_TEST(test_declines_the_rest)
{
    const char *t = declined_cases[_i];
    cart_body b;
    ck_assert_msg(cart_body_scan(t, strlen(t), &b) != 0, "read: %s", t);
}
END_TEST

START_TEST(test_bytes_after_the_length_are_not_read)
{
    const char *t = "{\"itemsCount\":12}";
    cart_body b;
    /* cut inside the number: the scan must not look past len */
    ck_assert_int_ne(cart_body_scan(t, 15, &b), 0);
    ck_assert_int_eq(cart_body_scan(t, strlen(t), &b), 0);
    ck_assert_int_eq(b.items_count.num, 12);
    /* a NUL inside the given length is a byte like any other: declined */
    char nul[] = "{\"itemsCount\":1}\0";
    ck_assert_int_ne(cart_body_scan(nul, sizeof nul - 1, &b), 0);
}
END_TEST

START_TEST(test_from_json_marks_other_types_and_keys)
{
    json_t *doc = json_loads("{\"orderId\":[1],\"itemsCount\":2.5,\"note\":1}", 0, NULL);
    ck_assert_ptr_nonnull(doc);
    cart_body b;
    cart_body_from_json(doc, &b);
    ck_assert_int_eq(b.is_object, 1);
    ck_assert_int_eq(b.unknown, 1);
    ck_assert_int_eq(b.order_id.type, CART_FIELD_OTHER);
    ck_assert_int_eq(b.items_count.type, CART_FIELD_OTHER);
    ck_assert_int_eq(b.status.type, CART_FIELD_ABSENT);
    json_decref(doc);
    doc = json_loads("[1]", 0, NULL);
    cart_body_from_json(doc, &b);
    ck_assert_int_eq(b.is_object, 0);
    json_decref(doc);
}
END_TEST

/* Random edits of plain bodies (a fixed seed): whatever the scan still reads,
 * jansson reads the same way; some edits must stay readable, some not. */
START_TEST(test_mutations_agree_with_jansson)
{
    static const char alphabet[] = "{}[]\":,-+.0123456789eE \t\r\nabcdIOrt\\\x01\x7f\xc3";
    uint64_t x = 0x9e3779b97f4a7c15ULL;
    int read = 0, declined = 0;
    for (int i = 0; i < 20000; i++) {
        const char *seed = read_cases[i % (int)(sizeof read_cases / sizeof read_cases[0])];
        char buf[128];
        size_t len = strlen(seed);
        memcpy(buf, seed, len);
        int edits = 1 + (int)(i % 3);
        for (int k = 0; k < edits; k++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            size_t at = len ? (size_t)(x % len) : 0;
            char c = alphabet[(x >> 32) % (sizeof alphabet - 1)];
            switch ((x >> 24) % 3) {
            case 0: /* replace */
                if (len)
                    buf[at] = c;
                break;
            case 1: /* insert */
                if (len + 1 < sizeof buf) {
                    memmove(buf + at + 1, buf + at, len - at);
                    buf[at] = c;
                    len++;
                }
                break;
            default: /* delete */
                if (len) {
                    memmove(buf + at, buf + at + 1, len - at - 1);
                    len--;
                }
            }
        }
        if (check_against_jansson(buf, len))
            read++;
        else
            declined++;
    }
    ck_assert_int_gt(read, 1000);
    ck_assert_int_gt(declined, 1000);
}
END_TEST

Suite *test_suite(int *rc)
{
    (void)rc;
    Suite *s = suite_create("cart_body");
    TCase *tc = tcase_create("core");
    tcase_add_loop_test(tc, test_reads_the_plain_shape, 0,
                        (int)(sizeof read_cases / sizeof read_cases[0]));
    tcase_add_test(tc, test_view_of_a_create);
    tcase_add_loop_test(tc, test_declines_the_rest, 0,
                        (int)(sizeof declined_cases / sizeof declined_cases[0]));
    tcase_add_test(tc, test_bytes_after_the_length_are_not_read);
    tcase_add_test(tc, test_from_json_marks_other_types_and_keys);
    tcase_add_test(tc, test_mutations_agree_with_jansson);
    suite_add_tcase(s, tc);
    return s;
}
