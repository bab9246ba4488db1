/*
 * store_pg: the store API (store.h) on a PostgreSQL server, through libpq.
 * This file: connecting (and reconnecting), the schema and error classes;
 * the order reads are in store_pg_read.c, the write transaction in
 * store_pg_batch.c.
 *
 * Choices, and why:
 * - The URL goes to libpq as is (postgresql://user@host:port/db?options), so
 *   every libpq setting works; a password in it is never printed (the handle
 *   keeps a masked copy for messages, store_describe()).
 * - Schema: created and versioned by the writer at start-up, in one
 *   transaction under a transaction-scoped advisory lock, so instances that
 *   start together neither race on CREATE nor see half a schema. The layout
 *   mirrors the SQLite one (orders, status_history, consumed_offsets) plus a
 *   schema_version table. It lives in the connection's search_path: choose a
 *   schema with ?options=-csearch_path%3Dname.
 * - Error classes: anything that goes away by itself (connection lost,
 *   server shutting down, serialization failure, deadlock, too many
 *   connections, disk full, a concurrent writer's conflicting row) is
 *   STORE_ERR_IO, retried later, and so is anything else that is not the
 *   event's fault (a dropped table, permissions); only what the event causes
 *   (constraint, data exception, program limit) is STORE_ERR_INTERNAL. A lost connection is
 * re-established on the next call (store_begin() for the writer), with its prepared statements.
 * - Reads are single statements, each its own snapshot: an order and its
 *   history come from one joined query, so they always agree.
 */
#include "store/store_pg_int.h"

#include "platform/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Layout version written by store_pg_schema_sql. */
#define STORE_PG_SCHEMA_VERSION 2
/* Key of the advisory lock that serializes migrations ("orderstr" in ASCII). */
#define STORE_PG_MIGRATE_LOCK "7966649599713834098"
#define STORE_PG_CONNECT_TIMEOUT_S "10"

static const char store_pg_schema_sql[] =
    "CREATE TABLE IF NOT EXISTS orders("
    " order_id text PRIMARY KEY, customer_id text NOT NULL, order_date text NOT NULL,"
    " items text NOT NULL, total_cents bigint NOT NULL, currency text NOT NULL,"
    " status text NOT NULL, created_status text NOT NULL, shipping_cents bigint NOT NULL,"
    " created_at bigint NOT NULL, updated_at bigint NOT NULL, history_len integer NOT NULL);"
    "CREATE TABLE IF NOT EXISTS status_history("
    " order_id text NOT NULL, seq integer NOT NULL, status text NOT NULL, at bigint NOT NULL,"
    " PRIMARY KEY(order_id, seq));"
    "CREATE TABLE IF NOT EXISTS consumed_offsets("
    " topic text NOT NULL, partition integer NOT NULL, next_offset bigint NOT NULL,"
    " PRIMARY KEY(topic, partition));";

/* Layout 2 = layout 1 + the retry state (store.h), outside the batch transaction. */
static const char store_pg_schema_v2_sql[] =
    "CREATE TABLE IF NOT EXISTS retry_state("
    " topic text NOT NULL, partition integer NOT NULL, rec_offset bigint NOT NULL,"
    " attempts integer NOT NULL, due_ms bigint NOT NULL, dlq_written boolean NOT NULL,"
    " PRIMARY KEY(topic, partition, rec_offset));";

/* The query side's topic indexes (store_pg_index.c): created beside layout 2
 * when missing, without a version step, so older builds keep working. */
static const char store_pg_schema_tix_sql[] =
    "CREATE TABLE topic_index_pos("
    " idx text NOT NULL, partition integer NOT NULL, low bigint NOT NULL,"
    " next_offset bigint NOT NULL, PRIMARY KEY(idx, partition));"
    "CREATE TABLE topic_index_ids("
    " idx text NOT NULL, seq integer NOT NULL, ids bytea NOT NULL, PRIMARY KEY(idx, seq));"
    "CREATE TABLE topic_index_stats("
    " idx text NOT NULL, kind text NOT NULL, name text NOT NULL, n bigint NOT NULL,"
    " PRIMARY KEY(idx, kind, name));";
