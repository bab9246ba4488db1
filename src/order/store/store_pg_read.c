/*
 * store_pg_read: the order reads of the PostgreSQL backend (store.h):
 * store_get_order(), and store_get_orders(), which answers many ids in one
 * statement so the HTTP side pays one round trip per batch of requests.
 *
 * Both are single statements (an order joined with its history), each its
 * own snapshot, so an order always agrees with its history. The many-ids
 * statement numbers its ids (WITH ORDINALITY) and returns each row with the
 * index into the caller's array: nothing is matched by text on the way back,
 * and an id asked twice is answered twice.
 */
#include "store/store_pg_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Columns of a row after its first (c0): the ord_get / ord_hist layout. */
enum {
    PG_COL_CUSTOMER,
    PG_COL_DATE,
    PG_COL_ITEMS,
    PG_COL_TOTAL,
    PG_COL_CURRENCY,
    PG_COL_STATUS,
    PG_COL_SHIPPING,
    PG_COL_CREATED,
    PG_COL_UPDATED,
    PG_COL_CREATED_STATUS,
    PG_COL_H_STATUS, /* ord_hist / ord_many: one history entry (NULL: none) */
    PG_COL_H_AT,
    PG_COLS
};

/* A statement answered with other columns than it asks for: the store's fault (a foreign
 * table of that name), retried like any other. */
static store_status store_pg_columns(char *err, size_t errlen, const char *what, int got, int want)
{
    snprintf(err, errlen, "postgresql %s: %d columns, %d expected", what, got, want);
    return STORE_ERR_IO;
}

int64_t store_pg_col_int(const PGresult *r, int row, int col)
{
    if (PQgetisnull(r, row, col))
        return -1;
    char *end = NULL;
    long long v = strtoll(PQgetvalue(r, row, col), &end, 10);
    return end && *end == '\0' ? (int64_t)v : -1;
}

static void store_pg_copy(const PGresult *r, int row, int col, char *dst, size_t cap)
{
    snprintf(dst, cap, "%s", PQgetisnull(r, row, col) ? "" : PQgetvalue(r, row, col));
}

/* Fills out from a row whose order columns start at c0; items_json points into r. */
static void store_pg_fill(const PGresult *r, int row, int c0, const char *order_id,
                          store_order *out, char *created_status)
{
    memset(out, 0, sizeof *out);
    snprintf(out->order_id, sizeof out->order_id, "%s", order_id);
    store_pg_copy(r, row, c0 + PG_COL_CUSTOMER, out->customer_id, sizeof out->customer_id);
    store_pg_copy(r, row, c0 + PG_COL_DATE, out->order_date, sizeof out->order_date);
    out->items_json = PQgetvalue(r, row, c0 + PG_COL_ITEMS);
    out->items_json_len = (size_t)PQgetlength(r, row, c0 + PG_COL_ITEMS);
    out->total_cents = store_pg_col_int(r, row, c0 + PG_COL_TOTAL);
    store_pg_copy(r, row, c0 + PG_COL_CURRENCY, out->currency, sizeof out->currency);
    store_pg_copy(r, row, c0 + PG_COL_STATUS, out->status, sizeof out->status);
    out->shipping_cents = store_pg_col_int(r, row, c0 + PG_COL_SHIPPING);
    out->created_at_ms = store_pg_col_int(r, row, c0 + PG_COL_CREATED);
    out->updated_at_ms = store_pg_col_int(r, row, c0 + PG_COL_UPDATED);
    store_pg_copy(r, row, c0 + PG_COL_CREATED_STATUS, created_status, ORDER_STATUS_MAX + 1);
}

/* The handle's copy of the items (store.h: valid until the next call, not until PQclear). */
static store_status store_pg_keep_items(store_pg *s, store_order *out, char *err, size_t errlen)
{
    size_t ilen = out->items_json_len;
    if (ilen + 1 > s->bufcap) {
        char *nb = realloc(s->buf, ilen + 1);
        if (!nb) {
            snprintf(err, errlen, "out of memory");
            return STORE_ERR_IO;
        }
        s->buf = nb;
        s->bufcap = ilen + 1;
    }
    memcpy(s->buf, out->items_json, ilen);
    s->buf[ilen] = '\0';
    out->items_json = s->buf;
    return STORE_OK;
}

