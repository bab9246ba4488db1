/*
 * avro_plan: see avro_plan.h. Recursive over the plan (bounded by
 * AVPLAN_MAX_DEPTH, and a plan is a tree no deeper than the resolver
 * allowed), iterative over the bytes.
 */
#include "event/avro_plan.h"

#include "event/avro_defaults.h"
#include "event/avro_walk.h"

#include <stdlib.h>
#include <string.h>

#define cfail codec_fail

typedef struct {
    const uint8_t *start, *p, *end;
    const avplan *plan;
    avplan_scratch *scratch;
    char *err;
    size_t errlen;
} cursor;

avplan_node *avplan_node_new(avplan_op op)
{
    avplan_node *n = calloc(1, sizeof *n);
    if (n != NULL) {
        n->op = op;
        n->rbranch = -1;
    }
    return n;
}

void avplan_node_free(avplan_node *n)
{
    if (n == NULL)
        return;
    avplan_node_free(n->child);
    for (size_t i = 0; i < n->nwfields; i++)
        avplan_node_free(n->wfields[i].plan);
    for (size_t i = 0; i < n->nbranches; i++)
        avplan_node_free(n->branches[i]);
    free(n->wfields);
    free(n->defaults);
    free(n->branches);
    free(n->enum_map);
    free(n->why);
    free(n);
}

void avplan_free(avplan *p)
{
    if (p == NULL)
        return;
    avplan_node_free(p->root);
    free(p);
}

void avplan_scratch_free(avplan_scratch *s)
{
    free(s->buf);
    s->buf = NULL;
    s->cap = 0;
}

static codec_status malformed(cursor *c, const char *what)
{
    return cfail(CODEC_ERR_MALFORMED, c->err, c->errlen, "%s at byte %zu", what,
                 (size_t)(c->p - c->start));
}

static codec_status avfail(cursor *c, const char *what)
{
    return cfail(CODEC_ERR_INTERNAL, c->err, c->errlen, "%s: %s", what, avro_strerror());
}

static codec_status rd_long(cursor *c, int64_t *out)
{
    uint64_t v = 0;
    for (int i = 0; i < 10; i++) {
        uint8_t b;
        if (c->p >= c->end)
            return malformed(c, "truncated varint");
        b = *c->p++;
        if (i == 9 && (b & 0xfe) != 0)
            return malformed(c, "varint overflows a long");
        v |= (uint64_t)(b & 0x7f) << (7 * i);
        if ((b & 0x80) == 0) {
            *out = (int64_t)((v >> 1) ^ ((uint64_t)0 - (v & 1)));
            return CODEC_OK;
        }
    }
    return malformed(c, "varint too long");
}

static codec_status rd_int(cursor *c, int32_t *out)
{
    int64_t v;
    codec_status st = rd_long(c, &v);
    if (st != CODEC_OK)
        return st;
    if (v < INT32_MIN || v > INT32_MAX)
        return malformed(c, "int out of range");
    *out = (int32_t)v;
    return CODEC_OK;
}

/* A length-prefixed run: *p at its bytes, *n its size, inside the buffer. */
static codec_status rd_run(cursor *c, const uint8_t **p, size_t *n)
{
    int64_t len;
    codec_status st = rd_long(c, &len);
    if (st != CODEC_OK)
        return st;
    if (len < 0 || (uint64_t)len > (size_t)(c->end - c->p))
        return malformed(c, "length runs past the end");
    *p = c->p;
    *n = (size_t)len;
    c->p += len;
    return CODEC_OK;
}

static codec_status rd_fixed(cursor *c, size_t n, uint8_t *out)
{
    if (n > (size_t)(c->end - c->p))
        return malformed(c, "truncated value");
    memcpy(out, c->p, n);
    c->p += n;
    return CODEC_OK;
}

/* s[0..n) NUL-terminated in the scratch buffer. */
static const char *terminated(cursor *c, const uint8_t *s, size_t n)
{
    avplan_scratch *sc = c->scratch;
    if (n + 1 > sc->cap) {
        char *b = realloc(sc->buf, n + 1);
        if (b == NULL)
            return NULL;
        sc->buf = b;
        sc->cap = n + 1;
    }
    if (n > 0)
        memcpy(sc->buf, s, n);
    sc->buf[n] = '\0';
    return sc->buf;
}

static codec_status run(cursor *c, const avplan_node *n, avro_value_t *dst, int depth);

