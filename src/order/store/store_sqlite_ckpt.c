/*
 * store_sqlite_ckpt: WAL checkpoints of the SQLite store off the committing
 * thread (store_checkpointer_start in store.h).
 *
 * Why: by default SQLite checkpoints inside the COMMIT that lets the WAL
 * pass 1,000 pages: that commit copies the WAL into the database file and
 * fsyncs both, tens of milliseconds on a busy disk, while the events of the
 * batch wait to become visible (the end-to-end tail, bench/profile-notes.md).
 * Here the writer's own automatic checkpoint is off (its WAL hook replaces
 * it) and a helper thread, on a connection of its own, runs a PASSIVE
 * checkpoint when the hook reports the WAL at soft_pages or more. PASSIVE
 * never waits for a lock and never blocks the writer or readers; the fsyncs
 * are the same as before (synchronous=NORMAL: the WAL before, the database
 * after each checkpoint), only on another thread: durability is unchanged.
 *
 * Without the helper the writer's hook does what SQLite's own would (a
 * PASSIVE checkpoint in the commit at STORE_WAL_AUTOCHECKPOINT pages), and
 * counts it, so a slow commit's log line can name its cause.
 *
 * The bound: if the WAL reaches hard_pages anyway (the helper is slow or
 * failing), the committing thread waits for the helper's run in progress and
 * checkpoints itself, to the end, as SQLite would: the WAL starts over at the
 * next write only when every page was copied before that write began, which
 * a helper running while the writer keeps writing cannot promise, so the
 * writer's own run is what bounds it. (A
 * reader holding an old snapshot keeps any checkpoint, this one or SQLite's,
 * from copying frames newer than its snapshot; that limit is SQLite's.)
 */
#include "store/store_sqlite_int.h"

#include "platform/clock.h"
#include "platform/log.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct store_sqlite_ckpt {
    sqlite3 *db; /* the helper's own connection */
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    /* held by whoever checkpoints: a commit at the bound waits for the
     * helper's run, then runs its own to the end (see the bound above) */
    pthread_mutex_t run_mu;
    int pending; /* under mu: the WAL passed soft_pages since the last run */
    int quit;    /* under mu */
    int64_t soft_pages, hard_pages;
    atomic_llong runs, failures, busy; /* busy: a run that could not copy every frame */
    /* the committing thread's alone (the WAL hook runs in the commit) */
    int64_t bound_logged_ms; /* when the bound was last logged; 0: never */
    int64_t bound_unlogged;  /* commits at the bound since that line */
};

/* During a catch-up the bound is reached about once a second, and that is
 * expected: one line per minute, with the count, says the same thing. */
#define CKPT_BOUND_LOG_EVERY_MS 60000

static void *ckpt_main(void *arg)
{
    store_sqlite_ckpt *k = arg;
    int64_t last_fail_log = 0;
    pthread_mutex_lock(&k->mu);
    for (;;) {
        while (!k->pending && !k->quit)
            pthread_cond_wait(&k->cv, &k->mu);
        if (k->quit)
            break;
        k->pending = 0;
        pthread_mutex_unlock(&k->mu);
        int log_pages = 0, done_pages = 0;
        pthread_mutex_lock(&k->run_mu);
        int rc = sqlite3_wal_checkpoint_v2(k->db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log_pages,
                                           &done_pages);
        pthread_mutex_unlock(&k->run_mu);
        atomic_fetch_add(&k->runs, 1);
        if (rc != SQLITE_OK && rc != SQLITE_BUSY) {
            atomic_fetch_add(&k->failures, 1);
            int64_t now = clock_mono_ms();
            if (now - last_fail_log >= 10000) { /* at most one line per 10 s */
                last_fail_log = now;
                log_warn("store checkpoint failed (the next commits checkpoint themselves "
                         "past %lld WAL pages): %s (%d)",
                         (long long)k->hard_pages, sqlite3_errmsg(k->db), rc);
            }
        } else if (rc == SQLITE_BUSY || done_pages < log_pages) {
            atomic_fetch_add(&k->busy, 1);
        }
        pthread_mutex_lock(&k->mu);
    }
    pthread_mutex_unlock(&k->mu);
    return NULL;
}

