/*
 * store_sqlite_lease: the leases and replay statuses of store.h on the SQLite
 * file (what DLQ replays share across instances and restarts). Taking is one
 * conditional upsert on the writer connection (autocommit, so it is its own
 * transaction, serialized with every other writer of the file by SQLite's
 * write lock); the machine's wall clock judges expiry, which is the store's
 * clock here: every handle on the file runs on this machine.
 */
#include "store/store_sqlite_int.h"

#include "platform/clock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static store_status store_sqlite_lease_ready(store_sqlite *s, char *err, size_t errlen)
{
    if (s->readonly || s->in_txn) {
        snprintf(err, errlen, "leases: %s", s->readonly ? "read-only handle" : "inside a batch");
        return STORE_ERR_INTERNAL;
    }
    return STORE_OK;
}

/* Who holds name now (out->holder, remaining_ms): STORE_OK, STORE_NOT_FOUND (free), failure. */
static store_status store_sqlite_lease_who(store_sqlite *s, const char *name, int64_t now,
                                           store_lease *out, char *err, size_t errlen)
{
    sqlite3_stmt *q = s->st[ST_LSE_GET];
    int rc = sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(q, 2, now);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(q);
    store_status st = STORE_OK;
    if (rc == SQLITE_ROW) {
        const unsigned char *h = sqlite3_column_text(q, 0);
        snprintf(out->holder, sizeof out->holder, "%s", h ? (const char *)h : "");
        out->remaining_ms = sqlite3_column_int64(q, 1);
    } else if (rc == SQLITE_DONE) {
        st = STORE_NOT_FOUND;
    } else {
        st = store_sqlite_fail(s, rc, "read lease", err, errlen);
    }
    sqlite3_reset(q);
    return st;
}

store_status store_sqlite_lease_take(store *base, const char *name, const char *holder,
                                     int64_t ttl_ms, store_lease *out, char *err, size_t errlen)
{
    store_sqlite *s = (store_sqlite *)base;
    store_status st = store_sqlite_lease_ready(s, err, errlen);
    /* A lease released between the refused take and the look-up: taken again (bounded). */
    for (int tries = 0; st == STORE_OK && tries < 3; tries++) {
        int64_t now = clock_wall_ms();
        sqlite3_stmt *q = s->st[ST_LSE_TAKE];
        int rc = sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_text(q, 2, holder, -1, SQLITE_STATIC);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_int64(q, 3, now);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_int64(q, 4, ttl_ms);
        if (rc == SQLITE_OK)
            rc = store_sqlite_step_done(s, ST_LSE_TAKE);
        if (rc != SQLITE_OK)
            return store_sqlite_fail(s, rc, "take lease", err, errlen);
        if (sqlite3_changes(s->db) == 1) {
            out->held = 1;
            return STORE_OK;
        }
        st = store_sqlite_lease_who(s, name, now, out, err, errlen);
        if (st == STORE_OK)
            return STORE_OK; /* held by another */
        if (st == STORE_NOT_FOUND)
            st = STORE_OK;
    }
    if (st == STORE_OK) {
        snprintf(err, errlen, "take lease: it changed hands three times meanwhile");
        st = STORE_ERR_IO;
    }
    return st;
}

store_status store_sqlite_lease_release(store *base, const char *name, const char *holder,
                                        char *err, size_t errlen)
{
    store_sqlite *s = (store_sqlite *)base;
    store_status st = store_sqlite_lease_ready(s, err, errlen);
    if (st != STORE_OK)
        return st;
    sqlite3_stmt *q = s->st[ST_LSE_DROP];
    int rc = sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(q, 2, holder, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = store_sqlite_step_done(s, ST_LSE_DROP);
    return rc == SQLITE_OK ? STORE_OK : store_sqlite_fail(s, rc, "release lease", err, errlen);
}

static store_status store_sqlite_status_ready(store_sqlite *s, char *err, size_t errlen)
{
    if (s->readonly || s->in_txn) {
        snprintf(err, errlen, "replay statuses: %s",
                 s->readonly ? "read-only handle" : "inside a batch");
        return STORE_ERR_INTERNAL;
    }
    return STORE_OK;
}

store_status store_sqlite_replay_status_put(store *base, const char *id, const char *doc,
                                            size_t len, char *err, size_t errlen)
{
    store_sqlite *s = (store_sqlite *)base;
    store_status st = store_sqlite_status_ready(s, err, errlen);
    if (st != STORE_OK)
        return st;
    sqlite3_stmt *q = s->st[ST_RST_PUT];
    int rc = sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(q, 2, doc, (int)len, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(q, 3, clock_wall_ms());
    if (rc == SQLITE_OK)
        rc = store_sqlite_step_done(s, ST_RST_PUT);
    if (rc != SQLITE_OK)
        return store_sqlite_fail(s, rc, "write replay status", err, errlen);
    q = s->st[ST_RST_PRUNE];
    rc = sqlite3_bind_int(q, 1, STORE_REPLAY_STATUS_KEPT);
    if (rc == SQLITE_OK)
        rc = store_sqlite_step_done(s, ST_RST_PRUNE);
    return rc == SQLITE_OK ? STORE_OK
                           : store_sqlite_fail(s, rc, "prune replay statuses", err, errlen);
}

store_status store_sqlite_replay_status_get(store *base, const char *id, char **doc,
                                            int64_t *age_ms, char *err, size_t errlen)
{
    store_sqlite *s = (store_sqlite *)base;
    store_status st = store_sqlite_status_ready(s, err, errlen);
    if (st != STORE_OK)
        return st;
    sqlite3_stmt *q = s->st[ST_RST_GET];
    int rc = sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(q, 2, clock_wall_ms());
    if (rc == SQLITE_OK)
        rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        const unsigned char *t = sqlite3_column_text(q, 0);
        int n = sqlite3_column_bytes(q, 0);
        *age_ms = sqlite3_column_int64(q, 1);
        if (!t || n <= 0 || !(*doc = malloc((size_t)n + 1))) {
            snprintf(err, errlen, "read replay status: %s", t ? "out of memory" : "empty");
            st = STORE_ERR_INTERNAL;
        } else {
            memcpy(*doc, t, (size_t)n);
            (*doc)[n] = '\0';
        }
    } else if (rc == SQLITE_DONE) {
        st = STORE_NOT_FOUND;
    } else {
        st = store_sqlite_fail(s, rc, "read replay status", err, errlen);
    }
    sqlite3_reset(q);
    return st;
}
