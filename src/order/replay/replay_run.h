/*
 * replay_run: one replay, on the runner's thread: read the DLQ up to the end
 * offsets captured at its start, select, and re-produce each selected record
 * to its original topic and partition with its original key, value and
 * headers (plus replayedFrom, replayCount, replayedAt), rate-limited, through
 * an idempotent acks=all producer. A record counts as replayed, and its
 * durable mark (store_replay_mark) is written, only once Kafka acknowledged
 * it; one that is not acknowledged within the delivery timeout is failed and
 * unmarked, so the next replay picks it up again.
 */
#ifndef REPLAY_RUN_H
#define REPLAY_RUN_H

#include "replay/replay_job.h"
#include "replay/replay_lease.h"
#include "replay/replay_runner.h"

#include "store/store.h"

#include <stdatomic.h>

/*
 * Runs job to its end (replay_job_finish is called) on st (a writable handle: the marks)
 * under lease (held: renewed while it runs, released just before the job ends); stop
 * set: abort soon. A lost lease fails the replay.
 */
void replay_run(replay_job *job, const replay_config *cfg, store *st, replay_lease *lease,
                const atomic_int *stop);

#endif
