/*
 * replay_runner: the replay thread, submission and history (see
 * replay_runner.h).
 */
#include "replay/replay_runner.h"

#include "replay/replay_job.h"
#include "replay/replay_lease.h"
#include "replay/replay_run.h"
#include "replay/replay_status.h"

#include "platform/clock.h"
#include "platform/log.h"
#include "store/store.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

struct replay_runner {
    replay_config cfg;
    pthread_mutex_t mu; /* guards everything below and every job's fields */
    pthread_cond_t cv;
    pthread_t tid;
    int started;
    atomic_int stop;
    replay_job *queued;             /* submitted, not yet picked up */
    replay_answer_fn queued_answer; /* and who learns whether it started */
    void *queued_arg;
    replay_job *current;                 /* queued, taking the lease, or running */
    replay_job *history[REPLAY_HISTORY]; /* newest at (next - 1) */
    size_t next;
    unsigned long seq;
    char instance[REPLAY_INSTANCE_MAX + 1]; /* the lease holder's first half */
};

/* current = NULL if it is still j (under the mutex). */
static void replay_runner_done(replay_runner *r, const replay_job *j)
{
    pthread_mutex_lock(&r->mu);
    if (r->current == j)
        r->current = NULL;
    pthread_mutex_unlock(&r->mu);
}

/* On the runner's thread: takes the lease, answers the submission, runs the replay. */
static void replay_runner_serve(replay_runner *r, replay_job *j, replay_answer_fn answer, void *arg)
{
    char err[400] = "", oinst[REPLAY_INSTANCE_MAX + 1] = "", oid[REPLAY_ID_MAX + 1] = "";
    replay_submit_result res = REPLAY_SUBMIT_UNAVAILABLE;
    replay_lease lease;
    memset(&lease, 0, sizeof lease);
    store *st = NULL;
    if (atomic_load(&r->stop)) {
        res = REPLAY_SUBMIT_STOPPING;
        snprintf(err, sizeof err, "the service is shutting down");
    } else if ((st = store_open(r->cfg.store_location, 0, err, sizeof err)) != NULL) {
        replay_lease_result lr =
            replay_lease_take(&lease, st, r->cfg.dlq_topic, r->instance, j->id, oinst, sizeof oinst,
                              oid, sizeof oid, err, sizeof err);
        res = lr == REPLAY_LEASE_TAKEN  ? REPLAY_SUBMIT_OK
              : lr == REPLAY_LEASE_BUSY ? REPLAY_SUBMIT_BUSY_ELSEWHERE
                                        : REPLAY_SUBMIT_UNAVAILABLE;
    }
    if (res != REPLAY_SUBMIT_OK) {
        if (res == REPLAY_SUBMIT_UNAVAILABLE)
            log_msg(LOG_WARN, "replay", NULL, "DLQ replay not started: the store: %s", err);
        store_close(st);
        replay_runner_done(r, j);
        if (res == REPLAY_SUBMIT_BUSY_ELSEWHERE)
            answer(arg, res, oid, oinst);
        else
            answer(arg, res, j->id, err);
        replay_job_free(j); /* never in the history: nobody learnt its id */
        return;
    }
    pthread_mutex_lock(&r->mu);
    /* The oldest finished replay makes room (the running one is never the oldest of 16). */
    replay_job_free(r->history[r->next]);
    r->history[r->next] = j;
    r->next = (r->next + 1) % REPLAY_HISTORY;
    pthread_mutex_unlock(&r->mu);
    /* in the store before the 202: the Location may be asked of another instance */
    (void)replay_status_publish(j, st);
    answer(arg, REPLAY_SUBMIT_OK, j->id, NULL);
    replay_run(j, &r->cfg, st, &lease, &r->stop);
    replay_lease_release(&lease);       /* replay_run did (a no-op then) */
    (void)replay_status_publish(j, st); /* its end */
    store_close(st);
    replay_runner_done(r, j);
}

