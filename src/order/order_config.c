/*
 * order_config: the table of order-service's environment variables and
 * their parsing into order_config. Defaults fit the local stack; every
 * bound is explicit so a typo fails at start-up with the variable's name
 * instead of misbehaving later.
 */
#include "order_config.h"

#include "event/avro_codec.h"
#include "platform/fileio.h"
#include "platform/kafka_util.h"
#include "platform/service_config.h"
#include "store/store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static config_var vars[] = {
    SERVICE_CONFIG_COMMON("8001"),
    {"HTTP_THREADS", CONFIG_INT, "2", 1, 64, 0,
     "HTTP threads, each with its own read-only store connection", NULL, 0},
    {"STORE_PATH", CONFIG_STR, "var/order-service.db", 0, 0, 0,
     "SQLite file holding orders and consumed positions (directories are created)", NULL, 0},
    {"STORE_URL", CONFIG_STR, "", 0, 0, 1,
     "PostgreSQL instead of SQLite: postgresql://user[:password]@host:port/db[?options] "
     "(libpq URL; tables created at start-up; a password is never logged)",
     NULL, 0},
    {"STORE_READ_TIMEOUT_MS", CONFIG_INT, "5000", 0, 600000, 0,
     "PostgreSQL: longest a read statement may run (statement_timeout of the read-only "
     "sessions); a read past it answers 503 (0: no bound)",
     NULL, 0},
    {"STORE_READ_MMAP_MB", CONFIG_INT, "1024", 0, 65536, 0,
     "SQLite: MB of the store file each HTTP thread maps for reads (file-backed pages, counted in "
     "RssFile, not RssAnon; 0: reads copy pages with pread)",
     NULL, 0},
    {"STORE_SQLITE_EXCLUSIVE", CONFIG_INT, "1", 0, 1, 0,
     "SQLite: 1: order-service holds the store file for itself (no other process can open it "
     "while it runs; reads take no file lock: faster order-details); 0: other processes (the "
     "sqlite3 shell, a backup) may open it meanwhile",
     NULL, 0},
    {"CONSUMER_GROUP_ID", CONFIG_STR, "order-service", 0, 0, 0, "Kafka consumer group", NULL, 0},
    {"CONSUMER_INSTANCE_ID", CONFIG_STR, "", 0, 0, 0,
     "static group membership (group.instance.id), unique per instance: a restart within the "
     "session timeout keeps its partitions without a rebalance (unset: dynamic membership)",
     NULL, 0},
    {"RETRY_BACKOFF_MS", CONFIG_STR, "2000,5000,10000", 0, 0, 0,
     "waits between retries in ms; the last one repeats (infrastructure failures retry forever)",
     NULL, 0},
    {"PROCESSING_MAX_RETRIES", CONFIG_INT, "3", 0, 1000, 0,
     "retries of an unexpected processing failure before the event goes to the DLQ", NULL, 0},
    {"CONSUMER_BATCH_MAX", CONFIG_INT, "2000", 1, 100000, 0, "events applied per store transaction",
     NULL, 0},
    {"CONSUMER_DECODE_THREAD", CONFIG_INT, "1", 0, 1, 0,
     "1: a helper thread decodes each batch ahead of the records being applied (catch-up uses "
     "two cores); 0: the consumer thread decodes each record itself",
     NULL, 0},
    {"STORE_WAL_CHECKPOINT_PAGES", CONFIG_INT, "1000", 0, 1000000, 0,
     "SQLite: a helper thread checkpoints the WAL once it holds this many pages, off the "
     "committing thread (0: no helper; each commit past 1000 pages checkpoints itself, as "
     "SQLite does by default)",
     NULL, 0},
    {"STORE_WAL_MAX_PAGES", CONFIG_INT, "10000", 1, 10000000, 0,
     "SQLite, with the helper: a commit that finds the WAL this large checkpoints itself (the "
     "bound if the helper falls behind or fails; at least STORE_WAL_CHECKPOINT_PAGES)",
     NULL, 0},
    {"CONSUMER_BATCH_WAIT_MS", CONFIG_INT, "0", 0, 1000, 0,
     "how long a batch may wait to fill before it is applied (0: applied as soon as the fetched "
     "records run out; a backlog still fills batches to CONSUMER_BATCH_MAX)",
     NULL, 0},
    {"TOPIC_SCAN_TIMEOUT_MS", CONFIG_INT, "30000", 100, 600000, 0,
     "bound of one topic read for getAllOrderIdsFromTopic and the /dlq endpoints", NULL, 0},
    {"TOPIC_READ_WORKERS", CONFIG_INT, "2", 1, 16, 0,
     "threads running topic reads (getAllOrderIdsFromTopic, /dlq/*) off the HTTP threads", NULL, 0},
    {"TOPIC_READ_QUEUE", CONFIG_INT, "8", 0, 1000, 0,
     "topic reads waiting for a worker at most; beyond that: 429 with Retry-After", NULL, 0},
    {"READY_STALL_MS", CONFIG_INT, "30000", 1000, 3600000, 0,
     "GET /health/ready fails (progress) when records wait (lag > 0) and the consumer's position "
     "has not moved for this long, e.g. an event retried forever",
     NULL, 0},
    {"LIVE_CONSUMER_TIMEOUT_MS", CONFIG_INT, "60000", 1000, 3600000, 0,
     "GET /health/live fails when the consume thread has not turned its loop for this long "
     "(wedged); above its longest legitimate wait (a DLQ acknowledgement, topic creation: 10 s)",
     NULL, 0},
    {"READ_WAIT_MAX", CONFIG_INT, "10000", 1, 100000, 0,
     "order-details requests waiting for a write (waitMs, after) at most; beyond that: 503 "
     "with Retry-After (each holds a connection: keep HTTP_MAX_CONNECTIONS above it)",
     NULL, 0},
    {"READ_QUEUE_MAX", CONFIG_INT, "4096", 1, 100000, 0,
     "PostgreSQL store: order-details reads queued or running (batched, one statement per "
     "round trip) at most; beyond that: 503 with Retry-After",
     NULL, 0},
    {"READ_WAIT_LIMIT_MS", CONFIG_INT, "30000", 0, 30000, 0,
     "the longest an order-details request waits, whatever its waitMs asks (0: never waits)", NULL,
     0},
    {"READ_WAIT_POLL_MS", CONFIG_INT, "100", 10, 5000, 0,
     "waiting requests are re-checked this often with one store query (writes of other "
     "instances sharing the store; this instance's own commits wake them at once)",
     NULL, 0},
    {"DLQ_REPLAY_TOKEN", CONFIG_STR, "", 0, 0, 1,
     "bearer token for POST /dlq/replay and GET /dlq/replay/{id} (never logged); unset: "
     "replay disabled (403)",
     NULL, 0},
    {"DLQ_REPLAY_RATE", CONFIG_INT, "100", 1, 100000, 0,
     "records a DLQ replay re-produces per second at most", NULL, 0},
    {"DLQ_REPLAY_TIMEOUT_MS", CONFIG_INT, "120000", 1000, 3600000, 0,
     "a replayed record not acknowledged within this is failed (left for the next replay); "
     "a replay that makes no progress this long fails",
     NULL, 0},
    {"ORDER_READER_SCHEMA_FILE", CONFIG_STR, "", 0, 0, 0,
     "TEST/OPS ONLY: read events with this reader schema (.avsc) instead of the compiled-in one",
     NULL, 0},
    {"ORDER_TEST_FAIL_PREFIX", CONFIG_STR, "", 0, 0, 0,
     "TEST ONLY: events whose orderId starts with this fail processing (unset in production)", NULL,
     0},
    {"ORDER_TEST_FAIL_TIMES", CONFIG_INT, "0", 0, 1000000, 0,
     "TEST ONLY: how many times each such event fails before it succeeds", NULL, 0},
    {"ORDER_TEST_CRASH_PREFIX", CONFIG_STR, "", 0, 0, 0,
     "TEST ONLY: the process exits (code 70) while processing an event whose orderId starts "
     "with this (a poison record; unset in production)",
     NULL, 0},
    {"ORDER_TEST_COMMIT_DELAY_MS", CONFIG_INT, "0", 0, 600000, 0,
     "TEST ONLY: wait this long before each batch's store commit (to stop an instance mid-batch)",
     NULL, 0},
    {"ORDER_TEST_STORE_MAX_PAGES", CONFIG_INT, "0", 0, 1LL << 40, 0,
     "TEST ONLY: cap the store file at this many pages to simulate a full disk (0: no cap)", NULL,
     0},
    {"ORDER_TEST_DLQ_FATAL", CONFIG_INT, "0", 0, 1000, 0,
     "TEST ONLY: the DLQ producer fails fatally before each of its first N writes (0: never)", NULL,
     0},
};

