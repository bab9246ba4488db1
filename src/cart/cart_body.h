/*
 * cart_body: the members of a write request's JSON body that the validators
 * read (orderId, itemsCount, status), as a flat view over the body's bytes.
 *
 * Two ways to fill it, one meaning: cart_body_scan reads the plain shape that
 * every well-behaved client sends ({"orderId":"A-1","itemsCount":3}: known
 * keys once each, strings of printable ASCII without escapes, integers
 * without fraction or exponent) in one pass without allocating; anything else
 * (escapes, other keys, nesting, floats, bad JSON) it declines, and the
 * caller parses with jansson (which words the error of a malformed body) and
 * fills the view with cart_body_from_json. For every body
 * the scan accepts, both give the same view (tests/unit/cart/test_cart_body.c,
 * tests/fuzz/fuzz_cart_request.c).
 */
#ifndef CART_BODY_H
#define CART_BODY_H

#include <jansson.h>
#include <stddef.h>

typedef enum {
    CART_FIELD_ABSENT = 0,
    CART_FIELD_STRING,
    CART_FIELD_INTEGER,
    CART_FIELD_OTHER, /* present, of another JSON type */
} cart_field_type;

typedef struct {
    cart_field_type type;
    const char *str; /* CART_FIELD_STRING: not NUL-terminated; lives as long as the body */
    size_t len;
    long long num; /* CART_FIELD_INTEGER */
} cart_field;

typedef struct {
    int is_object; /* 0: valid JSON that is not an object (cart_body_from_json only) */
    cart_field order_id, items_count, status;
    int unknown; /* some other member is present */
} cart_body;

/* The longest integer literal the scan reads itself (longer: jansson). */
#define CART_BODY_MAX_DIGITS 18

/* 0: buf[0..len) is a plain-shape object, *b filled, pointing into buf.
 * -1: not the plain shape (maybe valid JSON, maybe not): parse with jansson. */
int cart_body_scan(const char *buf, size_t len, cart_body *b);

/* Fills *b from a parsed document; strings point into doc. */
void cart_body_from_json(const json_t *doc, cart_body *b);

#endif
