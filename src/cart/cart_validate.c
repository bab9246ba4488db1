/*
 * cart_validate: see the header for the rules. Messages are static strings so
 * a validation result needs no allocation and no cleanup.
 */
#include "cart_validate.h"

#include <string.h>

static void add_error(cart_validation *v, const char *field, const char *message)
{
    if (v->nerrors < CART_MAX_FIELD_ERRORS) {
        v->errors[v->nerrors].field = field;
        v->errors[v->nerrors].message = message;
        v->nerrors++;
    }
}

static void reset(cart_validation *v)
{
    memset(v, 0, sizeof *v);
}

/* 422 level: presence and JSON type. */
static void shape_string(cart_validation *v, const cart_field *f, const char *field)
{
    if (f->type == CART_FIELD_ABSENT)
        add_error(v, field, "field required");
    else if (f->type != CART_FIELD_STRING)
        add_error(v, field, "must be a string");
}

static void shape_integer(cart_validation *v, const cart_field *f, const char *field)
{
    if (f->type == CART_FIELD_ABSENT)
        add_error(v, field, "field required");
    else if (f->type != CART_FIELD_INTEGER)
        add_error(v, field, "must be an integer");
}

/* Unknown members are refused rather than ignored: a misspelt field
 * ("itemCount") must not be silently dropped. Reported under "body" with a
 * static message, since a key from the request does not outlive the body.
 * other: the known member that belongs to the other request. */
static void shape_known_fields(cart_validation *v, const cart_body *b, const cart_field *other,
                               const char *message)
{
    if (b->unknown || other->type != CART_FIELD_ABSENT)
        add_error(v, "body", message);
}

static int finish(cart_validation *v, int status, const char *detail)
{
    if (v->nerrors > 0) {
        v->status = status;
        v->detail = detail;
    }
    return v->status;
}

static void check_order_id(cart_validation *v, const cart_field *f)
{
    size_t n = f->len;
    if (n == 0)
        add_error(v, "orderId", "must not be empty");
    else if (n > ORDER_ID_MAX)
        add_error(v, "orderId", "must be at most 64 characters");
    else if (!order_id_valid(f->str, n))
        add_error(v, "orderId", "may contain only letters, digits and . _ : -");
    else {
        memcpy(v->order_id, f->str, n);
        v->order_id[n] = '\0';
    }
}

static int not_object(cart_validation *v)
{
    add_error(v, "body", "must be a JSON object");
    return finish(v, 422, "request body must be a JSON object");
}

int cart_validate_create(const cart_body *b, cart_validation *v)
{
    reset(v);
    if (!b->is_object)
        return not_object(v);
    shape_string(v, &b->order_id, "orderId");
    shape_integer(v, &b->items_count, "itemsCount");
    shape_known_fields(v, b, &b->status, "unknown field: only orderId and itemsCount are accepted");
    if (finish(v, 422, "invalid request shape"))
        return v->status;

    check_order_id(v, &b->order_id);
    long long count = b->items_count.num;
    if (count < 1 || count > ORDER_ITEMS_MAX)
        add_error(v, "itemsCount", "must be between 1 and 100");
    else
        v->items_count = (int)count;
    return finish(v, 400, "invalid request values");
}

int cart_validate_update(const cart_body *b, cart_validation *v)
{
    reset(v);
    if (!b->is_object)
        return not_object(v);
    shape_string(v, &b->order_id, "orderId");
    shape_string(v, &b->status, "status");
    shape_known_fields(v, b, &b->items_count,
                       "unknown field: only orderId and status are accepted");
    if (finish(v, 422, "invalid request shape"))
        return v->status;

    check_order_id(v, &b->order_id);
    const char *s = b->status.str;
    size_t n = b->status.len;
    if (order_status_normalize(s, n, 1, v->order_status) == 0 &&
        strcmp(v->order_status, "new") == 0)
        add_error(v, "status", "\"new\" is reserved for order creation");
    else if (order_status_normalize(s, n, 0, v->order_status) != 0)
        add_error(v, "status",
                  "unknown status; use pending, confirmed, processing, shipped, "
                  "delivered or cancelled");
    return finish(v, 400, "invalid request values");
}
