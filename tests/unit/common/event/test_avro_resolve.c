/*
 * test_avro_resolve: Avro schema resolution on the reader side (issue 13).
 *
 * Two levels: the contract through the codec (the current writer against a
 * reader with an added defaulted field, an old writer lacking a field the
 * reader defaults, a newer writer with extra and reordered fields, an
 * unresolvable pair and its reason, through order_decoder to a DLQ verdict),
 * and the resolver's rules one by one on a small schema pair (promotions,
 * aliases, enum defaults, union branches by name, nested defaults), read
 * back out of the reader-schema value the plan filled. Writer frames are
 * built by hand with a tiny Avro writer, independent of the code under test.
 */
#include "event/avro_codec.h"
#include "event/avro_jschema.h"
#include "event/avro_plan.h"
#include "event/avro_resolve.h"
#include "event/avro_walk.h"
#include "event/order_decoder.h"
#include "event/order_schema.h"

#include "avro_test_kit.h"
#include "test_main.h"

#include <avro.h>
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ------------------------------------------------------------ */

static void add_ok(codec *c, uint32_t id, const char *schema)
{
    char err[256] = "";
    codec_status st = codec_add_writer_schema(c, id, schema, err, sizeof err);
    ck_assert_msg(st == CODEC_OK, "writer %u: %s %s", id, codec_status_name(st), err);
}

static order_event *sample_create(void)
{
    order_event *ev = calloc(1, sizeof *ev);
    ck_assert_ptr_nonnull(ev);
    ev->type = ORDER_EVENT_CREATE;
    strcpy(ev->order_id, "EVO-1");
    ev->timestamp_ms = 1764079200123;
    strcpy(ev->customer_id, "CUST-000001");
    strcpy(ev->order_date, "2026-11-25T14:00:00.123Z");
    strcpy(ev->currency, "USD");
    strcpy(ev->status, "new");
    ev->item_count = 2;
    strcpy(ev->items[0].item_id, "ITEM-00001");
    ev->items[0].quantity = 2;
    ev->items[0].price_cents = 1999;
    strcpy(ev->items[1].item_id, "ITEM-00002");
    ev->items[1].quantity = 1;
    ev->items[1].price_cents = 500;
    ev->total_cents = 4498;
    return ev;
}

static codec_status decode_frame(codec *c, size_t len, order_event *out, char *err, size_t errlen)
{
    uint32_t sid = 0;
    return codec_decode(c, frame, len, &sid, out, err, errlen);
}

/* The reader ARCHITECTURE.md's first evolution step deploys: a new field
 * with a default, after orderId. */
static const char *const CHANNEL_FROM = "{\"name\": \"orderId\", \"type\": \"string\"},";
static const char *const CHANNEL_TO = "{\"name\": \"orderId\", \"type\": \"string\"},"
                                      "{\"name\": \"channel\", \"type\": \"string\", "
                                      "\"default\": \"web\"},";

/* ---- the contract through the codec ------------------------------------- */

START_TEST(test_current_writer_reader_with_added_default)
{
    /* Failed before: "OrderEvent.channel is not in the writer schema", so
     * every event of the current writer went to the DLQ. */
    char *rschema = schema_edit(CHANNEL_FROM, CHANNEL_TO);
    codec *writer = new_codec(order_schema_json), *reader = new_codec(rschema);
    order_event *ev = sample_create(), *out = calloc(1, sizeof *out);
    order_event upd = {.type = ORDER_EVENT_UPDATE, .timestamp_ms = 7};
    char err[256] = "";
    size_t len;

    strcpy(upd.order_id, "EVO-1");
    strcpy(upd.status, "shipped");
    add_ok(reader, 7, order_schema_json);
    len = encode_ok(writer, 7, ev);
    codec_status st = decode_frame(reader, len, out, err, sizeof err);
    ck_assert_msg(st == CODEC_OK, "%s %s", codec_status_name(st), err);
    assert_same(ev, out);
    len = encode_ok(writer, 7, &upd);
    ck_assert_int_eq(decode_frame(reader, len, out, err, sizeof err), CODEC_OK);
    ck_assert_int_eq(out->type, ORDER_EVENT_UPDATE);
    ck_assert_str_eq(out->status, "shipped");
    /* and the evolved writer (step 2) is read by the same reader */
    add_ok(reader, 8, rschema);
    len = encode_ok(reader, 8, ev);
    ck_assert_int_eq(decode_frame(reader, len, out, err, sizeof err), CODEC_OK);
    assert_same(ev, out);
    free(rschema);
    free(ev);
    free(out);
    codec_free(writer);
    codec_free(reader);
}
END_TEST

