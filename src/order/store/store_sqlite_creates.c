/*
 * store_sqlite_creates: store_apply_creates() on SQLite: a run of CREATEs in
 * one multi-row INSERT instead of one statement each.
 *
 * Why: in catch-up nearly every event is a new CREATE, and of the ~10,000
 * instructions a one-row INSERT cost, a third was the statement's own
 * overhead (its start, cursor open/close, halt and reset) rather than the
 * B-tree work (bench/profile-notes.md). One statement per run pays that once.
 *
 * All or nothing, so the caller's per-record decisions stay exactly those of
 * store_apply(): every position is checked first (nothing is done if any
 * event is not new); the INSERT OR IGNORE then either inserts every row, or
 * the rows it did insert are deleted again (they are the rows above the
 * largest rowid the table had before: orders are never deleted, and SQLite
 * gives a new row the largest rowid + 1 while that is below 2^63 - 1) and the
 * caller applies the run one by one. The undo is inside the open transaction
 * and leaves the table as it was; it runs only when an orderId of the run
 * existed already or came twice in it (a redelivery or a duplicate: rare).
 */
#include "store/store_sqlite_int.h"

#include "event/order_json.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Parameters per row: ?1 order_id, ?2 customer_id, ?3 order_date, ?4 items,
 * ?5 total_cents, ?6 currency, ?7 status (and created_status), ?8 shipping,
 * ?9 timestamp (created_at and updated_at), offset by 9 per row. */
#define CREATES_PARAMS 9

/* The INSERT for n rows, prepared at its first use and kept. */
static sqlite3_stmt *creates_stmt(store_sqlite *s, size_t n, int *rc)
{
    if (s->creates[n]) {
        *rc = SQLITE_OK;
        return s->creates[n];
    }
    char sql[128 + STORE_CREATES_MAX * 96];
    size_t len = (size_t)snprintf(
        sql, sizeof sql,
        "INSERT OR IGNORE INTO orders(order_id, customer_id, order_date, items, total_cents,"
        " currency, status, created_status, shipping_cents, created_at, updated_at, history_len)"
        " VALUES");
    for (size_t i = 0; i < n && len < sizeof sql; i++) {
        int b = (int)(i * CREATES_PARAMS);
        len += (size_t)snprintf(sql + len, sizeof sql - len,
                                "%s(?%d,?%d,?%d,?%d,?%d,?%d,?%d,?%d,?%d,?%d,?%d,1)", i ? "," : "",
                                b + 1, b + 2, b + 3, b + 4, b + 5, b + 6, b + 7, b + 7, b + 8,
                                b + 9, b + 9);
    }
    if (len >= sizeof sql) { /* cannot happen: sized for STORE_CREATES_MAX rows */
        *rc = SQLITE_TOOBIG;
        return NULL;
    }
    *rc = sqlite3_prepare_v3(s->db, sql, (int)len, SQLITE_PREPARE_PERSISTENT, &s->creates[n], NULL);
    return *rc == SQLITE_OK ? s->creates[n] : NULL;
}

/* A prepared one-value statement's integer answer (SQLITE_ROW expected). */
static int creates_step_int(store_sqlite *s, int idx, int64_t *out)
{
    sqlite3_stmt *q = s->st[idx];
    int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        *out = sqlite3_column_int64(q, 0);
        rc = SQLITE_OK;
    }
    sqlite3_reset(q);
    return rc;
}

/* Renders every event's items the caller did not render into s->runbuf, one
 * after another; their offsets (SIZE_MAX: the caller's text) and lengths
 * into at[] and len[]. 0, or -1 (out of memory). */
static int creates_render(store_sqlite *s, const store_create *c, size_t n, size_t *at, size_t *len)
{
    size_t used = 0;
    for (size_t i = 0; i < n; i++) {
        if (c[i].items_json) { /* rendered by the caller: bound where it is */
            at[i] = SIZE_MAX;
            len[i] = c[i].items_len;
            continue;
        }
        jsonw_reset(&s->items);
        order_json_items(&s->items, c[i].ev);
        if (!jsonw_ok(&s->items))
            return -1;
        size_t l = s->items.len;
        if (used + l > s->runcap) {
            size_t cap = s->runcap ? s->runcap : 4096;
            while (cap < used + l)
                cap *= 2;
            char *nb = realloc(s->runbuf, cap);
            if (!nb)
                return -1;
            s->runbuf = nb;
            s->runcap = cap;
        }
        memcpy(s->runbuf + used, s->items.buf, l);
        at[i] = used;
        len[i] = l;
        used += l;
    }
    return 0;
}