#define NVARS (sizeof vars / sizeof vars[0])

config_var *order_config_vars(size_t *n)
{
    *n = NVARS;
    return vars;
}

int order_config_parse_backoff(const char *text, int64_t *out, size_t cap, size_t *n, char *err,
                               size_t errlen)
{
    size_t count = 0;
    const char *p = text;
    for (;;) {
        while (*p == ' ')
            p++;
        errno = 0;
        char *end = NULL;
        long long v = strtoll(p, &end, 10);
        if (end == p || errno || v < 0 || v > 3600000) {
            snprintf(err, errlen, "RETRY_BACKOFF_MS: '%s' is not a list of 0..3600000 ms", text);
            return -1;
        }
        if (count >= cap) {
            snprintf(err, errlen, "RETRY_BACKOFF_MS: more than %zu values", cap);
            return -1;
        }
        out[count++] = v;
        p = end;
        while (*p == ' ')
            p++;
        if (*p == '\0')
            break;
        if (*p != ',') {
            snprintf(err, errlen, "RETRY_BACKOFF_MS: '%s' is not a list of 0..3600000 ms", text);
            return -1;
        }
        p++;
    }
    *n = count;
    return 0;
}

int64_t order_config_backoff_for(const order_config *s, int attempt)
{
    if (s->nbackoff == 0)
        return 0;
    size_t i = attempt < 1 ? 0 : (size_t)(attempt - 1);
    if (i >= s->nbackoff)
        i = s->nbackoff - 1;
    return s->backoff_ms[i];
}

