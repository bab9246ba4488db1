/*
 * store: the public store API (store.h) as a thin dispatch onto the backend
 * store_open() chose (see store_backend.h), plus what is the same for every
 * backend: status names and how a store is named in logs.
 */
#include "store/store_backend.h"

#include "platform/jsonw.h"

#include <stdio.h>
#include <string.h>

int store_is_url(const char *where)
{
    return strncmp(where, "postgresql://", 13) == 0 || strncmp(where, "postgres://", 11) == 0;
}

store *store_open(const char *where, int flags, char *err, size_t errlen)
{
    if (store_is_url(where))
        return store_pg_open(where, flags, err, errlen);
    return store_sqlite_open(where, flags, err, errlen);
}

void store_close(store *s)
{
    if (s)
        s->be->close(s);
}

const char *store_kind(const store *s)
{
    return s->be->kind;
}

store_status store_begin(store *s, char *err, size_t errlen)
{
    return s->be->begin(s, err, errlen);
}

store_status store_commit(store *s, char *err, size_t errlen)
{
    return s->be->commit(s, err, errlen);
}

void store_rollback(store *s)
{
    s->be->rollback(s);
}

int store_in_txn(const store *s)
{
    return s->be->in_txn(s);
}

void store_hint_order(store *s, const void *order_id, size_t len)
{
    if (s->be->hint_order)
        s->be->hint_order(s, order_id, len);
}

store_status store_apply(store *s, const char *topic, int32_t partition, int64_t offset,
                         const order_event *ev, char *err, size_t errlen)
{
    return s->be->apply(s, topic, partition, offset, ev, err, errlen);
}

store_status store_apply_creates(store *s, const char *topic, const store_create *c, size_t n,
                                 char *err, size_t errlen)
{
    if (n == 0 || n > STORE_CREATES_MAX) {
        snprintf(err, errlen, "store_apply_creates: %zu events (1..%d)", n, STORE_CREATES_MAX);
        return STORE_ERR_INTERNAL;
    }
    if (!s->be->apply_creates)
        return STORE_SKIPPED;
    return s->be->apply_creates(s, topic, c, n, err, errlen);
}

store_status store_checkpointer_start(store *s, int64_t soft_pages, int64_t hard_pages, char *err,
                                      size_t errlen)
{
    if (!s->be->checkpointer_start)
        return STORE_OK;
    return s->be->checkpointer_start(s, soft_pages, hard_pages, err, errlen);
}

store_status store_checkpoint_stats(store *s, store_ckpt_stats *out)
{
    if (!s->be->checkpoint_stats) {
        memset(out, 0, sizeof *out);
        return STORE_NOT_FOUND;
    }
    return s->be->checkpoint_stats(s, out);
}

store_status store_mark(store *s, const char *topic, int32_t partition, int64_t offset, char *err,
                        size_t errlen)
{
    return s->be->mark(s, topic, partition, offset, err, errlen);
}

store_status store_get_position(store *s, const char *topic, int32_t partition, int64_t *next,
                                char *err, size_t errlen)
{
    return s->be->get_position(s, topic, partition, next, err, errlen);
}

store_status store_get_order(store *s, const char *order_id, store_order *out, store_history_fn fn,
                             void *arg, char *err, size_t errlen)
{
    return s->be->get_order(s, order_id, out, fn, arg, err, errlen);
}

store_status store_count_orders(store *s, int64_t *count, char *err, size_t errlen)
{
    return s->be->count_orders(s, count, err, errlen);
}

/* A many-ids read's preconditions: outside a transaction, every id a valid orderId. */
static int store_reads_ok(store *s, const char *what, const char *const *ids, size_t nids,
                          char *err, size_t errlen)
{
    if (s->be->in_txn(s)) {
        snprintf(err, errlen, "%s: called inside a transaction", what);
        return 0;
    }
    for (size_t i = 0; i < nids; i++) {
        if (!order_id_valid(ids[i], strlen(ids[i]))) {
            snprintf(err, errlen, "%s: invalid orderId", what);
            return 0;
        }
    }
    return 1;
}

/* The fallback's history callback: the order goes to the sink before its first
 * status change (store_get_order fills *out before it calls fn). */
typedef struct {
    const store_order_sink *sink;
    size_t index;
    const store_order *o;
    int started;
} store_one_order;