int store_sqlite_wal_hook(void *arg, sqlite3 *db, const char *name, int pages)
{
    store_sqlite *s = arg;
    store_sqlite_ckpt *k = s->ckpt;
    s->wal_pages = pages;
    if (k && pages >= k->soft_pages) {
        pthread_mutex_lock(&k->mu);
        if (!k->pending) {
            k->pending = 1;
            pthread_cond_signal(&k->cv);
        }
        pthread_mutex_unlock(&k->mu);
    }
    int64_t bound = k ? k->hard_pages : STORE_WAL_AUTOCHECKPOINT;
    if (pages < bound)
        return SQLITE_OK;
    int64_t t0 = clock_mono_ms();
    if (k)
        pthread_mutex_lock(&k->run_mu);
    int rc = sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    if (k)
        pthread_mutex_unlock(&k->run_mu);
    s->commit_checkpoints++;
    if (k) {
        int64_t now = clock_mono_ms();
        k->bound_unlogged++;
        if (!k->bound_logged_ms || now - k->bound_logged_ms >= CKPT_BOUND_LOG_EVERY_MS) {
            log_warn("store: the WAL reached %d pages (bound %lld): checkpointed in the commit "
                     "(%lld ms, rc %d; %lld commit(s) did so since the last such line)",
                     pages, (long long)bound, (long long)(now - t0), rc,
                     (long long)k->bound_unlogged);
            k->bound_logged_ms = now > 0 ? now : 1;
            k->bound_unlogged = 0;
        }
    }
    return SQLITE_OK; /* a failed checkpoint does not fail the commit: the next one retries */
}

static void ckpt_free(store_sqlite_ckpt *k)
{
    sqlite3_close(k->db);
    free(k);
}

store_status store_sqlite_checkpointer_start(store *base, int64_t soft_pages, int64_t hard_pages,
                                             char *err, size_t errlen)
{
    store_sqlite *s = (store_sqlite *)base;
    const char *path = sqlite3_db_filename(s->db, "main");
    if (s->readonly || s->ckpt || !path || !*path || soft_pages < 1 || hard_pages < soft_pages) {
        snprintf(err, errlen, "checkpointer: %s",
                 s->readonly ? "read-only store"
                 : s->ckpt   ? "already started"
                             : "need a file and 1 <= soft_pages <= hard_pages");
        return STORE_ERR_INTERNAL;
    }
    store_sqlite_ckpt *k = calloc(1, sizeof *k);
    if (!k) {
        snprintf(err, errlen, "out of memory");
        return STORE_ERR_IO;
    }
    k->soft_pages = soft_pages;
    k->hard_pages = hard_pages;
    int rc = sqlite3_open_v2(path, &k->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
                             store_sqlite_vfs());
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(k->db, "PRAGMA synchronous = NORMAL;", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "checkpointer: open: %s (%d)",
                 k->db ? sqlite3_errmsg(k->db) : sqlite3_errstr(rc), rc);
        ckpt_free(k);
        return STORE_ERR_IO;
    }
    int prc = pthread_mutex_init(&k->mu, NULL);
    if (prc == 0 && (prc = pthread_mutex_init(&k->run_mu, NULL)) != 0)
        pthread_mutex_destroy(&k->mu);
    if (prc == 0 && (prc = pthread_cond_init(&k->cv, NULL)) != 0) {
        pthread_mutex_destroy(&k->run_mu);
        pthread_mutex_destroy(&k->mu);
    }
    if (prc == 0 && (prc = pthread_create(&k->thread, NULL, ckpt_main, k)) != 0) {
        pthread_cond_destroy(&k->cv);
        pthread_mutex_destroy(&k->run_mu);
        pthread_mutex_destroy(&k->mu);
    }
    if (prc != 0) {
        snprintf(err, errlen, "checkpointer thread: %s", strerror(prc));
        ckpt_free(k);
        return STORE_ERR_IO;
    }
    s->ckpt = k; /* the WAL hook hands checkpoints over from the next commit on */
    return STORE_OK;
}

void store_sqlite_checkpointer_stop(store_sqlite *s)
{
    store_sqlite_ckpt *k = s->ckpt;
    if (!k)
        return;
    s->ckpt = NULL; /* the commits checkpoint themselves again */
    pthread_mutex_lock(&k->mu);
    k->quit = 1;
    pthread_cond_signal(&k->cv);
    pthread_mutex_unlock(&k->mu);
    pthread_join(k->thread, NULL);
    pthread_cond_destroy(&k->cv);
    pthread_mutex_destroy(&k->run_mu);
    pthread_mutex_destroy(&k->mu);
    ckpt_free(k);
}

store_status store_sqlite_checkpoint_stats(store *base, store_ckpt_stats *out)
{
    const store_sqlite *s = (const store_sqlite *)base;
    memset(out, 0, sizeof *out);
    out->wal_pages = s->wal_pages;
    out->commit_checkpoints = s->commit_checkpoints;
    const store_sqlite_ckpt *k = s->ckpt;
    if (!k)
        return STORE_NOT_FOUND;
    out->runs = atomic_load(&k->runs);
    out->failures = atomic_load(&k->failures);
    out->incomplete = atomic_load(&k->busy);
    return STORE_OK;
}
