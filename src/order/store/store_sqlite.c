/*
 * store_sqlite: the store API (store.h) on an embedded SQLite file: the file,
 * its layout, transactions and positions. Orders and their history are in
 * store_sqlite_orders.c.
 *
 * Durability choices, and why:
 * - WAL journal: readers (HTTP threads, each with a read-only connection)
 *   never block the consumer's writes and see only committed transactions.
 * - synchronous=NORMAL: in WAL mode a commit is then durable against a
 *   process crash (kill -9) and never corrupts the file; only an OS crash or
 *   power loss can drop the last few transactions. That is safe here because
 *   the events' positions roll back together with their effects, and Kafka
 *   still holds the events: they are simply applied again. FULL would fsync
 *   every batch for no gain in correctness.
 * - Batches: one transaction per consumer batch (BEGIN IMMEDIATE ... COMMIT),
 *   all statements prepared once, positions written once per partition per
 *   batch. That is what makes catch-up fast.
 * - Items are stored as pre-rendered JSON text: the order-details answer
 *   embeds them as is, and they are never queried by field.
 */
#include "store/store_sqlite_int.h"

#include "platform/clock.h"
#include "platform/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *const store_sql[ST__N] = {
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_BEGIN_READ] = "BEGIN DEFERRED",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_INS_ORDER] =
        "INSERT OR IGNORE INTO orders(order_id, customer_id, order_date, items,"
        " total_cents, currency, status, created_status, shipping_cents, created_at,"
        " updated_at, history_len) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7, ?8, ?9, ?9, 1)",
    [ST_INS_HIST] = "INSERT INTO status_history(order_id, seq, status, at) VALUES(?1, ?2, ?3, ?4)",
    /* An UPDATE to the status the order has is already applied: no row changes.
     * While the row has room (history_len <= INROW), the entry ?4
     * (store_sqlite_hist_put) goes into it: no RETURNING, whose result SQLite
     * buffers in a table of its own, on the path nearly every update takes. */
    [ST_UPD_ORDER] =
        "UPDATE orders SET status = ?1, updated_at = ?2,"
        " history_len = history_len + 1, history = ifnull(history, '') || ?4"
        " WHERE order_id = ?3 AND status <> ?1 AND history_len <= " STORE_SQLITE_HIST_INROW_SQL,
    /* ... else (a full row, or no change at all): RETURNING gives the entry's seq */
    [ST_UPD_FULL] = "UPDATE orders SET status = ?1, updated_at = ?2,"
                    " history_len = history_len + 1 WHERE order_id = ?3 AND status <> ?1"
                    " RETURNING history_len",
    [ST_GET_POS] = "SELECT next_offset FROM consumed_offsets WHERE topic = ?1 AND partition = ?2",
    [ST_PUT_POS] =
        "INSERT INTO consumed_offsets(topic, partition, next_offset) VALUES(?1, ?2, ?3)"
        " ON CONFLICT(topic, partition) DO UPDATE SET next_offset = excluded.next_offset",
    [ST_GET_ORDER] = "SELECT customer_id, order_date, items, total_cents, currency, status,"
                     " shipping_cents, created_at, updated_at, created_status, history_len, history"
                     " FROM orders WHERE order_id = ?1",
    [ST_GET_HIST] = "SELECT status, at FROM status_history WHERE order_id = ?1 ORDER BY seq",
    [ST_COUNT] = "SELECT COUNT(*) FROM orders",
    /* the order's content, not its times: a client's retry has a later event time */
    [ST_SAME_CREATE] = "SELECT 1 FROM orders WHERE order_id = ?1 AND customer_id = ?2"
                       " AND items = ?3 AND total_cents = ?4 AND currency = ?5"
                       " AND created_status = ?6",
    [ST_EXISTS] = "SELECT 1 FROM orders WHERE order_id = ?1",
    [ST_ATT_PURGE] = "DELETE FROM retry_state WHERE topic = ?1 AND partition = ?2"
                     " AND rec_offset < ?3",
    [ST_ATT_PUT] = "INSERT INTO retry_state(topic, partition, rec_offset, attempts, due_ms,"
                   " dlq_written) VALUES(?1, ?2, ?3, ?4, ?5, 0)"
                   " ON CONFLICT(topic, partition, rec_offset) DO UPDATE SET"
                   " attempts = excluded.attempts, due_ms = excluded.due_ms"
                   " WHERE excluded.attempts >= retry_state.attempts",
    [ST_ATT_GET] = "SELECT attempts, due_ms, dlq_written FROM retry_state"
                   " WHERE topic = ?1 AND partition = ?2 AND rec_offset = ?3",
    [ST_ATT_DLQ] = "INSERT INTO retry_state(topic, partition, rec_offset, attempts, due_ms,"
                   " dlq_written) VALUES(?1, ?2, ?3, 0, 0, 1)"
                   " ON CONFLICT(topic, partition, rec_offset) DO UPDATE SET dlq_written = 1",
    [ST_RPL_GET] = "SELECT replay_count, last_at FROM dlq_replays"
                   " WHERE dlq_topic = ?1 AND partition = ?2 AND dlq_offset = ?3",
    [ST_RPL_MARK] = "INSERT INTO dlq_replays(dlq_topic, partition, dlq_offset, replay_count,"
                    " last_at) VALUES(?1, ?2, ?3, 1, ?4)"
                    " ON CONFLICT(dlq_topic, partition, dlq_offset) DO UPDATE SET"
                    " replay_count = replay_count + 1, last_at = excluded.last_at",
    /* ?1 name, ?2 holder, ?3 now, ?4 ttl: no row changes while another holder's is unexpired */
    [ST_LSE_TAKE] = "INSERT INTO leases(name, holder, expires_at) VALUES(?1, ?2, ?3 + ?4)"
                    " ON CONFLICT(name) DO UPDATE SET holder = excluded.holder,"
                    " expires_at = excluded.expires_at"
                    " WHERE leases.holder = excluded.holder OR leases.expires_at <= ?3",
    [ST_LSE_GET] = "SELECT holder, expires_at - ?2 FROM leases WHERE name = ?1",
    [ST_LSE_DROP] = "DELETE FROM leases WHERE name = ?1 AND holder = ?2",
    /* ?1 id, ?2 document, ?3 now; then all but the STORE_REPLAY_STATUS_KEPT newest go */
    [ST_RST_PUT] = "INSERT INTO replay_status(id, doc, written_at) VALUES(?1, ?2, ?3)"
                   " ON CONFLICT(id) DO UPDATE SET doc = excluded.doc,"
                   " written_at = excluded.written_at",
    [ST_RST_PRUNE] = "DELETE FROM replay_status WHERE id IN (SELECT id FROM replay_status"
                     " ORDER BY written_at DESC LIMIT -1 OFFSET ?1)",
    [ST_RST_GET] = "SELECT doc, ?2 - written_at FROM replay_status WHERE id = ?1",
    /* store_sqlite_creates.c: a multi-row INSERT's rows are those above the old highest rowid */
    [ST_MAX_ROWID] = "SELECT max(rowid) FROM orders",
    [ST_UNDO_ROWS] = "DELETE FROM orders WHERE rowid > ?1",
};

