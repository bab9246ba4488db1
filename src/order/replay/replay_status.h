/*
 * replay_status: a replay's status document kept in the store
 * (store_replay_status_*), so that every instance sharing the store answers
 * GET /dlq/replay/{id}, not only the one that runs it, and a restarted
 * instance still knows its recent replays.
 *
 * The replay thread publishes its job's document when the replay starts
 * (before the POST's 202 is sent), every REPLAY_STATUS_EVERY_MS while it runs
 * and when it ends; a failed write is logged and costs nothing else (the
 * running instance answers from memory). A document read from the store
 * carries statusAgeMs: a running replay's counts are that old. One still
 * "running" that was not rewritten for REPLAY_STATUS_STALE_MS belongs to an
 * instance that died (its lease lapsed the same way): it is shown as failed,
 * with why.
 */
#ifndef REPLAY_STATUS_H
#define REPLAY_STATUS_H

#include "replay/replay_job.h"
#include "replay/replay_lease.h"

#include "platform/jsonw.h"
#include "store/store.h"

#include <stddef.h>

#define REPLAY_STATUS_EVERY_MS REPLAY_LEASE_RENEW_MS
#define REPLAY_STATUS_STALE_MS REPLAY_LEASE_TTL_MS

/* Writes j's document to st (a writable handle): 0, or -1 (logged). Takes j->mu. */
int replay_status_publish(replay_job *j, store *st);

/* id's stored document into w (adjusted as above): 1, 0 when the store has none,
 * -1 + err when the store failed or the document is not an object. */
int replay_status_load(store *st, const char *id, jsonw *w, char *err, size_t errlen);

#endif
