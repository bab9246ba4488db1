/*
 * read_wait: see read_wait.h.
 *
 * Why it looks like this:
 * - One thread and one store connection for all waiters: a parked request
 *   costs a slot and its deferred call, nothing else. Ten thousand waiters
 *   cost one query per tick, not ten thousand.
 * - The lock guards the set only; the probe runs outside it, on copies of
 *   the questions, so parking never waits for the store.
 * - Deadlines are checked at each tick (the thread never sleeps longer than
 *   poll_ms while any waits), so a wait ends at most poll_ms late; no timer
 *   per waiter.
 * - A completion is posted under the lock, right after the waiter left the
 *   set: whoever removes a waiter (sweep, its client leaving, the stop)
 *   completes it, exactly once.
 */
#include "query/read_wait.h"

#include "platform/clock.h"
#include "platform/log.h"
#include "query/wait_set.h"
#include "store/store.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define READ_WAIT_LOG_EVERY_MS 10000 /* probe failures are logged at most this often */

struct read_wait {
    read_wait_config cfg;
    char *topic;
    store *st; /* the thread's own read-only connection */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int sync_ok; /* mu and cv exist */
    wait_set set;
    int kicked;   /* look now */
    int stopping; /* no new waiters; the thread leaves */
    int running;  /* the thread was started (joined by read_wait_free) */
    pthread_t tid;
    /* the thread's probe buffers (cap entries each) */
    char *ids_buf;
    uint8_t *found;
    int64_t *next;
    int64_t failed_log_at;
};

static void rw_complete(read_wait *w, void *owner, int outcome)
{
    http_call_complete(owner, w->cfg.answer, (void *)(intptr_t)outcome);
}

static void rw_sweep_cb(void *arg, void *owner, int ready)
{
    rw_complete(arg, owner, ready ? READ_WAIT_READY : READ_WAIT_EXPIRED);
}

