/*
 * avro_codec: OrderEvent <-> Confluent wire format over libavro 1.11.
 *
 * Design notes (why it looks like this):
 * - libavro ignores logicalType, so decimals are plain `bytes` to it. The
 *   decimal meaning (big-endian two's complement cents, scale 2) is applied
 *   here; the precision/scale are read from the reader schema's JSON, and a
 *   writer whose decimal has another scale cannot be read into ours (its
 *   bytes would resolve but mean a different amount).
 * - Decoding does Avro schema resolution in our own code (avro_resolve.c,
 *   avro_plan.c), not with libavro's resolved writer: libavro 1.11 has no
 *   reader defaults (a reader field added with a default, the recommended
 *   evolution, failed every event of the current writer), resolves enums by
 *   index instead of by symbol, and crashes (use after free) when a nested
 *   resolution fails. Each writer schema id is compiled once into a plan
 *   against the reader schema; a pair that does not resolve is remembered
 *   with the resolver's reason. The plan writes straight into a reusable
 *   reader-schema value, which avro_values.c reads the model out of.
 * - Every frame is bounds-walked (avro_walk.c) before the plan reads it,
 *   and trailing bytes after the datum are rejected (a frame holds one
 *   datum).
 * - The writer-schema cache is bounded (CODEC_CACHE_MAX, round-robin
 *   eviction); an evicted id reads as CODEC_ERR_UNKNOWN_SCHEMA and is simply
 *   fetched again.
 * - Values, the memory writer and the plan's string scratch are created
 *   once and reused; libavro still re-creates array items after a reset
 *   (measured: CREATE with 3 items, 6 allocations per encode, 6 per decode,
 *   down from 24 with libavro's resolved writer; see test_avro_codec's bench).
 */
#include "event/avro_codec.h"

#include "event/avro_direct.h"
#include "event/avro_jschema.h"
#include "event/avro_layout.h"
#include "event/avro_plan.h"
#include "event/avro_resolve.h"
#include "event/avro_values.h"
#include "event/avro_walk.h"
#include "platform/errfmt.h"

#include <avro.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CODEC_CACHE_MAX 256

/* Debian's libavro keeps its error text in one process-global buffer (no
 * thread-local storage), and schema parsing/resolution write it even when
 * they succeed. Codecs are per thread, so serialise those rare calls across
 * threads; the per-message paths only touch it on failure. */
static pthread_mutex_t avro_lock = PTHREAD_MUTEX_INITIALIZER;

#define CODEC_MSG_MAX 200

#define cfail codec_fail

typedef struct {
    uint32_t id;
    int in_use;
    int compatible;
    avro_schema_t schema;
    avplan *plan;            /* writer -> reader resolution, compiled once */
    int direct;              /* equal to the shipped reader layout: avdirect_decode */
    char msg[CODEC_MSG_MAX]; /* why it is incompatible */
} writer_entry;

struct codec {
    char *reader_json;
    avro_schema_t rschema;
    avjs *rjson; /* the reader schema's JSON: defaults, aliases, decimals */
    avro_value_iface_t *riface;
    avro_value_t evalue; /* encode scratch */
    avro_value_t dvalue; /* decode destination */
    avro_writer_t mwriter;
    avplan_scratch scratch;
    avlayout L;
    int direct;       /* the shipped layout: avdirect_encode instead of libavro (avro_direct.h) */
    int8_t *enum_map; /* reader eventType index -> order_event_type, -1 unknown */
    size_t enum_count;
    writer_entry cache[CODEC_CACHE_MAX];
    size_t last_hit;
    size_t evict_next;
};

const char *codec_status_name(codec_status s)
{
    switch (s) {
    case CODEC_OK:
        return "OK";
    case CODEC_ERR_FRAMING:
        return "FRAMING";
    case CODEC_ERR_UNKNOWN_SCHEMA:
        return "UNKNOWN_SCHEMA";
    case CODEC_ERR_MALFORMED:
        return "MALFORMED";
    case CODEC_ERR_INCOMPATIBLE:
        return "INCOMPATIBLE";
    case CODEC_ERR_LIMIT:
        return "LIMIT";
    case CODEC_ERR_INTERNAL:
        return "INTERNAL";
    }
    return "UNKNOWN";
}

