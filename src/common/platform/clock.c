/* clock: see clock.h. */
#include "platform/clock.h"

#include "platform/numfmt.h"

#include <stdio.h>
#include <time.h>

double clock_mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int64_t clock_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t clock_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int clock_format_iso_ms(int64_t ms, char *buf, size_t cap)
{
    if (cap == 0)
        return -1;
    buf[0] = '\0';
    /* floor division, so times before 1970 keep a positive millisecond part */
    int64_t secs = ms >= 0 ? ms / 1000 : -((-(ms + 1)) / 1000) - 1;
    int millis = (int)(ms - secs * 1000);
    time_t t = (time_t)secs;
    struct tm tm;
    if (!gmtime_r(&t, &tm))
        return -1;
    int year = tm.tm_year + 1900;
    if (year >= 0 && year <= 9999 && cap > CLOCK_ISO_LEN) {
        /* the common case without printf: a create formats its order date */
        numfmt_pad(buf, (uint64_t)year, 4);
        buf[4] = '-';
        numfmt_pad(buf + 5, (uint64_t)tm.tm_mon + 1, 2);
        buf[7] = '-';
        numfmt_pad(buf + 8, (uint64_t)tm.tm_mday, 2);
        buf[10] = 'T';
        numfmt_pad(buf + 11, (uint64_t)tm.tm_hour, 2);
        buf[13] = ':';
        numfmt_pad(buf + 14, (uint64_t)tm.tm_min, 2);
        buf[16] = ':';
        numfmt_pad(buf + 17, (uint64_t)tm.tm_sec, 2);
        buf[19] = '.';
        numfmt_pad(buf + 20, (uint64_t)millis, 3);
        buf[23] = 'Z';
        buf[24] = '\0';
        return 0;
    }
    int n = snprintf(buf, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", year, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, millis);
    if (n < 0 || (size_t)n >= cap) {
        buf[0] = '\0';
        return -1;
    }
    return 0;
}
