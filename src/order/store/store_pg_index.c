/*
 * store_pg_index: the topic indexes of store.h on PostgreSQL.
 *
 * A load is one REPEATABLE READ transaction (one snapshot: positions and
 * content agree); the ids come through a cursor in binary pieces, so a large
 * index never sits whole in one libpq result. An extension is one
 * transaction: positions first, each an UPDATE that must match the caller's
 * "from" row (or an INSERT that must not find one), so of two instances that
 * extend the same index from the same positions the second waits on the
 * first's row lock, then matches nothing and rolls back (STORE_FENCED). Ids
 * go as segments (store_backend.h), binary parameters of one INSERT each.
 * The statements are not prepared: they run once per read or chunk.
 */
#include "store/store_pg_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TIX_FETCH "FETCH 16 FROM tix_ids" /* segments (store_backend.h) per round trip */

static store_status tix_ready(store_pg *s, char *err, size_t errlen)
{
    if (s->readonly) {
        snprintf(err, errlen, "topic index: read-only handle");
        return STORE_ERR_INTERNAL;
    }
    return store_pg_ensure(s, err, errlen);
}

/* Runs sql with text parameters; r is the result (NULL on out of memory). */
static PGresult *tix_exec(store_pg *s, const char *sql, int n, const char *const *vals, int binary)
{
    return PQexecParams(s->conn, sql, n, NULL, vals, NULL, NULL, binary);
}

static int64_t tix_int(const PGresult *r, int row, int col)
{
    return strtoll(PQgetvalue(r, row, col), NULL, 10);
}

static store_status tix_load_rows(store_pg *s, const char *name, store_tix_pos *pos, int maxpos,
                                  int *npos, const store_tix_sink *sink, char *err, size_t errlen)
{
    const char *v[] = {name};
    PGresult *r = tix_exec(s,
                           "SELECT partition, low, next_offset FROM topic_index_pos"
                           " WHERE idx = $1::text ORDER BY partition",
                           1, v, 0);
    store_status st = STORE_OK;
    if (!r || PQresultStatus(r) != PGRES_TUPLES_OK) {
        st = store_pg_fail(s, r, "read index positions", err, errlen);
    } else if (PQntuples(r) > maxpos) {
        snprintf(err, errlen, "topic index %s: more than %d partitions", name, maxpos);
        st = STORE_ERR_INTERNAL;
    } else {
        for (int i = 0; i < PQntuples(r); i++) {
            pos[i].partition = (int32_t)tix_int(r, i, 0);
            pos[i].low = tix_int(r, i, 1);
            pos[i].next = tix_int(r, i, 2);
        }
        *npos = PQntuples(r);
    }
    PQclear(r);
    if (st == STORE_OK && sink->id) {
        char *lit = PQescapeLiteral(s->conn, name, strlen(name));
        char sql[STORE_TIX_NAME_MAX * 2 + 128];
        snprintf(sql, sizeof sql,
                 "DECLARE tix_ids NO SCROLL CURSOR FOR SELECT ids FROM topic_index_ids"
                 " WHERE idx = %s ORDER BY seq",
                 lit ? lit : "''");
        int ok = lit != NULL;
        PQfreemem(lit);
        st = ok ? store_pg_simple(s, sql, PGRES_COMMAND_OK, "open index cursor", err, errlen)
                : store_pg_fail(s, NULL, "quote index name", err, errlen);
        while (st == STORE_OK) {
            r = tix_exec(s, TIX_FETCH, 0, NULL, 1);
            if (!r || PQresultStatus(r) != PGRES_TUPLES_OK) {
                st = store_pg_fail(s, r, "read index ids", err, errlen);
                PQclear(r);
                break;
            }
            int n = PQntuples(r);
            for (int i = 0; i < n && st == STORE_OK; i++) {
                int u = store_tix_unpack(PQgetvalue(r, i, 0), (size_t)PQgetlength(r, i, 0), sink);
                if (u != 0) {
                    snprintf(err, errlen, "topic index %s: %s", name,
                             u < 0 ? "malformed id segment" : "load stopped");
                    st = u < 0 ? STORE_ERR_IO : STORE_ERR_INTERNAL;
                }
            }
            PQclear(r);
            if (n == 0)
                break;
        }
    }
    if (st == STORE_OK && sink->stat) {
        r = tix_exec(s, "SELECT kind, name, n FROM topic_index_stats WHERE idx = $1::text", 1, v,
                     0);
        if (!r || PQresultStatus(r) != PGRES_TUPLES_OK) {
            st = store_pg_fail(s, r, "read index stats", err, errlen);
        } else {
            for (int i = 0; i < PQntuples(r) && st == STORE_OK; i++) {
                const char *kind = PQgetvalue(r, i, 0);
                if (sink->stat(sink->arg, kind[0] ? kind[0] : '?', PQgetvalue(r, i, 1),
                               tix_int(r, i, 2))) {
                    snprintf(err, errlen, "topic index %s: load stopped", name);
                    st = STORE_ERR_INTERNAL;
                }
            }
        }
        PQclear(r);
    }
    return st;
}

