/* order_json: see order_json.h. */
#include "event/order_json.h"

#include "platform/numfmt.h"

#include <string.h>

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

/* One item through jsonw's general writer (escapes whatever the id holds). */
static void order_json_item_general(jsonw *w, const order_item *it)
{
    jsonw_obj_begin(w);
    jsonw_key(w, "itemId");
    jsonw_str(w, it->item_id);
    jsonw_key(w, "quantity");
    jsonw_int(w, it->quantity);
    jsonw_key(w, "price");
    order_json_money(w, it->price_cents);
    jsonw_obj_end(w);
}

#define ORDER_JSON_ITEM_MAX                                                                        \
    (sizeof "{\"itemId\":\"\",\"quantity\":,\"price\":}" + ORDER_ITEM_ID_MAX + NUMFMT_I64_MAX + 32)

static size_t order_json_lit(char *o, const char *lit, size_t n)
{
    memcpy(o, lit, n);
    return n;
}

/*
 * The same item, byte for byte, written straight into b (ORDER_JSON_ITEM_MAX
 * bytes) when its id needs no escaping (printable ASCII without quote or
 * backslash: every id cart-service accepts); 0 otherwise. The consumer writes
 * an item list for every stored CREATE: nine jsonw calls an item were a fifth
 * of the consumer thread's own instructions (bench/profile-notes.md).
 */
static size_t order_json_item_plain(char *b, const order_item *it)
{
    size_t idlen = 0;
    for (; idlen <= ORDER_ITEM_ID_MAX && it->item_id[idlen]; idlen++) {
        unsigned char c = (unsigned char)it->item_id[idlen];
        if (c < 0x20 || c >= 0x80 || c == '"' || c == '\\')
            return 0;
    }
    if (idlen > ORDER_ITEM_ID_MAX)
        return 0; /* not terminated within its field: the general path bounds it */
    size_t n = order_json_lit(b, "{\"itemId\":\"", 11);
    memcpy(b + n, it->item_id, idlen);
    n += idlen;
    n += order_json_lit(b + n, "\",\"quantity\":", 13);
    n += numfmt_i64(b + n, it->quantity);
    n += order_json_lit(b + n, ",\"price\":", 9);
    int m = money_format(it->price_cents, b + n, 32);
    if (m <= 0)
        return 0;
    n += (size_t)m;
    b[n++] = '}';
    return n;
}

void order_json_items(jsonw *w, const order_event *ev)
{
    char b[ORDER_JSON_ITEM_MAX];
    jsonw_arr_begin(w);
    for (size_t i = 0; i < ev->item_count && i < ORDER_ITEMS_MAX; i++) {
        size_t n = order_json_item_plain(b, &ev->items[i]);
        if (n > 0)
            jsonw_raw(w, b, n);
        else
            order_json_item_general(w, &ev->items[i]);
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
