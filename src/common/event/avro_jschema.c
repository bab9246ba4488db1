/*
 * avro_jschema: see avro_jschema.h. Built once per schema; lookups are a
 * linear scan of the named types, which schemas have few of (and the
 * resolver bounds how many nodes it visits).
 */
#include "event/avro_jschema.h"

#include "platform/errfmt.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    avro_schema_t schema;
    json_t *node;
} named;

struct avjs {
    json_t *root;
    named *names;
    size_t count, cap;
};

static avro_schema_t js_deref(avro_schema_t s)
{
    while (s != NULL && is_avro_link(s))
        s = avro_schema_link_target(s);
    return s;
}

static int js_keyword(const char *t)
{
    static const char *const kw[] = {"null",   "boolean", "int",    "long",   "float",
                                     "double", "bytes",   "string", "record", "error",
                                     "enum",   "array",   "map",    "fixed"};
    for (size_t i = 0; i < sizeof kw / sizeof kw[0]; i++) {
        if (strcmp(t, kw[i]) == 0)
            return 1;
    }
    return 0;
}

static json_t *js_lookup(const avjs *j, avro_schema_t s)
{
    s = js_deref(s);
    for (size_t i = 0; i < j->count; i++) {
        if (j->names[i].schema == s)
            return j->names[i].node;
    }
    return NULL;
}

static int js_add(avjs *j, avro_schema_t s, json_t *node)
{
    if (js_lookup(j, s) != NULL)
        return 0;
    if (j->count == j->cap) {
        size_t cap = j->cap ? j->cap * 2 : 8;
        named *n = realloc(j->names, cap * sizeof *n);
        if (n == NULL)
            return -1;
        j->names = n;
        j->cap = cap;
    }
    j->names[j->count].schema = s;
    j->names[j->count].node = node;
    j->count++;
    return 0;
}

/* Records every named definition in document order, in step with libavro. */
static int js_index(avjs *j, avro_schema_t s, json_t *node, int depth)
{
    json_t *t;

    s = js_deref(s);
    if (depth > AVJS_MAX_DEPTH || s == NULL || node == NULL)
        return 0;
    if (json_is_array(node)) {
        if (!is_avro_union(s))
            return 0;
        for (size_t i = 0; i < json_array_size(node) && i < avro_schema_union_size(s); i++) {
            if (js_index(j, avro_schema_union_branch(s, (int)i), json_array_get(node, i),
                         depth + 1) != 0)
                return -1;
        }
        return 0;
    }
    t = json_object_get(node, "type");
    if (!json_is_string(t))
        return 0;
    if (is_avro_record(s)) {
        if (js_add(j, s, node) != 0)
            return -1;
        for (size_t i = 0; i < avro_schema_record_size(s); i++) {
            json_t *f = avjs_field(node, i, avro_schema_record_field_name(s, (int)i));
            if (f != NULL && js_index(j, avro_schema_record_field_get_by_index(s, (int)i),
                                      json_object_get(f, "type"), depth + 1) != 0)
                return -1;
        }
        return 0;
    }
    if (is_avro_enum(s) || is_avro_fixed(s))
        return js_add(j, s, node);
    if (is_avro_array(s))
        return js_index(j, avro_schema_array_items(s), json_object_get(node, "items"), depth + 1);
    if (is_avro_map(s))
        return js_index(j, avro_schema_map_values(s), json_object_get(node, "values"), depth + 1);
    return 0;
}

avjs *avjs_new(avro_schema_t schema, const char *json, char *err, size_t errlen)
{
    json_error_t jerr;
    avjs *j = calloc(1, sizeof *j);

    if (j == NULL) {
        errfmt(err, errlen, "out of memory");
        return NULL;
    }
    j->root = json_loads(json, JSON_DECODE_ANY, &jerr);
    if (j->root == NULL) {
        errfmt(err, errlen, "schema JSON: %s", jerr.text);
        avjs_free(j);
        return NULL;
    }
    if (js_index(j, schema, j->root, 0) != 0) {
        errfmt(err, errlen, "out of memory");
        avjs_free(j);
        return NULL;
    }
    return j;
}

void avjs_free(avjs *j)
{
    if (j == NULL)
        return;
    json_decref(j->root);
    free(j->names);
    free(j);
}

json_t *avjs_root(const avjs *j)
{
    return j != NULL ? j->root : NULL;
}

json_t *avjs_node(const avjs *j, json_t *node, avro_schema_t s)
{
    json_t *t;
    if (j == NULL || node == NULL)
        return NULL;
    if (json_is_string(node))
        return js_keyword(json_string_value(node)) ? node : js_lookup(j, s);
    if (json_is_object(node)) {
        t = json_object_get(node, "type");
        if (!json_is_string(t))
            return NULL;
        /* {"type": "OrderItem"}: a reference in object form */
        return js_keyword(json_string_value(t)) ? node : js_lookup(j, s);
    }
    return json_is_array(node) ? node : NULL;
}

json_t *avjs_field(json_t *rec, size_t i, const char *name)
{
    json_t *f = json_array_get(json_object_get(rec, "fields"), i);
    json_t *n = json_object_get(f, "name");
    if (!json_is_object(f) || !json_is_string(n) || name == NULL ||
        strcmp(json_string_value(n), name) != 0)
        return NULL;
    return f;
}

json_t *avjs_items(json_t *node)
{
    return json_object_get(node, "items");
}

json_t *avjs_values(json_t *node)
{
    return json_object_get(node, "values");
}

json_t *avjs_branch(json_t *node, size_t i)
{
    return json_array_get(node, i);
}

/* "a.b.Name" -> "Name" */
static const char *js_unqualified(const char *name)
{
    const char *dot = strrchr(name, '.');
    return dot != NULL ? dot + 1 : name;
}

int avjs_has_alias(json_t *obj, const char *name)
{
    json_t *aliases = json_object_get(obj, "aliases"), *a;
    size_t i;
    if (name == NULL)
        return 0;
    json_array_foreach(aliases, i, a)
    {
        if (json_is_string(a) &&
            strcmp(js_unqualified(json_string_value(a)), js_unqualified(name)) == 0)
            return 1;
    }
    return 0;
}

int avjs_decimal_scale(json_t *node)
{
    json_t *lt = json_object_get(node, "logicalType");
    json_t *sc = json_object_get(node, "scale");
    if (!json_is_string(lt) || strcmp(json_string_value(lt), "decimal") != 0)
        return -1;
    if (sc == NULL)
        return 0;
    return json_is_integer(sc) && json_integer_value(sc) >= 0 && json_integer_value(sc) < 1000
               ? (int)json_integer_value(sc)
               : -2;
}
