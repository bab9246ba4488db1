/*
 * avro_resolve: see avro_resolve.h. Walks both schemas in step with their
 * JSON (avro_jschema.h), because libavro keeps neither defaults, aliases nor
 * logical types. Runs once per writer schema id, so it favours clarity.
 */
#include "event/avro_resolve.h"

#include "event/avro_defaults.h"
#include "platform/errfmt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const avjs *wj, *rj;
    size_t nodes;
    char *err;
    size_t errlen;
} rctx;

static avro_schema_t res_deref(avro_schema_t s)
{
    while (s != NULL && is_avro_link(s))
        s = avro_schema_link_target(s);
    return s;
}

static const char *res_unqualified(const char *name)
{
    const char *dot = name != NULL ? strrchr(name, '.') : NULL;
    return dot != NULL ? dot + 1 : (name != NULL ? name : "");
}

static int res_named(avro_type_t t)
{
    return t == AVRO_RECORD || t == AVRO_ENUM || t == AVRO_FIXED;
}

/* "record OrderItem", "array", "int": a type as the reasons name it. */
static const char *res_describe(avro_schema_t s, char *buf, size_t cap)
{
    static const char *const kinds[] = {
        [AVRO_RECORD] = "record", [AVRO_ENUM] = "enum", [AVRO_FIXED] = "fixed",
        [AVRO_ARRAY] = "array",   [AVRO_MAP] = "map",   [AVRO_UNION] = "union"};
    avro_type_t t = avro_typeof(s);
    if (res_named(t))
        snprintf(buf, cap, "%s %s", kinds[t], avro_schema_name(s));
    else if (t == AVRO_ARRAY || t == AVRO_MAP || t == AVRO_UNION)
        snprintf(buf, cap, "%s", kinds[t]);
    else
        snprintf(buf, cap, "%s", avro_schema_type_name(s));
    return buf;
}

/* Named types match by unqualified name, or a reader alias (rn: reader node). */
static int res_names_match(avro_schema_t w, avro_schema_t r, json_t *rn)
{
    const char *wn = res_unqualified(avro_schema_name(w));
    return strcmp(wn, res_unqualified(avro_schema_name(r))) == 0 || avjs_has_alias(rn, wn);
}

/* 2: same type (and name, size); 1: a promotion; 0: no match. Both non-union. */
static int res_match(avro_schema_t w, avro_schema_t r, json_t *rn)
{
    avro_type_t wt = avro_typeof(w), rt = avro_typeof(r);
    if (wt == rt) {
        if (!res_named(wt))
            return 2;
        if (!res_names_match(w, r, rn))
            return 0;
        return wt != AVRO_FIXED || avro_schema_fixed_size(w) == avro_schema_fixed_size(r) ? 2 : 0;
    }
    switch (wt) {
    case AVRO_INT32:
        return rt == AVRO_INT64 || rt == AVRO_FLOAT || rt == AVRO_DOUBLE;
    case AVRO_INT64:
        return rt == AVRO_FLOAT || rt == AVRO_DOUBLE;
    case AVRO_FLOAT:
        return rt == AVRO_DOUBLE;
    case AVRO_STRING:
        return rt == AVRO_BYTES;
    case AVRO_BYTES:
        return rt == AVRO_STRING;
    default:
        return 0;
    }
}

/* The reader union branch writer type w goes to: the first exact match,
 * else the first promotion; -1 if none. */
static int res_pick_branch(rctx *x, avro_schema_t w, avro_schema_t ru, json_t *run)
{
    int best = -1, best_score = 0;
    for (size_t i = 0; i < avro_schema_union_size(ru); i++) {
        avro_schema_t b = res_deref(avro_schema_union_branch(ru, (int)i));
        int score;
        if (b == NULL || is_avro_union(b))
            continue;
        score = res_match(w, b, avjs_node(x->rj, avjs_branch(run, i), b));
        if (score > best_score) {
            best = (int)i;
            best_score = score;
            if (score == 2)
                break;
        }
    }
    return best;
}

static avplan_node *res_node(rctx *x, avplan_op op)
{
    avplan_node *n;
    if (++x->nodes > AVRES_MAX_NODES) {
        errfmt(x->err, x->errlen, "schema needs more than %d plan nodes", AVRES_MAX_NODES);
        return NULL;
    }
    n = avplan_node_new(op);
    if (n == NULL)
        errfmt(x->err, x->errlen, "out of memory");
    return n;
}

