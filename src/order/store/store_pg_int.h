/*
 * store_pg_int: the PostgreSQL backend's handle, shared by its three files
 * and private to them:
 *   store_pg.c       connection, schema, error classes;
 *   store_pg_read.c  the order reads: one, and many in one round trip;
 *   store_pg_batch.c the write transaction: positions, order existence and
 *                    the effects buffered until the commit;
 *   store_pg_commit.c the commit: one pipeline, fenced by compare-and-set;
 *   store_pg_retry.c retry state and DLQ replay marks, each write committed at once;
 *   store_pg_index.c the query side's topic indexes;
 *   store_pg_ids.c   which orders are known to exist (DUPLICATE/NOT_FOUND
 *                    decided without a round trip per event);
 *   store_pg_probe.c many readers' questions in one statement (store_probe).
 */
#ifndef STORE_PG_INT_H
#define STORE_PG_INT_H

#include "store/store_backend.h"

#include "platform/jsonw.h"

#include <libpq-fe.h>
#include <stdint.h>

#define STORE_PG_TOPIC_MAX 249 /* Kafka's own limit on topic names */
#define STORE_PG_POS_MAX 1024  /* partitions one store tracks */
#define STORE_PG_WHERE_MAX 512 /* the URL as logged (password masked) */

/* Prepared statement names (store_pg.c prepares them on every connection). */
#define STORE_PG_POS_GET "pos_get"     /* $1 topic, $2 partition -> next_offset */
#define STORE_PG_POS_CAS "pos_cas"     /* $1 topic, $2 partition, $3 new, $4 expected */
#define STORE_PG_POS_NEW "pos_new"     /* $1 topic, $2 partition, $3 new (0 rows: taken) */
#define STORE_PG_ORD_INS "ord_ins"     /* CREATE: 9 parameters, see store_pg_batch.c */
#define STORE_PG_ORD_UPD "ord_upd"     /* UPDATE: $1 order_id, $2 status, $3 at */
#define STORE_PG_ORD_FIND "ord_find"   /* $1 text[] of order ids -> the existing ones */
#define STORE_PG_ORD_GET "ord_get"     /* $1 order_id -> the row */
#define STORE_PG_ORD_SAME "ord_same"   /* a CREATE's fields -> 1 row if stored as is */
#define STORE_PG_ORD_HIST "ord_hist"   /* $1 order_id -> the row joined with its history */
#define STORE_PG_ORD_MANY "ord_many"   /* $1 text[] of order ids -> index, row, history */
#define STORE_PG_ORD_COUNT "ord_count" /* -> count(*) */
#define STORE_PG_ATT_PUT "att_put"     /* $1 topic, $2 partition, $3 offset, $4 attempts, $5 due */
#define STORE_PG_ATT_GET "att_get"     /* $1 topic, $2 partition, $3 offset -> the row */
#define STORE_PG_ATT_CLEAR "att_clear" /* $1 topic, $2 partition, $3 below */
#define STORE_PG_ATT_DLQ "att_dlq"     /* $1 topic, $2 partition, $3 offset */
#define STORE_PG_RPL_GET "rpl_get"     /* $1 DLQ topic, $2 partition, $3 offset -> the row */
#define STORE_PG_RPL_MARK "rpl_mark"   /* $1 DLQ topic, $2 partition, $3 offset, $4 at */

typedef struct {
    char topic[STORE_PG_TOPIC_MAX + 1];
    int32_t partition;
    int64_t next;  /* valid when found */
    int found;     /* a position exists (committed, or moved in this transaction) */
    int64_t start; /* the committed position the fence compares with (if start_found) */
    int start_found;
    int dirty; /* moved in the open transaction */
} store_pg_pos;

/* What the batch knows about one orderId. */
enum { STORE_PG_ID_PENDING = 0, STORE_PG_ID_EXISTS, STORE_PG_ID_ABSENT };

typedef struct {
    char id[ORDER_ID_MAX + 1];
    uint8_t len;
    uint8_t state; /* STORE_PG_ID_* */
    /* EXISTS: its current status (an UPDATE to it is already applied) */
    char last_status[ORDER_STATUS_MAX + 1];
} store_pg_id;

typedef struct {
    store_pg_id *ents; /* dense, in insertion order */
    uint32_t n, cap;
    uint32_t *table; /* open addressing: slot -> entry index + 1 (0 = empty) */
    uint32_t table_cap;
    uint32_t scan; /* entries below this are not pending */
} store_pg_ids;

#define STORE_PG_EFF_PARAMS 9

typedef struct {
    int create;                      /* 1: CREATE (9 parameters), 0: UPDATE (3 parameters) */
    size_t off[STORE_PG_EFF_PARAMS]; /* parameter texts, offsets into the arena */
} store_pg_effect;

typedef struct {
    store base; /* first: the handle store.c dispatches on */
    PGconn *conn;
    char *url;                      /* as configured: may carry a password, never printed */
    char where[STORE_PG_WHERE_MAX]; /* the URL with its password masked */
    int readonly;
    int read_timeout_ms; /* statement_timeout of a read-only session; 0: none */
    int in_txn;
    int failed; /* a commit failed: only store_rollback() is accepted */
    store_pg_pos *pos;
    size_t npos;
    store_pg_ids ids;
    store_pg_effect *eff; /* the open transaction's effects, in order */
    size_t neff, effcap;
    char *arena; /* their parameter texts, NUL-terminated, back to back */
    size_t arena_len, arena_cap;
    jsonw items; /* rendering buffer for CREATE items */
    char *buf;   /* copy of items JSON for store_get_order */
    size_t bufcap;
    jsonw lit; /* store_get_orders' text[] literal */
} store_pg;

