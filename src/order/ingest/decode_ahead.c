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

struct decode_ahead {
    order_decoder *dec;
    da_slot *slots; /* DECODE_AHEAD_SLOTS */
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t work; /* the helper waits here: a batch, a free slot, or quit */
    pthread_cond_t done; /* the consumer thread waits here: a result, or the helper idle */
    /* under mu: */
    const apply_record *recs;
    int n;
    int active; /* a batch is handed over and not finished */
    /* records [0, decoded) have their results; written under mu by the
     * helper, read without it by decode_ahead_get's fast path (release /
     * acquire: a slot is complete before the count that covers it) */
    atomic_int decoded;
    int released; /* the consumer thread is done with [0, released) */
    int cancel;   /* stop the batch now */
    int quit;
    int main_waits, helper_waits; /* signal only a side that sleeps */
};

static void *da_main(void *arg)
{
    decode_ahead *d = arg;
    pthread_mutex_lock(&d->mu);
    for (;;) {
        while (!d->quit && !d->active)
            pthread_cond_wait(&d->work, &d->mu);
        if (d->quit)
            break;
        int next;
        while ((next = atomic_load_explicit(&d->decoded, memory_order_relaxed)) < d->n &&
               !d->cancel) {
            if (next - d->released >= DECODE_AHEAD_SLOTS) {
                d->helper_waits = 1;
                pthread_cond_wait(&d->work, &d->mu);
                d->helper_waits = 0;
                continue;
            }
            int i = next;
            const apply_record *r = &d->recs[i];
            da_slot *s = &d->slots[i % DECODE_AHEAD_SLOTS];
            pthread_mutex_unlock(&d->mu);
            if (!r->err) {
                order_decoder_decode(d->dec, r->value, r->value_len, &s->ev, &s->v);
                jsonw_reset(&s->items);
                if (s->v.kind == ORDER_DECODER_EVENT && s->ev.type == ORDER_EVENT_CREATE)
                    order_json_items(&s->items, &s->ev);
            }
            pthread_mutex_lock(&d->mu);
            atomic_store_explicit(&d->decoded, i + 1, memory_order_release);
            if (d->main_waits)
                pthread_cond_signal(&d->done);
        }
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
    d->cancel = 1;
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
    atomic_store_explicit(&d->decoded, 0, memory_order_relaxed);
    d->released = 0;
    d->cancel = 0;
    d->active = n > 0;
    pthread_cond_signal(&d->work);
    pthread_mutex_unlock(&d->mu);
}

const order_event *decode_ahead_get(decode_ahead *d, int i, order_decoder_result *out)
{
    /* n and released are written by this (the consumer) thread only. */
    assert(i >= d->released && i < d->n);
    /* Fast path, the usual one in catch-up (decoding is the faster half): the
     * helper is past i already, no lock taken. */
    int ready = atomic_load_explicit(&d->decoded, memory_order_acquire) > i;
    if (!ready) {
        pthread_mutex_lock(&d->mu);
        while (atomic_load_explicit(&d->decoded, memory_order_relaxed) <= i && d->active) {
            d->main_waits = 1;
            pthread_cond_wait(&d->done, &d->mu);
            d->main_waits = 0;
        }
        ready = atomic_load_explicit(&d->decoded, memory_order_relaxed) > i;
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
    /* Every few records only (a lock each): the helper may run up to SLOTS
     * ahead of the last release, which stays within RELEASE_EVERY of upto. */
    if (upto - d->released < DECODE_AHEAD_RELEASE_EVERY)
        return;
    pthread_mutex_lock(&d->mu);
    d->released = upto;
    if (d->helper_waits)
        pthread_cond_signal(&d->work);
    pthread_mutex_unlock(&d->mu);
}

void decode_ahead_stop(decode_ahead *d)
{
    pthread_mutex_lock(&d->mu);
    d->cancel = 1;
    pthread_cond_signal(&d->work);
    while (d->active) {
        d->main_waits = 1;
        pthread_cond_wait(&d->done, &d->mu);
        d->main_waits = 0;
    }
    d->cancel = 0;
    pthread_mutex_unlock(&d->mu);
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
