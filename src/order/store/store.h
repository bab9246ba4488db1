/*
 * store: order-service's durable state behind a small, backend-neutral API.
 *
 * Why this shape: exactly-once application of Kafka events needs the event's
 * effect and the position it came from (topic, partition, next offset) to
 * commit atomically. So the store owns the positions too: store_apply() and
 * store_mark() refuse (STORE_SKIPPED) anything below the stored position, and
 * store_commit() writes effects and positions in one transaction. A crash
 * anywhere loses either both or neither, and a redelivered event is skipped
 * instead of being applied twice or reported as a false duplicate.
 *
 * Writes are batched: store_begin(), any number of apply/mark calls, then
 * store_commit() (or store_rollback()). Two backends behind one vtable
 * (store.c): SQLite (store_sqlite.c), the embedded default, and PostgreSQL
 * (store_pg*.c), chosen by store_open() from its argument. Several
 * instances may share one PostgreSQL database: store_commit() then fences a
 * zombie (STORE_FENCED) instead of letting it commit over the new owner.
 *
 * One store handle per thread. A read-only handle (HTTP threads) only serves
 * store_get_order(), store_get_orders(), store_count_orders(),
 * store_get_position() and store_probe().
 */
#ifndef STORE_H
#define STORE_H

#include "event/order_model.h"

#include <stddef.h>
#include <stdint.h>

typedef struct store store;

typedef enum {
    STORE_OK = 0,
    STORE_SKIPPED,   /* offset below the stored position: already applied */
    STORE_DUPLICATE, /* CREATE for an orderId that exists */
    STORE_NOT_FOUND, /* UPDATE (or lookup) of an unknown orderId */
    /* store_apply() only: the event is already applied: a CREATE with the
     * stored order's content (customer, items, total, currency; its times may
     * differ: a client's retry), or an UPDATE to the order's current status.
     * A redelivery or a retry: nothing done, the position moved as if applied */
    STORE_REDELIVERED,
    /* the store's fault (disk full, I/O error, busy, locked, corrupt or
     * foreign file, lost connection, missing table): retry, forever */
    STORE_ERR_IO,
    /* the event's fault (constraint, too big, type mismatch), or misuse of
     * this API: a record the store keeps refusing is dead-lettered */
    STORE_ERR_INTERNAL,
    /* store_commit() only: a position moved under this transaction, so another
     * instance owns the partition now. Nothing was committed: drop the batch
     * (store_rollback()) and re-seek from store_get_position(). Never returned
     * by the SQLite backend (one writer per file). */
    STORE_FENCED
} store_status;

#define STORE_READONLY 0x1

/*
 * Opens (and for a writer, creates/migrates) the store at where: a
 * postgresql:// or postgres:// URL selects PostgreSQL, anything else is the
 * path of a SQLite file.
 */
store *store_open(const char *where, int flags, char *err, size_t errlen);
void store_close(store *s);

/* "sqlite" or "postgresql" (for logs and /health). */
const char *store_kind(const store *s);

/* 1 if where names a PostgreSQL database (postgresql:// or postgres://). */
int store_is_url(const char *where);

/* where, fit for a log: a URL's password (user:password@, password=) masked. */
void store_describe(const char *where, char *out, size_t outlen);

store_status store_begin(store *s, char *err, size_t errlen);
/* Writes the positions touched since store_begin() and commits everything. */
store_status store_commit(store *s, char *err, size_t errlen);
/* Drops the open transaction and forgets the positions it moved. */
void store_rollback(store *s);
int store_in_txn(const store *s);

/*
 * Applies one event read at (topic, partition, offset) inside the open
 * transaction. STORE_OK: applied and the position moved to offset + 1.
 * STORE_SKIPPED: offset < position, nothing done. STORE_REDELIVERED: a copy
 * of the stored state (see store_status), position moved. STORE_DUPLICATE /
 * STORE_NOT_FOUND: nothing done, position unchanged (the caller dead-letters
 * the event, then calls store_mark()). STORE_ERR_*: the transaction must be
 * rolled back. The event must have passed order_event_validate().
 */
store_status store_apply(store *s, const char *topic, int32_t partition, int64_t offset,
                         const order_event *ev, char *err, size_t errlen);

