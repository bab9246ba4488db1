/*
 * order_reader: GET /order-details on a server store (PostgreSQL) without an
 * HTTP loop waiting for the server.
 *
 * A synchronous read per request would hold its loop thread for a whole
 * round trip to the server, one request at a time per thread: the loop
 * would spend most of its time waiting, and the server would see one tiny
 * statement per request. Instead the handler hands the lookup to this
 * module (order_reader_submit: the call is deferred, see http.h) and the
 * loop goes on serving. One thread of this module, on its own read-only
 * store connection, takes every lookup queued since its last round trip and
 * answers them all with ONE statement (store_get_orders); while that round
 * trip runs, new lookups queue up for the next one. So the batch grows with
 * the load, and each round trip serves as many requests as arrived during
 * the previous one.
 *
 * The lookup's answer is rendered on this thread (the bytes of a single
 * read, order_render.h), and the call is completed on its own loop thread
 * (answer_fn, arg: the order_lookup), which replies and gives the record
 * back (order_reader_release). Records come from a fixed pool of
 * max_inflight, allocated once, their buffers reused: no allocation per
 * request. A full pool refuses the lookup (the handler answers 503).
 */
#ifndef ORDER_READER_H
#define ORDER_READER_H

#include "event/order_model.h"
#include "platform/http.h"
#include "platform/jsonw.h"
#include "store/store.h"

#include <stddef.h>

typedef struct order_reader order_reader;

/* One lookup, as the completion sees it. */
typedef struct order_lookup {
    char id[ORDER_ID_MAX + 1];
    /* STORE_OK: body is the order's JSON; STORE_NOT_FOUND; a failure (err); or stopping */
    store_status st;
    int stopping; /* the service stopped before the lookup ran: nothing was read */
    jsonw body;
    char err[256];
    /* the module's own */
    struct order_lookup *next;
    http_call *call;
    order_reader *owner;
    int found;
} order_lookup;

typedef struct {
    const char *store_location; /* store_open()'s argument: the thread's own connection */
    int max_inflight;           /* READ_QUEUE_MAX (>= 1): lookups taken and not yet released */
    int read_timeout_ms;        /* STORE_READ_TIMEOUT_MS (store_read_timeout) */
    http_complete_fn answer;    /* completes every submitted call, arg the order_lookup */
} order_reader_config;

order_reader *order_reader_new(const order_reader_config *cfg, char *err, size_t errlen);
/* Starts the thread. */
int order_reader_start(order_reader *r, char *err, size_t errlen);

/*
 * From a handler, on the call's loop thread: looks order_id (valid) up. 0:
 * queued, the call is deferred and answer_fn will complete it exactly once.
 * -1: max_inflight lookups already, -2: not running or stopping; the call is
 * untouched and the handler answers it (503).
 */
int order_reader_submit(order_reader *r, http_call *call, const char *order_id);

/* From answer_fn, after the reply: the record goes back to the pool. */
void order_reader_release(order_lookup *l);

/* Lookups taken and not yet released (for /metrics and tests). */
int order_reader_count(order_reader *r);

/* Batches read so far (for /metrics): statements is the round trips to the server. */
#define ORDER_READER_BUCKETS 10 /* batch sizes <= 1, 2, 4, ... 512 (the most a batch holds) */
typedef struct {
    unsigned long long statements, lookups;
    /* batch_le[i]: batches of more than 2^(i-1) and at most 2^i lookups (not cumulative) */
    unsigned long long batch_le[ORDER_READER_BUCKETS];
    /* wall time in the batches: the round trip, the rendering and the completions posted
     * (less the thread's CPU time: what it waited for the server and for a core) */
    double seconds;
} order_reader_stats;
void order_reader_stats_read(order_reader *r, order_reader_stats *out);

/*
 * Refuses new lookups, completes the queued ones as stopping (503), lets
 * the round trip in progress finish and joins the thread. Call before the
 * HTTP server is freed (the completions are queued to its loops).
 * Repeatable; NULL is a no-op.
 */
void order_reader_stop(order_reader *r);
/* Stops, frees. Call after the HTTP server was freed (its completions release records). */
void order_reader_free(order_reader *r);

#endif
