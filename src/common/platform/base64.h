/*
 * base64: standard base64 (RFC 4648, with padding), for binary values shown
 * in JSON (the raw bytes of a dead letter).
 */
#ifndef BASE64_H
#define BASE64_H

#include <stddef.h>

/* The encoded length of n bytes, without the terminating NUL. */
#define BASE64_LEN(n) (4 * (((n) + 2) / 3))

/* Encodes n bytes into out (cap >= BASE64_LEN(n) + 1, else out is "" and 0
 * returned); returns the length written, NUL-terminated. */
size_t base64_encode(const void *in, size_t n, char *out, size_t cap);

#endif
