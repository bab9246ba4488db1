/*
 * topic_pool: a fixed set of worker threads over one bounded FIFO of topic
 * reads (see topic_pool.h).
 *
 * Why it looks like this: the queue is a ring of queue_max slots allocated
 * once, so accepting a job never allocates and the bound is the array's
 * size; one mutex and one condition variable are plenty for a handful of
 * admin reads a second.
 */
#include "query/topic_pool.h"

#include "platform/log.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    topic_job_fn fn;
    void *job;
} pool_slot;

typedef struct {
    topic_pool *pool;
    pthread_t tid;
    int started;
    void *ctx;
} pool_worker;

struct topic_pool {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pool_slot *ring;
    int cap, head, len;
    int queue_max;
    int busy; /* jobs running */
    int stopped;
    atomic_int stop;
    pool_worker *workers;
    int nworkers;
    void (*worker_free)(void *);
};

static void pool_lock(topic_pool *p)
{
    int rc = pthread_mutex_lock(&p->mu);
    if (rc != 0) {
        log_error("topic_pool: lock: %s", strerror(rc));
        abort(); /* a job lost or run twice would answer a call twice */
    }
}

static void pool_unlock(topic_pool *p)
{
    int rc = pthread_mutex_unlock(&p->mu);
    if (rc != 0) {
        log_error("topic_pool: unlock: %s", strerror(rc));
        abort();
    }
}

static void *pool_main(void *arg)
{
    pool_worker *w = arg;
    topic_pool *p = w->pool;
    pool_lock(p);
    for (;;) {
        while (p->len == 0 && !atomic_load(&p->stop))
            pthread_cond_wait(&p->cv, &p->mu);
        if (p->len == 0)
            break; /* stopping and nothing waits */
        pool_slot s = p->ring[p->head];
        p->head = (p->head + 1) % p->cap;
        p->len--;
        p->busy++;
        pool_unlock(p);
        s.fn(s.job, w->ctx, &p->stop);
        pool_lock(p);
        p->busy--;
    }
    pool_unlock(p);
    return NULL;
}

topic_pool *topic_pool_new(const topic_pool_config *cfg, char *err, size_t errlen)
{
    topic_pool *p = calloc(1, sizeof *p);
    if (!p) {
        snprintf(err, errlen, "topic reads: out of memory");
        return NULL;
    }
    p->cap = cfg->queue_max + cfg->workers; /* the waiting ones, plus room while workers pick */
    p->worker_free = cfg->worker_free;
    p->ring = calloc((size_t)p->cap, sizeof *p->ring);
    p->workers = calloc((size_t)cfg->workers, sizeof *p->workers);
    if (!p->ring || !p->workers || pthread_mutex_init(&p->mu, NULL) != 0) {
        snprintf(err, errlen, "topic reads: out of memory");
        free(p->ring);
        free(p->workers);
        free(p);
        return NULL;
    }
    if (pthread_cond_init(&p->cv, NULL) != 0) {
        snprintf(err, errlen, "topic reads: cannot make a condition variable");
        pthread_mutex_destroy(&p->mu);
        free(p->ring);
        free(p->workers);
        free(p);
        return NULL;
    }
    for (int i = 0; i < cfg->workers; i++) {
        pool_worker *w = &p->workers[i];
        w->pool = p;
        if (cfg->worker_init) {
            w->ctx = cfg->worker_init(cfg->app, err, errlen);
            if (!w->ctx) {
                topic_pool_free(p);
                return NULL;
            }
        }
        p->nworkers = i + 1;
        int rc = pthread_create(&w->tid, NULL, pool_main, w);
        if (rc != 0) {
            snprintf(err, errlen, "topic reads: pthread_create: %s", strerror(rc));
            topic_pool_free(p);
            return NULL;
        }
        w->started = 1;
    }
    p->queue_max = cfg->queue_max;
    return p;
}

int topic_pool_submit(topic_pool *p, topic_job_fn fn, void *job)
{
    pool_lock(p);
    /* idle workers take jobs at once; beyond them, queue_max may wait */
    int room = p->queue_max + (p->nworkers - p->busy) - p->len;
    if (atomic_load(&p->stop) || room <= 0 || p->len >= p->cap) {
        pool_unlock(p);
        return -1;
    }
    p->ring[(p->head + p->len) % p->cap] = (pool_slot){fn, job};
    p->len++;
    pthread_cond_signal(&p->cv);
    pool_unlock(p);
    return 0;
}

void topic_pool_stop(topic_pool *p)
{
    if (!p)
        return;
    pool_lock(p);
    atomic_store(&p->stop, 1);
    pthread_cond_broadcast(&p->cv);
    pool_unlock(p);
    for (int i = 0; i < p->nworkers; i++) {
        pool_worker *w = &p->workers[i];
        if (w->started) {
            int rc = pthread_join(w->tid, NULL);
            if (rc != 0)
                log_error("topic_pool: join: %s", strerror(rc));
            w->started = 0;
        }
    }
    /* no worker ever started (a failed set-up): run what waits here */
    while (p->len > 0) {
        pool_slot s = p->ring[p->head];
        p->head = (p->head + 1) % p->cap;
        p->len--;
        s.fn(s.job, NULL, &p->stop);
    }
}

void topic_pool_free(topic_pool *p)
{
    if (!p)
        return;
    topic_pool_stop(p);
    for (int i = 0; i < p->nworkers; i++)
        if (p->workers[i].ctx && p->worker_free)
            p->worker_free(p->workers[i].ctx);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    free(p->ring);
    free(p->workers);
    free(p);
}