static int creates_bind(sqlite3_stmt *q, const store_sqlite *s, const store_create *c, size_t n,
                        const size_t *at, const size_t *len)
{
    int rc = SQLITE_OK;
    for (size_t i = 0; i < n && rc == SQLITE_OK; i++) {
        const char *items = at[i] == SIZE_MAX ? c[i].items_json : s->runbuf + at[i];
        rc = store_sqlite_bind_create(q, (int)(i * CREATES_PARAMS), c[i].ev, items, len[i]);
    }
    return rc;
}

/* The positions of the run, checked in order as if each event were applied:
 * STORE_OK if every one is new (slots[] then holds each one's slot, not
 * moved yet), STORE_SKIPPED if one is not, or the failure. */
static store_status creates_check(store_sqlite *s, const char *topic, const store_create *c,
                                  size_t n, store_pos **slots, char *err, size_t errlen)
{
    for (size_t i = 0; i < n; i++) {
        if (c[i].ev->type != ORDER_EVENT_CREATE) {
            snprintf(err, errlen, "store_apply_creates: event %zu is not a CREATE", i);
            return STORE_ERR_INTERNAL;
        }
        store_status st =
            store_sqlite_pos_check(s, topic, c[i].partition, c[i].offset, &slots[i], err, errlen);
        if (st != STORE_OK)
            return st;
        /* the run's own earlier events count as applied: ascending offsets only */
        for (size_t j = 0; j < i; j++)
            if (slots[j] == slots[i] && c[i].offset <= c[j].offset)
                return STORE_SKIPPED;
    }
    return STORE_OK;
}

store_status store_sqlite_apply_creates(store *base, const char *topic, const store_create *c,
                                        size_t n, char *err, size_t errlen)
{
    store_sqlite *s = (store_sqlite *)base;
    store_pos *slots[STORE_CREATES_MAX];
    size_t at[STORE_CREATES_MAX], len[STORE_CREATES_MAX];
    store_status st = creates_check(s, topic, c, n, slots, err, errlen);
    if (st != STORE_OK)
        return st;
    if (creates_render(s, c, n, at, len) != 0) {
        snprintf(err, errlen, "rendering items failed");
        return STORE_ERR_INTERNAL;
    }
    int64_t top = 0;
    int rc = creates_step_int(s, ST_MAX_ROWID, &top);
    if (rc != SQLITE_OK)
        return store_sqlite_fail(s, rc, "highest rowid", err, errlen);
    if (top == INT64_MAX) /* new rowids no longer above it: no exact undo */
        return STORE_SKIPPED;
    sqlite3_stmt *q = creates_stmt(s, n, &rc);
    if (q)
        rc = creates_bind(q, s, c, n, at, len);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(q);
        rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
    }
    if (q) {
        sqlite3_reset(q);
        sqlite3_clear_bindings(q); /* the texts bound are the caller's */
    }
    if (rc != SQLITE_OK) {
        /* The statement undid itself; the caller's one-by-one applies then name
         * the event at fault. Unless SQLite ended the whole transaction. */
        if (sqlite3_get_autocommit(s->db))
            return store_sqlite_fail(s, rc, "insert orders", err, errlen);
        return STORE_SKIPPED;
    }
    if ((size_t)sqlite3_changes(s->db) != n) {
        sqlite3_stmt *u = s->st[ST_UNDO_ROWS];
        rc = sqlite3_bind_int64(u, 1, top);
        if (rc == SQLITE_OK)
            rc = store_sqlite_step_done(s, ST_UNDO_ROWS);
        if (rc != SQLITE_OK)
            return store_sqlite_fail(s, rc, "undo insert orders", err, errlen);
        return STORE_SKIPPED;
    }
    for (size_t i = 0; i < n; i++)
        store_sqlite_pos_advance(slots[i], c[i].offset);
    return STORE_OK;
}
