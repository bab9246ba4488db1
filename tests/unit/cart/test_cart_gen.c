/*
 * Unit tests for cart_gen: count, ranges, exact total, the event passes the
 * consumer's own contract check, and it survives an Avro round trip through
 * the real codec (wire-format framing included).
 */
#include "event/avro_codec.h"
#include "platform/clock.h"
#include "cart_gen.h"
#include "event/order_schema.h"

#include "test_main.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

START_TEST(test_invariants_many_seeds)
{
    static order_event ev;
    char err[128];
    for (uint64_t seed = 1; seed <= 300; seed++) {
        cart_gen_rng r;
        cart_gen_seed(&r, seed);
        int count = (int)(seed % ORDER_ITEMS_MAX) + 1;
        ck_assert_int_eq(
            cart_gen_create(&r, "ORDER-1", count, 1764079200123LL, &ev, err, sizeof err), 0);
        ck_assert_int_eq(ev.type, ORDER_EVENT_CREATE);
        ck_assert_uint_eq(ev.item_count, (size_t)count);
        int64_t sum = 0;
        for (size_t i = 0; i < ev.item_count; i++) {
            ck_assert_int_ge(ev.items[i].quantity, CART_GEN_QTY_MIN);
            ck_assert_int_le(ev.items[i].quantity, CART_GEN_QTY_MAX);
            ck_assert_int_ge(ev.items[i].price_cents, CART_GEN_PRICE_MIN_CENTS);
            ck_assert_int_le(ev.items[i].price_cents, CART_GEN_PRICE_MAX_CENTS);
            ck_assert_int_eq(strncmp(ev.items[i].item_id, "ITEM-", 5), 0);
            sum += ev.items[i].price_cents * ev.items[i].quantity;
        }
        ck_assert_int_eq(ev.total_cents, sum);
        ck_assert_str_eq(ev.currency, "USD");
        ck_assert_str_eq(ev.status, "new");
        ck_assert_str_eq(ev.order_id, "ORDER-1");
        ck_assert_int_eq(strncmp(ev.customer_id, "CUST-", 5), 0);
        ck_assert_int_eq(ev.timestamp_ms, 1764079200123LL);
        ck_assert_str_eq(ev.order_date, "2025-11-25T14:00:00.123Z");
        ck_assert_msg(order_event_validate(&ev, err, sizeof err) == 0, "%s", err);
    }
}
END_TEST

START_TEST(test_rejects_bad_arguments)
{
    static order_event ev;
    char err[128];
    cart_gen_rng r;
    cart_gen_seed(&r, 7);
    ck_assert_int_eq(cart_gen_create(&r, "A", 0, 0, &ev, err, sizeof err), -1);
    ck_assert_int_eq(cart_gen_create(&r, "A", ORDER_ITEMS_MAX + 1, 0, &ev, err, sizeof err), -1);
    ck_assert_int_eq(cart_gen_create(&r, "bad id", 1, 0, &ev, err, sizeof err), -1);
    ck_assert_int_eq(cart_gen_update("A", "", 0, &ev, err, sizeof err), -1);
}
END_TEST

START_TEST(test_range_hits_both_ends)
{
    cart_gen_rng r;
    cart_gen_seed(&r, 42);
    int seen_lo = 0, seen_hi = 0;
    for (int i = 0; i < 10000; i++) {
        int64_t x = cart_gen_range(&r, 1, 5);
        ck_assert_int_ge(x, 1);
        ck_assert_int_le(x, 5);
        seen_lo |= x == 1;
        seen_hi |= x == 5;
    }
    ck_assert(seen_lo && seen_hi);
    ck_assert_int_eq(cart_gen_range(&r, 9, 9), 9);
}
END_TEST

START_TEST(test_time_format)
{
    char buf[ORDER_DATE_MAX + 1];
    ck_assert_int_eq(clock_format_iso_ms(0, buf, sizeof buf), 0);
    ck_assert_str_eq(buf, "1970-01-01T00:00:00.000Z");
    ck_assert_int_eq(clock_format_iso_ms(1764079200999LL, buf, sizeof buf), 0);
    ck_assert_str_eq(buf, "2025-11-25T14:00:00.999Z");
    ck_assert_int_eq(clock_format_iso_ms(0, buf, 10), -1);
}
END_TEST

