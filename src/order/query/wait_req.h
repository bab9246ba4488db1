/*
 * wait_req: the read-your-writes parameters of GET /order-details, parsed and
 * bounded before anything waits.
 *
 *   waitMs=N            wait up to N ms (0..READ_WAIT_MS_MAX) for the order
 *                       to be visible; default 0, or READ_WAIT_AFTER_DEFAULT_MS
 *                       when after= is given (a client naming its write wants
 *                       to wait for it)
 *   after=P:O           the write cart-service acknowledged at partition P,
 *                       offset O (its 201/200 body): wait until the store has
 *                       applied (or dead-lettered) that event, i.e. its
 *                       position of P is past O
 *
 * How long a request really waits is also capped by the server's
 * READ_WAIT_LIMIT_MS (wait_req_parse's limit_ms).
 */
#ifndef WAIT_REQ_H
#define WAIT_REQ_H

#include <stdint.h>

#define READ_WAIT_MS_MAX 30000
#define READ_WAIT_AFTER_DEFAULT_MS 5000
#define READ_WAIT_PARTITION_MAX 99999 /* far above any topic's partition count */

typedef struct {
    int64_t wait_ms; /* 0: answer now */
    int has_after;
    int32_t partition; /* when has_after */
    int64_t offset;    /* when has_after */
} wait_req;

/*
 * wait_ms and after are the query values (NULL: absent). 0 and *out filled,
 * or -1 with *why set to a message for the client's 400. The wait is cut to
 * limit_ms (the server's cap; >= 0) after validation against READ_WAIT_MS_MAX.
 */
int wait_req_parse(const char *wait_ms, const char *after, int64_t limit_ms, wait_req *out,
                   const char **why);

#endif
