/*
 * store_events: the events the store tests apply, built field by field the
 * way the decoder fills them (currency USD, a CREATE's status "new"), and
 * the history a read gives back (stev_collect).
 * Header-only, one per test binary.
 */
#ifndef STORE_EVENTS_H
#define STORE_EVENTS_H

#include "event/order_model.h"

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* A CREATE of id at ts with no items yet (stev_item adds them). */
static inline order_event stev_create(const char *id, int64_t ts, const char *customer,
                                      const char *date)
{
    order_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = ORDER_EVENT_CREATE;
    snprintf(ev.order_id, sizeof ev.order_id, "%s", id);
    ev.timestamp_ms = ts;
    snprintf(ev.customer_id, sizeof ev.customer_id, "%s", customer);
    snprintf(ev.order_date, sizeof ev.order_date, "%s", date);
    snprintf(ev.currency, sizeof ev.currency, "USD");
    snprintf(ev.status, sizeof ev.status, "new");
    return ev;
}

/* Appends an item and adds it to the total. */
static inline void stev_item(order_event *ev, const char *item_id, int32_t quantity,
                             int64_t price_cents)
{
    ck_assert_uint_lt(ev->item_count, ORDER_ITEMS_MAX);
    order_item *it = &ev->items[ev->item_count++];
    snprintf(it->item_id, sizeof it->item_id, "%s", item_id);
    it->quantity = quantity;
    it->price_cents = price_cents;
    ev->total_cents += quantity * price_cents;
}

static inline order_event stev_update(const char *id, const char *status, int64_t ts)
{
    order_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = ORDER_EVENT_UPDATE;
    snprintf(ev.order_id, sizeof ev.order_id, "%s", id);
    ev.timestamp_ms = ts;
    snprintf(ev.status, sizeof ev.status, "%s", status);
    return ev;
}

#define STEV_HIST_MAX 64

/* The history entries a read passed to stev_collect, in the order given. */
typedef struct {
    int n;
    char status[STEV_HIST_MAX][ORDER_STATUS_MAX + 1];
    int64_t at[STEV_HIST_MAX];
} stev_history;

/* A store_history_fn: appends to the stev_history at arg. */
static inline void stev_collect(void *arg, const char *status, int64_t at)
{
    stev_history *h = arg;
    ck_assert_int_lt(h->n, STEV_HIST_MAX);
    snprintf(h->status[h->n], sizeof h->status[0], "%s", status);
    h->at[h->n] = at;
    h->n++;
}

#endif
