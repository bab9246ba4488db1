/* idset: arena + open addressing (linear probing, FNV-1a), see idset.h. */
#include "query/idset.h"

#include <stdlib.h>
#include <string.h>

void idset_init(idset *s)
{
    memset(s, 0, sizeof *s);
}

void idset_free(idset *s)
{
    free(s->arena);
    free(s->entries);
    free(s->table);
    memset(s, 0, sizeof *s);
}

static uint32_t idset_hash(const void *p, size_t n)
{
    const unsigned char *b = p;
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 16777619u;
    }
    return h;
}

const char *idset_get(const idset *s, uint32_t i, size_t *len)
{
    uint64_t e = s->entries[i];
    *len = (size_t)(e & 0xffff);
    return s->arena + (e >> 16);
}

static int idset_grow_table(idset *s)
{
    uint32_t cap = s->table_cap ? s->table_cap * 2 : 1024;
    uint32_t *t = calloc(cap, sizeof *t);
    if (!t)
        return -1;
    for (uint32_t i = 0; i < s->count; i++) {
        size_t len;
        const char *id = idset_get(s, i, &len);
        uint32_t slot = idset_hash(id, len) & (cap - 1);
        while (t[slot])
            slot = (slot + 1) & (cap - 1);
        t[slot] = i + 1;
    }
    free(s->table);
    s->table = t;
    s->table_cap = cap;
    return 0;
}

int idset_add(idset *s, const void *id, size_t len)
{
    if (len > 0xffff)
        return -1;
    /* Keep the load factor under 1/2 so probes stay short. */
    if ((uint64_t)(s->count + 1) * 2 > s->table_cap && idset_grow_table(s) != 0)
        return -1;
    uint32_t mask = s->table_cap - 1;
    uint32_t slot = idset_hash(id, len) & mask;
    while (s->table[slot]) {
        size_t l;
        const char *have = idset_get(s, s->table[slot] - 1, &l);
        if (l == len && memcmp(have, id, len) == 0)
            return 0;
        slot = (slot + 1) & mask;
    }
    if (s->count >= IDSET_MAX_IDS || s->arena_len + len > IDSET_MAX_BYTES)
        return -1;
    if (s->arena_len + len > s->arena_cap) {
        size_t cap = s->arena_cap ? s->arena_cap * 2 : 64 * 1024;
        while (cap < s->arena_len + len)
            cap *= 2;
        char *a = realloc(s->arena, cap);
        if (!a)
            return -1;
        s->arena = a;
        s->arena_cap = cap;
    }
    if (s->count == s->entries_cap) {
        uint32_t cap = s->entries_cap ? s->entries_cap * 2 : 4096;
        uint64_t *e = realloc(s->entries, (size_t)cap * sizeof *e);
        if (!e)
            return -1;
        s->entries = e;
        s->entries_cap = cap;
    }
    if (len)
        memcpy(s->arena + s->arena_len, id, len);
    s->entries[s->count] = ((uint64_t)s->arena_len << 16) | len;
    s->arena_len += len;
    s->table[slot] = ++s->count;
    return 1;
}
