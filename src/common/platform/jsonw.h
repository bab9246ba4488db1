/*
 * jsonw: a small JSON writer into a reusable growable buffer, used for every
 * response body. It knows no domain types: money (two decimals, from integer
 * cents) is order_json_money(), so nothing goes through binary floating point.
 *
 * Commas are handled by the writer (a nesting stack of JSONW_DEPTH levels).
 * Errors (out of memory, nesting too deep) are sticky: check jsonw_ok() once
 * at the end.
 */
#ifndef JSONW_H
#define JSONW_H

#include <stddef.h>
#include <stdint.h>

#define JSONW_DEPTH 16

typedef struct {
    char *buf;
    size_t len, cap;
    int depth;
    unsigned char first[JSONW_DEPTH]; /* 1 while no member written at that depth */
    int failed;
} jsonw;

void jsonw_init(jsonw *w);
void jsonw_reset(jsonw *w); /* keeps the allocation */
void jsonw_free(jsonw *w);
int jsonw_ok(const jsonw *w);

void jsonw_obj_begin(jsonw *w);
void jsonw_obj_end(jsonw *w);
void jsonw_arr_begin(jsonw *w);
void jsonw_arr_end(jsonw *w);
void jsonw_key(jsonw *w, const char *key); /* inside an object, before a value */
void jsonw_str(jsonw *w, const char *s);   /* escapes; invalid UTF-8 becomes U+FFFD */
void jsonw_strn(jsonw *w, const char *s, size_t n);
void jsonw_int(jsonw *w, long long v);
void jsonw_bool(jsonw *w, int v);
void jsonw_null(jsonw *w);
void jsonw_raw(jsonw *w, const char *json, size_t n); /* pre-rendered JSON value */
/* For a document written in pieces (streamed answers): bytes as they are, no
 * separator, no state change; and whether the next top-level value follows
 * an earlier one of the same list (a comma first) or starts it. */
void jsonw_bytes(jsonw *w, const char *s, size_t n);
void jsonw_list_continues(jsonw *w, int continues);

#endif