static void store_one_start(store_one_order *h)
{
    if (!h->started)
        h->sink->order(h->sink->arg, h->index, h->o);
    h->started = 1;
}

static void store_one_history(void *arg, const char *status, int64_t at_ms)
{
    store_one_order *h = arg;
    store_one_start(h);
    h->sink->history(h->sink->arg, h->index, status, at_ms);
}

store_status store_get_orders(store *s, const char *const *ids, size_t nids,
                              const store_order_sink *sink, char *err, size_t errlen)
{
    if (nids > STORE_GET_MANY_MAX) {
        snprintf(err, errlen, "store_get_orders: more than %d ids", STORE_GET_MANY_MAX);
        return STORE_ERR_INTERNAL;
    }
    if (!store_reads_ok(s, "store_get_orders", ids, nids, err, errlen))
        return STORE_ERR_INTERNAL;
    if (nids == 0)
        return STORE_OK;
    if (s->be->get_orders)
        return s->be->get_orders(s, ids, nids, sink, err, errlen);
    /* A local store (SQLite) has no round trip to save: one read per id. */
    for (size_t i = 0; i < nids; i++) {
        store_order o;
        store_one_order h = {sink, i, &o, 0};
        store_status st = s->be->get_order(s, ids[i], &o, store_one_history, &h, err, errlen);
        if (st == STORE_NOT_FOUND)
            continue;
        if (st != STORE_OK)
            return st;
        store_one_start(&h);
    }
    return STORE_OK;
}

typedef struct {
    uint8_t *found;
    size_t nids;
    int64_t *next;
    size_t nparts;
} store_probe_out;

static void store_probe_row(void *arg, int kind, int64_t index, int64_t value)
{
    store_probe_out *o = arg;
    /* indices come back from the server: never trusted as is */
    if (kind == 0 && index >= 0 && (size_t)index < o->nids)
        o->found[index] = 1;
    else if (kind == 1 && index >= 0 && (size_t)index < o->nparts)
        o->next[index] = value;
}

store_status store_probe(store *s, const char *topic, const char *const *ids, size_t nids,
                         uint8_t *found, const int32_t *parts, size_t nparts, int64_t *next,
                         char *err, size_t errlen)
{
    if (nids > STORE_PROBE_MAX || nparts > STORE_PROBE_MAX) {
        snprintf(err, errlen, "store_probe: more than %d ids or partitions", STORE_PROBE_MAX);
        return STORE_ERR_INTERNAL;
    }
    for (size_t i = 0; i < nids; i++)
        found[i] = 0;
    if (!store_reads_ok(s, "store_probe", ids, nids, err, errlen))
        return STORE_ERR_INTERNAL;
    for (size_t j = 0; j < nparts; j++)
        next[j] = -1;
    if (nids == 0 && nparts == 0)
        return STORE_OK;
    /* The ids are [A-Za-z0-9._:-] (checked above): JSON strings with nothing to escape. */
    jsonw a, b;
    jsonw_init(&a);
    jsonw_init(&b);
    jsonw_arr_begin(&a);
    for (size_t i = 0; i < nids; i++)
        jsonw_str(&a, ids[i]);
    jsonw_arr_end(&a);
    jsonw_arr_begin(&b);
    for (size_t j = 0; j < nparts; j++)
        jsonw_int(&b, parts[j]);
    jsonw_arr_end(&b);
    store_status st;
    if (!jsonw_ok(&a) || !jsonw_ok(&b)) {
        snprintf(err, errlen, "store_probe: out of memory");
        st = STORE_ERR_IO;
    } else {
        store_probe_out o = {found, nids, next, nparts};
        st = s->be->probe(s, topic, a.buf, b.buf, store_probe_row, &o, err, errlen);
    }
    jsonw_free(&a);
    jsonw_free(&b);
    return st;
}

store_status store_limit_pages(store *s, int64_t max_pages, char *err, size_t errlen)
{
    return s->be->limit_pages(s, max_pages, err, errlen);
}

store_status store_read_mmap(store *s, int64_t mmap_bytes, char *err, size_t errlen)
{
    if (mmap_bytes < 0) {
        snprintf(err, errlen, "store_read_mmap: negative size");
        return STORE_ERR_INTERNAL;
    }
    return s->be->read_mmap ? s->be->read_mmap(s, mmap_bytes, err, errlen) : STORE_OK;
}