/* The thread: probe all waiters, answer who is done, sleep until kicked or the next tick. */
static void *rw_main(void *arg)
{
    read_wait *w = arg;
    pthread_mutex_lock(&w->mu);
    while (!w->stopping) {
        if (!w->kicked) {
            if (w->set.n == 0) {
                pthread_cond_wait(&w->cv, &w->mu);
            } else {
                struct timespec ts;
                clock_gettime(CLOCK_MONOTONIC, &ts);
                int64_t ns = ts.tv_nsec + (int64_t)w->cfg.poll_ms * 1000000;
                ts.tv_sec += (time_t)(ns / 1000000000);
                ts.tv_nsec = (long)(ns % 1000000000);
                int rc = pthread_cond_timedwait(&w->cv, &w->mu, &ts);
                if (rc != 0 && rc != ETIMEDOUT)
                    log_error("read-your-writes: timed wait: %s", strerror(rc));
            }
        }
        if (w->stopping)
            break;
        w->kicked = 0;
        if (w->set.n == 0)
            continue;
        wait_set_questions(&w->set, w->ids_buf);
        size_t nids = w->set.nids, nparts = w->set.nparts;
        pthread_mutex_unlock(&w->mu);
        char err[256] = "";
        store_status st = store_probe(w->st, w->topic, w->set.ids, nids, w->found, w->set.parts,
                                      nparts, w->next, err, sizeof err);
        int64_t now = clock_mono_ms();
        if (st != STORE_OK && now - w->failed_log_at >= READ_WAIT_LOG_EVERY_MS) {
            log_warn("read-your-writes: store probe failed (waits end at their deadline): %s", err);
            w->failed_log_at = now;
        }
        pthread_mutex_lock(&w->mu);
        int ok = st == STORE_OK;
        wait_set_sweep(&w->set, ok ? w->found : NULL, ok ? w->next : NULL, now, rw_sweep_cb, w);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

read_wait *read_wait_new(const read_wait_config *cfg, char *err, size_t errlen)
{
    read_wait *w = calloc(1, sizeof *w);
    if (!w) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    w->cfg = *cfg;
    size_t cap = cfg->max_waiters > 0 ? (size_t)cfg->max_waiters : 1;
    w->topic = strdup(cfg->topic);
    w->ids_buf = malloc(cap * (ORDER_ID_MAX + 1));
    w->found = calloc(cap, 1);
    w->next = calloc(cap, sizeof *w->next);
    if (!w->topic || !w->ids_buf || !w->found || !w->next ||
        wait_set_init(&w->set, (uint32_t)cap) != 0) {
        snprintf(err, errlen, "out of memory for %zu read-your-writes waiters", cap);
        read_wait_free(w);
        return NULL;
    }
    pthread_condattr_t ca;
    int ok = pthread_condattr_init(&ca) == 0;
    ok = ok && pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) == 0;
    if (ok && pthread_cond_init(&w->cv, &ca) == 0) {
        if (pthread_mutex_init(&w->mu, NULL) == 0)
            w->sync_ok = 1;
        else
            pthread_cond_destroy(&w->cv);
    }
    pthread_condattr_destroy(&ca);
    if (!w->sync_ok) {
        snprintf(err, errlen, "read-your-writes: cannot create its lock");
        read_wait_free(w);
        return NULL;
    }
    w->st = store_open(cfg->store_location, STORE_READONLY, err, errlen);
    if (!w->st || store_read_timeout(w->st, cfg->read_timeout_ms, err, errlen) != STORE_OK) {
        read_wait_free(w);
        return NULL;
    }
    return w;
}

int read_wait_start(read_wait *w, char *err, size_t errlen)
{
    int rc = pthread_create(&w->tid, NULL, rw_main, w);
    if (rc != 0) {
        snprintf(err, errlen, "read-your-writes thread: %s", strerror(rc));
        return -1;
    }
    w->running = 1;
    return 0;
}

void read_wait_kick(void *arg)
{
    read_wait *w = arg;
    pthread_mutex_lock(&w->mu);
    if (w->set.n > 0 && !w->kicked) {
        w->kicked = 1;
        pthread_cond_signal(&w->cv);
    }
    pthread_mutex_unlock(&w->mu);
}

/* The client of a parked call left (its loop thread): complete it now, if still parked. */
static void rw_on_gone(http_call *call, void *arg)
{
    read_wait *w = arg;
    pthread_mutex_lock(&w->mu);
    for (uint32_t i = 0; i < w->set.cap; i++) {
        wait_entry *e = &w->set.slots[i];
        if (e->owner == call) {
            wait_set_remove(&w->set, e);
            rw_complete(w, call, READ_WAIT_GONE);
            break;
        }
    }
    pthread_mutex_unlock(&w->mu);
}

int read_wait_park(read_wait *w, http_call *call, const char *order_id, const wait_req *r)
{
    int64_t deadline = clock_mono_ms() + r->wait_ms;
    pthread_mutex_lock(&w->mu);
    int rc = 0;
    if (w->stopping || !w->running) {
        rc = -2; /* before the start (cannot happen: HTTP serves after it) or after the stop */
    } else if (w->set.nfree == 0) {
        rc = -1;
    } else {
        http_call_defer(call);
        wait_set_add(&w->set, call, order_id, r->has_after, r->partition, r->offset, deadline);
        /* under the lock: nobody can complete the call before it is watched */
        if (http_call_watch_gone(call, rw_on_gone, w) != 0)
            log_msg(LOG_DEBUG, "http", call->request_id,
                    "cannot watch the client: a leaving client is noticed at the wait's end");
        w->kicked = 1; /* a commit between the handler's read and now must not be missed */
        pthread_cond_signal(&w->cv);
    }
    pthread_mutex_unlock(&w->mu);
    return rc;
}

int read_wait_count(read_wait *w)
{
    pthread_mutex_lock(&w->mu);
    int n = (int)w->set.n;
    pthread_mutex_unlock(&w->mu);
    return n;
}

void read_wait_stop(read_wait *w)
{
    if (!w || !w->sync_ok)
        return;
    pthread_mutex_lock(&w->mu);
    w->stopping = 1;
    size_t n = 0;
    for (uint32_t i = 0; i < w->set.cap && w->set.n > 0; i++) {
        wait_entry *e = &w->set.slots[i];
        if (!e->owner)
            continue;
        void *owner = e->owner;
        wait_set_remove(&w->set, e);
        rw_complete(w, owner, READ_WAIT_STOPPING);
        n++;
    }
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    if (n > 0)
        log_info("read-your-writes: %zu waiting requests answered 503 (stopping)", n);
}

void read_wait_free(read_wait *w)
{
    if (!w)
        return;
    read_wait_stop(w);
    if (w->running) /* not in stop: a probe in progress must not hold the shutdown hook */
        pthread_join(w->tid, NULL);
    store_close(w->st);
    if (w->sync_ok) {
        pthread_mutex_destroy(&w->mu);
        pthread_cond_destroy(&w->cv);
    }
    wait_set_free(&w->set);
    free(w->ids_buf);
    free(w->found);
    free(w->next);
    free(w->topic);
    free(w);
}
