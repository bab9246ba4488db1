/*
 * replay_runner: the one thread that runs DLQ replays, off the HTTP event
 * loops, one replay at a time, and the recent replays' states for
 * GET /dlq/replay/{id}.
 *
 * A replay is submitted from an HTTP thread (never blocking: it is handed
 * over under a mutex) and runs on the runner's thread (replay_run.c). While
 * one runs, another submission is refused (the caller answers 409). The last
 * REPLAY_HISTORY replays stay queryable; they live in memory only (what is
 * durable is the store's replay marks), so a restarted service knows none.
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
    REPLAY_SUBMIT_OK = 0,
    REPLAY_SUBMIT_BUSY,    /* one runs: id holds its id */
    REPLAY_SUBMIT_STOPPING /* shutting down, or out of memory (err says which) */
} replay_submit_result;

/* Starts a replay of sel; its id (or the running one's) into id. */
replay_submit_result replay_runner_submit(replay_runner *r, const replay_selection *sel, char *id,
                                          size_t idlen, char *err, size_t errlen);

/* Renders replay id's status into w: 1, or 0 when no recent replay has that id. */
int replay_runner_render(replay_runner *r, const char *id, jsonw *w);

#endif
