/* numfmt: see numfmt.h. */
#include "platform/numfmt.h"

#include <assert.h>

size_t numfmt_u64(char *out, uint64_t v)
{
    char tmp[NUMFMT_U64_MAX];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    return n;
}

void numfmt_pad(char *out, uint64_t v, int width)
{
    assert(width >= 0 && width <= NUMFMT_U64_MAX);
    for (int i = width - 1; i >= 0; i--) {
        out[i] = (char)('0' + v % 10);
        v /= 10;
    }
}