/* Statements a read-only handle needs (the others touch the file for writing). */
static const int store_ro_ok[ST__N] = {[ST_BEGIN_READ] = 1, [ST_COMMIT] = 1,   [ST_GET_POS] = 1,
                                       [ST_GET_ORDER] = 1,  [ST_GET_HIST] = 1, [ST_COUNT] = 1};

/* A commit this slow is logged with its WAL's size and whether it checkpointed. */
#define STORE_SLOW_COMMIT_MS 20

store_status store_sqlite_map_rc(int rc)
{
    /* Only what the event itself causes is the event's; a damaged, missing,
     * full or busy file is the store's (retried forever, never dead-letters). */
    switch (rc & 0xff) {
    case SQLITE_CONSTRAINT:
    case SQLITE_TOOBIG:
    case SQLITE_MISMATCH:
    case SQLITE_RANGE:
        return STORE_ERR_INTERNAL;
    default:
        return STORE_ERR_IO;
    }
}

store_status store_sqlite_fail(store_sqlite *s, int rc, const char *what, char *err, size_t errlen)
{
    snprintf(err, errlen, "sqlite %s: %s (%d)", what,
             s && s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc), rc);
    return store_sqlite_map_rc(rc);
}

/* Creates the parent directories of path (like mkdir -p of dirname). */
static int store_mkdirs(const char *path, char *err, size_t errlen)
{
    char dir[4096];
    size_t n = strlen(path);
    if (n >= sizeof dir) {
        snprintf(err, errlen, "store path too long");
        return -1;
    }
    memcpy(dir, path, n + 1);
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir)
        return 0;
    *slash = '\0';
    for (char *p = dir + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
            snprintf(err, errlen, "mkdir %s: %s", dir, strerror(errno));
            return -1;
        }
        *p = '/';
    }
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "mkdir %s: %s", dir, strerror(errno));
        return -1;
    }
    return 0;
}

