/*
 * replay_lookup: the thread that reads replay statuses from the store for
 * GET /dlq/replay/{id} (see replay_lookup.h). A ring of waiting look-ups
 * under one mutex; the thread takes them one by one.
 */
#include "replay/replay_lookup.h"

#include "replay/replay_status.h"

#include "platform/log.h"
#include "store/store.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char id[REPLAY_ID_MAX + 1];
    replay_lookup_fn done;
    void *arg;
} replay_lookup_req;

struct replay_lookup {
    const char *where;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t tid;
    int started, stop;
    replay_lookup_req q[REPLAY_LOOKUP_QUEUE]; /* ring: head, n */
    size_t head, n;
    store *st; /* the thread's own, opened at the first look-up */
};

static void replay_lookup_one(replay_lookup *l, const replay_lookup_req *rq)
{
    char err[400] = "";
    int found = -1;
    jsonw w;
    jsonw_init(&w);
    if (!l->st)
        l->st = store_open(l->where, 0, err, sizeof err);
    if (l->st) {
        found = replay_status_load(l->st, rq->id, &w, err, sizeof err);
        if (found < 0) { /* a broken connection is opened again next time */
            store_close(l->st);
            l->st = NULL;
        }
    }
    if (found < 0)
        log_msg(LOG_WARN, "replay", NULL, "DLQ replay %s: status not read from the store: %s",
                rq->id, err);
    rq->done(rq->arg, found, &w, err, 0);
    jsonw_free(&w);
}

static void *replay_lookup_main(void *arg)
{
    replay_lookup *l = arg;
    pthread_mutex_lock(&l->mu);
    for (;;) {
        while (l->n == 0 && !l->stop)
            pthread_cond_wait(&l->cv, &l->mu);
        if (l->n == 0)
            break; /* stopping, nothing waits */
        replay_lookup_req rq = l->q[l->head];
        l->head = (l->head + 1) % REPLAY_LOOKUP_QUEUE;
        l->n--;
        int stopping = l->stop;
        pthread_mutex_unlock(&l->mu);
        if (stopping)
            rq.done(rq.arg, -1, NULL, "the service is shutting down", 0);
        else
            replay_lookup_one(l, &rq);
        pthread_mutex_lock(&l->mu);
    }
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

replay_lookup *replay_lookup_new(const char *store_location, char *err, size_t errlen)
{
    replay_lookup *l = calloc(1, sizeof *l);
    if (!l) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    l->where = store_location;
    if (pthread_mutex_init(&l->mu, NULL) != 0) {
        free(l);
        snprintf(err, errlen, "replay lookup: mutex");
        return NULL;
    }
    if (pthread_cond_init(&l->cv, NULL) != 0) {
        pthread_mutex_destroy(&l->mu);
        free(l);
        snprintf(err, errlen, "replay lookup: condition variable");
        return NULL;
    }
    if (pthread_create(&l->tid, NULL, replay_lookup_main, l) != 0) {
        replay_lookup_free(l);
        snprintf(err, errlen, "replay lookup: cannot start its thread");
        return NULL;
    }
    l->started = 1;
    return l;
}

void replay_lookup_free(replay_lookup *l)
{
    if (!l)
        return;
    pthread_mutex_lock(&l->mu);
    l->stop = 1;
    pthread_cond_broadcast(&l->cv);
    pthread_mutex_unlock(&l->mu);
    if (l->started)
        pthread_join(l->tid, NULL);
    store_close(l->st);
    pthread_cond_destroy(&l->cv);
    pthread_mutex_destroy(&l->mu);
    free(l);
}

void replay_lookup_submit(replay_lookup *l, const char *id, replay_lookup_fn done, void *arg)
{
    const char *refused = NULL;
    int busy = 0;
    pthread_mutex_lock(&l->mu);
    if (l->stop) {
        refused = "the service is shutting down";
    } else if (l->n == REPLAY_LOOKUP_QUEUE) {
        refused = "too many DLQ replay look-ups waiting for the store";
        busy = 1;
    } else {
        replay_lookup_req *rq = &l->q[(l->head + l->n) % REPLAY_LOOKUP_QUEUE];
        snprintf(rq->id, sizeof rq->id, "%s", id);
        rq->done = done;
        rq->arg = arg;
        l->n++;
        pthread_cond_signal(&l->cv);
    }
    pthread_mutex_unlock(&l->mu);
    if (refused)
        done(arg, -1, NULL, refused, busy);
}