store_status store_read_timeout(store *s, int ms, char *err, size_t errlen)
{
    if (ms < 0) {
        snprintf(err, errlen, "store_read_timeout: negative timeout");
        return STORE_ERR_INTERNAL;
    }
    return s->be->read_timeout ? s->be->read_timeout(s, ms, err, errlen) : STORE_OK;
}

store_status store_cache_size(store *s, int64_t kib, char *err, size_t errlen)
{
    if (kib < 1) {
        snprintf(err, errlen, "store_cache_size: size must be positive");
        return STORE_ERR_INTERNAL;
    }
    return s->be->cache_size ? s->be->cache_size(s, kib, err, errlen) : STORE_OK;
}

/* The retry-state writes must not ride along in (and roll back with) a batch. */
static int store_outside_txn(store *s, const char *what, char *err, size_t errlen)
{
    if (!s->be->in_txn(s))
        return 1;
    snprintf(err, errlen, "%s: called inside a transaction", what);
    return 0;
}

store_status store_attempt_record(store *s, const char *topic, int32_t partition, int64_t offset,
                                  int attempts, int64_t due_ms, char *err, size_t errlen)
{
    if (!store_outside_txn(s, "store_attempt_record", err, errlen))
        return STORE_ERR_INTERNAL;
    if (offset < 0 || attempts < 0) {
        snprintf(err, errlen, "store_attempt_record: negative offset or attempts");
        return STORE_ERR_INTERNAL;
    }
    return s->be->attempt_record(s, topic, partition, offset, attempts, due_ms, err, errlen);
}

store_status store_attempt_get(store *s, const char *topic, int32_t partition, int64_t offset,
                               store_attempt *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    return s->be->attempt_get(s, topic, partition, offset, out, err, errlen);
}

store_status store_attempt_clear(store *s, const char *topic, int32_t partition, int64_t below,
                                 char *err, size_t errlen)
{
    if (!store_outside_txn(s, "store_attempt_clear", err, errlen))
        return STORE_ERR_INTERNAL;
    return s->be->attempt_clear(s, topic, partition, below, err, errlen);
}

store_status store_dlq_written_mark(store *s, const char *topic, int32_t partition, int64_t offset,
                                    char *err, size_t errlen)
{
    if (!store_outside_txn(s, "store_dlq_written_mark", err, errlen))
        return STORE_ERR_INTERNAL;
    if (offset < 0) {
        snprintf(err, errlen, "store_dlq_written_mark: negative offset");
        return STORE_ERR_INTERNAL;
    }
    return s->be->dlq_mark(s, topic, partition, offset, err, errlen);
}

store_status store_dlq_written_check(store *s, const char *topic, int32_t partition, int64_t offset,
                                     int *written, char *err, size_t errlen)
{
    store_attempt a;
    *written = 0;
    store_status st = store_attempt_get(s, topic, partition, offset, &a, err, errlen);
    if (st == STORE_NOT_FOUND)
        return STORE_OK;
    if (st == STORE_OK)
        *written = a.dlq_written;
    return st;
}

static int store_tix_name_ok(store *s, const char *name, const char *what, char *err, size_t errlen)
{
    if (!store_outside_txn(s, what, err, errlen))
        return 0;
    size_t n = strlen(name);
    if (n == 0 || n > STORE_TIX_NAME_MAX) {
        snprintf(err, errlen, "%s: index name empty or too long", what);
        return 0;
    }
    return 1;
}

store_status store_tix_load(store *s, const char *name, store_tix_pos *pos, int maxpos, int *npos,
                            const store_tix_sink *sink, char *err, size_t errlen)
{
    static const store_tix_sink none = {NULL, NULL, NULL};
    *npos = 0;
    if (!store_tix_name_ok(s, name, "store_tix_load", err, errlen))
        return STORE_ERR_INTERNAL;
    return s->be->tix_load(s, name, pos, maxpos, npos, sink ? sink : &none, err, errlen);
}