/* Added within layout 2 (DLQ replay marks, replay/): created when missing; older builds
 * ignore it. */
static const char store_pg_replays_sql[] =
    "CREATE TABLE IF NOT EXISTS dlq_replays("
    " dlq_topic text NOT NULL, partition integer NOT NULL, dlq_offset bigint NOT NULL,"
    " replay_count integer NOT NULL, last_at bigint NOT NULL,"
    " PRIMARY KEY(dlq_topic, partition, dlq_offset));";

typedef struct {
    const char *name;
    const char *sql;
    int reader; /* a read-only handle needs it too */
} store_pg_stmt;

/* The history of an order is looked up only if it has one: history rows are written
 * with history_len (ORD_UPD), so history_len 1 means none, and most orders have none.
 * OFFSET 0 keeps the subquery a subplan, so the condition on o is a one-time filter
 * in front of the history index scan (as a plain join qual the scan runs per order). */
#define STORE_PG_HISTORY_OF_O                                                                      \
    " LEFT JOIN LATERAL (SELECT h.status, h.at, h.seq FROM status_history h"                       \
    " WHERE h.order_id = o.order_id AND o.history_len > 1 OFFSET 0) h ON true"

static const store_pg_stmt store_pg_stmts[] = {
    {STORE_PG_POS_GET,
     "SELECT next_offset FROM consumed_offsets WHERE topic = $1::text AND partition = $2::integer",
     1},
    {STORE_PG_POS_CAS,
     "UPDATE consumed_offsets SET next_offset = $3::bigint"
     " WHERE topic = $1::text AND partition = $2::integer AND next_offset = $4::bigint",
     0},
    {STORE_PG_POS_NEW,
     "INSERT INTO consumed_offsets(topic, partition, next_offset)"
     " VALUES($1::text, $2::integer, $3::bigint) ON CONFLICT DO NOTHING",
     0},
    {STORE_PG_ORD_INS,
     "INSERT INTO orders(order_id, customer_id, order_date, items, total_cents, currency, status,"
     " created_status, shipping_cents, created_at, updated_at, history_len)"
     " VALUES($1::text, $2::text, $3::text, $4::text, $5::bigint, $6::text, $7::text, $7::text,"
     " $8::bigint, $9::bigint, $9::bigint, 1)",
     0},
    /* The first history entry (seq 1) is the row's created_status/created_at. */
    {STORE_PG_ORD_UPD,
     "WITH u AS (UPDATE orders SET status = $2::text, updated_at = $3::bigint,"
     " history_len = history_len + 1 WHERE order_id = $1::text AND status <> $2::text"
     " RETURNING history_len)"
     " INSERT INTO status_history(order_id, seq, status, at)"
     " SELECT $1::text, history_len, $2::text, $3::bigint FROM u",
     0},
    {STORE_PG_ORD_FIND,
     "SELECT order_id, status FROM orders"
     " WHERE order_id = ANY($1::text[])",
     0},
    /* 1 row if the stored order has this CREATE's content (a redelivery or a retry). */
    {STORE_PG_ORD_SAME,
     "SELECT 1 FROM orders WHERE order_id = $1::text AND customer_id = $2::text"
     " AND items = $3::text AND total_cents = $4::bigint"
     " AND currency = $5::text AND created_status = $6::text",
     0},
    {STORE_PG_ORD_GET,
     "SELECT customer_id, order_date, items, total_cents, currency, status, shipping_cents,"
     " created_at, updated_at, created_status FROM orders WHERE order_id = $1::text",
     1},
    {STORE_PG_ORD_HIST,
     "SELECT o.customer_id, o.order_date, o.items, o.total_cents, o.currency, o.status,"
     " o.shipping_cents, o.created_at, o.updated_at, o.created_status, h.status, h.at"
     " FROM orders o" STORE_PG_HISTORY_OF_O " WHERE o.order_id = $1::text ORDER BY h.seq",
     1},
    /* store_get_orders: q.n - 1 is the index into the caller's ids (asked twice: twice). */
    {STORE_PG_ORD_MANY,
     "SELECT q.n - 1, o.customer_id, o.order_date, o.items, o.total_cents, o.currency, o.status,"
     " o.shipping_cents, o.created_at, o.updated_at, o.created_status, h.status, h.at"
     " FROM unnest($1::text[]) WITH ORDINALITY AS q(id, n)"
     " JOIN orders o ON o.order_id = q.id" STORE_PG_HISTORY_OF_O " ORDER BY q.n, h.seq",
     1},
    {STORE_PG_ORD_COUNT, "SELECT count(*) FROM orders", 1},
    /* The partition's rows below the offset are past: dropped in the same statement. */
    {STORE_PG_ATT_PUT,
     "WITH d AS (DELETE FROM retry_state WHERE topic = $1::text AND partition = $2::integer"
     " AND rec_offset < $3::bigint)"
     " INSERT INTO retry_state(topic, partition, rec_offset, attempts, due_ms, dlq_written)"
     " VALUES($1::text, $2::integer, $3::bigint, $4::integer, $5::bigint, false)"
     " ON CONFLICT(topic, partition, rec_offset) DO UPDATE SET attempts = EXCLUDED.attempts,"
     " due_ms = EXCLUDED.due_ms WHERE EXCLUDED.attempts >= retry_state.attempts",
     0},
    {STORE_PG_ATT_GET,
     "SELECT attempts, due_ms, dlq_written FROM retry_state"
     " WHERE topic = $1::text AND partition = $2::integer AND rec_offset = $3::bigint",
     0},
    {STORE_PG_ATT_CLEAR,
     "DELETE FROM retry_state WHERE topic = $1::text AND partition = $2::integer"
     " AND rec_offset < $3::bigint",
     0},
    {STORE_PG_ATT_DLQ,
     "INSERT INTO retry_state(topic, partition, rec_offset, attempts, due_ms, dlq_written)"
     " VALUES($1::text, $2::integer, $3::bigint, 0, 0, true)"
     " ON CONFLICT(topic, partition, rec_offset) DO UPDATE SET dlq_written = true",
     0},
    {STORE_PG_RPL_GET,
     "SELECT replay_count, last_at FROM dlq_replays"
     " WHERE dlq_topic = $1::text AND partition = $2::integer AND dlq_offset = $3::bigint",
     0},
    {STORE_PG_RPL_MARK,
     "INSERT INTO dlq_replays(dlq_topic, partition, dlq_offset, replay_count, last_at)"
     " VALUES($1::text, $2::integer, $3::bigint, 1, $4::bigint)"
     " ON CONFLICT(dlq_topic, partition, dlq_offset) DO UPDATE SET"
     " replay_count = dlq_replays.replay_count + 1, last_at = EXCLUDED.last_at",
     0},
};

