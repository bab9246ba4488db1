/*
 * store_sqlite_layout: the SQLite store's tables, their version (PRAGMA
 * user_version), the one migration a file can need, and the encoding of the
 * history an order's row holds.
 *
 * Layout 3 keeps an order's first history entries in its own row (the
 * `history` column, STORE_SQLITE_HIST_INROW of them after the created one):
 * an UPDATE then rewrites one row instead of also inserting into
 * status_history's B-tree, which was about 40 % of what applying an update
 * cost (bench/profile-notes.md), and reading an order updated a few times is
 * one statement. status_history keeps only the entries beyond those, so an
 * order updated without end never makes its row grow without bound.
 *
 * Layout 2 (the previous one: every entry after the first in status_history)
 * is migrated in place, in one transaction, the first time a writer opens
 * the file: a crash during it leaves layout 2, migrated again at the next
 * start. An older build refuses a layout-3 file instead of misreading it.
 */
#include "store/store_sqlite_int.h"

#include "platform/log.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

static const char store_schema_sql[] =
    "CREATE TABLE IF NOT EXISTS orders("
    " order_id TEXT PRIMARY KEY NOT NULL, customer_id TEXT NOT NULL, order_date TEXT NOT NULL,"
    " items TEXT NOT NULL, total_cents INTEGER NOT NULL, currency TEXT NOT NULL,"
    " status TEXT NOT NULL, created_status TEXT NOT NULL, shipping_cents INTEGER NOT NULL,"
    " created_at INTEGER NOT NULL,"
    " updated_at INTEGER NOT NULL, history_len INTEGER NOT NULL,"
    /* entries 2 .. STORE_SQLITE_HIST_INROW + 1 (store_sqlite_hist_put's encoding);
     * NULL, not '', until the first: SQLite copies every string column it reads
     * into memory of its own, a NULL costs nothing (files of this layout
     * written before the change have '' there, read the same way) */
    " history TEXT);"
    /* entries from STORE_SQLITE_HIST_INROW + 2 on */
    "CREATE TABLE IF NOT EXISTS status_history("
    " order_id TEXT NOT NULL, seq INTEGER NOT NULL, status TEXT NOT NULL, at INTEGER NOT NULL,"
    " PRIMARY KEY(order_id, seq)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS consumed_offsets("
    " topic TEXT NOT NULL, partition INTEGER NOT NULL, next_offset INTEGER NOT NULL,"
    " PRIMARY KEY(topic, partition)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS retry_state("
    " topic TEXT NOT NULL, partition INTEGER NOT NULL, rec_offset INTEGER NOT NULL,"
    " attempts INTEGER NOT NULL, due_ms INTEGER NOT NULL, dlq_written INTEGER NOT NULL,"
    " PRIMARY KEY(topic, partition, rec_offset)) WITHOUT ROWID;"
    /* the query side's topic indexes (store_sqlite_index.c) */
    "CREATE TABLE IF NOT EXISTS topic_index_pos("
    " idx TEXT NOT NULL, partition INTEGER NOT NULL, low INTEGER NOT NULL,"
    " next_offset INTEGER NOT NULL, PRIMARY KEY(idx, partition)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS topic_index_ids("
    " idx TEXT NOT NULL, seq INTEGER NOT NULL, ids BLOB NOT NULL, PRIMARY KEY(idx, seq))"
    " WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS topic_index_stats("
    " idx TEXT NOT NULL, kind TEXT NOT NULL, name TEXT NOT NULL, n INTEGER NOT NULL,"
    " PRIMARY KEY(idx, kind, name)) WITHOUT ROWID;"
    /* DLQ replay marks */
    "CREATE TABLE IF NOT EXISTS dlq_replays("
    " dlq_topic TEXT NOT NULL, partition INTEGER NOT NULL, dlq_offset INTEGER NOT NULL,"
    " replay_count INTEGER NOT NULL, last_at INTEGER NOT NULL,"
    " PRIMARY KEY(dlq_topic, partition, dlq_offset)) WITHOUT ROWID;"
    /* leases: one DLQ replay at a time */
    "CREATE TABLE IF NOT EXISTS leases("
    " name TEXT PRIMARY KEY NOT NULL, holder TEXT NOT NULL, expires_at INTEGER NOT NULL)"
    " WITHOUT ROWID;"
    /* replay statuses (store.h) */
    "CREATE TABLE IF NOT EXISTS replay_status("
    " id TEXT PRIMARY KEY NOT NULL, doc TEXT NOT NULL, written_at INTEGER NOT NULL);"
    "PRAGMA user_version = " STORE_SQLITE_STR(STORE_SQLITE_LAYOUT) ";";

