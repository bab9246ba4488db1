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

#endif
