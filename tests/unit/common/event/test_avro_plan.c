/*
 * test_avro_plan: the resolver's rules one by one (avro_resolve.c compiles,
 * avro_plan.c reads) on a small schema pair that is not the contract:
 * numeric and string/bytes promotions, a writer union read as a reordered
 * reader union, a writer int read into a reader union by promotion, enum
 * symbols by name with the reader's default, a field found by its alias, a
 * writer-only recursive field skipped, reader-only fields of every kind of
 * default (nested record with its own field defaults, union, array, map,
 * fixed, boolean). Then what is refused, with its reason: a writer branch
 * the reader lacks (when used), names that do not match, a recursive type
 * the reader reads, a schema whose plan would be too large.
 */
#include "event/avro_jschema.h"
#include "event/avro_plan.h"
#include "event/avro_resolve.h"

#include "avro_test_kit.h"
#include "test_main.h"

#include <avro.h>
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char WRITER[] =
    "{\"type\":\"record\",\"name\":\"R\",\"namespace\":\"w.ns\",\"fields\":["
    "{\"name\":\"a\",\"type\":\"int\"},{\"name\":\"b\",\"type\":\"long\"},"
    "{\"name\":\"f\",\"type\":\"float\"},{\"name\":\"s\",\"type\":\"string\"},"
    "{\"name\":\"by\",\"type\":\"bytes\"},"
    "{\"name\":\"e\",\"type\":{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"X\",\"Y\",\"Z\"]}},"
    "{\"name\":\"u\",\"type\":[\"null\",\"string\",\"int\",\"boolean\"]},"
    "{\"name\":\"arr\",\"type\":{\"type\":\"array\",\"items\":\"int\"}},"
    "{\"name\":\"old\",\"type\":\"string\"},"
    "{\"name\":\"gone\",\"type\":{\"type\":\"map\",\"values\":{\"type\":\"record\",\"name\":\"G\","
    "\"fields\":[{\"name\":\"g\",\"type\":[\"null\",\"G\"]}]}}},"
    "{\"name\":\"one\",\"type\":\"int\"}]}";

static const char READER[] =
    "{\"type\":\"record\",\"name\":\"R\",\"namespace\":\"r.ns\",\"fields\":["
    "{\"name\":\"one\",\"type\":[\"null\",\"long\"]},"
    "{\"name\":\"a\",\"type\":\"double\"},{\"name\":\"b\",\"type\":\"float\"},"
    "{\"name\":\"f\",\"type\":\"double\"},{\"name\":\"s\",\"type\":\"bytes\"},"
    "{\"name\":\"by\",\"type\":\"string\"},"
    "{\"name\":\"e\",\"type\":{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"Y\",\"X\"],"
    "\"default\":\"Y\"}},"
    "{\"name\":\"u\",\"type\":[\"string\",\"null\",\"long\"]},"
    "{\"name\":\"arr\",\"type\":{\"type\":\"array\",\"items\":\"long\"}},"
    "{\"name\":\"renamed\",\"type\":\"string\",\"aliases\":[\"old\"]},"
    "{\"name\":\"inner\",\"type\":{\"type\":\"record\",\"name\":\"In\",\"fields\":["
    "{\"name\":\"x\",\"type\":\"int\"},{\"name\":\"y\",\"type\":\"string\",\"default\":\"q\"}]},"
    "\"default\":{\"x\":5}},"
    "{\"name\":\"opt\",\"type\":[\"null\",\"int\"],\"default\":null},"
    "{\"name\":\"list\",\"type\":{\"type\":\"array\",\"items\":\"string\"},"
    "\"default\":[\"a\",\"b\"]},"
    "{\"name\":\"m\",\"type\":{\"type\":\"map\",\"values\":\"bytes\"},"
    "\"default\":{\"k\":\"\\u00ff\\u0001\"}},"
    "{\"name\":\"fx\",\"type\":{\"type\":\"fixed\",\"name\":\"F2\",\"size\":2},\"default\":\"ab\"},"
    "{\"name\":\"flag\",\"type\":\"boolean\",\"default\":true}]}";

typedef struct {
    avro_schema_t ws, rs;
    avjs *wj, *rj;
    avplan *plan;
    avro_value_iface_t *iface;
    avro_value_t value;
    avplan_scratch scratch;
    char err[256];
} pair;

static avro_schema_t parse(const char *json)
{
    avro_schema_t s = NULL;
    ck_assert_msg(avro_schema_from_json_length(json, strlen(json), &s) == 0, "%s", avro_strerror());
    return s;
}

