/*
 * store_sqlite_index: the topic indexes of store.h on SQLite.
 *
 * Statements are prepared per call: an index is loaded or extended once per
 * topic read (and per chunk of a long scan), so preparing costs nothing next
 * to the rows. A load is one read transaction (one WAL snapshot), so the
 * positions and the content agree; an extension is one BEGIN IMMEDIATE
 * transaction whose position updates must each match the caller's "from"
 * row, else it rolls back as STORE_FENCED.
 */
#include "store/store_sqlite_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Prepares sql with ?1 bound to the index name. */
static int tix_prepare(store_sqlite *s, const char *sql, const char *name, sqlite3_stmt **q)
{
    int rc = sqlite3_prepare_v2(s->db, sql, -1, q, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(*q, 1, name, -1, SQLITE_STATIC);
    return rc;
}

static store_status tix_load_rows(store_sqlite *s, const char *name, store_tix_pos *pos, int maxpos,
                                  int *npos, const store_tix_sink *sink, char *err, size_t errlen)
{
    sqlite3_stmt *q = NULL;
    int rc = tix_prepare(s,
                         "SELECT partition, low, next_offset FROM topic_index_pos WHERE idx = ?1"
                         " ORDER BY partition",
                         name, &q);
    while (rc == SQLITE_OK && (rc = sqlite3_step(q)) == SQLITE_ROW) {
        if (*npos >= maxpos) {
            sqlite3_finalize(q);
            snprintf(err, errlen, "topic index %s: more than %d partitions", name, maxpos);
            return STORE_ERR_INTERNAL;
        }
        store_tix_pos *p = &pos[(*npos)++];
        p->partition = sqlite3_column_int(q, 0);
        p->low = sqlite3_column_int64(q, 1);
        p->next = sqlite3_column_int64(q, 2);
        rc = SQLITE_OK;
    }
    sqlite3_finalize(q);
    if (rc != SQLITE_DONE)
        return store_sqlite_fail(s, rc, "read index positions", err, errlen);
    if (sink->id) {
        rc =
            tix_prepare(s, "SELECT ids FROM topic_index_ids WHERE idx = ?1 ORDER BY seq", name, &q);
        while (rc == SQLITE_OK && (rc = sqlite3_step(q)) == SQLITE_ROW) {
            int u = store_tix_unpack(sqlite3_column_blob(q, 0), (size_t)sqlite3_column_bytes(q, 0),
                                     sink);
            if (u != 0) {
                sqlite3_finalize(q);
                snprintf(err, errlen, "topic index %s: %s", name,
                         u < 0 ? "malformed id segment" : "load stopped");
                return u < 0 ? STORE_ERR_IO : STORE_ERR_INTERNAL;
            }
            rc = SQLITE_OK;
        }
        sqlite3_finalize(q);
        if (rc != SQLITE_DONE)
            return store_sqlite_fail(s, rc, "read index ids", err, errlen);
    }
    if (sink->stat) {
        rc = tix_prepare(s, "SELECT kind, name, n FROM topic_index_stats WHERE idx = ?1", name, &q);
        while (rc == SQLITE_OK && (rc = sqlite3_step(q)) == SQLITE_ROW) {
            const char *kind = (const char *)sqlite3_column_text(q, 0);
            const char *nm = (const char *)sqlite3_column_text(q, 1);
            if (sink->stat(sink->arg, kind && *kind ? kind[0] : '?', nm ? nm : "",
                           sqlite3_column_int64(q, 2))) {
                sqlite3_finalize(q);
                snprintf(err, errlen, "topic index %s: load stopped", name);
                return STORE_ERR_INTERNAL;
            }
            rc = SQLITE_OK;
        }
        sqlite3_finalize(q);
        if (rc != SQLITE_DONE)
            return store_sqlite_fail(s, rc, "read index stats", err, errlen);
    }
    return STORE_OK;
}

store_status store_sqlite_tix_load(store *base, const char *name, store_tix_pos *pos, int maxpos,
                                   int *npos, const store_tix_sink *sink, char *err, size_t errlen)
{
    store_sqlite *s = (store_sqlite *)base;
    if (s->readonly) {
        snprintf(err, errlen, "topic index: read-only handle");
        return STORE_ERR_INTERNAL;
    }
    int rc = store_sqlite_step_done(s, ST_BEGIN_READ);
    if (rc != SQLITE_OK)
        return store_sqlite_fail(s, rc, "begin index read", err, errlen);
    store_status st = tix_load_rows(s, name, pos, maxpos, npos, sink, err, errlen);
    /* A read transaction: COMMIT only ends the snapshot. */
    rc = store_sqlite_step_done(s, st == STORE_OK ? ST_COMMIT : ST_ROLLBACK);
    if (st == STORE_OK && rc != SQLITE_OK)
        st = store_sqlite_fail(s, rc, "end index read", err, errlen);
    if (st != STORE_OK)
        *npos = 0;
    return st;
}

/* Runs q (bound), expecting exactly `want` changed rows (-1: any); 1 = matched. */
static int tix_step(store_sqlite *s, sqlite3_stmt *q, int want, int *rc)
{
    *rc = sqlite3_step(q);
    sqlite3_reset(q);
    if (*rc != SQLITE_DONE)
        return 0;
    *rc = SQLITE_OK;
    return want < 0 || sqlite3_changes(s->db) == want;
}

static int tix_bind_pos(sqlite3_stmt *q, const store_tix_pos *p, int first)
{
    int rc = sqlite3_bind_int(q, first, p->partition);
    rc |= sqlite3_bind_int64(q, first + 1, p->low);
    rc |= sqlite3_bind_int64(q, first + 2, p->next);
    return rc;
}

enum { TQ_DEL_POS, TQ_LEFT, TQ_DEL_IDS, TQ_DEL_STATS, TQ_UPD, TQ_INS, TQ_ID, TQ_STAT, TQ__N };

static const char *const tix_sql[TQ__N] = {
    [TQ_DEL_POS] = "DELETE FROM topic_index_pos WHERE idx = ?1 AND partition = ?2 AND low = ?3"
                   " AND next_offset = ?4",
    [TQ_LEFT] = "DELETE FROM topic_index_pos WHERE idx = ?1",
    [TQ_DEL_IDS] = "DELETE FROM topic_index_ids WHERE idx = ?1",
    [TQ_DEL_STATS] = "DELETE FROM topic_index_stats WHERE idx = ?1",
    [TQ_UPD] = "UPDATE topic_index_pos SET low = ?5, next_offset = ?6 WHERE idx = ?1"
               " AND partition = ?2 AND low = ?3 AND next_offset = ?4",
    [TQ_INS] = "INSERT OR IGNORE INTO topic_index_pos(idx, partition, low, next_offset)"
               " VALUES(?1, ?2, ?3, ?4)",
    [TQ_ID] = "INSERT INTO topic_index_ids(idx, seq, ids) VALUES(?1, (SELECT coalesce(max(seq),"
              " 0) + 1 FROM topic_index_ids WHERE idx = ?1), ?2)",
    [TQ_STAT] = "INSERT INTO topic_index_stats(idx, kind, name, n) VALUES(?1, ?2, ?3, ?4)"
                " ON CONFLICT(idx, kind, name) DO UPDATE SET n = n + excluded.n",
};

/* The transaction's statements; 1 = done, 0 = fenced, rc set on an error. */
static int tix_write(store_sqlite *s, sqlite3_stmt **q, const store_tix_update *u, int *rc)
{
    *rc = SQLITE_OK;
    if (u->reset) {
        /* Every position loaded must still be there as loaded, and no other. */
        for (int i = 0; i < u->nfrom; i++) {
            if ((*rc = tix_bind_pos(q[TQ_DEL_POS], &u->from[i], 2)) != SQLITE_OK)
                return 0;
            if (!tix_step(s, q[TQ_DEL_POS], 1, rc))
                return 0;
        }
        if (!tix_step(s, q[TQ_LEFT], 0, rc) || !tix_step(s, q[TQ_DEL_IDS], -1, rc) ||
            !tix_step(s, q[TQ_DEL_STATS], -1, rc))
            return 0;
    }
    for (int i = 0; i < u->nto; i++) {
        const store_tix_pos *to = &u->to[i];
        const store_tix_pos *from =
            u->reset ? NULL : store_tix_find(u->from, u->nfrom, to->partition);
        sqlite3_stmt *st = from ? q[TQ_UPD] : q[TQ_INS];
        *rc = from ? tix_bind_pos(st, from, 2) | sqlite3_bind_int64(st, 5, to->low) |
                         sqlite3_bind_int64(st, 6, to->next)
                   : tix_bind_pos(st, to, 2);
        if (*rc != SQLITE_OK || !tix_step(s, st, 1, rc))
            return 0;
    }
    if (u->nids) {
        unsigned char *seg = malloc(STORE_TIX_SEGMENT);
        if (!seg) {
            *rc = SQLITE_NOMEM;
            return 0;
        }
        size_t next = 0;
        long n;
        while ((n = store_tix_pack(u, &next, seg)) > 0) {
            if ((*rc = sqlite3_bind_blob(q[TQ_ID], 2, seg, (int)n, SQLITE_STATIC)) != SQLITE_OK ||
                !tix_step(s, q[TQ_ID], 1, rc))
                break;
        }
        free(seg);
        if (n < 0)
            *rc = SQLITE_TOOBIG;
        if (*rc != SQLITE_OK || n != 0)
            return 0;
    }
    for (size_t i = 0; i < u->nstats; i++) {
        const store_tix_stat *t = &u->stats[i];
        *rc = sqlite3_bind_text(q[TQ_STAT], 2, &t->kind, 1, SQLITE_STATIC);
        *rc |= sqlite3_bind_text(q[TQ_STAT], 3, t->name, -1, SQLITE_STATIC);
        *rc |= sqlite3_bind_int64(q[TQ_STAT], 4, t->n);
        if (*rc != SQLITE_OK || !tix_step(s, q[TQ_STAT], -1, rc))
            return 0;
    }
    return 1;
}

store_status store_sqlite_tix_add(store *base, const store_tix_update *u, char *err, size_t errlen)
{
    store_sqlite *s = (store_sqlite *)base;
    if (s->readonly) {
        snprintf(err, errlen, "topic index: read-only handle");
        return STORE_ERR_INTERNAL;
    }
    sqlite3_stmt *q[TQ__N] = {0};
    int rc = SQLITE_OK;
    for (int i = 0; i < TQ__N && rc == SQLITE_OK; i++)
        rc = tix_prepare(s, tix_sql[i], u->name, &q[i]);
    store_status st = STORE_OK;
    if (rc != SQLITE_OK) {
        st = store_sqlite_fail(s, rc, "prepare index write", err, errlen);
    } else if ((rc = store_sqlite_step_done(s, ST_BEGIN)) != SQLITE_OK) {
        st = store_sqlite_fail(s, rc, "begin index write", err, errlen);
    } else {
        int done = tix_write(s, q, u, &rc);
        if (rc != SQLITE_OK) {
            st = store_sqlite_fail(s, rc, "write index", err, errlen);
        } else if (!done) {
            snprintf(err, errlen, "topic index %s: positions moved by another writer", u->name);
            st = STORE_FENCED;
        } else if ((rc = store_sqlite_step_done(s, ST_COMMIT)) != SQLITE_OK) {
            st = store_sqlite_fail(s, rc, "commit index", err, errlen);
        }
        if (st != STORE_OK)
            (void)store_sqlite_step_done(s, ST_ROLLBACK);
    }
    for (int i = 0; i < TQ__N; i++)
        sqlite3_finalize(q[i]);
    return st;
}
