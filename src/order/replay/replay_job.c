/*
 * replay_job: a replay's state and its status document (see replay_job.h).
 */
#include "replay/replay_job.h"

#include "platform/clock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

replay_job *replay_job_new(pthread_mutex_t *mu, const char *id, const replay_selection *sel)
{
    replay_job *j = calloc(1, sizeof *j);
    if (!j)
        return NULL;
    if (sel->dry_run) {
        j->items = calloc(REPLAY_LIST_MAX, sizeof *j->items);
        if (!j->items) {
            free(j);
            return NULL;
        }
    }
    j->mu = mu;
    snprintf(j->id, sizeof j->id, "%s", id);
    j->sel = *sel;
    j->state = REPLAY_RUNNING;
    j->started_ms = clock_wall_ms();
    return j;
}

void replay_job_free(replay_job *j)
{
    if (!j)
        return;
    free(j->items);
    free(j->ends);
    free(j);
}

void replay_job_add(replay_job *j, int counter, long long delta)
{
    pthread_mutex_lock(j->mu);
    switch (counter) {
    case REPLAY_C_SELECTED:
        j->selected += delta;
        break;
    case REPLAY_C_REPLAYED:
        j->replayed += delta;
        break;
    case REPLAY_C_SKIPPED:
        j->skipped += delta;
        break;
    case REPLAY_C_FAILED:
        j->failed += delta;
        break;
    default:
        j->pending += delta;
        break;
    }
    pthread_mutex_unlock(j->mu);
}

/* Under the mutex. */
static void replay_job_keep_error(replay_job *j, int32_t partition, int64_t offset, const char *msg)
{
    if (j->nerrors >= REPLAY_ERRORS_MAX)
        return;
    replay_error *e = &j->errors[j->nerrors++];
    e->partition = partition;
    e->offset = offset;
    snprintf(e->message, sizeof e->message, "%s", msg);
}

void replay_job_fail_record(replay_job *j, int32_t partition, int64_t offset, const char *msg)
{
    pthread_mutex_lock(j->mu);
    j->failed++;
    replay_job_keep_error(j, partition, offset, msg);
    pthread_mutex_unlock(j->mu);
}

void replay_job_note(replay_job *j, int32_t partition, int64_t offset, const char *msg)
{
    pthread_mutex_lock(j->mu);
    replay_job_keep_error(j, partition, offset, msg);
    pthread_mutex_unlock(j->mu);
}

void replay_job_list(replay_job *j, const replay_item *it)
{
    pthread_mutex_lock(j->mu);
    if (j->items && j->nitems < REPLAY_LIST_MAX)
        j->items[j->nitems++] = *it;
    else
        j->items_truncated = 1;
    pthread_mutex_unlock(j->mu);
}

int replay_job_set_ends(replay_job *j, const replay_end *ends, size_t n)
{
    replay_end *copy = n ? malloc(n * sizeof *copy) : NULL;
    if (n && !copy)
        return -1;
    if (n)
        memcpy(copy, ends, n * sizeof *copy);
    pthread_mutex_lock(j->mu);
    free(j->ends);
    j->ends = copy;
    j->nends = n;
    pthread_mutex_unlock(j->mu);
    return 0;
}

void replay_job_limit_reached(replay_job *j)
{
    pthread_mutex_lock(j->mu);
    j->limit_reached = 1;
    pthread_mutex_unlock(j->mu);
}

void replay_job_finish(replay_job *j, replay_state st, const char *error)
{
    pthread_mutex_lock(j->mu);
    j->state = st;
    j->finished_ms = clock_wall_ms();
    if (error)
        snprintf(j->error, sizeof j->error, "%s", error);
    pthread_mutex_unlock(j->mu);
}

static const char *replay_state_name(replay_state st)
{
    switch (st) {
    case REPLAY_RUNNING:
        return "running";
    case REPLAY_COMPLETED:
        return "completed";
    case REPLAY_FAILED:
        return "failed";
    default:
        return "aborted";
    }
}

