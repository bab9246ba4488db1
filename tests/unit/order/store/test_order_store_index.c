/*
 * The store contract, part three: topic indexes (store_tix_*), the query
 * side's memory of a topic up to a position per partition. What must hold:
 * a load sees positions and content of one commit; an extension moves the
 * positions only from where they stand (a second handle that loaded the
 * same positions is fenced and writes nothing, so ids and counts are never
 * added twice); a reset rebuilds from scratch; keys are bytes. Run against
 * SQLite always and PostgreSQL when ORDERSTREAM_TEST_PG_URL is set.
 */
#include "store/store.h"

#include "order/store/store_fixture.h"
#include "test_main.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char err[256];

static store *open_rw(void)
{
    store *s = store_open(where, 0, err, sizeof err);
    ck_assert_msg(s != NULL, "store_open: %s", err);
    return s;
}

/* What a load returned. */
typedef struct {
    store_tix_pos pos[8];
    int npos;
    char ids[64][16];
    size_t idlen[64];
    int nids;
    long long cat_x, reason_y;
} loaded;

static int got_id(void *arg, const void *id, size_t len)
{
    loaded *l = arg;
    ck_assert_int_lt(l->nids, 64);
    ck_assert_uint_le(len, 16);
    memcpy(l->ids[l->nids], id, len);
    l->idlen[l->nids++] = len;
    return 0;
}

static int got_stat(void *arg, char kind, const char *name, int64_t n)
{
    loaded *l = arg;
    if (kind == 'c' && strcmp(name, "X") == 0)
        l->cat_x += n;
    else if (kind == 'r' && strcmp(name, "Y") == 0)
        l->reason_y += n;
    else
        ck_abort_msg("unexpected stat %c %s", kind, name);
    return 0;
}

static loaded load(store *s, const char *name)
{
    loaded l;
    memset(&l, 0, sizeof l);
    store_tix_sink sink = {&l, got_id, got_stat};
    ck_assert_int_eq(store_tix_load(s, name, l.pos, 8, &l.npos, &sink, err, sizeof err), STORE_OK);
    return l;
}

static int has_id(const loaded *l, const void *id, size_t len)
{
    for (int i = 0; i < l->nids; i++)
        if (l->idlen[i] == len && memcmp(l->ids[i], id, len) == 0)
            return 1;
    return 0;
}

/* ids for store_tix_update: an array of NUL-free C strings, or the binary one. */
static const char *const words[] = {"A-1", "A-2", "A-3"};
static const unsigned char binary[] = {0x00, 0xff, 0x80, 0x0a};

static const void *word_at(void *arg, size_t i, size_t *len)
{
    const char *const *w = arg;
    *len = strlen(w[i]);
    return w[i];
}

static const void *binary_at(void *arg, size_t i, size_t *len)
{
    (void)arg;
    (void)i;
    *len = sizeof binary;
    return binary;
}

static store_status add(store *s, const char *name, const loaded *from, const store_tix_pos *to,
                        int nto, size_t nwords, const store_tix_stat *stats, size_t nstats,
                        int reset)
{
    store_tix_update u = {.name = name,
                          .reset = reset,
                          .from = from->pos,
                          .nfrom = from->npos,
                          .to = to,
                          .nto = nto,
                          .id_at = word_at,
                          .id_arg = (void *)words,
                          .nids = nwords,
                          .stats = stats,
                          .nstats = nstats};
    return store_tix_add(s, &u, err, sizeof err);
}

