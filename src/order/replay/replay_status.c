/*
 * replay_status: publication of a replay's status to the store and its
 * reading back on any instance (see replay_status.h).
 */
#include "replay/replay_status.h"

#include "platform/log.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int replay_status_publish(replay_job *j, store *st)
{
    jsonw w;
    jsonw_init(&w);
    pthread_mutex_lock(j->mu);
    replay_job_render_locked(j, &w);
    pthread_mutex_unlock(j->mu);
    char err[300] = "";
    int rc = -1;
    if (!jsonw_ok(&w))
        snprintf(err, sizeof err, "cannot render it");
    else if (store_replay_status_put(st, j->id, w.buf, w.len, err, sizeof err) == STORE_OK)
        rc = 0;
    if (rc != 0)
        log_msg(LOG_WARN, "replay", NULL,
                "DLQ replay %s: its status is not in the store (other instances cannot "
                "show it): %s",
                j->id, err);
    jsonw_free(&w);
    return rc;
}

int replay_status_load(store *st, const char *id, jsonw *w, char *err, size_t errlen)
{
    char *doc = NULL;
    int64_t age_ms = 0;
    store_status s = store_replay_status_get(st, id, &doc, &age_ms, err, errlen);
    if (s == STORE_NOT_FOUND)
        return 0;
    if (s != STORE_OK)
        return -1;
    json_error_t je;
    json_t *o = json_loads(doc, 0, &je);
    free(doc);
    if (!json_is_object(o)) {
        snprintf(err, errlen, "the stored status of %s is not a JSON object", id);
        json_decref(o);
        return -1;
    }
    if (age_ms < 0) /* PostgreSQL's clock judged both ends; SQLite's may step back */
        age_ms = 0;
    const char *state = json_string_value(json_object_get(o, "state"));
    if (state && strcmp(state, "running") == 0 && age_ms > REPLAY_STATUS_STALE_MS) {
        char why[200];
        snprintf(why, sizeof why,
                 "the instance running it stopped: its status was last written %lld s ago",
                 (long long)(age_ms / 1000));
        json_object_set_new(o, "state", json_string("failed"));
        json_object_set_new(o, "error", json_string(why));
    }
    json_object_set_new(o, "statusAgeMs", json_integer(age_ms));
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (!text) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    jsonw_raw(w, text, strlen(text));
    free(text);
    if (!jsonw_ok(w)) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 1;
}