/* One event of a store_apply_creates() run. */
typedef struct {
    int32_t partition;
    int64_t offset;
    const order_event *ev; /* a CREATE that passed order_event_validate() */
    /* order_json_items(ev) rendered already (e.g. on another thread), or NULL */
    const char *items_json;
    size_t items_len;
} store_create;

#define STORE_CREATES_MAX 32 /* events of one store_apply_creates() call */

/*
 * A run of n (1..STORE_CREATES_MAX) CREATEs read from topic, in the order
 * given (offsets ascending within a partition), inside the open transaction,
 * in fewer statements than n store_apply() calls where the backend can
 * (SQLite: one multi-row INSERT). All or nothing: STORE_OK when every one is
 * new and applies as store_apply() would say STORE_OK (applied, positions
 * moved); STORE_SKIPPED when any would say anything else (a position, an
 * existing orderId) or a statement failed without ending the transaction:
 * then nothing of the run is done and the caller applies them one by one
 * with store_apply(), which gives each its own answer. STORE_ERR_*: the
 * transaction must be rolled back. A backend without a faster way answers
 * STORE_SKIPPED at once.
 */
store_status store_apply_creates(store *s, const char *topic, const store_create *c, size_t n,
                                 char *err, size_t errlen);

/*
 * Optional hint, inside the open transaction: an apply for order_id (len
 * bytes, e.g. a record's key) is coming. A server backend looks all hinted
 * orders up in one round trip at the first apply that needs to know whether
 * an order exists; results never depend on hints (an unhinted order is looked
 * up on its own). Invalid ids are ignored. No-op for SQLite.
 */
void store_hint_order(store *s, const void *order_id, size_t len);

/*
 * SQLite writer: WAL checkpoints on a helper thread with its own connection
 * instead of inside the COMMIT that crosses SQLite's threshold
 * (store_sqlite_ckpt.c): a PASSIVE checkpoint once the WAL holds soft_pages
 * or more; a commit that finds it at hard_pages still checkpoints itself,
 * so the WAL stays bounded if the helper falls behind or fails. 1 <=
 * soft_pages <= hard_pages. Stopped by store_close(). A no-op (STORE_OK)
 * for PostgreSQL.
 */
store_status store_checkpointer_start(store *s, int64_t soft_pages, int64_t hard_pages, char *err,
                                      size_t errlen);

/* What the checkpointing did so far (SQLite writer). */
typedef struct {
    int64_t wal_pages;          /* the WAL's size after the last commit */
    int64_t runs;               /* helper checkpoints */
    int64_t failures;           /* ... that failed (other than busy) */
    int64_t incomplete;         /* ... that could not copy every page (a reader's snapshot) */
    int64_t commit_checkpoints; /* checkpoints inside a commit (the hard bound) */
} store_ckpt_stats;

/* STORE_OK with *out; STORE_NOT_FOUND (with what the commits saw) if no helper runs. */
store_status store_checkpoint_stats(store *s, store_ckpt_stats *out);

/* Moves the position past offset without an effect (event dead-lettered). */
store_status store_mark(store *s, const char *topic, int32_t partition, int64_t offset, char *err,
                        size_t errlen);

/*
 * The next offset to read for (topic, partition), as committed or as moved in
 * the open transaction. STORE_OK with *next, STORE_NOT_FOUND if never stored.
 */
store_status store_get_position(store *s, const char *topic, int32_t partition, int64_t *next,
                                char *err, size_t errlen);

typedef struct {
    char order_id[ORDER_ID_MAX + 1];
    char customer_id[ORDER_CUSTOMER_ID_MAX + 1];
    char order_date[ORDER_DATE_MAX + 1];
    const char *items_json; /* pre-rendered JSON array; valid until the next call */
    size_t items_json_len;
    int64_t total_cents;
    char currency[ORDER_CURRENCY_MAX + 1];
    char status[ORDER_STATUS_MAX + 1];
    int64_t shipping_cents;
    int64_t created_at_ms; /* event time of the CREATE */
    int64_t updated_at_ms; /* event time of the last applied event */
} store_order;

/* Called once per status change, oldest first (after *out is filled). */
typedef void (*store_history_fn)(void *arg, const char *status, int64_t at_ms);

/*
 * STORE_OK and *out filled (history through fn, may be NULL), or
 * STORE_NOT_FOUND. Committed state (SQLite: also the open transaction's).
 */