START_TEST(test_index_empty_then_extended_then_loaded)
{
    store *s = open_rw();
    loaded l = load(s, "ids:t");
    ck_assert_int_eq(l.npos, 0);
    ck_assert_int_eq(l.nids, 0);
    store_tix_pos to[2] = {{0, 0, 10}, {1, 5, 7}};
    ck_assert_int_eq(add(s, "ids:t", &l, to, 2, 3, NULL, 0, 0), STORE_OK);
    store_close(s);
    s = open_rw(); /* another handle (a restart) sees the commit */
    l = load(s, "ids:t");
    ck_assert_int_eq(l.npos, 2);
    ck_assert_int_eq(l.pos[0].partition, 0);
    ck_assert_int_eq(l.pos[0].next, 10);
    ck_assert_int_eq(l.pos[1].low, 5);
    ck_assert_int_eq(l.pos[1].next, 7);
    ck_assert_int_eq(l.nids, 3);
    ck_assert(has_id(&l, "A-2", 3));
    /* Other indexes are apart. */
    loaded other = load(s, "ids:u");
    ck_assert_int_eq(other.npos, 0);
    ck_assert_int_eq(other.nids, 0);
    store_close(s);
}
END_TEST

START_TEST(test_index_second_writer_is_fenced)
{
    store *a = open_rw(), *b = open_rw();
    loaded la = load(a, "stats:d"), lb = load(b, "stats:d");
    store_tix_pos to[1] = {{0, 0, 4}};
    store_tix_stat st[2] = {{'c', "X", 3}, {'r', "Y", 1}};
    ck_assert_int_eq(add(a, "stats:d", &la, to, 1, 0, st, 2, 0), STORE_OK);
    /* b loaded the same (empty) positions: its extension must not count again. */
    ck_assert_int_eq(add(b, "stats:d", &lb, to, 1, 2, st, 2, 0), STORE_FENCED);
    loaded l = load(b, "stats:d");
    ck_assert_int_eq(l.cat_x, 3);
    ck_assert_int_eq(l.reason_y, 1);
    ck_assert_int_eq(l.nids, 0);
    /* From the positions as they stand, b extends: counts add up. */
    store_tix_pos to2[1] = {{0, 0, 9}};
    ck_assert_int_eq(add(b, "stats:d", &l, to2, 1, 0, st, 2, 0), STORE_OK);
    /* a's positions are stale now (it wrote 0..4, b moved them to 9). */
    loaded stale = la;
    stale.pos[0] = to[0];
    stale.npos = 1;
    store_tix_pos to3[1] = {{0, 0, 12}};
    ck_assert_int_eq(add(a, "stats:d", &stale, to3, 1, 0, st, 2, 0), STORE_FENCED);
    l = load(a, "stats:d");
    ck_assert_int_eq(l.pos[0].next, 9);
    ck_assert_int_eq(l.cat_x, 6);
    ck_assert_int_eq(l.reason_y, 2);
    store_close(a);
    store_close(b);
}
END_TEST

START_TEST(test_index_reset_rebuilds)
{
    store *s = open_rw();
    loaded l = load(s, "ids:t");
    store_tix_pos to[2] = {{0, 0, 10}, {1, 0, 3}};
    store_tix_stat st[1] = {{'c', "X", 5}};
    ck_assert_int_eq(add(s, "ids:t", &l, to, 2, 3, st, 1, 0), STORE_OK);
    l = load(s, "ids:t");
    /* Retention took partition 0's first records: rebuilt from low 4, one partition left. */
    store_tix_pos re[1] = {{0, 4, 10}};
    ck_assert_int_eq(add(s, "ids:t", &l, re, 1, 1, NULL, 0, 1), STORE_OK);
    loaded after = load(s, "ids:t");
    ck_assert_int_eq(after.npos, 1);
    ck_assert_int_eq(after.pos[0].low, 4);
    ck_assert_int_eq(after.nids, 1);
    ck_assert(has_id(&after, "A-1", 3));
    ck_assert_int_eq(after.cat_x, 0);
    /* A reset from stale positions is fenced and keeps what stands. */
    ck_assert_int_eq(add(s, "ids:t", &l, re, 1, 3, NULL, 0, 1), STORE_FENCED);
    ck_assert_int_eq(load(s, "ids:t").nids, 1);
    store_close(s);
}
END_TEST