/* The reader's eventType symbols as model types: resolution maps writer
 * symbols to reader symbols by name, this maps reader symbols to the model. */
static int codec_reader_enum(codec *c, char *err, size_t errlen)
{
    avro_schema_t et = NULL;
    int n;

    if (avlayout_field(avlayout_deref(c->rschema), "eventType", AVRO_ENUM, &et) < 0)
        return errfmt(err, errlen, "reader schema has no eventType enum");
    n = avro_schema_enum_number_of_symbols(et);
    c->enum_count = n > 0 ? (size_t)n : 0;
    c->enum_map = malloc(c->enum_count ? c->enum_count : 1);
    if (c->enum_map == NULL)
        return errfmt(err, errlen, "out of memory");
    for (size_t i = 0; i < c->enum_count; i++) {
        const char *sym = avro_schema_enum_get(et, (int)i);
        c->enum_map[i] = (int8_t)(strcmp(sym, "CREATE") == 0   ? ORDER_EVENT_CREATE
                                  : strcmp(sym, "UPDATE") == 0 ? ORDER_EVENT_UPDATE
                                                               : -1);
    }
    return 0;
}

static codec *codec_new_locked(const char *reader_schema_json, char *err, size_t errlen)
{
    codec *c;
    static const char empty[1];

    if (reader_schema_json == NULL) {
        errfmt(err, errlen, "no reader schema");
        return NULL;
    }
    c = calloc(1, sizeof *c);
    if (c == NULL) {
        errfmt(err, errlen, "out of memory");
        return NULL;
    }
    c->reader_json = strdup(reader_schema_json);
    if (c->reader_json == NULL) {
        errfmt(err, errlen, "out of memory");
        goto fail;
    }
    if (avro_schema_from_json_length(reader_schema_json, strlen(reader_schema_json), &c->rschema) !=
        0) {
        errfmt(err, errlen, "reader schema: %s", avro_strerror());
        goto fail;
    }
    if (avlayout_reader(c->rschema, reader_schema_json, &c->L, err, errlen) != 0)
        goto fail;
    c->direct = avdirect_fits(c->rschema, &c->L);
    c->rjson = avjs_new(c->rschema, reader_schema_json, err, errlen);
    if (c->rjson == NULL || codec_reader_enum(c, err, errlen) != 0)
        goto fail;
    c->riface = avro_generic_class_from_schema(c->rschema);
    if (c->riface == NULL || avro_generic_value_new(c->riface, &c->evalue) != 0 ||
        avro_generic_value_new(c->riface, &c->dvalue) != 0) {
        errfmt(err, errlen, "avro values: %s", avro_strerror());
        goto fail;
    }
    /* The memory writer is retargeted per call; start it on a dummy. */
    c->mwriter = avro_writer_memory(empty, 0);
    if (c->mwriter == NULL) {
        errfmt(err, errlen, "avro memory writer: out of memory");
        goto fail;
    }
    return c;
fail:
    codec_free(c);
    return NULL;
}

static void entry_clear(writer_entry *e)
{
    avplan_free(e->plan);
    if (e->schema != NULL)
        avro_schema_decref(e->schema);
    memset(e, 0, sizeof *e);
}

void codec_free(codec *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < CODEC_CACHE_MAX; i++)
        entry_clear(&c->cache[i]);
    if (c->evalue.self != NULL)
        avro_value_decref(&c->evalue);
    if (c->dvalue.self != NULL)
        avro_value_decref(&c->dvalue);
    if (c->riface != NULL)
        avro_value_iface_decref(c->riface);
    if (c->rschema != NULL)
        avro_schema_decref(c->rschema);
    if (c->mwriter != NULL)
        avro_writer_free(c->mwriter);
    avjs_free(c->rjson);
    avplan_scratch_free(&c->scratch);
    free(c->enum_map);
    free(c->reader_json);
    free(c);
}

const char *codec_reader_schema_json(const codec *c)
{
    return c != NULL ? c->reader_json : NULL;
}

