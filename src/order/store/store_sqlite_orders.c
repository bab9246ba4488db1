/*
 * store_sqlite_orders: orders and their status history in the SQLite store
 * (store.h): applying CREATE/UPDATE events and reading an order back. An
 * order's first entries are in its row (store_sqlite_layout.c says why and
 * encodes them); status_history holds the rest.
 * Items are stored as pre-rendered JSON text: the order-details answer
 * embeds them as is, and they are never queried by field.
 */
#include "store/store_sqlite_int.h"

#include "event/order_json.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int store_render_items(store_sqlite *s, const order_event *ev)
{
    jsonw *w = &s->items;
    jsonw_reset(w);
    order_json_items(w, ev);
    return jsonw_ok(w) ? 0 : -1;
}

static store_status store_insert_history(store_sqlite *s, const char *order_id, int64_t seq,
                                         const char *status, int64_t at, char *err, size_t errlen)
{
    sqlite3_stmt *h = s->st[ST_INS_HIST];
    int rc = sqlite3_bind_text(h, 1, order_id, -1, SQLITE_STATIC);
    rc |= sqlite3_bind_int64(h, 2, seq);
    rc |= sqlite3_bind_text(h, 3, status, -1, SQLITE_STATIC);
    rc |= sqlite3_bind_int64(h, 4, at);
    if (rc == SQLITE_OK)
        rc = store_sqlite_step_done(s, ST_INS_HIST);
    return rc == SQLITE_OK ? STORE_OK : store_sqlite_fail(s, rc, "insert history", err, errlen);
}

