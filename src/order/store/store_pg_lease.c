/*
 * store_pg_lease: the leases and replay statuses of store.h on PostgreSQL,
 * the store several instances share (what DLQ replays coordinate with, and
 * what lets any instance answer for any replay). Taking a lease is one INSERT ... ON CONFLICT DO
 * UPDATE ... WHERE in autocommit: PostgreSQL locks the conflicting row and evaluates the WHERE on
 * its latest version, so of two instances taking a free lease at once exactly
 * one gets it. Expiry is judged by the server's clock, never an instance's,
 * so instances whose clocks disagree still agree on who holds it. The calls
 * are rare (a replay's start, its renewals every few seconds, its end): the
 * statements are sent with their parameters, not prepared.
 */
#include "store/store_pg_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The server's wall clock in milliseconds. */
#define STORE_PG_NOW_MS "(extract(epoch FROM clock_timestamp()) * 1000)::bigint"

static const char store_pg_leases_sql[] =
    "CREATE TABLE IF NOT EXISTS leases("
    " name text PRIMARY KEY, holder text NOT NULL, expires_at bigint NOT NULL);";
static const char store_pg_status_sql[] =
    "CREATE TABLE IF NOT EXISTS replay_status("
    " id text PRIMARY KEY, doc text NOT NULL, written_at bigint NOT NULL);";
/* $1 id, $2 document */
static const char store_pg_status_put_sql[] =
    "INSERT INTO replay_status(id, doc, written_at) VALUES($1::text, $2::text, " STORE_PG_NOW_MS ")"
    " ON CONFLICT(id) DO UPDATE SET doc = EXCLUDED.doc, written_at = EXCLUDED.written_at";
/* $1 how many to keep */
static const char store_pg_status_prune_sql[] =
    "DELETE FROM replay_status WHERE id IN (SELECT id FROM replay_status"
    " ORDER BY written_at DESC OFFSET $1::bigint)";
static const char store_pg_status_get_sql[] =
    "SELECT doc, " STORE_PG_NOW_MS " - written_at FROM replay_status WHERE id = $1::text";

/* $1 name, $2 holder, $3 ttl: a row back when the caller holds it now. */
static const char store_pg_lease_take_sql[] =
    "INSERT INTO leases(name, holder, expires_at)"
    " VALUES($1::text, $2::text, " STORE_PG_NOW_MS " + $3::bigint)"
    " ON CONFLICT(name) DO UPDATE SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at"
    " WHERE leases.holder = EXCLUDED.holder OR leases.expires_at <= " STORE_PG_NOW_MS
    " RETURNING holder";
static const char store_pg_lease_who_sql[] =
    "SELECT holder, expires_at - " STORE_PG_NOW_MS " FROM leases WHERE name = $1::text";
static const char store_pg_lease_drop_sql[] =
    "DELETE FROM leases WHERE name = $1::text AND holder = $2::text";

/* Creates table (sql) unless it exists; looked for first: a role may use the table
 * without the right to create. */
static store_status store_pg_table_ensure(store_pg *s, const char *table, const char *sql,
                                          char *err, size_t errlen)
{
    const char *vals[] = {table};
    PGresult *q =
        PQexecParams(s->conn, "SELECT to_regclass($1::text) IS NULL", 1, NULL, vals, NULL, NULL, 0);
    store_status st = STORE_OK;
    if (!q || PQresultStatus(q) != PGRES_TUPLES_OK || PQntuples(q) != 1)
        st = store_pg_fail(s, q, "look for a table", err, errlen);
    else if (strcmp(PQgetvalue(q, 0, 0), "t") == 0)
        st = store_pg_simple(s, sql, PGRES_COMMAND_OK, "create a table", err, errlen);
    PQclear(q);
    return st;
}

store_status store_pg_lease_migrate(store_pg *s, char *err, size_t errlen)
{
    store_status st = store_pg_table_ensure(s, "leases", store_pg_leases_sql, err, errlen);
    if (st == STORE_OK)
        st = store_pg_table_ensure(s, "replay_status", store_pg_status_sql, err, errlen);
    return st;
}

static store_status store_pg_lease_ready(store_pg *s, char *err, size_t errlen)
{
    if (s->readonly || s->in_txn) {
        snprintf(err, errlen, "leases: %s", s->readonly ? "read-only handle" : "inside a batch");
        return STORE_ERR_INTERNAL;
    }
    return store_pg_ensure(s, err, errlen);
}

static PGresult *store_pg_lease_exec(store_pg *s, const char *sql, int n, const char *const *vals)
{
    return PQexecParams(s->conn, sql, n, NULL, vals, NULL, NULL, 0);
}

