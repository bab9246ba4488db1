/*
 * cart_idem: see the header. The grammar is RFC 8941's sf-string:
 *   sf-string = DQUOTE *chr DQUOTE ; chr = unescaped / escaped
 *   unescaped = %x20-21 / %x23-5B / %x5D-7E ; escaped = "\" ( DQUOTE / "\" )
 * An empty key is refused too: it cannot identify anything.
 */
#include "cart_idem.h"

#include <stdio.h>

static const char *skip_sp(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

int cart_idem_parse(const char *value, char out[CART_IDEM_KEY_MAX + 1], size_t *len, char *err,
                    size_t errlen)
{
    const char *p = skip_sp(value);
    size_t n = 0;
    if (*p != '"') {
        snprintf(err, errlen,
                 "Idempotency-Key must be a quoted string (RFC 8941), e.g. \"abc-123\"");
        return -1;
    }
    for (p++;; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '"')
            break;
        if (c == '\\') {
            c = (unsigned char)*++p;
            if (c != '"' && c != '\\') {
                snprintf(err, errlen, "Idempotency-Key: only \\\" and \\\\ may be escaped");
                return -1;
            }
        } else if (c == '\0') {
            snprintf(err, errlen, "Idempotency-Key: the string is not closed");
            return -1;
        } else if (c < 0x20 || c > 0x7e) {
            snprintf(err, errlen, "Idempotency-Key: only printable ASCII characters are allowed");
            return -1;
        }
        if (n >= CART_IDEM_KEY_MAX) {
            snprintf(err, errlen, "Idempotency-Key: longer than %d characters", CART_IDEM_KEY_MAX);
            return -1;
        }
        out[n++] = (char)c;
    }
    if (n == 0) {
        snprintf(err, errlen, "Idempotency-Key must not be empty");
        return -1;
    }
    if (*skip_sp(p + 1) != '\0') {
        snprintf(err, errlen, "Idempotency-Key: nothing may follow the string (no parameters)");
        return -1;
    }
    out[n] = '\0';
    *len = n;
    return 0;
}
