/*
 * http_internal: what http.c (dispatch), http_call.c (a call's lifetime and
 * answer) and http_server.c (sockets, threads, lifecycle) share. Not for use
 * outside those three files: handlers only ever see http.h.
 */
#ifndef HTTP_INTERNAL_H
#define HTTP_INTERNAL_H

#include "platform/http.h"

#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#define HTTP_FREE_CALLS_MAX 256 /* recycled calls kept per thread */

typedef struct http_thread http_thread;

/* The public http_call plus what only this module needs. */
typedef struct call_box {
    http_call call; /* first: a call pointer is a box pointer */
    http_thread *th;
    struct call_box *next;      /* free list */
    struct evhttp_request *req; /* NULL once answered or freed by evhttp */
    int route;                  /* index into the route table, -1 none */
    struct evkeyvalq query;     /* parsed query string (http_query) */
    int query_parsed;
    int answered;   /* the one answer was given (checked by assert) */
    double started; /* monotonic seconds, for the latency histogram */
} call_box;

struct http_thread {
    http_server *srv;
    int index;
    struct event_base *base;
    int own_base;
    struct evhttp *http;
    struct evhttp_bound_socket *bound;
    struct event *ctl;
    void *ctx;
    pthread_t tid;
    int running;
    call_box *free_calls;
    size_t nfree;
    uint64_t rng;
};

struct http_server {
    http_config cfg;
    const http_route *routes;
    size_t nroutes;
    void *app;
    int fd;
    int nthreads;
    http_thread *threads;
    atomic_long in_flight;
    atomic_int stopping;
    atomic_int quitting;
};

/* A cleared call of thread th (counted in flight), or NULL when out of memory. */
call_box *http_call_get(http_thread *th);
/* Binds the call to evhttp's request, with hooks that notice if evhttp frees it first. */
void http_call_attach(call_box *b, struct evhttp_request *req);

/* evhttp's gencb for every thread; arg is the http_thread. */
void http_dispatch(struct evhttp_request *req, void *arg);
/* Seeds the thread's request-id generator. */
void http_seed(http_thread *th);

#endif
