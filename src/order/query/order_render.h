/*
 * order_render: the JSON of one order as GET /order-details answers it, in
 * pieces, so the same bytes come from a single read (the order's fields, then
 * its history kept aside) and from a batched read (fields, then the history
 * streamed after them):
 *
 *   order_render_head(w, o);          {"orderId": ..., "updatedAt": ..., "statusHistory":
 *   then either jsonw_raw(w, an array of order_render_change() objects),
 *   or jsonw_arr_begin(w), order_render_change(w, ...) per change, jsonw_arr_end(w);
 *   order_render_tail(w);             }
 */
#ifndef ORDER_RENDER_H
#define ORDER_RENDER_H

#include "platform/jsonw.h"
#include "store/store.h"

#include <stdint.h>

void order_render_head(jsonw *w, const store_order *o);
/* {"status": status, "at": "2026-11-25T14:00:00.123Z"} */
void order_render_change(jsonw *w, const char *status, int64_t at_ms);
void order_render_tail(jsonw *w);
/* "key": "2026-11-25T14:00:00.123Z" */
void order_render_time(jsonw *w, const char *key, int64_t ms);

#endif
