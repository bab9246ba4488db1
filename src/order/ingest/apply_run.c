/*
 * apply_run: consecutive new CREATEs of a batch applied to the store in one
 * call (store_apply_creates: one multi-row INSERT on SQLite) instead of one
 * store_apply() each: catch-up is almost only CREATEs, and a statement per
 * event was a third of the consumer thread's instructions
 * (bench/profile-notes.md).
 *
 * The decisions stay those of the one-by-one path: a run holds only records
 * that path would hand to store_apply() as they are (decoded ahead, a valid
 * CREATE, its partition assigned, not waiting, not under suspicion, not
 * below its position, no test hook), and the store applies all of them or
 * none. When it applies none (an orderId that exists, a position, a
 * statement the store refused), those records go the usual way one by one,
 * so each gets its own answer: a duplicate is still dead-lettered before any
 * later record of its partition commits.
 */
#include "ingest/apply_int.h"

#include "ingest/decode_ahead.h"

#include <stdio.h>
#include <string.h>

/* A run holds the events of records i..i+STORE_CREATES_MAX-1 at once, while the
 * consumer has released only up to i - (DECODE_AHEAD_RELEASE_EVERY - 1): the
 * helper must be free to decode that far ahead, or decode_ahead_get() waits forever. */
_Static_assert(STORE_CREATES_MAX + DECODE_AHEAD_RELEASE_EVERY - 1 <= DECODE_AHEAD_RESUME_AT,
               "a run must fit under the decode-ahead window's resume mark");

/* Test-only failure injection (ORDER_TEST_FAIL_PREFIX / ORDER_TEST_FAIL_TIMES). */
int apply_inject_failure(const apply_ctx *a, const order_event *ev, const apply_part *ps,
                         int64_t offset)
{
    const char *prefix = a->cfg->test_fail_prefix;
    if (!prefix || !*prefix || strncmp(ev->order_id, prefix, strlen(prefix)) != 0)
        return 0;
    int failed_before = ps->fail_offset == offset ? ps->attempts : 0;
    return failed_before < a->cfg->test_fail_times;
}

/* 1 if ev's order id has the test-only crash prefix (ORDER_TEST_CRASH_PREFIX). */
int apply_crash_requested(const apply_ctx *a, const order_event *ev)
{
    const char *crash = a->cfg->test_crash_prefix;
    return crash && *crash && strncmp(ev->order_id, crash, strlen(crash)) == 0;
}

int apply_test_hooked(const apply_ctx *a, const order_event *ev, const apply_part *ps,
                      int64_t offset)
{
    return apply_inject_failure(a, ev, ps, offset) || apply_crash_requested(a, ev);
}

/* The records from i on that may form a run; their events into c[]. */
static int run_collect(apply_ctx *a, const apply_record *recs, int i, int n, store_create *c)
{
    int k = 0;
    for (int j = i; j < n && k < STORE_CREATES_MAX; j++) {
        const apply_record *r = &recs[j];
        if (r->err || r->partition < 0 || r->partition >= a->nparts)
            break;
        const apply_part *ps = &a->parts[r->partition];
        if (!ps->assigned || ps->waiting || ps->isolate > 0 || ps->poison ||
            (ps->next >= 0 && r->offset < ps->next))
            break;
        order_decoder_result v;
        const order_event *ev = decode_ahead_get(a->ahead, j, &v);
        if (!ev || v.kind != ORDER_DECODER_EVENT || ev->type != ORDER_EVENT_CREATE ||
            apply_test_hooked(a, ev, ps, r->offset))
            break;
        c[k].partition = r->partition;
        c[k].offset = r->offset;
        c[k].ev = ev;
        c[k].items_json = decode_ahead_items(a->ahead, j, &c[k].items_len);
        k++;
    }
    return k;
}

int apply_run(apply_ctx *a, const apply_record *recs, int i, int n, int *runs_from)
{
    store_create c[STORE_CREATES_MAX];
    int k = run_collect(a, recs, i, n, c);
    if (k < 2)
        return 0; /* one record: the usual path costs the same */
    char err[256] = "";
    store_status s = store_apply_creates(a->st, a->cfg->topic, c, (size_t)k, err, sizeof err);
    if (s == STORE_SKIPPED) {
        *runs_from = i + k;
        return 0;
    }
    if (s != STORE_OK) {
        /* A failure the one-by-one path cannot sidestep (the store ended the
         * transaction, a position read failed, no memory): the batch is rolled
         * back and retried like any store failure, named at the run's first record. */
        apply_note_store_failure(a, &recs[i], s, 0, err);
        return -1;
    }
    for (int j = 0; j < k; j++) {
        const apply_record *r = &recs[i + j];
        a->consumed++;
        apply_record_applied(a, &a->parts[r->partition], r, c[j].ev);
    }
    return k;
}
