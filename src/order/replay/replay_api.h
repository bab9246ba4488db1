/*
 * replay_api: the DLQ replay endpoints of order-service (routes for http.h;
 * wired by main.c next to query/'s routes).
 *
 *   POST /dlq/replay        starts a replay (body: replay_select.h): 202 with
 *                           its status, 409 while another runs
 *   GET  /dlq/replay/{id}   a recent replay's state and counts, from memory
 *                           or, for another instance's, from the store
 *
 * Both need "Authorization: Bearer <DLQ_REPLAY_TOKEN>" (replay_auth.h): 401
 * without it or with another token, 403 when the service has no token
 * configured. Handlers only parse, check and hand over: the replay itself
 * runs on the runner's thread (replay_runner.h).
 */
#ifndef REPLAY_API_H
#define REPLAY_API_H

#include "replay/replay_runner.h"

#include "platform/http.h"

#include <stddef.h>

/* What the handlers need; call->app must point to one (see replay_api_app_of). */
typedef struct replay_lookup replay_lookup;

typedef struct {
    replay_runner *runner;
    replay_lookup *lookup; /* GETs of replays not in memory; NULL: those are 404 */
    const char *token;     /* DLQ_REPLAY_TOKEN, "" when disabled */
    const char *topic;     /* ORDER_EVENTS_TOPIC */
} replay_api;

/*
 * The routes. The handlers find their replay_api through get(call->app), so
 * the server's app can stay the service's own struct.
 */
const http_route *replay_api_routes(size_t *n, replay_api *(*get)(void *app));

#endif