START_TEST(test_old_writer_lacks_defaulted_field)
{
    /* The reader defaults currency and an item's quantity; an old writer
     * has neither: the event decodes with the defaults. */
    char *r1 = schema_edit("{\"name\": \"currency\", \"type\": \"string\"}",
                           "{\"name\": \"currency\", \"type\": \"string\", \"default\": \"EUR\"}");
    char *rschema = schema_edit_in(r1, "{\"name\": \"quantity\", \"type\": \"int\"}",
                                   "{\"name\": \"quantity\", \"type\": \"int\", \"default\": 1}");
    char *w1 = schema_edit("{\"name\": \"currency\", \"type\": \"string\"},", "");
    char *wschema = schema_edit_in(w1, "{\"name\": \"quantity\", \"type\": \"int\"},", "");
    codec *reader = new_codec(rschema);
    order_event *out = calloc(1, sizeof *out);
    char err[256] = "";
    bb w = {.n = 0};

    add_ok(reader, 20, wschema);
    put_header(&w, 20);
    put_long(&w, 0); /* CREATE */
    put_cstr(&w, "OLD-1");
    put_long(&w, 1000);
    put_long(&w, 0); /* CreateOrderPayload */
    put_cstr(&w, "CUST-1");
    put_cstr(&w, "2026-01-01T00:00:00.000Z");
    put_long(&w, 1); /* one item: itemId, price (no quantity) */
    put_cstr(&w, "ITEM-1");
    put_long(&w, 2);
    put_raw(&w, "\x01\xf4", 2); /* 5.00 */
    put_long(&w, 0);
    put_long(&w, 2);
    put_raw(&w, "\x01\xf4", 2); /* total 5.00 (no currency follows) */
    put_cstr(&w, "new");
    memcpy(frame, w.b, w.n);
    codec_status st = decode_frame(reader, w.n, out, err, sizeof err);
    ck_assert_msg(st == CODEC_OK, "%s %s", codec_status_name(st), err);
    ck_assert_str_eq(out->order_id, "OLD-1");
    ck_assert_str_eq(out->currency, "EUR");
    ck_assert_uint_eq(out->item_count, 1);
    ck_assert_int_eq(out->items[0].quantity, 1);
    ck_assert_int_eq(out->items[0].price_cents, 500);
    ck_assert_int_eq(out->total_cents, 500);
    ck_assert_str_eq(out->status, "new");
    ck_assert_int_eq(order_event_validate(out, err, sizeof err), 0);
    free(r1);
    free(rschema);
    free(w1);
    free(wschema);
    free(out);
    codec_free(reader);
}
END_TEST

START_TEST(test_writer_extra_and_reordered_fields)
{
    /* A newer writer: payload before orderId, timestamp moved last, the
     * payload branches and the enum symbols in another order, every record's
     * fields shuffled, extra fields at the top and in OrderItem. */
    static const char wschema[] =
        "{\"type\":\"record\",\"name\":\"OrderEvent\",\"namespace\":\"com.orderstream.events\","
        "\"fields\":[{\"name\":\"eventType\",\"type\":{\"type\":\"enum\",\"name\":\"EventType\","
        "\"symbols\":[\"UPDATE\",\"CREATE\",\"DELETE\"]}},"
        "{\"name\":\"source\",\"type\":\"string\",\"default\":\"\"},"
        "{\"name\":\"payload\",\"type\":[{\"type\":\"record\",\"name\":\"UpdateOrderPayload\","
        "\"fields\":[{\"name\":\"status\",\"type\":\"string\"}]},{\"type\":\"record\",\"name\":"
        "\"CreateOrderPayload\",\"fields\":[{\"name\":\"status\",\"type\":\"string\"},"
        "{\"name\":\"currency\",\"type\":\"string\"},{\"name\":\"totalAmount\",\"type\":{"
        "\"type\":\"bytes\",\"logicalType\":\"decimal\",\"precision\":14,\"scale\":2}},"
        "{\"name\":\"items\",\"type\":{\"type\":\"array\",\"items\":{\"type\":\"record\","
        "\"name\":\"OrderItem\",\"fields\":[{\"name\":\"price\",\"type\":{\"type\":\"bytes\","
        "\"logicalType\":\"decimal\",\"precision\":12,\"scale\":2}},{\"name\":\"attrs\","
        "\"type\":{\"type\":\"map\",\"values\":\"double\"},\"default\":{}},"
        "{\"name\":\"quantity\",\"type\":\"int\"},{\"name\":\"itemId\",\"type\":\"string\"}]}}},"
        "{\"name\":\"orderDate\",\"type\":\"string\"},{\"name\":\"customerId\",\"type\":"
        "\"string\"}]}]},"
        "{\"name\":\"orderId\",\"type\":\"string\"},"
        "{\"name\":\"timestamp\",\"type\":\"long\"}]}";
    codec *writer = new_codec(wschema), *reader = new_codec(order_schema_json);
    order_event *ev = sample_create(), *out = calloc(1, sizeof *out);
    char err[256] = "";
    size_t len, std_len;

    add_ok(reader, 30, wschema);
    len = encode_ok(writer, 30, ev);
    ck_assert_uint_eq(frame[5], 0x02); /* CREATE is this writer's symbol 1 */
    ck_assert_uint_eq(frame[6], 0x00); /* source: empty string */
    ck_assert_uint_eq(frame[7], 0x02); /* payload: its branch 1 */
    codec_status st = decode_frame(reader, len, out, err, sizeof err);
    ck_assert_msg(st == CODEC_OK, "%s %s", codec_status_name(st), err);
    assert_same(ev, out);
    /* the extra fields were on the wire: 1 byte of source, 1 per item map */
    std_len = encode_ok(reader, 7, ev);
    ck_assert_uint_eq(len, std_len + 1 + 2);
    /* a DELETE from this writer: the reader has no such symbol, no default */
    len = encode_ok(writer, 30, ev);
    frame[5] = 0x04;
    ck_assert_int_eq(decode_frame(reader, len, out, err, sizeof err), CODEC_ERR_INCOMPATIBLE);
    ck_assert_ptr_nonnull(strstr(err, "DELETE"));
    free(ev);
    free(out);
    codec_free(writer);
    codec_free(reader);
}
END_TEST

