/*
 * config: settings from environment variables, described in one table per
 * service so that --help, validation and the README stay the same list.
 *
 * A service declares `config_var vars[]`; config_load() reads each from the
 * environment (or its default), validates integers against [min, max], and
 * reports the first bad value with the variable name. Values stay valid for
 * the life of the process.
 */
#ifndef CONFIG_H
#define CONFIG_H

#include <stddef.h>
#include <stdio.h>

typedef enum { CONFIG_STR, CONFIG_INT } config_type;

typedef struct {
    const char *name; /* environment variable */
    config_type type;
    const char *def;    /* default, as text */
    long long min, max; /* CONFIG_INT bounds */
    int secret;         /* never printed */
    const char *help;
    /* filled by config_load */
    const char *str;
    long long num;
} config_var;

/*
 * The value of a CONFIG_INT whose default is "auto" while it is "auto": the
 * service decides at run time (e.g. from the size of the Kafka cluster), so
 * the bounds apply only to numbers given explicitly.
 */
#define CONFIG_AUTO (-1LL)

/* Returns 0, or -1 with "NAME: reason" in err. */
int config_load(config_var *vars, size_t n, char *err, size_t errlen);
/* Lookup by name; aborts nothing: NULL / 0 if absent (a programming error). */
const char *config_str(const config_var *vars, size_t n, const char *name);
long long config_int(const config_var *vars, size_t n, const char *name);
/* Prints "NAME (default: X)\n    help" lines for --help. */
void config_print_help(FILE *out, const config_var *vars, size_t n);
/* Logs the effective settings (secrets masked) at info level. */
void config_log(const config_var *vars, size_t n);

/*
 * Extra librdkafka properties: every environment variable KAFKA_PROP_<NAME>
 * sets <name> with '_' turned into '.', lower-cased (KAFKA_PROP_SASL_MECHANISMS
 * -> sasl.mechanisms). Calls fn(key, value, arg) for each; stops at the first
 * non-zero return and returns it.
 */
int config_each_kafka_prop(int (*fn)(const char *key, const char *value, void *arg), void *arg);

#endif
