/*
 * avro_walk: see avro_walk.h for why this exists. Iterative over the bytes,
 * recursive over the schema (bounded by AVWALK_MAX_DEPTH, so a recursive
 * writer schema cannot exhaust the stack).
 */
#include "event/avro_walk.h"

#include <stdarg.h>
#include <stdio.h>

typedef struct {
    const uint8_t *start;
    const uint8_t *p;
    const uint8_t *end;
    size_t items; /* array/map items seen so far */
    char *err;
    size_t errlen;
} walk;

__attribute__((format(printf, 2, 3))) static int werr(walk *w, const char *fmt, ...)
{
    if (w->err != NULL && w->errlen > 0) {
        char msg[160];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        snprintf(w->err, w->errlen, "%s at byte %zu", msg, (size_t)(w->p - w->start));
    }
    return -1;
}

static size_t remaining(const walk *w)
{
    return (size_t)(w->end - w->p);
}

/* Zig-zag varint of at most maxbytes; the last byte may only carry the bits
 * that still fit (1 for a long's 10th byte, 4 for an int's 5th). */
static int rd_varint(walk *w, int maxbytes, int64_t *out)
{
    uint64_t v = 0;
    for (int i = 0; i < maxbytes; i++) {
        uint8_t b;
        if (w->p >= w->end)
            return werr(w, "truncated varint");
        b = *w->p++;
        if (i == maxbytes - 1 && (b & 0x80) != 0)
            return werr(w, "varint longer than %d bytes", maxbytes);
        if (i == maxbytes - 1 && (b & 0x7f) > (maxbytes == 10 ? 0x01 : 0x0f))
            return werr(w, "varint overflows its type");
        v |= (uint64_t)(b & 0x7f) << (7 * i);
        if ((b & 0x80) == 0) {
            *out = (int64_t)((v >> 1) ^ ((uint64_t)0 - (v & 1)));
            return 0;
        }
    }
    return werr(w, "varint too long");
}

static int rd_long(walk *w, int64_t *out)
{
    return rd_varint(w, 10, out);
}

/* Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, <= U+10FFFF.
 * Avro strings are UTF-8 by definition and other readers (Python, Java)
 * refuse anything else, so such a datum is corrupt, not a string. */
int avwalk_utf8_valid(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        size_t len;
        uint32_t cp, min;
        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf) {
            len = 2;
            cp = c & 0x1f;
            min = 0x80;
        } else if (c >= 0xe0 && c <= 0xef) {
            len = 3;
            cp = c & 0x0f;
            min = 0x800;
        } else if (c >= 0xf0 && c <= 0xf4) {
            len = 4;
            cp = c & 0x07;
            min = 0x10000;
        } else {
            return 0;
        }
        if (len > n - i)
            return 0;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return 0;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        i += len;
    }
    return 1;
}

static int skip_len_prefixed(walk *w, const char *what, int is_text)
{
    int64_t n;
    if (rd_long(w, &n) != 0)
        return -1;
    if (n < 0)
        return werr(w, "negative %s length", what);
    if ((uint64_t)n > remaining(w))
        return werr(w, "%s length %lld runs past the end", what, (long long)n);
    if (is_text && !avwalk_utf8_valid(w->p, (size_t)n))
        return werr(w, "%s is not valid UTF-8", what);
    w->p += n;
    return 0;
}

static int skip_fixed(walk *w, size_t n, const char *what)
{
    if (n > remaining(w))
        return werr(w, "truncated %s", what);
    w->p += n;
    return 0;
}

static int walk_value(walk *w, avro_schema_t s, int depth);

/* Arrays and maps share the block layout: count, [byte size if count < 0],
 * items, ..., 0. */
static int walk_blocks(walk *w, avro_schema_t item, int is_map, int depth)
{
    for (;;) {
        int64_t count, size = -1;
        const uint8_t *block_start;

        if (rd_long(w, &count) != 0)
            return -1;
        if (count == 0)
            return 0;
        if (count < 0) {
            if (count == INT64_MIN)
                return werr(w, "invalid block count");
            count = -count;
            if (rd_long(w, &size) != 0)
                return -1;
            if (size < 0 || (uint64_t)size > remaining(w))
                return werr(w, "block size %lld runs past the end", (long long)size);
        }
        if ((uint64_t)count > AVWALK_MAX_ITEMS - w->items)
            return werr(w, "more than %d array/map items", AVWALK_MAX_ITEMS);
        w->items += (size_t)count;
        block_start = w->p;
        for (int64_t i = 0; i < count; i++) {
            if (is_map && skip_len_prefixed(w, "map key", 1) != 0)
                return -1;
            if (walk_value(w, item, depth + 1) != 0)
                return -1;
        }
        if (size >= 0 && (w->p - block_start) != size)
            return werr(w, "block size %lld does not match its items", (long long)size);
    }
}