store_status store_tix_add(store *s, const store_tix_update *u, char *err, size_t errlen)
{
    if (!store_tix_name_ok(s, u->name, "store_tix_add", err, errlen))
        return STORE_ERR_INTERNAL;
    if (u->nfrom < 0 || u->nto < 0 || u->nfrom > STORE_TIX_PARTS_MAX ||
        u->nto > STORE_TIX_PARTS_MAX || (u->nids && !u->id_at)) {
        snprintf(err, errlen, "store_tix_add: bad update");
        return STORE_ERR_INTERNAL;
    }
    return s->be->tix_add(s, u, err, errlen);
}

long store_tix_pack(const store_tix_update *u, size_t *next, unsigned char *buf)
{
    size_t w = 0;
    while (*next < u->nids) {
        size_t len;
        const void *id = u->id_at(u->id_arg, *next, &len);
        if (len > STORE_TIX_ID_MAX)
            return -1;
        if (w + 2 + len > STORE_TIX_SEGMENT)
            break;
        buf[w] = (unsigned char)(len >> 8);
        buf[w + 1] = (unsigned char)len;
        if (len)
            memcpy(buf + w + 2, id, len);
        w += 2 + len;
        (*next)++;
    }
    return (long)w;
}

int store_tix_unpack(const void *seg, size_t len, const store_tix_sink *sink)
{
    const unsigned char *b = seg;
    size_t i = 0;
    while (i < len) {
        if (len - i < 2)
            return -1;
        size_t n = (size_t)b[i] << 8 | b[i + 1];
        if (len - i - 2 < n)
            return -1;
        if (sink->id(sink->arg, b + i + 2, n))
            return 1;
        i += 2 + n;
    }
    return 0;
}

/* The position of partition p in pos[0..n), or NULL. */
const store_tix_pos *store_tix_find(const store_tix_pos *pos, int n, int32_t p)
{
    for (int i = 0; i < n; i++)
        if (pos[i].partition == p)
            return &pos[i];
    return NULL;
}

store_status store_replay_get(store *s, const char *dlq_topic, int32_t partition, int64_t offset,
                              store_replay *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    return s->be->replay_get(s, dlq_topic, partition, offset, out, err, errlen);
}

store_status store_replay_mark(store *s, const char *dlq_topic, int32_t partition, int64_t offset,
                               int64_t at_ms, char *err, size_t errlen)
{
    if (!store_outside_txn(s, "store_replay_mark", err, errlen))
        return STORE_ERR_INTERNAL;
    if (offset < 0 || partition < 0) {
        snprintf(err, errlen, "store_replay_mark: negative partition or offset");
        return STORE_ERR_INTERNAL;
    }
    return s->be->replay_mark(s, dlq_topic, partition, offset, at_ms, err, errlen);
}

/* name and holder non-empty and bounded, outside a transaction: 1, else 0 + err. */
static int store_lease_args(store *s, const char *what, const char *name, const char *holder,
                            char *err, size_t errlen)
{
    if (!store_outside_txn(s, what, err, errlen))
        return 0;
    size_t nl = name ? strlen(name) : 0, hl = holder ? strlen(holder) : 0;
    if (nl == 0 || nl > STORE_LEASE_NAME_MAX || hl == 0 || hl > STORE_LEASE_HOLDER_MAX) {
        snprintf(err, errlen, "%s: name (1..%d bytes) or holder (1..%d bytes) out of bounds", what,
                 STORE_LEASE_NAME_MAX, STORE_LEASE_HOLDER_MAX);
        return 0;
    }
    return 1;
}

store_status store_lease_take(store *s, const char *name, const char *holder, int64_t ttl_ms,
                              store_lease *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (!store_lease_args(s, "store_lease_take", name, holder, err, errlen))
        return STORE_ERR_INTERNAL;
    if (ttl_ms < 1 || ttl_ms > STORE_LEASE_TTL_MAX_MS) {
        snprintf(err, errlen, "store_lease_take: ttl %lld ms out of 1..%d", (long long)ttl_ms,
                 STORE_LEASE_TTL_MAX_MS);
        return STORE_ERR_INTERNAL;
    }
    return s->be->lease_take(s, name, holder, ttl_ms, out, err, errlen);
}

store_status store_lease_release(store *s, const char *name, const char *holder, char *err,
                                 size_t errlen)
{
    if (!store_lease_args(s, "store_lease_release", name, holder, err, errlen))
        return STORE_ERR_INTERNAL;
    return s->be->lease_release(s, name, holder, err, errlen);
}