static codec_status run_blocks(cursor *c, const avplan_node *n, avro_value_t *dst, int depth)
{
    for (;;) {
        int64_t count, size;
        codec_status st = rd_long(c, &count);
        if (st != CODEC_OK)
            return st;
        if (count == 0)
            return CODEC_OK;
        if (count < 0) {
            if (count == INT64_MIN)
                return malformed(c, "invalid block count");
            count = -count;
            if ((st = rd_long(c, &size)) != CODEC_OK)
                return st;
        }
        if ((uint64_t)count > (size_t)(c->end - c->p))
            return malformed(c, "block count runs past the end");
        for (int64_t i = 0; i < count; i++) {
            avro_value_t child;
            if (n->op == AVPLAN_MAP) {
                const uint8_t *k;
                size_t kn;
                const char *key;
                if ((st = rd_run(c, &k, &kn)) != CODEC_OK)
                    return st;
                if ((key = terminated(c, k, kn)) == NULL)
                    return cfail(CODEC_ERR_INTERNAL, c->err, c->errlen, "out of memory");
                if (avro_value_add(dst, key, &child, NULL, NULL) != 0)
                    return avfail(c, "map");
            } else if (avro_value_append(dst, &child, NULL) != 0) {
                return avfail(c, "array");
            }
            if ((st = run(c, n->child, &child, depth + 1)) != CODEC_OK)
                return st;
        }
    }
}

static codec_status run_record(cursor *c, const avplan_node *n, avro_value_t *dst, int depth)
{
    codec_status st;
    avro_value_t child;

    for (size_t i = 0; i < n->nwfields; i++) {
        const avplan_wfield *f = &n->wfields[i];
        if (f->rfield < 0) {
            size_t used = 0;
            char why[160];
            if (avwalk_value(f->wschema, c->p, (size_t)(c->end - c->p), &used, why, sizeof why) !=
                0)
                return malformed(c, why);
            c->p += used;
            continue;
        }
        if (avro_value_get_by_index(dst, (size_t)f->rfield, &child, NULL) != 0)
            return avfail(c, "record field");
        if ((st = run(c, f->plan, &child, depth + 1)) != CODEC_OK)
            return st;
    }
    for (size_t i = 0; i < n->ndefaults; i++) {
        const avplan_default *d = &n->defaults[i];
        char why[160];
        if (avro_value_get_by_index(dst, (size_t)d->rfield, &child, NULL) != 0)
            return avfail(c, "record field");
        if (avdef_apply(c->plan->rj, d->def, d->rschema, d->node, &child, why, sizeof why) != 0)
            return cfail(CODEC_ERR_INTERNAL, c->err, c->errlen, "%s", why);
    }
    return CODEC_OK;
}

static codec_status run_scalar(cursor *c, const avplan_node *n, avro_value_t *dst)
{
    codec_status st = CODEC_OK;
    int32_t i32;
    int64_t i64;
    float f;
    double d;
    uint8_t raw[8];
    int rc = 0;

    switch (n->op) {
    case AVPLAN_NULL:
        rc = avro_value_set_null(dst);
        break;
    case AVPLAN_BOOLEAN:
        if ((st = rd_fixed(c, 1, raw)) == CODEC_OK) {
            if (raw[0] > 1)
                return malformed(c, "boolean byte not 0 or 1");
            rc = avro_value_set_boolean(dst, raw[0]);
        }
        break;
    case AVPLAN_INT:
    case AVPLAN_INT_LONG:
    case AVPLAN_INT_FLOAT:
    case AVPLAN_INT_DOUBLE:
        if ((st = rd_int(c, &i32)) != CODEC_OK)
            return st;
        rc = n->op == AVPLAN_INT         ? avro_value_set_int(dst, i32)
             : n->op == AVPLAN_INT_LONG  ? avro_value_set_long(dst, i32)
             : n->op == AVPLAN_INT_FLOAT ? avro_value_set_float(dst, (float)i32)
                                         : avro_value_set_double(dst, i32);
        break;
    case AVPLAN_LONG:
    case AVPLAN_LONG_FLOAT:
    case AVPLAN_LONG_DOUBLE:
        if ((st = rd_long(c, &i64)) != CODEC_OK)
            return st;
        rc = n->op == AVPLAN_LONG         ? avro_value_set_long(dst, i64)
             : n->op == AVPLAN_LONG_FLOAT ? avro_value_set_float(dst, (float)i64)
                                          : avro_value_set_double(dst, (double)i64);
        break;
    case AVPLAN_FLOAT:
    case AVPLAN_FLOAT_DOUBLE:
        if ((st = rd_fixed(c, 4, raw)) != CODEC_OK)
            return st;
        {
            uint32_t u = (uint32_t)raw[0] | (uint32_t)raw[1] << 8 | (uint32_t)raw[2] << 16 |
                         (uint32_t)raw[3] << 24;
            memcpy(&f, &u, sizeof f);
        }
        rc = n->op == AVPLAN_FLOAT ? avro_value_set_float(dst, f)
                                   : avro_value_set_double(dst, (double)f);
        break;
    case AVPLAN_DOUBLE:
        if ((st = rd_fixed(c, 8, raw)) != CODEC_OK)
            return st;
        {
            uint64_t u = 0;
            for (int k = 7; k >= 0; k--)
                u = u << 8 | raw[k];
            memcpy(&d, &u, sizeof d);
        }
        rc = avro_value_set_double(dst, d);
        break;
    default:
        return cfail(CODEC_ERR_INTERNAL, c->err, c->errlen, "plan op %d is not a scalar",
                     (int)n->op);
    }
    if (st != CODEC_OK)
        return st;
    return rc == 0 ? CODEC_OK : avfail(c, "value");
}

