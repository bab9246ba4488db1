/*
 * pg_fixture: a fresh PostgreSQL schema per test case, for the store tests.
 *
 * ORDERSTREAM_TEST_PG_URL names a database the tests may create schemas in
 * (scripts/with-stack.sh starts a private server and sets it). Each case gets
 * schema t_<pid>_<n>, reached through the URL's search_path option, and drops
 * it afterwards, so cases never see each other's rows and need no server
 * restart. Header-only (static inline) so each test binary takes what it uses.
 */
#ifndef PG_FIXTURE_H
#define PG_FIXTURE_H

#include <check.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static inline const char *pgfx_url(void)
{
    const char *u = getenv("ORDERSTREAM_TEST_PG_URL");
    return u && *u ? u : NULL;
}

static inline void pgfx_quiet(void *arg, const char *message)
{
    (void)arg;
    (void)message; /* "drop cascades to ...": not news */
}

/* A plain connection to the test database (for setup, checks and faults). */
static inline PGconn *pgfx_connect(void)
{
    PGconn *c = PQconnectdb(pgfx_url());
    ck_assert_msg(c && PQstatus(c) == CONNECTION_OK, "connect %s: %s", pgfx_url(),
                  c ? PQerrorMessage(c) : "out of memory");
    PQsetNoticeProcessor(c, pgfx_quiet, NULL);
    return c;
}

/* Runs sql on a new connection; fails the test unless it succeeds. */
static inline void pgfx_exec(const char *sql)
{
    PGconn *c = pgfx_connect();
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    ck_assert_msg(st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK, "%s: %s", sql,
                  PQresultErrorMessage(r));
    PQclear(r);
    PQfinish(c);
}

/* The single value sql returns, as a number. */
static inline long long pgfx_value(const char *sql)
{
    PGconn *c = pgfx_connect();
    PGresult *r = PQexec(c, sql);
    ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1, "%s: %s", sql,
                  PQresultErrorMessage(r));
    long long v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    PQfinish(c);
    return v;
}

/* Creates a fresh schema (name into schema) and the store URL that uses it. */
static inline void pgfx_setup(char *schema, size_t slen, char *where, size_t wlen)
{
    static int n;
    snprintf(schema, slen, "t_%ld_%d", (long)getpid(), ++n);
    char sql[128];
    snprintf(sql, sizeof sql, "CREATE SCHEMA %s", schema);
    pgfx_exec(sql);
    /* application_name lets a test find (and terminate) the store's own sessions. */
    snprintf(where, wlen, "%s%soptions=-csearch_path%%3D%s&application_name=%s", pgfx_url(),
             strchr(pgfx_url(), '?') ? "&" : "?", schema, schema);
}

static inline void pgfx_teardown(const char *schema)
{
    char sql[128];
    snprintf(sql, sizeof sql, "DROP SCHEMA %s CASCADE", schema);
    pgfx_exec(sql);
}

#endif
