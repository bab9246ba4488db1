/*
 * jsonw: JSON output without a DOM. Builds straight into one growable buffer
 * that callers keep and reset between responses, so steady-state rendering
 * does not allocate. Numbers are integers only: nothing goes through a
 * double (money is rendered by order_json from integer cents).
 */
#include "platform/jsonw.h"

#include "platform/numfmt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JSONW_MAX_BYTES (256u * 1024u * 1024u) /* a hard bound on one document */

void jsonw_init(jsonw *w)
{
    memset(w, 0, sizeof *w);
    w->first[0] = 1;
}

void jsonw_reset(jsonw *w)
{
    w->len = 0;
    w->depth = 0;
    w->failed = 0;
    w->first[0] = 1;
    if (w->buf)
        w->buf[0] = '\0';
}

void jsonw_free(jsonw *w)
{
    free(w->buf);
    memset(w, 0, sizeof *w);
}

int jsonw_ok(const jsonw *w)
{
    return !w->failed && w->depth == 0;
}

static int jsonw_reserve(jsonw *w, size_t extra)
{
    if (w->failed)
        return -1;
    if (w->len + extra + 1 <= w->cap)
        return 0;
    if (w->len + extra + 1 > JSONW_MAX_BYTES) {
        w->failed = 1;
        return -1;
    }
    size_t cap = w->cap ? w->cap : 256;
    while (cap < w->len + extra + 1)
        cap *= 2;
    char *nb = realloc(w->buf, cap);
    if (!nb) {
        w->failed = 1;
        return -1;
    }
    w->buf = nb;
    w->cap = cap;
    return 0;
}

static void jsonw_put(jsonw *w, const char *s, size_t n)
{
    if (jsonw_reserve(w, n))
        return;
    memcpy(w->buf + w->len, s, n);
    w->len += n;
    w->buf[w->len] = '\0';
}

/* Comma before every value or key except the first at its level. After a
 * key, the value follows without a comma: jsonw_key marks the level so. */
static void jsonw_sep(jsonw *w)
{
    if (w->first[w->depth] == 2) { /* value right after its key */
        w->first[w->depth] = 0;
        return;
    }
    if (!w->first[w->depth])
        jsonw_put(w, ",", 1);
    w->first[w->depth] = 0;
}

static void jsonw_open(jsonw *w, char c)
{
    jsonw_sep(w);
    if (w->depth + 1 >= JSONW_DEPTH) {
        w->failed = 1;
        return;
    }
    jsonw_put(w, &c, 1);
    w->depth++;
    w->first[w->depth] = 1;
}

static void jsonw_close(jsonw *w, char c)
{
    if (w->depth <= 0) {
        w->failed = 1;
        return;
    }
    jsonw_put(w, &c, 1);
    w->depth--;
}

void jsonw_obj_begin(jsonw *w)
{
    jsonw_open(w, '{');
}
void jsonw_obj_end(jsonw *w)
{
    jsonw_close(w, '}');
}
void jsonw_arr_begin(jsonw *w)
{
    jsonw_open(w, '[');
}
void jsonw_arr_end(jsonw *w)
{
    jsonw_close(w, ']');
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if invalid. */
static size_t jsonw_utf8_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t len;
    unsigned min;
    unsigned cp;
    if (c < 0x80)
        return 1;
    if ((c & 0xE0) == 0xC0) {
        len = 2, min = 0x80, cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
        len = 3, min = 0x800, cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
        len = 4, min = 0x10000, cp = c & 0x07;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

static void jsonw_escaped(jsonw *w, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    /* Worst case 6 output bytes per input byte, plus quotes. */
    if (n > JSONW_MAX_BYTES / 6 || jsonw_reserve(w, n * 6 + 2))
        return;
    char *o = w->buf + w->len;
    *o++ = '"';
    size_t i = 0;
    while (i < n) {
        unsigned char c = p[i];
        if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
            *o++ = (char)c;
            i++;
            continue;
        }
        if (c == '"' || c == '\\') {
            *o++ = '\\';
            *o++ = (char)c;
            i++;
        } else if (c < 0x20) {
            memcpy(o, "\\u00", 4);
            o[4] = hex[c >> 4];
            o[5] = hex[c & 15];
            o += 6;
            i++;
        } else {
            size_t l = jsonw_utf8_len(p + i, n - i);
            if (l == 0) {
                memcpy(o, "\\ufffd", 6); /* invalid UTF-8 never leaks into JSON */
                o += 6;
                i++;
            } else {
                memcpy(o, p + i, l);
                o += l;
                i += l;
            }
        }
    }
    *o++ = '"';
    w->len = (size_t)(o - w->buf);
    w->buf[w->len] = '\0';
}

void jsonw_key(jsonw *w, const char *key)
{
    /* Keys are almost always plain ASCII names: comma, quotes, name and colon
     * in one reservation, instead of four (a key is written for every field
     * of every answer and every stored item). */
    size_t n = 0;
    while (key[n] && (unsigned char)key[n] >= 0x20 && (unsigned char)key[n] < 0x80 &&
           key[n] != '"' && key[n] != '\\')
        n++;
    if (key[n] || w->first[w->depth] == 2) { /* escapes needed, or misuse: the general path */
        jsonw_sep(w);
        jsonw_escaped(w, key, strlen(key));
        jsonw_put(w, ":", 1);
        w->first[w->depth] = 2;
        return;
    }
    if (jsonw_reserve(w, n + 4))
        return;
    char *o = w->buf + w->len;
    if (!w->first[w->depth])
        *o++ = ',';
    *o++ = '"';
    memcpy(o, key, n);
    o += n;
    *o++ = '"';
    *o++ = ':';
    *o = '\0';
    w->len = (size_t)(o - w->buf);
    w->first[w->depth] = 2;
}

void jsonw_strn(jsonw *w, const char *s, size_t n)
{
    jsonw_sep(w);
    jsonw_escaped(w, s, n);
}

void jsonw_str(jsonw *w, const char *s)
{
    if (!s) {
        jsonw_null(w);
        return;
    }
    jsonw_strn(w, s, strlen(s));
}

void jsonw_int(jsonw *w, long long v)
{
    char b[NUMFMT_I64_MAX];
    size_t n = numfmt_i64(b, (int64_t)v); /* no printf: one per number of every answer */
    jsonw_sep(w);
    jsonw_put(w, b, n);
}

void jsonw_bool(jsonw *w, int v)
{
    jsonw_sep(w);
    jsonw_put(w, v ? "true" : "false", v ? 4 : 5);
}

void jsonw_null(jsonw *w)
{
    jsonw_sep(w);
    jsonw_put(w, "null", 4);
}

void jsonw_raw(jsonw *w, const char *json, size_t n)
{
    jsonw_sep(w);
    jsonw_put(w, json, n);
}

void jsonw_bytes(jsonw *w, const char *s, size_t n)
{
    jsonw_put(w, s, n);
}

void jsonw_list_continues(jsonw *w, int continues)
{
    w->first[w->depth] = continues ? 0 : 1;
}
