/*
 * cart_body: see the header. The scan exists because jansson's parse of a
 * 40-byte create body (its lexer, a hash table, a string and an integer
 * value, about 11 allocations and 9,500 instructions) was the largest piece
 * of cart-service's own work per request (bench/profile-notes.md). It reads
 * only a strict subset of JSON and declines everything else, so it never has
 * to decide what jansson would have said about a body.
 */
#include "cart_body.h"

#include <string.h>

static const char *skip_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

static cart_field *field_for(cart_body *b, const char *key, size_t n)
{
    if (n == 7 && memcmp(key, "orderId", 7) == 0)
        return &b->order_id;
    if (n == 10 && memcmp(key, "itemsCount", 10) == 0)
        return &b->items_count;
    if (n == 6 && memcmp(key, "status", 6) == 0)
        return &b->status;
    return NULL;
}

/* p at an opening quote: a string of printable ASCII without escapes (so its
 * bytes are its value, and valid UTF-8). Returns the byte after the closing
 * quote, or NULL to decline. */
static const char *scan_string(const char *p, const char *end, const char **s, size_t *n)
{
    const char *start = p + 1;
    for (const char *q = start; q < end; q++) {
        unsigned char c = (unsigned char)*q;
        if (c == '"') {
            *s = start;
            *n = (size_t)(q - start);
            return q + 1;
        }
        if (c < 0x20 || c > 0x7e || c == '\\')
            return NULL;
    }
    return NULL;
}

/* -?(0|[1-9][0-9]*), at most CART_BODY_MAX_DIGITS digits (no overflow), not
 * followed by a fraction or an exponent. Returns the byte after, or NULL. */
static const char *scan_integer(const char *p, const char *end, long long *out)
{
    int neg = 0;
    if (p < end && *p == '-') {
        neg = 1;
        p++;
    }
    const char *digits = p;
    long long v = 0;
    while (p < end && *p >= '0' && *p <= '9') {
        if (p - digits >= CART_BODY_MAX_DIGITS)
            return NULL;
        v = v * 10 + (*p - '0');
        p++;
    }
    size_t nd = (size_t)(p - digits);
    if (nd == 0 || (nd > 1 && *digits == '0'))
        return NULL;
    if (p < end && (*p == '.' || *p == 'e' || *p == 'E'))
        return NULL;
    *out = neg ? -v : v;
    return p;
}

int cart_body_scan(const char *buf, size_t len, cart_body *b)
{
    memset(b, 0, sizeof *b);
    const char *p = skip_ws(buf, buf + len), *end = buf + len;
    if (p == end || *p != '{')
        return -1;
    p = skip_ws(p + 1, end);
    if (p < end && *p == '}') {
        p++;
    } else {
        for (;;) {
            const char *key;
            size_t klen;
            if (p == end || *p != '"' || !(p = scan_string(p, end, &key, &klen)))
                return -1;
            cart_field *f = field_for(b, key, klen);
            /* another key, or a known one twice (jansson names the duplicate) */
            if (!f || f->type != CART_FIELD_ABSENT)
                return -1;
            p = skip_ws(p, end);
            if (p == end || *p != ':')
                return -1;
            p = skip_ws(p + 1, end);
            if (p == end)
                return -1;
            if (*p == '"') {
                if (!(p = scan_string(p, end, &f->str, &f->len)))
                    return -1;
                f->type = CART_FIELD_STRING;
            } else {
                if (!(p = scan_integer(p, end, &f->num)))
                    return -1;
                f->type = CART_FIELD_INTEGER;
            }
            p = skip_ws(p, end);
            if (p == end)
                return -1;
            if (*p == '}') {
                p++;
                break;
            }
            if (*p != ',')
                return -1;
            p = skip_ws(p + 1, end);
        }
    }
    if (skip_ws(p, end) != end)
        return -1;
    b->is_object = 1;
    return 0;
}

void cart_body_from_json(const json_t *doc, cart_body *b)
{
    memset(b, 0, sizeof *b);
    if (!json_is_object(doc))
        return;
    b->is_object = 1;
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)doc, key, val)
    {
        cart_field *f = field_for(b, key, strlen(key));
        if (!f) {
            b->unknown = 1;
            continue;
        }
        if (json_is_string(val)) {
            f->type = CART_FIELD_STRING;
            f->str = json_string_value(val);
            f->len = json_string_length(val);
        } else if (json_is_integer(val)) {
            f->type = CART_FIELD_INTEGER;
            f->num = json_integer_value(val);
        } else {
            f->type = CART_FIELD_OTHER;
        }
    }
}
