/*
 * store_sqlite_int: what the two files of the SQLite store share:
 * store_sqlite.c (the file, transactions, positions) and
 * store_sqlite_orders.c (orders and their history), store_sqlite_creates.c
 * (runs of CREATEs in one statement), store_sqlite_ckpt.c (WAL checkpoints
 * off the committing thread), store_sqlite_retry.c
 * (retry state, outside the batch transaction) and store_sqlite_index.c
 * (the query side's topic indexes), store_sqlite_lease.c (leases),
 * store_sqlite_layout.c (the tables and their migration). Not for use elsewhere:
 * everyone else sees store.h.
 */
#ifndef STORE_SQLITE_INT_H
#define STORE_SQLITE_INT_H

#include "store/store_backend.h"

#include "platform/jsonw.h"
#include "platform/numfmt.h"

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#define STORE_TOPIC_MAX 249 /* Kafka's own limit on topic names */
#define STORE_POS_MAX 1024  /* partitions one store tracks */

typedef struct {
    char topic[STORE_TOPIC_MAX + 1];
    int32_t partition;
    int64_t next; /* valid when found */
    int found;    /* a position exists (stored or moved in this txn) */
    int dirty;    /* moved in the open transaction */
} store_pos;

/* A macro's value as an SQL literal (limits spliced into statements). */
#define STORE_SQLITE_STR_(x) #x
#define STORE_SQLITE_STR(x) STORE_SQLITE_STR_(x)

/* The file's layout (PRAGMA user_version), store_sqlite_layout.c. */
#define STORE_SQLITE_LAYOUT 3
/* History entries kept in the order's row after the created one (a plain
 * literal: it is spliced into SQL text); later ones go to status_history. */
#define STORE_SQLITE_HIST_INROW 8
#define STORE_SQLITE_HIST_INROW_SQL STORE_SQLITE_STR(STORE_SQLITE_HIST_INROW)
/* One in-row entry: status '@' at ';' */
#define STORE_SQLITE_HIST_ENTRY_MAX (ORDER_STATUS_MAX + 1 + NUMFMT_I64_MAX + 1)
#define STORE_SQLITE_HIST_ROW_MAX (STORE_SQLITE_HIST_INROW * STORE_SQLITE_HIST_ENTRY_MAX)

/* The prepared statements, by index into store.st[]. */
enum {
    ST_BEGIN,
    ST_BEGIN_READ,
    ST_COMMIT,
    ST_ROLLBACK,
    ST_INS_ORDER,
    ST_INS_HIST,
    ST_UPD_ORDER,
    ST_UPD_FULL,
    ST_GET_POS,
    ST_PUT_POS,
    ST_GET_ORDER,
    ST_GET_HIST,
    ST_COUNT,
    ST_ATT_PURGE,
    ST_ATT_PUT,
    ST_ATT_GET,
    ST_ATT_DLQ,
    ST_SAME_CREATE,
    ST_EXISTS,
    ST_RPL_GET,
    ST_RPL_MARK,
    ST_LSE_TAKE,
    ST_LSE_GET,
    ST_LSE_DROP,
    ST_RST_PUT,
    ST_RST_PRUNE,
    ST_RST_GET,
    ST_MAX_ROWID,
    ST_UNDO_ROWS,
    ST__N
};

typedef struct {
    store base; /* first: the handle store.c dispatches on */
    sqlite3 *db;
    int readonly;
    int in_txn;
    sqlite3_stmt *st[ST__N];
    sqlite3_stmt *probe; /* the read-your-writes probe, prepared at its first use */
    store_pos *pos;
    size_t npos;
    jsonw items; /* rendering buffer for CREATE items */
    char *buf;   /* copy of items JSON for store_get_order */
    size_t bufcap;
    /* store_sqlite_creates.c: the INSERT of n rows at [n], prepared at first use */
    sqlite3_stmt *creates[STORE_CREATES_MAX + 1];
    char *runbuf; /* the run's items JSON, one after another */
    size_t runcap;
    /* store_sqlite_ckpt.c: the checkpointer, and what the WAL hook saw */
    struct store_sqlite_ckpt *ckpt;
    int64_t wal_pages;
    int64_t commit_checkpoints;
} store_sqlite;

typedef struct store_sqlite_ckpt store_sqlite_ckpt;

/* sqlite3 result code -> store_status: constraint, too big, mismatch and range are the
 * event's (STORE_ERR_INTERNAL); everything else, corruption included, the store's. */
/* The VFS name for sqlite3_open_v2 (store_sqlite_exclusive; NULL: the default). */
const char *store_sqlite_vfs(void);

store_status store_sqlite_map_rc(int rc);
/* Formats "sqlite WHAT: message (rc)" into err; returns the mapped status. */
store_status store_sqlite_fail(store_sqlite *s, int rc, const char *what, char *err, size_t errlen);
/* Steps a statement that returns no row and resets it: SQLITE_OK or the error. */
int store_sqlite_step_done(store_sqlite *s, int idx);
/* Binds one CREATE's nine order columns at parameters base+1..base+9 (order_id,
 * customer_id, order_date, items, total_cents, currency, status, shipping,
 * timestamp), the texts SQLITE_STATIC: the one-row INSERT and each row of a
 * run's INSERT. SQLITE_OK or the first failure's code. */
