/*
 * apply_int: what the two files of the apply path share: apply.c (the
 * per-record decisions and the batch transaction) and apply_retry.c (the
 * retry state kept in the store, outside that transaction). Not for use
 * elsewhere: everyone else sees apply.h.
 */
#ifndef APPLY_INT_H
#define APPLY_INT_H

#include "ingest/apply.h"

#include <stddef.h>

/*
 * Before the batch's transaction: for every partition of the batch that is
 * not under suspicion, marks its first record as being tried, so a crash is
 * noticed by whoever reads the partition next. 0, or -1 + err (a store
 * failure).
 */
int apply_retry_before_batch(apply_ctx *a, char *err, size_t errlen);

/* Outside a transaction: counts one more attempt of record (p, offset) of a
 * partition under suspicion, durably, before it runs. 0, or -1 + err. */
int apply_retry_count_attempt(apply_ctx *a, int32_t p, int64_t offset, char *err, size_t errlen);

/* After the batch (committed or not): records the attempts counted inside it,
 * remembers acknowledged dead letters, drops the rows of records now past. */
void apply_retry_after_batch(apply_ctx *a);

/* The batch was rolled back: nothing it applied is past after all. */
void apply_retry_rolled_back(apply_ctx *a);

/* ---- shared by apply.c and apply_run.c ---- */

/* Record r (partition state ps) is past: its partition's next offset moves. */
void apply_part_succeeded(apply_part *ps, int64_t offset);

/* The store applied r's event ev (STORE_OK): positions, counts and metrics. */
void apply_record_applied(apply_ctx *a, apply_part *ps, const apply_record *r,
                          const order_event *ev);

/* Test-only hooks (apply_run.c): failure injection (ORDER_TEST_FAIL_PREFIX /
 * ORDER_TEST_FAIL_TIMES) due for ev at offset; ev's id has the crash prefix
 * (ORDER_TEST_CRASH_PREFIX); either of them. */
int apply_inject_failure(const apply_ctx *a, const order_event *ev, const apply_part *ps,
                         int64_t offset);
int apply_crash_requested(const apply_ctx *a, const order_event *ev);
int apply_test_hooked(const apply_ctx *a, const order_event *ev, const apply_part *ps,
                      int64_t offset);

/* Notes a store failure at record r for store_failure() (apply.c). */
void apply_note_store_failure(apply_ctx *a, const apply_record *r, store_status s, int internal,
                              const char *err);

/*
 * apply_run.c: records i.. of a batch decoded ahead that are new CREATEs,
 * nothing special about their partitions, go to the store as one run
 * (store_apply_creates). Returns how many were applied (0: none, apply
 * record i the usual way; then *runs_from may move past records that are
 * to be applied one by one), or -1 on a store failure (noted: roll back).
 */
int apply_run(apply_ctx *a, const apply_record *recs, int i, int n, int *runs_from);

#endif