START_TEST(test_enum_default_and_alias)
{
    /* The reader's enum has a default; the writer renamed orderId, which a
     * reader alias follows. */
    char *r1 = schema_edit("\"symbols\": [\"CREATE\", \"UPDATE\"]}",
                           "\"symbols\": [\"CREATE\", \"UPDATE\"], \"default\": \"UPDATE\"}");
    char *rschema = schema_edit_in(r1, "{\"name\": \"orderId\", \"type\": \"string\"}",
                                   "{\"name\": \"orderId\", \"type\": \"string\", "
                                   "\"aliases\": [\"order_id\"]}");
    char *w1 = schema_edit("\"symbols\": [\"CREATE\", \"UPDATE\"]",
                           "\"symbols\": [\"CREATE\", \"UPDATE\", \"ARCHIVE\"]");
    char *wschema = schema_edit_in(w1, "\"name\": \"orderId\"", "\"name\": \"order_id\"");
    codec *reader = new_codec(rschema);
    order_event *out = calloc(1, sizeof *out);
    char err[256] = "";
    bb w = {.n = 0};

    add_ok(reader, 40, wschema);
    put_header(&w, 40);
    put_long(&w, 2); /* ARCHIVE: reader default UPDATE */
    put_cstr(&w, "ALIAS-1");
    put_long(&w, 5);
    put_long(&w, 1);
    put_cstr(&w, "cancelled");
    memcpy(frame, w.b, w.n);
    codec_status st = decode_frame(reader, w.n, out, err, sizeof err);
    ck_assert_msg(st == CODEC_OK, "%s %s", codec_status_name(st), err);
    ck_assert_int_eq(out->type, ORDER_EVENT_UPDATE);
    ck_assert_str_eq(out->order_id, "ALIAS-1");
    ck_assert_str_eq(out->status, "cancelled");
    free(r1);
    free(rschema);
    free(w1);
    free(wschema);
    free(out);
    codec_free(reader);
}
END_TEST