static writer_entry *cache_find(const codec *c, uint32_t id)
{
    codec *mc = (codec *)c; /* last_hit is a hint, not state */
    if (mc->cache[mc->last_hit].in_use && mc->cache[mc->last_hit].id == id)
        return &mc->cache[mc->last_hit];
    for (size_t i = 0; i < CODEC_CACHE_MAX; i++) {
        if (mc->cache[i].in_use && mc->cache[i].id == id) {
            mc->last_hit = i;
            return &mc->cache[i];
        }
    }
    return NULL;
}

int codec_has_schema(const codec *c, uint32_t id)
{
    return c != NULL && cache_find(c, id) != NULL;
}

static writer_entry *cache_slot(codec *c)
{
    for (size_t i = 0; i < CODEC_CACHE_MAX; i++) {
        if (!c->cache[i].in_use)
            return &c->cache[i];
    }
    /* Full: evict round-robin. An evicted id is simply fetched again. */
    writer_entry *e = &c->cache[c->evict_next];
    c->evict_next = (c->evict_next + 1) % CODEC_CACHE_MAX;
    entry_clear(e);
    return e;
}

/* Compiles the writer schema's resolution plan; on failure fills e->msg and
 * returns -1. */
/* 1 if both schemas' eventType enums have the same symbols in the same order
 * (the direct decoder reads the writer's index as the reader's). */
static int same_symbols(avro_schema_t w, avro_schema_t r)
{
    avro_schema_t we = NULL, re = NULL;
    if (avlayout_field(avlayout_deref(w), "eventType", AVRO_ENUM, &we) < 0 ||
        avlayout_field(avlayout_deref(r), "eventType", AVRO_ENUM, &re) < 0)
        return 0;
    int n = avro_schema_enum_number_of_symbols(we);
    if (n <= 0 || n != avro_schema_enum_number_of_symbols(re))
        return 0;
    for (int i = 0; i < n; i++) {
        const char *a = avro_schema_enum_get(we, i), *b = avro_schema_enum_get(re, i);
        if (!a || !b || strcmp(a, b) != 0)
            return 0;
    }
    return 1;
}

static int entry_resolve(codec *c, writer_entry *e, const char *schema_json)
{
    avjs *wj = avjs_new(e->schema, schema_json, e->msg, sizeof e->msg);
    if (wj == NULL)
        return -1;
    e->plan = avres_compile(e->schema, wj, c->rschema, c->rjson, e->msg, sizeof e->msg);
    /* The plan keeps only the reader's JSON: the writer's can go. */
    avjs_free(wj);
    e->direct = e->plan != NULL && c->direct && same_symbols(e->schema, c->rschema) &&
                avro_schema_equal(e->schema, c->rschema);
    return e->plan != NULL ? 0 : -1;
}

static codec_status add_writer_locked(codec *c, uint32_t id, const char *schema_json, char *err,
                                      size_t errlen)
{
    writer_entry *e;

    if (c == NULL || schema_json == NULL)
        return cfail(CODEC_ERR_INTERNAL, err, errlen, "bad argument");
    e = cache_find(c, id);
    if (e != NULL)
        return e->compatible ? CODEC_OK
                             : cfail(CODEC_ERR_INCOMPATIBLE, err, errlen, "schema %u: %s",
                                     (unsigned)id, e->msg);
    e = cache_slot(c);
    e->id = id;
    e->in_use = 1;
    if (avro_schema_from_json_length(schema_json, strlen(schema_json), &e->schema) != 0) {
        /* Text the registry serves that libavro cannot parse cannot be
         * decoded by us either: remember it as incompatible. */
        e->schema = NULL;
        snprintf(e->msg, sizeof e->msg, "unparsable writer schema: %s", avro_strerror());
    } else if (entry_resolve(c, e, schema_json) == 0) {
        e->compatible = 1;
        return CODEC_OK;
    }
    /* Keep only the verdict: drop libavro objects we will never use. */
    {
        char msg[CODEC_MSG_MAX];
        memcpy(msg, e->msg, sizeof msg);
        entry_clear(e);
        e->id = id;
        e->in_use = 1;
        memcpy(e->msg, msg, sizeof msg);
    }
    return cfail(CODEC_ERR_INCOMPATIBLE, err, errlen, "schema %u: %s", (unsigned)id, e->msg);
}

