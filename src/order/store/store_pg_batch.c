/*
 * store_pg_batch: the PostgreSQL backend's write transaction.
 *
 * Nothing is written before store_commit(): store_apply() and store_mark()
 * decide at once, from memory, and buffer the effect; store_commit() sends
 * the whole batch as one transaction through libpq's pipeline mode. Round
 * trips per batch:
 *   - positions: none while cached (the cache survives commits); one per
 *     partition after it was dropped (rollback, a read outside a transaction);
 *   - whether orders exist: one SELECT ... = ANY($1) for every hinted orderId
 *     (store_hint_order()) at the first apply that needs to know, plus one per
 *     order that was not hinted; what is known is remembered (store_pg_ids.c);
 *   - commit: two, whatever the batch size (store_pg_commit.c).
 *
 * Existence decided from memory stays safe: a CREATE is a plain INSERT, so an
 * order created meanwhile by another writer fails the commit (unique
 * violation, retried: then it is a DUPLICATE) instead of being lost, and
 * orders are never deleted, so an order known to exist still does.
 */
#include "store/store_pg_int.h"
#include "event/order_json.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STORE_PG_LOOKUP_MAX 4096       /* orderIds per existence query */
#define STORE_PG_IDS_KEEP 65536        /* known ids kept across batches */
#define STORE_PG_EFF_MAX (1u << 20)    /* effects per transaction */
#define STORE_PG_ARENA_MAX (1ul << 30) /* bytes of effect parameters per transaction */

void store_pg_batch_forget(store_pg *s)
{
    s->npos = 0;
    s->neff = 0;
    s->arena_len = 0;
    store_pg_ids_clear(&s->ids);
}

void store_pg_batch_free(store_pg *s)
{
    store_pg_ids_free(&s->ids);
    free(s->eff);
    free(s->arena);
}

store_status store_pg_batch_begin(store *base, char *err, size_t errlen)
{
    store_pg *s = (store_pg *)base;
    if (s->readonly || s->in_txn) {
        snprintf(err, errlen, "store_begin: %s", s->readonly ? "read-only" : "already in txn");
        return STORE_ERR_INTERNAL;
    }
    /* The server sees nothing before the commit; this only brings a lost connection back. */
    store_status st = store_pg_ensure(s, err, errlen);
    if (st != STORE_OK)
        return st;
    if (s->ids.n > STORE_PG_IDS_KEEP)
        store_pg_ids_clear(&s->ids);
    s->in_txn = 1;
    s->failed = 0;
    s->neff = 0;
    s->arena_len = 0;
    return STORE_OK;
}

void store_pg_batch_rollback(store *base)
{
    store_pg *s = (store_pg *)base;
    if (!s->in_txn)
        return;
    /* Nothing is open on the server: store_commit() ends what it starts. */
    s->in_txn = 0;
    s->failed = 0;
    /* Positions and orders seen in the dropped transaction are forgotten; reload lazily. */
    store_pg_batch_forget(s);
}

/* The cached position of (topic, partition), loading it on a miss. */
static store_status store_pg_pos_find(store_pg *s, const char *topic, int32_t partition,
                                      store_pg_pos **out, char *err, size_t errlen)
{
    for (size_t i = 0; i < s->npos; i++) {
        if (s->pos[i].partition == partition && strcmp(s->pos[i].topic, topic) == 0) {
            *out = &s->pos[i];
            return STORE_OK;
        }
    }
    size_t tlen = strlen(topic);
    if (tlen > STORE_PG_TOPIC_MAX || s->npos >= STORE_PG_POS_MAX) {
        snprintf(err, errlen, "position table: topic name too long or too many partitions");
        return STORE_ERR_INTERNAL;
    }
    char part[16];
    snprintf(part, sizeof part, "%" PRId32, partition);
    const char *vals[] = {topic, part};
    PGresult *r = store_pg_exec(s, STORE_PG_POS_GET, 2, vals);
    if (!r || PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) > 1) {
        store_status st = store_pg_fail(s, r, "read position", err, errlen);
        PQclear(r);
        return st;
    }
    store_pg_pos *p = &s->pos[s->npos];
    memset(p, 0, sizeof *p);
    if (PQntuples(r) == 1) {
        p->found = p->start_found = 1;
        p->next = p->start = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    }
    PQclear(r);
    memcpy(p->topic, topic, tlen + 1);
    p->partition = partition;
    s->npos++;
    *out = p;
    return STORE_OK;
}

