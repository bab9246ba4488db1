/*
 * log: structured logs, one JSON object per line on stderr:
 *   {"time":"2026-11-25T14:00:00.123Z","level":"info","component":"cart",
 *    "request_id":"...", "trace_id":"...", "msg":"..."}
 * Thread-safe (one write(2) per line). Level from LOG_LEVEL
 * (debug|info|warn|error). Never pass secrets in messages.
 */
#ifndef LOG_H
#define LOG_H

#include <stdarg.h>
#include <stddef.h>

typedef enum { LOG_DEBUG = 0, LOG_INFO, LOG_WARN, LOG_ERROR } log_level;

/* component names the service ("cart-service"); level_name may be NULL. */
int log_init(const char *component, const char *level_name);
void log_set_level(log_level l);
int log_enabled(log_level l);

/*
 * printf-style message. sub: sub-component ("kafka", "http"...) or NULL;
 * request_id: the HTTP request id, or NULL.
 */
void log_msg(log_level l, const char *sub, const char *request_id, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define log_debug(...) log_msg(LOG_DEBUG, NULL, NULL, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, NULL, NULL, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, NULL, NULL, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, NULL, NULL, __VA_ARGS__)

/*
 * The W3C trace id (32 hex characters) this thread's next lines carry as
 * "trace_id": set while a request or a consumed event is handled, cleared
 * (NULL or "") after. Copied, so the caller's buffer may go. len is how many
 * characters of id to take (at most 32).
 */
void log_trace_set(const char *id, size_t len);
/* What log_trace_set installed, "" for none. */
const char *log_trace_get(void);
/*
 * As log_trace_set, but the id is found only if a line is written: fn(arg)
 * (which calls log_trace_set) runs at this thread's next line or
 * log_trace_get, at most once; arg must stay valid until then or until the
 * next log_trace_set / log_trace_defer (NULL cancels). For work that rarely
 * logs (a consumed event), where finding the id costs more than the work.
 */
void log_trace_defer(void (*fn)(void *arg), void *arg);

/*
 * A nested use (an access line written from a delivery report, a handler
 * run inside another loop callback): log_trace_enter saves the thread's trace
 * id into *outer and installs id; log_trace_leave puts the saved one back.
 * Every enter is paired with one leave on the same thread.
 */
typedef struct {
    char id[33];
} log_trace_saved;
void log_trace_enter(log_trace_saved *outer, const char *id, size_t len);
void log_trace_leave(const log_trace_saved *outer);

/* Maps a syslog level (as librdkafka reports it) to ours. */
log_level log_level_from_syslog(int syslog_level);

#endif