static codec_status run_bytes(cursor *c, const avplan_node *n, avro_value_t *dst)
{
    const uint8_t *p;
    size_t len;
    codec_status st;

    if (n->op == AVPLAN_FIXED) {
        if (n->fixed_size < 0 || (uint64_t)n->fixed_size > (size_t)(c->end - c->p))
            return malformed(c, "truncated fixed");
        p = c->p;
        c->p += n->fixed_size;
        return avro_value_set_fixed(dst, (void *)p, (size_t)n->fixed_size) == 0
                   ? CODEC_OK
                   : avfail(c, "fixed");
    }
    if ((st = rd_run(c, &p, &len)) != CODEC_OK)
        return st;
    if (n->op == AVPLAN_TO_BYTES)
        return avro_value_set_bytes(dst, (void *)p, len) == 0 ? CODEC_OK : avfail(c, "bytes");
    if (n->from_bytes && !avwalk_utf8_valid(p, len))
        return malformed(c, "bytes read as a string are not UTF-8");
    const char *s = terminated(c, p, len);
    if (s == NULL)
        return cfail(CODEC_ERR_INTERNAL, c->err, c->errlen, "out of memory");
    /* libavro's string size counts the terminating NUL */
    return avro_value_set_string_len(dst, s, len + 1) == 0 ? CODEC_OK : avfail(c, "string");
}

static codec_status run(cursor *c, const avplan_node *n, avro_value_t *dst, int depth)
{
    avro_value_t branch;
    int64_t v;
    codec_status st;

    if (depth > AVPLAN_MAX_DEPTH)
        return malformed(c, "nested too deep");
    if (n == NULL)
        return cfail(CODEC_ERR_INTERNAL, c->err, c->errlen, "empty plan");
    if (n->rbranch >= 0) {
        if (avro_value_set_branch(dst, n->rbranch, &branch) != 0)
            return avfail(c, "union branch");
        dst = &branch;
    }
    switch (n->op) {
    case AVPLAN_TO_STRING:
    case AVPLAN_TO_BYTES:
    case AVPLAN_FIXED:
        return run_bytes(c, n, dst);
    case AVPLAN_ENUM:
        if ((st = rd_long(c, &v)) != CODEC_OK)
            return st;
        if (v < 0 || (uint64_t)v >= n->enum_count)
            return malformed(c, "enum index out of range");
        if (n->enum_map[v] < 0)
            return cfail(CODEC_ERR_INCOMPATIBLE, c->err, c->errlen,
                         "%s symbol %s is unknown to the reader (no enum default)",
                         avro_schema_name(n->wenum), avro_schema_enum_get(n->wenum, (int)v));
        return avro_value_set_enum(dst, n->enum_map[v]) == 0 ? CODEC_OK : avfail(c, "enum");
    case AVPLAN_ARRAY:
    case AVPLAN_MAP:
        return run_blocks(c, n, dst, depth);
    case AVPLAN_RECORD:
        return run_record(c, n, dst, depth);
    case AVPLAN_UNION:
        if ((st = rd_long(c, &v)) != CODEC_OK)
            return st;
        if (v < 0 || (uint64_t)v >= n->nbranches)
            return malformed(c, "union index out of range");
        return run(c, n->branches[v], dst, depth + 1);
    case AVPLAN_FAIL:
        return cfail(CODEC_ERR_INCOMPATIBLE, c->err, c->errlen, "%s",
                     n->why != NULL ? n->why : "writer branch unknown to the reader");
    default:
        return run_scalar(c, n, dst);
    }
}

codec_status avplan_read(const avplan *p, const uint8_t *buf, size_t len, avro_value_t *dst,
                         avplan_scratch *s, char *err, size_t errlen)
{
    cursor c = {buf, buf, buf + len, p, s, err, errlen};
    codec_status st;

    if (p == NULL || dst == NULL || s == NULL || (buf == NULL && len != 0))
        return cfail(CODEC_ERR_INTERNAL, err, errlen, "bad argument");
    if ((st = run(&c, p->root, dst, 0)) != CODEC_OK)
        return st;
    if (c.p != c.end)
        return malformed(&c, "trailing bytes after the datum");
    return CODEC_OK;
}