static void *replay_runner_main(void *arg)
{
    replay_runner *r = arg;
    pthread_mutex_lock(&r->mu);
    for (;;) {
        while (!r->queued && !atomic_load(&r->stop))
            pthread_cond_wait(&r->cv, &r->mu);
        replay_job *j = r->queued;
        replay_answer_fn answer = r->queued_answer;
        void *answer_arg = r->queued_arg;
        r->queued = NULL;
        pthread_mutex_unlock(&r->mu);
        if (j)
            replay_runner_serve(r, j, answer,
                                answer_arg); /* a queued one is answered, even at stop */
        pthread_mutex_lock(&r->mu);
        if (atomic_load(&r->stop) && !r->queued)
            break;
    }
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

replay_runner *replay_runner_new(const replay_config *cfg, char *err, size_t errlen)
{
    replay_runner *r = calloc(1, sizeof *r);
    if (!r) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    r->cfg = *cfg;
    replay_lease_instance(r->instance, sizeof r->instance);
    if (pthread_mutex_init(&r->mu, NULL) != 0) {
        free(r);
        snprintf(err, errlen, "replay runner: mutex");
        return NULL;
    }
    if (pthread_cond_init(&r->cv, NULL) != 0) {
        pthread_mutex_destroy(&r->mu);
        free(r);
        snprintf(err, errlen, "replay runner: condition variable");
        return NULL;
    }
    if (pthread_create(&r->tid, NULL, replay_runner_main, r) != 0) {
        replay_runner_free(r);
        snprintf(err, errlen, "replay runner: cannot start its thread");
        return NULL;
    }
    r->started = 1;
    return r;
}

void replay_runner_free(replay_runner *r)
{
    if (!r)
        return;
    pthread_mutex_lock(&r->mu);
    atomic_store(&r->stop, 1);
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    if (r->started)
        pthread_join(r->tid, NULL);
    for (size_t i = 0; i < REPLAY_HISTORY; i++)
        replay_job_free(r->history[i]);
    pthread_cond_destroy(&r->cv);
    pthread_mutex_destroy(&r->mu);
    free(r);
}

void replay_runner_submit(replay_runner *r, const replay_selection *sel, replay_answer_fn answer,
                          void *arg)
{
    uint32_t rnd = 0;
    if (getrandom(&rnd, sizeof rnd, GRND_NONBLOCK) != (ssize_t)sizeof rnd)
        rnd = (uint32_t)clock_mono_ms();
    char id[REPLAY_ID_MAX + 1] = "";
    const char *detail = NULL;
    replay_submit_result res;
    pthread_mutex_lock(&r->mu);
    if (atomic_load(&r->stop)) {
        res = REPLAY_SUBMIT_STOPPING;
        detail = "the service is shutting down";
    } else if (r->current && r->current->state == REPLAY_RUNNING) {
        /* current stays set a moment after its replay finished: a finished one is not busy */
        res = REPLAY_SUBMIT_BUSY;
        snprintf(id, sizeof id, "%s", r->current->id);
    } else {
        char jid[REPLAY_ID_MAX + 1];
        snprintf(jid, sizeof jid, "rp-%lu-%08x", ++r->seq, rnd);
        replay_job *j = replay_job_new(&r->mu, jid, sel);
        if (j) {
            r->current = j;
            r->queued = j;
            r->queued_answer = answer;
            r->queued_arg = arg;
            pthread_cond_signal(&r->cv);
            pthread_mutex_unlock(&r->mu);
            return; /* answered by the runner's thread */
        }
        res = REPLAY_SUBMIT_STOPPING;
        detail = "out of memory";
    }
    pthread_mutex_unlock(&r->mu);
    answer(arg, res, id, detail);
}

int replay_runner_render(replay_runner *r, const char *id, jsonw *w)
{
    /* Found and rendered under the mutex: only a submission frees a job (the
     * oldest), and it holds the same mutex. */
    pthread_mutex_lock(&r->mu);
    replay_job *found = NULL;
    for (size_t i = 0; i < REPLAY_HISTORY; i++)
        if (r->history[i] && strcmp(r->history[i]->id, id) == 0)
            found = r->history[i];
    if (!found) {
        pthread_mutex_unlock(&r->mu);
        return 0;
    }
    replay_job_render_locked(found, w);
    pthread_mutex_unlock(&r->mu);
    return 1;
}