START_TEST(test_index_keys_are_bytes)
{
    store *s = open_rw();
    loaded l = load(s, "ids:bin");
    store_tix_pos to[1] = {{0, 0, 1}};
    store_tix_update u = {.name = "ids:bin",
                          .from = l.pos,
                          .nfrom = 0,
                          .to = to,
                          .nto = 1,
                          .id_at = binary_at,
                          .nids = 1};
    ck_assert_int_eq(store_tix_add(s, &u, err, sizeof err), STORE_OK);
    l = load(s, "ids:bin");
    ck_assert_int_eq(l.nids, 1);
    ck_assert(has_id(&l, binary, sizeof binary));
    store_close(s);
}
END_TEST

/* Many ids: more than one segment (store_backend.h) each way. */
#define MANY 70000 /* 20 bytes each: two segments */

static const void *many_at(void *arg, size_t i, size_t *len)
{
    static char buf[32];
    (void)arg;
    *len = (size_t)snprintf(buf, sizeof buf, "ORDER-%012zu", i);
    return buf;
}

typedef struct {
    unsigned char *seen;
    size_t n, bad;
} many_ctx;

/* No ck_assert per id: check's bookkeeping per assertion is slow under ASan. */
static int many_id(void *arg, const void *id, size_t len)
{
    many_ctx *c = arg;
    size_t i = len == 18 ? strtoull((const char *)id + 6, NULL, 10) : MANY;
    if (i >= MANY || c->seen[i])
        c->bad++;
    else
        c->seen[i] = 1;
    c->n++;
    return 0;
}

START_TEST(test_index_many_ids_round_trip)
{
    store *s = open_rw();
    store_tix_pos to[1] = {{0, 0, MANY}};
    store_tix_update u = {.name = "ids:many", .to = to, .nto = 1, .id_at = many_at, .nids = MANY};
    ck_assert_int_eq(store_tix_add(s, &u, err, sizeof err), STORE_OK);
    many_ctx c = {calloc(MANY, 1), 0, 0};
    store_tix_sink sink = {&c, many_id, NULL};
    store_tix_pos pos[2];
    int n;
    ck_assert_int_eq(store_tix_load(s, "ids:many", pos, 2, &n, &sink, err, sizeof err), STORE_OK);
    ck_assert_int_eq(n, 1);
    ck_assert_uint_eq(c.n, MANY);
    ck_assert_uint_eq(c.bad, 0);
    free(c.seen);
    store_close(s);
}
END_TEST

START_TEST(test_index_refused_inside_a_batch_and_read_only)
{
    store *s = open_rw();
    store_tix_pos pos[1];
    int n;
    ck_assert_int_eq(store_begin(s, err, sizeof err), STORE_OK);
    ck_assert_int_eq(store_tix_load(s, "ids:t", pos, 1, &n, NULL, err, sizeof err),
                     STORE_ERR_INTERNAL);
    store_rollback(s);
    store *ro = store_open(where, STORE_READONLY, err, sizeof err);
    ck_assert_msg(ro != NULL, "%s", err);
    ck_assert_int_eq(store_tix_load(ro, "ids:t", pos, 1, &n, NULL, err, sizeof err),
                     STORE_ERR_INTERNAL);
    store_close(ro);
    store_close(s);
}
END_TEST

static void add_contract(TCase *tc)
{
    tcase_add_test(tc, test_index_empty_then_extended_then_loaded);
    tcase_add_test(tc, test_index_second_writer_is_fenced);
    tcase_add_test(tc, test_index_reset_rebuilds);
    tcase_add_test(tc, test_index_keys_are_bytes);
    tcase_add_test(tc, test_index_many_ids_round_trip);
    tcase_add_test(tc, test_index_refused_inside_a_batch_and_read_only);
}

Suite *test_suite(int *rc)
{
    (void)rc;
    return stfx_suite("order_store_index", add_contract);
}
