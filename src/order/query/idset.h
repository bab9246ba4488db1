/*
 * idset: a set of distinct byte strings that remembers first-seen order, for
 * GET /getAllOrderIdsFromTopic over millions of records.
 *
 * Why custom: one arena holds the ids back to back, each after its length
 * (a 1-3 byte varint), and an open-addressing table of 32-bit arena offsets
 * finds them: three allocations that double, never one per id, no pointer
 * chasing, and about 9 + 8 bytes per id of 7 bytes at a million ids (the
 * arena, then the table at most half full), not the 24 a per-id entry array
 * cost (issue 15). The i-th id is found from a checkpoint kept every
 * IDSET_STEP ids, and in one step when i follows the last one asked for
 * (the answer and the index writes walk the ids in order). Bounded: at most
 * IDSET_MAX_IDS ids and IDSET_MAX_BYTES bytes of ids.
 */
#ifndef IDSET_H
#define IDSET_H

#include <stddef.h>
#include <stdint.h>

#define IDSET_MAX_IDS (16u * 1024 * 1024)
#define IDSET_MAX_BYTES ((size_t)512 * 1024 * 1024)
#define IDSET_STEP 64 /* ids per checkpoint */

typedef struct {
    unsigned char *arena; /* per id in first-seen order: varint length, bytes */
    size_t arena_len, arena_cap;
    size_t id_bytes; /* bytes of ids, without their lengths (IDSET_MAX_BYTES) */
    uint32_t *marks; /* arena offset of ids 0, IDSET_STEP, 2 * IDSET_STEP, ... */
    uint32_t marks_cap;
    uint32_t count;
    uint32_t *table;    /* slot -> arena offset + 1 (0 = empty) */
    uint32_t table_cap; /* power of two */
    uint32_t last_i;    /* the id idset_get returned last ... */
    uint32_t last_off;  /* ... and its arena offset (valid when count > 0) */
} idset;

void idset_init(idset *s);
void idset_free(idset *s);
/* 1 added, 0 already present, -1 out of memory / over the bounds / id > 65535 bytes. */
int idset_add(idset *s, const void *id, size_t len);
/* The i-th id in first-seen order (i < count). Not const: it remembers where
 * it stopped, so two threads must not call it on one set at once. */
const char *idset_get(idset *s, uint32_t i, size_t *len);

#endif
