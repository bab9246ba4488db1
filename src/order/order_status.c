/* order_status: see order_status.h. */
#include "order_status.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

struct order_status_board {
    pthread_mutex_t mu;
    order_status snap;
    _Atomic int64_t beat_ms;
    void (*on_commit)(void *arg);
    void *on_commit_arg;
};

order_status_board *order_status_board_new(void)
{
    order_status_board *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    pthread_mutex_init(&b->mu, NULL);
    atomic_init(&b->beat_ms, 0);
    return b;
}

void order_status_board_free(order_status_board *b)
{
    if (!b)
        return;
    pthread_mutex_destroy(&b->mu);
    free(b);
}

void order_status_publish(order_status_board *b, const order_status *s)
{
    pthread_mutex_lock(&b->mu);
    b->snap = *s;
    pthread_mutex_unlock(&b->mu);
}

void order_status_read(order_status_board *b, order_status *out)
{
    pthread_mutex_lock(&b->mu);
    *out = b->snap;
    pthread_mutex_unlock(&b->mu);
}

void order_status_beat(order_status_board *b, int64_t mono_ms)
{
    atomic_store_explicit(&b->beat_ms, mono_ms, memory_order_relaxed);
}

int64_t order_status_last_beat(order_status_board *b)
{
    return atomic_load_explicit(&b->beat_ms, memory_order_relaxed);
}

void order_status_on_commit(order_status_board *b, void (*fn)(void *arg), void *arg)
{
    pthread_mutex_lock(&b->mu);
    b->on_commit = fn;
    b->on_commit_arg = arg;
    pthread_mutex_unlock(&b->mu);
}

void order_status_committed(order_status_board *b)
{
    pthread_mutex_lock(&b->mu);
    void (*fn)(void *) = b->on_commit;
    void *arg = b->on_commit_arg;
    pthread_mutex_unlock(&b->mu);
    if (fn)
        fn(arg);
}
