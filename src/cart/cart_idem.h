/*
 * cart_idem: the `Idempotency-Key` request header (IETF httpapi draft
 * "The Idempotency-Key HTTP Header Field"): an RFC 8941 Item whose value is a
 * String, e.g.  Idempotency-Key: "8e03978e-40d5-43e8-bc93-6894a57f9324".
 *
 * cart-service keeps no state, so it cannot look a key up. It binds the key
 * to the request instead: a create's content is drawn from (key, orderId,
 * itemsCount) (cart_gen.h), and the key travels in the Kafka record header
 * `idempotency-key`. What the consumer then detects is in docs/RELIABILITY.md.
 */
#ifndef CART_IDEM_H
#define CART_IDEM_H

#include <stddef.h>

#define CART_IDEM_KEY_MAX 255 /* characters of the key itself (after unescaping) */

/*
 * Parses a header value: optional spaces, a double-quoted sf-string of 1..MAX
 * printable ASCII characters (only \" and \\ escaped), optional spaces, and
 * nothing else (parameters are not accepted). The unescaped key goes to out
 * (NUL-terminated, *len its length). 0, or -1 with a reason in err (the
 * caller answers 400).
 */
int cart_idem_parse(const char *value, char out[CART_IDEM_KEY_MAX + 1], size_t *len, char *err,
                    size_t errlen);

#endif
