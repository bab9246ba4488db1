/*
 * topic_pool: the threads that run topic reads, so a scan of a whole topic
 * never blocks an HTTP thread (/health and /order-details keep answering).
 *
 * Bounded twice: a fixed number of workers, and at most queue_max jobs
 * waiting; a job that finds the queue full is refused at once (the caller
 * answers 429). Every accepted job runs exactly once: at stop, the jobs still
 * waiting run with the stop flag set (they answer "shutting down") and a
 * running one sees the flag between records.
 */
#ifndef TOPIC_POOL_H
#define TOPIC_POOL_H

#include <stdatomic.h>
#include <stddef.h>

typedef struct topic_pool topic_pool;

/* Runs on a worker; worker_ctx is that worker's own (worker_init), stop is set at shutdown. */
typedef void (*topic_job_fn)(void *job, void *worker_ctx, const atomic_int *stop);

typedef struct {
    int workers;   /* >= 1 */
    int queue_max; /* >= 0 */
    void *(*worker_init)(void *app, char *err, size_t errlen);
    void (*worker_free)(void *worker_ctx);
    void *app;
} topic_pool_config;

topic_pool *topic_pool_new(const topic_pool_config *cfg, char *err, size_t errlen);
/* 0: queued (fn(job, ...) will run once); -1: full or stopping, the job stays the caller's. */
int topic_pool_submit(topic_pool *p, topic_job_fn fn, void *job);
/* Sets the stop flag, runs what waits, joins the workers. Idempotent. */
void topic_pool_stop(topic_pool *p);
/* Stops, then frees. */
void topic_pool_free(topic_pool *p);

#endif
