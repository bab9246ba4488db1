/*
 * numfmt: integers to text without printf, for the per-request paths (JSON
 * numbers, money, timestamps, request ids). vfprintf parses its format on
 * every call; these write digits directly and cost a few instructions per
 * digit. They never write a terminating NUL (callers know the length); each
 * writes at most the documented number of bytes.
 */
#ifndef NUMFMT_H
#define NUMFMT_H

#include <stddef.h>
#include <stdint.h>

#define NUMFMT_U64_MAX 20 /* digits of UINT64_MAX */
#define NUMFMT_I64_MAX 20 /* "-9223372036854775808" */

/* Decimal digits of v into out (at most NUMFMT_U64_MAX bytes); returns the count. */
size_t numfmt_u64(char *out, uint64_t v);
/* As numfmt_u64 with a leading '-' for negatives (at most NUMFMT_I64_MAX bytes). */
size_t numfmt_i64(char *out, int64_t v);
/* Exactly width digits of v, zero-padded; v must be below 10^width (asserted), width <= 19. */
void numfmt_pad(char *out, uint64_t v, int width);
/* Exactly 16 lower-case hex digits of v. */
void numfmt_hex64(char *out, uint64_t v);

#endif
