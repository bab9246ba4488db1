/*
 * read_wait: GET /order-details requests parked until the order (or the
 * write named by after=) is visible in the store: read-your-writes without a
 * thread per waiter.
 *
 * A handler that finds the order not there yet parks its call here
 * (read_wait_park: the call is deferred, see http.h). One thread of this
 * module wakes the waiters:
 *   - at once when this instance's consumer committed a batch
 *     (read_wait_kick, hooked to order_status_on_commit), or a waiter was
 *     parked (so a commit between the handler's read and the park is not
 *     missed);
 *   - else every poll_ms while any waits: the batches another instance
 *     commits to a shared store are seen here, by polling;
 * each time with ONE store query for all waiters (store_probe), on its own
 * read-only store connection. A waiter is completed when it is ready, when
 * its wait ends, when its client leaves (http_call_watch_gone), or when the
 * service stops; the completion (answer_fn, on the call's loop thread) gets
 * one of the READ_WAIT_* outcomes as its arg and answers.
 */
#ifndef READ_WAIT_H
#define READ_WAIT_H

#include "platform/http.h"
#include "query/wait_req.h"

#include <stdint.h>

/* The completion's arg: (void *)(intptr_t)READ_WAIT_*. */
enum {
    READ_WAIT_READY = 1, /* visible now: answer from the store */
    READ_WAIT_EXPIRED,   /* the wait is over: answer from the store as it is */
    READ_WAIT_GONE,      /* the client left: the answer only releases the call */
    READ_WAIT_STOPPING   /* the service stops: 503 */
};

typedef struct read_wait read_wait;

typedef struct {
    const char *store_location; /* store_open()'s argument: its own read-only connection */
    const char *topic;          /* whose positions after= names */
    int max_waiters;            /* READ_WAIT_MAX (>= 1) */
    int poll_ms;                /* READ_WAIT_POLL_MS */
    int read_timeout_ms;        /* STORE_READ_TIMEOUT_MS (store_read_timeout) */
    http_complete_fn answer;    /* completes every parked call */
} read_wait_config;

read_wait *read_wait_new(const read_wait_config *cfg, char *err, size_t errlen);
/* Starts the thread. */
int read_wait_start(read_wait *w, char *err, size_t errlen);

/* Look now (any thread; cheap, never blocks on the store). arg is the read_wait. */
void read_wait_kick(void *w);

/*
 * From a handler, on the call's loop thread: parks call for order_id (and
 * r's after=) until now + r->wait_ms. 0: parked (deferred; the handler must
 * not answer). -1: READ_WAIT_MAX waiters already, -2: stopping; the call is
 * untouched and the handler answers it (503).
 */
int read_wait_park(read_wait *w, http_call *call, const char *order_id, const wait_req *r);

/* Parked now (for /metrics and tests). */
int read_wait_count(read_wait *w);

/* Completes every waiter with READ_WAIT_STOPPING and refuses new ones; never blocks on the
 * store (the thread is joined by read_wait_free). Repeatable; NULL is a no-op. */
void read_wait_stop(read_wait *w);
/* Stops, joins the thread, frees. Call after the last read_wait_kick() (the consumer stopped). */
void read_wait_free(read_wait *w);

#endif
