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

/*
 * Days since 1970-01-01 to a proleptic Gregorian date, by 400-year eras of
 * 146,097 days (the year counted from March, so the leap day is the era's
 * last). Replaces gmtime_r, which takes glibc's time-zone lock on every call.
 */
static void clock_civil(int64_t days, int64_t *y, unsigned *m, unsigned *d)
{
    days += 719468; /* 0000-03-01 to 1970-01-01 */
    int64_t era = (days >= 0 ? days : days - 146096) / 146097;
    unsigned doe = (unsigned)(days - era * 146097);                       /* [0, 146096] */
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* [0, 399] */
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);               /* [0, 365] */
    unsigned mp = (5 * doy + 2) / 153;                                    /* [0, 11], March first */
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

/* gmtime_r + snprintf, for the years the fast path does not cover. */
static int clock_format_slow(int64_t secs, int millis, char *buf, size_t cap)
{
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

int clock_format_iso_ms(int64_t ms, char *buf, size_t cap)
{
    if (cap == 0)
        return -1;
    buf[0] = '\0';
    if (cap < 25)
        return -1;
    /* floor division, so times before 1970 keep a positive millisecond part */
    int64_t secs = ms >= 0 ? ms / 1000 : -((-(ms + 1)) / 1000) - 1;
    int millis = (int)(ms - secs * 1000);
    int64_t days = secs >= 0 ? secs / 86400 : -((-(secs + 1)) / 86400) - 1;
    int64_t sod = secs - days * 86400;
    int64_t y;
    unsigned mo, d;
    clock_civil(days, &y, &mo, &d);
    if (y < 0 || y > 9999)
        return clock_format_slow(secs, millis, buf, cap); /* beyond four digits: rare */
    numfmt_pad(buf, (uint64_t)y, 4);
    buf[4] = '-';
    numfmt_pad(buf + 5, mo, 2);
    buf[7] = '-';
    numfmt_pad(buf + 8, d, 2);
    buf[10] = 'T';
    numfmt_pad(buf + 11, (uint64_t)(sod / 3600), 2);
    buf[13] = ':';
    numfmt_pad(buf + 14, (uint64_t)(sod / 60 % 60), 2);
    buf[16] = ':';
    numfmt_pad(buf + 17, (uint64_t)(sod % 60), 2);
    buf[19] = '.';
    numfmt_pad(buf + 20, (uint64_t)millis, 3);
    buf[23] = 'Z';
    buf[24] = '\0';
    return 0;
}
