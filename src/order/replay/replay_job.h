/*
 * replay_job: one DLQ replay's state, updated by the replay thread
 * (replay_run.c) and read by the HTTP threads (GET /dlq/replay/{id}), so
 * every access goes through the runner's mutex held in the job.
 *
 * Counters: selected (matched the selection), replayed (re-produced and
 * acknowledged by Kafka), skipped (already replayed and not forced; in a dry
 * run also those that would be skipped), failed (not replayed: delivery
 * failed, no or a foreign original topic, produce refused), pending
 * (produced, acknowledgement awaited). selected = replayed + skipped +
 * failed + pending (+ listed, in a dry run).
 */
#ifndef REPLAY_JOB_H
#define REPLAY_JOB_H

#include "replay/replay_runner.h"
#include "replay/replay_select.h"

#include "platform/jsonw.h"

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#define REPLAY_ERRORS_MAX 20    /* record errors kept for the status (the first ones) */
#define REPLAY_LIST_MAX 1000    /* records a dry run lists */
#define REPLAY_PARTS_SHOWN 1000 /* DLQ partitions whose end offsets the status shows */

typedef enum {
    REPLAY_RUNNING = 0,
    REPLAY_COMPLETED, /* every selected record was dealt with (see the counters) */
    REPLAY_FAILED,    /* stopped by an error of its own (error says which) */
    REPLAY_ABORTED    /* stopped by the service's shutdown */
} replay_state;

typedef struct {
    int32_t partition;
    int64_t offset;
    char message[160];
} replay_error;

/* What a dry run lists of one selected record. */
typedef struct {
    int32_t partition;
    int64_t offset;
    char order_id[ORDER_ID_MAX + 1];
    dlq_info info;
    int replays; /* earlier acknowledged replays */
} replay_item;

typedef struct {
    int32_t partition;
    int64_t end; /* the DLQ's end offset captured when the replay started */
} replay_end;

typedef struct replay_job {
    pthread_mutex_t *mu; /* the runner's */
    char id[REPLAY_ID_MAX + 1];
    replay_selection sel;
    replay_state state;
    int64_t started_ms, finished_ms;
    long long selected, replayed, skipped, failed, pending;
    int limit_reached;
    char error[256];
    replay_error errors[REPLAY_ERRORS_MAX];
    size_t nerrors;
    replay_item *items; /* dry run: up to REPLAY_LIST_MAX */
    size_t nitems;
    int items_truncated;
    replay_end *ends;
    size_t nends;
} replay_job;

/* A new running job (mu is the runner's); NULL when out of memory. */
replay_job *replay_job_new(pthread_mutex_t *mu, const char *id, const replay_selection *sel);
void replay_job_free(replay_job *j);

/* Counter changes, each under the mutex. */
enum { REPLAY_C_SELECTED, REPLAY_C_REPLAYED, REPLAY_C_SKIPPED, REPLAY_C_FAILED, REPLAY_C_PENDING };
void replay_job_add(replay_job *j, int counter, long long delta);
/* A record that failed: counted (failed + 1) and its message kept (the first ones). */
void replay_job_fail_record(replay_job *j, int32_t partition, int64_t offset, const char *msg);
/* A note about a record that still counts as done (e.g. its mark could not be stored). */
void replay_job_note(replay_job *j, int32_t partition, int64_t offset, const char *msg);
/* Lists a dry run's record (beyond REPLAY_LIST_MAX: only noted as truncated). */
void replay_job_list(replay_job *j, const replay_item *it);
/* The captured end offsets (copied). 0, or -1 when out of memory. */
int replay_job_set_ends(replay_job *j, const replay_end *ends, size_t n);
void replay_job_limit_reached(replay_job *j);
/* Ends the job: state and, for FAILED/ABORTED, why. */
void replay_job_finish(replay_job *j, replay_state st, const char *error);

/* The job's status document (GET /dlq/replay/{id}, and the 202 of the POST); the caller
 * holds j->mu. */
void replay_job_render_locked(const replay_job *j, jsonw *w);

#endif
