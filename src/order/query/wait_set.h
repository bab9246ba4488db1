/*
 * wait_set: the parked read-your-writes requests (see read_wait.h), as plain
 * data: a fixed number of slots, the questions one store probe must answer
 * for all of them, and the sweep that decides who is answered.
 *
 * Why it looks like this: one probe per tick asks about every waiter at once,
 * so the set hands out its questions as arrays (orderIds of the waiters
 * without after=, distinct partitions of those with after=) and remembers,
 * per waiter, where its answer will be. A waiter parked while a probe runs
 * was not asked: the sweep only checks its deadline. Not thread-safe: the
 * owner locks around every call. No allocation after wait_set_init().
 */
#ifndef WAIT_SET_H
#define WAIT_SET_H

#include "event/order_model.h"

#include <stddef.h>
#include <stdint.h>

typedef struct {
    void *owner; /* the parked request (an http_call); NULL: the slot is free */
    char order_id[ORDER_ID_MAX + 1];
    int has_after;
    int32_t partition;
    int64_t offset;
    int64_t deadline_ms; /* monotonic */
    int32_t q;           /* index of its question in the last probe; -1 not asked */
} wait_entry;

typedef struct {
    wait_entry *slots;
    uint32_t cap, n;
    uint32_t *free_idx; /* free slots, a stack */
    uint32_t nfree;
    /* the last probe's questions (wait_set_questions) */
    const char **ids;
    size_t nids;
    int32_t *parts;
    size_t nparts;
} wait_set;

/* cap slots (>= 1); 0, or -1 when out of memory. */
int wait_set_init(wait_set *s, uint32_t cap);
void wait_set_free(wait_set *s);

/* A waiter; NULL when all slots are taken. order_id must be a valid orderId. */
wait_entry *wait_set_add(wait_set *s, void *owner, const char *order_id, int has_after,
                         int32_t partition, int64_t offset, int64_t deadline_ms);
void wait_set_remove(wait_set *s, wait_entry *e);

/*
 * Fills s->ids (copied into ids_buf, a caller's buffer of cap * (ORDER_ID_MAX
 * + 1) bytes, so a probe can run without the lock) and s->parts (distinct,
 * ascending) with every current waiter's question.
 */
void wait_set_questions(wait_set *s, char *ids_buf);

/*
 * found[s->nids] and next[s->nparts] answer the last questions (NULL: the
 * probe failed, only deadlines count). Every waiter that is ready (its order
 * exists; with after=, next of its partition > its offset) or past its
 * deadline at now_ms is removed and handed to fn with ready = 1 or 0.
 * Returns how many were.
 */
size_t wait_set_sweep(wait_set *s, const uint8_t *found, const int64_t *next, int64_t now_ms,
                      void (*fn)(void *arg, void *owner, int ready), void *arg);

#endif