static int walk_value(walk *w, avro_schema_t s, int depth)
{
    int64_t v;

    if (depth > AVWALK_MAX_DEPTH)
        return werr(w, "nested deeper than %d", AVWALK_MAX_DEPTH);
    while (is_avro_link(s))
        s = avro_schema_link_target(s);
    if (s == NULL)
        return werr(w, "schema without a type");

    switch (avro_typeof(s)) {
    case AVRO_NULL:
        return 0;
    case AVRO_BOOLEAN:
        if (w->p >= w->end)
            return werr(w, "truncated boolean");
        if (*w->p > 1)
            return werr(w, "boolean byte %u", (unsigned)*w->p);
        w->p++;
        return 0;
    case AVRO_INT32:
        return rd_varint(w, 5, &v);
    case AVRO_INT64:
        return rd_long(w, &v);
    case AVRO_FLOAT:
        return skip_fixed(w, 4, "float");
    case AVRO_DOUBLE:
        return skip_fixed(w, 8, "double");
    case AVRO_STRING:
        return skip_len_prefixed(w, "string", 1);
    case AVRO_BYTES:
        return skip_len_prefixed(w, "bytes", 0);
    case AVRO_FIXED: {
        int64_t n = avro_schema_fixed_size(s);
        if (n < 0)
            return werr(w, "invalid fixed size");
        return skip_fixed(w, (size_t)n, "fixed");
    }
    case AVRO_ENUM:
        if (rd_long(w, &v) != 0)
            return -1;
        if (v < 0 || v >= avro_schema_enum_number_of_symbols(s))
            return werr(w, "enum index %lld out of range", (long long)v);
        return 0;
    case AVRO_UNION: {
        avro_schema_t branch;
        if (rd_long(w, &v) != 0)
            return -1;
        if (v < 0 || (uint64_t)v >= avro_schema_union_size(s))
            return werr(w, "union index %lld out of range", (long long)v);
        branch = avro_schema_union_branch(s, (int)v);
        if (branch == NULL)
            return werr(w, "union branch %lld missing", (long long)v);
        return walk_value(w, branch, depth + 1);
    }
    case AVRO_RECORD: {
        size_t n = avro_schema_record_size(s);
        for (size_t i = 0; i < n; i++) {
            avro_schema_t f = avro_schema_record_field_get_by_index(s, (int)i);
            if (f == NULL)
                return werr(w, "record field %zu missing", i);
            if (walk_value(w, f, depth + 1) != 0)
                return -1;
        }
        return 0;
    }
    case AVRO_ARRAY:
        return walk_blocks(w, avro_schema_array_items(s), 0, depth);
    case AVRO_MAP:
        return walk_blocks(w, avro_schema_map_values(s), 1, depth);
    default:
        return werr(w, "unsupported schema type %d", (int)avro_typeof(s));
    }
}

int avwalk_datum(avro_schema_t schema, const uint8_t *buf, size_t len, char *err, size_t errlen)
{
    walk w = {buf, buf, buf + len, 0, err, errlen};

    if (buf == NULL && len != 0)
        return werr(&w, "no buffer");
    if (walk_value(&w, schema, 0) != 0)
        return -1;
    /* One frame carries one datum: trailing bytes mean the frame was cut
     * wrongly or written under another schema, so the datum is suspect. */
    if (w.p != w.end)
        return werr(&w, "%zu trailing bytes after the datum", remaining(&w));
    return 0;
}

int avwalk_value(avro_schema_t schema, const uint8_t *buf, size_t len, size_t *used, char *err,
                 size_t errlen)
{
    walk w = {buf, buf, buf + len, 0, err, errlen};

    if (buf == NULL && len != 0)
        return werr(&w, "no buffer");
    if (walk_value(&w, schema, 0) != 0)
        return -1;
    *used = (size_t)(w.p - w.start);
    return 0;
}
