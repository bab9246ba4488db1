/*
 * clock: the few time functions every module needs, in one place. Monotonic
 * time for durations and deadlines (never goes back when NTP steps the wall
 * clock); wall time in ms since the epoch for event timestamps; ISO-8601 UTC
 * with milliseconds for JSON.
 */
#ifndef CLOCK_H
#define CLOCK_H

#include <stddef.h>
#include <stdint.h>

double clock_mono_s(void);
int64_t clock_mono_ms(void);
int64_t clock_wall_ms(void);

#define CLOCK_ISO_LEN 24 /* strlen("2026-11-25T14:00:00.123Z") */

/* "2026-11-25T14:00:00.123Z" into buf (>= 25 bytes). 0, or -1 if it does not fit
 * or ms is outside what gmtime can represent (buf then holds ""). */
int clock_format_iso_ms(int64_t ms, char *buf, size_t cap);

#endif