/* id non-empty and bounded, outside a transaction: 1, else 0 + err. */
static int store_replay_status_args(store *s, const char *what, const char *id, char *err,
                                    size_t errlen)
{
    if (!store_outside_txn(s, what, err, errlen))
        return 0;
    size_t n = id ? strlen(id) : 0;
    if (n == 0 || n > STORE_REPLAY_ID_MAX) {
        snprintf(err, errlen, "%s: id out of 1..%d bytes", what, STORE_REPLAY_ID_MAX);
        return 0;
    }
    return 1;
}

store_status store_replay_status_put(store *s, const char *id, const char *doc, size_t len,
                                     char *err, size_t errlen)
{
    if (!store_replay_status_args(s, "store_replay_status_put", id, err, errlen))
        return STORE_ERR_INTERNAL;
    if (!doc || len == 0 || len > STORE_REPLAY_STATUS_MAX) {
        snprintf(err, errlen, "store_replay_status_put: document of %zu bytes out of 1..%d", len,
                 STORE_REPLAY_STATUS_MAX);
        return STORE_ERR_INTERNAL;
    }
    return s->be->replay_status_put(s, id, doc, len, err, errlen);
}

store_status store_replay_status_get(store *s, const char *id, char **doc, int64_t *age_ms,
                                     char *err, size_t errlen)
{
    *doc = NULL;
    *age_ms = 0;
    if (!store_replay_status_args(s, "store_replay_status_get", id, err, errlen))
        return STORE_ERR_INTERNAL;
    return s->be->replay_status_get(s, id, doc, age_ms, err, errlen);
}

const char *store_status_name(store_status st)
{
    switch (st) {
    case STORE_OK:
        return "OK";
    case STORE_SKIPPED:
        return "SKIPPED";
    case STORE_DUPLICATE:
        return "DUPLICATE";
    case STORE_NOT_FOUND:
        return "NOT_FOUND";
    case STORE_REDELIVERED:
        return "REDELIVERED";
    case STORE_ERR_IO:
        return "ERR_IO";
    case STORE_ERR_INTERNAL:
        return "ERR_INTERNAL";
    case STORE_FENCED:
        return "FENCED";
    }
    return "?";
}

/* Appends n bytes of src to out (always NUL-terminated, cut at outlen). */
static void store_put(char *out, size_t outlen, size_t *pos, const char *src, size_t n)
{
    for (size_t i = 0; i < n && *pos + 1 < outlen; i++)
        out[(*pos)++] = src[i];
    out[*pos < outlen ? *pos : outlen - 1] = '\0';
}

void store_describe(const char *where, char *out, size_t outlen)
{
    if (!outlen)
        return;
    size_t pos = 0;
    out[0] = '\0';
    if (!store_is_url(where)) {
        store_put(out, outlen, &pos, where, strlen(where));
        return;
    }
    const char *auth = strstr(where, "://") + 3;
    size_t alen = strcspn(auth, "/?");
    const char *at = NULL;
    for (const char *p = auth; p < auth + alen; p++)
        if (*p == '@')
            at = p; /* the last '@': a password may contain one, encoded or not */
    store_put(out, outlen, &pos, where, (size_t)(auth - where));
    const char *rest = auth;
    if (at) {
        const char *colon = memchr(auth, ':', (size_t)(at - auth));
        if (colon) {
            store_put(out, outlen, &pos, auth, (size_t)(colon - auth));
            store_put(out, outlen, &pos, ":***", 4);
            rest = at;
        }
    }
    /* The query may carry password=... too: keep the keys, mask that value. */
    while (*rest) {
        size_t n = strcspn(rest, "?&");
        store_put(out, outlen, &pos, rest, n);
        rest += n;
        if (!*rest)
            break;
        store_put(out, outlen, &pos, rest, 1);
        rest++;
        static const char *const keys[] = {"password=", "sslpassword="};
        for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
            size_t klen = strlen(keys[k]);
            if (strncmp(rest, keys[k], klen) == 0) {
                store_put(out, outlen, &pos, rest, klen);
                store_put(out, outlen, &pos, "***", 3);
                rest += strcspn(rest, "&");
                break;
            }
        }
    }
}
