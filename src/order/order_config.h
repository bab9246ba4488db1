/*
 * order_config: order-service's settings. The variable table (names,
 * defaults, bounds, help) lives in order_config.c so that --help, validation
 * and the start-up log are one list; this header exposes the parsed values
 * as a typed struct so the rest of the service never looks names up.
 */
#ifndef ORDER_CONFIG_H
#define ORDER_CONFIG_H

#include "platform/config.h"

#include <librdkafka/rdkafka.h>

#include <stddef.h>
#include <stdint.h>

#define ORDER_BACKOFF_MAX 16

typedef struct {
    const char *bootstrap;
    const char *registry_url;
    const char *topic;
    const char *dlq_topic;
    int topic_partitions;
    int topic_replication; /* CONFIG_AUTO (-1): from the cluster's size */
    int topic_min_isr;     /* CONFIG_AUTO (-1): from the cluster's size */
    long long topic_retention_ms;
    int dlq_partitions;
    long long dlq_retention_ms;
    const char *http_host;
    int http_port;
    size_t http_max_body;
    int http_idle_timeout_s;
    int http_header_timeout_s, http_body_timeout_s, http_max_connections;
    int http_threads;
    const char *log_level;
    const char *store_path;
    const char *store_url;      /* "" unless PostgreSQL */
    const char *store_location; /* what store_open() gets: store_url if set, else store_path */
    const char *group_id;
    const char *instance_id;               /* "" unless static membership */
    int64_t backoff_ms[ORDER_BACKOFF_MAX]; /* retry waits; the last one repeats */
    size_t nbackoff;
    int max_retries;        /* processing failures before PROCESSING_FAILED */
    int batch_max;          /* events per store transaction */
    int batch_wait_ms;      /* how long a batch may wait to fill */
    int scan_timeout_ms;    /* bound of one topic scan (HTTP endpoints) */
    int topic_read_workers; /* threads running topic scans */
    int topic_read_queue;   /* scans waiting for one at most */
    /* GET /health/ready and /health/live bounds; GET /docs assets */
    long long ready_stall_ms;           /* lag without progress this long: not ready */
    long long live_consumer_timeout_ms; /* consume thread heartbeat older: not live */
    const char *docs_ui_dir;            /* DOCS_UI_DIR ("": the default places) */
    int read_wait_max;                  /* parked read-your-writes requests at most */
    int read_wait_limit_ms;             /* a wait (waitMs) is cut to this */
    int read_wait_poll_ms;    /* waiters re-checked this often (other instances' writes) */
    int read_queue_max;       /* batched order-details reads in flight at most (server store) */
    const char *replay_token; /* DLQ_REPLAY_TOKEN: "" disables replay (secret) */
    int replay_rate;          /* replayed records per second at most */
    int replay_timeout_ms;    /* delivery timeout and stall bound of a replay */
    /* STORE_READ_MMAP_MB: SQLite readers' mmap_size, in MB. */
    long long store_read_mmap_mb;
    int store_sqlite_exclusive; /* STORE_SQLITE_EXCLUSIVE (store_sqlite_exclusive) */
    int store_read_timeout_ms;
    /* CONSUMER_DECODE_THREAD: a helper thread decodes each batch ahead. */
    int decode_thread;
    /* STORE_WAL_CHECKPOINT_PAGES (0: no checkpointer thread), STORE_WAL_MAX_PAGES. */
    long long wal_checkpoint_pages, wal_max_pages;
    /* ORDER_READER_SCHEMA_FILE's text (NULL: the compiled-in schema). */
    const char *reader_schema_json;
    /* Test-only failure injection (see order_config.c). */
    const char *test_fail_prefix;
    int test_fail_times;
    const char *test_crash_prefix;  /* "": none */
    long long test_store_max_pages; /* 0: no cap */
    int test_commit_delay_ms;       /* 0: none */
    int test_dlq_fatal;             /* DLQ writes preceded by a forced fatal error */
} order_config;

/* The variable table, for --help and the start-up log. */
config_var *order_config_vars(size_t *n);

/* Loads and validates every setting; -1 with "NAME: reason" in err. */
int order_config_load(order_config *s, char *err, size_t errlen);

/*
 * Parses "2000,5000,10000" (milliseconds, each 0..3600000, 1..cap values).
 * Returns 0 with *n values in out, or -1 with err.
 */
int order_config_parse_backoff(const char *text, int64_t *out, size_t cap, size_t *n, char *err,
                               size_t errlen);

/* The wait before retry number attempt (1-based): the last value repeats. */
int64_t order_config_backoff_for(const order_config *s, int attempt);

#endif