store_status store_pg_tix_load(store *base, const char *name, store_tix_pos *pos, int maxpos,
                               int *npos, const store_tix_sink *sink, char *err, size_t errlen)
{
    store_pg *s = (store_pg *)base;
    store_status st = tix_ready(s, err, errlen);
    if (st == STORE_OK)
        st = store_pg_simple(s, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", PGRES_COMMAND_OK,
                             "begin index read", err, errlen);
    if (st != STORE_OK)
        return st;
    st = tix_load_rows(s, name, pos, maxpos, npos, sink, err, errlen);
    if (st == STORE_OK)
        st = store_pg_simple(s, "COMMIT", PGRES_COMMAND_OK, "end index read", err, errlen);
    else
        PQclear(PQexec(s->conn, "ROLLBACK")); /* best effort: the error at hand is reported */
    if (st != STORE_OK)
        *npos = 0;
    return st;
}

/* Runs a command; 1 if it changed exactly want rows (-1: any), 0 if not; *st on error. */
static int tix_cmd(store_pg *s, const char *sql, int n, const char *const *vals, int want,
                   const char *what, store_status *st, char *err, size_t errlen)
{
    PGresult *r = tix_exec(s, sql, n, vals, 0);
    int ok = 0;
    if (!r || PQresultStatus(r) != PGRES_COMMAND_OK)
        *st = store_pg_fail(s, r, what, err, errlen);
    else
        ok = want < 0 || strtol(PQcmdTuples(r), NULL, 10) == want;
    PQclear(r);
    return ok;
}

typedef struct {
    char part[16], low[24], next[24], low2[24], next2[24];
} tix_args;

static void tix_fill(tix_args *a, const store_tix_pos *p, const store_tix_pos *to)
{
    snprintf(a->part, sizeof a->part, "%" PRId32, p->partition);
    snprintf(a->low, sizeof a->low, "%" PRId64, p->low);
    snprintf(a->next, sizeof a->next, "%" PRId64, p->next);
    snprintf(a->low2, sizeof a->low2, "%" PRId64, to ? to->low : 0);
    snprintf(a->next2, sizeof a->next2, "%" PRId64, to ? to->next : 0);
}

/* The ids of u as segments, one INSERT each; 0 on an error (*st set). */
static int tix_ids(store_pg *s, const store_tix_update *u, store_status *st, char *err,
                   size_t errlen)
{
    if (!u->nids)
        return 1;
    unsigned char *seg = malloc(STORE_TIX_SEGMENT);
    if (!seg) {
        snprintf(err, errlen, "out of memory");
        *st = STORE_ERR_IO;
        return 0;
    }
    size_t next = 0;
    long n;
    int ok = 1;
    while (ok && (n = store_tix_pack(u, &next, seg)) > 0) {
        const char *v[] = {u->name, (const char *)seg};
        int lens[] = {0, (int)n}, fmts[] = {0, 1};
        PGresult *r = PQexecParams(s->conn,
                                   "INSERT INTO topic_index_ids(idx, seq, ids) VALUES($1::text,"
                                   " (SELECT coalesce(max(seq), 0) + 1 FROM topic_index_ids"
                                   " WHERE idx = $1::text), $2::bytea)",
                                   2, NULL, v, lens, fmts, 0);
        if (!r || PQresultStatus(r) != PGRES_COMMAND_OK) {
            *st = store_pg_fail(s, r, "write index ids", err, errlen);
            ok = 0;
        }
        PQclear(r);
    }
    if (ok && n < 0) {
        snprintf(err, errlen, "topic index %s: an id over %d bytes", u->name, STORE_TIX_ID_MAX);
        *st = STORE_ERR_INTERNAL;
        ok = 0;
    }
    free(seg);
    return ok;
}

