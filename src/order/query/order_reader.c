/*
 * order_reader: see order_reader.h.
 *
 * Why it looks like this:
 * - One thread, one connection, one statement per round trip: on a busy
 *   server the statement, not the row, is what costs (parse, plan, execute,
 *   a packet each way); a statement for a batch of ids costs little more
 *   than one for a single id.
 * - The lock guards the queue and the pool only; the store is read outside
 *   it, on the batch taken out of the queue, so a handler never waits for
 *   the server. The thread is woken only when it sleeps (idle): under load
 *   it is in a round trip and a submit is a lock, a push and an unlock.
 * - A completion is posted without the lock (http_call_complete takes the
 *   loop's own); the record stays the completion's until it is released.
 */
#include "query/order_reader.h"

#include "platform/clock.h"
#include "platform/log.h"
#include "query/order_render.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ORDER_READER_BATCH 512          /* ids per statement at most */
#define ORDER_READER_LOG_EVERY_MS 10000 /* store failures are logged at most this often */
_Static_assert((1 << (ORDER_READER_BUCKETS - 1)) >= ORDER_READER_BATCH,
               "the last batch-size bucket holds the largest batch");

struct order_reader {
    order_reader_config cfg;
    store *st; /* the thread's own read-only connection */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int sync_ok; /* mu and cv exist */
    order_lookup *slots;
    order_lookup *free_list;
    order_lookup *head, *tail; /* queued, oldest first */
    int taken;                 /* out of the pool: queued, being read or being answered */
    int idle;                  /* the thread waits on cv */
    int stopping;
    int running; /* the thread was started and not joined */
    pthread_t tid;
    /* the thread's batch */
    order_lookup *batch[ORDER_READER_BATCH];
    const char *ids[ORDER_READER_BATCH];
    int64_t failed_log_at;
    order_reader_stats stats; /* under mu */
};

static void reader_sink_order(void *arg, size_t index, const store_order *o)
{
    order_reader *r = arg;
    order_lookup *l = r->batch[index];
    l->found = 1;
    order_render_head(&l->body, o);
    jsonw_arr_begin(&l->body);
}

static void reader_sink_history(void *arg, size_t index, const char *status, int64_t at_ms)
{
    order_reader *r = arg;
    order_render_change(&r->batch[index]->body, status, at_ms);
}

/* Reads batch[0..n) in one statement and completes every call. */
static void reader_run_batch(order_reader *r, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        order_lookup *l = r->batch[i];
        l->found = 0;
        l->err[0] = '\0';
        jsonw_reset(&l->body);
        r->ids[i] = l->id;
    }
    char err[256] = "";
    store_order_sink sink = {r, reader_sink_order, reader_sink_history};
    store_status st = store_get_orders(r->st, r->ids, n, &sink, err, sizeof err);
    if (st != STORE_OK) {
        int64_t now = clock_mono_ms();
        if (now - r->failed_log_at >= ORDER_READER_LOG_EVERY_MS) {
            log_warn("order-details: store read of %zu orders failed (answered 503/500): %s", n,
                     err);
            r->failed_log_at = now;
        }
    }
    for (size_t i = 0; i < n; i++) {
        order_lookup *l = r->batch[i];
        if (st != STORE_OK) {
            l->st = st;
            snprintf(l->err, sizeof l->err, "%s", err);
        } else if (!l->found) {
            l->st = STORE_NOT_FOUND;
        } else {
            jsonw_arr_end(&l->body);
            order_render_tail(&l->body);
            l->st = jsonw_ok(&l->body) ? STORE_OK : STORE_ERR_INTERNAL;
            if (l->st != STORE_OK)
                snprintf(l->err, sizeof l->err, "cannot render the order (out of memory)");
        }
        http_call_complete(l->call, r->cfg.answer, l);
    }
}

static void reader_count_batch(order_reader_stats *s, size_t n, double seconds)
{
    s->statements++;
    s->lookups += n;
    s->seconds += seconds;
    size_t b = 0;
    while (b + 1 < ORDER_READER_BUCKETS && ((size_t)1 << b) < n)
        b++;
    s->batch_le[b]++;
}