/* ---- the in-row history's encoding ---- */

size_t store_sqlite_hist_put(char *out, size_t cap, const char *status, int64_t at)
{
    size_t sl = strnlen(status, ORDER_STATUS_MAX + 1);
    if (sl == 0 || sl > ORDER_STATUS_MAX || memchr(status, '@', sl) || memchr(status, ';', sl) ||
        cap < sl + 2 + NUMFMT_I64_MAX)
        return 0;
    memcpy(out, status, sl);
    out[sl] = '@';
    size_t n = sl + 1 + numfmt_i64(out + sl + 1, at);
    out[n++] = ';';
    return n;
}

/* Checks everything of an entry before fn sees it; stops at the first bad one. */
int store_sqlite_hist_each(const char *p, size_t n, store_history_fn fn, void *arg)
{
    int count = 0;
    size_t i = 0;
    while (i < n) {
        char status[ORDER_STATUS_MAX + 1];
        size_t sl = 0;
        while (i < n && p[i] != '@' && p[i] != ';' && sl < ORDER_STATUS_MAX)
            status[sl++] = p[i++];
        if (sl == 0 || i == n || p[i] != '@')
            return -1;
        status[sl] = '\0';
        i++;
        int neg = i < n && p[i] == '-';
        i += (size_t)neg;
        uint64_t v = 0;
        size_t digits = 0;
        while (i < n && p[i] >= '0' && p[i] <= '9' && digits < 19) {
            v = v * 10 + (uint64_t)(p[i++] - '0');
            digits++;
        }
        if (digits == 0 || i == n || p[i] != ';' || v > (uint64_t)INT64_MAX + (uint64_t)neg)
            return -1;
        i++;
        /* -(v - 1) - 1: INT64_MIN without overflowing on the way */
        int64_t at = neg ? (v ? -(int64_t)(v - 1) - 1 : 0) : (int64_t)v;
        if (fn)
            fn(arg, status, at);
        count++;
    }
    return count;
}

/* ---- the tables and their version ---- */

/* PRAGMA user_version into *v: SQLITE_OK or the error (a busy file included). */
static int store_user_version(sqlite3 *db, int *v)
{
    sqlite3_stmt *q = NULL;
    int rc = sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &q, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(q);
        if (rc == SQLITE_ROW) {
            *v = sqlite3_column_int(q, 0);
            rc = SQLITE_OK;
        }
    }
    sqlite3_finalize(q);
    return rc;
}

