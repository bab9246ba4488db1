/*
 * store_sqlite_retry: the retry state of store.h (attempt counts, next-due
 * times, acknowledged dead letters) and the DLQ replay marks on the SQLite
 * file. Each write is its
 * own small transaction on the writer connection, committed before it
 * returns: the caller relies on it surviving a crash of the very attempt
 * that follows, and on it not rolling back with a failed batch.
 */
#include "store/store_sqlite_int.h"

#include <stdio.h>
#include <string.h>

/* Binds topic, partition, offset as ?1..?3 of statement idx. */
static int store_sqlite_retry_bind(store_sqlite *s, int idx, const char *topic, int32_t partition,
                                   int64_t offset)
{
    sqlite3_stmt *q = s->st[idx];
    int rc = sqlite3_bind_text(q, 1, topic, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int(q, 2, partition);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(q, 3, offset);
    return rc;
}

/* Writable and outside a batch: the write may run as its own transaction. */
static store_status store_sqlite_retry_writable(store_sqlite *s, char *err, size_t errlen)
{
    if (s->readonly || s->in_txn) {
        snprintf(err, errlen, "retry state: %s", s->readonly ? "read-only" : "inside a batch");
        return STORE_ERR_INTERNAL;
    }
    return STORE_OK;
}

store_status store_sqlite_attempt_record(store *base, const char *topic, int32_t partition,
                                         int64_t offset, int attempts, int64_t due_ms, char *err,
                                         size_t errlen)
{
    store_sqlite *s = (store_sqlite *)base;
    store_status st = store_sqlite_retry_writable(s, err, errlen);
    if (st != STORE_OK)
        return st;
    int rc = store_sqlite_step_done(s, ST_BEGIN);
    if (rc != SQLITE_OK)
        return store_sqlite_fail(s, rc, "begin retry state", err, errlen);
    rc = store_sqlite_retry_bind(s, ST_ATT_PURGE, topic, partition, offset);
    if (rc == SQLITE_OK)
        rc = store_sqlite_step_done(s, ST_ATT_PURGE);
    if (rc == SQLITE_OK)
        rc = store_sqlite_retry_bind(s, ST_ATT_PUT, topic, partition, offset);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int(s->st[ST_ATT_PUT], 4, attempts);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(s->st[ST_ATT_PUT], 5, due_ms);
    if (rc == SQLITE_OK)
        rc = store_sqlite_step_done(s, ST_ATT_PUT);
    if (rc == SQLITE_OK)
        rc = store_sqlite_step_done(s, ST_COMMIT);
    if (rc != SQLITE_OK) {
        st = store_sqlite_fail(s, rc, "record attempt", err, errlen);
        (void)store_sqlite_step_done(s, ST_ROLLBACK); /* may already be rolled back */
        return st;
    }
    return STORE_OK;
}

store_status store_sqlite_attempt_get(store *base, const char *topic, int32_t partition,
                                      int64_t offset, store_attempt *out, char *err, size_t errlen)
{
    store_sqlite *s = (store_sqlite *)base;
    if (s->readonly) {
        snprintf(err, errlen, "retry state: read-only handle");
        return STORE_ERR_INTERNAL;
    }
    sqlite3_stmt *q = s->st[ST_ATT_GET];
    int rc = store_sqlite_retry_bind(s, ST_ATT_GET, topic, partition, offset);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(q);
    store_status st = STORE_OK;
    if (rc == SQLITE_ROW) {
        out->attempts = sqlite3_column_int(q, 0);
        out->due_ms = sqlite3_column_int64(q, 1);
        out->dlq_written = sqlite3_column_int(q, 2) != 0;
    } else if (rc == SQLITE_DONE) {
        st = STORE_NOT_FOUND;
    } else {
        st = store_sqlite_fail(s, rc, "read attempt", err, errlen);
    }
    sqlite3_reset(q);
    return st;
}

store_status store_sqlite_attempt_clear(store *base, const char *topic, int32_t partition,
                                        int64_t below, char *err, size_t errlen)
{
    store_sqlite *s = (store_sqlite *)base;
    store_status st = store_sqlite_retry_writable(s, err, errlen);
    if (st != STORE_OK)
        return st;
    int rc = store_sqlite_retry_bind(s, ST_ATT_PURGE, topic, partition, below);
    if (rc == SQLITE_OK)
        rc = store_sqlite_step_done(s, ST_ATT_PURGE);
    return rc == SQLITE_OK ? STORE_OK : store_sqlite_fail(s, rc, "clear attempts", err, errlen);
}

store_status store_sqlite_dlq_mark(store *base, const char *topic, int32_t partition,
                                   int64_t offset, char *err, size_t errlen)
{
    store_sqlite *s = (store_sqlite *)base;
    store_status st = store_sqlite_retry_writable(s, err, errlen);
    if (st != STORE_OK)
        return st;
    int rc = store_sqlite_retry_bind(s, ST_ATT_DLQ, topic, partition, offset);
    if (rc == SQLITE_OK)
        rc = store_sqlite_step_done(s, ST_ATT_DLQ);
    return rc == SQLITE_OK ? STORE_OK
                           : store_sqlite_fail(s, rc, "remember dead letter", err, errlen);
}

store_status store_sqlite_replay_get(store *base, const char *dlq_topic, int32_t partition,
                                     int64_t offset, store_replay *out, char *err, size_t errlen)
{
    store_sqlite *s = (store_sqlite *)base;
    if (s->readonly) {
        snprintf(err, errlen, "replay marks: read-only handle");
        return STORE_ERR_INTERNAL;
    }
    sqlite3_stmt *q = s->st[ST_RPL_GET];
    int rc = store_sqlite_retry_bind(s, ST_RPL_GET, dlq_topic, partition, offset);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(q);
    store_status st = STORE_OK;
    if (rc == SQLITE_ROW) {
        out->count = sqlite3_column_int(q, 0);
        out->last_at_ms = sqlite3_column_int64(q, 1);
    } else if (rc == SQLITE_DONE) {
        st = STORE_NOT_FOUND;
    } else {
        st = store_sqlite_fail(s, rc, "read replay mark", err, errlen);
    }
    sqlite3_reset(q);
    return st;
}

store_status store_sqlite_replay_mark(store *base, const char *dlq_topic, int32_t partition,
                                      int64_t offset, int64_t at_ms, char *err, size_t errlen)
{
    store_sqlite *s = (store_sqlite *)base;
    store_status st = store_sqlite_retry_writable(s, err, errlen);
    if (st != STORE_OK)
        return st;
    int rc = store_sqlite_retry_bind(s, ST_RPL_MARK, dlq_topic, partition, offset);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(s->st[ST_RPL_MARK], 4, at_ms);
    if (rc == SQLITE_OK)
        rc = store_sqlite_step_done(s, ST_RPL_MARK);
    return rc == SQLITE_OK ? STORE_OK : store_sqlite_fail(s, rc, "mark replay", err, errlen);
}
