/*
 * Unit tests for order_decoder (record bytes -> verdict), against the REAL
 * registry named by SCHEMA_REGISTRY_URL (skipped, exit 77, when unset): the
 * decoder learns writer schemas from it by id. The "registry down" case uses
 * a closed local port, which is what a stopped registry looks like.
 */
#include "event/avro_codec.h"
#include "event/order_decoder.h"
#include "event/order_schema.h"
#include "event/schema_registry.h"

#include "test_main.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SUBJECT "orderstream-order-process-unittest-value"

static const char *registry_url;
static uint32_t schema_id;

static order_event sample_create(const char *id)
{
    order_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = ORDER_EVENT_CREATE;
    snprintf(ev.order_id, sizeof ev.order_id, "%s", id);
    ev.timestamp_ms = 1764079200123LL;
    snprintf(ev.customer_id, sizeof ev.customer_id, "CUST-1");
    snprintf(ev.order_date, sizeof ev.order_date, "2026-11-25T14:00:00.123Z");
    ev.item_count = 1;
    snprintf(ev.items[0].item_id, sizeof ev.items[0].item_id, "ITEM-1");
    ev.items[0].quantity = 2;
    ev.items[0].price_cents = 1999;
    ev.total_cents = 3998;
    snprintf(ev.currency, sizeof ev.currency, "USD");
    snprintf(ev.status, sizeof ev.status, "new");
    return ev;
}

/* Encodes ev under the registered id with the project's codec. */
static size_t encode(const order_event *ev, uint8_t *buf, size_t cap)
{
    char err[256];
    codec *c = codec_new(order_schema_json, err, sizeof err);
    ck_assert_msg(c != NULL, "%s", err);
    size_t len = 0;
    ck_assert_int_eq(codec_encode(c, schema_id, ev, buf, cap, &len, err, sizeof err), CODEC_OK);
    codec_free(c);
    return len;
}

static order_decoder *decoder(const char *url)
{
    char err[256];
    order_decoder *d = order_decoder_new(url, err, sizeof err);
    ck_assert_msg(d != NULL, "%s", err);
    return d;
}

START_TEST(test_valid_event_learns_schema)
{
    order_decoder *d = decoder(registry_url);
    uint8_t buf[CODEC_MAX_ENCODED];
    order_event in = sample_create("PROC-1"), out;
    size_t len = encode(&in, buf, sizeof buf);
    order_decoder_result r;
    order_decoder_decode(d, buf, len, &out, &r);
    ck_assert_msg(r.kind == ORDER_DECODER_EVENT, "%s %s", order_decoder_kind_name(r.kind),
                  r.message);
    ck_assert(r.decoded);
    ck_assert_uint_eq(r.schema_id, schema_id);
    ck_assert_str_eq(out.order_id, "PROC-1");
    ck_assert_int_eq(out.total_cents, 3998);
    /* Second time the schema is cached: same answer. */
    order_decoder_decode(d, buf, len, &out, &r);
    ck_assert_int_eq(r.kind, ORDER_DECODER_EVENT);
    order_decoder_free(d);
}
END_TEST

START_TEST(test_status_normalized)
{
    order_decoder *d = decoder(registry_url);
    uint8_t buf[CODEC_MAX_ENCODED];
    order_event in, out;
    memset(&in, 0, sizeof in);
    in.type = ORDER_EVENT_UPDATE;
    snprintf(in.order_id, sizeof in.order_id, "PROC-2");
    snprintf(in.status, sizeof in.status, "ShIpPeD");
    size_t len = encode(&in, buf, sizeof buf);
    order_decoder_result r;
    order_decoder_decode(d, buf, len, &out, &r);
    ck_assert_msg(r.kind == ORDER_DECODER_EVENT, "%s", r.message);
    ck_assert_str_eq(out.status, "shipped");
    order_decoder_free(d);
}
END_TEST

