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
static void shape_string(cart_validation *v, const json_t *body, const char *field)
{
    const json_t *x = json_object_get(body, field);
    if (!x)
        add_error(v, field, "field required");
    else if (!json_is_string(x))
        add_error(v, field, "must be a string");
}

static void shape_integer(cart_validation *v, const json_t *body, const char *field)
{
    const json_t *x = json_object_get(body, field);
    if (!x)
        add_error(v, field, "field required");
    else if (!json_is_integer(x))
        add_error(v, field, "must be an integer");
}

/* Unknown members are refused rather than ignored: a misspelt field
 * ("itemCount") must not be silently dropped. Reported under "body" with a
 * static message, since a key from the request does not outlive the body. */
static void shape_known_fields(cart_validation *v, const json_t *body, const char *a, const char *b,
                               const char *message)
{
    const char *key;
    const json_t *val;
    json_object_foreach((json_t *)body, key, val)
    {
        (void)val;
        if (strcmp(key, a) != 0 && strcmp(key, b) != 0) {
            add_error(v, "body", message);
            return;
        }
    }
}

static int finish(cart_validation *v, int status, const char *detail)
{
    if (v->nerrors > 0) {
        v->status = status;
        v->detail = detail;
    }
    return v->status;
}

static void check_order_id(cart_validation *v, const json_t *body)
{
    const json_t *x = json_object_get(body, "orderId");
    const char *s = json_string_value(x);
    size_t n = json_string_length(x);
    if (n == 0)
        add_error(v, "orderId", "must not be empty");
    else if (n > ORDER_ID_MAX)
        add_error(v, "orderId", "must be at most 64 characters");
    else if (!order_id_valid(s, n))
        add_error(v, "orderId", "may contain only letters, digits and . _ : -");
    else
        memcpy(v->order_id, s, n + 1);
}

int cart_validate_create(const json_t *body, cart_validation *v)
{
    reset(v);
    if (!json_is_object(body)) {
        add_error(v, "body", "must be a JSON object");
        return finish(v, 422, "request body must be a JSON object");
    }
    shape_string(v, body, "orderId");
    shape_integer(v, body, "itemsCount");
    shape_known_fields(v, body, "orderId", "itemsCount",
                       "unknown field: only orderId and itemsCount are accepted");
    if (finish(v, 422, "invalid request shape"))
        return v->status;

    check_order_id(v, body);
    json_int_t count = json_integer_value(json_object_get(body, "itemsCount"));
    if (count < 1 || count > ORDER_ITEMS_MAX)
        add_error(v, "itemsCount", "must be between 1 and 100");
    else
        v->items_count = (int)count;
    return finish(v, 400, "invalid request values");
}

int cart_validate_update(const json_t *body, cart_validation *v)
{
    reset(v);
    if (!json_is_object(body)) {
        add_error(v, "body", "must be a JSON object");
        return finish(v, 422, "request body must be a JSON object");
    }
    shape_string(v, body, "orderId");
    shape_string(v, body, "status");
    shape_known_fields(v, body, "orderId", "status",
                       "unknown field: only orderId and status are accepted");
    if (finish(v, 422, "invalid request shape"))
        return v->status;

    check_order_id(v, body);
    const json_t *st = json_object_get(body, "status");
    const char *s = json_string_value(st);
    size_t n = json_string_length(st);
    if (order_status_normalize(s, n, 1, v->order_status) == 0 &&
        strcmp(v->order_status, "new") == 0)
        add_error(v, "status", "\"new\" is reserved for order creation");
    else if (order_status_normalize(s, n, 0, v->order_status) != 0)
        add_error(v, "status",
                  "unknown status; use pending, confirmed, processing, shipped, "
                  "delivered or cancelled");
    return finish(v, 400, "invalid request values");
}
