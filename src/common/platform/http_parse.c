/*
 * http_parse: request heads, chunked bodies and query strings (the contract
 * is in http_parse.h).
 *
 * Why it looks like this:
 * - Strict where leniency would let two parties frame a request differently
 *   (request smuggling): conflicting Content-Length values, Content-Length
 *   with Transfer-Encoding, a Transfer-Encoding other than "chunked", line
 *   folding, whitespace before a field's colon, a bare CR, control bytes in
 *   the target: all 400. Lenient where it costs nothing: a bare LF ends a line,
 *   empty lines before the request line are skipped (RFC 9112 2.2).
 * - Offsets, not pointers (see the header); every offset fits 32 bits since a
 *   head is bounded by the server's header limit long before.
 */
#include "platform/http_parse.h"

#include <string.h>
#include <strings.h>

size_t http_head_end(const char *buf, size_t len, size_t *scan)
{
    size_t i = *scan;
    while (i < len) {
        const char *nl = memchr(buf + i, '\n', len - i);
        if (!nl) {
            *scan = len;
            return 0;
        }
        size_t at = (size_t)(nl - buf);
        /* an empty line follows: "\n\n" or "\n\r\n" */
        if (at + 1 >= len || (buf[at + 1] == '\r' && at + 2 >= len)) {
            *scan = at; /* look at this LF again once more bytes came */
            return 0;
        }
        if (buf[at + 1] == '\n')
            return at + 2;
        if (buf[at + 1] == '\r' && buf[at + 2] == '\n')
            return at + 3;
        i = at + 1;
    }
    *scan = i;
    return 0;
}

static int fail(http_head *h, int status, const char *error)
{
    h->status = status;
    h->error = error;
    return -1;
}