store_status store_pg_batch_position(store *base, const char *topic, int32_t partition,
                                     int64_t *next, char *err, size_t errlen)
{
    store_pg *s = (store_pg *)base;
    if (!s->in_txn) {
        /* Outside a transaction every cache may be stale (another instance): ask the server. */
        store_pg_batch_forget(s);
        store_status st = store_pg_ensure(s, err, errlen);
        if (st != STORE_OK)
            return st;
    }
    store_pg_pos *p;
    store_status st = store_pg_pos_find(s, topic, partition, &p, err, errlen);
    if (st != STORE_OK)
        return st;
    if (!p->found)
        return STORE_NOT_FOUND;
    *next = p->next;
    return STORE_OK;
}

/* Checks the position; STORE_OK means offset is new, *pp is its slot. */
static store_status store_pg_pos_check(store_pg *s, const char *topic, int32_t partition,
                                       int64_t offset, store_pg_pos **pp, char *err, size_t errlen)
{
    if (!s->in_txn || s->failed) {
        snprintf(err, errlen, "%s",
                 s->in_txn ? "the transaction failed: roll it back" : "no transaction open");
        return STORE_ERR_INTERNAL;
    }
    if (offset < 0) {
        snprintf(err, errlen, "negative offset");
        return STORE_ERR_INTERNAL;
    }
    store_status st = store_pg_pos_find(s, topic, partition, pp, err, errlen);
    if (st != STORE_OK)
        return st;
    if ((*pp)->found && offset < (*pp)->next)
        return STORE_SKIPPED;
    return STORE_OK;
}

static void store_pg_pos_advance(store_pg_pos *p, int64_t offset)
{
    p->found = 1;
    p->next = offset + 1;
    p->dirty = 1;
}

store_status store_pg_batch_mark(store *base, const char *topic, int32_t partition, int64_t offset,
                                 char *err, size_t errlen)
{
    store_pg *s = (store_pg *)base;
    store_pg_pos *p;
    store_status st = store_pg_pos_check(s, topic, partition, offset, &p, err, errlen);
    if (st == STORE_OK)
        store_pg_pos_advance(p, offset);
    return st;
}

void store_pg_batch_hint(store *base, const void *order_id, size_t len)
{
    store_pg *s = (store_pg *)base;
    if (!s->in_txn || !order_id || !order_id_valid((const char *)order_id, len))
        return;
    (void)store_pg_ids_add(&s->ids, order_id, len, STORE_PG_ID_PENDING); /* a hint: may fail */
}

/*
 * Asks the server which of id and the pending hints exist (one round trip),
 * and records the answers. Ids are [A-Za-z0-9._:-] (validated), so quoting
 * each in the array literal is enough.
 */
static store_status store_pg_lookup(store_pg *s, const char *id, size_t len, char *err,
                                    size_t errlen)
{
    store_pg_ids *t = &s->ids;
    if (!store_pg_ids_add(t, id, len, STORE_PG_ID_PENDING)) {
        snprintf(err, errlen, "order lookup: out of memory");
        return STORE_ERR_IO;
    }
    char *lit = malloc((size_t)STORE_PG_LOOKUP_MAX * (ORDER_ID_MAX + 3) + 3);
    uint32_t *asked = malloc(STORE_PG_LOOKUP_MAX * sizeof *asked);
    if (!lit || !asked) {
        free(lit);
        free(asked);
        snprintf(err, errlen, "order lookup: out of memory");
        return STORE_ERR_IO;
    }
    uint32_t nasked = 0;
    asked[nasked++] = (uint32_t)(store_pg_ids_find(t, id, len) - t->ents);
    for (uint32_t i = t->scan; i < t->n && nasked < STORE_PG_LOOKUP_MAX; i++)
        if (t->ents[i].state == STORE_PG_ID_PENDING && i != asked[0])
            asked[nasked++] = i;
    size_t pos = 0;
    lit[pos++] = '{';
    for (uint32_t i = 0; i < nasked; i++) {
        const store_pg_id *e = &t->ents[asked[i]];
        if (i)
            lit[pos++] = ',';
        lit[pos++] = '"';
        memcpy(lit + pos, e->id, e->len);
        pos += e->len;
        lit[pos++] = '"';
    }
    lit[pos++] = '}';
    lit[pos] = '\0';
    const char *vals[] = {lit};
    PGresult *r = store_pg_exec(s, STORE_PG_ORD_FIND, 1, vals);
    store_status st = STORE_OK;
    if (!r || PQresultStatus(r) != PGRES_TUPLES_OK) {
        st = store_pg_fail(s, r, "look up orders", err, errlen);
    } else {
        for (uint32_t i = 0; i < nasked; i++)
            t->ents[asked[i]].state = STORE_PG_ID_ABSENT;
        for (int row = 0; row < PQntuples(r); row++) {
            store_pg_id *e =
                store_pg_ids_find(t, PQgetvalue(r, row, 0), (size_t)PQgetlength(r, row, 0));
            if (!e)
                continue;
            e->state = STORE_PG_ID_EXISTS;
            snprintf(e->last_status, sizeof e->last_status, "%s", PQgetvalue(r, row, 1));
        }
        while (t->scan < t->n && t->ents[t->scan].state != STORE_PG_ID_PENDING)
            t->scan++;
    }
    PQclear(r);
    free(lit);
    free(asked);
    return st;
}