store_status store_get_order(store *s, const char *order_id, store_order *out, store_history_fn fn,
                             void *arg, char *err, size_t errlen);

store_status store_count_orders(store *s, int64_t *count, char *err, size_t errlen);

/*
 * Many orders in one round trip (the HTTP side's batched order-details, so a
 * server store costs one round trip per batch, not per request). For each
 * ids[i] that exists: sink->order(arg, i, &order), then sink->history(arg, i,
 * status, at_ms) once per status change, oldest first, before the next id;
 * nothing for an unknown id. An id asked twice comes back twice. Committed
 * state, one statement (one snapshot: an order always agrees with its
 * history). Outside a transaction; read-only handles too. At most
 * STORE_GET_MANY_MAX ids, each a valid orderId.
 */
#define STORE_GET_MANY_MAX 4096
typedef struct {
    void *arg;
    void (*order)(void *arg, size_t index, const store_order *o);
    void (*history)(void *arg, size_t index, const char *status, int64_t at_ms);
} store_order_sink;
store_status store_get_orders(store *s, const char *const *ids, size_t nids,
                              const store_order_sink *sink, char *err, size_t errlen);

/*
 * Many readers' questions in one round trip (read-your-writes waiters): which
 * of ids[0..nids) exist (found[i] = 1 or 0), and the positions of
 * parts[0..nparts) of topic (next[j], -1 when never stored). Committed state,
 * one statement (one snapshot). Read-only handles too; outside a transaction.
 * At most STORE_PROBE_MAX ids and partitions each; ids must be valid orderIds.
 */
#define STORE_PROBE_MAX 100000
store_status store_probe(store *s, const char *topic, const char *const *ids, size_t nids,
                         uint8_t *found, const int32_t *parts, size_t nparts, int64_t *next,
                         char *err, size_t errlen);

/*
 * SQLite only, once per process before the first store_open(): 1 (the
 * default) holds the store file for this process alone (other processes
 * cannot open it while it runs; read transactions take no file lock); 0
 * lets other processes (the sqlite3 shell, a backup) open it meanwhile.
 * Every handle of a process uses the same, so changing it after a handle
 * opened fails (-1).
 */
int store_sqlite_exclusive(int exclusive);

/*
 * Read-only handles: map up to mmap_bytes of the store file into memory, so
 * reads copy no pages (SQLite's mmap_size; 0 turns it off). The mapped pages
 * are the file's: they count in RssFile, shared and reclaimable, never in
 * RssAnon. A no-op for PostgreSQL.
 */
store_status store_read_mmap(store *s, int64_t mmap_bytes, char *err, size_t errlen);

/*
 * Bounds this handle's page cache to kib KiB (SQLite's cache_size; a writable
 * handle opens with 32 MiB, what the consumer's batches want). The cache is
 * heap memory (RssAnon) and stays filled while the handle is open, so a
 * handle that only appends and reads a few large rows (the topic-read
 * workers' indexes) keeps it small. A no-op for PostgreSQL.
 */
store_status store_cache_size(store *s, int64_t kib, char *err, size_t errlen);

/*
 * Read-only handles on PostgreSQL: a statement running longer than ms is
 * cancelled by the server (statement_timeout, set again after a reconnect)
 * and fails with STORE_ERR_IO, so a server stuck on a lock bounds the wait of
 * every lookup queued behind it. 0: no bound. A no-op for SQLite, whose
 * readers never wait for the writer (WAL).
 */
store_status store_read_timeout(store *s, int ms, char *err, size_t errlen);

/*
 * Caps the file at max_pages pages (never below its current size): writes
 * that need more fail with STORE_ERR_IO, exactly as on a full disk. Used by
 * the tests (ORDER_TEST_STORE_MAX_PAGES) to prove the store-failure path.
 * SQLite only: STORE_ERR_INTERNAL on PostgreSQL.
 */
store_status store_limit_pages(store *s, int64_t max_pages, char *err, size_t errlen);

/*
 * Retry state of one record (topic, partition, offset), kept apart from the
 * batch transaction so it survives what the batch does not: a process that
 * dies while trying the record, an instance that loses the partition while
 * the record waits for its next attempt, a store failure after the record's
 * dead letter was acknowledged. Only a partition's first unapplied record
 * matters: a row below the partition's position is stale and ignored.
 */