/* RFC 9110 token characters: method and field names are checked byte by byte */
static const unsigned char tchar[256] = {
    ['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1, ['*'] = 1, ['+'] = 1,
    ['-'] = 1, ['.'] = 1, ['^'] = 1, ['_'] = 1, ['`'] = 1, ['|'] = 1,  ['~'] = 1, ['0'] = 1,
    ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1,  ['7'] = 1, ['8'] = 1,
    ['9'] = 1, ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1,  ['F'] = 1, ['G'] = 1,
    ['H'] = 1, ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1,  ['N'] = 1, ['O'] = 1,
    ['P'] = 1, ['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1, ['U'] = 1,  ['V'] = 1, ['W'] = 1,
    ['X'] = 1, ['Y'] = 1, ['Z'] = 1, ['a'] = 1, ['b'] = 1, ['c'] = 1,  ['d'] = 1, ['e'] = 1,
    ['f'] = 1, ['g'] = 1, ['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1,  ['l'] = 1, ['m'] = 1,
    ['n'] = 1, ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1, ['s'] = 1,  ['t'] = 1, ['u'] = 1,
    ['v'] = 1, ['w'] = 1, ['x'] = 1, ['y'] = 1, ['z'] = 1,
};

static int is_tchar(unsigned char c)
{
    return tchar[c];
}

static http_method method_of(const char *m, size_t n)
{
    static const struct {
        const char *name;
        http_method m;
    } t[] = {{"GET", HTTP_METHOD_GET},        {"POST", HTTP_METHOD_POST},
             {"PUT", HTTP_METHOD_PUT},        {"HEAD", HTTP_METHOD_HEAD},
             {"DELETE", HTTP_METHOD_DELETE},  {"OPTIONS", HTTP_METHOD_OPTIONS},
             {"PATCH", HTTP_METHOD_PATCH},    {"TRACE", HTTP_METHOD_TRACE},
             {"CONNECT", HTTP_METHOD_CONNECT}};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (strlen(t[i].name) == n && memcmp(t[i].name, m, n) == 0)
            return t[i].m;
    return HTTP_METHOD_OTHER;
}

/* The end of the line starting at p (its LF, or e), and its length without CR. */
static char *line_end(char *p, char *e, size_t *n)
{
    char *nl = memchr(p, '\n', (size_t)(e - p));
    if (!nl)
        nl = e;
    char *end = nl > p && nl[-1] == '\r' ? nl - 1 : nl;
    *n = (size_t)(end - p);
    return nl;
}

/* Splits the target into path and query (origin form, or absolute form "http://host/..."). */
static int parse_target(char *base, http_head *h)
{
    char *t = base + h->target_at;
    size_t n = h->target_len;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)t[i];
        if (c <= 0x20 || c == 0x7f)
            return fail(h, 400, "control byte in the request target");
    }
    size_t at = 0;
    if (n > 0 && t[0] != '/') {
        /* absolute form: the path starts after "scheme://authority" */
        const char *sep = n >= 3 ? strstr(t, "://") : NULL;
        if (!sep || sep == t)
            return fail(h, 400, "malformed request target");
        at = (size_t)(sep - t) + 3;
        while (at < n && t[at] != '/' && t[at] != '?' && t[at] != '#')
            at++;
        if (at == n || t[at] != '/')
            return fail(h, 400, "malformed request target");
    }
    if (n == 0)
        return fail(h, 400, "malformed request target");
    size_t end = at;
    while (end < n && t[end] != '?' && t[end] != '#')
        end++;
    h->path_at = h->target_at + (uint32_t)at;
    h->path_len = (uint32_t)(end - at);
    h->query_at = 0;
    h->query_len = 0;
    if (end < n && t[end] == '?') {
        size_t q = end + 1, qe = q;
        while (qe < n && t[qe] != '#')
            qe++;
        h->query_at = h->target_at + (uint32_t)q;
        h->query_len = (uint32_t)(qe - q);
        t[qe] = '\0'; /* the '#' or the target's own NUL */
    }
    t[end] = '\0'; /* path and query are strings of their own */
    return 0;
}

static int parse_request_line(char *base, char *p, size_t n, http_head *h)
{
    char *sp1 = memchr(p, ' ', n);
    if (!sp1 || sp1 == p)
        return fail(h, 400, "malformed request line");
    size_t mlen = (size_t)(sp1 - p);
    if (mlen > HTTP_PARSE_METHOD_MAX)
        return fail(h, 400, "malformed request line: method too long");
    for (size_t i = 0; i < mlen; i++)
        if (!is_tchar((unsigned char)p[i]))
            return fail(h, 400, "malformed request line: bad method");
    char *tgt = sp1 + 1;
    char *e = p + n;
    char *sp2 = NULL;
    for (char *q = e; q > tgt; q--)
        if (q[-1] == ' ') {
            sp2 = q - 1;
            break;
        }
    if (!sp2 || sp2 == tgt)
        return fail(h, 400, "malformed request line");
    size_t vlen = (size_t)(e - sp2 - 1);
    const char *v = sp2 + 1;
    if (vlen != 8 || memcmp(v, "HTTP/", 5) != 0 || v[6] != '.' || v[5] < '0' || v[5] > '9' ||
        v[7] < '0' || v[7] > '9')
        return fail(h, 400, "malformed request line: bad HTTP version");
    if (v[5] != '1' || (v[7] != '0' && v[7] != '1'))
        return fail(h, 505, "HTTP version not supported (HTTP/1.0 and HTTP/1.1 are)");
    h->minor = v[7] - '0';
    h->method = method_of(p, mlen);
    h->method_at = (uint32_t)(p - base);
    h->method_len = (uint32_t)mlen;
    h->target_at = (uint32_t)(tgt - base);
    h->target_len = (uint32_t)(sp2 - tgt);
    *sp1 = '\0';
    *sp2 = '\0';
    return parse_target(base, h);
}

/* A comma-separated list (Connection, Transfer-Encoding) has token tok, any case. */
static int list_has(const char *v, const char *tok)
{
    size_t tn = strlen(tok);
    while (*v) {
        while (*v == ' ' || *v == '\t' || *v == ',')
            v++;
        size_t n = strcspn(v, ",");
        size_t m = n;
        while (m > 0 && (v[m - 1] == ' ' || v[m - 1] == '\t'))
            m--;
        if (m == tn && strncasecmp(v, tok, tn) == 0)
            return 1;
        v += n;
    }
    return 0;
}

/* Content-Length: digits only, at most 18 of them. */
static long long parse_length(const char *v)
{
    size_t n = strlen(v);
    if (n == 0 || n > 18)
        return -1;
    long long x = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9')
            return -1;
        x = x * 10 + (v[i] - '0');
    }
    return x;
}

