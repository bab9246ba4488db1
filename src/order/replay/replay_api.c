/*
 * replay_api: POST /dlq/replay and GET /dlq/replay/{id} (see replay_api.h).
 * Everything here is quick (parse, check, hand over, render): no Kafka and
 * no store on the HTTP thread. A POST that may start a replay is deferred
 * (http_call_defer): the runner's thread answers it once it knows whether
 * the store's replay lease was taken (replay_runner.h). A GET for a replay
 * not in this instance's memory is deferred too, and answered from the
 * store by the lookup thread (replay_lookup.h).
 */
#include "replay/replay_api.h"

#include "replay/replay_auth.h"
#include "replay/replay_lookup.h"

#include "platform/log.h"
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Set once, by replay_api_routes (one service per process). */
static replay_api *(*replay_api_get)(void *app);

/* 0 when the call may go on; otherwise it was answered (401/403). */
static int replay_api_authorize(http_call *call, const replay_api *a)
{
    replay_auth_result r = replay_auth_check(a->token, http_header(call, "Authorization"));
    switch (r) {
    case REPLAY_AUTH_OK:
        return 0;
    case REPLAY_AUTH_DISABLED:
        http_reply_error(call, 403, "DLQ replay is disabled: set DLQ_REPLAY_TOKEN to enable it");
        return -1;
    default:
        /* the token itself is never logged, only that it was missing or wrong */
        log_msg(LOG_WARN, "replay", call->request_id, "DLQ replay request refused: %s token",
                r == REPLAY_AUTH_MISSING ? "no bearer" : "a wrong");
        http_add_header(call, "WWW-Authenticate", "Bearer realm=\"dlq-replay\"");
        http_reply_error(call, 401,
                         r == REPLAY_AUTH_MISSING
                             ? "DLQ replay needs Authorization: Bearer <DLQ_REPLAY_TOKEN>"
                             : "wrong DLQ replay token");
        return -1;
    }
}

/* A POST's answer, built on the runner's thread, sent on the call's own. */
typedef struct {
    int status;
    int has_body; /* body, else {"detail": detail} */
    jsonw body;
    char detail[600];
    char location[32 + REPLAY_ID_MAX];
    int retry_after;
} replay_reply;

/* What the runner's answer needs of a deferred POST. */
typedef struct {
    http_call *call;
    replay_api *a;
    char request_id[HTTP_REQUEST_ID_MAX + 1];
} replay_pending;

/* Defers call for an answer from another thread: its pending box, or NULL after a 503. */
static replay_pending *replay_api_defer(http_call *call, replay_api *a)
{
    replay_pending *p = calloc(1, sizeof *p);
    if (!p) {
        http_add_header(call, "Retry-After", "5");
        http_reply_error(call, 503, "out of memory");
        return NULL;
    }
    p->call = call;
    p->a = a;
    snprintf(p->request_id, sizeof p->request_id, "%s", call->request_id);
    http_call_defer(call);
    return p;
}

static void replay_api_send(http_call *call, void *arg)
{
    replay_reply *rp = arg;
    if (!rp) {
        http_add_header(call, "Retry-After", "5");
        http_reply_error(call, 503, "out of memory");
        return;
    }
    if (rp->location[0])
        http_add_header(call, "Location", rp->location);
    if (rp->retry_after)
        http_add_header(call, "Retry-After", "5");
    if (rp->has_body)
        http_reply_jsonw(call, rp->status, &rp->body);
    else
        http_reply_error(call, rp->status, rp->detail);
    jsonw_free(&rp->body);
    free(rp);
}

/* replay_answer_fn: from the runner's thread (or the submitting one), exactly once. */
static void replay_api_answer(void *arg, replay_submit_result res, const char *id,
                              const char *detail)
{
    replay_pending *p = arg;
    replay_reply *rp = calloc(1, sizeof *rp);
    if (rp) {
        jsonw_init(&rp->body);
        switch (res) {
        case REPLAY_SUBMIT_OK:
            log_msg(LOG_INFO, "replay", p->request_id, "DLQ replay %s accepted", id);
            snprintf(rp->location, sizeof rp->location, "/dlq/replay/%s", id);
            rp->status = 202;
            rp->has_body = replay_runner_render(p->a->runner, id, &rp->body) && jsonw_ok(&rp->body);
            if (!rp->has_body) {
                rp->status = 500;
                snprintf(rp->detail, sizeof rp->detail, "cannot render the replay's status");
            }
            break;
        case REPLAY_SUBMIT_BUSY:
            rp->status = 409;
            snprintf(rp->detail, sizeof rp->detail, "a DLQ replay is running (%s): one at a time",
                     id);
            break;
        case REPLAY_SUBMIT_BUSY_ELSEWHERE:
            rp->status = 409;
            snprintf(rp->detail, sizeof rp->detail,
                     "a DLQ replay is running on another instance sharing the store (%s, "
                     "replay %s): one at a time across instances; its status is on that instance",
                     detail, id[0] ? id : "id unknown");
            break;
        default:
            rp->status = 503;
            rp->retry_after = 1;
            snprintf(rp->detail, sizeof rp->detail, "%s", detail ? detail : "unavailable");
            break;
        }
    }
    http_call *call = p->call;
    free(p);
    http_call_complete(call, replay_api_send, rp);
}

