/*
 * store_pg_commit: store_commit() for PostgreSQL: the batch buffered by
 * store_pg_batch.c goes to the server as one transaction in two round trips,
 * whatever its size:
 *   1. pipeline: BEGIN, one fence per moved position, one statement per
 *      effect (prepared, in the order they were applied), sync;
 *   2. COMMIT if every result was right, else ROLLBACK.
 * (Blocking pipeline mode cannot deadlock on a large batch: while libpq
 * waits to send it reads and buffers what the server answers.)
 *
 * Fencing: the positions go first, each a compare-and-set on the position
 * the transaction started from (UPDATE ... WHERE next_offset = start, or
 * INSERT ... ON CONFLICT DO NOTHING for one never stored), in (topic,
 * partition) order so two instances cannot deadlock on them. An instance
 * that lost its partition gets 0 rows there (if the new owner's commit is in
 * flight, the row lock makes it wait for it and then see the new value), so
 * it rolls back and returns STORE_FENCED: it cannot commit over the owner.
 */
#include "store/store_pg_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How the pipeline's results went. */
typedef struct {
    store_status st;            /* the first failure, or STORE_OK */
    const store_pg_pos *fenced; /* the first position that moved under us */
    int broken;                 /* the protocol state is unknown: drop the connection */
} store_pg_outcome;

static int store_pg_commit_cmp(const void *a, const void *b)
{
    const store_pg_pos *x = *(const store_pg_pos *const *)a;
    const store_pg_pos *y = *(const store_pg_pos *const *)b;
    int c = strcmp(x->topic, y->topic);
    return c ? c : (x->partition > y->partition) - (x->partition < y->partition);
}

/* Queues the fence of one moved position. */
static int store_pg_commit_send_pos(store_pg *s, const store_pg_pos *p)
{
    char part[16], next[24], start[24];
    snprintf(part, sizeof part, "%" PRId32, p->partition);
    snprintf(next, sizeof next, "%" PRId64, p->next);
    snprintf(start, sizeof start, "%" PRId64, p->start);
    const char *vals[] = {p->topic, part, next, start};
    if (p->start_found)
        return PQsendQueryPrepared(s->conn, STORE_PG_POS_CAS, 4, vals, NULL, NULL, 0);
    return PQsendQueryPrepared(s->conn, STORE_PG_POS_NEW, 3, vals, NULL, NULL, 0);
}

static int store_pg_commit_send_eff(store_pg *s, const store_pg_effect *e)
{
    const char *vals[STORE_PG_EFF_PARAMS];
    int n = e->create ? STORE_PG_EFF_PARAMS : 3;
    for (int i = 0; i < n; i++)
        vals[i] = s->arena + e->off[i];
    return PQsendQueryPrepared(s->conn, e->create ? STORE_PG_ORD_INS : STORE_PG_ORD_UPD, n, vals,
                               NULL, NULL, 0);
}

/*
 * Reads the result of one queued statement and the NULL after it. fence: the
 * statement's position (one row expected, else fenced), or NULL; rows1: an
 * UPDATE that must touch its order's row.
 */
static void store_pg_commit_read(store_pg *s, store_pg_outcome *o, const store_pg_pos *fence,
                                 int rows1, char *err, size_t errlen)
{
    PGresult *r = PQgetResult(s->conn);
    if (!r) {
        if (o->st == STORE_OK)
            o->st = store_pg_fail(s, NULL, "commit: result missing", err, errlen);
        o->broken = 1;
        return;
    }
    ExecStatusType rs = PQresultStatus(r);
    if (rs == PGRES_COMMAND_OK) {
        int one = strcmp(PQcmdTuples(r), "1") == 0;
        if (fence && !one && !o->fenced)
            o->fenced = fence;
        else if (rows1 && !one && o->st == STORE_OK) {
            snprintf(err, errlen, "postgresql commit: an order known to exist was not updated");
            o->st = STORE_ERR_INTERNAL;
        }
    } else if (rs != PGRES_PIPELINE_ABORTED && o->st == STORE_OK) {
        o->st = store_pg_fail(s, r, "commit", err, errlen);
    }
    PQclear(r);
    r = PQgetResult(s->conn); /* the NULL that ends this statement's results */
    if (r) {
        PQclear(r);
        o->broken = 1;
    }
}