START_TEST(test_contract_violations_go_to_dlq)
{
    order_decoder *d = decoder(registry_url);
    order_event out;
    order_decoder_result r;
    /* framing */
    static const uint8_t bad_magic[] = {1, 0, 0, 0, 1, 2};
    order_decoder_decode(d, bad_magic, sizeof bad_magic, &out, &r);
    ck_assert_int_eq(r.kind, ORDER_DECODER_DLQ);
    ck_assert_str_eq(r.reason, DLQ_R_DESERIALIZATION);
    ck_assert(!r.decoded);
    order_decoder_decode(d, NULL, 0, &out, &r);
    ck_assert_int_eq(r.kind, ORDER_DECODER_DLQ);
    ck_assert_str_eq(r.reason, DLQ_R_DESERIALIZATION);
    /* an id the registry does not know */
    static const uint8_t unknown[] = {0, 0x7f, 0xff, 0xff, 0xf0, 0, 2, 'x'};
    order_decoder_decode(d, unknown, sizeof unknown, &out, &r);
    ck_assert_int_eq(r.kind, ORDER_DECODER_DLQ);
    ck_assert_str_eq(r.reason, DLQ_R_DESERIALIZATION);
    ck_assert_msg(strstr(r.message, "2147483632") != NULL, "%s", r.message);
    /* corrupt Avro under a known id */
    uint8_t buf[CODEC_MAX_ENCODED];
    order_event in = sample_create("PROC-3");
    size_t len = encode(&in, buf, sizeof buf);
    order_decoder_decode(d, buf, len - 3, &out, &r);
    ck_assert_int_eq(r.kind, ORDER_DECODER_DLQ);
    ck_assert_str_eq(r.reason, DLQ_R_DESERIALIZATION);
    /* decodes, but the total is not the sum of the items */
    in.total_cents = 1;
    len = encode(&in, buf, sizeof buf);
    order_decoder_decode(d, buf, len, &out, &r);
    ck_assert_int_eq(r.kind, ORDER_DECODER_DLQ);
    ck_assert_str_eq(r.reason, DLQ_R_INVALID_EVENT);
    ck_assert(r.decoded);
    ck_assert_int_eq(out.total_cents, 1);
    order_decoder_free(d);
}
END_TEST

START_TEST(test_registry_down_is_retried_not_dead_lettered)
{
    order_decoder *d = decoder("http://127.0.0.1:1/apis/ccompat/v7");
    uint8_t buf[CODEC_MAX_ENCODED];
    order_event in = sample_create("PROC-4"), out;
    size_t len = encode(&in, buf, sizeof buf);
    order_decoder_result r;
    order_decoder_decode(d, buf, len, &out, &r);
    ck_assert_msg(r.kind == ORDER_DECODER_RETRY_INFRA, "%s %s", order_decoder_kind_name(r.kind),
                  r.message);
    ck_assert_ptr_null(r.reason);
    /* Contract checks that need no registry still answer at once. */
    static const uint8_t short_frame[] = {0, 0};
    order_decoder_decode(d, short_frame, sizeof short_frame, &out, &r);
    ck_assert_int_eq(r.kind, ORDER_DECODER_DLQ);
    order_decoder_free(d);
}
END_TEST

Suite *test_suite(int *rc)
{
    registry_url = test_env_or_skip("SCHEMA_REGISTRY_URL", "the real registry");
    if (!registry_url) {
        *rc = TEST_SKIP;
        return NULL;
    }
    char err[256];
    sr_client *c = sr_client_new(registry_url, 5000, err, sizeof err);
    if (!c || sr_register(c, SUBJECT, order_schema_json, &schema_id, err, sizeof err) != SR_OK) {
        fprintf(stderr, "cannot register the schema: %s\n", err);
        sr_client_free(c);
        *rc = EXIT_FAILURE;
        return NULL;
    }
    sr_client_free(c);
    Suite *s = suite_create("order_decoder");
    TCase *tc = tcase_create("decode");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_valid_event_learns_schema);
    tcase_add_test(tc, test_status_normalized);
    tcase_add_test(tc, test_contract_violations_go_to_dlq);
    tcase_add_test(tc, test_registry_down_is_retried_not_dead_lettered);
    suite_add_tcase(s, tc);
    return s;
}
