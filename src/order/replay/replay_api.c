/*
 * replay_api: POST /dlq/replay and GET /dlq/replay/{id} (see replay_api.h).
 * Everything here is quick (parse, check, hand over, render): no Kafka and
 * no store on the HTTP thread.
 */
#include "replay/replay_api.h"

#include "replay/replay_auth.h"

#include "platform/log.h"

#include <stdio.h>
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

static void replay_api_reply_status(http_call *call, replay_api *a, int status, const char *id)
{
    jsonw w;
    jsonw_init(&w);
    if (replay_runner_render(a->runner, id, &w) && jsonw_ok(&w))
        http_reply_jsonw(call, status, &w);
    else
        http_reply_error(call, 500, "cannot render the replay's status");
    jsonw_free(&w);
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
    char id[REPLAY_ID_MAX + 1];
    switch (replay_runner_submit(a->runner, &sel, id, sizeof id, err, sizeof err)) {
    case REPLAY_SUBMIT_OK: {
        log_msg(LOG_INFO, "replay", call->request_id, "DLQ replay %s accepted", id);
        char loc[64 + REPLAY_ID_MAX];
        snprintf(loc, sizeof loc, "/dlq/replay/%s", id);
        http_add_header(call, "Location", loc);
        replay_api_reply_status(call, a, 202, id);
        return;
    }
    case REPLAY_SUBMIT_BUSY: {
        char msg[160];
        snprintf(msg, sizeof msg, "a DLQ replay is running (%s): one at a time", id);
        http_reply_error(call, 409, msg);
        return;
    }
    default:
        http_add_header(call, "Retry-After", "5");
        http_reply_error(call, 503, err);
        return;
    }
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
