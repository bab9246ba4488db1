/* idset: arena + open addressing (linear probing, FNV-1a), see idset.h. */
#include "query/idset.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(IDSET_MAX_BYTES + 3 * (size_t)IDSET_MAX_IDS + 3 + 0xffff < UINT32_MAX,
               "arena offsets must fit in 32 bits");

void idset_init(idset *s)
{
    memset(s, 0, sizeof *s);
}

void idset_free(idset *s)
{
    free(s->arena);
    free(s->marks);
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

/* The id at arena offset off: its bytes, *len, and *next the offset after it. */
static const unsigned char *idset_at(const idset *s, size_t off, size_t *len, size_t *next)
{
    const unsigned char *p = s->arena + off;
    size_t n = 0;
    int shift = 0;
    for (;;) {
        assert(p < s->arena + s->arena_len); /* offsets come from this set only */
        unsigned char b = *p++;
        n |= (size_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            break;
        shift += 7;
    }
    *len = n;
    *next = (size_t)(p - s->arena) + n;
    return p;
}

const char *idset_get(idset *s, uint32_t i, size_t *len)
{
    assert(i < s->count);
    size_t off, next;
    uint32_t at;
    if (s->count > 0 && i >= s->last_i && i - s->last_i < IDSET_STEP) {
        at = s->last_i; /* forward from the last one asked for */
        off = s->last_off;
    } else {
        at = i / IDSET_STEP * IDSET_STEP;
        off = s->marks[i / IDSET_STEP];
    }
    const unsigned char *id = idset_at(s, off, len, &next);
    while (at < i) {
        off = next;
        id = idset_at(s, off, len, &next);
        at++;
    }
    s->last_i = i;
    s->last_off = (uint32_t)off;
    return (const char *)id;
}

static int idset_grow_table(idset *s)
{
    uint32_t cap = s->table_cap ? s->table_cap * 2 : 1024;
    uint32_t *t = calloc(cap, sizeof *t);
    if (!t)
        return -1;
    size_t off = 0;
    for (uint32_t i = 0; i < s->count; i++) {
        size_t len, next;
        const unsigned char *id = idset_at(s, off, &len, &next);
        uint32_t slot = idset_hash(id, len) & (cap - 1);
        while (t[slot])
            slot = (slot + 1) & (cap - 1);
        t[slot] = (uint32_t)off + 1;
        off = next;
    }
    free(s->table);
    s->table = t;
    s->table_cap = cap;
    return 0;
}

/* Room for need more bytes in the arena, and a checkpoint if the next id takes one. */
static int idset_reserve(idset *s, size_t need)
{
    if (s->arena_len + need > s->arena_cap) {
        size_t cap = s->arena_cap ? s->arena_cap * 2 : 64 * 1024;
        while (cap < s->arena_len + need)
            cap *= 2;
        unsigned char *a = realloc(s->arena, cap);
        if (!a)
            return -1;
        s->arena = a;
        s->arena_cap = cap;
    }
    uint32_t mark = s->count / IDSET_STEP;
    if (s->count % IDSET_STEP == 0 && mark == s->marks_cap) {
        uint32_t cap = s->marks_cap ? s->marks_cap * 2 : 1024;
        uint32_t *m = realloc(s->marks, (size_t)cap * sizeof *m);
        if (!m)
            return -1;
        s->marks = m;
        s->marks_cap = cap;
    }
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
        size_t l, next;
        const unsigned char *have = idset_at(s, s->table[slot] - 1, &l, &next);
        if (l == len && memcmp(have, id, len) == 0)
            return 0;
        slot = (slot + 1) & mask;
    }
    if (s->count >= IDSET_MAX_IDS || s->id_bytes + len > IDSET_MAX_BYTES)
        return -1;
    /* at most IDSET_MAX_BYTES + 3 * IDSET_MAX_IDS bytes: offsets fit in 32 bits */
    if (idset_reserve(s, 3 + len) != 0)
        return -1;
    size_t off = s->arena_len;
    if (s->count % IDSET_STEP == 0)
        s->marks[s->count / IDSET_STEP] = (uint32_t)off;
    size_t w = off;
    size_t n = len;
    do {
        unsigned char b = (unsigned char)(n & 0x7f);
        n >>= 7;
        s->arena[w++] = n ? (unsigned char)(b | 0x80) : b;
    } while (n);
    if (len)
        memcpy(s->arena + w, id, len);
    s->arena_len = w + len;
    s->id_bytes += len;
    s->table[slot] = (uint32_t)off + 1;
    s->count++;
    return 1;
}
