/* health: see health.h. */
#include "platform/health.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void health_report_init(health_report *r)
{
    memset(r, 0, sizeof *r);
}

void health_add(health_report *r, const char *name, int ok, const char *why, ...)
{
    assert(r->n < HEALTH_CHECKS_MAX);
    if (r->n >= HEALTH_CHECKS_MAX)
        return;
    health_check *c = &r->checks[r->n++];
    c->name = name;
    c->ok = ok;
    c->detail[0] = '\0';
    if (!ok && why) {
        va_list ap;
        va_start(ap, why);
        vsnprintf(c->detail, sizeof c->detail, why, ap);
        va_end(ap);
    }
}

int health_ok(const health_report *r)
{
    for (size_t i = 0; i < r->n; i++)
        if (!r->checks[i].ok)
            return 0;
    return 1;
}

const health_check *health_find(const health_report *r, const char *name)
{
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->checks[i].name, name) == 0)
            return &r->checks[i];
    return NULL;
}

int health_passed(const health_report *r, const char *name)
{
    const health_check *c = health_find(r, name);
    return c ? c->ok != 0 : -1;
}

void health_reply(http_call *call, jsonw *w, const char *service, const health_report *r)
{
    int ok = health_ok(r);
    jsonw_reset(w);
    jsonw_obj_begin(w);
    jsonw_key(w, "status");
    jsonw_str(w, ok ? "ok" : "unavailable");
    if (!ok) {
        /* "kafka, store": the failing checks by name, for a one-line log */
        char names[256] = "";
        size_t len = 0;
        for (size_t i = 0; i < r->n && len < sizeof names; i++) {
            if (r->checks[i].ok)
                continue;
            int n = snprintf(names + len, sizeof names - len, "%s%s", len ? ", " : "",
                             r->checks[i].name);
            if (n < 0)
                break;
            len += (size_t)n;
        }
        jsonw_key(w, "detail");
        jsonw_str(w, names);
    }
    jsonw_key(w, "service");
    jsonw_str(w, service);
    jsonw_key(w, "checks");
    jsonw_obj_begin(w);
    for (size_t i = 0; i < r->n; i++) {
        jsonw_key(w, r->checks[i].name);
        jsonw_obj_begin(w);
        jsonw_key(w, "ok");
        jsonw_bool(w, r->checks[i].ok);
        if (!r->checks[i].ok) {
            jsonw_key(w, "detail");
            jsonw_str(w, r->checks[i].detail);
        }
        jsonw_obj_end(w);
    }
    jsonw_obj_end(w);
    jsonw_obj_end(w);
    if (!ok)
        http_add_header(call, "Retry-After", "2");
    http_reply_jsonw(call, ok ? 200 : 503, w);
}
