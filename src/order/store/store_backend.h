/*
 * store_backend: the private seam between store.c (the public API of
 * store.h) and the backends, store_sqlite.c and store_pg*.c.
 *
 * Why a vtable: the consumer and the HTTP threads stay backend-neutral, and
 * adding a backend is one table of functions plus one line in store_open(),
 * not a branch in every call. Every backend's handle starts with struct
 * store, so store.c dispatches through s->be without knowing the rest.
 * Private to the store files: everyone else includes store.h only.
 */
#ifndef STORE_BACKEND_H
#define STORE_BACKEND_H

#include "store/store.h"

typedef struct {
    const char *kind; /* store_kind() */
    void (*close)(store *s);
    store_status (*begin)(store *s, char *err, size_t errlen);
    store_status (*commit)(store *s, char *err, size_t errlen);
    void (*rollback)(store *s);
    int (*in_txn)(const store *s);
    void (*hint_order)(store *s, const void *order_id, size_t len); /* may be NULL */
    store_status (*apply)(store *s, const char *topic, int32_t partition, int64_t offset,
                          const order_event *ev, char *err, size_t errlen);
    /* store_apply_creates (n checked by store.c); may be NULL: one apply per event */
    store_status (*apply_creates)(store *s, const char *topic, const store_create *c, size_t n,
                                  char *err, size_t errlen);
    /* store_checkpointer_start / store_checkpoint_stats; may be NULL (nothing to do) */
    store_status (*checkpointer_start)(store *s, int64_t soft_pages, int64_t hard_pages, char *err,
                                       size_t errlen);
    store_status (*checkpoint_stats)(store *s, store_ckpt_stats *out);
    store_status (*mark)(store *s, const char *topic, int32_t partition, int64_t offset, char *err,
                         size_t errlen);
    store_status (*get_position)(store *s, const char *topic, int32_t partition, int64_t *next,
                                 char *err, size_t errlen);
    store_status (*get_order)(store *s, const char *order_id, store_order *out, store_history_fn fn,
                              void *arg, char *err, size_t errlen);
    store_status (*count_orders)(store *s, int64_t *count, char *err, size_t errlen);
    /* store_get_orders (ids checked by store.c); NULL: one get_order per id */
    store_status (*get_orders)(store *s, const char *const *ids, size_t nids,
                               const store_order_sink *sink, char *err, size_t errlen);
    /* store_probe: ids_json and parts_json are JSON arrays (built by store.c);
     * row(arg, kind, index, value) once per existing id (kind 0, value unused)
     * and per stored position (kind 1, value next_offset) */
    store_status (*probe)(store *s, const char *topic, const char *ids_json, const char *parts_json,
                          void (*row)(void *arg, int kind, int64_t index, int64_t value), void *arg,
                          char *err, size_t errlen);
    store_status (*limit_pages)(store *s, int64_t max_pages, char *err, size_t errlen);
    store_status (*read_mmap)(store *s, int64_t bytes, char *err, size_t errlen); /* may be NULL */
    store_status (*cache_size)(store *s, int64_t kib, char *err, size_t errlen);  /* may be NULL */
    store_status (*read_timeout)(store *s, int ms, char *err, size_t errlen);     /* may be NULL */
    /* retry state (store.h); record, clear and dlq_mark are called outside a transaction */
    store_status (*attempt_record)(store *s, const char *topic, int32_t partition, int64_t offset,
                                   int attempts, int64_t due_ms, char *err, size_t errlen);
    store_status (*attempt_get)(store *s, const char *topic, int32_t partition, int64_t offset,
                                store_attempt *out, char *err, size_t errlen);
    store_status (*attempt_clear)(store *s, const char *topic, int32_t partition, int64_t below,
                                  char *err, size_t errlen);
    store_status (*dlq_mark)(store *s, const char *topic, int32_t partition, int64_t offset,
                             char *err, size_t errlen);
    /* topic indexes (store.h), outside a transaction */
    store_status (*tix_load)(store *s, const char *name, store_tix_pos *pos, int maxpos, int *npos,
                             const store_tix_sink *sink, char *err, size_t errlen);
    store_status (*tix_add)(store *s, const store_tix_update *u, char *err, size_t errlen);
    /* DLQ replay marks (store.h); mark is called outside a transaction */
    store_status (*replay_get)(store *s, const char *dlq_topic, int32_t partition, int64_t offset,
                               store_replay *out, char *err, size_t errlen);
    store_status (*replay_mark)(store *s, const char *dlq_topic, int32_t partition, int64_t offset,
                                int64_t at_ms, char *err, size_t errlen);
    /* leases (store.h), outside a transaction; arguments checked by store.c */
    store_status (*lease_take)(store *s, const char *name, const char *holder, int64_t ttl_ms,
                               store_lease *out, char *err, size_t errlen);
    store_status (*lease_release)(store *s, const char *name, const char *holder, char *err,
                                  size_t errlen);
    /* replay statuses (store.h), outside a transaction; arguments checked by store.c */
    store_status (*replay_status_put)(store *s, const char *id, const char *doc, size_t len,
                                      char *err, size_t errlen);
    store_status (*replay_status_get)(store *s, const char *id, char **doc, int64_t *age_ms,
                                      char *err, size_t errlen);
} store_backend;

/* The first member of every backend's handle. */
struct store {
    const store_backend *be;
};

/*
 * The ids of a topic index are kept in segments, not a row each: a segment
 * is a blob of ids, each a 2-byte big-endian length and its bytes, at most
 * STORE_TIX_SEGMENT bytes. Loading millions of ids is then reading a few
 * hundred blobs, not millions of rows. Segments of one index hold disjoint
 * ids as long as writers are fenced (store.h); a loader dedups anyway.
 */
#define STORE_TIX_SEGMENT (1024 * 1024)
#define STORE_TIX_ID_MAX 65535

/* Packs ids *next.. of u into buf (STORE_TIX_SEGMENT bytes) while they fit; the byte count
 * (0 when none is left), *next moved past them. -1: an id over STORE_TIX_ID_MAX bytes. */
long store_tix_pack(const store_tix_update *u, size_t *next, unsigned char *buf);
/* Feeds a segment's ids to sink->id: 0, 1 stopped by the sink, -1 malformed. */
int store_tix_unpack(const void *seg, size_t len, const store_tix_sink *sink);

store *store_sqlite_open(const char *path, int flags, char *err, size_t errlen);
store *store_pg_open(const char *url, int flags, char *err, size_t errlen);

#endif
