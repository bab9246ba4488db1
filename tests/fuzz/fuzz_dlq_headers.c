/*
 * fuzz_dlq_headers: libFuzzer target for the DLQ header parser, which reads
 * headers of any record in the DLQ topic (written by any instance or tool).
 *
 * Input: a sequence of headers, each [name length: 1 byte][name][value
 * length: 2 bytes LE][value]; a length running past the input ends it.
 * Properties beyond "no crash, no sanitizer report":
 * - every string field stays NUL-terminated within its bound;
 * - whatever was parsed survives a build -> parse round trip unchanged
 *   (the writer and the reader agree on every value the reader accepts).
 * Seeds: tests/fuzz/corpus/dlq_headers/.
 */
#include "event/dlq_info.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_bounded(const dlq_info *d)
{
    if (memchr(d->category, 0, sizeof d->category) == NULL ||
        memchr(d->reason, 0, sizeof d->reason) == NULL ||
        memchr(d->message, 0, sizeof d->message) == NULL ||
        memchr(d->original_topic, 0, sizeof d->original_topic) == NULL)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    dlq_info d;
    memset(&d, 0, sizeof d);
    size_t i = 0;
    while (i < size) {
        size_t nlen = data[i++];
        if (i + nlen + 2 > size)
            break;
        char name[256];
        memcpy(name, data + i, nlen);
        name[nlen] = '\0';
        i += nlen;
        size_t vlen = (size_t)data[i] | (size_t)data[i + 1] << 8;
        i += 2;
        if (vlen > size - i)
            vlen = size - i;
        (void)dlq_info_set_header(&d, name, data + i, vlen);
        i += vlen;
    }
    check_bounded(&d);

    /* Round trip: text fields stop at the first NUL, as headers carry them. */
    rd_kafka_headers_t *h = dlq_info_headers(&d);
    if (!h)
        return 0;
    dlq_info back;
    dlq_info_from_headers(&back, h);
    rd_kafka_headers_destroy(h);
    check_bounded(&back);
    if (strcmp(back.category, d.category) || strcmp(back.reason, d.reason) ||
        strcmp(back.message, d.message) || strcmp(back.original_topic, d.original_topic))
        abort();
    if ((d.present & DLQ_F_RETRY_COUNT) && back.retry_count != d.retry_count)
        abort();
    if ((d.present & DLQ_F_PARTITION) && back.original_partition != d.original_partition)
        abort();
    if ((d.present & DLQ_F_OFFSET) && back.original_offset != d.original_offset)
        abort();
    if ((d.present & DLQ_F_TIMESTAMP) && back.original_timestamp_ms != d.original_timestamp_ms)
        abort();
    if ((d.present & DLQ_F_FAILED_AT) && back.failed_at_ms != d.failed_at_ms)
        abort();
    return 0;
}
