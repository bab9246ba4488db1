/*
 * test_avro_evolution: schema evolution through real libavro resolution
 * (extra fields, enums by name, incompatible writers), a bad reader schema,
 * the writer-schema cache bound, and reading the schema file.
 *
 * ORDERSTREAM_BENCH=N in the environment additionally runs N encode+decode
 * pairs and prints ns/op and libavro allocations/op (no assertion on time).
 */
#include "avro_test_kit.h"
#include "platform/fileio.h"
#include "test_main.h"

#include <avro.h>

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

START_TEST(test_evolution_extra_fields)
{
    /* a newer writer: extra top-level fields and an extra OrderItem field,
     * all with defaults; the reader must skip them */
    char *w1 = schema_edit_in(order_schema_json, "{\"name\": \"orderId\", \"type\": \"string\"},",
                              "{\"name\": \"orderId\", \"type\": \"string\"},"
                              "{\"name\": \"channel\", \"type\": \"string\", \"default\": \"web\"},"
                              "{\"name\": \"tags\", \"type\": {\"type\": \"array\", \"items\": "
                              "\"long\"}, \"default\": []},");
    char *w = schema_edit_in(w1, "{\"name\": \"itemId\", \"type\": \"string\"},",
                             "{\"name\": \"itemId\", \"type\": \"string\"},"
                             "{\"name\": \"sku\", \"type\": \"string\", \"default\": \"\"},");
    codec *writer = new_codec(w); /* encodes with the newer schema */
    codec *reader = std_codec();
    order_event *ev = make_create(4, 0), *out = calloc(1, sizeof *out);
    char err[256] = "";
    size_t len = encode_ok(writer, 99, ev);
    size_t std_len;

    ck_assert_int_eq(decode(reader, frame, len, out, err, sizeof err), CODEC_ERR_UNKNOWN_SCHEMA);
    ck_assert_int_eq(codec_add_writer_schema(reader, 99, w, err, sizeof err), CODEC_OK);
    codec_status st = decode(reader, frame, len, out, err, sizeof err);
    ck_assert_msg(st == CODEC_OK, "%s %s", codec_status_name(st), err);
    assert_same(ev, out);
    /* the extra fields really were on the wire: 2 top-level bytes + 1 per item */
    std_len = encode_ok(reader, ID, ev);
    ck_assert_uint_eq(len, std_len + 2 + 4);
    free(w1);
    free(w);
    free(ev);
    free(out);
    codec_free(writer);
    codec_free(reader);
}
END_TEST

START_TEST(test_evolution_enum_by_name)
{
    /* the writer reorders the enum and adds a symbol the reader lacks */
    char *w = schema_edit("\"symbols\": [\"CREATE\", \"UPDATE\"]",
                          "\"symbols\": [\"DELETE\", \"UPDATE\", \"CREATE\"]");
    codec *writer = new_codec(w), *reader = std_codec();
    order_event *ev = make_create(2, 0), *out = calloc(1, sizeof *out);
    char err[256] = "";
    size_t len = encode_ok(writer, 50, ev);

    ck_assert_uint_eq(frame[5], 0x04); /* CREATE is index 2 for this writer */
    ck_assert_int_eq(codec_add_writer_schema(reader, 50, w, err, sizeof err), CODEC_OK);
    ck_assert_int_eq(decode(reader, frame, len, out, err, sizeof err), CODEC_OK);
    ck_assert_int_eq(out->type, ORDER_EVENT_CREATE);
    assert_same(ev, out);
    frame[5] = 0x02; /* UPDATE, index 1: but the payload is still a CREATE body */
    ck_assert_int_eq(decode(reader, frame, len, out, err, sizeof err), CODEC_OK);
    ck_assert_int_eq(out->type, ORDER_EVENT_UPDATE);
    ck_assert_int_eq(order_event_validate(out, err, sizeof err), -1);
    frame[5] = 0x00; /* DELETE: unknown to the reader */
    ck_assert_int_eq(decode(reader, frame, len, out, err, sizeof err), CODEC_ERR_INCOMPATIBLE);
    free(w);
    free(ev);
    free(out);
    codec_free(writer);
    codec_free(reader);
}
END_TEST

START_TEST(test_evolution_incompatible)
{
    static const char *edits[][2] = {
        /* a reader field the writer lacks (no default in the reader) */
        {"{\"name\": \"currency\", \"type\": \"string\"},", ""},
        /* a type change that Avro cannot promote */
        {"{\"name\": \"orderId\", \"type\": \"string\"}", "{\"name\": \"orderId\", \"type\": "
                                                          "\"boolean\"}"},
        /* same bytes, different meaning: scale 3 */
        {"\"precision\": 12, \"scale\": 2}", "\"precision\": 12, \"scale\": 3}"},
        /* a renamed enum */
        {"\"name\": \"EventType\"", "\"name\": \"Kind\""},
    };
    codec *reader = std_codec();
    order_event *out = calloc(1, sizeof *out);
    char err[256];
    static const uint8_t frame42[] = {0, 0, 0, 0, 42, 2, 2, 'a', 0, 2, 2, 'x'};

    for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++) {
        char *w = schema_edit(edits[i][0], edits[i][1]);
        err[0] = '\0';
        ck_assert_msg(codec_add_writer_schema(reader, 40 + (uint32_t)i, w, err, sizeof err) ==
                          CODEC_ERR_INCOMPATIBLE,
                      "edit %zu", i);
        ck_assert_msg(err[0] != '\0', "edit %zu: no message", i);
        ck_assert_int_eq(codec_has_schema(reader, 40 + (uint32_t)i), 1); /* remembered */
        free(w);
    }
    /* remembered verdict: adding again and decoding fail fast */
    ck_assert_int_eq(codec_add_writer_schema(reader, 42, order_schema_json, err, sizeof err),
                     CODEC_ERR_INCOMPATIBLE);
    ck_assert_int_eq(decode(reader, frame42, sizeof frame42, out, err, sizeof err),
                     CODEC_ERR_INCOMPATIBLE);
    ck_assert_int_eq(codec_add_writer_schema(reader, 60, "{not json", err, sizeof err),
                     CODEC_ERR_INCOMPATIBLE);
    ck_assert_int_eq(codec_add_writer_schema(reader, 61, "\"string\"", err, sizeof err),
                     CODEC_ERR_INCOMPATIBLE);
    free(out);
    codec_free(reader);
}
END_TEST

