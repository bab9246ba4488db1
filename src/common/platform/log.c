/*
 * log: JSON-lines logging. Each line is formatted into a stack buffer and
 * written with a single write(2), so lines from several threads never
 * interleave and logging never allocates. Lines longer than the buffer are
 * truncated (marked with "truncated":true) rather than split.
 */
#include "platform/log.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define LOG_LINE_MAX 4096

static char log_component[64] = "orderstream";
static volatile int log_min_level = LOG_INFO;

/* One per thread: each thread handles one request or event at a time. */
static _Thread_local char log_trace[33];
/* log_trace_defer's source, resolved at the thread's next line (or get) */
static _Thread_local void (*log_trace_fn)(void *arg);
static _Thread_local void *log_trace_arg;

/* Installs the deferred trace id, if any, now. */
static void log_trace_resolve(void)
{
    void (*fn)(void *) = log_trace_fn;
    if (!fn)
        return;
    log_trace_fn = NULL; /* before the call: fn sets the id with log_trace_set */
    fn(log_trace_arg);
}

void log_trace_defer(void (*fn)(void *arg), void *arg)
{
    log_trace[0] = '\0';
    log_trace_fn = fn;
    log_trace_arg = arg;
}

void log_trace_set(const char *id, size_t len)
{
    log_trace_fn = NULL;
    if (!id)
        len = 0;
    if (len > sizeof log_trace - 1)
        len = sizeof log_trace - 1;
    if (len)
        memmove(log_trace, id, len);
    log_trace[len] = '\0';
}

const char *log_trace_get(void)
{
    log_trace_resolve();
    return log_trace;
}

void log_trace_enter(log_trace_saved *outer, const char *id, size_t len)
{
    _Static_assert(sizeof outer->id == sizeof log_trace, "saved id fits the thread's id");
    log_trace_resolve(); /* a deferred id is saved as the id it stands for */
    memcpy(outer->id, log_trace, sizeof log_trace);
    log_trace_set(id, len);
}

void log_trace_leave(const log_trace_saved *outer)
{
    memcpy(log_trace, outer->id, sizeof log_trace);
}

static const char *const log_names[] = {"debug", "info", "warn", "error"};

int log_init(const char *component, const char *level_name)
{
    if (component)
        snprintf(log_component, sizeof log_component, "%s", component);
    if (level_name && *level_name) {
        for (int i = LOG_DEBUG; i <= LOG_ERROR; i++) {
            if (strcasecmp(level_name, log_names[i]) == 0) {
                log_min_level = i;
                return 0;
            }
        }
        if (strcasecmp(level_name, "warning") == 0) {
            log_min_level = LOG_WARN;
            return 0;
        }
        return -1;
    }
    return 0;
}

void log_set_level(log_level l)
{
    log_min_level = (int)l;
}

int log_enabled(log_level l)
{
    return (int)l >= log_min_level;
}

log_level log_level_from_syslog(int syslog_level)
{
    if (syslog_level <= 3)
        return LOG_ERROR;
    if (syslog_level == 4)
        return LOG_WARN;
    if (syslog_level <= 6)
        return LOG_INFO;
    return LOG_DEBUG;
}

/* Appends s JSON-escaped; returns the new length, never past cap - 1. */
static size_t log_escape(char *out, size_t len, size_t cap, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    for (; *s && len + 7 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            out[len++] = '\\';
            out[len++] = (char)c;
        } else if (c == '\n') {
            out[len++] = '\\';
            out[len++] = 'n';
        } else if (c < 0x20 || c == 0x7f) {
            memcpy(out + len, "\\u00", 4);
            out[len + 4] = hex[c >> 4];
            out[len + 5] = hex[c & 15];
            len += 6;
        } else {
            out[len++] = (char)c;
        }
    }
    return len;
}

static size_t log_append(char *out, size_t len, size_t cap, const char *s)
{
    if (len + 1 >= cap)
        return len;
    size_t n = strnlen(s, cap - 1 - len);
    memcpy(out + len, s, n);
    return len + n;
}

void log_msg(log_level l, const char *sub, const char *request_id, const char *fmt, ...)
{
    if ((int)l < log_min_level)
        return;
    char msg[LOG_LINE_MAX / 2];
    va_list ap;
    va_start(ap, fmt);
    int mlen = vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (mlen < 0)
        snprintf(msg, sizeof msg, "(unformattable log message)");

    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    char ts[40];
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);

    char line[LOG_LINE_MAX];
    size_t cap = sizeof line - 2; /* room for "}\n" */
    int n = snprintf(line, cap, "{\"time\":\"%s.%03ldZ\",\"level\":\"%s\",\"component\":\"", ts,
                     (long)(tv.tv_usec / 1000), log_names[l]);
    size_t len = n > 0 ? (size_t)n : 0;
    len = log_escape(line, len, cap, log_component);
    if (sub) {
        len = log_append(line, len, cap, "\",\"sub\":\"");
        len = log_escape(line, len, cap, sub);
    }
    if (request_id && *request_id) {
        len = log_append(line, len, cap, "\",\"request_id\":\"");
        len = log_escape(line, len, cap, request_id);
    }
    log_trace_resolve();
    if (log_trace[0]) {
        len = log_append(line, len, cap, "\",\"trace_id\":\"");
        len = log_escape(line, len, cap, log_trace);
    }
    len = log_append(line, len, cap, "\",\"msg\":\"");
    len = log_escape(line, len, cap, msg);
    len = log_append(line, len, cap, "\"");
    if (mlen >= (int)sizeof msg)
        len = log_append(line, len, cap, ",\"truncated\":true");
    line[len++] = '}';
    line[len++] = '\n';
    /* A failed log write has nowhere better to be reported. */
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
}