static void *reader_main(void *arg)
{
    order_reader *r = arg;
    /* its own line in per-thread profiles; without a name it only shares the process's */
    (void)pthread_setname_np(pthread_self(), "order-reader");
    pthread_mutex_lock(&r->mu);
    for (;;) {
        while (!r->head && !r->stopping) {
            r->idle = 1;
            pthread_cond_wait(&r->cv, &r->mu);
            r->idle = 0;
        }
        if (!r->head)
            break; /* stopping, and the queue is empty (the stop drained it) */
        size_t n = 0;
        while (r->head && n < ORDER_READER_BATCH) {
            order_lookup *l = r->head;
            r->head = l->next;
            r->batch[n++] = l;
        }
        if (!r->head)
            r->tail = NULL;
        pthread_mutex_unlock(&r->mu);
        double t0 = clock_mono_s();
        reader_run_batch(r, n);
        double spent = clock_mono_s() - t0;
        pthread_mutex_lock(&r->mu);
        reader_count_batch(&r->stats, n, spent);
    }
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

order_reader *order_reader_new(const order_reader_config *cfg, char *err, size_t errlen)
{
    order_reader *r = calloc(1, sizeof *r);
    if (!r) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    r->cfg = *cfg;
    size_t cap = cfg->max_inflight > 0 ? (size_t)cfg->max_inflight : 1;
    r->cfg.max_inflight = (int)cap;
    r->slots = calloc(cap, sizeof *r->slots);
    if (!r->slots) {
        snprintf(err, errlen, "out of memory for %zu order lookups", cap);
        order_reader_free(r);
        return NULL;
    }
    for (size_t i = cap; i-- > 0;) {
        order_lookup *l = &r->slots[i];
        jsonw_init(&l->body);
        l->owner = r;
        l->next = r->free_list;
        r->free_list = l;
    }
    if (pthread_mutex_init(&r->mu, NULL) == 0) {
        if (pthread_cond_init(&r->cv, NULL) == 0)
            r->sync_ok = 1;
        else
            pthread_mutex_destroy(&r->mu);
    }
    if (!r->sync_ok) {
        snprintf(err, errlen, "order reader: cannot create its lock");
        order_reader_free(r);
        return NULL;
    }
    r->st = store_open(cfg->store_location, STORE_READONLY, err, errlen);
    if (!r->st || store_read_timeout(r->st, cfg->read_timeout_ms, err, errlen) != STORE_OK) {
        order_reader_free(r);
        return NULL;
    }
    return r;
}

int order_reader_start(order_reader *r, char *err, size_t errlen)
{
    int rc = pthread_create(&r->tid, NULL, reader_main, r);
    if (rc != 0) {
        snprintf(err, errlen, "order reader thread: %s", strerror(rc));
        return -1;
    }
    pthread_mutex_lock(&r->mu);
    r->running = 1;
    pthread_mutex_unlock(&r->mu);
    return 0;
}

int order_reader_submit(order_reader *r, http_call *call, const char *order_id)
{
    size_t len = strlen(order_id);
    if (len > ORDER_ID_MAX) /* the handler checked it: a contract, not an input */
        return -2;
    pthread_mutex_lock(&r->mu);
    int rc = 0;
    if (r->stopping || !r->running) {
        rc = -2;
    } else if (!r->free_list) {
        rc = -1;
    } else {
        order_lookup *l = r->free_list;
        r->free_list = l->next;
        r->taken++;
        memcpy(l->id, order_id, len + 1);
        l->call = call;
        l->stopping = 0;
        l->next = NULL;
        /* under the lock: the thread cannot complete the call before it is deferred */
        http_call_defer(call);
        if (r->tail)
            r->tail->next = l;
        else
            r->head = l;
        r->tail = l;
        if (r->idle)
            pthread_cond_signal(&r->cv);
    }
    pthread_mutex_unlock(&r->mu);
    return rc;
}

void order_reader_release(order_lookup *l)
{
    order_reader *r = l->owner;
    pthread_mutex_lock(&r->mu);
    l->call = NULL;
    l->next = r->free_list;
    r->free_list = l;
    r->taken--;
    pthread_mutex_unlock(&r->mu);
}

int order_reader_count(order_reader *r)
{
    pthread_mutex_lock(&r->mu);
    int n = r->taken;
    pthread_mutex_unlock(&r->mu);
    return n;
}

void order_reader_stats_read(order_reader *r, order_reader_stats *out)
{
    pthread_mutex_lock(&r->mu);
    *out = r->stats;
    pthread_mutex_unlock(&r->mu);
}

void order_reader_stop(order_reader *r)
{
    if (!r || !r->sync_ok)
        return;
    pthread_mutex_lock(&r->mu);
    r->stopping = 1;
    order_lookup *q = r->head;
    r->head = r->tail = NULL;
    int join = r->running;
    r->running = 0;
    pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);
    size_t n = 0;
    while (q) {
        order_lookup *next = q->next;
        q->stopping = 1;
        http_call_complete(q->call, r->cfg.answer, q);
        q = next;
        n++;
    }
    if (n > 0)
        log_info("order-details: %zu queued lookups answered 503 (stopping)", n);
    if (join)
        pthread_join(r->tid, NULL);
}

void order_reader_free(order_reader *r)
{
    if (!r)
        return;
    order_reader_stop(r);
    store_close(r->st);
    if (r->sync_ok) {
        pthread_mutex_destroy(&r->mu);
        pthread_cond_destroy(&r->cv);
    }
    if (r->slots)
        for (int i = 0; i < r->cfg.max_inflight; i++)
            jsonw_free(&r->slots[i].body);
    free(r->slots);
    free(r);
}