typedef struct {
    int attempts;    /* failed (or, when recorded before running, started) attempts */
    int64_t due_ms;  /* wall-clock time the next attempt is due; 0 none */
    int dlq_written; /* Kafka acknowledged the record's dead letter */
} store_attempt;

/*
 * Records attempts and due_ms for the record, durably before it returns:
 * outside a transaction only (STORE_ERR_INTERNAL inside). attempts never goes
 * down: a lower value keeps the stored count (0 marks a record as being
 * tried without counting anything). The partition's rows below offset are
 * dropped in the same step: those records are past.
 */
store_status store_attempt_record(store *s, const char *topic, int32_t partition, int64_t offset,
                                  int attempts, int64_t due_ms, char *err, size_t errlen);

/* STORE_OK and *out, or STORE_NOT_FOUND. Committed state; inside or outside a transaction. */
store_status store_attempt_get(store *s, const char *topic, int32_t partition, int64_t offset,
                               store_attempt *out, char *err, size_t errlen);

/* Drops the partition's rows below offset (applied or dead-lettered); outside a transaction. */
store_status store_attempt_clear(store *s, const char *topic, int32_t partition, int64_t below,
                                 char *err, size_t errlen);

/* Remembers, durably, that the record's dead letter was acknowledged; outside a transaction. */
store_status store_dlq_written_mark(store *s, const char *topic, int32_t partition, int64_t offset,
                                    char *err, size_t errlen);

/* *written = 1 if store_dlq_written_mark() was called for the record (and not cleared). */
store_status store_dlq_written_check(store *s, const char *topic, int32_t partition, int64_t offset,
                                     int *written, char *err, size_t errlen);

/*
 * Topic indexes: what the query side remembers of a topic's records, so a
 * read of the topic scans only the tail past a recorded position instead of
 * the whole topic (GET /getAllOrderIdsFromTopic, /dlq/stats). An index is
 * named (e.g. "ids:order-events"); it holds, per partition, the low
 * watermark it was built from and the next offset it has not seen, plus
 * either distinct record keys (ids) or counts by kind and name (stats).
 *
 * Several handles (threads, instances on one PostgreSQL store) may build the
 * same index: store_tix_add() moves the positions by compare-and-set on the
 * positions the caller loaded (or last wrote), so an index is only ever
 * extended from where it really stands; a lost race is STORE_FENCED and
 * changes nothing (the caller's answer, index as loaded plus what it
 * scanned, is still right). Both calls need a writable handle outside a
 * batch transaction.
 */
#define STORE_TIX_NAME_MAX 300   /* "ids:" or "stats:" + a topic name */
#define STORE_TIX_PARTS_MAX 1024 /* partitions one index tracks */

typedef struct {
    int32_t partition;
    int64_t low;  /* the partition's low watermark when its indexing began */
    int64_t next; /* records below this are in the index */
} store_tix_pos;

/* Receives an index's content; a non-zero return stops the load (STORE_ERR_INTERNAL). */
typedef struct {
    void *arg;
    int (*id)(void *arg, const void *id, size_t len);
    int (*stat)(void *arg, char kind, const char *name, int64_t n);
} store_tix_sink;

/*
 * Loads index name in one snapshot: its positions (at most maxpos, sorted by
 * partition, *npos of them; 0 for an index never built), then every id
 * and every stat row through sink (either callback may be NULL).
 */
store_status store_tix_load(store *s, const char *name, store_tix_pos *pos, int maxpos, int *npos,
                            const store_tix_sink *sink, char *err, size_t errlen);

typedef struct {
    char kind; /* a short tag, e.g. 'c' category, 'r' reason */
    const char *name;
    int64_t n; /* added to the stored count */
} store_tix_stat;

typedef struct {
    const char *name;
    int reset;                 /* drop the index's content first (rebuilt from low) */
    const store_tix_pos *from; /* the positions as loaded or last written */
    int nfrom;
    const store_tix_pos *to; /* the new positions (every partition of the index) */
    int nto;
    /* ids to add: each id once, and none the index holds (a load gives back what was added) */
    const void *(*id_at)(void *arg, size_t i, size_t *len);
    void *id_arg;
    size_t nids;
    const store_tix_stat *stats; /* counts to add */
    size_t nstats;
} store_tix_update;

