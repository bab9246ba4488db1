/*
 * avro_defaults: a reader field's JSON "default" as an Avro value.
 *
 * Why: schema resolution fills a reader field the writer lacks with its
 * default, and libavro 1.11 neither keeps nor applies defaults. A default is
 * JSON typed by the field's schema as the Avro specification says: bytes and
 * fixed are strings of code points 0..255, an enum is a symbol, a record an
 * object (members it omits take that field's own default), a union the first
 * branch's type. The resolver checks each default it may use once, when it
 * compiles a plan (dst NULL), so applying it per event cannot fail on the
 * JSON, only on memory.
 */
#ifndef AVRO_DEFAULTS_H
#define AVRO_DEFAULTS_H

#include "event/avro_jschema.h"

#include <avro.h>
#include <jansson.h>
#include <stddef.h>

#define AVDEF_MAX_DEPTH 32

/*
 * Checks (dst NULL) or stores (dst a value of schema s) the default def.
 * node is the JSON node of s in the reader schema rj (for nested records'
 * field defaults; may be NULL). 0, or -1 + err.
 */
int avdef_apply(const avjs *rj, json_t *def, avro_schema_t s, json_t *node, avro_value_t *dst,
                char *err, size_t errlen);

#endif