#define STORE_PG_NSTMTS (sizeof store_pg_stmts / sizeof store_pg_stmts[0])

/* SQLSTATEs that go away by themselves: retry later. */
static int store_pg_transient(const char *state)
{
    static const char *const classes[] = {
        "08", /* connection exception */
        "53", /* insufficient resources: disk full, out of memory, too many connections */
        "57", /* operator intervention: shutdown, cancel, cannot connect now */
        "58", /* system error (I/O) */
    };
    static const char *const codes[] = {
        "40001", /* serialization_failure */
        "40P01", /* deadlock_detected */
        "55P03", /* lock_not_available */
        "25006", /* read_only_sql_transaction: a standby, e.g. during a failover */
        "23505", /* unique_violation: a concurrent writer took the row; the retry sees it */
    };
    for (size_t i = 0; i < sizeof classes / sizeof classes[0]; i++)
        if (strncmp(state, classes[i], 2) == 0)
            return 1;
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
        if (strcmp(state, codes[i]) == 0)
            return 1;
    return 0;
}

/*
 * SQLSTATEs the event itself causes: integrity constraints (23, but a unique
 * violation is a concurrent writer, see above), data exceptions (22: too
 * long, out of range, bad representation) and program limits (54: too big).
 * Everything else (a dropped table, a broken server, permissions) is the
 * store's: retried forever, it never dead-letters a valid event.
 */