START_TEST(test_bad_reader_schema)
{
    char err[256] = "";
    char *nodec = schema_edit("\"logicalType\": \"decimal\", \"precision\": 12, \"scale\": 2",
                              "\"logicalType\": \"decimal\", \"precision\": 12, \"scale\": 3");
    ck_assert_ptr_null(codec_new(nodec, err, sizeof err));
    ck_assert_ptr_nonnull(strstr(err, "decimal"));
    free(nodec);
    ck_assert_ptr_null(codec_new("{\"type\": \"string\"}", err, sizeof err));
    ck_assert_ptr_null(codec_new("nonsense", err, sizeof err));
    ck_assert_ptr_null(codec_new(NULL, err, sizeof err));
}
END_TEST

START_TEST(test_cache_bound)
{
    codec *c = new_codec(order_schema_json);
    char err[256];
    order_event *ev = make_create(1, 0), *out = calloc(1, sizeof *out);
    for (uint32_t id = 1; id <= 300; id++)
        ck_assert_int_eq(codec_add_writer_schema(c, id, order_schema_json, err, sizeof err),
                         CODEC_OK);
    /* bounded: the oldest ids were evicted, the newest are usable */
    ck_assert_int_eq(codec_has_schema(c, 300), 1);
    ck_assert_int_eq(codec_has_schema(c, 1), 0);
    size_t len = encode_ok(c, 300, ev);
    ck_assert_int_eq(decode(c, frame, len, out, err, sizeof err), CODEC_OK);
    len = encode_ok(c, 1, ev);
    ck_assert_int_eq(decode(c, frame, len, out, err, sizeof err), CODEC_ERR_UNKNOWN_SCHEMA);
    free(ev);
    free(out);
    codec_free(c);
}
END_TEST

START_TEST(test_read_file)
{
    char err[256];
    char *text =
        fileio_read_all(ORDERSTREAM_SOURCE_DIR "/schemas/order-event.avsc", err, sizeof err);
    ck_assert_msg(text != NULL, "%s", err);
    ck_assert_str_eq(text, order_schema_json);
    free(text);
    ck_assert_ptr_null(fileio_read_all(ORDERSTREAM_SOURCE_DIR "/no/such/file", err, sizeof err));
    ck_assert_ptr_nonnull(strstr(err, "no/such/file"));
}
END_TEST

/* ---- optional benchmark --------------------------------------------------- */

static size_t avro_allocs;
static void *counting_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    (void)ud;
    (void)osize;
    if (nsize == 0) {
        free(ptr);
        return NULL;
    }
    avro_allocs++;
    return realloc(ptr, nsize);
}

START_TEST(test_bench)
{
    const char *env = getenv("ORDERSTREAM_BENCH");
    long n = env ? atol(env) : 0;
    if (n <= 0)
        return;
    codec *c = std_codec();
    order_event *ev = make_create(3, 0), *out = calloc(1, sizeof *out);
    char err[256];
    struct timespec t0, t1;
    size_t len = encode_ok(c, ID, ev);

    avro_set_allocator(counting_alloc, NULL);
    avro_allocs = 0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    /* no ck_assert inside the loops: check records every assertion as a
     * checkpoint with a write(2), which would dominate the figures */
    long bad = 0;
    for (long i = 0; i < n; i++)
        bad += codec_encode(c, ID, ev, frame, sizeof frame, &len, err, sizeof err) != CODEC_OK;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double enc = ((double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec)) / n;
    size_t enc_allocs = avro_allocs;
    avro_allocs = 0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (long i = 0; i < n; i++)
        bad += decode(c, frame, len, out, err, sizeof err) != CODEC_OK;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double dec = ((double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec)) / n;
    printf("bench: %ld x CREATE(3 items, %zu bytes): encode %.0f ns/op (%.2f libavro "
           "allocs/op), decode %.0f ns/op (%.2f libavro allocs/op)\n",
           n, len, enc, (double)enc_allocs / (double)n, dec, (double)avro_allocs / (double)n);
    ck_assert_int_eq(bad, 0);
    assert_same(ev, out);
    free(ev);
    free(out);
    codec_free(c);
}
END_TEST

static Suite *codec_suite(void)
{
    Suite *s = suite_create("avro_evolution");
    TCase *tc = tcase_create("evolution");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_evolution_extra_fields);
    tcase_add_test(tc, test_evolution_enum_by_name);
    tcase_add_test(tc, test_evolution_incompatible);
    tcase_add_test(tc, test_bad_reader_schema);
    tcase_add_test(tc, test_cache_bound);
    tcase_add_test(tc, test_read_file);
    tcase_add_test(tc, test_bench);
    suite_add_tcase(s, tc);
    return s;
}

Suite *test_suite(int *rc)
{
    (void)rc;
    return codec_suite();
}