/* 0 and a ready pair, or -1 with the resolver's reason in p->err. */
static int pair_open(pair *p, const char *w, const char *r)
{
    memset(p, 0, sizeof *p);
    p->ws = parse(w);
    p->rs = parse(r);
    p->wj = avjs_new(p->ws, w, p->err, sizeof p->err);
    p->rj = avjs_new(p->rs, r, p->err, sizeof p->err);
    ck_assert(p->wj != NULL && p->rj != NULL);
    p->plan = avres_compile(p->ws, p->wj, p->rs, p->rj, p->err, sizeof p->err);
    if (p->plan == NULL)
        return -1;
    p->iface = avro_generic_class_from_schema(p->rs);
    ck_assert_ptr_nonnull(p->iface);
    ck_assert_int_eq(avro_generic_value_new(p->iface, &p->value), 0);
    return 0;
}

static void pair_close(pair *p)
{
    avplan_free(p->plan);
    if (p->value.self != NULL)
        avro_value_decref(&p->value);
    if (p->iface != NULL)
        avro_value_iface_decref(p->iface);
    avplan_scratch_free(&p->scratch);
    avjs_free(p->wj);
    avjs_free(p->rj);
    avro_schema_decref(p->ws);
    avro_schema_decref(p->rs);
}

static codec_status pair_read(pair *p, const uint8_t *b, size_t n)
{
    ck_assert_int_eq(avro_value_reset(&p->value), 0);
    return avplan_read(p->plan, b, n, &p->value, &p->scratch, p->err, sizeof p->err);
}

/* One writer datum: enum symbol e, union branch ub (2: int 9, 1: "s", 3: true). */
static void build(bb *w, int e, int ub)
{
    static const uint8_t one_and_half[4] = {0x00, 0x00, 0xc0, 0x3f}; /* 1.5f, little-endian */
    w->n = 0;
    put_long(w, 7);                /* a */
    put_long(w, (int64_t)1 << 40); /* b */
    put_raw(w, one_and_half, 4);   /* f */
    put_cstr(w, "hi");             /* s */
    put_cstr(w, "yo");             /* by */
    put_long(w, e);                /* e */
    put_long(w, ub);               /* u */
    if (ub == 2)
        put_long(w, 9);
    else if (ub == 1)
        put_cstr(w, "s");
    else if (ub == 3)
        put_raw(w, "\x01", 1);
    put_long(w, 2); /* arr: [1, 2] */
    put_long(w, 1);
    put_long(w, 2);
    put_long(w, 0);
    put_cstr(w, "was"); /* old */
    put_long(w, 1);     /* gone: {"k": {g: {g: null}}} */
    put_cstr(w, "k");
    put_long(w, 1);
    put_long(w, 0);
    put_long(w, 0);
    put_long(w, 3); /* one */
}

static void field(pair *p, const char *name, avro_value_t *out)
{
    ck_assert_msg(avro_value_get_by_name(&p->value, name, out, NULL) == 0, "%s", name);
}

static void assert_str(avro_value_t *v, const char *want)
{
    const char *s = NULL;
    size_t n = 0;
    ck_assert_int_eq(avro_value_get_string(v, &s, &n), 0);
    ck_assert_uint_eq(n, strlen(want) + 1);
    ck_assert_str_eq(s, want);
}

static void assert_bytes(avro_value_t *v, const char *want, size_t wn)
{
    const void *b = NULL;
    size_t n = 0;
    ck_assert_int_eq(avro_value_get_bytes(v, &b, &n), 0);
    ck_assert_uint_eq(n, wn);
    ck_assert_mem_eq(b, want, wn);
}