/* ORDER_READER_SCHEMA_FILE's text, kept for the life of the process (a
 * later load replaces it). NULL: the compiled-in schema. */
static char *reader_schema_text;

/* Reads and checks the reader schema file: a schema the codec refuses stops
 * the service at start-up instead of dead-lettering every event. */
static int config_reader_schema(const char *path, const char **out, char *err, size_t errlen)
{
    char why[256];
    codec *c;

    free(reader_schema_text);
    reader_schema_text = NULL;
    *out = NULL;
    if (*path == '\0')
        return 0;
    reader_schema_text = fileio_read_all(path, why, sizeof why);
    if (reader_schema_text == NULL) {
        snprintf(err, errlen, "ORDER_READER_SCHEMA_FILE: %s", why);
        return -1;
    }
    c = codec_new(reader_schema_text, why, sizeof why);
    if (c == NULL) {
        snprintf(err, errlen, "ORDER_READER_SCHEMA_FILE: %s: %s", path, why);
        return -1;
    }
    codec_free(c);
    *out = reader_schema_text;
    return 0;
}

#define STR(name) config_str(vars, NVARS, name)
#define NUM(name) config_int(vars, NVARS, name)

int order_config_load(order_config *s, char *err, size_t errlen)
{
    if (config_load(vars, NVARS, err, errlen) != 0)
        return -1;
    memset(s, 0, sizeof *s);
    s->bootstrap = STR("KAFKA_BOOTSTRAP_SERVERS");
    s->registry_url = STR("SCHEMA_REGISTRY_URL");
    s->topic = STR("ORDER_EVENTS_TOPIC");
    s->dlq_topic = STR("DLQ_TOPIC");
    s->topic_partitions = (int)NUM("TOPIC_PARTITIONS");
    s->topic_replication = (int)NUM("TOPIC_REPLICATION_FACTOR");
    s->topic_min_isr = (int)NUM("TOPIC_MIN_INSYNC_REPLICAS");
    s->topic_retention_ms = NUM("TOPIC_RETENTION_MS");
    s->dlq_partitions = (int)NUM("DLQ_PARTITIONS");
    s->dlq_retention_ms = NUM("DLQ_RETENTION_MS");
    s->http_host = STR("HTTP_HOST");
    s->http_port = (int)NUM("HTTP_PORT");
    s->http_max_body = (size_t)NUM("HTTP_MAX_BODY_BYTES");
    s->http_idle_timeout_s = (int)NUM("HTTP_IDLE_TIMEOUT_S");
    s->http_header_timeout_s = (int)NUM("HTTP_HEADER_TIMEOUT_S");
    s->http_body_timeout_s = (int)NUM("HTTP_BODY_TIMEOUT_S");
    s->http_max_connections = (int)NUM("HTTP_MAX_CONNECTIONS");
    s->http_threads = (int)NUM("HTTP_THREADS");
    s->log_level = STR("LOG_LEVEL");
    s->store_path = STR("STORE_PATH");
    s->store_url = STR("STORE_URL");
    s->store_location = *s->store_url ? s->store_url : s->store_path;
    s->store_read_mmap_mb = NUM("STORE_READ_MMAP_MB");
    s->store_sqlite_exclusive = (int)NUM("STORE_SQLITE_EXCLUSIVE");
    s->store_read_timeout_ms = (int)NUM("STORE_READ_TIMEOUT_MS");
    s->group_id = STR("CONSUMER_GROUP_ID");
    s->instance_id = STR("CONSUMER_INSTANCE_ID");
    s->test_commit_delay_ms = (int)NUM("ORDER_TEST_COMMIT_DELAY_MS");
    s->max_retries = (int)NUM("PROCESSING_MAX_RETRIES");
    s->batch_max = (int)NUM("CONSUMER_BATCH_MAX");
    s->batch_wait_ms = (int)NUM("CONSUMER_BATCH_WAIT_MS");
    s->decode_thread = (int)NUM("CONSUMER_DECODE_THREAD");
    s->wal_checkpoint_pages = NUM("STORE_WAL_CHECKPOINT_PAGES");
    s->wal_max_pages = NUM("STORE_WAL_MAX_PAGES");
    if (s->wal_max_pages < s->wal_checkpoint_pages)
        s->wal_max_pages = s->wal_checkpoint_pages;
    s->scan_timeout_ms = (int)NUM("TOPIC_SCAN_TIMEOUT_MS");
    s->topic_read_workers = (int)NUM("TOPIC_READ_WORKERS");
    s->topic_read_queue = (int)NUM("TOPIC_READ_QUEUE");
    s->ready_stall_ms = NUM("READY_STALL_MS");
    s->live_consumer_timeout_ms = NUM("LIVE_CONSUMER_TIMEOUT_MS");
    s->docs_ui_dir = STR("DOCS_UI_DIR");
    s->read_wait_max = (int)NUM("READ_WAIT_MAX");
    s->read_wait_limit_ms = (int)NUM("READ_WAIT_LIMIT_MS");
    s->read_queue_max = (int)NUM("READ_QUEUE_MAX");
    s->read_wait_poll_ms = (int)NUM("READ_WAIT_POLL_MS");
    s->replay_token = STR("DLQ_REPLAY_TOKEN");
    s->replay_rate = (int)NUM("DLQ_REPLAY_RATE");
    s->replay_timeout_ms = (int)NUM("DLQ_REPLAY_TIMEOUT_MS");
    s->test_fail_prefix = STR("ORDER_TEST_FAIL_PREFIX");
    s->test_fail_times = (int)NUM("ORDER_TEST_FAIL_TIMES");
    s->test_crash_prefix = STR("ORDER_TEST_CRASH_PREFIX");
    s->test_store_max_pages = NUM("ORDER_TEST_STORE_MAX_PAGES");
    s->test_dlq_fatal = (int)NUM("ORDER_TEST_DLQ_FATAL");
    static const char *const required[] = {"KAFKA_BOOTSTRAP_SERVERS",
                                           "SCHEMA_REGISTRY_URL",
                                           "ORDER_EVENTS_TOPIC",
                                           "DLQ_TOPIC",
                                           "STORE_PATH",
                                           "CONSUMER_GROUP_ID",
                                           "HTTP_HOST"};
    for (size_t i = 0; i < sizeof required / sizeof required[0]; i++) {
        if (!*STR(required[i])) {
            snprintf(err, errlen, "%s: must not be empty", required[i]);
            return -1;
        }
    }
    if (*s->store_url && !store_is_url(s->store_url)) {
        snprintf(err, errlen,
                 "STORE_URL: must start with postgresql:// or postgres:// (a SQLite "
                 "file is STORE_PATH)");
        return -1;
    }
    if (strcmp(s->topic, s->dlq_topic) == 0) {
        snprintf(err, errlen, "DLQ_TOPIC: must differ from ORDER_EVENTS_TOPIC");
        return -1;
    }
    if (config_reader_schema(STR("ORDER_READER_SCHEMA_FILE"), &s->reader_schema_json, err,
                             errlen) != 0)
        return -1;
    return order_config_parse_backoff(STR("RETRY_BACKOFF_MS"), s->backoff_ms, ORDER_BACKOFF_MAX,
                                      &s->nbackoff, err, errlen);
}