START_TEST(test_update_event)
{
    static order_event ev;
    char err[128];
    memset(&ev, 'x', sizeof ev); /* stale content must not leak into an UPDATE */
    ck_assert_int_eq(cart_gen_update("ORDER-9", "shipped", 5, &ev, err, sizeof err), 0);
    ck_assert_int_eq(ev.type, ORDER_EVENT_UPDATE);
    ck_assert_uint_eq(ev.item_count, 0);
    ck_assert_str_eq(ev.status, "shipped");
    ck_assert_str_eq(ev.customer_id, "");
    ck_assert_msg(order_event_validate(&ev, err, sizeof err) == 0, "%s", err);
}
END_TEST

START_TEST(test_avro_round_trip_with_framing)
{
    static order_event ev, back;
    static uint8_t buf[CODEC_MAX_ENCODED];
    char err[256];
    codec *c = codec_new(order_schema_json, err, sizeof err);
    ck_assert_msg(c != NULL, "%s", err);
    ck_assert_int_eq(codec_add_writer_schema(c, 77, codec_reader_schema_json(c), err, sizeof err),
                     CODEC_OK);
    cart_gen_rng r;
    cart_gen_seed(&r, 99);
    ck_assert_int_eq(cart_gen_create(&r, "RT-1", ORDER_ITEMS_MAX, 1000, &ev, err, sizeof err), 0);
    size_t len = 0;
    ck_assert_int_eq(codec_encode(c, 77, &ev, buf, sizeof buf, &len, err, sizeof err), CODEC_OK);
    ck_assert_uint_gt(len, CODEC_WIRE_HEADER);
    ck_assert_int_eq(buf[0], 0);
    ck_assert_int_eq((buf[1] << 24) | (buf[2] << 16) | (buf[3] << 8) | buf[4], 77);
    uint32_t id = 0;
    memset(&back, 0, sizeof back);
    ck_assert_int_eq(codec_decode(c, buf, len, &id, &back, err, sizeof err), CODEC_OK);
    ck_assert_uint_eq(id, 77);
    ck_assert_str_eq(back.order_id, ev.order_id);
    ck_assert_str_eq(back.customer_id, ev.customer_id);
    ck_assert_str_eq(back.order_date, ev.order_date);
    ck_assert_uint_eq(back.item_count, ev.item_count);
    for (size_t i = 0; i < ev.item_count; i++) {
        ck_assert_str_eq(back.items[i].item_id, ev.items[i].item_id);
        ck_assert_int_eq(back.items[i].quantity, ev.items[i].quantity);
        ck_assert_int_eq(back.items[i].price_cents, ev.items[i].price_cents);
    }
    ck_assert_int_eq(back.total_cents, ev.total_cents);

    ck_assert_int_eq(cart_gen_update("RT-1", "delivered", 2000, &ev, err, sizeof err), 0);
    ck_assert_int_eq(codec_encode(c, 77, &ev, buf, sizeof buf, &len, err, sizeof err), CODEC_OK);
    ck_assert_int_eq(codec_decode(c, buf, len, &id, &back, err, sizeof err), CODEC_OK);
    ck_assert_int_eq(back.type, ORDER_EVENT_UPDATE);
    ck_assert_str_eq(back.status, "delivered");
    ck_assert_int_eq(back.timestamp_ms, 2000);
    codec_free(c);
}
END_TEST

Suite *test_suite(int *rc)
{
    (void)rc;
    Suite *s = suite_create("cart_gen");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_invariants_many_seeds);
    tcase_add_test(tc, test_rejects_bad_arguments);
    tcase_add_test(tc, test_range_hits_both_ends);
    tcase_add_test(tc, test_time_format);
    tcase_add_test(tc, test_update_event);
    tcase_add_test(tc, test_avro_round_trip_with_framing);
    suite_add_tcase(s, tc);
    return s;
}
