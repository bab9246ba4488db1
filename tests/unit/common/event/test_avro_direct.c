/*
 * Unit tests of event/avro_direct.c through the codec: the direct encoding of
 * the shipped schema gives libavro's bytes exactly, over creates with 0 to
 * ORDER_ITEMS_MAX items, the longest strings, decimal and varint edges, and
 * updates; it decodes back; a too small buffer fails cleanly; and a reader
 * schema with another field order is not encoded directly (libavro does it).
 */
#include "event/avro_codec.h"
#include "event/order_schema.h"

#include "test_main.h"

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ID 0x01020304u

static codec *codec_for(const char *schema)
{
    char err[256] = "";
    codec *c = codec_new(schema, err, sizeof err);
    ck_assert_msg(c != NULL, "codec_new: %s", err);
    ck_assert_msg(codec_add_writer_schema(c, ID, schema, err, sizeof err) == CODEC_OK, "%s", err);
    return c;
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;
static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static void fill_str(char *dst, size_t max, char base)
{
    size_t n = rnd() % (max + 1);
    for (size_t i = 0; i < n; i++)
        dst[i] = (char)(base + (int)(rnd() % 26));
    dst[n] = '\0';
}

/* A random event; k steers it to the edges now and then. */
static void make_event(order_event *ev, int k)
{
    memset(ev, 0, sizeof *ev);
    static const int64_t edges[] = {0, 1, 63, 64, -64, -65, 127, 128, 8191, 8192, 99999999999LL};
    int update = k % 5 == 4;
    ev->type = update ? ORDER_EVENT_UPDATE : ORDER_EVENT_CREATE;
    fill_str(ev->order_id, ORDER_ID_MAX, 'A');
    if (!ev->order_id[0])
        strcpy(ev->order_id, "X");
    ev->timestamp_ms = (k % 3 == 0) ? edges[(size_t)k % 11] : (int64_t)(rnd() >> 1);
    if (k % 7 == 0)
        ev->timestamp_ms = -ev->timestamp_ms;
    if (update) {
        strcpy(ev->status, k % 2 ? "shipped" : "cancelled");
        return;
    }
    fill_str(ev->customer_id, ORDER_CUSTOMER_ID_MAX, 'a');
    fill_str(ev->order_date, ORDER_DATE_MAX, '0');
    strcpy(ev->currency, "USD");
    strcpy(ev->status, "new");
    ev->item_count = k % 11 == 0 ? ORDER_ITEMS_MAX : (size_t)(rnd() % 6);
    for (size_t i = 0; i < ev->item_count; i++) {
        order_item *it = &ev->items[i];
        fill_str(it->item_id, ORDER_ITEM_ID_MAX, 'a');
        it->quantity = (int32_t)(rnd() % 1000) - (k % 13 == 0 ? 500 : 0);
        it->price_cents = i < 11 ? edges[i] : (int64_t)(rnd() % 100000000);
        ev->total_cents += it->price_cents;
    }
}

START_TEST(test_same_bytes_as_libavro)
{
    codec *c = codec_for(order_schema_json);
    ck_assert_int_eq(codec_encodes_directly(c), 1);
    static uint8_t direct[CODEC_MAX_ENCODED], generic[CODEC_MAX_ENCODED];
    static order_event ev, back;
    char err[256];
    for (int k = 0; k < 2000; k++) {
        make_event(&ev, k);
        size_t nd = 0, ng = 0;
        ck_assert_msg(codec_encode(c, ID, &ev, direct, sizeof direct, &nd, err, sizeof err) ==
                          CODEC_OK,
                      "event %d: %s", k, err);
        ck_assert_int_eq(
            codec_encode_path(c, ID, &ev, generic, sizeof generic, &ng, 1, err, sizeof err),
            CODEC_OK);
        ck_assert_uint_eq(nd, ng);
        ck_assert_msg(memcmp(direct, generic, nd) == 0, "event %d: bytes differ", k);
        uint32_t sid = 0;
        ck_assert_msg(codec_decode(c, direct, nd, &sid, &back, err, sizeof err) == CODEC_OK,
                      "event %d: %s", k, err);
        ck_assert_uint_eq(sid, ID);
        ck_assert_str_eq(back.order_id, ev.order_id);
        ck_assert_int_eq(back.timestamp_ms, ev.timestamp_ms);
        ck_assert_uint_eq(back.item_count, ev.item_count);
        for (size_t i = 0; i < ev.item_count; i++) {
            ck_assert_str_eq(back.items[i].item_id, ev.items[i].item_id);
            ck_assert_int_eq(back.items[i].price_cents, ev.items[i].price_cents);
            ck_assert_int_eq(back.items[i].quantity, ev.items[i].quantity);
        }
    }
    codec_free(c);
}
END_TEST

START_TEST(test_small_buffer)
{
    codec *c = codec_for(order_schema_json);
    static order_event ev;
    make_event(&ev, 11); /* ORDER_ITEMS_MAX items */
    uint8_t full[CODEC_MAX_ENCODED];
    char err[256];
    size_t n = 0;
    ck_assert_int_eq(codec_encode(c, ID, &ev, full, sizeof full, &n, err, sizeof err), CODEC_OK);
    /* every size short of the frame fails, and never writes past cap (ASan watches) */
    for (size_t cap = 6; cap < n; cap += 1 + cap / 8) {
        uint8_t *b = malloc(cap);
        ck_assert_ptr_nonnull(b);
        size_t m = 0;
        ck_assert_int_eq(codec_encode(c, ID, &ev, b, cap, &m, err, sizeof err), CODEC_ERR_INTERNAL);
        free(b);
    }
    uint8_t *exact = malloc(n);
    ck_assert_ptr_nonnull(exact);
    size_t m = 0;
    ck_assert_int_eq(codec_encode(c, ID, &ev, exact, n, &m, err, sizeof err), CODEC_OK);
    ck_assert_uint_eq(m, n);
    ck_assert_int_eq(memcmp(exact, full, n), 0);
    free(exact);
    codec_free(c);
}
END_TEST

START_TEST(test_other_layout_uses_libavro)
{
    /* orderId first: a valid OrderEvent, but not the order the direct writer knows */
    const char *from = "{\"name\": \"eventType\"";
    const char *at = strstr(order_schema_json, from);
    const char *oid = strstr(order_schema_json, "{\"name\": \"orderId\", \"type\": \"string\"},");
    ck_assert_ptr_nonnull(at);
    ck_assert_ptr_nonnull(oid);
    const char *oid_end = oid + strlen("{\"name\": \"orderId\", \"type\": \"string\"},");
    size_t total = strlen(order_schema_json);
    char *s = malloc(total + 2);
    ck_assert_ptr_nonnull(s);
    /* prefix, the orderId field, the fields before it, the rest */
    size_t pre = (size_t)(at - order_schema_json);
    size_t olen = (size_t)(oid_end - oid);
    memcpy(s, order_schema_json, pre);
    memcpy(s + pre, oid, olen);
    memcpy(s + pre + olen, at, (size_t)(oid - at));
    strcpy(s + pre + olen + (size_t)(oid - at), oid_end);
    codec *c = codec_for(s);
    ck_assert_int_eq(codec_encodes_directly(c), 0);
    static order_event ev, back;
    uint8_t b[CODEC_MAX_ENCODED];
    char err[256];
    for (int k = 0; k < 50; k++) {
        make_event(&ev, k);
        size_t n = 0;
        uint32_t sid = 0;
        ck_assert_int_eq(codec_encode(c, ID, &ev, b, sizeof b, &n, err, sizeof err), CODEC_OK);
        ck_assert_msg(codec_decode(c, b, n, &sid, &back, err, sizeof err) == CODEC_OK, "%s", err);
        ck_assert_str_eq(back.order_id, ev.order_id);
        ck_assert_int_eq(back.timestamp_ms, ev.timestamp_ms);
    }
    codec_free(c);
    free(s);
}
END_TEST

Suite *test_suite(int *rc)
{
    (void)rc;
    Suite *s = suite_create("avro_direct");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_same_bytes_as_libavro);
    tcase_add_test(tc, test_small_buffer);
    tcase_add_test(tc, test_other_layout_uses_libavro);
    suite_add_tcase(s, tc);
    return s;
}