/* Writes one order's moved entries (buf, n bytes) into its row. */
static int store_migrate_flush(sqlite3_stmt *upd, const char *order_id, const char *buf, size_t n)
{
    int rc = sqlite3_bind_text(upd, 1, order_id, -1, SQLITE_TRANSIENT);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(upd, 2, buf, (int)n, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(upd);
    sqlite3_reset(upd);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/*
 * Layout 2 -> 3 in the open transaction: the column, then every order's
 * entries 2 .. INROW + 1 moved from status_history into it (in seq order, the
 * table's key order), then those rows deleted. *moved: orders rewritten.
 */
static int store_migrate_2_3(sqlite3 *db, long long *moved)
{
    int rc = sqlite3_exec(db, "ALTER TABLE orders ADD COLUMN history TEXT", NULL, NULL, NULL);
    sqlite3_stmt *sel = NULL, *upd = NULL;
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(db,
                                "SELECT order_id, status, at FROM status_history"
                                " WHERE seq <= " STORE_SQLITE_HIST_INROW_SQL " + 1"
                                " ORDER BY order_id, seq",
                                -1, &sel, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(db, "UPDATE orders SET history = ?2 WHERE order_id = ?1", -1, &upd,
                                NULL);
    char cur[ORDER_ID_MAX + 1] = "";
    char buf[STORE_SQLITE_HIST_ROW_MAX];
    size_t n = 0;
    while (rc == SQLITE_OK && (rc = sqlite3_step(sel)) == SQLITE_ROW) {
        const char *id = (const char *)sqlite3_column_text(sel, 0);
        const char *status = (const char *)sqlite3_column_text(sel, 1);
        if (!id || !status || strlen(id) > ORDER_ID_MAX) {
            rc = SQLITE_CORRUPT;
            break;
        }
        rc = SQLITE_OK;
        if (strcmp(id, cur) != 0) {
            if (n)
                rc = store_migrate_flush(upd, cur, buf, n);
            (*moved)++;
            snprintf(cur, sizeof cur, "%s", id);
            n = 0;
        }
        size_t w =
            store_sqlite_hist_put(buf + n, sizeof buf - n, status, sqlite3_column_int64(sel, 2));
        if (rc == SQLITE_OK && w == 0)
            rc = SQLITE_CORRUPT; /* more entries than seq allows, or a status too long */
        n += w;
    }
    if (rc == SQLITE_DONE)
        rc = n ? store_migrate_flush(upd, cur, buf, n) : SQLITE_OK;
    sqlite3_finalize(sel);
    sqlite3_finalize(upd);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(
            db, "DELETE FROM status_history WHERE seq <= " STORE_SQLITE_HIST_INROW_SQL " + 1", NULL,
            NULL, NULL);
    return rc;
}

/* 1 for a layout this build opens (0: a new file, 2: migrated), else 0 with err written. */
static int store_layout_known(int version, const char *path, char *err, size_t errlen)
{
    if (version == 0 || version == 2 || version == STORE_SQLITE_LAYOUT)
        return 1;
    snprintf(err, errlen,
             "store %s has layout version %d, this build uses %d (move the file away to "
             "rebuild it from Kafka)",
             path, version, STORE_SQLITE_LAYOUT);
    return 0;
}

int store_sqlite_layout(sqlite3 *db, const char *path, char *err, size_t errlen)
{
    int version = 0;
    int rc = store_user_version(db, &version);
    if (rc != SQLITE_OK)
        return rc;
    if (!store_layout_known(version, path, err, errlen))
        return -1;
    rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        return rc;
    long long moved = 0;
    /* read again under the write lock: another handle may have migrated meanwhile */
    rc = store_user_version(db, &version);
    if (rc == SQLITE_OK && !store_layout_known(version, path, err, errlen)) {
        (void)sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    if (rc == SQLITE_OK && version == 2)
        rc = store_migrate_2_3(db, &moved);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db, store_schema_sql, NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        if (version == 2)
            snprintf(err, errlen, "store %s: moving to layout %d failed: %s (%d)", path,
                     STORE_SQLITE_LAYOUT,
                     sqlite3_errcode(db) == rc ? sqlite3_errmsg(db) : sqlite3_errstr(rc), rc);
        (void)sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        return version == 2 ? -1 : rc;
    }
    if (version == 2)
        log_info("store %s: layout 2 moved to %d (the history of %lld orders moved into their "
                 "rows)",
                 path, STORE_SQLITE_LAYOUT, moved);
    return SQLITE_OK;
}
