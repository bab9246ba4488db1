/*
 * store_pg_ids: what the PostgreSQL backend's writer knows about orderIds:
 * hinted but not looked up yet (PENDING), known to exist (EXISTS: stored, or
 * created in the open transaction) or known not to (ABSENT).
 *
 * Why: store_apply() must answer DUPLICATE / NOT_FOUND at once, and asking
 * the server per event would put a round trip per event on the hot path. So
 * the batch's ids are looked up together (store_pg_batch.c) and remembered
 * here. Dense entries plus an open-addressing table of indices (FNV-1a,
 * linear probing): two allocations that double, none per id. Bounded by
 * STORE_PG_IDS_MAX; the writer clears it before it gets there.
 */
#include "store/store_pg_int.h"

#include <stdlib.h>
#include <string.h>

#define STORE_PG_IDS_MAX (1u << 22)

void store_pg_ids_clear(store_pg_ids *t)
{
    t->n = 0;
    t->scan = 0;
    if (t->table)
        memset(t->table, 0, (size_t)t->table_cap * sizeof *t->table);
}

void store_pg_ids_free(store_pg_ids *t)
{
    free(t->ents);
    free(t->table);
    memset(t, 0, sizeof *t);
}

static uint32_t store_pg_ids_hash(const char *id, size_t len)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)id[i];
        h *= 16777619u;
    }
    return h;
}

/* The slot of id, or of the empty slot where it would go. */
static uint32_t store_pg_ids_slot(const store_pg_ids *t, const char *id, size_t len)
{
    uint32_t mask = t->table_cap - 1;
    uint32_t slot = store_pg_ids_hash(id, len) & mask;
    for (;;) {
        uint32_t e = t->table[slot];
        if (e == 0)
            return slot;
        const store_pg_id *ent = &t->ents[e - 1];
        if (ent->len == len && memcmp(ent->id, id, len) == 0)
            return slot;
        slot = (slot + 1) & mask;
    }
}

store_pg_id *store_pg_ids_find(store_pg_ids *t, const char *id, size_t len)
{
    if (!t->table_cap || len > ORDER_ID_MAX)
        return NULL;
    uint32_t e = t->table[store_pg_ids_slot(t, id, len)];
    return e ? &t->ents[e - 1] : NULL;
}

/* Doubles the table (load kept at or below one half) and re-inserts. */
static int store_pg_ids_grow(store_pg_ids *t)
{
    uint32_t cap = t->table_cap ? t->table_cap * 2 : 1024;
    uint32_t *nt = calloc(cap, sizeof *nt);
    if (!nt)
        return -1;
    free(t->table);
    t->table = nt;
    t->table_cap = cap;
    for (uint32_t i = 0; i < t->n; i++)
        t->table[store_pg_ids_slot(t, t->ents[i].id, t->ents[i].len)] = i + 1;
    return 0;
}

store_pg_id *store_pg_ids_add(store_pg_ids *t, const char *id, size_t len, uint8_t state)
{
    if (len == 0 || len > ORDER_ID_MAX)
        return NULL;
    store_pg_id *found = store_pg_ids_find(t, id, len);
    if (found)
        return found;
    if (t->n >= STORE_PG_IDS_MAX)
        return NULL;
    if ((t->n + 1) * 2 > t->table_cap && store_pg_ids_grow(t) != 0)
        return NULL;
    if (t->n == t->cap) {
        uint32_t cap = t->cap ? t->cap * 2 : 512;
        store_pg_id *ne = realloc(t->ents, (size_t)cap * sizeof *ne);
        if (!ne)
            return NULL;
        t->ents = ne;
        t->cap = cap;
    }
    store_pg_id *ent = &t->ents[t->n];
    memcpy(ent->id, id, len);
    ent->id[len] = '\0';
    ent->len = (uint8_t)len;
    ent->state = state;
    ent->last_status[0] = '\0';
    t->table[store_pg_ids_slot(t, id, len)] = ++t->n;
    return ent;
}
