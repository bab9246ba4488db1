/*
 * store_updates: what applying an UPDATE costs the store alone, without
 * Kafka, HTTP or the box's other processes: ORDERS orders created (the
 * loader's shape: 3 items, the same id and field widths), then UPDATES
 * updates of random orders (the next status of update_order.lua's cycle),
 * BATCH per transaction, with the WAL checkpoint helper order-service starts
 * (its default thresholds). Prints the wall time and the process's CPU per
 * update (the checkpointer included); repeatable where the end-to-end A/B is
 * not, and a build of another commit linked with this file compares the two.
 *
 * usage: store_updates PATH ORDERS UPDATES BATCH
 * PATH is a new SQLite file (or a postgresql:// URL of an empty database).
 */
#include "store/store.h"

#include "platform/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#define TOPIC "store-updates"
#define CREATES_PER_TXN 500

static double wall_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static void create_event(order_event *ev, long i)
{
    memset(ev, 0, sizeof *ev);
    ev->type = ORDER_EVENT_CREATE;
    snprintf(ev->order_id, sizeof ev->order_id, "U-%ld", i);
    ev->timestamp_ms = 1733220000000LL + i;
    snprintf(ev->customer_id, sizeof ev->customer_id, "CUST-%06ld", i % 1000000);
    snprintf(ev->order_date, sizeof ev->order_date, "2026-12-03T10:00:00.000Z");
    ev->item_count = 3;
    for (int k = 0; k < 3; k++) {
        snprintf(ev->items[k].item_id, sizeof ev->items[k].item_id, "ITEM-%05ld",
                 (k * 7 + i) % 100000);
        ev->items[k].quantity = 1 + k;
        ev->items[k].price_cents = 1999;
        ev->total_cents += ev->items[k].quantity * ev->items[k].price_cents;
    }
    snprintf(ev->currency, sizeof ev->currency, "USD");
    snprintf(ev->status, sizeof ev->status, "new");
}

/* Applies n events from make(i) for i in [0, n), per transactions of per; 0 or -1. */
static int run(store *s, long n, long per, int64_t *offset, void (*make)(order_event *, long))
{
    char err[256];
    order_event ev;
    for (long i = 0; i < n;) {
        if (store_begin(s, err, sizeof err) != STORE_OK) {
            fprintf(stderr, "begin: %s\n", err);
            return -1;
        }
        for (long j = 0; j < per && i < n; j++, i++) {
            make(&ev, i);
            store_status st = store_apply(s, TOPIC, 0, (*offset)++, &ev, err, sizeof err);
            if (st != STORE_OK && st != STORE_REDELIVERED) {
                fprintf(stderr, "apply %s: %s %s\n", ev.order_id, store_status_name(st), err);
                return -1;
            }
        }
        if (store_commit(s, err, sizeof err) != STORE_OK) {
            fprintf(stderr, "commit: %s\n", err);
            return -1;
        }
    }
    return 0;
}

static long n_orders;
static unsigned long long rng = 88172645463325252ULL;

static void update_event(order_event *ev, long i)
{
    static const char *const cycle[] = {"pending", "confirmed", "processing", "shipped",
                                        "delivered"};
    rng ^= rng << 13; /* xorshift64: the same orders in every run */
    rng ^= rng >> 7;
    rng ^= rng << 17;
    memset(ev, 0, sizeof *ev);
    ev->type = ORDER_EVENT_UPDATE;
    snprintf(ev->order_id, sizeof ev->order_id, "U-%llu", rng % (unsigned long long)n_orders);
    ev->timestamp_ms = 1733230000000LL + i;
    snprintf(ev->status, sizeof ev->status, "%s", cycle[i % 5]);
}

int main(int argc, char **argv)
{
    if (argc != 5 || atol(argv[2]) <= 0 || atol(argv[3]) <= 0 || atol(argv[4]) <= 0) {
        fprintf(stderr, "usage: %s PATH ORDERS UPDATES BATCH\n", argv[0]);
        return 2;
    }
    n_orders = atol(argv[2]);
    long updates = atol(argv[3]), batch = atol(argv[4]);
    log_set_level(LOG_ERROR); /* the slow-commit warnings of a loaded box are not the result */
    char err[256];
    store *s = store_open(argv[1], 0, err, sizeof err);
    if (!s) {
        fprintf(stderr, "store_open: %s\n", err);
        return 1;
    }
    /* order-service's defaults: STORE_WAL_CHECKPOINT_PAGES, STORE_WAL_MAX_PAGES */
    if (store_checkpointer_start(s, 1000, 10000, err, sizeof err) != STORE_OK) {
        fprintf(stderr, "checkpointer: %s\n", err);
        store_close(s);
        return 1;
    }
    int64_t offset = 0;
    int rc = run(s, n_orders, CREATES_PER_TXN, &offset, create_event);
    double w0 = wall_s(), c0 = cpu_s();
    if (rc == 0)
        rc = run(s, updates, batch, &offset, update_event);
    double w = wall_s() - w0, c = cpu_s() - c0;
    store_close(s);
    if (rc != 0)
        return 1;
    printf("%ld updates of %ld orders, %ld a transaction: %.3f s, %.2f us wall and %.2f us CPU "
           "an update\n",
           updates, n_orders, batch, w, w / (double)updates * 1e6, c / (double)updates * 1e6);
    return 0;
}