codec *codec_new(const char *reader_schema_json, char *err, size_t errlen)
{
    codec *c;
    if (pthread_mutex_lock(&avro_lock) != 0) {
        errfmt(err, errlen, "cannot take the libavro lock");
        return NULL;
    }
    c = codec_new_locked(reader_schema_json, err, errlen);
    pthread_mutex_unlock(&avro_lock);
    return c;
}

codec_status codec_add_writer_schema(codec *c, uint32_t id, const char *schema_json, char *err,
                                     size_t errlen)
{
    codec_status st;
    if (pthread_mutex_lock(&avro_lock) != 0)
        return cfail(CODEC_ERR_INTERNAL, err, errlen, "cannot take the libavro lock");
    st = add_writer_locked(c, id, schema_json, err, errlen);
    pthread_mutex_unlock(&avro_lock);
    return st;
}

/* ---- encode ------------------------------------------------------------ */

/* Length of a model string, or cap+1 if it is not terminated within cap. */
static size_t bounded_len(const char *s, size_t cap)
{
    const char *nul = memchr(s, '\0', cap + 1);
    return nul ? (size_t)(nul - s) : cap + 1;
}

#define AV(call)                                                                                   \
    do {                                                                                           \
        if ((call) != 0)                                                                           \
            goto avro_fail;                                                                        \
    } while (0)

static int set_str(avro_value_t *rec, int idx, const char *s, size_t len)
{
    avro_value_t f;
    if (avro_value_get_by_index(rec, (size_t)idx, &f, NULL) != 0)
        return -1;
    /* Copies into the value's own buffer, which is reused across events. */
    return avro_value_set_string_len(&f, s, len + 1);
}

static int set_decimal(avro_value_t *rec, int idx, int64_t cents)
{
    avro_value_t f;
    uint8_t b[8];
    size_t n = avlayout_dec_encode(cents, b);
    if (avro_value_get_by_index(rec, (size_t)idx, &f, NULL) != 0)
        return -1;
    return avro_value_set_bytes(&f, b, n);
}

static codec_status check_str(const char *s, size_t cap, const char *what, size_t *len, char *err,
                              size_t errlen)
{
    *len = bounded_len(s, cap);
    if (*len > cap)
        return cfail(CODEC_ERR_LIMIT, err, errlen, "%s longer than %zu", what, cap);
    return CODEC_OK;
}

/* The checks every encoding needs first (both paths): lengths, bounds, digits. */
static codec_status encode_checks(const avlayout *L, const order_event *ev, avdirect_lens *n,
                                  char *err, size_t errlen)
{
    if (ev->type != ORDER_EVENT_CREATE && ev->type != ORDER_EVENT_UPDATE)
        return cfail(CODEC_ERR_INTERNAL, err, errlen, "unknown event type %d", (int)ev->type);
    if (check_str(ev->order_id, ORDER_ID_MAX, "orderId", &n->order_id, err, errlen) != CODEC_OK ||
        check_str(ev->status, ORDER_STATUS_MAX, "status", &n->status, err, errlen) != CODEC_OK)
        return CODEC_ERR_LIMIT;
    if (ev->type == ORDER_EVENT_UPDATE)
        return CODEC_OK;
    if (check_str(ev->customer_id, ORDER_CUSTOMER_ID_MAX, "customerId", &n->customer, err,
                  errlen) != CODEC_OK ||
        check_str(ev->order_date, ORDER_DATE_MAX, "orderDate", &n->date, err, errlen) != CODEC_OK ||
        check_str(ev->currency, ORDER_CURRENCY_MAX, "currency", &n->currency, err, errlen) !=
            CODEC_OK)
        return CODEC_ERR_LIMIT;
    if (ev->item_count > ORDER_ITEMS_MAX)
        return cfail(CODEC_ERR_LIMIT, err, errlen, "more than %d items", ORDER_ITEMS_MAX);
    if (!avlayout_within_digits(ev->total_cents, L->total_digits))
        return cfail(CODEC_ERR_LIMIT, err, errlen, "totalAmount exceeds decimal(%d,2)",
                     L->total_digits);
    for (size_t i = 0; i < ev->item_count; i++) {
        const order_item *it = &ev->items[i];
        if (check_str(it->item_id, ORDER_ITEM_ID_MAX, "itemId", &n->item_id[i], err, errlen) !=
            CODEC_OK)
            return CODEC_ERR_LIMIT;
        if (!avlayout_within_digits(it->price_cents, L->price_digits))
            return cfail(CODEC_ERR_LIMIT, err, errlen, "item %zu: price exceeds decimal(%d,2)", i,
                         L->price_digits);
    }
    return CODEC_OK;
}

