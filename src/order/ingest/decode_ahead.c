/* decode_ahead: see decode_ahead.h. */
#include "ingest/decode_ahead.h"

#include "event/order_json.h"
#include "platform/jsonw.h"

#include <assert.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    order_event ev;
    order_decoder_result v;
    jsonw items; /* a decoded CREATE's items JSON, rendered here (off the consume thread) */
} da_slot;

/*
 * The two threads meet through two counters, not the lock: the helper
 * publishes `decoded` after each record, the consumer `released` every
 * DECODE_AHEAD_RELEASE_EVERY records, and each side sleeps (under mu, on its
 * condition) only when it cannot go on, announcing it in its *_waits flag.
 * Every one of these is seq_cst: a side stores its counter and then reads
 * the other's flag, the sleeper stores its flag and then reads the counter,
 * so at least one of the two sees the other and no wake-up is lost.
 *
 * Why not a lock per record (as before): the consumer's release and the
 * helper's publish contended for it, and the helper, waking for every 16
 * released slots, preempted the consumer thread about 16,000 times a second
 * during catch-up (bench/profile-notes.md). A full window now puts the
 * helper to sleep until DECODE_AHEAD_SLOTS - DECODE_AHEAD_RESUME_AT slots
 * are free: one wake-up per that many records.
 */
struct decode_ahead {
    order_decoder *dec;
    da_slot *slots; /* DECODE_AHEAD_SLOTS */
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t work; /* the helper sleeps here: a batch, free slots, or quit */
    pthread_cond_t done; /* the consumer thread sleeps here: a result, or the helper idle */
    /* under mu; recs and n are constant while a batch runs: */
    const apply_record *recs;
    int n;
    int active; /* a batch is handed over and not finished */
    int quit;
    uint64_t sleeps;     /* the helper slept on a full window (decode_ahead_sleeps) */
    atomic_int decoded;  /* records [0, decoded) have results; the helper writes it */
    atomic_int released; /* the consumer is done with [0, released); it writes it */
    atomic_int cancel;   /* stop the batch now */
    atomic_int main_waits, helper_waits;
};

/* The helper is done with this batch's window when it returns (full, or all
 * of it decoded, or cancelled). */
static void da_run(decode_ahead *d, const apply_record *recs, int n)
{
    for (int i = atomic_load(&d->decoded); i < n; i++) {
        if (atomic_load(&d->cancel))
            return;
        if (i - atomic_load(&d->released) >= DECODE_AHEAD_SLOTS) {
            pthread_mutex_lock(&d->mu);
            atomic_store(&d->helper_waits, 1);
            while (i - atomic_load(&d->released) > DECODE_AHEAD_RESUME_AT &&
                   !atomic_load(&d->cancel))
                pthread_cond_wait(&d->work, &d->mu);
            atomic_store(&d->helper_waits, 0);
            d->sleeps++;
            pthread_mutex_unlock(&d->mu);
            if (atomic_load(&d->cancel))
                return;
        }
        const apply_record *r = &recs[i];
        da_slot *s = &d->slots[i % DECODE_AHEAD_SLOTS];
        if (!r->err) {
            order_decoder_decode(d->dec, r->value, r->value_len, &s->ev, &s->v);
            jsonw_reset(&s->items);
            if (s->v.kind == ORDER_DECODER_EVENT && s->ev.type == ORDER_EVENT_CREATE)
                order_json_items(&s->items, &s->ev);
        }
        atomic_store(&d->decoded, i + 1); /* the slot is complete before this */
        if (atomic_load(&d->main_waits)) {
            pthread_mutex_lock(&d->mu);
            pthread_cond_signal(&d->done);
            pthread_mutex_unlock(&d->mu);
        }
    }
}

static void *da_main(void *arg)
{
    decode_ahead *d = arg;
    pthread_mutex_lock(&d->mu);
    for (;;) {
        while (!d->quit && !d->active)
            pthread_cond_wait(&d->work, &d->mu);
        if (d->quit)
            break;
        const apply_record *recs = d->recs;
        int n = d->n;
        pthread_mutex_unlock(&d->mu);
        da_run(d, recs, n);
        pthread_mutex_lock(&d->mu);
        d->active = 0;
        pthread_cond_signal(&d->done);
    }
    pthread_mutex_unlock(&d->mu);
    return NULL;
}