store_status store_pg_get_order(store *base, const char *order_id, store_order *out,
                                store_history_fn fn, void *arg, char *err, size_t errlen)
{
    store_pg *s = (store_pg *)base;
    store_status st = s->in_txn ? STORE_OK : store_pg_ensure(s, err, errlen);
    if (st != STORE_OK)
        return st;
    const char *vals[] = {order_id};
    PGresult *r = store_pg_exec(s, fn ? STORE_PG_ORD_HIST : STORE_PG_ORD_GET, 1, vals);
    int want = fn ? PG_COLS : PG_COL_H_STATUS;
    if (!r || PQresultStatus(r) != PGRES_TUPLES_OK)
        st = store_pg_fail(s, r, "read order", err, errlen);
    else if (PQntuples(r) == 0)
        st = STORE_NOT_FOUND;
    else if (PQnfields(r) != want)
        st = store_pg_columns(err, errlen, "read order", PQnfields(r), want);
    char created_status[ORDER_STATUS_MAX + 1];
    if (st == STORE_OK) {
        store_pg_fill(r, 0, 0, order_id, out, created_status);
        st = store_pg_keep_items(s, out, err, errlen);
    }
    if (st == STORE_OK && fn) {
        fn(arg, created_status, out->created_at_ms);
        for (int i = 0; i < PQntuples(r); i++)
            if (!PQgetisnull(r, i, PG_COL_H_STATUS))
                fn(arg, PQgetvalue(r, i, PG_COL_H_STATUS), store_pg_col_int(r, i, PG_COL_H_AT));
    }
    PQclear(r);
    return st;
}

/* ids as a text[] literal into s->lit: {"a","b"}. Quoted, so an id spelled NULL
 * stays text; orderIds have nothing to escape (store.c checked them). */
static int store_pg_ids_literal(store_pg *s, const char *const *ids, size_t nids)
{
    jsonw *w = &s->lit;
    jsonw_reset(w);
    jsonw_bytes(w, "{", 1);
    for (size_t i = 0; i < nids; i++) {
        if (i)
            jsonw_bytes(w, ",", 1);
        jsonw_bytes(w, "\"", 1);
        jsonw_bytes(w, ids[i], strlen(ids[i]));
        jsonw_bytes(w, "\"", 1);
    }
    jsonw_bytes(w, "}", 2); /* with its NUL */
    return jsonw_ok(w);
}

store_status store_pg_get_orders(store *base, const char *const *ids, size_t nids,
                                 const store_order_sink *sink, char *err, size_t errlen)
{
    store_pg *s = (store_pg *)base;
    store_status st = store_pg_ensure(s, err, errlen);
    if (st != STORE_OK)
        return st;
    if (!store_pg_ids_literal(s, ids, nids)) {
        snprintf(err, errlen, "store_get_orders: out of memory");
        return STORE_ERR_IO;
    }
    const char *vals[] = {s->lit.buf};
    PGresult *r = store_pg_exec(s, STORE_PG_ORD_MANY, 1, vals);
    if (!r || PQresultStatus(r) != PGRES_TUPLES_OK) {
        st = store_pg_fail(s, r, "read orders", err, errlen);
    } else if (PQntuples(r) > 0 && PQnfields(r) != 1 + PG_COLS) {
        st = store_pg_columns(err, errlen, "read orders", PQnfields(r), 1 + PG_COLS);
    } else {
        int64_t cur = -1;
        for (int i = 0; i < PQntuples(r); i++) {
            int64_t idx = store_pg_col_int(r, i, 0);
            if (idx < 0 || (size_t)idx >= nids)
                continue;     /* an index from the server is never trusted as is */
            if (idx != cur) { /* rows come by index, then history order */
                store_order o;
                char created_status[ORDER_STATUS_MAX + 1];
                store_pg_fill(r, i, 1, ids[idx], &o, created_status);
                sink->order(sink->arg, (size_t)idx, &o);
                sink->history(sink->arg, (size_t)idx, created_status, o.created_at_ms);
                cur = idx;
            }
            if (!PQgetisnull(r, i, 1 + PG_COL_H_STATUS))
                sink->history(sink->arg, (size_t)idx, PQgetvalue(r, i, 1 + PG_COL_H_STATUS),
                              store_pg_col_int(r, i, 1 + PG_COL_H_AT));
        }
    }
    PQclear(r);
    return st;
}
