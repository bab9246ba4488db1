/*
 * consumer_int: what the files of the consume loop share: consumer.c
 * (the loop, the apply_ops, the lifecycle), consumer_group.c (group
 * membership: rebalances, the group's description, the one-SQLite-instance
 * check) and consumer_kafka.c (the Kafka clients' settings, the commits of
 * the positions to Kafka). Not for use elsewhere: everyone else sees
 * consumer.h.
 */
#ifndef CONSUMER_INT_H
#define CONSUMER_INT_H

#include "ingest/apply.h"
#include "ingest/consumer.h"
#include "ingest/dlq_writer.h"
#include "order_health.h"

#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#define CONSUMER_TICK_MS 1000
#define CONSUMER_DLQ_TIMEOUT_MS 10000
#define CONSUMER_SEEK_TIMEOUT_MS 5000
#define CONSUMER_REGISTRY_PROBE_MS 5000 /* re-check a failing registry this often */
#define CONSUMER_WATERMARK_TIMEOUT_MS 2000
#define CONSUMER_WAKE_TIMEOUT_MS 100 /* a watermark query that wakes a fetcher (wake_fetchers) */
#define CONSUMER_GROUP_EVERY_MS 5000
#define CONSUMER_GROUP_TIMEOUT_MS 1000 /* the wait for every broker's ListGroups answer */
/* Kafka's copy of the positions is sent at most this often (consumer_kafka_commit) */
#define CONSUMER_COMMIT_EVERY_MS 1000
/* a crashed member is listed for session.timeout.ms (10 s) at most */
#define CONSUMER_SQLITE_WAIT_MS 12000

struct order_consumer {
    order_config cfg;
    apply_ctx ap; /* store, decoder, partitions, counters: see apply.h */
    order_status_board *board;
    rd_kafka_t *rk;
    dlq_writer *dlq;
    pthread_t thread;
    int started;
    atomic_int stop;

    rd_kafka_message_t **batch;
    apply_record *recs; /* the batch as apply.c sees it */
    int nbatch;

    int64_t next_tick_ms;
    int64_t next_commit_ms; /* when Kafka's copy of the positions may be sent again */
    int subscribed, kafka_ok;
    int ever_assigned; /* an assignment arrived since subscribe (see consumer_free) */
    int brokers_down;  /* all brokers down (reported or probed); cleared only by a probe */
    /* A connection dropped: probe at the next tick. librdkafka's ALL_BROKERS_DOWN
     * alone is not enough: a consumer busy when the broker went away may never
     * get it, and records already fetched do not prove a broker is up now. */
    int brokers_suspect;
    int64_t next_registry_probe_ms;
    char last_error[256];
    /* the group as /health shows it: the consume thread's copy (consumer_group_refresh) */
    char group_state[32];
    int group_members;
    int64_t next_group_ms;
    /* ... as the group thread last saw it (consumer_group.c), under group_mu */
    pthread_t group_thread;
    int group_started;
    pthread_mutex_t group_mu;
    char group_seen_state[32];
    int group_seen_members, group_seen_new;
    order_stall stall;              /* lag without progress, for /health/ready */
    int last_batch_full;            /* the last batch reached batch_max (catch-up) */
    int64_t fetch_wakes;            /* watermark queries sent by wake_fetchers */
    int64_t offset_commits;         /* commits of positions sent to Kafka (consumer_kafka_commit) */
    int64_t offset_commit_failures; /* ... that Kafka refused or that could not be sent */
};

/* Records the last error for /health; what: a short prefix ("store", "kafka"), or NULL. */
void consumer_set_error(order_consumer *c, const char *what, const char *detail);
/* Commits the positions that moved; async in the loop, sync when leaving. */
void consumer_kafka_commit(order_consumer *c, int async);
/* librdkafka's offset_commit_cb: failed partitions are committed again at the next tick. */
void consumer_offset_commit_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                               rd_kafka_topic_partition_list_t *offsets, void *opaque);
/* Drops every collected record of the batch. */
void consumer_drop_batch(order_consumer *c);
/* Sleeps ms, waking early when the consumer is stopped. */
void consumer_sleep_ms(order_consumer *c, int64_t ms);

/* Creates c->rk (subscribed to nothing yet, its queue served by
 * rd_kafka_consumer_poll) and c->dlq from c->cfg (consumer_kafka.c); -1 + err
 * otherwise, leaving what was made for consumer_free. */
int consumer_kafka_open(order_consumer *c, char *err, size_t errlen);

/* The rebalance callback (consumer_group.c): cooperative or eager. */
void consumer_group_rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                                 rd_kafka_topic_partition_list_t *parts, void *opaque);
/* Starts the thread that describes the group every CONSUMER_GROUP_EVERY_MS; -1 + err.
 * It ends once c->stop is set: consumer_group_watch_stop joins it (at most
 * CONSUMER_GROUP_TIMEOUT_MS later). */
int consumer_group_watch_start(order_consumer *c, char *err, size_t errlen);
void consumer_group_watch_stop(order_consumer *c);
/* Takes the group thread's latest description, never waiting on Kafka: 1 when what
 * /health shows changed. Consume thread only, every loop turn. */
int consumer_group_refresh(order_consumer *c);
/* -1 + err when the store is SQLite and the group already has members. */
int consumer_group_refuse_second_sqlite(order_consumer *c, char *err, size_t errlen);

#endif