START_TEST(test_unresolvable_pairs)
{
    static const char *const readers[][3] = {
        /* a required reader field the writer lacks, no default */
        {"{\"name\": \"orderId\", \"type\": \"string\"},",
         "{\"name\": \"orderId\", \"type\": \"string\"},{\"name\": \"region\", \"type\": "
         "\"string\"},",
         "OrderEvent.region is not in the writer schema and has no default"},
        /* a default of the wrong type */
        {"{\"name\": \"orderId\", \"type\": \"string\"},",
         "{\"name\": \"orderId\", \"type\": \"string\"},{\"name\": \"region\", \"type\": "
         "\"string\", \"default\": 5},",
         "OrderEvent.region: default of a string is not a string"},
        /* an enum default that is not a symbol */
        {"\"symbols\": [\"CREATE\", \"UPDATE\"]}",
         "\"symbols\": [\"CREATE\", \"UPDATE\"], \"default\": \"NOPE\"}",
         "default is not one of its symbols"},
    };
    for (size_t i = 0; i < sizeof readers / sizeof readers[0]; i++) {
        char *rschema = schema_edit(readers[i][0], readers[i][1]);
        codec *reader = new_codec(rschema);
        char err[256] = "";
        ck_assert_int_eq(codec_add_writer_schema(reader, 50, order_schema_json, err, sizeof err),
                         CODEC_ERR_INCOMPATIBLE);
        ck_assert_msg(strstr(err, readers[i][2]) != NULL, "case %zu: %s", i, err);
        free(rschema);
        codec_free(reader);
    }
    /* a writer decimal read into the reader's decimal needs the same scale,
     * and a string is not a decimal even though string -> bytes promotes */
    codec *reader = new_codec(order_schema_json);
    char err[256] = "";
    char *w = schema_edit("{\"type\": \"bytes\", \"logicalType\": \"decimal\", \"precision\": 14, "
                          "\"scale\": 2}",
                          "\"string\"");
    ck_assert_int_eq(codec_add_writer_schema(reader, 51, w, err, sizeof err),
                     CODEC_ERR_INCOMPATIBLE);
    ck_assert_msg(strstr(err, "totalAmount") && strstr(err, "decimal"), "%s", err);
    free(w);
    /* narrowing is not a promotion */
    w = schema_edit("{\"name\": \"quantity\", \"type\": \"int\"}",
                    "{\"name\": \"quantity\", \"type\": \"long\"}");
    ck_assert_int_eq(codec_add_writer_schema(reader, 52, w, err, sizeof err),
                     CODEC_ERR_INCOMPATIBLE);
    ck_assert_msg(strstr(err, "quantity") != NULL, "%s", err);
    free(w);
    codec_free(reader);
}
END_TEST

START_TEST(test_unresolvable_is_a_dlq_verdict)
{
    /* order_decoder with a reader that requires a field the writer lacks:
     * a DESERIALIZATION_ERROR dead letter carrying the resolver's reason,
     * and the next event of a resolvable writer still decodes. */
    char *rschema = schema_edit(CHANNEL_FROM, "{\"name\": \"orderId\", \"type\": \"string\"},"
                                              "{\"name\": \"region\", \"type\": \"string\"},");
    char *good =
        schema_edit_in(rschema, "{\"name\": \"region\", \"type\": \"string\"}",
                       "{\"name\": \"region\", \"type\": \"string\", \"default\": \"eu\"}");
    char err[256] = "";
    order_decoder *d =
        order_decoder_new_with_reader("http://127.0.0.1:1", rschema, err, sizeof err);
    order_decoder *d2 = order_decoder_new_with_reader("http://127.0.0.1:1", good, err, sizeof err);
    codec *writer = new_codec(order_schema_json);
    order_event *ev = sample_create(), *out = calloc(1, sizeof *out);
    order_decoder_result r;
    size_t len;

    ck_assert_msg(d != NULL && d2 != NULL, "%s", err);
    ck_assert_int_eq(order_decoder_add_schema(d, 3, order_schema_json, err, sizeof err), -1);
    ck_assert_int_eq(order_decoder_add_schema(d2, 3, order_schema_json, err, sizeof err), 0);
    len = encode_ok(writer, 3, ev);
    order_decoder_decode(d, frame, len, out, &r);
    ck_assert_int_eq(r.kind, ORDER_DECODER_DLQ);
    ck_assert_str_eq(r.reason, DLQ_R_DESERIALIZATION);
    ck_assert_msg(strstr(r.message, "OrderEvent.region is not in the writer schema") != NULL, "%s",
                  r.message);
    order_decoder_decode(d2, frame, len, out, &r);
    ck_assert_msg(r.kind == ORDER_DECODER_EVENT, "%s", r.message);
    assert_same(ev, out);
    /* no reader schema at all, or one that is not an OrderEvent */
    ck_assert_ptr_null(
        order_decoder_new_with_reader("http://127.0.0.1:1", "\"string\"", err, sizeof err));
    ck_assert_ptr_nonnull(strstr(err, "reader schema"));
    order_decoder_free(d);
    order_decoder_free(d2);
    codec_free(writer);
    free(ev);
    free(out);
    free(rschema);
    free(good);
}
END_TEST

static Suite *resolve_suite(void)
{
    Suite *s = suite_create("avro_resolve");
    TCase *tc = tcase_create("resolve");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_current_writer_reader_with_added_default);
    tcase_add_test(tc, test_old_writer_lacks_defaulted_field);
    tcase_add_test(tc, test_writer_extra_and_reordered_fields);
    tcase_add_test(tc, test_enum_default_and_alias);
    tcase_add_test(tc, test_unresolvable_pairs);
    tcase_add_test(tc, test_unresolvable_is_a_dlq_verdict);
    suite_add_tcase(s, tc);
    return s;
}

Suite *test_suite(int *rc)
{
    (void)rc;
    return resolve_suite();
}
