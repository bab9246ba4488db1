/*
 * fuzz_avro_schema: libFuzzer target for writer schemas as the registry could
 * serve them: codec_add_writer_schema() on arbitrary text, then a decode of
 * known frames under that id when it was accepted.
 *
 * Why: the writer schema is outside data too, and every accepted one is
 * compiled into a resolution plan (avro_resolve.c) that then reads frames:
 * this target hunts for schemas that crash, leak or loop the resolver or the
 * plan. Bytes after a NUL in the input are a datum of that writer schema,
 * decoded too, so the resolver is fuzzed over (schema text, bytes) pairs.
 * Seeds: tests/fuzz/corpus/avro_schema/ (the .avsc).
 *
 * Known libavro 1.11 leak, skipped rather than suppressed: a schema that
 * defines one named type twice makes avro_schema_from_json_length() fail with
 * "Cannot save enum/record/fixed schema" and leak what it was building
 * (tests/fuzz/known/). Each input is parsed once first with LeakSanitizer
 * off for that call; inputs hitting that error are skipped, so every other
 * leak, ours or libavro's, still fails the run (an LSan suppression of the
 * libavro constructors would hide leaked records of our codec too).
 */
#include "event/avro_codec.h"
#include "event/order_schema.h"

#include <avro.h>
#include <sanitizer/lsan_interface.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
const char *__lsan_default_options(void);

/* See fuzz_avro_decode.c: libavro keeps pointers at 4 mod 8. */
const char *__lsan_default_options(void)
{
    return "use_unaligned=1";
}

static codec *fz;
static uint32_t next_id = 1000;

/* 1 when libavro fails on text with its leaking duplicate-name error. */
static int hits_known_leak(const char *text, size_t len)
{
    avro_schema_t s = NULL;
    __lsan_disable();
    int rc = avro_schema_from_json_length(text, len, &s);
    int known = rc != 0 && strncmp(avro_strerror(), "Cannot save ", 12) == 0;
    __lsan_enable();
    if (rc == 0)
        avro_schema_decref(s);
    return known;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char text[65536];
    static uint8_t frame[CODEC_MAX_ENCODED];
    static order_event ev;
    char err[256];
    size_t len = 0;
    uint32_t id, got;
    codec_status st;

    if (size >= sizeof text)
        return 0;
    if (fz == NULL) {
        fz = codec_new(order_schema_json, err, sizeof err);
        if (fz == NULL)
            abort();
    }
    memcpy(text, data, size);
    text[size] = '\0';
    const uint8_t *nul = memchr(data, 0, size);
    if (hits_known_leak(text, strlen(text)))
        return 0;
    id = next_id++;
    st = codec_add_writer_schema(fz, id, text, err, sizeof err);
    if (st != CODEC_OK && st != CODEC_ERR_INCOMPATIBLE)
        abort();
    if (st != CODEC_OK)
        return 0;
    if (nul != NULL && (size_t)(data + size - (nul + 1)) + CODEC_WIRE_HEADER <= sizeof frame) {
        size_t n = (size_t)(data + size - (nul + 1));
        frame[0] = 0;
        frame[1] = (uint8_t)(id >> 24);
        frame[2] = (uint8_t)(id >> 16);
        frame[3] = (uint8_t)(id >> 8);
        frame[4] = (uint8_t)id;
        memcpy(frame + CODEC_WIRE_HEADER, nul + 1, n);
        if (codec_decode(fz, frame, CODEC_WIRE_HEADER + n, &got, &ev, err, sizeof err) ==
            CODEC_ERR_INTERNAL)
            abort();
    }
    /* Frames written with the reader schema, read as if this writer wrote
     * them: any outcome but a crash or INTERNAL is fine. */
    memset(&ev, 0, sizeof ev);
    ev.type = ORDER_EVENT_CREATE;
    strcpy(ev.order_id, "o-1");
    strcpy(ev.customer_id, "c");
    strcpy(ev.order_date, "d");
    strcpy(ev.currency, "USD");
    strcpy(ev.status, "new");
    ev.item_count = 2;
    strcpy(ev.items[0].item_id, "i0");
    ev.items[0].quantity = 1;
    ev.items[0].price_cents = 250;
    strcpy(ev.items[1].item_id, "i1");
    ev.items[1].quantity = 3;
    ev.items[1].price_cents = 100;
    ev.total_cents = 550;
    if (codec_encode(fz, id, &ev, frame, sizeof frame, &len, err, sizeof err) != CODEC_OK)
        abort();
    if (codec_decode(fz, frame, len, &got, &ev, err, sizeof err) == CODEC_ERR_INTERNAL)
        abort();
    memset(&ev, 0, sizeof ev);
    ev.type = ORDER_EVENT_UPDATE;
    strcpy(ev.order_id, "o-1");
    strcpy(ev.status, "shipped");
    if (codec_encode(fz, id, &ev, frame, sizeof frame, &len, err, sizeof err) != CODEC_OK)
        abort();
    if (codec_decode(fz, frame, len, &got, &ev, err, sizeof err) == CODEC_ERR_INTERNAL)
        abort();
    return 0;
}
