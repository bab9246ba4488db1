/*
 * order_render: see order_render.h. The field order is the answer's
 * contract (docs/openapi.yaml's OrderDetails); statusHistory comes last so a
 * batched read can stream it.
 */
#include "query/order_render.h"

#include "event/order_json.h"
#include "platform/clock.h"

void order_render_time(jsonw *w, const char *key, int64_t ms)
{
    char buf[40];
    clock_format_iso_ms(ms, buf, sizeof buf);
    jsonw_key(w, key);
    jsonw_str(w, buf);
}

void order_render_head(jsonw *w, const store_order *o)
{
    jsonw_obj_begin(w);
    jsonw_key(w, "orderId");
    jsonw_str(w, o->order_id);
    jsonw_key(w, "customerId");
    jsonw_str(w, o->customer_id);
    jsonw_key(w, "orderDate");
    jsonw_str(w, o->order_date);
    jsonw_key(w, "items");
    jsonw_raw(w, o->items_json, o->items_json_len);
    jsonw_key(w, "totalAmount");
    order_json_money(w, o->total_cents);
    jsonw_key(w, "currency");
    jsonw_str(w, o->currency);
    jsonw_key(w, "status");
    jsonw_str(w, o->status);
    jsonw_key(w, "shippingCost");
    order_json_money(w, o->shipping_cents);
    order_render_time(w, "createdAt", o->created_at_ms);
    order_render_time(w, "updatedAt", o->updated_at_ms);
    jsonw_key(w, "statusHistory");
}

void order_render_change(jsonw *w, const char *status, int64_t at_ms)
{
    jsonw_obj_begin(w);
    jsonw_key(w, "status");
    jsonw_str(w, status);
    order_render_time(w, "at", at_ms);
    jsonw_obj_end(w);
}

void order_render_tail(jsonw *w)
{
    jsonw_obj_end(w);
}
