/*
 * config: environment-variable settings from one table per service. The
 * table is the single list behind --help, validation and the startup log, so
 * the three cannot drift apart.
 */
#include "platform/config.h"

#include "platform/log.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

extern char **environ;

int config_load(config_var *vars, size_t n, char *err, size_t errlen)
{
    for (size_t i = 0; i < n; i++) {
        config_var *v = &vars[i];
        const char *s = getenv(v->name);
        if (!s || !*s)
            s = v->def ? v->def : "";
        v->str = s;
        v->num = 0;
        if (v->type != CONFIG_INT)
            continue;
        int can_auto = v->def && strcmp(v->def, "auto") == 0;
        if (can_auto && strcmp(s, "auto") == 0) {
            v->num = CONFIG_AUTO;
            continue;
        }
        errno = 0;
        char *end = NULL;
        long long x = strtoll(s, &end, 10);
        if (errno || end == s || *end != '\0') {
            snprintf(err, errlen, "%s: '%s' is not an integer%s", v->name, s,
                     can_auto ? " or auto" : "");
            return -1;
        }
        if (x < v->min || x > v->max) {
            snprintf(err, errlen, "%s: %lld is outside %lld..%lld", v->name, x, v->min, v->max);
            return -1;
        }
        v->num = x;
    }
    return 0;
}

static const config_var *config_find(const config_var *vars, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(vars[i].name, name) == 0)
            return &vars[i];
    return NULL;
}

const char *config_str(const config_var *vars, size_t n, const char *name)
{
    const config_var *v = config_find(vars, n, name);
    return v ? v->str : NULL;
}

long long config_int(const config_var *vars, size_t n, const char *name)
{
    const config_var *v = config_find(vars, n, name);
    return v ? v->num : 0;
}

void config_print_help(FILE *out, const config_var *vars, size_t n)
{
    fprintf(out, "Configuration (environment variables):\n");
    for (size_t i = 0; i < n; i++) {
        const config_var *v = &vars[i];
        fprintf(out, "  %s (default: %s)", v->name, v->def && *v->def ? v->def : "unset");
        if (v->type == CONFIG_INT)
            fprintf(out, " [%lld..%lld]", v->min, v->max);
        fprintf(out, "\n      %s\n", v->help);
    }
    fprintf(out, "  KAFKA_PROP_<NAME>\n      any librdkafka property, e.g. "
                 "KAFKA_PROP_SECURITY_PROTOCOL=SASL_SSL sets security.protocol\n");
}

void config_log(const config_var *vars, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const config_var *v = &vars[i];
        log_info("config %s=%s", v->name, v->secret ? "***" : v->str);
    }
}

int config_each_kafka_prop(int (*fn)(const char *key, const char *value, void *arg), void *arg)
{
    static const char prefix[] = "KAFKA_PROP_";
    for (char **e = environ; e && *e; e++) {
        if (strncmp(*e, prefix, sizeof prefix - 1) != 0)
            continue;
        const char *name = *e + sizeof prefix - 1;
        const char *eq = strchr(name, '=');
        if (!eq || eq == name)
            continue;
        char key[256];
        size_t klen = (size_t)(eq - name);
        if (klen >= sizeof key)
            continue;
        for (size_t i = 0; i < klen; i++)
            key[i] = name[i] == '_' ? '.' : (char)tolower((unsigned char)name[i]);
        key[klen] = '\0';
        int rc = fn(key, eq + 1, arg);
        if (rc)
            return rc;
    }
    return 0;
}
