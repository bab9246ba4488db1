/*
 * order_json: the JSON form of an order's CREATE data, written once for every
 * place that shows it (cart-service's 201, order-service's stored item list
 * and its DLQ event view), so the field names and money format cannot differ.
 * Money is rendered here, beside the model it belongs to, not by jsonw.
 */
#ifndef ORDER_JSON_H
#define ORDER_JSON_H

#include "platform/jsonw.h"
#include "event/order_model.h"

/* An amount of cents as a JSON number with two decimals: 99.98, 100.00, -0.05. */
void order_json_money(jsonw *w, int64_t cents);

/* [{"itemId","quantity","price"}, ...] (at most ORDER_ITEMS_MAX items). */
void order_json_items(jsonw *w, const order_event *ev);

/* Inside an open object: customerId, orderDate, items, totalAmount, currency. */
void order_json_create_fields(jsonw *w, const order_event *ev);

#endif
