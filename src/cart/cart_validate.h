/*
 * cart_validate: the request validation table of cart-service, kept apart
 * from HTTP so the unit tests can walk every rule.
 *
 * Shape first (422, like the seed's FastAPI): a required field missing or of
 * the wrong JSON type (itemsCount "3", 3.5 or true; orderId 5). Then values
 * (400): orderId empty, over 64 chars or outside [A-Za-z0-9._:-]; itemsCount
 * outside 1..100; status unknown or "new". An unknown member is refused
 * (422): a misspelt field must not be dropped silently.
 * Every problem found at the failing level is listed, one per field.
 */
#ifndef CART_VALIDATE_H
#define CART_VALIDATE_H

#include "cart_body.h"
#include "platform/http.h"
#include "event/order_model.h"

#define CART_MAX_FIELD_ERRORS 4

typedef struct {
    int status; /* 0 valid, else 400 or 422 */
    const char *detail;
    http_field_error errors[CART_MAX_FIELD_ERRORS];
    size_t nerrors;
    /* valid requests */
    char order_id[ORDER_ID_MAX + 1];
    int items_count;
    char order_status[ORDER_STATUS_MAX + 1];
} cart_validation;

/* {"orderId": str, "itemsCount": int}. Returns v->status. v->order_id is a
 * copy: the body may go once this returns. */
int cart_validate_create(const cart_body *body, cart_validation *v);
/* {"orderId": str, "status": str}. Returns v->status. */
int cart_validate_update(const cart_body *body, cart_validation *v);

#endif
