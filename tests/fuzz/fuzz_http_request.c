/*
 * fuzz_http_request: libFuzzer target for the HTTP request parser
 * (src/common/platform/http_parse.c), the first code every byte a client
 * sends reaches. Input: the bytes of a connection, as they arrive.
 *
 * Properties beyond "no crash, no sanitizer report":
 * - the end of a head is found at the same place however the bytes are
 *   split into reads (here: at a split point taken from the input);
 * - a parsed head's offsets lie inside the head, its strings end there, and
 *   its framing is one of Content-Length or chunked, never both;
 * - a chunked body decodes to the same bytes in one piece or in two, never
 *   longer than its raw form or the limit.
 * Seeds: tests/fuzz/corpus/http_request/.
 */
#include "platform/http_parse.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_BODY 4096

static void check_head(const char *buf, size_t head_len, const http_head *h)
{
    if (h->nfields > HTTP_PARSE_MAX_HEADERS || h->minor < 0 || h->minor > 1)
        abort();
    if (h->chunked && h->content_length >= 0)
        abort();
    if (h->path_at + h->path_len > head_len || h->path_len == 0 || buf[h->path_at] != '/' ||
        buf[h->path_at + h->path_len] != '\0')
        abort();
    if (h->query_at && (h->query_at + h->query_len > head_len || buf[h->query_at + h->query_len]))
        abort();
    for (size_t i = 0; i < h->nfields; i++) {
        const http_field *f = &h->fields[i];
        if (f->name + f->name_len > head_len || f->value + f->value_len > head_len)
            abort();
        if (strlen(buf + f->name) != f->name_len || strlen(buf + f->value) != f->value_len)
            abort();
    }
}

/* Decodes raw[0..n) split at cut; returns the decoder's result, the body in out. */
static int dechunk(const uint8_t *raw, size_t n, size_t cut, char *work, http_chunked *st)
{
    memset(st, 0, sizeof *st);
    memcpy(work, raw, n);
    int too_large = 0;
    const char *err = NULL;
    int r = http_chunked_step(st, work, cut, MAX_BODY, &too_large, &err);
    if (r == 0)
        r = http_chunked_step(st, work, n, MAX_BODY, &too_large, &err);
    if (r < 0 && !err)
        abort();
    if (st->out > st->in || st->out > MAX_BODY)
        abort();
    return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 65536)
        return 0;
    size_t cut = data[0] % size;
    const uint8_t *in = data + 1;
    size_t n = size - 1;
    char *buf = malloc(n + 1);
    char *work1 = malloc(n + 1);
    char *work2 = malloc(n + 1);
    http_head *h = malloc(sizeof *h);
    if (!buf || !work1 || !work2 || !h)
        goto out;
    memcpy(buf, in, n);
    buf[n] = '\0';

    size_t scan = 0;
    size_t end = http_head_end(buf, n, &scan);
    size_t scan2 = 0;
    size_t end2 = http_head_end(buf, cut < n ? cut : n, &scan2);
    if (!end2)
        end2 = http_head_end(buf, n, &scan2);
    if (end != end2 || end > n)
        abort();
    if (!end)
        goto out;
    if (http_head_parse(buf, end, h) == 0) {
        check_head(buf, end, h);
        if (h->chunked) {
            http_chunked a, b;
            size_t raw = n - end;
            int r1 = dechunk(in + end, raw, raw, work1, &a);
            int r2 = dechunk(in + end, raw, cut < raw ? cut : raw, work2, &b);
            if (r1 != r2 ||
                (r1 == 1 && (a.out != b.out || a.in != b.in || memcmp(work1, work2, a.out) != 0)))
                abort();
        }
    } else if (!h->error || h->status < 400 || h->status > 505) {
        abort();
    }
out:
    free(buf);
    free(work1);
    free(work2);
    free(h);
    return 0;
}