/* The transaction's statements; 1 = done, 0 = fenced or failed (*st set on failure). */
static int tix_write(store_pg *s, const store_tix_update *u, store_status *st, char *err,
                     size_t errlen)
{
    tix_args a;
    const char *v1[] = {u->name};
    if (u->reset) {
        for (int i = 0; i < u->nfrom; i++) {
            tix_fill(&a, &u->from[i], NULL);
            const char *v[] = {u->name, a.part, a.low, a.next};
            if (!tix_cmd(s,
                         "DELETE FROM topic_index_pos WHERE idx = $1::text AND partition ="
                         " $2::integer AND low = $3::bigint AND next_offset = $4::bigint",
                         4, v, 1, "reset index", st, err, errlen))
                return 0;
        }
        if (!tix_cmd(s, "DELETE FROM topic_index_pos WHERE idx = $1::text", 1, v1, 0, "reset index",
                     st, err, errlen) ||
            !tix_cmd(s, "DELETE FROM topic_index_ids WHERE idx = $1::text", 1, v1, -1,
                     "reset index", st, err, errlen) ||
            !tix_cmd(s, "DELETE FROM topic_index_stats WHERE idx = $1::text", 1, v1, -1,
                     "reset index", st, err, errlen))
            return 0;
    }
    for (int i = 0; i < u->nto; i++) {
        const store_tix_pos *to = &u->to[i];
        const store_tix_pos *from =
            u->reset ? NULL : store_tix_find(u->from, u->nfrom, to->partition);
        tix_fill(&a, from ? from : to, to);
        const char *v[] = {u->name, a.part, a.low, a.next, a.low2, a.next2};
        int ok = from ? tix_cmd(s,
                                "UPDATE topic_index_pos SET low = $5::bigint, next_offset ="
                                " $6::bigint WHERE idx = $1::text AND partition = $2::integer"
                                " AND low = $3::bigint AND next_offset = $4::bigint",
                                6, v, 1, "move index position", st, err, errlen)
                      : tix_cmd(s,
                                "INSERT INTO topic_index_pos(idx, partition, low, next_offset)"
                                " VALUES($1::text, $2::integer, $3::bigint, $4::bigint)"
                                " ON CONFLICT DO NOTHING",
                                4, v, 1, "add index position", st, err, errlen);
        if (!ok)
            return 0;
    }
    if (!tix_ids(s, u, st, err, errlen))
        return 0;
    for (size_t i = 0; i < u->nstats; i++) {
        const store_tix_stat *t = &u->stats[i];
        char kind[2] = {t->kind, '\0'}, n[24];
        snprintf(n, sizeof n, "%" PRId64, t->n);
        const char *v[] = {u->name, kind, t->name, n};
        if (!tix_cmd(s,
                     "INSERT INTO topic_index_stats(idx, kind, name, n)"
                     " VALUES($1::text, $2::text, $3::text, $4::bigint) ON CONFLICT(idx, kind,"
                     " name) DO UPDATE SET n = topic_index_stats.n + EXCLUDED.n",
                     4, v, -1, "write index stats", st, err, errlen))
            return 0;
    }
    return 1;
}

store_status store_pg_tix_add(store *base, const store_tix_update *u, char *err, size_t errlen)
{
    store_pg *s = (store_pg *)base;
    store_status st = tix_ready(s, err, errlen);
    if (st == STORE_OK)
        st = store_pg_simple(s, "BEGIN", PGRES_COMMAND_OK, "begin index write", err, errlen);
    if (st != STORE_OK)
        return st;
    if (!tix_write(s, u, &st, err, errlen)) {
        if (st == STORE_OK) {
            snprintf(err, errlen, "topic index %s: positions moved by another writer", u->name);
            st = STORE_FENCED;
        }
        PQclear(PQexec(s->conn, "ROLLBACK"));
        return st;
    }
    return store_pg_simple(s, "COMMIT", PGRES_COMMAND_OK, "commit index", err, errlen);
}
