/*
 * numfmt: see the header. Digits are produced from the right into a small
 * scratch buffer and copied once; two digits per division would be faster
 * still, but one per division is already an order of magnitude below
 * snprintf and obviously right.
 */
#include "platform/numfmt.h"

#include <assert.h>
#include <string.h>

size_t numfmt_u64(char *out, uint64_t v)
{
    char tmp[NUMFMT_U64_MAX];
    size_t n = 0;
    do {
        tmp[sizeof tmp - 1 - n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    memcpy(out, tmp + sizeof tmp - n, n);
    return n;
}

size_t numfmt_i64(char *out, int64_t v)
{
    if (v >= 0)
        return numfmt_u64(out, (uint64_t)v);
    out[0] = '-';
    /* unsigned negation: -INT64_MIN is not representable as int64_t */
    return 1 + numfmt_u64(out + 1, (uint64_t)0 - (uint64_t)v);
}

void numfmt_pad(char *out, uint64_t v, int width)
{
    assert(width > 0 && width <= 19);
    for (int i = width - 1; i >= 0; i--) {
        out[i] = (char)('0' + v % 10);
        v /= 10;
    }
    assert(v == 0); /* it fitted */
}

void numfmt_hex64(char *out, uint64_t v)
{
    static const char hex[] = "0123456789abcdef";
    for (int i = 15; i >= 0; i--) {
        out[i] = hex[v & 0xf];
        v >>= 4;
    }
}
