/*
 * consumer_int: the consumer's state, shared by consumer.c (thread, group,
 * lifecycle) and consumer_apply.c (per-record decisions and the batch
 * transaction). Private to those two files: everyone else uses consumer.h.
 */
#ifndef CONSUMER_INT_H
#define CONSUMER_INT_H

#include "consumer.h"
#include "dlq.h"
#include "order_process.h"
#include "store.h"

#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

typedef struct {
    int assigned;
    int64_t next;        /* next offset to apply; -1 unknown (store has none) */
    int64_t batch_start; /* first offset of this partition in the batch; -1 none */
    int moved;           /* next moved since the last Kafka commit */
    int waiting;         /* paused until resume_at_ms */
    int64_t resume_at_ms;
    int64_t fail_offset; /* the record that failed last; -1 none */
    int attempts;        /* failures of fail_offset so far */
    int poison;          /* fail_offset exhausted its retries in the store: dead-letter it */
} part_state;

typedef enum { H_NEXT, H_PART_WAIT, H_STORE_FAIL } handle_result;

struct order_consumer {
    order_settings cfg;
    store *st;
    order_decoder *dec;
    rd_kafka_t *rk;
    dlq_producer *dlq;
    pthread_t thread;
    int started;
    atomic_int stop;

    part_state *parts;
    int nparts;
    rd_kafka_message_t **batch;
    int nbatch;
    order_event ev;

    /* the record whose store failure aborted the batch */
    int32_t store_fail_part;
    int64_t store_fail_offset;
    int store_fail_internal;
    char store_err[256];

    int64_t next_tick_ms;
    int subscribed, store_ok, kafka_ok;
    int brokers_down; /* all brokers down (reported or probed); cleared only by a probe */
    /* A connection dropped: probe at the next tick. librdkafka's ALL_BROKERS_DOWN
     * alone is not enough: a consumer busy when the broker went away may never
     * get it, and records already fetched do not prove a broker is up now. */
    int brokers_suspect;
    int64_t orders;
    uint64_t consumed, applied, skipped, dead_lettered, retries;
    /* effects of the open transaction, counted only once it commits */
    int64_t txn_orders;
    uint64_t txn_applied;
    char last_error[256];

    pthread_mutex_t mu;
    consumer_status snap;
};

/* what: a short prefix ("store", "kafka"), or NULL. */
void consumer_set_error(order_consumer *c, const char *what, const char *detail);
/* Commits the positions that moved; async in the loop, sync when leaving. */
void consumer_kafka_commit(order_consumer *c, int async);
/* Applies c->batch in one store transaction (see consumer_apply.c). */
void consumer_process_batch(order_consumer *c);

#endif