START_TEST(test_rules)
{
    pair p;
    bb w;
    avro_value_t v, c;
    double d;
    float f;
    int64_t l;
    int32_t i;
    int sym, disc;
    size_t n;

    ck_assert_msg(pair_open(&p, WRITER, READER) == 0, "%s", p.err);
    build(&w, 2, 2);
    ck_assert_msg(pair_read(&p, w.b, w.n) == CODEC_OK, "%s", p.err);
    field(&p, "one", &v); /* int into ["null","long"]: the long branch */
    ck_assert_int_eq(avro_value_get_discriminant(&v, &disc), 0);
    ck_assert_int_eq(disc, 1);
    ck_assert_int_eq(avro_value_get_current_branch(&v, &c), 0);
    ck_assert_int_eq(avro_value_get_long(&c, &l), 0);
    ck_assert_int_eq(l, 3);
    field(&p, "a", &v);
    ck_assert_int_eq(avro_value_get_double(&v, &d), 0);
    ck_assert(d == 7.0);
    field(&p, "b", &v);
    ck_assert_int_eq(avro_value_get_float(&v, &f), 0);
    ck_assert(f == (float)((int64_t)1 << 40));
    field(&p, "f", &v);
    ck_assert_int_eq(avro_value_get_double(&v, &d), 0);
    ck_assert(d == 1.5);
    field(&p, "s", &v);
    assert_bytes(&v, "hi", 2);
    field(&p, "by", &v);
    assert_str(&v, "yo");
    field(&p, "e", &v); /* Z: not in the reader, its default Y (reader index 0) */
    ck_assert_int_eq(avro_value_get_enum(&v, &sym), 0);
    ck_assert_int_eq(sym, 0);
    field(&p, "u", &v); /* writer int branch -> reader long branch (index 2) */
    ck_assert_int_eq(avro_value_get_discriminant(&v, &disc), 0);
    ck_assert_int_eq(disc, 2);
    field(&p, "arr", &v);
    ck_assert_int_eq(avro_value_get_size(&v, &n), 0);
    ck_assert_uint_eq(n, 2);
    ck_assert_int_eq(avro_value_get_by_index(&v, 1, &c, NULL), 0);
    ck_assert_int_eq(avro_value_get_long(&c, &l), 0);
    ck_assert_int_eq(l, 2);
    field(&p, "renamed", &v);
    assert_str(&v, "was");
    field(&p, "inner", &v); /* {"x": 5} and y's own default */
    ck_assert_int_eq(avro_value_get_by_name(&v, "x", &c, NULL), 0);
    ck_assert_int_eq(avro_value_get_int(&c, &i), 0);
    ck_assert_int_eq(i, 5);
    ck_assert_int_eq(avro_value_get_by_name(&v, "y", &c, NULL), 0);
    assert_str(&c, "q");
    field(&p, "opt", &v);
    ck_assert_int_eq(avro_value_get_discriminant(&v, &disc), 0);
    ck_assert_int_eq(disc, 0);
    field(&p, "list", &v);
    ck_assert_int_eq(avro_value_get_size(&v, &n), 0);
    ck_assert_uint_eq(n, 2);
    ck_assert_int_eq(avro_value_get_by_index(&v, 1, &c, NULL), 0);
    assert_str(&c, "b");
    field(&p, "m", &v);
    ck_assert_int_eq(avro_value_get_by_name(&v, "k", &c, NULL), 0);
    assert_bytes(&c, "\xff\x01", 2);
    field(&p, "fx", &v);
    {
        const void *b = NULL;
        ck_assert_int_eq(avro_value_get_fixed(&v, &b, &n), 0);
        ck_assert_uint_eq(n, 2);
        ck_assert_mem_eq(b, "ab", 2);
    }
    field(&p, "flag", &v);
    ck_assert_int_eq(avro_value_get_boolean(&v, &i), 0);
    ck_assert_int_eq(i, 1);

    /* X -> reader index 1; writer string branch -> reader branch 0 */
    build(&w, 0, 1);
    ck_assert_msg(pair_read(&p, w.b, w.n) == CODEC_OK, "%s", p.err);
    field(&p, "e", &v);
    ck_assert_int_eq(avro_value_get_enum(&v, &sym), 0);
    ck_assert_int_eq(sym, 1);
    field(&p, "u", &v);
    ck_assert_int_eq(avro_value_get_discriminant(&v, &disc), 0);
    ck_assert_int_eq(disc, 0);
    ck_assert_int_eq(avro_value_get_current_branch(&v, &c), 0);
    assert_str(&c, "s");

    /* the writer's boolean branch: no reader branch takes it */
    build(&w, 0, 3);
    ck_assert_int_eq(pair_read(&p, w.b, w.n), CODEC_ERR_INCOMPATIBLE);
    ck_assert_msg(strstr(p.err, "boolean") != NULL, "%s", p.err);
    /* truncated anywhere: malformed, never a read past the end */
    build(&w, 2, 2);
    for (size_t cut = 0; cut < w.n; cut++) {
        codec_status st = pair_read(&p, w.b, cut);
        ck_assert_msg(st == CODEC_ERR_MALFORMED, "cut %zu: %d %s", cut, (int)st, p.err);
    }
    pair_close(&p);
}
END_TEST

