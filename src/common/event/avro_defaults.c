/*
 * avro_defaults: see avro_defaults.h. One recursive function serves both the
 * check and the store, so what was checked is exactly what is stored.
 */
#include "event/avro_defaults.h"

#include "platform/errfmt.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static avro_schema_t def_deref(avro_schema_t s)
{
    while (s != NULL && is_avro_link(s))
        s = avro_schema_link_target(s);
    return s;
}

/* A JSON string of code points 0..255 (UTF-8 in jansson) as bytes into out
 * (at least strlen bytes); returns the byte count or -1. */
static long def_latin1(const char *s, size_t n, uint8_t *out)
{
    size_t i = 0, k = 0;
    while (i < n) {
        uint8_t c = (uint8_t)s[i];
        if (c < 0x80) {
            out[k++] = c;
            i++;
        } else if ((c == 0xc2 || c == 0xc3) && i + 1 < n && ((uint8_t)s[i + 1] & 0xc0) == 0x80) {
            out[k++] = (uint8_t)(((c & 0x03) << 6) | ((uint8_t)s[i + 1] & 0x3f));
            i += 2;
        } else {
            return -1;
        }
    }
    return (long)k;
}

static int def_bytes(json_t *def, avro_schema_t s, avro_value_t *dst, char *err, size_t errlen)
{
    uint8_t small[256], *buf = small;
    size_t n;
    long k;
    int rc = 0;

    if (!json_is_string(def))
        return errfmt(err, errlen, "default of a %s is not a string", avro_schema_type_name(s));
    n = json_string_length(def);
    if (n > sizeof small && (buf = malloc(n)) == NULL)
        return errfmt(err, errlen, "out of memory");
    k = def_latin1(json_string_value(def), n, buf);
    if (k < 0)
        rc = errfmt(err, errlen, "default of a %s has a code point above 255",
                    avro_schema_type_name(s));
    else if (is_avro_fixed(s) && k != avro_schema_fixed_size(s))
        rc = errfmt(err, errlen, "default of fixed %s has %ld bytes, not %lld", avro_schema_name(s),
                    k, (long long)avro_schema_fixed_size(s));
    else if (dst != NULL && (is_avro_fixed(s) ? avro_value_set_fixed(dst, buf, (size_t)k)
                                              : avro_value_set_bytes(dst, buf, (size_t)k)) != 0)
        rc = errfmt(err, errlen, "default: %s", avro_strerror());
    if (buf != small)
        free(buf);
    return rc;
}

static int def_value(const avjs *rj, json_t *def, avro_schema_t s, json_t *node, avro_value_t *dst,
                     int depth, char *err, size_t errlen);

static int def_record(const avjs *rj, json_t *def, avro_schema_t s, json_t *node, avro_value_t *dst,
                      int depth, char *err, size_t errlen)
{
    if (!json_is_object(def))
        return errfmt(err, errlen, "default of record %s is not an object", avro_schema_name(s));
    for (size_t i = 0; i < avro_schema_record_size(s); i++) {
        const char *name = avro_schema_record_field_name(s, (int)i);
        avro_schema_t fs = avro_schema_record_field_get_by_index(s, (int)i);
        json_t *f = avjs_field(node, i, name);
        json_t *v = json_object_get(def, name);
        avro_value_t child;
        if (v == NULL)
            v = json_object_get(f, "default");
        if (v == NULL)
            return errfmt(err, errlen, "default of record %s lacks field %s", avro_schema_name(s),
                          name);
        if (dst != NULL && avro_value_get_by_index(dst, i, &child, NULL) != 0)
            return errfmt(err, errlen, "default: %s", avro_strerror());
        if (def_value(rj, v, fs, avjs_node(rj, json_object_get(f, "type"), fs),
                      dst != NULL ? &child : NULL, depth + 1, err, errlen) != 0)
            return -1;
    }
    return 0;
}

static int def_container(const avjs *rj, json_t *def, avro_schema_t s, json_t *node,
                         avro_value_t *dst, int depth, char *err, size_t errlen)
{
    avro_value_t child;
    json_t *v;

    if (is_avro_array(s)) {
        avro_schema_t is = avro_schema_array_items(s);
        json_t *in = avjs_node(rj, avjs_items(node), is);
        size_t i;
        if (!json_is_array(def))
            return errfmt(err, errlen, "default of an array is not a JSON array");
        json_array_foreach(def, i, v)
        {
            if (dst != NULL && avro_value_append(dst, &child, NULL) != 0)
                return errfmt(err, errlen, "default: %s", avro_strerror());
            if (def_value(rj, v, is, in, dst != NULL ? &child : NULL, depth + 1, err, errlen) != 0)
                return -1;
        }
        return 0;
    }
    avro_schema_t vs = avro_schema_map_values(s);
    json_t *vn = avjs_node(rj, avjs_values(node), vs);
    const char *key;
    if (!json_is_object(def))
        return errfmt(err, errlen, "default of a map is not a JSON object");
    json_object_foreach(def, key, v)
    {
        if (dst != NULL && avro_value_add(dst, key, &child, NULL, NULL) != 0)
            return errfmt(err, errlen, "default: %s", avro_strerror());
        if (def_value(rj, v, vs, vn, dst != NULL ? &child : NULL, depth + 1, err, errlen) != 0)
            return -1;
    }
    return 0;
}