/* The Avro body through libavro's generic values (any reader schema). */
static codec_status encode_generic(codec *c, const order_event *ev, const avdirect_lens *n,
                                   uint8_t *body, size_t cap, size_t *len, char *err, size_t errlen)
{
    const avlayout *L = &c->L;
    avro_value_t top = c->evalue, f, payload, branch;
    int rc;
    AV(avro_value_reset(&top));
    AV(avro_value_get_by_index(&top, (size_t)L->event_type, &f, NULL));
    AV(avro_value_set_enum(&f, ev->type == ORDER_EVENT_CREATE ? L->enum_create : L->enum_update));
    AV(set_str(&top, L->order_id, ev->order_id, n->order_id));
    AV(avro_value_get_by_index(&top, (size_t)L->timestamp, &f, NULL));
    AV(avro_value_set_long(&f, ev->timestamp_ms));
    AV(avro_value_get_by_index(&top, (size_t)L->payload, &payload, NULL));
    if (ev->type == ORDER_EVENT_CREATE) {
        avro_value_t items;
        AV(avro_value_set_branch(&payload, L->br_create, &branch));
        AV(set_str(&branch, L->c_customer, ev->customer_id, n->customer));
        AV(set_str(&branch, L->c_date, ev->order_date, n->date));
        AV(set_str(&branch, L->c_currency, ev->currency, n->currency));
        AV(set_str(&branch, L->c_status, ev->status, n->status));
        AV(set_decimal(&branch, L->c_total, ev->total_cents));
        AV(avro_value_get_by_index(&branch, (size_t)L->c_items, &items, NULL));
        for (size_t i = 0; i < ev->item_count; i++) {
            const order_item *it = &ev->items[i];
            avro_value_t item;
            AV(avro_value_append(&items, &item, NULL));
            AV(set_str(&item, L->i_item_id, it->item_id, n->item_id[i]));
            AV(avro_value_get_by_index(&item, (size_t)L->i_quantity, &f, NULL));
            AV(avro_value_set_int(&f, it->quantity));
            AV(set_decimal(&item, L->i_price, it->price_cents));
        }
    } else {
        AV(avro_value_set_branch(&payload, L->br_update, &branch));
        AV(set_str(&branch, L->u_status, ev->status, n->status));
    }
    avro_writer_memory_set_dest(c->mwriter, (const char *)body, (int64_t)cap);
    rc = avro_value_write(c->mwriter, &top);
    if (rc == ENOSPC)
        return cfail(CODEC_ERR_INTERNAL, err, errlen, "buffer of %zu bytes too small",
                     cap + CODEC_WIRE_HEADER);
    if (rc != 0)
        goto avro_fail;
    *len = (size_t)avro_writer_tell(c->mwriter);
    return CODEC_OK;
avro_fail:
    return cfail(CODEC_ERR_INTERNAL, err, errlen, "avro encode: %s", avro_strerror());
}

codec_status codec_encode_path(codec *c, uint32_t id, const order_event *ev, uint8_t *buf,
                               size_t cap, size_t *len, int generic, char *err, size_t errlen)
{
    avdirect_lens n;
    size_t body = 0;
    codec_status st;

    if (c == NULL || ev == NULL || buf == NULL || len == NULL)
        return cfail(CODEC_ERR_INTERNAL, err, errlen, "bad argument");
    if (cap <= CODEC_WIRE_HEADER)
        return cfail(CODEC_ERR_INTERNAL, err, errlen, "buffer too small");
    st = encode_checks(&c->L, ev, &n, err, errlen);
    if (st != CODEC_OK)
        return st;
    buf[0] = 0;
    buf[1] = (uint8_t)(id >> 24);
    buf[2] = (uint8_t)(id >> 16);
    buf[3] = (uint8_t)(id >> 8);
    buf[4] = (uint8_t)id;
    if (!c->direct || generic) {
        st = encode_generic(c, ev, &n, buf + CODEC_WIRE_HEADER, cap - CODEC_WIRE_HEADER, &body, err,
                            errlen);
        if (st != CODEC_OK)
            return st;
    } else {
        body = avdirect_encode(&c->L, ev, &n, buf + CODEC_WIRE_HEADER, cap - CODEC_WIRE_HEADER);
        if (body == 0)
            return cfail(CODEC_ERR_INTERNAL, err, errlen, "buffer of %zu bytes too small", cap);
    }
    *len = CODEC_WIRE_HEADER + body;
    return CODEC_OK;
}