START_TEST(test_refusals)
{
    static const char *const cases[][3] = {
        /* names must match, unless the reader has an alias */
        {"{\"type\":\"record\",\"name\":\"A\",\"fields\":[{\"name\":\"x\",\"type\":\"int\"}]}",
         "{\"type\":\"record\",\"name\":\"B\",\"fields\":[{\"name\":\"x\",\"type\":\"int\"}]}",
         "cannot be read as record B"},
        {"{\"type\":\"record\",\"name\":\"A\",\"fields\":[{\"name\":\"x\",\"type\":\"int\"}]}",
         "{\"type\":\"record\",\"name\":\"B\",\"aliases\":[\"old.A\"],\"fields\":[{\"name\":\"x\","
         "\"type\":\"long\"}]}",
         NULL},
        /* no promotion backwards, none from string to int */
        {"\"double\"", "\"float\"", "writer double cannot be read as float"},
        {"\"string\"", "\"int\"", "cannot be read as int"},
        /* a recursive type the reader reads is not followed forever */
        {"{\"type\":\"record\",\"name\":\"L\",\"fields\":[{\"name\":\"n\",\"type\":[\"null\","
         "\"L\"]}]}",
         "{\"type\":\"record\",\"name\":\"L\",\"fields\":[{\"name\":\"n\",\"type\":[\"null\","
         "\"L\"]}]}",
         "nested deeper than"},
        /* no writer branch fits */
        {"[\"int\",\"boolean\"]", "\"string\"", "no writer union branch fits the reader"},
        {"\"int\"", "[\"string\",\"null\"]", "fits no reader union branch"},
        /* fixed: same name, same size */
        {"{\"type\":\"fixed\",\"name\":\"F\",\"size\":4}",
         "{\"type\":\"fixed\",\"name\":\"F\",\"size\":8}", "cannot be read as fixed F"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        pair p;
        int rc = pair_open(&p, cases[k][0], cases[k][1]);
        if (cases[k][2] == NULL)
            ck_assert_msg(rc == 0, "case %zu: %s", k, p.err);
        else
            ck_assert_msg(rc != 0 && strstr(p.err, cases[k][2]) != NULL, "case %zu: %s", k, p.err);
        pair_close(&p);
    }
}
END_TEST

START_TEST(test_plan_size_bound)
{
    /* C has 40 fields of B, B 40 of A, A 40 ints: 64,000 leaves if followed */
    static char json[20000];
    size_t n = 0;
    pair p;

    n += (size_t)snprintf(json + n, sizeof json - n,
                          "{\"type\":\"record\",\"name\":\"C\",\"fields\":[");
    for (int i = 0; i < 40; i++) {
        if (i == 0) {
            n += (size_t)snprintf(json + n, sizeof json - n,
                                  "{\"name\":\"c0\",\"type\":{\"type\":\"record\",\"name\":\"B\","
                                  "\"fields\":[");
            for (int k = 0; k < 40; k++) {
                if (k == 0) {
                    n += (size_t)snprintf(json + n, sizeof json - n,
                                          "{\"name\":\"b0\",\"type\":{\"type\":\"record\","
                                          "\"name\":\"A\",\"fields\":[");
                    for (int m = 0; m < 40; m++)
                        n += (size_t)snprintf(json + n, sizeof json - n,
                                              "%s{\"name\":\"a%d\",\"type\":\"int\"}", m ? "," : "",
                                              m);
                    n += (size_t)snprintf(json + n, sizeof json - n, "]}}");
                } else {
                    n += (size_t)snprintf(json + n, sizeof json - n,
                                          ",{\"name\":\"b%d\",\"type\":\"A\"}", k);
                }
            }
            n += (size_t)snprintf(json + n, sizeof json - n, "]}}");
        } else {
            n += (size_t)snprintf(json + n, sizeof json - n, ",{\"name\":\"c%d\",\"type\":\"B\"}",
                                  i);
        }
    }
    snprintf(json + n, sizeof json - n, "]}");
    ck_assert_int_eq(pair_open(&p, json, json), -1);
    ck_assert_msg(strstr(p.err, "plan nodes") != NULL, "%s", p.err);
    pair_close(&p);
}
END_TEST

Suite *test_suite(int *rc)
{
    (void)rc;
    Suite *s = suite_create("avro_plan");
    TCase *tc = tcase_create("rules");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_rules);
    tcase_add_test(tc, test_refusals);
    tcase_add_test(tc, test_plan_size_bound);
    suite_add_tcase(s, tc);
    return s;
}