/*
 * Extends (or, with reset, rebuilds) index u->name in one transaction:
 * STORE_OK, or STORE_FENCED when the stored positions are not u->from (an
 * other handle moved them first): nothing written.
 */
store_status store_tix_add(store *s, const store_tix_update *u, char *err, size_t errlen);

/* The position of partition p in pos[0..n), or NULL. */
const store_tix_pos *store_tix_find(const store_tix_pos *pos, int n, int32_t p);

/*
 * DLQ replay marks (replay/): which dead letters, by (DLQ topic, partition,
 * offset), were replayed to their topic and acknowledged there, how often
 * and when last. Kept apart from the batch like the retry state, so a
 * replay never replays a record twice unless asked to (force). Written only
 * after Kafka acknowledged the replayed record.
 */
typedef struct {
    int count;          /* acknowledged replays of the dead letter */
    int64_t last_at_ms; /* wall-clock time of the last one */
} store_replay;

/* STORE_OK and *out, or STORE_NOT_FOUND (never replayed). Writable handle. */
store_status store_replay_get(store *s, const char *dlq_topic, int32_t partition, int64_t offset,
                              store_replay *out, char *err, size_t errlen);

/* Counts one more acknowledged replay at at_ms, durably before it returns; outside a transaction.
 */
store_status store_replay_mark(store *s, const char *dlq_topic, int32_t partition, int64_t offset,
                               int64_t at_ms, char *err, size_t errlen);

/*
 * Leases (replay/): a named lock shared by every instance on the store, so
 * "one at a time" holds across instances, not only within one. A lease is a
 * row (name, holder, expiry): taken by one conditional insert-or-update that
 * succeeds only when the row is free, expired or already the holder's;
 * renewed by taking it again; released by its holder. A crashed holder's
 * lease simply expires. Expiry is judged by the store's clock (PostgreSQL's
 * for a shared server, so instances' clocks need not agree). Writable
 * handles, outside a transaction; durable before the call returns.
 */
#define STORE_LEASE_NAME_MAX 300
#define STORE_LEASE_HOLDER_MAX 200
#define STORE_LEASE_TTL_MAX_MS (3600 * 1000)

typedef struct {
    int held; /* 1: the caller holds it now, for ttl_ms */
    /* held == 0: who holds it, and for how long at most unless renewed */
    char holder[STORE_LEASE_HOLDER_MAX + 1];
    int64_t remaining_ms;
} store_lease;

/* Takes or renews lease name for holder, expiring ttl_ms (1..STORE_LEASE_TTL_MAX_MS)
 * from now: STORE_OK and *out (held or not), or the failure. */
store_status store_lease_take(store *s, const char *name, const char *holder, int64_t ttl_ms,
                              store_lease *out, char *err, size_t errlen);
/* Frees lease name if holder holds it (else nothing changes): STORE_OK, or the failure. */
store_status store_lease_release(store *s, const char *name, const char *holder, char *err,
                                 size_t errlen);

/*
 * Replay statuses (replay/): the status document (JSON) of each recent DLQ
 * replay, so that every instance on the store answers GET /dlq/replay/{id},
 * and a restart keeps them. Written by the replay's own thread: at its start,
 * every few seconds while it runs, at its end. The STORE_REPLAY_STATUS_KEPT
 * most recently written are kept. Writable handles, outside a transaction.
 */
#define STORE_REPLAY_STATUS_KEPT 100
#define STORE_REPLAY_ID_MAX 64
#define STORE_REPLAY_STATUS_MAX (4 << 20) /* bytes of one document */

/* Writes (or replaces) id's document, durably: STORE_OK, or the failure. */
store_status store_replay_status_put(store *s, const char *id, const char *doc, size_t len,
                                     char *err, size_t errlen);
/* STORE_OK with *doc (malloc'd, NUL-terminated: the caller frees it) and *age_ms
 * (since it was written, by the store's clock), STORE_NOT_FOUND, or the failure. */
store_status store_replay_status_get(store *s, const char *id, char **doc, int64_t *age_ms,
                                     char *err, size_t errlen);

const char *store_status_name(store_status st);

#endif
