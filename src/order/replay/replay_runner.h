/*
 * replay_runner: the one thread that runs DLQ replays, off the HTTP event
 * loops, one replay at a time, and the recent replays' states for
 * GET /dlq/replay/{id}.
 *
 * A replay is submitted from an HTTP thread (never blocking: it is handed
 * over under a mutex) and runs on the runner's thread (replay_run.c). While
 * one runs here, another submission is refused at once (the caller answers
 * 409). Otherwise the runner's thread first takes the store's replay lease
 * (replay_lease.h), so that one replay runs at a time across every instance
 * sharing the store, and only then answers the submission: accepted, or
 * refused because another instance's replay holds the lease. The last
 * REPLAY_HISTORY replays stay queryable here from memory; every replay's
 * status is also published to the store (replay_status.h), where the other
 * instances and a restarted one find it (replay_lookup.h).
 */
#ifndef REPLAY_RUNNER_H
#define REPLAY_RUNNER_H

#include "replay/replay_select.h"

#include "platform/jsonw.h"

#include <stddef.h>

#define REPLAY_HISTORY 16
#define REPLAY_ID_MAX 40 /* "rp-<sequence>-<8 hex digits>" */

typedef struct replay_runner replay_runner;

typedef struct {
    const char *bootstrap;
    const char *group_id;  /* "<it>-replay" names the DLQ reader (never joined or committed) */
    const char *dlq_topic; /* read */
    const char *topic;     /* the only target: ORDER_EVENTS_TOPIC */
    const char *store_location;
    int rate;                /* records produced per second at most */
    int delivery_timeout_ms; /* a record not acknowledged within: failed; also the stall bound */
} replay_config;

/* Starts the thread. NULL + err. cfg's strings must outlive the runner. */
replay_runner *replay_runner_new(const replay_config *cfg, char *err, size_t errlen);
/* Stops the running replay (aborted, its unacknowledged records failed), joins, frees. */
void replay_runner_free(replay_runner *r);

typedef enum {
    REPLAY_SUBMIT_OK = 0,         /* started: id is its id */
    REPLAY_SUBMIT_BUSY,           /* one runs on this instance: id is its id */
    REPLAY_SUBMIT_BUSY_ELSEWHERE, /* one runs on another instance on the store: id is its id
                                     ("" if unknown), detail that instance */
    REPLAY_SUBMIT_STOPPING,       /* shutting down, or out of memory (detail says which) */
    REPLAY_SUBMIT_UNAVAILABLE     /* the store's lease could not be asked (detail says why) */
} replay_submit_result;

/*
 * A submission's outcome, given exactly once: from replay_runner_submit
 * itself when refused at once, else from the runner's thread once the lease
 * was taken or refused (before the replay runs). It must not block; it may
 * call replay_runner_render, not replay_runner_submit.
 */
typedef void (*replay_answer_fn)(void *arg, replay_submit_result res, const char *id,
                                 const char *detail);

/* Starts a replay of sel; its outcome goes to answer(arg, ...). */
void replay_runner_submit(replay_runner *r, const replay_selection *sel, replay_answer_fn answer,
                          void *arg);

/* Renders replay id's status into w: 1, or 0 when no recent replay has that id. */
int replay_runner_render(replay_runner *r, const char *id, jsonw *w);

#endif
