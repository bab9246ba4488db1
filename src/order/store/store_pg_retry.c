/*
 * store_pg_retry: the retry state of store.h (attempt counts, next-due
 * times, acknowledged dead letters) and the DLQ replay marks on PostgreSQL.
 * Every write is one
 * statement in autocommit, sent at once: the batch transaction is only sent
 * at store_commit(), so this never rides along in it, and the row is durable
 * (and visible to every instance of the group) before the call returns. That
 * is what lets a new owner of a partition continue its retry schedule.
 */
#include "store/store_pg_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Decimal texts of partition and offset, the statements' $2 and $3. */
typedef struct {
    char part[16], off[24];
} store_pg_retry_args;

/* $2 and $3: the record's partition and offset as decimal text. */
static void store_pg_retry_key(store_pg_retry_args *t, int32_t partition, int64_t offset)
{
    snprintf(t->part, sizeof t->part, "%" PRId32, partition);
    snprintf(t->off, sizeof t->off, "%" PRId64, offset);
}

static store_status store_pg_retry_ready(store_pg *s, int write, char *err, size_t errlen)
{
    if (s->readonly) {
        snprintf(err, errlen, "retry state: read-only handle");
        return STORE_ERR_INTERNAL;
    }
    if (write && s->in_txn) {
        snprintf(err, errlen, "retry state: inside a batch");
        return STORE_ERR_INTERNAL;
    }
    /* Inside a batch nothing is open on the server yet: the connection is idle. */
    return store_pg_ensure(s, err, errlen);
}

/* Runs stmt with n parameters; a command that returns no rows. */
static store_status store_pg_retry_run(store_pg *s, const char *stmt, int n,
                                       const char *const *vals, const char *what, char *err,
                                       size_t errlen)
{
    PGresult *r = store_pg_exec(s, stmt, n, vals);
    store_status st = r && PQresultStatus(r) == PGRES_COMMAND_OK
                          ? STORE_OK
                          : store_pg_fail(s, r, what, err, errlen);
    PQclear(r);
    return st;
}

/*
 * The writes' shared shape: the handle may write, then stmt runs with
 * (topic, partition, offset) and up to two more parameters (x4, then x5;
 * NULL for none).
 */
static store_status store_pg_retry_write(store *base, const char *stmt, const char *topic,
                                         int32_t partition, int64_t offset, const char *x4,
                                         const char *x5, const char *what, char *err, size_t errlen)
{
    store_pg *s = (store_pg *)base;
    store_status st = store_pg_retry_ready(s, 1, err, errlen);
    if (st != STORE_OK)
        return st;
    store_pg_retry_args t;
    store_pg_retry_key(&t, partition, offset);
    const char *vals[] = {topic, t.part, t.off, x4, x5};
    int n = x4 ? (x5 ? 5 : 4) : 3;
    return store_pg_retry_run(s, stmt, n, vals, what, err, errlen);
}

store_status store_pg_attempt_record(store *base, const char *topic, int32_t partition,
                                     int64_t offset, int attempts, int64_t due_ms, char *err,
                                     size_t errlen)
{
    char a[16], due[24];
    snprintf(a, sizeof a, "%d", attempts);
    snprintf(due, sizeof due, "%" PRId64, due_ms);
    return store_pg_retry_write(base, STORE_PG_ATT_PUT, topic, partition, offset, a, due,
                                "record attempt", err, errlen);
}

/*
 * The one row stmt returns for (topic, partition, offset): STORE_OK with *out
 * (the caller PQclear()s it), STORE_NOT_FOUND, or the failure.
 */
static store_status store_pg_retry_lookup(store_pg *s, const char *stmt, const char *topic,
                                          int32_t partition, int64_t offset, const char *what,
                                          PGresult **out, char *err, size_t errlen)
{
    *out = NULL;
    store_status st = store_pg_retry_ready(s, 0, err, errlen);
    if (st != STORE_OK)
        return st;
    store_pg_retry_args t;
    store_pg_retry_key(&t, partition, offset);
    const char *vals[] = {topic, t.part, t.off};
    PGresult *r = store_pg_exec(s, stmt, 3, vals);
    if (!r || PQresultStatus(r) != PGRES_TUPLES_OK)
        st = store_pg_fail(s, r, what, err, errlen);
    else if (PQntuples(r) == 0)
        st = STORE_NOT_FOUND;
    if (st == STORE_OK)
        *out = r;
    else
        PQclear(r);
    return st;
}

store_status store_pg_attempt_get(store *base, const char *topic, int32_t partition, int64_t offset,
                                  store_attempt *out, char *err, size_t errlen)
{
    PGresult *r;
    store_status st = store_pg_retry_lookup((store_pg *)base, STORE_PG_ATT_GET, topic, partition,
                                            offset, "read attempt", &r, err, errlen);
    if (st == STORE_OK) {
        out->attempts = (int)strtol(PQgetvalue(r, 0, 0), NULL, 10);
        out->due_ms = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
        out->dlq_written = strcmp(PQgetvalue(r, 0, 2), "t") == 0;
        PQclear(r);
    }
    return st;
}

store_status store_pg_attempt_clear(store *base, const char *topic, int32_t partition,
                                    int64_t below, char *err, size_t errlen)
{
    return store_pg_retry_write(base, STORE_PG_ATT_CLEAR, topic, partition, below, NULL, NULL,
                                "clear attempts", err, errlen);
}

store_status store_pg_dlq_mark(store *base, const char *topic, int32_t partition, int64_t offset,
                               char *err, size_t errlen)
{
    return store_pg_retry_write(base, STORE_PG_ATT_DLQ, topic, partition, offset, NULL, NULL,
                                "remember dead letter", err, errlen);
}

store_status store_pg_replay_get(store *base, const char *dlq_topic, int32_t partition,
                                 int64_t offset, store_replay *out, char *err, size_t errlen)
{
    PGresult *r;
    store_status st = store_pg_retry_lookup((store_pg *)base, STORE_PG_RPL_GET, dlq_topic,
                                            partition, offset, "read replay mark", &r, err, errlen);
    if (st == STORE_OK) {
        out->count = (int)strtol(PQgetvalue(r, 0, 0), NULL, 10);
        out->last_at_ms = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
        PQclear(r);
    }
    return st;
}

store_status store_pg_replay_mark(store *base, const char *dlq_topic, int32_t partition,
                                  int64_t offset, int64_t at_ms, char *err, size_t errlen)
{
    char at[24];
    snprintf(at, sizeof at, "%" PRId64, at_ms);
    return store_pg_retry_write(base, STORE_PG_RPL_MARK, dlq_topic, partition, offset, at, NULL,
                                "mark replay", err, errlen);
}
