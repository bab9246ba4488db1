/*
 * topic_index: index + tail topic reads (see topic_index.h).
 *
 * One run per read: load the index (positions, then content into the
 * answer's own structures: the id set or the stats tables), let the scan's
 * plan callback compare the positions with the topic's watermarks (keep
 * them, or rebuild from the low watermark), scan the tail, and write what
 * the tail added in chunks, each moving the positions by compare-and-set
 * from the last ones written.
 *
 * Reads run one at a time (tix_lock): a read holds its answer (up to an id
 * set of the whole topic) and its scan's prefetch, and two at once would
 * double what bounds the service's memory (issue 15). A read that cannot
 * have the lock within its scan's timeout answers "timed out".
 */
#include "query/topic_index.h"

#include "platform/clock.h"
#include "platform/log.h"

#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static pthread_mutex_t tix_lock = PTHREAD_MUTEX_INITIALIZER;

static metrics_counter tix_scanned, tix_reads_indexed, tix_reads_built, tix_writes_ok,
    tix_writes_fenced, tix_writes_failed;

typedef struct {
    store *st;
    char name[STORE_TIX_NAME_MAX + 1];
    const atomic_int *stop;
    idset *ids; /* one of ids and stats */
    uint32_t ids_flushed;
    topic_stats *stats;
    store_tix_pos from[STORE_TIX_PARTS_MAX]; /* as loaded, then as last written */
    int nfrom;
    int writable; /* 0 after a fence or a store failure */
    int reset;    /* the next write rebuilds the index */
    int np;
    int64_t *low, *hi, *seen; /* per partition: the index's low, the scan's end, next unread */
    int64_t scanned, since_flush;
    int failed; /* out of memory or over the id set's bounds */
    topic_index_info *info;
} tix_run;

/* ---- the stats tables ---------------------------------------------------- */

/* Adds n to name's row. Never more than TOPIC_STATS_NAMES rows, whatever the
 * DLQ holds: the last row is kept for "OTHER", where every further name goes. */
static void stat_add(topic_stat *tab, int *count, const char *name, long long n)
{
    if (!*name)
        name = "UNKNOWN";
    for (;;) {
        for (int i = 0; i < *count; i++) {
            if (strcmp(tab[i].name, name) == 0) {
                tab[i].n += n;
                return;
            }
        }
        int other = strcmp(name, "OTHER") == 0;
        if (*count < TOPIC_STATS_NAMES - 1 || (other && *count < TOPIC_STATS_NAMES))
            break;
        name = "OTHER";
    }
    topic_stat *t = &tab[(*count)++];
    snprintf(t->name, sizeof t->name, "%s", name);
    t->n = n;
    t->flushed = 0;
}

/* ---- loading ------------------------------------------------------------- */

static int load_id(void *arg, const void *id, size_t len)
{
    tix_run *x = arg;
    return idset_add(x->ids, id, len) < 0;
}

static int load_stat(void *arg, char kind, const char *name, int64_t n)
{
    tix_run *x = arg;
    topic_stats *s = x->stats;
    if (kind == 'c')
        stat_add(s->cat, &s->ncat, name, n);
    else if (kind == 'r')
        stat_add(s->reason, &s->nreason, name, n);
    return 0;
}

static void content_clear(tix_run *x)
{
    if (x->ids) {
        idset_free(x->ids);
        idset_init(x->ids);
    }
    if (x->stats)
        memset(x->stats, 0, sizeof *x->stats);
    x->ids_flushed = 0;
}

/* Everything in memory is in the store's index now (loaded from it or written to it). */
static void content_flushed(tix_run *x)
{
    if (x->ids)
        x->ids_flushed = x->ids->count;
    if (x->stats) {
        for (int i = 0; i < x->stats->ncat; i++)
            x->stats->cat[i].flushed = x->stats->cat[i].n;
        for (int i = 0; i < x->stats->nreason; i++)
            x->stats->reason[i].flushed = x->stats->reason[i].n;
    }
}

