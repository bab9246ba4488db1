/*
 * store_pg_lease: the leases of store.h on PostgreSQL, the store several
 * instances share. Taking is one INSERT ... ON CONFLICT DO UPDATE ... WHERE in
 * autocommit: PostgreSQL locks the conflicting row and evaluates the WHERE on
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

store_status store_pg_lease_migrate(store_pg *s, char *err, size_t errlen)
{
    /* Looked for first: a role may use the table without the right to create. */
    PGresult *q = PQexec(s->conn, "SELECT to_regclass('leases') IS NULL");
    store_status st = STORE_OK;
    if (!q || PQresultStatus(q) != PGRES_TUPLES_OK || PQntuples(q) != 1)
        st = store_pg_fail(s, q, "look for leases", err, errlen);
    else if (strcmp(PQgetvalue(q, 0, 0), "t") == 0)
        st =
            store_pg_simple(s, store_pg_leases_sql, PGRES_COMMAND_OK, "create leases", err, errlen);
    PQclear(q);
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