/* Whether the order exists, as of the open transaction: *exists 0 or 1. */
static store_status store_pg_exists(store_pg *s, const char *id, int *exists, char *err,
                                    size_t errlen)
{
    size_t len = strlen(id);
    store_pg_id *e = store_pg_ids_find(&s->ids, id, len);
    if (!e || e->state == STORE_PG_ID_PENDING) {
        store_status st = store_pg_lookup(s, id, len, err, errlen);
        if (st != STORE_OK)
            return st;
        e = store_pg_ids_find(&s->ids, id, len);
    }
    *exists = e && e->state == STORE_PG_ID_EXISTS;
    return STORE_OK;
}

/* Appends a parameter text (NUL-terminated) to the arena: its offset, or SIZE_MAX. */
static size_t store_pg_push(store_pg *s, const char *text, size_t n)
{
    if (n + 1 > STORE_PG_ARENA_MAX - s->arena_len)
        return SIZE_MAX;
    if (s->arena_len + n + 1 > s->arena_cap) {
        size_t cap = s->arena_cap ? s->arena_cap : 65536;
        while (cap < s->arena_len + n + 1)
            cap *= 2;
        char *na = realloc(s->arena, cap);
        if (!na)
            return SIZE_MAX;
        s->arena = na;
        s->arena_cap = cap;
    }
    size_t off = s->arena_len;
    memcpy(s->arena + off, text, n);
    s->arena[off + n] = '\0';
    s->arena_len += n + 1;
    return off;
}

static size_t store_pg_push_int(store_pg *s, int64_t v)
{
    char num[24];
    int n = snprintf(num, sizeof num, "%" PRId64, v);
    return store_pg_push(s, num, (size_t)n);
}

/* Buffers the effect of ev for the commit. */
static store_status store_pg_buffer(store_pg *s, const order_event *ev, char *err, size_t errlen)
{
    if (s->neff >= STORE_PG_EFF_MAX) {
        snprintf(err, errlen, "more than %u effects in one transaction", STORE_PG_EFF_MAX);
        return STORE_ERR_INTERNAL;
    }
    if (s->neff == s->effcap) {
        size_t cap = s->effcap ? s->effcap * 2 : 1024;
        store_pg_effect *ne = realloc(s->eff, cap * sizeof *ne);
        if (!ne) {
            snprintf(err, errlen, "out of memory");
            return STORE_ERR_IO;
        }
        s->eff = ne;
        s->effcap = cap;
    }
    store_pg_effect *e = &s->eff[s->neff];
    size_t mark = s->arena_len, bad = 0;
    e->create = ev->type == ORDER_EVENT_CREATE;
    if (e->create) {
        jsonw_reset(&s->items);
        order_json_items(&s->items, ev);
        if (!jsonw_ok(&s->items)) {
            snprintf(err, errlen, "rendering items failed");
            return STORE_ERR_INTERNAL;
        }
        const char *texts[] = {ev->order_id, ev->customer_id, ev->order_date};
        for (int i = 0; i < 3; i++)
            bad |= (e->off[i] = store_pg_push(s, texts[i], strlen(texts[i]))) == SIZE_MAX;
        bad |= (e->off[3] = store_pg_push(s, s->items.buf, s->items.len)) == SIZE_MAX;
        bad |= (e->off[4] = store_pg_push_int(s, ev->total_cents)) == SIZE_MAX;
        bad |= (e->off[5] = store_pg_push(s, ev->currency, strlen(ev->currency))) == SIZE_MAX;
        bad |= (e->off[6] = store_pg_push(s, ev->status, strlen(ev->status))) == SIZE_MAX;
        bad |=
            (e->off[7] = store_pg_push_int(s, order_shipping_cents(ev->total_cents))) == SIZE_MAX;
        bad |= (e->off[8] = store_pg_push_int(s, ev->timestamp_ms)) == SIZE_MAX;
    } else {
        bad |= (e->off[0] = store_pg_push(s, ev->order_id, strlen(ev->order_id))) == SIZE_MAX;
        bad |= (e->off[1] = store_pg_push(s, ev->status, strlen(ev->status))) == SIZE_MAX;
        bad |= (e->off[2] = store_pg_push_int(s, ev->timestamp_ms)) == SIZE_MAX;
    }
    if (bad) {
        s->arena_len = mark;
        snprintf(err, errlen, "out of memory buffering the transaction");
        return STORE_ERR_IO;
    }
    s->neff++;
    return STORE_OK;
}