static void tix_load(tix_run *x)
{
    if (!x->st)
        return;
    char err[256];
    store_tix_sink sink = {x, x->ids ? load_id : NULL, x->stats ? load_stat : NULL};
    store_status st = store_tix_load(x->st, x->name, x->from, STORE_TIX_PARTS_MAX, &x->nfrom, &sink,
                                     err, sizeof err);
    if (st != STORE_OK) {
        log_warn("topic index %s: %s; reading the whole topic", x->name, err);
        x->info->index_failed = 1;
        x->nfrom = 0;
        content_clear(x);
        return;
    }
    x->writable = 1;
    content_flushed(x);
}

/* ---- planning: keep the index or rebuild it ------------------------------ */

static int tix_plan(void *arg, int np, const int64_t *lo, const int64_t *hi, int64_t *start)
{
    tix_run *x = arg;
    int64_t *v = calloc((size_t)np * 3, sizeof *v);
    if (!v)
        return 1;
    x->np = np;
    x->low = v;
    x->hi = v + np;
    x->seen = v + 2 * np;
    memcpy(x->hi, hi, (size_t)np * sizeof *hi);
    int reset = 0;
    for (int i = 0; i < x->nfrom; i++) {
        const store_tix_pos *f = &x->from[i];
        if (f->partition < 0 || f->partition >= np) {
            reset = 1; /* a partition went away: not the topic the index was built from */
            break;
        }
        int32_t p = f->partition;
        /* Records it indexed were deleted (retention), or the partition shrank. */
        if ((f->next > f->low && lo[p] > f->low) || hi[p] < f->next)
            reset = 1;
    }
    if (reset) {
        log_info("topic index %s: the topic no longer holds what was indexed; rebuilding", x->name);
        content_clear(x);
        x->reset = 1;
    }
    x->info->from_index = x->nfrom > 0 && !reset;
    for (int p = 0; p < np; p++) {
        const store_tix_pos *f = reset ? NULL : store_tix_find(x->from, x->nfrom, p);
        int kept = f && f->next > f->low; /* something is indexed: its low stays */
        x->low[p] = kept ? f->low : lo[p];
        start[p] = kept ? f->next : lo[p];
        x->seen[p] = start[p];
    }
    return 0;
}

/* ---- writing ------------------------------------------------------------- */

static const void *flush_id_at(void *arg, size_t i, size_t *len)
{
    tix_run *x = arg;
    return idset_get(x->ids, x->ids_flushed + (uint32_t)i, len);
}

/* The stats rows that changed since the last write, into out (2 * TOPIC_STATS_NAMES). */
static size_t flush_stats(const topic_stats *s, store_tix_stat *out)
{
    size_t n = 0;
    for (int i = 0; i < s->ncat; i++)
        if (s->cat[i].n != s->cat[i].flushed)
            out[n++] = (store_tix_stat){'c', s->cat[i].name, s->cat[i].n - s->cat[i].flushed};
    for (int i = 0; i < s->nreason; i++)
        if (s->reason[i].n != s->reason[i].flushed)
            out[n++] =
                (store_tix_stat){'r', s->reason[i].name, s->reason[i].n - s->reason[i].flushed};
    return n;
}

static void flush_done(tix_run *x, const store_tix_pos *to)
{
    memcpy(x->from, to, (size_t)x->np * sizeof *to);
    x->nfrom = x->np;
    x->reset = 0;
    content_flushed(x);
}

