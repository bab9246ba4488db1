/*
 * fuzz_cart_request: libFuzzer target for cart-service request bodies, the
 * first code that touches bytes from HTTP clients: the same JSON parse as
 * http_read_json_object (duplicate keys rejected) followed by both validators.
 *
 * Properties beyond "no crash, no sanitizer report":
 * - a validator answers 0, 400 or 422, and a non-zero answer names a field;
 * - what passes validation builds an event that passes the consumer's
 *   contract check (order_event_validate) and encodes under the real codec,
 *   so no accepted request can produce a 500 or an event the consumer DLQs;
 * - a body that cart_body_scan reads (cart-service's path without jansson)
 *   is one jansson parses too, into the same view.
 * Seeds: tests/fuzz/corpus/cart_request/.
 */
#include "event/avro_codec.h"
#include "cart_body.h"
#include "cart_validate.h"
#include "cart_gen.h"
#include "event/order_schema.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
const char *__lsan_default_options(void);

/* libavro keeps pointers at malloc()+4 (see fuzz_avro_decode.c). */
const char *__lsan_default_options(void)
{
    return "use_unaligned=1";
}

static codec *fz_codec;
static order_event fz_ev;
static uint8_t fz_buf[CODEC_MAX_ENCODED];

static void check_result(const cart_validation *v)
{
    if (v->status != 0 && v->status != 400 && v->status != 422)
        abort();
    if (v->status != 0 && (v->nerrors == 0 || !v->errors[0].field || !v->detail))
        abort();
}

static void check_same_field(const cart_field *a, const cart_field *b)
{
    if (a->type != b->type || (a->type == CART_FIELD_INTEGER && a->num != b->num) ||
        (a->type == CART_FIELD_STRING &&
         (a->len != b->len || memcmp(a->str, b->str, a->len) != 0))) {
        fprintf(stderr, "scan and jansson disagree on a field\n");
        abort();
    }
}

static void check_same_view(const cart_body *a, const cart_body *b)
{
    if (a->is_object != b->is_object || a->unknown != b->unknown)
        abort();
    check_same_field(&a->order_id, &b->order_id);
    check_same_field(&a->items_count, &b->items_count);
    check_same_field(&a->status, &b->status);
}

static void encode_or_die(void)
{
    char err[256];
    size_t len = 0;
    if (order_event_validate(&fz_ev, err, sizeof err) != 0 ||
        codec_encode(fz_codec, 1, &fz_ev, fz_buf, sizeof fz_buf, &len, err, sizeof err) !=
            CODEC_OK) {
        fprintf(stderr, "accepted request gave a bad event: %s\n", err);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];
    if (!fz_codec) {
        fz_codec = codec_new(order_schema_json, err, sizeof err);
        if (!fz_codec) {
            fprintf(stderr, "codec_new: %s\n", err);
            abort();
        }
    }
    json_error_t jerr;
    json_t *doc = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &jerr);
    cart_body scanned, body;
    if (cart_body_scan((const char *)data, size, &scanned) == 0) {
        if (!doc) {
            fprintf(stderr, "scan read a body jansson refuses: %s\n", jerr.text);
            abort();
        }
        cart_body_from_json(doc, &body);
        check_same_view(&scanned, &body);
    }
    if (!doc)
        return 0;
    cart_body_from_json(doc, &body);
    cart_validation v;
    cart_gen_rng rng;
    cart_gen_seed(&rng, size + 1);
    if (cart_validate_create(&body, &v) == 0) {
        if (cart_gen_create(&rng, v.order_id, v.items_count, 1764079200000LL, &fz_ev, err,
                            sizeof err) != 0)
            abort();
        encode_or_die();
    }
    check_result(&v);
    if (cart_validate_update(&body, &v) == 0) {
        if (cart_gen_update(v.order_id, v.order_status, 1764079200000LL, &fz_ev, err, sizeof err) !=
            0)
            abort();
        encode_or_die();
    }
    check_result(&v);
    json_decref(doc);
    return 0;
}