/* replay_lookup_fn: a stored status, from the lookup thread (or at once when refused). */
static void replay_api_looked_up(void *arg, int found, jsonw *w, const char *err, int busy)
{
    replay_pending *p = arg;
    replay_reply *rp = calloc(1, sizeof *rp);
    if (rp) {
        jsonw_init(&rp->body);
        if (found > 0) {
            rp->status = 200;
            jsonw_raw(&rp->body, w->buf, w->len);
            rp->has_body = jsonw_ok(&rp->body);
            if (!rp->has_body) {
                rp->status = 500;
                snprintf(rp->detail, sizeof rp->detail, "cannot render the replay's status");
            }
        } else if (found == 0) {
            rp->status = 404;
            snprintf(rp->detail, sizeof rp->detail,
                     "no such DLQ replay (the store keeps the last %d)", STORE_REPLAY_STATUS_KEPT);
        } else {
            rp->status = 503;
            rp->retry_after = 1;
            snprintf(rp->detail, sizeof rp->detail, "%s%s",
                     busy ? "" : "cannot read the replay's status from the store: ", err);
        }
    }
    http_call *call = p->call;
    free(p);
    http_call_complete(call, replay_api_send, rp);
}

static void replay_api_start(http_call *call)
{
    replay_api *a = replay_api_get(call->app);
    if (replay_api_authorize(call, a) != 0)
        return;
    json_t *body = http_read_json_object(call);
    if (!body)
        return;
    replay_selection sel;
    char field[96], err[400];
    int rc = replay_select_parse(body, a->topic, &sel, field, sizeof field, err, sizeof err);
    json_decref(body);
    if (rc != 0) {
        char detail[520];
        snprintf(detail, sizeof detail, "invalid replay request: %s: %s", field, err);
        http_field_error fe = {field, err};
        http_reply_validation(call, 400, detail, &fe, 1);
        return;
    }
    replay_pending *p = replay_api_defer(call, a);
    if (p)
        replay_runner_submit(a->runner, &sel, replay_api_answer, p);
}

static int replay_api_id_ok(const char *id)
{
    size_t n = strlen(id);
    if (n == 0 || n > REPLAY_ID_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = id[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-'))
            return 0;
    }
    return 1;
}

static void replay_api_status(http_call *call)
{
    replay_api *a = replay_api_get(call->app);
    if (replay_api_authorize(call, a) != 0)
        return;
    const char *id = http_path_tail(call);
    if (!id || !replay_api_id_ok(id)) {
        http_reply_error(call, 404, "no such DLQ replay (ids look like rp-1-0a1b2c3d)");
        return;
    }
    char copy[REPLAY_ID_MAX + 1];
    snprintf(copy, sizeof copy, "%s", id);
    jsonw w;
    jsonw_init(&w);
    int found = replay_runner_render(a->runner, copy, &w);
    if (!found && a->lookup) { /* another instance's, or from before a restart */
        jsonw_free(&w);
        replay_pending *p = replay_api_defer(call, a);
        if (p)
            replay_lookup_submit(a->lookup, copy, replay_api_looked_up, p);
        return;
    }
    if (!found)
        http_reply_error(call, 404, "no such DLQ replay (only the last 16 are kept, in memory)");
    else if (jsonw_ok(&w))
        http_reply_jsonw(call, 200, &w);
    else
        http_reply_error(call, 500, "cannot render the replay's status");
    jsonw_free(&w);
}

static const http_route replay_routes[] = {
    {"/dlq/replay", HTTP_M_POST, replay_api_start},
    {"/dlq/replay/{id}", HTTP_M_GET, replay_api_status},
};

const http_route *replay_api_routes(size_t *n, replay_api *(*get)(void *app))
{
    replay_api_get = get;
    *n = sizeof replay_routes / sizeof replay_routes[0];
    return replay_routes;
}
