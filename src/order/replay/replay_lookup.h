/*
 * replay_lookup: GET /dlq/replay/{id} for a replay this instance does not
 * hold in memory (another instance ran it, or this one before a restart):
 * the status is read from the store (replay_status.h) on a thread of its
 * own, so no HTTP thread waits on the store.
 *
 * Bounded: at most REPLAY_LOOKUP_QUEUE look-ups wait; beyond, the look-up is
 * answered at once as failed. Every submitted look-up is answered exactly
 * once, at stop too ("shutting down"). The thread opens its store handle at
 * the first look-up and opens it again after a failure.
 */
#ifndef REPLAY_LOOKUP_H
#define REPLAY_LOOKUP_H

#include "replay/replay_runner.h"

#include "platform/jsonw.h"

#include <stddef.h>

#define REPLAY_LOOKUP_QUEUE 64

typedef struct replay_lookup replay_lookup;

/*
 * A look-up's outcome, from the lookup thread (or the submitting one when
 * refused at once): found 1 and w the status (the callee may keep nothing
 * of w past the call), 0 the store has no such replay, -1 and err why not
 * (busy: too many waiting; the store failed; shutting down).
 */
typedef void (*replay_lookup_fn)(void *arg, int found, jsonw *w, const char *err, int busy);

/* Starts the thread; store_location must outlive it. NULL + err. */
replay_lookup *replay_lookup_new(const char *store_location, char *err, size_t errlen);
/* Answers what waits ("shutting down"), joins, frees. */
void replay_lookup_free(replay_lookup *l);
/* Looks id up; done(arg, ...) is called exactly once. */
void replay_lookup_submit(replay_lookup *l, const char *id, replay_lookup_fn done, void *arg);

#endif
