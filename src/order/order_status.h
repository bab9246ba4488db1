/*
 * order_status: what the consume side of order-service publishes about
 * itself, and the board the HTTP side reads it from (GET /health, /metrics).
 *
 * Why a board: ingest and query must not know each other. The consume thread
 * writes a whole snapshot now and then (order_status_publish); HTTP threads
 * copy the latest one (order_status_read). One mutex, held for a struct copy.
 */
#ifndef ORDER_STATUS_H
#define ORDER_STATUS_H

#include <stdint.h>

#define ORDER_STATUS_PARTS 64 /* partitions listed in the snapshot */

typedef struct {
    int running;    /* the thread runs its loop */
    int subscribed; /* topics ensured and subscribed */
    int store_ok;   /* the last store transaction succeeded */
    int kafka_ok;   /* no fatal client error */
    int nassigned;
    int32_t assigned[ORDER_STATUS_PARTS];
    int64_t part_lag[ORDER_STATUS_PARTS];  /* per assigned[i]; -1 unknown */
    int64_t part_lost[ORDER_STATUS_PARTS]; /* > 0: offsets below it deleted before a rebuild */
    int part_waiting[ORDER_STATUS_PARTS];
    int nwaiting; /* partitions paused for a retry */
    /* the consumer group as the broker last described it */
    char group_state[32]; /* "" unknown */
    int group_members;    /* -1 unknown */
    uint64_t fenced;      /* batches dropped: another instance owned a partition */
    int64_t lag;          /* sum over assigned partitions; -1 unknown */
    int64_t orders;       /* orders stored */
    uint64_t consumed, applied, skipped, dead_lettered, retries;
    uint64_t fetch_wakes;    /* watermark queries that woke a stopped fetcher (consumer.c) */
    uint64_t offset_commits; /* position commits sent to Kafka, at most one a second */
    uint64_t offset_commit_failures; /* ... that failed (sent again at the next tick) */
    char last_error[256];
    char registry_error[256]; /* the schema registry fails (wrong URL, down): why; "" when ok */
    char dlq_error[256];      /* the DLQ producer is down (fatal error, being recreated): why */
    int64_t stalled_ms; /* records wait (lag > 0) and the position has not moved for this long */
} order_status;

typedef struct order_status_board order_status_board;

/* A board holding an all-zero snapshot; NULL when out of memory. */
order_status_board *order_status_board_new(void);
void order_status_board_free(order_status_board *b);

void order_status_publish(order_status_board *b, const order_status *s);
void order_status_read(order_status_board *b, order_status *out);

/* The consume thread's heartbeat (GET /health/live): beat once per loop turn
 * (and while it waits on purpose); an atomic store, no lock. */
void order_status_beat(order_status_board *b, int64_t mono_ms);
/* The last beat (monotonic ms); 0 before the first. */
int64_t order_status_last_beat(order_status_board *b);
/*
 * Store commits, for the readers that wait for a write (read-your-writes):
 * the query side sets a hook before the consumer starts; the consume thread
 * calls order_status_committed() after each store commit, and the hook runs
 * there, so it must only signal (no store access, no blocking).
 */
void order_status_on_commit(order_status_board *b, void (*fn)(void *arg), void *arg);
void order_status_committed(order_status_board *b);

#endif
