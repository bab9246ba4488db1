/*
 * order_json: the JSON form of an order's CREATE data, written once for every
 * place that shows it (cart-service's 201, order-service's stored item list
 * and its DLQ event view), so the field names and money format cannot differ.
 */
#ifndef ORDER_JSON_H
#define ORDER_JSON_H

#include "jsonw.h"
#include "order_model.h"

/* [{"itemId","quantity","price"}, ...] (at most ORDER_ITEMS_MAX items). */
void order_json_items(jsonw *w, const order_event *ev);

/* Inside an open object: customerId, orderDate, items, totalAmount, currency. */
void order_json_create_fields(jsonw *w, const order_event *ev);

#endif
