/* wait_req: see wait_req.h. */
#include "query/wait_req.h"

#include "platform/http.h"

#include <stdio.h>
#include <string.h>

int wait_req_parse(const char *wait_ms, const char *after, int64_t limit_ms, wait_req *out,
                   const char **why)
{
    memset(out, 0, sizeof *out);
    if (after) {
        const char *colon = strchr(after, ':');
        char part[16];
        size_t plen = colon ? (size_t)(colon - after) : 0;
        long long p, o;
        if (!colon || plen == 0 || plen >= sizeof part) {
            *why = "after must be <partition>:<offset> as in cart-service's answer, e.g. 3:1207";
            return -1;
        }
        memcpy(part, after, plen);
        part[plen] = '\0';
        if (http_parse_uint(part, 0, 0, READ_WAIT_PARTITION_MAX, &p) != 0 ||
            http_parse_uint(colon + 1, 0, 0, INT64_MAX, &o) != 0) {
            *why = "after must be <partition>:<offset>: a partition of 0 to 99999 and an "
                   "offset of 0 or more (decimal digits)";
            return -1;
        }
        out->has_after = 1;
        out->partition = (int32_t)p;
        out->offset = o;
    }
    long long w;
    long long def = after ? READ_WAIT_AFTER_DEFAULT_MS : 0;
    if (http_parse_uint(wait_ms, def, 0, READ_WAIT_MS_MAX, &w) != 0) {
        *why = "waitMs must be an integer of 0 to 30000 (milliseconds)";
        return -1;
    }
    out->wait_ms = w < limit_ms ? w : limit_ms;
    return 0;
}
