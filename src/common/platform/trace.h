/*
 * trace: W3C Trace Context (https://www.w3.org/TR/trace-context/) for both
 * services: parsing and validating a `traceparent` header, and starting the
 * service's own span under it (or a new trace when there is none).
 *
 * The text form is "00-<32 hex trace-id>-<16 hex parent-id>-<2 hex flags>",
 * always 55 characters when we write it. Ids come from a per-thread
 * xoshiro256** generator seeded once from the OS (getrandom), so starting a
 * span costs no system call and no allocation.
 */
#ifndef TRACE_H
#define TRACE_H

#include <stddef.h>
#include <stdint.h>

#define TRACE_PARENT_LEN 55 /* "00-" 32 "-" 16 "-" 2 */
#define TRACE_ID_HEX 32
#define TRACE_SPAN_HEX 16
#define TRACE_FLAG_SAMPLED 0x01u

typedef struct {
    uint8_t trace_id[16];
    uint8_t span_id[8]; /* parsed: the caller's parent-id; started: our own span */
    uint8_t flags;
} trace_ctx;

/*
 * Parses a traceparent value (len bytes, not necessarily NUL-terminated) per
 * the spec: version 2 lowercase hex, not "ff"; version 00 is exactly 55
 * characters; a higher version is parsed by its first 55 characters if they
 * are followed by nothing or '-'. trace-id and parent-id are lowercase hex and
 * not all zero. 0, or -1 (the header is then to be ignored).
 */
int trace_parse(const char *s, size_t len, trace_ctx *out);

/*
 * The service's span: parent (NULL: none, or an invalid header) gives the
 * trace id and the sampled flag; the span id is new. Without a parent, a new
 * trace id and the sampled flag set (our logs record every request).
 */
void trace_start(const trace_ctx *parent, trace_ctx *out);

/* Writes the version-00 text form, NUL-terminated, into out. */
void trace_format(const trace_ctx *t, char out[TRACE_PARENT_LEN + 1]);

/* The next value of this thread's generator (seeded on first use). */
uint64_t trace_rand64(void);

#endif