static void replay_put_time(jsonw *w, const char *key, int64_t ms)
{
    char buf[40];
    jsonw_key(w, key);
    if (ms > 0 && clock_format_iso_ms(ms, buf, sizeof buf) == 0)
        jsonw_str(w, buf);
    else
        jsonw_null(w);
}

static void replay_render_item(jsonw *w, const replay_item *it)
{
    jsonw_obj_begin(w);
    jsonw_key(w, "partition");
    jsonw_int(w, it->partition);
    jsonw_key(w, "offset");
    jsonw_int(w, it->offset);
    jsonw_key(w, "orderId");
    if (it->order_id[0])
        jsonw_str(w, it->order_id);
    else
        jsonw_null(w);
    const dlq_info *d = &it->info;
    jsonw_key(w, "errorReason");
    if (d->present & DLQ_F_REASON)
        jsonw_str(w, d->reason);
    else
        jsonw_null(w);
    jsonw_key(w, "originalTopic");
    if (d->present & DLQ_F_TOPIC)
        jsonw_str(w, d->original_topic);
    else
        jsonw_null(w);
    jsonw_key(w, "originalPartition");
    if (d->present & DLQ_F_PARTITION)
        jsonw_int(w, d->original_partition);
    else
        jsonw_null(w);
    jsonw_key(w, "originalOffset");
    if (d->present & DLQ_F_OFFSET)
        jsonw_int(w, d->original_offset);
    else
        jsonw_null(w);
    replay_put_time(w, "failedAt", (d->present & DLQ_F_FAILED_AT) ? d->failed_at_ms : 0);
    jsonw_key(w, "replayCount");
    jsonw_int(w, it->replays);
    jsonw_obj_end(w);
}

void replay_job_render_locked(const replay_job *j, jsonw *w)
{
    jsonw_obj_begin(w);
    jsonw_key(w, "id");
    jsonw_str(w, j->id);
    jsonw_key(w, "state");
    jsonw_str(w, replay_state_name(j->state));
    jsonw_key(w, "dryRun");
    jsonw_bool(w, j->sel.dry_run);
    jsonw_key(w, "force");
    jsonw_bool(w, j->sel.force);
    replay_put_time(w, "startedAt", j->started_ms);
    replay_put_time(w, "finishedAt", j->finished_ms);
    const struct {
        const char *name;
        long long v;
    } counts[] = {{"selected", j->selected},
                  {"replayed", j->replayed},
                  {"skipped", j->skipped},
                  {"failed", j->failed},
                  {"pending", j->pending}};
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
        jsonw_key(w, counts[i].name);
        jsonw_int(w, counts[i].v);
    }
    jsonw_key(w, "limitReached");
    jsonw_bool(w, j->limit_reached);
    jsonw_key(w, "endOffsets");
    jsonw_arr_begin(w);
    for (size_t i = 0; i < j->nends && i < REPLAY_PARTS_SHOWN; i++) {
        jsonw_obj_begin(w);
        jsonw_key(w, "partition");
        jsonw_int(w, j->ends[i].partition);
        jsonw_key(w, "endOffset");
        jsonw_int(w, j->ends[i].end);
        jsonw_obj_end(w);
    }
    jsonw_arr_end(w);
    jsonw_key(w, "error");
    if (j->error[0])
        jsonw_str(w, j->error);
    else
        jsonw_null(w);
    jsonw_key(w, "errors");
    jsonw_arr_begin(w);
    for (size_t i = 0; i < j->nerrors; i++) {
        jsonw_obj_begin(w);
        jsonw_key(w, "partition");
        jsonw_int(w, j->errors[i].partition);
        jsonw_key(w, "offset");
        jsonw_int(w, j->errors[i].offset);
        jsonw_key(w, "message");
        jsonw_str(w, j->errors[i].message);
        jsonw_obj_end(w);
    }
    jsonw_arr_end(w);
    if (j->sel.dry_run) {
        jsonw_key(w, "records");
        jsonw_arr_begin(w);
        for (size_t i = 0; i < j->nitems; i++)
            replay_render_item(w, &j->items[i]);
        jsonw_arr_end(w);
        jsonw_key(w, "recordsTruncated");
        jsonw_bool(w, j->items_truncated);
    }
    jsonw_obj_end(w);
}
