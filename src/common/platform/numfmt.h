/*
 * numfmt: decimal digits without printf. The hot paths (every order-details
 * answer, every stored CREATE's items) format a handful of numbers each, and
 * snprintf costs ~1,500-2,000 instructions a call (measured with callgrind,
 * bench/profile-notes.md); these cost tens.
 */
#ifndef NUMFMT_H
#define NUMFMT_H

#include <stddef.h>
#include <stdint.h>

#define NUMFMT_U64_MAX 20 /* digits of UINT64_MAX */

/* Writes v in decimal at out (room for NUMFMT_U64_MAX bytes, no NUL); returns the length. */
size_t numfmt_u64(char *out, uint64_t v);

/* Writes v as exactly width digits (zero-padded, high digits cut) at out; width <= 20. */
void numfmt_pad(char *out, uint64_t v, int width);

#endif