store_status store_pg_lease_take(store *base, const char *name, const char *holder, int64_t ttl_ms,
                                 store_lease *out, char *err, size_t errlen)
{
    store_pg *s = (store_pg *)base;
    store_status st = store_pg_lease_ready(s, err, errlen);
    char ttl[24];
    snprintf(ttl, sizeof ttl, "%" PRId64, ttl_ms);
    const char *vals[] = {name, holder, ttl};
    /* A lease released between the refused take and the look-up: taken again (bounded). */
    for (int tries = 0; st == STORE_OK && tries < 3; tries++) {
        PGresult *r = store_pg_lease_exec(s, store_pg_lease_take_sql, 3, vals);
        if (!r || PQresultStatus(r) != PGRES_TUPLES_OK) {
            st = store_pg_fail(s, r, "take lease", err, errlen);
            PQclear(r);
            return st;
        }
        int taken = PQntuples(r) == 1;
        PQclear(r);
        if (taken) {
            out->held = 1;
            return STORE_OK;
        }
        r = store_pg_lease_exec(s, store_pg_lease_who_sql, 1, vals);
        if (!r || PQresultStatus(r) != PGRES_TUPLES_OK) {
            st = store_pg_fail(s, r, "read lease", err, errlen);
            PQclear(r);
            return st;
        }
        if (PQntuples(r) == 1) {
            snprintf(out->holder, sizeof out->holder, "%s", PQgetvalue(r, 0, 0));
            out->remaining_ms = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
            PQclear(r);
            return STORE_OK; /* held by another */
        }
        PQclear(r);
    }
    if (st == STORE_OK) {
        snprintf(err, errlen, "take lease: it changed hands three times meanwhile");
        st = STORE_ERR_IO;
    }
    return st;
}

store_status store_pg_lease_release(store *base, const char *name, const char *holder, char *err,
                                    size_t errlen)
{
    store_pg *s = (store_pg *)base;
    store_status st = store_pg_lease_ready(s, err, errlen);
    if (st != STORE_OK)
        return st;
    const char *vals[] = {name, holder};
    PGresult *r = store_pg_lease_exec(s, store_pg_lease_drop_sql, 2, vals);
    st = r && PQresultStatus(r) == PGRES_COMMAND_OK
             ? STORE_OK
             : store_pg_fail(s, r, "release lease", err, errlen);
    PQclear(r);
    return st;
}

store_status store_pg_replay_status_put(store *base, const char *id, const char *doc, size_t len,
                                        char *err, size_t errlen)
{
    store_pg *s = (store_pg *)base;
    store_status st = store_pg_lease_ready(s, err, errlen);
    if (st != STORE_OK)
        return st;
    const char *vals[] = {id, doc};
    int lens[] = {0, (int)len};
    int fmts[] = {0, 1}; /* binary: the text is sent as its bytes, no NUL needed */
    PGresult *r = PQexecParams(s->conn, store_pg_status_put_sql, 2, NULL, vals, lens, fmts, 0);
    st = r && PQresultStatus(r) == PGRES_COMMAND_OK
             ? STORE_OK
             : store_pg_fail(s, r, "write replay status", err, errlen);
    PQclear(r);
    if (st != STORE_OK)
        return st;
    char keep[16];
    snprintf(keep, sizeof keep, "%d", STORE_REPLAY_STATUS_KEPT);
    const char *kv[] = {keep};
    r = store_pg_lease_exec(s, store_pg_status_prune_sql, 1, kv);
    st = r && PQresultStatus(r) == PGRES_COMMAND_OK
             ? STORE_OK
             : store_pg_fail(s, r, "prune replay statuses", err, errlen);
    PQclear(r);
    return st;
}

store_status store_pg_replay_status_get(store *base, const char *id, char **doc, int64_t *age_ms,
                                        char *err, size_t errlen)
{
    store_pg *s = (store_pg *)base;
    store_status st = store_pg_lease_ready(s, err, errlen);
    if (st != STORE_OK)
        return st;
    const char *vals[] = {id};
    PGresult *r = store_pg_lease_exec(s, store_pg_status_get_sql, 1, vals);
    if (!r || PQresultStatus(r) != PGRES_TUPLES_OK) {
        st = store_pg_fail(s, r, "read replay status", err, errlen);
    } else if (PQntuples(r) != 1) {
        st = STORE_NOT_FOUND;
    } else {
        int n = PQgetlength(r, 0, 0);
        *age_ms = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
        if (n <= 0 || !(*doc = malloc((size_t)n + 1))) {
            snprintf(err, errlen, "read replay status: %s", n > 0 ? "out of memory" : "empty");
            st = STORE_ERR_INTERNAL;
        } else {
            memcpy(*doc, PQgetvalue(r, 0, 0), (size_t)n);
            (*doc)[n] = '\0';
        }
    }
    PQclear(r);
    return st;
}
