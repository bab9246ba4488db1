/*
 * apply_retry: the retry state of the apply path, kept in the store (see
 * store.h, store_attempt_*) so that it outlives what the batch does not.
 *
 * - A failed attempt's count and next-due time are recorded once the batch
 *   is over, so an instance that dies or loses the partition mid-schedule
 *   leaves it to the next owner, which continues it (apply_part_restore()).
 * - A record that kills the process leaves no failure behind, so every
 *   batch first marks each partition's first record as "being tried"
 *   (attempts 0, durable before the batch runs). Whoever next gets the
 *   partition and finds that mark at the partition's position knows the
 *   previous batch died: for the next CONSUMER_BATCH_MAX records of that
 *   partition (what the dead batch may have held) it commits before each
 *   record and counts the record's attempt durably *before* running it, so
 *   the record that keeps killing the process is dead-lettered after its
 *   attempts instead of looping forever (a commit and a small write per
 *   record, for those records only).
 * - A dead letter Kafka acknowledged is remembered (memory, then the store)
 *   before the position moves, so a store failure or a fenced commit after
 *   it never writes the same dead letter twice.
 * A row below the partition's position is stale and ignored; each mark drops
 * the rows below it, so a partition keeps one or two rows at most.
 */
#include "ingest/apply_int.h"

#include "platform/clock.h"
#include "platform/log.h"

#include <assert.h>
#include <stdio.h>

int apply_part_restore(apply_ctx *a, int32_t p, apply_part *ps)
{
    /* Without a position the partition is read from its start (its low watermark). */
    int64_t at_offset = ps->next >= 0 ? ps->next : ps->low;
    if (at_offset < 0)
        return 0;
    store_attempt at;
    char err[256];
    store_status s = store_attempt_get(a->st, a->cfg->topic, p, at_offset, &at, err, sizeof err);
    if (s == STORE_NOT_FOUND)
        return 0;
    if (s != STORE_OK) {
        log_warn("%s[%d]: reading the retry state: %s (attempts start again)", a->cfg->topic, p,
                 err);
        return 0;
    }
    ps->isolate = a->cfg->batch_max > 0 ? a->cfg->batch_max : 1;
    if (at.dlq_written) {
        ps->dlq_acked = at_offset;
        ps->dlq_mark_pending = 0;
    }
    if (at.attempts > 0) {
        ps->fail_offset = at_offset;
        ps->attempts = at.attempts;
        if (at.attempts > a->cfg->max_retries) {
            ps->poison = 1;
            ps->crashed = 1;
        }
    }
    log_warn("%s[%d] offset %lld: the last batch there did not finish (%d attempts counted%s); "
             "trying its records one at a time",
             a->cfg->topic, p, (long long)at_offset, at.attempts,
             at.dlq_written ? ", dead letter already written" : "");
    int64_t wait = at.due_ms > 0 ? at.due_ms - clock_wall_ms() : 0;
    if (ps->poison || wait <= 0)
        return 0;
    ps->waiting = 1;
    ps->resume_at_ms = clock_mono_ms() + wait;
    return 1;
}

int apply_retry_before_batch(apply_ctx *a, char *err, size_t errlen)
{
    for (int p = 0; p < a->nparts; p++) {
        apply_part *ps = &a->parts[p];
        if (!ps->assigned || ps->waiting || ps->batch_start < 0)
            continue;
        if (ps->isolate > 0)
            continue; /* each record's attempt is counted on its own */
        int64_t first = ps->next > ps->batch_start ? ps->next : ps->batch_start;
        if (ps->poison && ps->fail_offset == first)
            continue; /* dead-lettered, not tried */
        if (store_attempt_record(a->st, a->cfg->topic, p, first, 0, 0, err, errlen) != STORE_OK)
            return -1;
    }
    return 0;
}

int apply_retry_count_attempt(apply_ctx *a, int32_t p, int64_t offset, char *err, size_t errlen)
{
    assert(p >= 0 && p < a->nparts);
    const apply_part *ps = &a->parts[p];
    if (ps->poison && ps->fail_offset == offset)
        return 0; /* dead-lettered, not tried */
    int attempts = (ps->fail_offset == offset ? ps->attempts : 0) + 1;
    return store_attempt_record(a->st, a->cfg->topic, p, offset, attempts, 0, err, errlen) ==
                   STORE_OK
               ? 0
               : -1;
}

void apply_retry_rolled_back(apply_ctx *a)
{
    for (int p = 0; p < a->nparts; p++)
        a->parts[p].clear_below = -1;
}

void apply_retry_after_batch(apply_ctx *a)
{
    char err[256];
    for (int p = 0; p < a->nparts; p++) {
        apply_part *ps = &a->parts[p];
        if (ps->clear_below >= 0) {
            if (store_attempt_clear(a->st, a->cfg->topic, p, ps->clear_below, err, sizeof err) !=
                STORE_OK)
                log_warn("%s[%d]: dropping past retry state: %s", a->cfg->topic, p, err);
            ps->clear_below = -1;
        }
        if (ps->dlq_mark_pending && ps->dlq_acked >= 0) {
            if (store_dlq_written_mark(a->st, a->cfg->topic, p, ps->dlq_acked, err, sizeof err) ==
                STORE_OK)
                ps->dlq_mark_pending = 0;
            else
                log_warn("%s[%d] offset %lld: remembering its dead letter: %s (remembered in "
                         "memory only)",
                         a->cfg->topic, p, (long long)ps->dlq_acked, err);
        }
        if (ps->persist && ps->fail_offset >= 0) {
            if (store_attempt_record(a->st, a->cfg->topic, p, ps->fail_offset, ps->attempts,
                                     ps->due_wall_ms, err, sizeof err) == STORE_OK)
                ps->persist = 0;
            else
                log_warn("%s[%d] offset %lld: recording attempt %d: %s", a->cfg->topic, p,
                         (long long)ps->fail_offset, ps->attempts, err);
        }
    }
}
