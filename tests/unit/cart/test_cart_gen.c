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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* cart_gen_request_seed's values for two requests, fixed when it was written */
#define SEED_ORDER_1_3 0xebad41c17bd60f45ULL
#define SEED_ORDER_1_3_K 0x095427b8205339deULL

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
        /* the ids are exactly "CUST-%06d" and "ITEM-%05d" of the same draws */
        cart_gen_rng again;
        cart_gen_seed(&again, seed);
        char want[16];
        snprintf(want, sizeof want, "CUST-%06d", (int)cart_gen_range(&again, 0, 999999));
        ck_assert_str_eq(ev.customer_id, want);
        for (size_t i = 0; i < ev.item_count; i++) {
            snprintf(want, sizeof want, "ITEM-%05d", (int)cart_gen_range(&again, 0, 99999));
            ck_assert_str_eq(ev.items[i].item_id, want);
            ck_assert_int_eq(ev.items[i].quantity,
                             cart_gen_range(&again, CART_GEN_QTY_MIN, CART_GEN_QTY_MAX));
            ck_assert_int_eq(
                ev.items[i].price_cents,
                cart_gen_range(&again, CART_GEN_PRICE_MIN_CENTS, CART_GEN_PRICE_MAX_CENTS));
        }
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

/* The content of a create, everything but its times. */
static void content_of(const order_event *ev, char *out, size_t cap)
{
    size_t n = (size_t)snprintf(out, cap, "%s|%s|%lld|%s|", ev->order_id, ev->customer_id,
                                (long long)ev->total_cents, ev->currency);
    for (size_t i = 0; i < ev->item_count && n < cap; i++)
        n += (size_t)snprintf(out + n, cap - n, "%s:%d:%lld;", ev->items[i].item_id,
                              ev->items[i].quantity, (long long)ev->items[i].price_cents);
}

static void request_content(const char *id, int count, const char *key, int64_t now, char *out,
                            size_t cap)
{
    static order_event ev;
    char err[128];
    cart_gen_rng r;
    cart_gen_seed(&r, cart_gen_request_seed(id, count, key, key ? strlen(key) : 0));
    ck_assert_int_eq(cart_gen_create(&r, id, count, now, &ev, err, sizeof err), 0);
    content_of(&ev, out, cap);
}

START_TEST(test_same_request_same_order)
{
    static char a[8192], b[8192];
    /* at another time (a retry): the same content */
    request_content("ORDER-1", 7, NULL, 1000, a, sizeof a);
    request_content("ORDER-1", 7, NULL, 99999, b, sizeof b);
    ck_assert_str_eq(a, b);
    request_content("ORDER-1", 7, "key-1", 1000, a, sizeof a);
    request_content("ORDER-1", 7, "key-1", 5000, b, sizeof b);
    ck_assert_str_eq(a, b);
    /* anything else differs: orderId, itemsCount, the key, a key or none */
    request_content("ORDER-1", 7, NULL, 1000, a, sizeof a);
    static const struct {
        const char *id;
        int count;
        const char *key;
    } other[] = {{"ORDER-2", 7, NULL},    {"ORDER-1", 6, NULL},  {"ORDER-1", 7, "key-1"},
                 {"ORDER-1", 7, "key-2"}, {"ORDER-10", 7, NULL}, {"ORDER-1", 7, ""}};
    for (size_t i = 0; i < sizeof other / sizeof other[0]; i++) {
        request_content(other[i].id, other[i].count, other[i].key, 1000, b, sizeof b);
        /* the customer is drawn first: it differs too, not only the orderId */
        ck_assert_msg(strcmp(strchr(a, '|'), strchr(b, '|')) != 0, "same content for case %zu", i);
    }
}
END_TEST

START_TEST(test_request_seed_is_stable_and_spread)
{
    /* Part of the contract: a retry to another instance or after an upgrade must
     * get the same order, so the seed of a request never changes. */
    ck_assert_uint_eq(cart_gen_request_seed("ORDER-1", 3, NULL, 0),
                      cart_gen_request_seed("ORDER-1", 3, NULL, 0));
    ck_assert_uint_eq(cart_gen_request_seed("ORDER-1", 3, NULL, 0), SEED_ORDER_1_3);
    ck_assert_uint_eq(cart_gen_request_seed("ORDER-1", 3, "k", 1), SEED_ORDER_1_3_K);
    /* field boundaries are part of the hash: "AB"+"" is not "A"+"B" */
    ck_assert_uint_ne(cart_gen_request_seed("A", 1, "B", 1), cart_gen_request_seed("AB", 1, "", 0));
    /* neighbours spread over the whole 64 bits */
    uint64_t x =
        cart_gen_request_seed("ORDER-1", 1, NULL, 0) ^ cart_gen_request_seed("ORDER-1", 2, NULL, 0);
    ck_assert_int_ge(__builtin_popcountll(x), 16);
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
    tcase_add_test(tc, test_same_request_same_order);
    tcase_add_test(tc, test_request_seed_is_stable_and_spread);
    suite_add_tcase(s, tc);
    return s;
}