int codec_encodes_directly(const codec *c)
{
    return c && c->direct;
}

int codec_decodes_directly(const codec *c, uint32_t id)
{
    const writer_entry *e = c ? cache_find(c, id) : NULL;
    return e && e->compatible && e->direct;
}

codec_status codec_encode(codec *c, uint32_t id, const order_event *ev, uint8_t *buf, size_t cap,
                          size_t *len, char *err, size_t errlen)
{
    return codec_encode_path(c, id, ev, buf, cap, len, 0, err, errlen);
}

/* ---- decode ------------------------------------------------------------ */

codec_status codec_decode(codec *c, const uint8_t *buf, size_t len, uint32_t *schema_id,
                          order_event *out, char *err, size_t errlen)
{
    return codec_decode_path(c, buf, len, schema_id, out, 0, err, errlen);
}

codec_status codec_decode_path(codec *c, const uint8_t *buf, size_t len, uint32_t *schema_id,
                               order_event *out, int generic, char *err, size_t errlen)
{
    const writer_entry *e;
    uint32_t id;
    char why[160];
    codec_status st;

    if (c == NULL || out == NULL || (buf == NULL && len != 0))
        return cfail(CODEC_ERR_INTERNAL, err, errlen, "bad argument");
    if (len < CODEC_WIRE_HEADER)
        return cfail(CODEC_ERR_FRAMING, err, errlen, "%zu bytes, shorter than the 5-byte header",
                     len);
    if (buf[0] != 0)
        return cfail(CODEC_ERR_FRAMING, err, errlen, "magic byte 0x%02x, expected 0x00",
                     (unsigned)buf[0]);
    id = (uint32_t)buf[1] << 24 | (uint32_t)buf[2] << 16 | (uint32_t)buf[3] << 8 | buf[4];
    if (schema_id != NULL)
        *schema_id = id;
    e = cache_find(c, id);
    if (e == NULL)
        return cfail(CODEC_ERR_UNKNOWN_SCHEMA, err, errlen, "schema id %u not known yet",
                     (unsigned)id);
    if (!e->compatible)
        return cfail(CODEC_ERR_INCOMPATIBLE, err, errlen, "schema %u: %s", (unsigned)id, e->msg);
    if (avwalk_datum(e->schema, buf + CODEC_WIRE_HEADER, len - CODEC_WIRE_HEADER, why,
                     sizeof why) != 0)
        return cfail(CODEC_ERR_MALFORMED, err, errlen, "schema %u: %s", (unsigned)id, why);
    /* The shipped layout on both sides: straight into *out. Anything it does
     * not accept goes the generic way, which names what is wrong. */
    if (e->direct && !generic &&
        avdirect_decode(&c->L, c->enum_map, c->enum_count, buf + CODEC_WIRE_HEADER,
                        len - CODEC_WIRE_HEADER, out))
        return CODEC_OK;
    if (avro_value_reset(&c->dvalue) != 0)
        return cfail(CODEC_ERR_INTERNAL, err, errlen, "reset: %s", avro_strerror());
    /* The walk proved the bytes well-formed; what can still fail is a writer
     * enum symbol or union branch the reader cannot take. */
    st = avplan_read(e->plan, buf + CODEC_WIRE_HEADER, len - CODEC_WIRE_HEADER, &c->dvalue,
                     &c->scratch, why, sizeof why);
    if (st != CODEC_OK)
        return cfail(st, err, errlen, "schema %u: %s", (unsigned)id, why);
    return avvalues_extract(&c->L, &c->dvalue, c->enum_map, c->enum_count, out, err, errlen);
}