static avplan_node *res_pair(rctx *x, avro_schema_t w, json_t *wn, avro_schema_t r, json_t *rn,
                             int depth);

/* Prefixes x->err with "what: ". */
static void res_wrap(rctx *x, const char *a, const char *b)
{
    char inner[256];
    snprintf(inner, sizeof inner, "%s", x->err != NULL && x->errlen > 0 ? x->err : "");
    errfmt(x->err, x->errlen, "%s%s%s: %s", a, b ? "." : "", b ? b : "", inner);
}

static avplan_node *res_enum(rctx *x, avro_schema_t w, avro_schema_t r, json_t *rn)
{
    json_t *def = json_object_get(rn, "default");
    int dflt = -1, nw = avro_schema_enum_number_of_symbols(w);
    avplan_node *n;

    if (def != NULL) {
        dflt = json_is_string(def) ? avro_schema_enum_get_by_name(r, json_string_value(def)) : -1;
        if (dflt < 0) {
            errfmt(x->err, x->errlen, "reader enum %s: default is not one of its symbols",
                   avro_schema_name(r));
            return NULL;
        }
    }
    if ((n = res_node(x, AVPLAN_ENUM)) == NULL)
        return NULL;
    n->wenum = w;
    n->enum_count = nw > 0 ? (size_t)nw : 0;
    n->enum_map = malloc((n->enum_count ? n->enum_count : 1) * sizeof *n->enum_map);
    if (n->enum_map == NULL) {
        avplan_node_free(n);
        errfmt(x->err, x->errlen, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < n->enum_count; i++) {
        int ri = avro_schema_enum_get_by_name(r, avro_schema_enum_get(w, (int)i));
        n->enum_map[i] = ri >= 0 ? ri : dflt;
    }
    return n;
}

/* The writer field reader field rf (JSON rfj) reads: by name, else by alias;
 * -1 if none. */
static int res_writer_field(avro_schema_t w, const char *rname, json_t *rfj)
{
    int k = avro_schema_record_field_get_index(w, rname);
    if (k >= 0)
        return k;
    for (size_t i = 0; i < avro_schema_record_size(w); i++) {
        if (avjs_has_alias(rfj, avro_schema_record_field_name(w, (int)i)))
            return (int)i;
    }
    return -1;
}

static avplan_node *res_record(rctx *x, avro_schema_t w, json_t *wn, avro_schema_t r, json_t *rn,
                               int depth)
{
    size_t nw = avro_schema_record_size(w), nr = avro_schema_record_size(r);
    const char *rname = avro_schema_name(r);
    avplan_node *n = res_node(x, AVPLAN_RECORD);

    if (n == NULL)
        return NULL;
    n->wfields = calloc(nw ? nw : 1, sizeof *n->wfields);
    n->defaults = calloc(nr ? nr : 1, sizeof *n->defaults);
    if (n->wfields == NULL || n->defaults == NULL) {
        errfmt(x->err, x->errlen, "out of memory");
        goto fail;
    }
    n->nwfields = nw;
    for (size_t k = 0; k < nw; k++) {
        n->wfields[k].rfield = -1;
        n->wfields[k].wschema = avro_schema_record_field_get_by_index(w, (int)k);
    }
    for (size_t j = 0; j < nr; j++) {
        const char *fname = avro_schema_record_field_name(r, (int)j);
        avro_schema_t rfs = avro_schema_record_field_get_by_index(r, (int)j);
        json_t *rfj = avjs_field(rn, j, fname);
        json_t *rft = avjs_node(x->rj, json_object_get(rfj, "type"), rfs);
        int k = res_writer_field(w, fname, rfj);
        if (k >= 0 && n->wfields[k].rfield >= 0) {
            errfmt(x->err, x->errlen, "%s.%s and %s.%s both read writer field %s", rname,
                   avro_schema_record_field_name(r, n->wfields[k].rfield), rname, fname,
                   avro_schema_record_field_name(w, k));
            goto fail;
        }
        if (k >= 0) {
            avro_schema_t wfs = avro_schema_record_field_get_by_index(w, k);
            json_t *wfj = avjs_field(wn, (size_t)k, avro_schema_record_field_name(w, k));
            n->wfields[k].rfield = (int)j;
            n->wfields[k].plan =
                res_pair(x, wfs, json_object_get(wfj, "type"), rfs, rft, depth + 1);
            if (n->wfields[k].plan == NULL) {
                res_wrap(x, rname, fname);
                goto fail;
            }
            continue;
        }
        json_t *def = json_object_get(rfj, "default");
        if (def == NULL) {
            errfmt(x->err, x->errlen, "%s.%s is not in the writer schema and has no default", rname,
                   fname);
            goto fail;
        }
        if (avdef_apply(x->rj, def, rfs, rft, NULL, x->err, x->errlen) != 0) {
            res_wrap(x, rname, fname);
            goto fail;
        }
        n->defaults[n->ndefaults++] = (avplan_default){(int)j, rfs, def, rft};
    }
    return n;
fail:
    avplan_node_free(n);
    return NULL;
}

/* A reader decimal needs a writer decimal of the same scale. */
static int res_decimal_ok(rctx *x, json_t *wn, json_t *rn)
{
    int rs = avjs_decimal_scale(rn);
    if (rs == -1)
        return 1;
    if (avjs_decimal_scale(wn) != rs) {
        errfmt(x->err, x->errlen, "reader decimal (scale %d) needs a writer decimal of scale %d",
               rs, rs);
        return 0;
    }
    return 1;
}

/* Both non-union, already followed to their definitions. */
static avplan_node *res_plain(rctx *x, avro_schema_t w, json_t *wn, avro_schema_t r, json_t *rn,
                              int depth)
{
    avro_type_t wt = avro_typeof(w), rt = avro_typeof(r);
    avplan_node *n = NULL;

    if (res_match(w, r, rn) == 0) {
        char a[160], b[160];
        errfmt(x->err, x->errlen, "writer %s cannot be read as %s", res_describe(w, a, sizeof a),
               res_describe(r, b, sizeof b));
        return NULL;
    }
    if ((rt == AVRO_BYTES || rt == AVRO_FIXED) && !res_decimal_ok(x, wn, rn))
        return NULL;
    switch (rt) {
    case AVRO_NULL:
        return res_node(x, AVPLAN_NULL);
    case AVRO_BOOLEAN:
        return res_node(x, AVPLAN_BOOLEAN);
    case AVRO_INT32:
        return res_node(x, AVPLAN_INT);
    case AVRO_INT64:
        return res_node(x, wt == AVRO_INT32 ? AVPLAN_INT_LONG : AVPLAN_LONG);
    case AVRO_FLOAT:
        return res_node(x, wt == AVRO_INT32   ? AVPLAN_INT_FLOAT
                           : wt == AVRO_INT64 ? AVPLAN_LONG_FLOAT
                                              : AVPLAN_FLOAT);
    case AVRO_DOUBLE:
        return res_node(x, wt == AVRO_INT32   ? AVPLAN_INT_DOUBLE
                           : wt == AVRO_INT64 ? AVPLAN_LONG_DOUBLE
                           : wt == AVRO_FLOAT ? AVPLAN_FLOAT_DOUBLE
                                              : AVPLAN_DOUBLE);
    case AVRO_STRING:
        if ((n = res_node(x, AVPLAN_TO_STRING)) != NULL)
            n->from_bytes = wt == AVRO_BYTES;
        return n;
    case AVRO_BYTES:
        return res_node(x, AVPLAN_TO_BYTES);
    case AVRO_FIXED:
        if ((n = res_node(x, AVPLAN_FIXED)) != NULL)
            n->fixed_size = avro_schema_fixed_size(r);
        return n;
    case AVRO_ENUM:
        return res_enum(x, w, r, rn);
    case AVRO_ARRAY:
    case AVRO_MAP:
        if ((n = res_node(x, rt == AVRO_ARRAY ? AVPLAN_ARRAY : AVPLAN_MAP)) == NULL)
            return NULL;
        n->child = rt == AVRO_ARRAY
                       ? res_pair(x, avro_schema_array_items(w), avjs_items(wn),
                                  avro_schema_array_items(r), avjs_items(rn), depth + 1)
                       : res_pair(x, avro_schema_map_values(w), avjs_values(wn),
                                  avro_schema_map_values(r), avjs_values(rn), depth + 1);
        if (n->child == NULL) {
            avplan_node_free(n);
            res_wrap(x, rt == AVRO_ARRAY ? "array items" : "map values", NULL);
            return NULL;
        }
        return n;
    case AVRO_RECORD:
        return res_record(x, w, wn, r, rn, depth);
    default:
        errfmt(x->err, x->errlen, "unsupported reader type %s", avro_schema_type_name(r));
        return NULL;
    }
}

/* Writer branch w of a writer union against reader r: the plan, or a FAIL
 * node when no reader type takes it (*fits 0). NULL only on a real failure. */
static avplan_node *res_wbranch(rctx *x, avro_schema_t w, json_t *wn, avro_schema_t r, json_t *rn,
                                int depth, int *fits)
{
    avro_schema_t wd = res_deref(w), rd = res_deref(r);
    int ok;
    avplan_node *n;

    if (wd == NULL || rd == NULL || is_avro_union(wd)) {
        errfmt(x->err, x->errlen, "invalid writer union branch");
        return NULL;
    }
    if (is_avro_union(rd))
        ok = res_pick_branch(x, wd, rd, rn) >= 0;
    else
        ok = res_match(wd, rd, avjs_node(x->rj, rn, rd)) != 0;
    if (ok) {
        *fits = 1;
        return res_pair(x, w, wn, r, rn, depth);
    }
    *fits = 0;
    if ((n = res_node(x, AVPLAN_FAIL)) == NULL)
        return NULL;
    char why[200], what[160];
    snprintf(why, sizeof why, "writer union branch %s is unknown to the reader",
             res_describe(wd, what, sizeof what));
    if ((n->why = strdup(why)) == NULL) {
        avplan_node_free(n);
        errfmt(x->err, x->errlen, "out of memory");
        return NULL;
    }
    return n;
}

static avplan_node *res_pair(rctx *x, avro_schema_t w, json_t *wn, avro_schema_t r, json_t *rn,
                             int depth)
{
    avplan_node *n;
    int b;

    if (depth > AVRES_MAX_DEPTH) {
        errfmt(x->err, x->errlen, "schema nested deeper than %d (recursive?)", AVRES_MAX_DEPTH);
        return NULL;
    }
    w = res_deref(w);
    r = res_deref(r);
    if (w == NULL || r == NULL) {
        errfmt(x->err, x->errlen, "dangling schema reference");
        return NULL;
    }
    wn = avjs_node(x->wj, wn, w);
    rn = avjs_node(x->rj, rn, r);
    if (is_avro_union(w)) {
        size_t nb = avro_schema_union_size(w);
        int any = 0;
        if ((n = res_node(x, AVPLAN_UNION)) == NULL)
            return NULL;
        n->branches = calloc(nb ? nb : 1, sizeof *n->branches);
        if (n->branches == NULL) {
            avplan_node_free(n);
            errfmt(x->err, x->errlen, "out of memory");
            return NULL;
        }
        n->nbranches = nb;
        for (size_t i = 0; i < nb; i++) {
            int fits = 0;
            n->branches[i] = res_wbranch(x, avro_schema_union_branch(w, (int)i), avjs_branch(wn, i),
                                         r, rn, depth + 1, &fits);
            if (n->branches[i] == NULL) {
                avplan_node_free(n);
                return NULL;
            }
            any |= fits;
        }
        if (!any) {
            avplan_node_free(n);
            errfmt(x->err, x->errlen, "no writer union branch fits the reader");
            return NULL;
        }
        return n;
    }
    if (is_avro_union(r)) {
        b = res_pick_branch(x, w, r, rn);
        if (b < 0) {
            char what[160];
            errfmt(x->err, x->errlen, "writer %s fits no reader union branch",
                   res_describe(w, what, sizeof what));
            return NULL;
        }
        avro_schema_t rb = avro_schema_union_branch(r, b);
        n = res_pair(x, w, wn, rb, avjs_branch(rn, (size_t)b), depth + 1);
        if (n != NULL)
            n->rbranch = b;
        return n;
    }
    return res_plain(x, w, wn, r, rn, depth);
}

avplan *avres_compile(avro_schema_t w, const avjs *wj, avro_schema_t r, const avjs *rj, char *err,
                      size_t errlen)
{
    rctx x = {wj, rj, 0, err, errlen};
    avplan *p = calloc(1, sizeof *p);

    if (p == NULL) {
        errfmt(err, errlen, "out of memory");
        return NULL;
    }
    p->rj = rj;
    p->root = res_pair(&x, w, avjs_root(wj), r, avjs_root(rj), 0);
    if (p->root == NULL) {
        free(p);
        return NULL;
    }
    return p;
}
