/* wait_set: see wait_set.h. */
#include "query/wait_set.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

int wait_set_init(wait_set *s, uint32_t cap)
{
    memset(s, 0, sizeof *s);
    assert(cap >= 1);
    s->slots = calloc(cap, sizeof *s->slots);
    s->free_idx = calloc(cap, sizeof *s->free_idx);
    s->ids = calloc(cap, sizeof *s->ids);
    s->parts = calloc(cap, sizeof *s->parts);
    if (!s->slots || !s->free_idx || !s->ids || !s->parts) {
        wait_set_free(s);
        return -1;
    }
    s->cap = cap;
    for (uint32_t i = 0; i < cap; i++)
        s->free_idx[i] = cap - 1 - i; /* slot 0 first */
    s->nfree = cap;
    return 0;
}

void wait_set_free(wait_set *s)
{
    free(s->slots);
    free(s->free_idx);
    free(s->ids);
    free(s->parts);
    memset(s, 0, sizeof *s);
}

wait_entry *wait_set_add(wait_set *s, void *owner, const char *order_id, int has_after,
                         int32_t partition, int64_t offset, int64_t deadline_ms)
{
    assert(owner != NULL);
    size_t len = strlen(order_id);
    assert(len <= ORDER_ID_MAX); /* validated by the handler */
    if (s->nfree == 0)
        return NULL;
    wait_entry *e = &s->slots[s->free_idx[--s->nfree]];
    e->owner = owner;
    memcpy(e->order_id, order_id, len + 1);
    e->has_after = has_after;
    e->partition = partition;
    e->offset = offset;
    e->deadline_ms = deadline_ms;
    e->q = -1;
    s->n++;
    return e;
}

void wait_set_remove(wait_set *s, wait_entry *e)
{
    assert(e >= s->slots && e < s->slots + s->cap && e->owner != NULL);
    e->owner = NULL;
    s->free_idx[s->nfree++] = (uint32_t)(e - s->slots);
    assert(s->n > 0);
    s->n--;
}

static int cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

void wait_set_questions(wait_set *s, char *ids_buf)
{
    s->nids = 0;
    s->nparts = 0;
    for (uint32_t i = 0; i < s->cap; i++) {
        wait_entry *e = &s->slots[i];
        if (!e->owner)
            continue;
        if (e->has_after) {
            s->parts[s->nparts++] = e->partition;
        } else {
            char *dst = ids_buf + s->nids * (ORDER_ID_MAX + 1);
            memcpy(dst, e->order_id, strlen(e->order_id) + 1);
            e->q = (int32_t)s->nids;
            s->ids[s->nids++] = dst;
        }
    }
    if (s->nparts == 0)
        return;
    qsort(s->parts, s->nparts, sizeof *s->parts, cmp_i32);
    size_t u = 1;
    for (size_t j = 1; j < s->nparts; j++)
        if (s->parts[j] != s->parts[u - 1])
            s->parts[u++] = s->parts[j];
    s->nparts = u;
    for (uint32_t i = 0; i < s->cap; i++) {
        wait_entry *e = &s->slots[i];
        if (!e->owner || !e->has_after)
            continue;
        const int32_t *hit = bsearch(&e->partition, s->parts, s->nparts, sizeof *s->parts, cmp_i32);
        assert(hit != NULL);
        e->q = (int32_t)(hit - s->parts);
    }
}

size_t wait_set_sweep(wait_set *s, const uint8_t *found, const int64_t *next, int64_t now_ms,
                      void (*fn)(void *arg, void *owner, int ready), void *arg)
{
    size_t done = 0;
    for (uint32_t i = 0; i < s->cap && s->n > 0; i++) {
        wait_entry *e = &s->slots[i];
        if (!e->owner)
            continue;
        int ready = 0;
        if (e->q >= 0 && e->has_after && next && (size_t)e->q < s->nparts)
            ready = next[e->q] > e->offset;
        else if (e->q >= 0 && !e->has_after && found && (size_t)e->q < s->nids)
            ready = found[e->q] != 0;
        if (!ready && now_ms < e->deadline_ms)
            continue;
        void *owner = e->owner;
        wait_set_remove(s, e);
        fn(arg, owner, ready);
        done++;
    }
    return done;
}