/*
 * *same = 1 if the order ev->order_id, which exists, is stored (or buffered
 * in this transaction) with the content this CREATE describes: customer,
 * items, total, currency, status. Its times are not compared: a client's
 * retry of the same request carries a later event time and is the same
 * order (already applied), not a second one.
 */
static store_status store_pg_same_create(store_pg *s, const order_event *ev, int *same, char *err,
                                         size_t errlen)
{
    *same = 0;
    jsonw_reset(&s->items);
    order_json_items(&s->items, ev);
    if (!jsonw_ok(&s->items)) {
        snprintf(err, errlen, "rendering items failed");
        return STORE_ERR_INTERNAL;
    }
    char total[24];
    snprintf(total, sizeof total, "%" PRId64, ev->total_cents);
    const char *vals[] = {ev->order_id, ev->customer_id, s->items.buf,
                          total,        ev->currency,    ev->status};
    /* Created in this transaction: compare with the buffered parameters. */
    for (size_t i = s->neff; i-- > 0;) {
        const store_pg_effect *e = &s->eff[i];
        if (!e->create || strcmp(s->arena + e->off[0], ev->order_id) != 0)
            continue;
        static const int param[] = {1, 3, 4, 5, 6}; /* customer, items, total, currency, status */
        int eq = 1;
        for (size_t k = 0; k < sizeof param / sizeof param[0] && eq; k++)
            eq = strcmp(s->arena + e->off[param[k]], vals[k + 1]) == 0;
        *same = eq;
        return STORE_OK;
    }
    PGresult *r = store_pg_exec(s, STORE_PG_ORD_SAME, 6, vals);
    store_status st = STORE_OK;
    if (!r || PQresultStatus(r) != PGRES_TUPLES_OK)
        st = store_pg_fail(s, r, "compare order", err, errlen);
    else
        *same = PQntuples(r) > 0;
    PQclear(r);
    return st;
}

store_status store_pg_batch_apply(store *base, const char *topic, int32_t partition, int64_t offset,
                                  const order_event *ev, char *err, size_t errlen)
{
    store_pg *s = (store_pg *)base;
    store_pg_pos *p;
    store_status st = store_pg_pos_check(s, topic, partition, offset, &p, err, errlen);
    if (st != STORE_OK)
        return st;
    int exists = 0;
    st = store_pg_exists(s, ev->order_id, &exists, err, errlen);
    if (st != STORE_OK)
        return st;
    int create = ev->type == ORDER_EVENT_CREATE;
    if (!create && !exists)
        return STORE_NOT_FOUND;
    store_pg_id *known = store_pg_ids_find(&s->ids, ev->order_id, strlen(ev->order_id));
    int copy = 0;
    if (create && exists) {
        st = store_pg_same_create(s, ev, &copy, err, errlen);
        if (st != STORE_OK)
            return st;
        if (!copy)
            return STORE_DUPLICATE;
    } else if (!create) {
        /* the status the order has already: setting it again is applied (idempotent) */
        copy = known && strcmp(known->last_status, ev->status) == 0;
    }
    if (copy) {
        store_pg_pos_advance(p, offset);
        return STORE_REDELIVERED;
    }
    st = store_pg_buffer(s, ev, err, errlen);
    if (st != STORE_OK)
        return st;
    if (known) {
        known->state = STORE_PG_ID_EXISTS;
        snprintf(known->last_status, sizeof known->last_status, "%s", ev->status);
    }
    store_pg_pos_advance(p, offset);
    return STORE_OK;
}