/* Round trip 1: queues the whole transaction but COMMIT, syncs, reads every result. */
static void store_pg_commit_pipeline(store_pg *s, store_pg_outcome *o, char *err, size_t errlen)
{
    const store_pg_pos *order[STORE_PG_POS_MAX];
    size_t nd = 0;
    for (size_t i = 0; i < s->npos; i++)
        if (s->pos[i].dirty)
            order[nd++] = &s->pos[i];
    qsort(order, nd, sizeof order[0], store_pg_commit_cmp);

    if (!PQenterPipelineMode(s->conn)) {
        o->st = store_pg_fail(s, NULL, "pipeline", err, errlen);
        o->broken = 1;
        return;
    }
    int sent = PQsendQueryParams(s->conn, "BEGIN", 0, NULL, NULL, NULL, NULL, 0);
    for (size_t i = 0; sent && i < nd; i++)
        sent = store_pg_commit_send_pos(s, order[i]);
    for (size_t i = 0; sent && i < s->neff; i++)
        sent = store_pg_commit_send_eff(s, &s->eff[i]);
    if (!sent || !PQpipelineSync(s->conn)) {
        /* Half a pipeline on the wire: only a new connection is a known state. */
        o->st = store_pg_fail(s, NULL, "send", err, errlen);
        o->broken = 1;
        return;
    }
    store_pg_commit_read(s, o, NULL, 0, err, errlen); /* BEGIN */
    for (size_t i = 0; i < nd && !o->broken; i++)
        store_pg_commit_read(s, o, order[i], 0, err, errlen);
    for (size_t i = 0; i < s->neff && !o->broken; i++)
        store_pg_commit_read(s, o, NULL, !s->eff[i].create, err, errlen);
    if (o->broken)
        return;
    PGresult *r = PQgetResult(s->conn);
    if (!r || PQresultStatus(r) != PGRES_PIPELINE_SYNC)
        o->broken = 1;
    PQclear(r);
    if (!o->broken && !PQexitPipelineMode(s->conn))
        o->broken = 1;
    if (o->broken && o->st == STORE_OK)
        o->st = store_pg_fail(s, NULL, "commit: pipeline out of step", err, errlen);
}

/* Round trip 2: COMMIT. STORE_OK only if the server says it committed. */
static store_status store_pg_commit_end(store_pg *s, char *err, size_t errlen)
{
    PGresult *r = PQexec(s->conn, "COMMIT");
    store_status st = STORE_OK;
    if (!r || PQresultStatus(r) != PGRES_COMMAND_OK)
        st = store_pg_fail(s, r, "commit", err, errlen);
    else if (strcmp(PQcmdStatus(r), "COMMIT") != 0) {
        snprintf(err, errlen, "postgresql commit: the server rolled back (%s)", PQcmdStatus(r));
        st = STORE_ERR_IO;
    }
    PQclear(r);
    return st;
}

store_status store_pg_commit(store *base, char *err, size_t errlen)
{
    store_pg *s = (store_pg *)base;
    if (!s->in_txn || s->failed) {
        snprintf(err, errlen, "store_commit: %s",
                 s->in_txn ? "the transaction failed: roll it back" : "no transaction");
        return STORE_ERR_INTERNAL;
    }
    int moved = 0;
    for (size_t i = 0; i < s->npos; i++)
        moved |= s->pos[i].dirty;
    if (!moved && s->neff == 0) {
        s->in_txn = 0; /* nothing to write: no round trip */
        return STORE_OK;
    }
    store_status st = STORE_OK;
    if (!s->conn || PQstatus(s->conn) != CONNECTION_OK) {
        st = store_pg_fail(s, NULL, "commit", err, errlen);
    } else {
        store_pg_outcome o = {STORE_OK, NULL, 0};
        store_pg_commit_pipeline(s, &o, err, errlen);
        st = o.st;
        if (o.fenced) {
            snprintf(err, errlen,
                     "position of %s[%" PRId32 "] moved from %" PRId64
                     ": another instance owns the partition; batch dropped",
                     o.fenced->topic, o.fenced->partition, o.fenced->start);
            st = STORE_FENCED;
        }
        if (o.broken) {
            PQfinish(s->conn); /* the server rolls back what it had; reconnect on begin */
            s->conn = NULL;
        } else if (st == STORE_OK) {
            st = store_pg_commit_end(s, err, errlen);
        } else {
            PQclear(PQexec(s->conn, "ROLLBACK")); /* the failure at hand is the one to report */
        }
    }
    if (st != STORE_OK) {
        s->failed = 1; /* the caller rolls back: positions reload from the server */
        return st;
    }
    s->in_txn = 0;
    s->neff = 0;
    s->arena_len = 0;
    for (size_t i = 0; i < s->npos; i++) {
        store_pg_pos *p = &s->pos[i];
        p->start = p->next;
        p->start_found = p->found;
        p->dirty = 0;
    }
    return STORE_OK;
}