/* Writes what the scan added since the last write; final: the positions are the scan's end. */
static void tix_flush(tix_run *x, int final)
{
    x->since_flush = 0;
    if (!x->writable || x->np == 0 || x->np > STORE_TIX_PARTS_MAX)
        return;
    store_tix_pos *to = calloc((size_t)x->np, sizeof *to);
    if (!to) {
        x->writable = 0;
        return;
    }
    int moved = x->reset || x->nfrom != x->np;
    for (int p = 0; p < x->np; p++) {
        to[p] = (store_tix_pos){p, x->low[p], final ? x->hi[p] : x->seen[p]};
        const store_tix_pos *f = store_tix_find(x->from, x->nfrom, p);
        moved |= !f || f->low != to[p].low || f->next != to[p].next;
    }
    store_tix_stat stats[2 * TOPIC_STATS_NAMES];
    store_tix_update u = {.name = x->name,
                          .reset = x->reset,
                          .from = x->from,
                          .nfrom = x->nfrom,
                          .to = to,
                          .nto = x->np,
                          .id_at = flush_id_at,
                          .id_arg = x,
                          .nids = x->ids ? x->ids->count - x->ids_flushed : 0,
                          .stats = stats,
                          .nstats = x->stats ? flush_stats(x->stats, stats) : 0};
    if (moved || u.nids || u.nstats) {
        char err[256];
        store_status st = store_tix_add(x->st, &u, err, sizeof err);
        if (st == STORE_OK) {
            metrics_add(&tix_writes_ok, 1);
            flush_done(x, to);
        } else if (st == STORE_FENCED) {
            /* Another reader (thread or instance) extended it first: its write stands. */
            metrics_add(&tix_writes_fenced, 1);
            log_debug("topic index %s: %s", x->name, err);
            x->writable = 0;
        } else {
            metrics_add(&tix_writes_failed, 1);
            log_warn("topic index %s: %s; answering from the scan", x->name, err);
            x->info->index_failed = 1;
            x->writable = 0;
        }
    }
    free(to);
}

/* ---- the scan ------------------------------------------------------------ */

/* Common to both record callbacks: 1 to stop. */
static int tix_record(tix_run *x, const scan_record *r)
{
    if (atomic_load(x->stop))
        return 1;
    x->scanned++;
    if (r->partition >= 0 && r->partition < x->np)
        x->seen[r->partition] = r->offset + 1;
    return 0;
}

static int ids_cb(void *arg, const scan_record *r)
{
    tix_run *x = arg;
    if (tix_record(x, r))
        return 1;
    if (r->key && idset_add(x->ids, r->key, r->key_len) < 0) {
        x->failed = 1;
        return 1;
    }
    if (++x->since_flush >= TOPIC_INDEX_CHUNK)
        tix_flush(x, 0);
    return 0;
}

static int stats_cb(void *arg, const scan_record *r)
{
    tix_run *x = arg;
    if (tix_record(x, r))
        return 1;
    rd_kafka_headers_t *h = NULL;
    dlq_info d;
    if (rd_kafka_message_headers(r->msg, &h) != RD_KAFKA_RESP_ERR_NO_ERROR)
        h = NULL;
    dlq_info_from_headers(&d, h);
    stat_add(x->stats->cat, &x->stats->ncat, d.category, 1);
    stat_add(x->stats->reason, &x->stats->nreason, d.reason, 1);
    if (++x->since_flush >= TOPIC_INDEX_CHUNK)
        tix_flush(x, 0);
    return 0;
}

/* Takes tix_lock within timeout_ms: 0, or -1 with err set. */
static int tix_lock_take(int timeout_ms, char *err, size_t errlen)
{
    struct timespec until;
    if (clock_gettime(CLOCK_REALTIME, &until) != 0) {
        snprintf(err, errlen, "topic read: clock: %s", strerror(errno));
        return -1;
    }
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    int rc = pthread_mutex_timedlock(&tix_lock, &until);
    if (rc != 0) {
        snprintf(err, errlen, "topic read timed out waiting for another topic read (%s)",
                 strerror(rc));
        return -1;
    }
    return 0;
}

