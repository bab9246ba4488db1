/* order_json: see order_json.h. */
#include "event/order_json.h"

void order_json_money(jsonw *w, int64_t cents)
{
    char b[32];
    int n = money_format(cents, b, sizeof b);
    if (n <= 0) {
        w->failed = 1; /* sticky, like every jsonw error */
        return;
    }
    jsonw_raw(w, b, (size_t)n);
}

void order_json_items(jsonw *w, const order_event *ev)
{
    jsonw_arr_begin(w);
    for (size_t i = 0; i < ev->item_count && i < ORDER_ITEMS_MAX; i++) {
        jsonw_obj_begin(w);
        jsonw_key(w, "itemId");
        jsonw_str(w, ev->items[i].item_id);
        jsonw_key(w, "quantity");
        jsonw_int(w, ev->items[i].quantity);
        jsonw_key(w, "price");
        order_json_money(w, ev->items[i].price_cents);
        jsonw_obj_end(w);
    }
    jsonw_arr_end(w);
}

void order_json_create_fields(jsonw *w, const order_event *ev)
{
    jsonw_key(w, "customerId");
    jsonw_str(w, ev->customer_id);
    jsonw_key(w, "orderDate");
    jsonw_str(w, ev->order_date);
    jsonw_key(w, "items");
    order_json_items(w, ev);
    jsonw_key(w, "totalAmount");
    order_json_money(w, ev->total_cents);
    jsonw_key(w, "currency");
    jsonw_str(w, ev->currency);
}