/* ---- store_pg.c ------------------------------------------------------- */

/* A connection that works (reconnecting, re-preparing if it was lost). */
store_status store_pg_ensure(store_pg *s, char *err, size_t errlen);
/* The class of a failed result r (NULL: no result) and its message in err. */
store_status store_pg_fail(store_pg *s, const PGresult *r, const char *what, char *err,
                           size_t errlen);
/* Runs sql (no parameters); STORE_OK if it returned want. */
store_status store_pg_simple(store_pg *s, const char *sql, ExecStatusType want, const char *what,
                             char *err, size_t errlen);
/* One prepared statement, waited for; NULL only when out of memory. */
PGresult *store_pg_exec(store_pg *s, const char *stmt, int n, const char *const *vals);

/* ---- store_pg_read.c --------------------------------------------------- */

/* A non-negative integer column, or -1 (NULL or not a number). */
int64_t store_pg_col_int(const PGresult *r, int row, int col);
store_status store_pg_get_order(store *base, const char *order_id, store_order *out,
                                store_history_fn fn, void *arg, char *err, size_t errlen);
store_status store_pg_get_orders(store *base, const char *const *ids, size_t nids,
                                 const store_order_sink *sink, char *err, size_t errlen);

/* ---- store_pg_batch.c -------------------------------------------------- */

store_status store_pg_batch_begin(store *base, char *err, size_t errlen);
void store_pg_batch_rollback(store *base);
store_status store_pg_batch_apply(store *base, const char *topic, int32_t partition, int64_t offset,
                                  const order_event *ev, char *err, size_t errlen);
store_status store_pg_batch_mark(store *base, const char *topic, int32_t partition, int64_t offset,
                                 char *err, size_t errlen);
void store_pg_batch_hint(store *base, const void *order_id, size_t len);
store_status store_pg_batch_position(store *base, const char *topic, int32_t partition,
                                     int64_t *next, char *err, size_t errlen);
/* Forgets every cached position and order and the buffered effects. */
void store_pg_batch_forget(store_pg *s);
void store_pg_batch_free(store_pg *s);

/* ---- store_pg_commit.c ------------------------------------------------- */

/* Sends the open transaction's positions (fenced) and effects, and commits. */
store_status store_pg_commit(store *base, char *err, size_t errlen);

/* ---- store_pg_retry.c ------------------------------------------------- */

store_status store_pg_attempt_record(store *base, const char *topic, int32_t partition,
                                     int64_t offset, int attempts, int64_t due_ms, char *err,
                                     size_t errlen);
store_status store_pg_attempt_get(store *base, const char *topic, int32_t partition, int64_t offset,
                                  store_attempt *out, char *err, size_t errlen);
store_status store_pg_attempt_clear(store *base, const char *topic, int32_t partition,
                                    int64_t below, char *err, size_t errlen);
store_status store_pg_dlq_mark(store *base, const char *topic, int32_t partition, int64_t offset,
                               char *err, size_t errlen);
store_status store_pg_replay_get(store *base, const char *dlq_topic, int32_t partition,
                                 int64_t offset, store_replay *out, char *err, size_t errlen);
store_status store_pg_replay_mark(store *base, const char *dlq_topic, int32_t partition,
                                  int64_t offset, int64_t at_ms, char *err, size_t errlen);

/* ---- store_pg_lease.c ------------------------------------------------- */

/* Creates the leases table when missing (inside the writer's migration). */
store_status store_pg_lease_migrate(store_pg *s, char *err, size_t errlen);
store_status store_pg_lease_take(store *base, const char *name, const char *holder, int64_t ttl_ms,
                                 store_lease *out, char *err, size_t errlen);
store_status store_pg_lease_release(store *base, const char *name, const char *holder, char *err,
                                    size_t errlen);
store_status store_pg_replay_status_put(store *base, const char *id, const char *doc, size_t len,
                                        char *err, size_t errlen);
store_status store_pg_replay_status_get(store *base, const char *id, char **doc, int64_t *age_ms,
                                        char *err, size_t errlen);

/* ---- store_pg_probe.c -------------------------------------------------- */

store_status store_pg_probe(store *base, const char *topic, const char *ids_json,
                            const char *parts_json,
                            void (*row)(void *arg, int kind, int64_t index, int64_t value),
                            void *arg, char *err, size_t errlen);

/* ---- store_pg_index.c ------------------------------------------------ */

store_status store_pg_tix_load(store *base, const char *name, store_tix_pos *pos, int maxpos,
                               int *npos, const store_tix_sink *sink, char *err, size_t errlen);
store_status store_pg_tix_add(store *base, const store_tix_update *u, char *err, size_t errlen);

/* ---- store_pg_ids.c ---------------------------------------------------- */

void store_pg_ids_clear(store_pg_ids *t); /* keeps the allocations */
void store_pg_ids_free(store_pg_ids *t);
/* The entry of id, or NULL. */
store_pg_id *store_pg_ids_find(store_pg_ids *t, const char *id, size_t len);
/* The entry of id, added with state if new; NULL when out of memory or full. */
store_pg_id *store_pg_ids_add(store_pg_ids *t, const char *id, size_t len, uint8_t state);

#endif