static scan_status tix_read(tix_run *x, const scan_request *base, scan_fn fn, int64_t *total,
                            char *err, size_t errlen)
{
    memset(x->info, 0, sizeof *x->info);
    *total = 0;
    int64_t t0 = clock_mono_ms();
    if (tix_lock_take(base->timeout_ms, err, errlen) != 0)
        return SCAN_UNAVAILABLE;
    if (atomic_load(x->stop)) { /* stopping while this read waited: the caller answers 503 */
        (void)pthread_mutex_unlock(&tix_lock);
        snprintf(err, errlen, "the service is stopping");
        return SCAN_UNAVAILABLE;
    }
    /* What the wait took comes out of the read's own bound. */
    scan_request req = *base;
    req.timeout_ms -= (int)(clock_mono_ms() - t0);
    if (req.timeout_ms < 1)
        req.timeout_ms = 1;
    /* Free memory other threads left in their arenas (the consumer's catch-up,
     * a previous read) goes back to the system before this read adds its own. */
    malloc_trim(0);
    tix_load(x);
    req.plan = tix_plan;
    req.plan_arg = x;
    scan_status st = topic_scan(&req, fn, x, total, err, errlen);
    if (st == SCAN_OK && !x->failed && !atomic_load(x->stop))
        tix_flush(x, 1);
    int rc = pthread_mutex_unlock(&tix_lock);
    if (rc != 0)
        log_error("topic index: unlock: %s", strerror(rc));
    x->info->scanned = x->scanned;
    metrics_add(&tix_scanned, (unsigned long long)x->scanned);
    metrics_add(x->info->from_index ? &tix_reads_indexed : &tix_reads_built, 1);
    free(x->low);
    return st;
}

static tix_run *tix_new(store *st, const char *kind, const char *topic, const atomic_int *stop,
                        topic_index_info *info)
{
    tix_run *x = calloc(1, sizeof *x);
    if (!x)
        return NULL;
    x->st = st;
    x->stop = stop;
    x->info = info;
    snprintf(x->name, sizeof x->name, "%s:%s", kind, topic);
    return x;
}

scan_status topic_index_ids(store *st, const scan_request *req, const atomic_int *stop, idset *ids,
                            int *failed, int64_t *total, topic_index_info *info, char *err,
                            size_t errlen)
{
    *failed = 0;
    tix_run *x = tix_new(st, "ids", req->topic, stop, info);
    if (!x) {
        *failed = 1;
        return SCAN_OK;
    }
    x->ids = ids;
    scan_status s = tix_read(x, req, ids_cb, total, err, errlen);
    *failed = x->failed;
    free(x);
    return s;
}

scan_status topic_index_stats(store *st, const scan_request *req, const atomic_int *stop,
                              topic_stats *stats, int64_t *total, topic_index_info *info, char *err,
                              size_t errlen)
{
    memset(stats, 0, sizeof *stats);
    tix_run *x = tix_new(st, "stats", req->topic, stop, info);
    if (!x) {
        snprintf(err, errlen, "out of memory");
        return SCAN_ERROR;
    }
    x->stats = stats;
    scan_status s = tix_read(x, req, stats_cb, total, err, errlen);
    free(x);
    return s;
}

void topic_index_count_scanned(int64_t n)
{
    metrics_add(&tix_scanned, (unsigned long long)n);
}

void topic_index_metrics_render(metrics_text *t)
{
    static const struct {
        const char *name, *labels;
        metrics_counter *c;
    } samples[] = {
        {"order_topic_reads_total", "from=\"index\"", &tix_reads_indexed},
        {"order_topic_reads_total", "from=\"scan\"", &tix_reads_built},
        {"order_topic_index_writes_total", "result=\"ok\"", &tix_writes_ok},
        {"order_topic_index_writes_total", "result=\"fenced\"", &tix_writes_fenced},
        {"order_topic_index_writes_total", "result=\"failed\"", &tix_writes_failed},
    };
    metrics_text_family(t, "order_topic_read_records_scanned_total", "counter",
                        "Records read from Kafka by topic reads (getAllOrderIdsFromTopic, dlq)");
    metrics_text_sample(t, "order_topic_read_records_scanned_total", NULL,
                        (double)atomic_load(&tix_scanned.v));
    for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++) {
        if (i == 0)
            metrics_text_family(t, samples[i].name, "counter",
                                "Indexed topic reads: from the store's index plus the tail, or "
                                "built from a scan of the whole topic");
        else if (i == 2)
            metrics_text_family(t, samples[i].name, "counter",
                                "Topic index writes by result (fenced: another reader was first)");
        metrics_text_sample(t, samples[i].name, samples[i].labels,
                            (double)atomic_load(&samples[i].c->v));
    }
}