int store_sqlite_bind_create(sqlite3_stmt *q, int base, const order_event *ev, const char *items,
                             size_t items_len);
/* The in-row history (store_sqlite_layout.c). Appends one entry ("status@at;")
 * at out (cap bytes, no NUL);
 * returns its length, 0 if it does not fit or status is empty, too long or
 * holds '@' or ';'. */
size_t store_sqlite_hist_put(char *out, size_t cap, const char *status, int64_t at);
/* Calls fn (if not NULL) for each in-row entry of p (n bytes), oldest first;
 * returns the count, or -1 at the first entry that is not that encoding.
 * Readers check with fn NULL first, so a damaged row never yields half a
 * history. */
int store_sqlite_hist_each(const char *p, size_t n, store_history_fn fn, void *arg);
/* Creates the tables of a new file, migrates a layout-2 one (store_sqlite_layout.c);
 * SQLITE_OK, an SQLite error for the caller to word (busy included), or -1 with
 * err written (another layout, or a migration that failed). */
int store_sqlite_layout(sqlite3 *db, const char *path, char *err, size_t errlen);
/* Checks the position; STORE_OK means offset is new, *pp is its slot. */
store_status store_sqlite_pos_check(store_sqlite *s, const char *topic, int32_t partition,
                                    int64_t offset, store_pos **pp, char *err, size_t errlen);
/* Moves the position past offset (in the open transaction). */
void store_sqlite_pos_advance(store_pos *p, int64_t offset);

/* The backend entries that live in store_sqlite_orders.c (see store_backend.h). */
store_status store_sqlite_apply(store *base, const char *topic, int32_t partition, int64_t offset,
                                const order_event *ev, char *err, size_t errlen);
/* ... and in store_sqlite_creates.c. */
store_status store_sqlite_apply_creates(store *base, const char *topic, const store_create *c,
                                        size_t n, char *err, size_t errlen);
store_status store_sqlite_get_order(store *base, const char *order_id, store_order *out,
                                    store_history_fn fn, void *arg, char *err, size_t errlen);
store_status store_sqlite_count_orders(store *base, int64_t *count, char *err, size_t errlen);
store_status store_sqlite_probe(store *base, const char *topic, const char *ids_json,
                                const char *parts_json,
                                void (*row)(void *arg, int kind, int64_t index, int64_t value),
                                void *arg, char *err, size_t errlen);

/* ... and in store_sqlite_retry.c. */
store_status store_sqlite_attempt_record(store *base, const char *topic, int32_t partition,
                                         int64_t offset, int attempts, int64_t due_ms, char *err,
                                         size_t errlen);
store_status store_sqlite_attempt_get(store *base, const char *topic, int32_t partition,
                                      int64_t offset, store_attempt *out, char *err, size_t errlen);
store_status store_sqlite_attempt_clear(store *base, const char *topic, int32_t partition,
                                        int64_t below, char *err, size_t errlen);
store_status store_sqlite_dlq_mark(store *base, const char *topic, int32_t partition,
                                   int64_t offset, char *err, size_t errlen);
store_status store_sqlite_replay_get(store *base, const char *dlq_topic, int32_t partition,
                                     int64_t offset, store_replay *out, char *err, size_t errlen);
store_status store_sqlite_replay_mark(store *base, const char *dlq_topic, int32_t partition,
                                      int64_t offset, int64_t at_ms, char *err, size_t errlen);

/* ... and in store_sqlite_ckpt.c (stop: before the writer's connection closes). */
store_status store_sqlite_checkpointer_start(store *base, int64_t soft_pages, int64_t hard_pages,
                                             char *err, size_t errlen);
store_status store_sqlite_checkpoint_stats(store *base, store_ckpt_stats *out);
void store_sqlite_checkpointer_stop(store_sqlite *s);
/* The writer's WAL hook (sqlite3_wal_hook, arg the store): replaces SQLite's
 * automatic checkpoint, which is the same at STORE_WAL_AUTOCHECKPOINT pages. */
#define STORE_WAL_AUTOCHECKPOINT 1000
int store_sqlite_wal_hook(void *arg, sqlite3 *db, const char *name, int pages);

/* ... and in store_sqlite_lease.c. */
store_status store_sqlite_lease_take(store *base, const char *name, const char *holder,
                                     int64_t ttl_ms, store_lease *out, char *err, size_t errlen);
store_status store_sqlite_lease_release(store *base, const char *name, const char *holder,
                                        char *err, size_t errlen);
store_status store_sqlite_replay_status_put(store *base, const char *id, const char *doc,
                                            size_t len, char *err, size_t errlen);
store_status store_sqlite_replay_status_get(store *base, const char *id, char **doc,
                                            int64_t *age_ms, char *err, size_t errlen);

/* ... and in store_sqlite_index.c. */
store_status store_sqlite_tix_load(store *base, const char *name, store_tix_pos *pos, int maxpos,
                                   int *npos, const store_tix_sink *sink, char *err, size_t errlen);
store_status store_sqlite_tix_add(store *base, const store_tix_update *u, char *err, size_t errlen);

#endif
