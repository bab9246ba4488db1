/*
 * replay_runner: the replay thread, submission and history (see
 * replay_runner.h).
 */
#include "replay/replay_runner.h"

#include "replay/replay_job.h"
#include "replay/replay_run.h"

#include "platform/clock.h"
#include "platform/log.h"

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
    replay_job *queued;                  /* submitted, not yet picked up */
    replay_job *current;                 /* queued or running */
    replay_job *history[REPLAY_HISTORY]; /* newest at (next - 1) */
    size_t next;
    unsigned long seq;
};

static void *replay_runner_main(void *arg)
{
    replay_runner *r = arg;
    pthread_mutex_lock(&r->mu);
    for (;;) {
        while (!r->queued && !atomic_load(&r->stop))
            pthread_cond_wait(&r->cv, &r->mu);
        replay_job *j = r->queued;
        r->queued = NULL;
        pthread_mutex_unlock(&r->mu);
        if (j) {
            if (atomic_load(&r->stop))
                replay_job_finish(j, REPLAY_ABORTED, "the service is shutting down");
            else
                replay_run(j, &r->cfg, &r->stop);
        }
        pthread_mutex_lock(&r->mu);
        if (j && r->current == j)
            r->current = NULL;
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

replay_submit_result replay_runner_submit(replay_runner *r, const replay_selection *sel, char *id,
                                          size_t idlen, char *err, size_t errlen)
{
    uint32_t rnd = 0;
    if (getrandom(&rnd, sizeof rnd, GRND_NONBLOCK) != (ssize_t)sizeof rnd)
        rnd = (uint32_t)clock_mono_ms();
    pthread_mutex_lock(&r->mu);
    if (atomic_load(&r->stop)) {
        pthread_mutex_unlock(&r->mu);
        snprintf(err, errlen, "the service is shutting down");
        return REPLAY_SUBMIT_STOPPING;
    }
    /* current stays set a moment after its replay finished: a finished one is not busy */
    if (r->current && r->current->state == REPLAY_RUNNING) {
        snprintf(id, idlen, "%s", r->current->id);
        pthread_mutex_unlock(&r->mu);
        return REPLAY_SUBMIT_BUSY;
    }
    char jid[REPLAY_ID_MAX + 1];
    snprintf(jid, sizeof jid, "rp-%lu-%08x", ++r->seq, rnd);
    replay_job *j = replay_job_new(&r->mu, jid, sel);
    if (!j) {
        pthread_mutex_unlock(&r->mu);
        snprintf(err, errlen, "out of memory");
        return REPLAY_SUBMIT_STOPPING;
    }
    /* The oldest finished replay makes room (the running one is never the oldest of 16). */
    replay_job_free(r->history[r->next]);
    r->history[r->next] = j;
    r->next = (r->next + 1) % REPLAY_HISTORY;
    r->current = j;
    r->queued = j;
    pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);
    snprintf(id, idlen, "%s", jid);
    return REPLAY_SUBMIT_OK;
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