static int store_pg_event_caused(const char *state)
{
    return strncmp(state, "23", 2) == 0 || strncmp(state, "22", 2) == 0 ||
           strncmp(state, "54", 2) == 0;
}

/* msg without its trailing newline(s), at most errlen - 1 bytes, into err. */
static void store_pg_trim(char *err, size_t errlen, const char *prefix, const char *msg)
{
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
        n--;
    snprintf(err, errlen, "%s%.*s", prefix, (int)n, msg);
}

store_status store_pg_fail(store_pg *s, const PGresult *r, const char *what, char *err,
                           size_t errlen)
{
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = r ? PQresultErrorMessage(r) : "";
    if (!msg || !*msg)
        msg = s->conn ? PQerrorMessage(s->conn) : "no connection";
    if (!msg || !*msg)
        msg = r ? PQresStatus(PQresultStatus(r)) : "out of memory";
    char prefix[96];
    snprintf(prefix, sizeof prefix, "postgresql %s: %s%s", what, state ? state : "",
             state ? " " : "");
    store_pg_trim(err, errlen, prefix, msg);
    if (!r || !s->conn || PQstatus(s->conn) != CONNECTION_OK)
        return STORE_ERR_IO; /* no answer at all: the connection, or memory */
    if (state && store_pg_transient(state))
        return STORE_ERR_IO;
    return state && store_pg_event_caused(state) ? STORE_ERR_INTERNAL : STORE_ERR_IO;
}

PGresult *store_pg_exec(store_pg *s, const char *stmt, int n, const char *const *vals)
{
    return PQexecPrepared(s->conn, stmt, n, vals, NULL, NULL, 0);
}

store_status store_pg_simple(store_pg *s, const char *sql, ExecStatusType want, const char *what,
                             char *err, size_t errlen)
{
    PGresult *r = PQexec(s->conn, sql);
    store_status st =
        r && PQresultStatus(r) == want ? STORE_OK : store_pg_fail(s, r, what, err, errlen);
    PQclear(r);
    return st;
}

/* Server notices ("relation exists, skipping") go to the debug log, not stderr. */
static void store_pg_notice(void *arg, const char *message)
{
    (void)arg;
    char line[512];
    store_pg_trim(line, sizeof line, "", message);
    log_msg(LOG_DEBUG, "postgresql", NULL, "%s", line);
}