/* The framing and connection rules from the fields. */
static int parse_rules(const char *base, http_head *h)
{
    int close = 0, keep = 0, te = 0;
    for (size_t i = 0; i < h->nfields; i++) {
        const http_field *f = &h->fields[i];
        const char *name = base + f->name;
        const char *val = base + f->value;
        switch (f->name_len) {
        case 14:
            if (strcasecmp(name, "Content-Length") == 0) {
                long long n = parse_length(val);
                if (n < 0)
                    return fail(h, 400, "malformed Content-Length");
                if (h->content_length >= 0 && h->content_length != n)
                    return fail(h, 400, "conflicting Content-Length headers");
                h->content_length = n;
            }
            break;
        case 17:
            if (strcasecmp(name, "Transfer-Encoding") == 0) {
                if (te || strcasecmp(val, "chunked") != 0)
                    return fail(h, 400, "unsupported Transfer-Encoding (only chunked is)");
                te = 1;
            }
            break;
        case 10:
            if (strcasecmp(name, "Connection") == 0) {
                close |= list_has(val, "close");
                keep |= list_has(val, "keep-alive");
            }
            break;
        case 6:
            if (strcasecmp(name, "Expect") == 0) {
                if (strcasecmp(val, "100-continue") != 0)
                    return fail(h, 417, "unsupported Expect (only 100-continue is)");
                h->expect_continue = 1;
            }
            break;
        default:
            break;
        }
    }
    if (te && h->content_length >= 0)
        return fail(h, 400, "conflicting Content-Length / Transfer-Encoding headers");
    h->chunked = te;
    h->keep_alive = !close && (h->minor == 1 || keep);
    return 0;
}

int http_head_parse(char *buf, size_t head_len, http_head *h)
{
    /* the field table is filled as far as it goes; everything else starts cleared */
    memset(h, 0, offsetof(http_head, fields));
    h->content_length = -1;
    h->chunked = h->keep_alive = h->expect_continue = 0;
    h->status = 0;
    h->error = NULL;
    char *p = buf, *e = buf + head_len;
    while (p < e && (*p == '\r' || *p == '\n'))
        p++; /* empty lines before the request line */
    size_t n;
    char *nl = line_end(p, e, &n);
    if (memchr(p, '\r', n))
        return fail(h, 400, "malformed request line: bare CR");
    if (parse_request_line(buf, p, n, h) != 0)
        return -1;
    p = nl + 1;
    while (p < e) {
        nl = line_end(p, e, &n);
        if (n == 0)
            break; /* the empty line */
        if (*p == ' ' || *p == '\t')
            return fail(h, 400, "obsolete header line folding");
        char *colon = memchr(p, ':', n);
        if (!colon || colon == p)
            return fail(h, 400, "malformed header line");
        for (char *q = p; q < colon; q++)
            if (!is_tchar((unsigned char)*q))
                return fail(h, 400, "malformed header name");
        char *v = colon + 1, *ve = p + n;
        while (v < ve && (*v == ' ' || *v == '\t'))
            v++;
        while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
            ve--;
        for (char *q = v; q < ve; q++) {
            unsigned char c = (unsigned char)*q;
            if ((c < 0x20 && c != '\t') || c == 0x7f)
                return fail(h, 400, "control byte in a header value");
        }
        if (h->nfields == HTTP_PARSE_MAX_HEADERS)
            return fail(h, 431, "too many request headers");
        http_field *f = &h->fields[h->nfields++];
        f->name = (uint32_t)(p - buf);
        f->name_len = (uint32_t)(colon - p);
        f->value = (uint32_t)(v - buf);
        f->value_len = (uint32_t)(ve - v);
        *colon = '\0';
        *ve = '\0'; /* the CR, LF or trailing whitespace after the value */
        p = nl + 1;
    }
    return parse_rules(buf, h);
}

const char *http_head_field(const http_head *h, const char *base, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < h->nfields; i++)
        if (h->fields[i].name_len == n && strcasecmp(base + h->fields[i].name, name) == 0)
            return base + h->fields[i].value;
    return NULL;
}

/* ---- chunked bodies ---- */

enum { CH_SIZE, CH_EXT, CH_DATA, CH_DATA_CR, CH_DATA_LF, CH_TRAILER, CH_TRAILER_LINE };