decode_ahead *decode_ahead_new(order_decoder *dec, char *err, size_t errlen)
{
    decode_ahead *d = calloc(1, sizeof *d);
    if (!d || !(d->slots = calloc(DECODE_AHEAD_SLOTS, sizeof *d->slots))) {
        free(d);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    d->dec = dec;
    for (int i = 0; i < DECODE_AHEAD_SLOTS; i++)
        jsonw_init(&d->slots[i].items);
    int rc = pthread_mutex_init(&d->mu, NULL);
    if (rc == 0 && (rc = pthread_cond_init(&d->work, NULL)) != 0)
        pthread_mutex_destroy(&d->mu);
    if (rc == 0 && (rc = pthread_cond_init(&d->done, NULL)) != 0) {
        pthread_cond_destroy(&d->work);
        pthread_mutex_destroy(&d->mu);
    }
    if (rc == 0 && (rc = pthread_create(&d->thread, NULL, da_main, d)) != 0) {
        pthread_cond_destroy(&d->done);
        pthread_cond_destroy(&d->work);
        pthread_mutex_destroy(&d->mu);
    }
    if (rc != 0) {
        snprintf(err, errlen, "decode thread: %s", strerror(rc));
        for (int i = 0; i < DECODE_AHEAD_SLOTS; i++)
            jsonw_free(&d->slots[i].items);
        free(d->slots);
        free(d);
        return NULL;
    }
    return d;
}

void decode_ahead_free(decode_ahead *d)
{
    if (!d)
        return;
    pthread_mutex_lock(&d->mu);
    d->quit = 1;
    atomic_store(&d->cancel, 1);
    pthread_cond_signal(&d->work);
    pthread_mutex_unlock(&d->mu);
    pthread_join(d->thread, NULL);
    pthread_cond_destroy(&d->done);
    pthread_cond_destroy(&d->work);
    pthread_mutex_destroy(&d->mu);
    for (int i = 0; i < DECODE_AHEAD_SLOTS; i++)
        jsonw_free(&d->slots[i].items);
    free(d->slots);
    free(d);
}

void decode_ahead_start(decode_ahead *d, const apply_record *recs, int n)
{
    pthread_mutex_lock(&d->mu);
    assert(!d->active); /* one batch at a time: the slots belong to it */
    d->recs = recs;
    d->n = n;
    atomic_store(&d->decoded, 0);
    atomic_store(&d->released, 0);
    atomic_store(&d->cancel, 0);
    d->active = n > 0;
    pthread_cond_signal(&d->work);
    pthread_mutex_unlock(&d->mu);
}

const order_event *decode_ahead_get(decode_ahead *d, int i, order_decoder_result *out)
{
    /* n and released are written by this (the consumer) thread only. A
     * record past the resume mark could wait for a helper that sleeps until
     * the consumer releases more: both would wait forever. */
    int released = atomic_load_explicit(&d->released, memory_order_relaxed);
    assert(i >= released && i < d->n && i - released <= DECODE_AHEAD_RESUME_AT);
    (void)released; /* read for the assertion only */
    /* Fast path, the usual one in catch-up (decoding is the faster half): the
     * helper is past i already, no lock taken. */
    int ready = atomic_load(&d->decoded) > i;
    if (!ready) {
        pthread_mutex_lock(&d->mu);
        atomic_store(&d->main_waits, 1);
        while (atomic_load(&d->decoded) <= i && d->active)
            pthread_cond_wait(&d->done, &d->mu);
        atomic_store(&d->main_waits, 0);
        ready = atomic_load(&d->decoded) > i;
        pthread_mutex_unlock(&d->mu);
    }
    if (!ready)
        return NULL;
    /* The helper writes only slots of records >= released + SLOTS: not this one. */
    da_slot *s = &d->slots[i % DECODE_AHEAD_SLOTS];
    *out = s->v;
    return &s->ev;
}

void decode_ahead_release(decode_ahead *d, int upto)
{
    /* Every few records only: the helper may run up to SLOTS ahead of the
     * last release, which stays within RELEASE_EVERY of upto. */
    if (upto - atomic_load_explicit(&d->released, memory_order_relaxed) <
        DECODE_AHEAD_RELEASE_EVERY)
        return;
    atomic_store(&d->released, upto);
    /* Woken only once the window it sleeps on is free down to the resume
     * mark (its test in da_run, on the same two counters). */
    if (atomic_load(&d->helper_waits) &&
        atomic_load(&d->decoded) - upto <= DECODE_AHEAD_RESUME_AT) {
        pthread_mutex_lock(&d->mu);
        pthread_cond_signal(&d->work);
        pthread_mutex_unlock(&d->mu);
    }
}

void decode_ahead_stop(decode_ahead *d)
{
    pthread_mutex_lock(&d->mu);
    atomic_store(&d->cancel, 1);
    pthread_cond_signal(&d->work);
    atomic_store(&d->main_waits, 1);
    while (d->active)
        pthread_cond_wait(&d->done, &d->mu);
    atomic_store(&d->main_waits, 0);
    atomic_store(&d->cancel, 0);
    pthread_mutex_unlock(&d->mu);
}

uint64_t decode_ahead_sleeps(decode_ahead *d)
{
    pthread_mutex_lock(&d->mu);
    uint64_t n = d->sleeps;
    pthread_mutex_unlock(&d->mu);
    return n;
}

const char *decode_ahead_items(decode_ahead *d, int i, size_t *len)
{
    /* Valid for record i between decode_ahead_get(i) and its release, as the event. */
    const jsonw *w = &d->slots[i % DECODE_AHEAD_SLOTS].items;
    if (w->len == 0 || !jsonw_ok(w)) {
        *len = 0;
        return NULL;
    }
    *len = w->len;
    return w->buf;
}