/* Creates or checks the schema under the migration lock, in one transaction. */
static store_status store_pg_migrate(store_pg *s, char *err, size_t errlen)
{
    store_status st = store_pg_simple(s, "BEGIN", PGRES_COMMAND_OK, "begin", err, errlen);
    if (st != STORE_OK)
        return st;
    st = store_pg_simple(s, "SELECT pg_advisory_xact_lock(" STORE_PG_MIGRATE_LOCK ")",
                         PGRES_TUPLES_OK, "migration lock", err, errlen);
    /* Created only when missing: a role may have the rights to use the tables, not to create. */
    PGresult *r = NULL;
    if (st == STORE_OK) {
        r = PQexec(s->conn, "SELECT to_regclass('schema_version') IS NULL");
        if (!r || PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
            st = store_pg_fail(s, r, "look for schema_version", err, errlen);
        else if (strcmp(PQgetvalue(r, 0, 0), "t") == 0)
            st = store_pg_simple(s, "CREATE TABLE schema_version(version integer NOT NULL)",
                                 PGRES_COMMAND_OK, "create schema_version", err, errlen);
        PQclear(r);
        r = NULL;
    }
    if (st == STORE_OK) {
        r = PQexec(s->conn, "SELECT max(version) FROM schema_version");
        if (!r || PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
            st = store_pg_fail(s, r, "read schema_version", err, errlen);
    }
    long version = 0;
    if (st == STORE_OK && PQgetisnull(r, 0, 0)) {
        st =
            store_pg_simple(s, store_pg_schema_sql, PGRES_COMMAND_OK, "create tables", err, errlen);
        version = 1;
    } else if (st == STORE_OK) {
        version = strtol(PQgetvalue(r, 0, 0), NULL, 10);
    }
    if (st == STORE_OK && version == 1) { /* 1 -> 2: add the retry state */
        st = store_pg_simple(s, store_pg_schema_v2_sql, PGRES_COMMAND_OK, "create retry_state", err,
                             errlen);
        if (st == STORE_OK)
            st = store_pg_simple(s, "INSERT INTO schema_version(version) VALUES(2)",
                                 PGRES_COMMAND_OK, "write schema_version", err, errlen);
        version = 2;
    }
    if (st == STORE_OK && version == STORE_PG_SCHEMA_VERSION) {
        PQclear(r);
        r = PQexec(s->conn, "SELECT to_regclass('topic_index_pos') IS NULL");
        if (!r || PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
            st = store_pg_fail(s, r, "look for topic_index_pos", err, errlen);
        else if (strcmp(PQgetvalue(r, 0, 0), "t") == 0)
            st = store_pg_simple(s, store_pg_schema_tix_sql, PGRES_COMMAND_OK,
                                 "create topic indexes", err, errlen);
    }
    if (st == STORE_OK && version == STORE_PG_SCHEMA_VERSION) {
        /* Looked for first: a role may use the tables without the right to create. */
        PGresult *q = PQexec(s->conn, "SELECT to_regclass('dlq_replays') IS NULL");
        if (!q || PQresultStatus(q) != PGRES_TUPLES_OK || PQntuples(q) != 1)
            st = store_pg_fail(s, q, "look for dlq_replays", err, errlen);
        else if (strcmp(PQgetvalue(q, 0, 0), "t") == 0)
            st = store_pg_simple(s, store_pg_replays_sql, PGRES_COMMAND_OK, "create dlq_replays",
                                 err, errlen);
        PQclear(q);
    }
    if (st == STORE_OK && version == STORE_PG_SCHEMA_VERSION)
        st = store_pg_lease_migrate(s, err, errlen); /* within layout 2 too */
    if (st == STORE_OK) {
        if (version != STORE_PG_SCHEMA_VERSION) {
            snprintf(err, errlen,
                     "store %s has layout version %ld, this build uses %d (use another "
                     "database or schema to rebuild it from Kafka)",
                     s->where, version, STORE_PG_SCHEMA_VERSION);
            st = STORE_ERR_INTERNAL;
        }
    }
    PQclear(r);
    if (st == STORE_OK)
        return store_pg_simple(s, "COMMIT", PGRES_COMMAND_OK, "commit schema", err, errlen);
    PQclear(PQexec(s->conn, "ROLLBACK")); /* best effort: the error at hand is the one to report */
    return st;
}

/* Prepares the statements this handle uses (again after every reconnect). */
static store_status store_pg_prepare(store_pg *s, char *err, size_t errlen)
{
    for (size_t i = 0; i < STORE_PG_NSTMTS; i++) {
        if (s->readonly && !store_pg_stmts[i].reader)
            continue;
        PGresult *r = PQprepare(s->conn, store_pg_stmts[i].name, store_pg_stmts[i].sql, 0, NULL);
        store_status st = r && PQresultStatus(r) == PGRES_COMMAND_OK
                              ? STORE_OK
                              : store_pg_fail(s, r, "prepare", err, errlen);
        PQclear(r);
        if (st != STORE_OK)
            return st;
    }
    return STORE_OK;
}

static store_status store_pg_set_timeout(store_pg *s, char *err, size_t errlen)
{
    char sql[64];
    snprintf(sql, sizeof sql, "SET statement_timeout = %d", s->read_timeout_ms);
    return store_pg_simple(s, sql, PGRES_COMMAND_OK, "read timeout", err, errlen);
}

static store_status store_pg_read_timeout(store *base, int ms, char *err, size_t errlen)
{
    store_pg *s = (store_pg *)base;
    if (!s->readonly)
        return STORE_OK; /* the writer's statements are bounded by their own retries */
    s->read_timeout_ms = ms;
    /* connected: now; else the next connect sets it */
    if (s->conn && PQstatus(s->conn) == CONNECTION_OK && ms > 0)
        return store_pg_set_timeout(s, err, errlen);
    return STORE_OK;
}

/*
 * A fresh connection, set up for this handle, with its statements prepared
 * unless prepare is 0 (before the writer's migration: the tables may not
 * exist yet). s->conn is NULL on failure.
 */
static store_status store_pg_connect(store_pg *s, int prepare, char *err, size_t errlen)
{
    /* Keywords are applied in order: the URL may override the timeout, not the encoding. */
    const char *const keys[] = {"connect_timeout", "dbname", "fallback_application_name",
                                "client_encoding", NULL};
    const char *const vals[] = {STORE_PG_CONNECT_TIMEOUT_S, s->url, "order-service", "UTF8", NULL};
    PQfinish(s->conn);
    s->conn = PQconnectdbParams(keys, vals, 1);
    if (!s->conn) {
        snprintf(err, errlen, "postgresql connect %s: out of memory", s->where);
        return STORE_ERR_IO;
    }
    store_status st = STORE_OK;
    if (PQstatus(s->conn) != CONNECTION_OK) {
        char prefix[STORE_PG_WHERE_MAX + 32];
        snprintf(prefix, sizeof prefix, "postgresql connect %s: ", s->where);
        store_pg_trim(err, errlen, prefix, PQerrorMessage(s->conn));
        st = STORE_ERR_IO;
    }
    if (st == STORE_OK) {
        PQsetNoticeProcessor(s->conn, store_pg_notice, NULL);
        /* Text is stored as UTF-8 (the decoder checks it): a database that would
         * transcode it could fail on an event, which would never succeed. */
        const char *enc = PQparameterStatus(s->conn, "server_encoding");
        if (!enc || (strcmp(enc, "UTF8") != 0 && strcmp(enc, "SQL_ASCII") != 0)) {
            snprintf(err, errlen, "postgresql %s: database encoding %s, UTF8 needed", s->where,
                     enc ? enc : "unknown");
            st = STORE_ERR_INTERNAL;
        }
    }
    if (st == STORE_OK && s->readonly)
        st = store_pg_simple(s, "SET default_transaction_read_only = on", PGRES_COMMAND_OK,
                             "read-only session", err, errlen);
    if (st == STORE_OK && s->readonly && s->read_timeout_ms > 0)
        st = store_pg_set_timeout(s, err, errlen);
    if (st == STORE_OK && prepare)
        st = store_pg_prepare(s, err, errlen);
    if (st != STORE_OK) {
        PQfinish(s->conn);
        s->conn = NULL;
    }
    return st;
}

store_status store_pg_ensure(store_pg *s, char *err, size_t errlen)
{
    if (s->conn && PQstatus(s->conn) == CONNECTION_OK &&
        PQtransactionStatus(s->conn) == PQTRANS_IDLE)
        return STORE_OK;
    if (s->conn)
        log_warn("store %s: connection lost, reconnecting", s->where);
    store_status st = store_pg_connect(s, 1, err, errlen);
    if (st == STORE_OK)
        log_info("store %s: connected", s->where);
    return st;
}

/* 1 if the URL carries a password, which libpq's parse errors might quote. */
static int store_pg_has_password(const char *url)
{
    const char *auth = strstr(url, "://") + 3;
    size_t alen = strcspn(auth, "/?");
    const char *at = NULL;
    for (const char *p = auth; p < auth + alen; p++)
        if (*p == '@')
            at = p;
    return (at && memchr(auth, ':', (size_t)(at - auth))) || strstr(url, "password=") != NULL;
}

static const store_backend store_pg_backend;
static void store_pg_close(store *base);

store *store_pg_open(const char *url, int flags, char *err, size_t errlen)
{
    store_pg *s = calloc(1, sizeof *s);
    if (!s || !(s->url = strdup(url)) || !(s->pos = calloc(STORE_PG_POS_MAX, sizeof *s->pos))) {
        snprintf(err, errlen, "out of memory");
        if (s)
            free(s->url);
        free(s);
        return NULL;
    }
    s->base.be = &store_pg_backend;
    s->readonly = (flags & STORE_READONLY) != 0;
    jsonw_init(&s->items);
    jsonw_init(&s->lit);
    store_describe(url, s->where, sizeof s->where);
    char *perr = NULL;
    PQconninfoOption *opts = PQconninfoParse(url, &perr);
    if (!opts) {
        if (perr && !store_pg_has_password(url))
            store_pg_trim(err, errlen, "STORE_URL: ", perr);
        else
            snprintf(err, errlen, "STORE_URL %s: not a valid PostgreSQL URL", s->where);
        PQfreemem(perr);
        store_pg_close(&s->base);
        return NULL;
    }
    PQconninfoFree(opts);
    store_status st = store_pg_connect(s, 0, err, errlen);
    if (st == STORE_OK && !s->readonly)
        st = store_pg_migrate(s, err, errlen);
    if (st == STORE_OK)
        st = store_pg_prepare(s, err, errlen);
    if (st != STORE_OK) {
        store_pg_close(&s->base);
        return NULL;
    }
    return &s->base;
}

static void store_pg_close(store *base)
{
    store_pg *s = (store_pg *)base;
    if (!s)
        return;
    store_pg_batch_free(s);
    PQfinish(s->conn);
    jsonw_free(&s->items);
    jsonw_free(&s->lit);
    free(s->url);
    free(s->pos);
    free(s->buf);
    free(s);
}

static int store_pg_in_txn(const store *base)
{
    return ((const store_pg *)base)->in_txn;
}

static store_status store_pg_count_orders(store *base, int64_t *count, char *err, size_t errlen)
{
    store_pg *s = (store_pg *)base;
    store_status st = s->in_txn ? STORE_OK : store_pg_ensure(s, err, errlen);
    if (st != STORE_OK)
        return st;
    PGresult *r = store_pg_exec(s, STORE_PG_ORD_COUNT, 0, NULL);
    if (!r || PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
        st = store_pg_fail(s, r, "count orders", err, errlen);
    else
        *count = store_pg_col_int(r, 0, 0);
    PQclear(r);
    return st;
}

static store_status store_pg_limit_pages(store *base, int64_t max_pages, char *err, size_t errlen)
{
    (void)base;
    (void)max_pages;
    snprintf(err, errlen, "store_limit_pages: not supported by the PostgreSQL backend");
    return STORE_ERR_INTERNAL;
}

static const store_backend store_pg_backend = {
    .kind = "postgresql",
    .close = store_pg_close,
    .begin = store_pg_batch_begin,
    .commit = store_pg_commit,
    .rollback = store_pg_batch_rollback,
    .in_txn = store_pg_in_txn,
    .hint_order = store_pg_batch_hint,
    .apply = store_pg_batch_apply,
    .mark = store_pg_batch_mark,
    .get_position = store_pg_batch_position,
    .get_order = store_pg_get_order,
    .get_orders = store_pg_get_orders,
    .read_timeout = store_pg_read_timeout,
    .count_orders = store_pg_count_orders,
    .probe = store_pg_probe,
    .limit_pages = store_pg_limit_pages,
    .attempt_record = store_pg_attempt_record,
    .attempt_get = store_pg_attempt_get,
    .attempt_clear = store_pg_attempt_clear,
    .dlq_mark = store_pg_dlq_mark,
    .tix_load = store_pg_tix_load,
    .tix_add = store_pg_tix_add,
    .replay_get = store_pg_replay_get,
    .replay_mark = store_pg_replay_mark,
    .lease_take = store_pg_lease_take,
    .lease_release = store_pg_lease_release,
    .replay_status_put = store_pg_replay_status_put,
    .replay_status_get = store_pg_replay_status_get,
};