#define HTTP_CHUNK_LINE_MAX 1024 /* a size line with extensions, or one trailer line */
#define HTTP_CHUNK_TRAILER_MAX 8192

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int http_chunked_step(http_chunked *st, char *buf, size_t len, size_t max_body, int *too_large,
                      const char **error)
{
    *too_large = 0;
    while (st->in < len) {
        char c = buf[st->in];
        switch (st->phase) {
        case CH_SIZE: {
            int d = hexval(c);
            if (d >= 0) {
                if (st->left > ((unsigned long long)max_body >> 4)) {
                    *too_large = 1;
                    *error = "request body too large";
                    return -1;
                }
                st->left = st->left * 16 + (unsigned)d;
                if (++st->line > HTTP_CHUNK_LINE_MAX) {
                    *error = "chunk size line too long";
                    return -1;
                }
                st->in++;
                break;
            }
            if (st->line == 0) {
                *error = "malformed chunk size";
                return -1;
            }
            st->phase = CH_EXT;
            st->ext = 0;
            break; /* c is looked at again there */
        }
        case CH_EXT:
            st->in++;
            if (++st->line > HTTP_CHUNK_LINE_MAX) {
                *error = "chunk extension too long";
                return -1;
            }
            if (c == '\n') {
                st->line = 0;
                if (st->left > max_body - st->out) {
                    *too_large = 1;
                    *error = "request body too large";
                    return -1;
                }
                st->phase = st->left ? CH_DATA : CH_TRAILER;
            } else if (c == ';') {
                st->ext = 1;
            } else if ((!st->ext && c != '\r' && c != ' ' && c != '\t') ||
                       ((unsigned char)c < 0x20 && c != '\r' && c != '\t')) {
                *error = "malformed chunk size line";
                return -1;
            }
            break;
        case CH_DATA: {
            size_t n = len - st->in;
            if (n > st->left)
                n = (size_t)st->left;
            memmove(buf + st->out, buf + st->in, n);
            st->out += n;
            st->in += n;
            st->left -= n;
            if (st->left == 0)
                st->phase = CH_DATA_CR;
            break;
        }
        case CH_DATA_CR:
            st->in++;
            if (c == '\n')
                st->phase = CH_SIZE;
            else if (c == '\r')
                st->phase = CH_DATA_LF;
            else {
                *error = "chunk data not followed by CRLF";
                return -1;
            }
            break;
        case CH_DATA_LF:
            st->in++;
            if (c != '\n') {
                *error = "chunk data not followed by CRLF";
                return -1;
            }
            st->phase = CH_SIZE;
            break;
        case CH_TRAILER: /* at the start of a trailer line: an empty one ends the body */
            st->in++;
            if (c == '\n')
                return 1;
            if (c != '\r') {
                st->phase = CH_TRAILER_LINE;
                st->line = 1;
            }
            break;
        case CH_TRAILER_LINE: /* trailer fields are read and ignored, bounded */
            st->in++;
            if (++st->line > HTTP_CHUNK_TRAILER_MAX) {
                *error = "chunked trailer too long";
                return -1;
            }
            if (c == '\n')
                st->phase = CH_TRAILER;
            break;
        default:
            *error = "chunked decoder state";
            return -1;
        }
    }
    return 0;
}

/* ---- query strings ---- */

size_t http_pct_decode(const char *s, size_t n, char *out, int plus)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '%' && i + 2 < n) {
            int hi = hexval(s[i + 1]);
            int lo = hexval(s[i + 2]);
            if (hi >= 0 && lo >= 0) {
                char d = (char)(hi * 16 + lo);
                out[o++] = d == '\0' ? '\x01' : d;
                i += 2;
                continue;
            }
        }
        out[o++] = plus && c == '+' ? ' ' : c;
    }
    out[o] = '\0';
    return o;
}

long http_query_find(const char *query, size_t n, const char *key, char *out, size_t cap)
{
    size_t klen = strlen(key);
    size_t i = 0;
    while (i < n) {
        size_t e = i;
        while (e < n && query[e] != '&')
            e++;
        const char *eq = memchr(query + i, '=', e - i);
        if (eq && (size_t)(eq - (query + i)) == klen && strncasecmp(query + i, key, klen) == 0) {
            size_t vlen = (size_t)(query + e - (eq + 1));
            if (vlen + 1 > cap)
                return -2;
            return (long)http_pct_decode(eq + 1, vlen, out, 1);
        }
        i = e + 1;
    }
    return -1;
}
