/*
 * http_parse: the HTTP/1.1 request parser of the HTTP layer, on bytes in a
 * buffer, with no I/O and no allocation (so it is unit-tested and fuzzed on
 * its own).
 *
 * A head is parsed in place: field names and values are NUL-terminated where
 * they lie (the CR or LF after a value, the ':' after a name become NULs), and
 * the result records offsets from the start of the request, not pointers, so
 * the buffer may move (be compacted or grown) between parsing and use.
 *
 * Contract:
 * - http_head_end() finds where a head ends (after its empty line) in
 *   buf[0..len); it resumes from *scan (0 at first; updated) so bytes are
 *   looked at about once however the head arrives.
 * - http_head_parse() parses a complete head (buf[0..head_len), as found by
 *   http_head_end) into h. On a malformed head it returns -1 with h->status
 *   (400, 431, 505...) and h->error (a static message) set; then nothing after
 *   the head can be trusted and the connection must be closed after the answer.
 * - http_chunked_step() decodes a chunked body in place, incrementally.
 */
#ifndef HTTP_PARSE_H
#define HTTP_PARSE_H

#include <stddef.h>
#include <stdint.h>

#define HTTP_PARSE_MAX_HEADERS 100 /* more: 431 */
#define HTTP_PARSE_METHOD_MAX 16

typedef enum {
    HTTP_METHOD_OTHER = 0,
    HTTP_METHOD_GET,
    HTTP_METHOD_HEAD,
    HTTP_METHOD_POST,
    HTTP_METHOD_PUT,
    HTTP_METHOD_DELETE,
    HTTP_METHOD_OPTIONS,
    HTTP_METHOD_PATCH,
    HTTP_METHOD_TRACE,
    HTTP_METHOD_CONNECT
} http_method;

typedef struct {
    uint32_t name, value; /* offsets of NUL-terminated strings */
    uint32_t name_len, value_len;
} http_field;

typedef struct {
    http_method method;
    uint32_t method_at, method_len; /* the method token (NUL-terminated) */
    uint32_t target_at, target_len; /* the request target as sent (cut by the NULs below) */
    uint32_t path_at, path_len;     /* the path (origin form), NUL-terminated at its '?' or '#' */
    uint32_t query_at, query_len;   /* after '?', NUL-terminated at '#'; query_at 0 when none */
    int minor;                      /* HTTP/1.<minor>: 0 or 1 */
    size_t nfields;
    http_field fields[HTTP_PARSE_MAX_HEADERS];
    /* framing and connection rules, from the fields */
    long long content_length; /* -1: none */
    int chunked;              /* Transfer-Encoding: chunked */
    int keep_alive;           /* HTTP/1.1 without "close", or HTTP/1.0 with "keep-alive" */
    int expect_continue;      /* Expect: 100-continue */
    /* on failure */
    int status;
    const char *error;
} http_head;

/* Where the head ends in buf[0..len) (the length including its empty line), or 0 for not yet. */
size_t http_head_end(const char *buf, size_t len, size_t *scan);

/* Parses buf[0..head_len) in place (see the top). 0, or -1 with h->status and h->error. */
int http_head_parse(char *buf, size_t head_len, http_head *h);

/* The first field of that name (any case), or NULL: a NUL-terminated value inside base. */
const char *http_head_field(const http_head *h, const char *base, const char *name);

/*
 * A chunked body, decoded in place: the decoded bytes are moved down to
 * buf[0..*out) as the raw ones at buf[*in..len) are consumed. Call again
 * with the same state when more bytes came.
 */
typedef struct {
    size_t in;               /* raw bytes consumed (offset into buf) */
    size_t out;              /* decoded bytes so far, at buf[0..out) */
    unsigned long long left; /* bytes left of the current chunk's data */
    int phase;               /* internal */
    int ext;                 /* internal: inside a chunk extension */
    size_t line;             /* length of the size or trailer line so far */
} http_chunked;

/*
 * 1: the body is complete (the raw body took buf[0..in), the decoded one is
 * buf[0..out)); 0: more bytes needed; -1: malformed (error set) or the
 * decoded body would pass max_body (error set, *too_large 1).
 */
int http_chunked_step(http_chunked *st, char *buf, size_t len, size_t max_body, int *too_large,
                      const char **error);

/*
 * Percent-decodes s[0..n) into out (at most n bytes, NUL-terminated: out has
 * n + 1 bytes), '+' as a space when plus; "%00" decodes to 0x01, so a control
 * byte stays in the value instead of cutting it short. Malformed escapes are
 * kept as they are. Returns the decoded length.
 */
size_t http_pct_decode(const char *s, size_t n, char *out, int plus);

/*
 * The first value of query parameter key (its name compared after decoding,
 * any case) in query[0..n), decoded into out[0..cap) (NUL-terminated).
 * Returns the decoded length, -1 when absent, -2 when it does not fit.
 */
long http_query_find(const char *query, size_t n, const char *key, char *out, size_t cap);

#endif