static int def_value(const avjs *rj, json_t *def, avro_schema_t s, json_t *node, avro_value_t *dst,
                     int depth, char *err, size_t errlen)
{
    int rc = 0;

    s = def_deref(s);
    if (s == NULL)
        return errfmt(err, errlen, "default of an unknown type");
    if (depth > AVDEF_MAX_DEPTH)
        return errfmt(err, errlen, "default nested deeper than %d", AVDEF_MAX_DEPTH);
    switch (avro_typeof(s)) {
    case AVRO_NULL:
        if (!json_is_null(def))
            return errfmt(err, errlen, "default of a null is not null");
        rc = dst != NULL ? avro_value_set_null(dst) : 0;
        break;
    case AVRO_BOOLEAN:
        if (!json_is_boolean(def))
            return errfmt(err, errlen, "default of a boolean is not true/false");
        rc = dst != NULL ? avro_value_set_boolean(dst, json_is_true(def)) : 0;
        break;
    case AVRO_INT32:
        if (!json_is_integer(def) || json_integer_value(def) < INT32_MIN ||
            json_integer_value(def) > INT32_MAX)
            return errfmt(err, errlen, "default of an int is not a 32-bit integer");
        rc = dst != NULL ? avro_value_set_int(dst, (int32_t)json_integer_value(def)) : 0;
        break;
    case AVRO_INT64:
        if (!json_is_integer(def))
            return errfmt(err, errlen, "default of a long is not an integer");
        rc = dst != NULL ? avro_value_set_long(dst, (int64_t)json_integer_value(def)) : 0;
        break;
    case AVRO_FLOAT:
    case AVRO_DOUBLE:
        if (!json_is_number(def))
            return errfmt(err, errlen, "default of a %s is not a number", avro_schema_type_name(s));
        if (dst != NULL)
            rc = is_avro_float(s) ? avro_value_set_float(dst, (float)json_number_value(def))
                                  : avro_value_set_double(dst, json_number_value(def));
        break;
    case AVRO_STRING:
        if (!json_is_string(def))
            return errfmt(err, errlen, "default of a string is not a string");
        /* jansson strings are NUL-terminated; libavro counts the NUL */
        rc = dst != NULL ? avro_value_set_string_len(dst, json_string_value(def),
                                                     json_string_length(def) + 1)
                         : 0;
        break;
    case AVRO_BYTES:
    case AVRO_FIXED:
        return def_bytes(def, s, dst, err, errlen);
    case AVRO_ENUM: {
        int sym =
            json_is_string(def) ? avro_schema_enum_get_by_name(s, json_string_value(def)) : -1;
        if (sym < 0)
            return errfmt(err, errlen, "default of enum %s is not one of its symbols",
                          avro_schema_name(s));
        rc = dst != NULL ? avro_value_set_enum(dst, sym) : 0;
        break;
    }
    case AVRO_RECORD:
        return def_record(rj, def, s, node, dst, depth, err, errlen);
    case AVRO_ARRAY:
    case AVRO_MAP:
        return def_container(rj, def, s, node, dst, depth, err, errlen);
    case AVRO_UNION: {
        avro_schema_t b = avro_schema_union_branch(s, 0);
        avro_value_t branch;
        if (b == NULL)
            return errfmt(err, errlen, "default of an empty union");
        if (dst != NULL && avro_value_set_branch(dst, 0, &branch) != 0)
            return errfmt(err, errlen, "default: %s", avro_strerror());
        return def_value(rj, def, b, avjs_node(rj, avjs_branch(node, 0), b),
                         dst != NULL ? &branch : NULL, depth + 1, err, errlen);
    }
    default:
        return errfmt(err, errlen, "default of unsupported type %s", avro_schema_type_name(s));
    }
    if (rc != 0)
        return errfmt(err, errlen, "default: %s", avro_strerror());
    return 0;
}

int avdef_apply(const avjs *rj, json_t *def, avro_schema_t s, json_t *node, avro_value_t *dst,
                char *err, size_t errlen)
{
    if (def == NULL)
        return errfmt(err, errlen, "no default");
    return def_value(rj, def, s, node, dst, 0, err, errlen);
}