int store_sqlite_bind_create(sqlite3_stmt *q, int base, const order_event *ev, const char *items,
                             size_t items_len)
{
    if (items_len > INT_MAX)
        return SQLITE_TOOBIG;
    int rc = sqlite3_bind_text(q, base + 1, ev->order_id, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(q, base + 2, ev->customer_id, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(q, base + 3, ev->order_date, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(q, base + 4, items, (int)items_len, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(q, base + 5, ev->total_cents);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(q, base + 6, ev->currency, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(q, base + 7, ev->status, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(q, base + 8, order_shipping_cents(ev->total_cents));
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(q, base + 9, ev->timestamp_ms);
    return rc;
}

/* Steps q (bound already; rc the binds' result): a row means the event is
 * applied already (STORE_REDELIVERED), none means absent. */
static store_status store_if_found(store_sqlite *s, sqlite3_stmt *q, int rc, store_status absent,
                                   const char *what, char *err, size_t errlen)
{
    if (rc == SQLITE_OK)
        rc = sqlite3_step(q);
    sqlite3_reset(q);
    if (rc == SQLITE_ROW)
        return STORE_REDELIVERED;
    if (rc != SQLITE_DONE)
        return store_sqlite_fail(s, rc, what, err, errlen);
    return absent;
}

static store_status store_create_one(store_sqlite *s, const order_event *ev, char *err,
                                     size_t errlen)
{
    if (store_render_items(s, ev) != 0) {
        snprintf(err, errlen, "rendering items failed");
        return STORE_ERR_INTERNAL;
    }
    sqlite3_stmt *q = s->st[ST_INS_ORDER];
    int rc = store_sqlite_bind_create(q, 0, ev, s->items.buf, s->items.len);
    if (rc == SQLITE_OK)
        rc = store_sqlite_step_done(s, ST_INS_ORDER);
    if (rc != SQLITE_OK)
        return store_sqlite_fail(s, rc, "insert order", err, errlen);
    /* The first history entry (seq 1) is the row's created_status/created_at:
     * one B-tree insert less per CREATE, a quarter of the store's cost. */
    if (sqlite3_changes(s->db) != 0)
        return STORE_OK;
    /* The orderId exists: the same order again (a redelivery, or a client's retry: the
     * same content at a later time) is already applied, another one a duplicate. */
    q = s->st[ST_SAME_CREATE];
    rc = sqlite3_bind_text(q, 1, ev->order_id, -1, SQLITE_STATIC);
    rc |= sqlite3_bind_text(q, 2, ev->customer_id, -1, SQLITE_STATIC);
    rc |= sqlite3_bind_text(q, 3, s->items.buf, (int)s->items.len, SQLITE_STATIC);
    rc |= sqlite3_bind_int64(q, 4, ev->total_cents);
    rc |= sqlite3_bind_text(q, 5, ev->currency, -1, SQLITE_STATIC);
    rc |= sqlite3_bind_text(q, 6, ev->status, -1, SQLITE_STATIC);
    return store_if_found(s, q, rc, STORE_DUPLICATE, "compare order", err, errlen);
}

/* Binds an UPDATE's status, time and id (?1-?3) to q; SQLITE_OK or the error. */
static int store_bind_update(sqlite3_stmt *q, const order_event *ev)
{
    int rc = sqlite3_bind_text(q, 1, ev->status, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(q, 2, ev->timestamp_ms);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(q, 3, ev->order_id, -1, SQLITE_STATIC);
    return rc;
}

static store_status store_update(store_sqlite *s, const order_event *ev, char *err, size_t errlen)
{
    char entry[STORE_SQLITE_HIST_ENTRY_MAX];
    size_t elen = store_sqlite_hist_put(entry, sizeof entry, ev->status, ev->timestamp_ms);
    if (elen == 0) {
        snprintf(err, errlen, "status not storable");
        return STORE_ERR_INTERNAL;
    }
    sqlite3_stmt *q = s->st[ST_UPD_ORDER];
    int rc = store_bind_update(q, ev);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(q, 4, entry, (int)elen, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = store_sqlite_step_done(s, ST_UPD_ORDER);
    if (rc != SQLITE_OK)
        return store_sqlite_fail(s, rc, "update order", err, errlen);
    if (sqlite3_changes(s->db) != 0)
        return STORE_OK; /* the entry went into the row */
    /* Nothing changed: a row without room, an unknown order, or one that has
     * this status already (a redelivered or retried UPDATE: idempotent). */
    q = s->st[ST_UPD_FULL];
    rc = store_bind_update(q, ev);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(q);
    int64_t seq = 0;
    if (rc == SQLITE_ROW) {
        seq = sqlite3_column_int64(q, 0);
        rc = sqlite3_step(q); /* runs the statement to completion */
    }
    sqlite3_reset(q);
    if (rc != SQLITE_DONE)
        return store_sqlite_fail(s, rc, "update order", err, errlen);
    if (seq != 0)
        return store_insert_history(s, ev->order_id, seq, ev->status, ev->timestamp_ms, err,
                                    errlen);
    q = s->st[ST_EXISTS];
    rc = sqlite3_bind_text(q, 1, ev->order_id, -1, SQLITE_STATIC);
    return store_if_found(s, q, rc, STORE_NOT_FOUND, "look up order", err, errlen);
}

store_status store_sqlite_apply(store *base, const char *topic, int32_t partition, int64_t offset,
                                const order_event *ev, char *err, size_t errlen)
{
    store_sqlite *s = (store_sqlite *)base;
    store_pos *p;
    store_status st = store_sqlite_pos_check(s, topic, partition, offset, &p, err, errlen);
    if (st != STORE_OK)
        return st;
    st = ev->type == ORDER_EVENT_CREATE ? store_create_one(s, ev, err, errlen)
                                        : store_update(s, ev, err, errlen);
    if (st == STORE_OK || st == STORE_REDELIVERED)
        store_sqlite_pos_advance(p, offset);
    return st;
}

static void store_copy_col(sqlite3_stmt *q, int col, char *dst, size_t cap)
{
    const unsigned char *t = sqlite3_column_text(q, col);
    size_t n = t ? (size_t)sqlite3_column_bytes(q, col) : 0;
    if (n >= cap)
        n = cap - 1;
    if (n)
        memcpy(dst, t, n);
    dst[n] = '\0';
}

/* What a read of the row keeps besides *out: the history entries in the row. */
typedef struct {
    char created_status[ORDER_STATUS_MAX + 1];
    int64_t len; /* history_len: entries in all */
    char inrow[STORE_SQLITE_HIST_ROW_MAX];
    size_t inrow_len;
} store_row_hist;

/* The order's row (one statement: its own snapshot outside a transaction). */
static store_status store_read_row(store_sqlite *s, const char *order_id, store_order *out,
                                   store_row_hist *h, char *err, size_t errlen)
{
    sqlite3_stmt *q = s->st[ST_GET_ORDER];
    int rc = sqlite3_bind_text(q, 1, order_id, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(q);
    if (rc == SQLITE_DONE) {
        sqlite3_reset(q);
        return STORE_NOT_FOUND;
    }
    if (rc != SQLITE_ROW) {
        sqlite3_reset(q);
        return store_sqlite_fail(s, rc, "read order", err, errlen);
    }
    memset(out, 0, sizeof *out);
    snprintf(out->order_id, sizeof out->order_id, "%s", order_id);
    store_copy_col(q, 0, out->customer_id, sizeof out->customer_id);
    store_copy_col(q, 1, out->order_date, sizeof out->order_date);
    const void *items = sqlite3_column_text(q, 2);
    size_t ilen = items ? (size_t)sqlite3_column_bytes(q, 2) : 0;
    if (ilen + 1 > s->bufcap) {
        char *nb = realloc(s->buf, ilen + 1);
        if (!nb) {
            sqlite3_reset(q);
            snprintf(err, errlen, "out of memory");
            return STORE_ERR_IO;
        }
        s->buf = nb;
        s->bufcap = ilen + 1;
    }
    if (ilen)
        memcpy(s->buf, items, ilen);
    s->buf[ilen] = '\0';
    out->items_json = s->buf;
    out->items_json_len = ilen;
    out->total_cents = sqlite3_column_int64(q, 3);
    store_copy_col(q, 4, out->currency, sizeof out->currency);
    store_copy_col(q, 5, out->status, sizeof out->status);
    out->shipping_cents = sqlite3_column_int64(q, 6);
    out->created_at_ms = sqlite3_column_int64(q, 7);
    out->updated_at_ms = sqlite3_column_int64(q, 8);
    store_copy_col(q, 9, h->created_status, sizeof h->created_status);
    h->len = sqlite3_column_int64(q, 10);
    /* Only an order ever updated has entries in its row (NULL before, or ''
     * in a file written before that rule); the bytes as they are. */
    const void *inrow = h->len > 1 ? sqlite3_column_blob(q, 11) : NULL;
    size_t hn = inrow ? (size_t)sqlite3_column_bytes(q, 11) : 0;
    if (hn > sizeof h->inrow) { /* more than the update statement ever appends */
        sqlite3_reset(q);
        snprintf(err, errlen, "sqlite read order: history of %s is damaged", order_id);
        return STORE_ERR_IO;
    }
    if (hn)
        memcpy(h->inrow, inrow, hn);
    h->inrow_len = hn;
    sqlite3_reset(q);
    return STORE_OK;
}

/* The entries the row holds: created first, then the in-row ones (the row's
 * history_len must agree with how many there are). */
static store_status store_emit_row_hist(const store_row_hist *h, const char *order_id,
                                        int64_t created_at, store_history_fn fn, void *arg,
                                        char *err, size_t errlen)
{
    int64_t want = h->len - 1 < STORE_SQLITE_HIST_INROW ? h->len - 1 : STORE_SQLITE_HIST_INROW;
    if (want < 0 || store_sqlite_hist_each(h->inrow, h->inrow_len, NULL, NULL) != want) {
        snprintf(err, errlen, "sqlite read order: history of %s is damaged", order_id);
        return STORE_ERR_IO;
    }
    fn(arg, h->created_status, created_at);
    (void)store_sqlite_hist_each(h->inrow, h->inrow_len, fn, arg);
    return STORE_OK;
}

/* The history rows beyond the row's own (status_history), oldest first. */
static store_status store_read_history(store_sqlite *s, const char *order_id, store_history_fn fn,
                                       void *arg, char *err, size_t errlen)
{
    sqlite3_stmt *h = s->st[ST_GET_HIST];
    int rc = sqlite3_bind_text(h, 1, order_id, -1, SQLITE_STATIC);
    if (rc != SQLITE_OK)
        return store_sqlite_fail(s, rc, "bind", err, errlen);
    while ((rc = sqlite3_step(h)) == SQLITE_ROW)
        fn(arg, (const char *)sqlite3_column_text(h, 0), sqlite3_column_int64(h, 1));
    sqlite3_reset(h);
    if (rc != SQLITE_DONE)
        return store_sqlite_fail(s, rc, "read history", err, errlen);
    return STORE_OK;
}

/*
 * The row and its history must be one snapshot. An order with no more
 * entries than its row holds (history_len <= 1 + STORE_SQLITE_HIST_INROW:
 * every order but those updated very often) is one statement, which is its
 * own snapshot: no BEGIN/COMMIT, no second statement (bench/profile-notes.md).
 * Otherwise the row is read again with status_history in one read transaction.
 */
store_status store_sqlite_get_order(store *base, const char *order_id, store_order *out,
                                    store_history_fn fn, void *arg, char *err, size_t errlen)
{
    store_sqlite *s = (store_sqlite *)base;
    store_row_hist h;
    int own_txn = !s->in_txn;
    store_status st;
    if (own_txn) {
        st = store_read_row(s, order_id, out, &h, err, errlen);
        if (st != STORE_OK || !fn)
            return st;
        if (h.len <= 1 + STORE_SQLITE_HIST_INROW)
            return store_emit_row_hist(&h, order_id, out->created_at_ms, fn, arg, err, errlen);
        int rc = store_sqlite_step_done(s, ST_BEGIN_READ);
        if (rc != SQLITE_OK)
            return store_sqlite_fail(s, rc, "begin read", err, errlen);
    }
    st = store_read_row(s, order_id, out, &h, err, errlen);
    if (st == STORE_OK && fn) {
        st = store_emit_row_hist(&h, order_id, out->created_at_ms, fn, arg, err, errlen);
        if (st == STORE_OK && h.len > 1 + STORE_SQLITE_HIST_INROW)
            st = store_read_history(s, order_id, fn, arg, err, errlen);
    }
    if (own_txn) {
        int rc = store_sqlite_step_done(s, ST_COMMIT);
        if (rc != SQLITE_OK && st == STORE_OK)
            st = store_sqlite_fail(s, rc, "end read", err, errlen);
    }
    return st;
}

store_status store_sqlite_count_orders(store *base, int64_t *count, char *err, size_t errlen)
{
    store_sqlite *s = (store_sqlite *)base;
    sqlite3_stmt *q = s->st[ST_COUNT];
    int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW)
        *count = sqlite3_column_int64(q, 0);
    sqlite3_reset(q);
    if (rc != SQLITE_ROW)
        return store_sqlite_fail(s, rc, "count orders", err, errlen);
    return STORE_OK;
}

/* One statement (one snapshot) for every waiter's question. Prepared at its
 * first use and kept: the read-your-writes thread runs it after each of the
 * consumer's commits while requests wait, which is every few hundred
 * microseconds under a steady load once small batches commit at once. */
static const char store_sqlite_probe_sql[] =
    "SELECT 0, CAST(q.key AS INTEGER), 0 FROM json_each(?1) q"
    " WHERE EXISTS (SELECT 1 FROM orders o WHERE o.order_id = q.value)"
    " UNION ALL"
    " SELECT 1, CAST(p.key AS INTEGER), c.next_offset FROM json_each(?2) p"
    " JOIN consumed_offsets c ON c.topic = ?3 AND c.partition = p.value";

store_status store_sqlite_probe(store *base, const char *topic, const char *ids_json,
                                const char *parts_json,
                                void (*row)(void *arg, int kind, int64_t index, int64_t value),
                                void *arg, char *err, size_t errlen)
{
    store_sqlite *s = (store_sqlite *)base;
    int rc = SQLITE_OK;
    if (!s->probe)
        rc = sqlite3_prepare_v3(s->db, store_sqlite_probe_sql, -1, SQLITE_PREPARE_PERSISTENT,
                                &s->probe, NULL);
    sqlite3_stmt *q = s->probe;
    if (rc == SQLITE_OK) {
        rc = sqlite3_bind_text(q, 1, ids_json, -1, SQLITE_STATIC);
        rc |= sqlite3_bind_text(q, 2, parts_json, -1, SQLITE_STATIC);
        rc |= sqlite3_bind_text(q, 3, topic, -1, SQLITE_STATIC);
    }
    while (rc == SQLITE_OK && (rc = sqlite3_step(q)) == SQLITE_ROW) {
        row(arg, sqlite3_column_int(q, 0), sqlite3_column_int64(q, 1), sqlite3_column_int64(q, 2));
        rc = SQLITE_OK;
    }
    store_status st = rc == SQLITE_DONE ? STORE_OK : store_sqlite_fail(s, rc, "probe", err, errlen);
    if (q) {
        sqlite3_reset(q);          /* ends its read snapshot: the next probe sees later commits */
        sqlite3_clear_bindings(q); /* the texts bound are the caller's */
    }
    return st;
}