static const store_backend store_sqlite_backend;
static void store_sqlite_close(store *base);
static void store_sqlite_rollback(store *base);

/* Once per process, before SQLite initialises itself: no allocation
 * statistics (nothing reads them), so an allocation takes no global mutex;
 * a few a statement, eight an applied event (bench/profile-notes.md).
 * SQLITE_MISUSE (initialised already) leaves the default: harmless. */
static void store_sqlite_configure(void)
{
    (void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

/* store_sqlite_exclusive(): 1 until set; fixed once a handle has opened. */
static atomic_int sqlite_exclusive = 1;
static atomic_int sqlite_opened;

int store_sqlite_exclusive(int exclusive)
{
    exclusive = exclusive != 0;
    if (atomic_load(&sqlite_opened) && atomic_load(&sqlite_exclusive) != exclusive)
        return -1; /* handles of one process must agree: the VFS decides the locking */
    atomic_store(&sqlite_exclusive, exclusive);
    return 0;
}

/*
 * The VFS of every handle: "unix-excl" holds the file for this process (an
 * exclusive lock, released when the process ends, kill -9 included) and
 * keeps the WAL index in its memory, so a read transaction takes no fcntl
 * lock (1.5 per order-details read before; a third more reads a second,
 * bench/profile-notes.md). The handles in the process still lock each other
 * out as before, only no other process may open the file meanwhile.
 */
const char *store_sqlite_vfs(void)
{
    atomic_store(&sqlite_opened, 1);
    return atomic_load(&sqlite_exclusive) ? "unix-excl" : NULL;
}

store *store_sqlite_open(const char *path, int flags, char *err, size_t errlen)
{
    static pthread_once_t configured = PTHREAD_ONCE_INIT;
    (void)pthread_once(&configured, store_sqlite_configure);
    store_sqlite *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->base.be = &store_sqlite_backend;
    s->readonly = (flags & STORE_READONLY) != 0;
    jsonw_init(&s->items);
    if (!s->readonly && store_mkdirs(path, err, errlen) != 0) {
        free(s);
        return NULL;
    }
    int oflags = SQLITE_OPEN_NOMUTEX |
                 (s->readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    int rc = sqlite3_open_v2(path, &s->db, oflags, store_sqlite_vfs());
    if (rc != SQLITE_OK) {
        store_sqlite_fail(s, rc, "open", err, errlen);
        store_sqlite_close(&s->base);
        return NULL;
    }
    sqlite3_extended_result_codes(s->db, 1);
    /* A checkpoint or another writer may hold the lock briefly: wait, don't fail. */
    const char *pragmas = s->readonly ? "PRAGMA busy_timeout = 5000;"
                                      : "PRAGMA busy_timeout = 5000;"
                                        "PRAGMA journal_mode = WAL;"
                                        "PRAGMA synchronous = NORMAL;"
                                        "PRAGMA cache_size = -32768;";
    rc = sqlite3_exec(s->db, pragmas, NULL, NULL, NULL);
    if (rc == SQLITE_OK && !s->readonly) {
        rc = store_sqlite_layout(s->db, path, err, errlen);
        if (rc < 0) { /* refused or failed to migrate: err says which */
            store_sqlite_close(&s->base);
            return NULL;
        }
    }
    if (rc == SQLITE_OK && !s->readonly) /* counts checkpoints (store_sqlite_ckpt.c) */
        sqlite3_wal_hook(s->db, store_sqlite_wal_hook, s);
    if (rc != SQLITE_OK) {
        if ((rc & 0xff) == SQLITE_BUSY && atomic_load(&sqlite_exclusive))
            snprintf(err, errlen,
                     "store %s is open in another process: order-service holds its SQLite file "
                     "for itself (one instance per file; STORE_SQLITE_EXCLUSIVE=0 lets other "
                     "processes read it)",
                     path);
        else
            store_sqlite_fail(s, rc, "init", err, errlen);
        store_sqlite_close(&s->base);
        return NULL;
    }
    for (int i = 0; i < ST__N; i++) {
        if (s->readonly && !store_ro_ok[i])
            continue;
        rc =
            sqlite3_prepare_v3(s->db, store_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &s->st[i], NULL);
        if (rc != SQLITE_OK) {
            store_sqlite_fail(s, rc, "prepare", err, errlen);
            store_sqlite_close(&s->base);
            return NULL;
        }
    }
    s->pos = calloc(STORE_POS_MAX, sizeof *s->pos);
    if (!s->pos) {
        snprintf(err, errlen, "out of memory");
        store_sqlite_close(&s->base);
        return NULL;
    }
    return &s->base;
}

static void store_sqlite_close(store *base)
{
    store_sqlite *s = (store_sqlite *)base;
    if (!s)
        return;
    if (s->in_txn)
        store_sqlite_rollback(&s->base);
    store_sqlite_checkpointer_stop(s);
    for (int i = 0; i < ST__N; i++)
        sqlite3_finalize(s->st[i]);
    sqlite3_finalize(s->probe);
    for (int i = 0; i <= STORE_CREATES_MAX; i++)
        sqlite3_finalize(s->creates[i]);
    sqlite3_close(s->db);
    jsonw_free(&s->items);
    free(s->pos);
    free(s->buf);
    free(s->runbuf);
    free(s);
}

int store_sqlite_step_done(store_sqlite *s, int idx)
{
    int rc = sqlite3_step(s->st[idx]);
    sqlite3_reset(s->st[idx]);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static store_status store_sqlite_begin(store *base, char *err, size_t errlen)
{
    store_sqlite *s = (store_sqlite *)base;
    if (s->readonly || s->in_txn) {
        snprintf(err, errlen, "store_begin: %s", s->readonly ? "read-only" : "already in txn");
        return STORE_ERR_INTERNAL;
    }
    int rc = store_sqlite_step_done(s, ST_BEGIN);
    if (rc != SQLITE_OK)
        return store_sqlite_fail(s, rc, "begin", err, errlen);
    s->in_txn = 1;
    return STORE_OK;
}

static int store_sqlite_in_txn(const store *base)
{
    const store_sqlite *s = (const store_sqlite *)base;
    return s->in_txn;
}

static void store_sqlite_rollback(store *base)
{
    store_sqlite *s = (store_sqlite *)base;
    if (!s->in_txn)
        return;
    /* SQLite may already have rolled back (e.g. after SQLITE_FULL): then this fails harmlessly. */
    (void)store_sqlite_step_done(s, ST_ROLLBACK);
    s->in_txn = 0;
    /* Positions moved in the dropped transaction are forgotten; reload lazily. */
    s->npos = 0;
}

static store_status store_sqlite_commit(store *base, char *err, size_t errlen)
{
    store_sqlite *s = (store_sqlite *)base;
    if (!s->in_txn) {
        snprintf(err, errlen, "store_commit: no transaction");
        return STORE_ERR_INTERNAL;
    }
    sqlite3_stmt *put = s->st[ST_PUT_POS];
    for (size_t i = 0; i < s->npos; i++) {
        store_pos *p = &s->pos[i];
        if (!p->dirty)
            continue;
        int rc = sqlite3_bind_text(put, 1, p->topic, -1, SQLITE_STATIC);
        rc |= sqlite3_bind_int(put, 2, p->partition);
        rc |= sqlite3_bind_int64(put, 3, p->next);
        if (rc == SQLITE_OK)
            rc = store_sqlite_step_done(s, ST_PUT_POS);
        if (rc != SQLITE_OK)
            return store_sqlite_fail(s, rc, "write position", err, errlen);
    }
    int64_t t0 = clock_mono_ms(), ckpts = s->commit_checkpoints;
    int rc = store_sqlite_step_done(s, ST_COMMIT);
    if (rc != SQLITE_OK)
        return store_sqlite_fail(s, rc, "commit", err, errlen);
    int64_t ms = clock_mono_ms() - t0;
    if (ms >= STORE_SLOW_COMMIT_MS)
        log_warn("store: slow commit, %lld ms (WAL %lld pages, %s)", (long long)ms,
                 (long long)s->wal_pages,
                 s->commit_checkpoints != ckpts ? "checkpointed in the commit"
                                                : "no checkpoint in it");
    s->in_txn = 0;
    for (size_t i = 0; i < s->npos; i++)
        s->pos[i].dirty = 0;
    return STORE_OK;
}

/* The cached position of (topic, partition), loading it from the file on a miss. */
static store_status store_pos_find(store_sqlite *s, const char *topic, int32_t partition,
                                   store_pos **out, char *err, size_t errlen)
{
    for (size_t i = 0; i < s->npos; i++) {
        if (s->pos[i].partition == partition && strcmp(s->pos[i].topic, topic) == 0) {
            *out = &s->pos[i];
            return STORE_OK;
        }
    }
    size_t tlen = strlen(topic);
    if (tlen > STORE_TOPIC_MAX || s->npos >= STORE_POS_MAX) {
        snprintf(err, errlen, "position table: topic name too long or too many partitions");
        return STORE_ERR_INTERNAL;
    }
    sqlite3_stmt *q = s->st[ST_GET_POS];
    int rc = sqlite3_bind_text(q, 1, topic, (int)tlen, SQLITE_STATIC);
    rc |= sqlite3_bind_int(q, 2, partition);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(q);
    store_pos *p = &s->pos[s->npos];
    memset(p, 0, sizeof *p);
    if (rc == SQLITE_ROW) {
        p->found = 1;
        p->next = sqlite3_column_int64(q, 0);
    } else if (rc != SQLITE_DONE) {
        sqlite3_reset(q);
        return store_sqlite_fail(s, rc, "read position", err, errlen);
    }
    sqlite3_reset(q);
    memcpy(p->topic, topic, tlen + 1);
    p->partition = partition;
    s->npos++;
    *out = p;
    return STORE_OK;
}

static store_status store_sqlite_get_position(store *base, const char *topic, int32_t partition,
                                              int64_t *next, char *err, size_t errlen)
{
    store_sqlite *s = (store_sqlite *)base;
    store_pos *p;
    /* Outside a transaction the cache could be stale (another writer): ask the file. */
    if (!s->in_txn)
        s->npos = 0;
    store_status st = store_pos_find(s, topic, partition, &p, err, errlen);
    if (st != STORE_OK)
        return st;
    if (!p->found)
        return STORE_NOT_FOUND;
    *next = p->next;
    return STORE_OK;
}

/* Checks the position; STORE_OK means offset is new, *pp is its slot. */
store_status store_sqlite_pos_check(store_sqlite *s, const char *topic, int32_t partition,
                                    int64_t offset, store_pos **pp, char *err, size_t errlen)
{
    if (!s->in_txn) {
        snprintf(err, errlen, "no transaction open");
        return STORE_ERR_INTERNAL;
    }
    if (offset < 0) {
        snprintf(err, errlen, "negative offset");
        return STORE_ERR_INTERNAL;
    }
    store_status st = store_pos_find(s, topic, partition, pp, err, errlen);
    if (st != STORE_OK)
        return st;
    if ((*pp)->found && offset < (*pp)->next)
        return STORE_SKIPPED;
    return STORE_OK;
}

void store_sqlite_pos_advance(store_pos *p, int64_t offset)
{
    p->found = 1;
    p->next = offset + 1;
    p->dirty = 1;
}

static store_status store_sqlite_mark(store *base, const char *topic, int32_t partition,
                                      int64_t offset, char *err, size_t errlen)
{
    store_sqlite *s = (store_sqlite *)base;
    store_pos *p;
    store_status st = store_sqlite_pos_check(s, topic, partition, offset, &p, err, errlen);
    if (st == STORE_OK)
        store_sqlite_pos_advance(p, offset);
    return st;
}

/* PRAGMA name = value (an integer only: nothing to inject). */
static store_status store_sqlite_pragma_int(store_sqlite *s, const char *name, int64_t value,
                                            char *err, size_t errlen)
{
    char sql[96];
    snprintf(sql, sizeof sql, "PRAGMA %s = %lld", name, (long long)value);
    int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? STORE_OK : store_sqlite_fail(s, rc, name, err, errlen);
}

static store_status store_sqlite_limit_pages(store *base, int64_t max_pages, char *err,
                                             size_t errlen)
{
    if (max_pages < 1) {
        snprintf(err, errlen, "max_pages must be positive");
        return STORE_ERR_INTERNAL;
    }
    return store_sqlite_pragma_int((store_sqlite *)base, "max_page_count", max_pages, err, errlen);
}

static store_status store_sqlite_read_mmap(store *base, int64_t bytes, char *err, size_t errlen)
{
    return store_sqlite_pragma_int((store_sqlite *)base, "mmap_size", bytes, err, errlen);
}

/* A negative cache_size is in KiB. */
static store_status store_sqlite_cache_size(store *base, int64_t kib, char *err, size_t errlen)
{
    return store_sqlite_pragma_int((store_sqlite *)base, "cache_size", -kib, err, errlen);
}

/* SQLite has nothing to prefetch: hint_order stays NULL. */
static const store_backend store_sqlite_backend = {
    .kind = "sqlite",
    .close = store_sqlite_close,
    .begin = store_sqlite_begin,
    .commit = store_sqlite_commit,
    .rollback = store_sqlite_rollback,
    .in_txn = store_sqlite_in_txn,
    .apply = store_sqlite_apply,
    .apply_creates = store_sqlite_apply_creates,
    .checkpointer_start = store_sqlite_checkpointer_start,
    .checkpoint_stats = store_sqlite_checkpoint_stats,
    .mark = store_sqlite_mark,
    .get_position = store_sqlite_get_position,
    .get_order = store_sqlite_get_order,
    .count_orders = store_sqlite_count_orders,
    .probe = store_sqlite_probe,
    .limit_pages = store_sqlite_limit_pages,
    .read_mmap = store_sqlite_read_mmap,
    .cache_size = store_sqlite_cache_size,
    .attempt_record = store_sqlite_attempt_record,
    .attempt_get = store_sqlite_attempt_get,
    .attempt_clear = store_sqlite_attempt_clear,
    .dlq_mark = store_sqlite_dlq_mark,
    .tix_load = store_sqlite_tix_load,
    .tix_add = store_sqlite_tix_add,
    .replay_get = store_sqlite_replay_get,
    .replay_mark = store_sqlite_replay_mark,
    .lease_take = store_sqlite_lease_take,
    .lease_release = store_sqlite_lease_release,
    .replay_status_put = store_sqlite_replay_status_put,
    .replay_status_get = store_sqlite_replay_status_get,
};
