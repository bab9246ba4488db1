/*
 * The store's replay coordination. Leases (store_lease_*): one holder at a time across handles on
 * one store (instances sharing it), renewal by the holder, release by the
 * holder only, expiry of a holder that stopped renewing (a crashed
 * instance), and the calls a handle may not make (read-only, inside a
 * batch, bad arguments). Replay statuses (store_replay_status_*): a document
 * written on one handle is read on another with its age, replaced in place,
 * only the newest STORE_REPLAY_STATUS_KEPT kept, bad calls refused. Run
 * against every backend, as test_order_store.c:
 * SQLite always, PostgreSQL when ORDERSTREAM_TEST_PG_URL is set.
 */
#include "store/store.h"

#include "order/store/store_fixture.h"
#include "test_main.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LEASE "dlq-replay:order-events-dlq"
#define TTL 60000

static char err[256];

static store *open_rw(void)
{
    store *s = store_open(where, 0, err, sizeof err);
    ck_assert_msg(s != NULL, "store_open: %s", err);
    return s;
}

static store_lease take(store *s, const char *name, const char *holder, int64_t ttl)
{
    store_lease l;
    store_status st = store_lease_take(s, name, holder, ttl, &l, err, sizeof err);
    ck_assert_msg(st == STORE_OK, "lease_take %s: %s %s", holder, store_status_name(st), err);
    return l;
}

static void release(store *s, const char *name, const char *holder)
{
    store_status st = store_lease_release(s, name, holder, err, sizeof err);
    ck_assert_msg(st == STORE_OK, "lease_release %s: %s %s", holder, store_status_name(st), err);
}

START_TEST(test_one_holder_across_handles)
{
    store *a = open_rw(), *b = open_rw(); /* two instances on one store */
    ck_assert_int_eq(take(a, LEASE, "host-a:1/rp-1-aaaaaaaa", TTL).held, 1);
    store_lease l = take(b, LEASE, "host-b:2/rp-1-bbbbbbbb", TTL);
    ck_assert_int_eq(l.held, 0);
    ck_assert_str_eq(l.holder, "host-a:1/rp-1-aaaaaaaa");
    ck_assert_int_gt(l.remaining_ms, 0);
    ck_assert_int_le(l.remaining_ms, TTL);
    /* the holder renews: still its own */
    ck_assert_int_eq(take(a, LEASE, "host-a:1/rp-1-aaaaaaaa", TTL).held, 1);
    /* a release by someone else changes nothing */
    release(b, LEASE, "host-b:2/rp-1-bbbbbbbb");
    ck_assert_int_eq(take(b, LEASE, "host-b:2/rp-1-bbbbbbbb", TTL).held, 0);
    /* another lease name is another lock */
    ck_assert_int_eq(take(b, "dlq-replay:other-dlq", "host-b:2/rp-1-bbbbbbbb", TTL).held, 1);
    /* the holder's release frees it for the next one */
    release(a, LEASE, "host-a:1/rp-1-aaaaaaaa");
    ck_assert_int_eq(take(b, LEASE, "host-b:2/rp-2-bbbbbbbb", TTL).held, 1);
    l = take(a, LEASE, "host-a:1/rp-2-aaaaaaaa", TTL);
    ck_assert_int_eq(l.held, 0);
    ck_assert_str_eq(l.holder, "host-b:2/rp-2-bbbbbbbb");
    store_close(a);
    /* durable: a new handle sees who holds it */
    a = open_rw();
    ck_assert_int_eq(take(a, LEASE, "host-a:1/rp-3-aaaaaaaa", TTL).held, 0);
    store_close(a);
    store_close(b);
}
END_TEST

START_TEST(test_an_unrenewed_lease_expires)
{
    store *a = open_rw(), *b = open_rw();
    /* a holder that stops renewing (crashed): its lease lapses after its ttl */
    ck_assert_int_eq(take(a, LEASE, "host-a:1/rp-1-aaaaaaaa", 50).held, 1);
    nanosleep(&(struct timespec){0, 300 * 1000 * 1000}, NULL); /* well past the 50 ms */
    ck_assert_int_eq(take(b, LEASE, "host-b:2/rp-1-bbbbbbbb", TTL).held, 1);
    /* the late holder's renewal is refused: it learns it lost the lease */
    store_lease l = take(a, LEASE, "host-a:1/rp-1-aaaaaaaa", TTL);
    ck_assert_int_eq(l.held, 0);
    ck_assert_str_eq(l.holder, "host-b:2/rp-1-bbbbbbbb");
    store_close(a);
    store_close(b);
}
END_TEST

START_TEST(test_lease_calls_refused)
{
    store *s = open_rw();
    store_lease l;
    ck_assert_int_eq(store_begin(s, err, sizeof err), STORE_OK);
    ck_assert_int_eq(store_lease_take(s, LEASE, "h/rp-1", TTL, &l, err, sizeof err),
                     STORE_ERR_INTERNAL);
    ck_assert_int_eq(store_lease_release(s, LEASE, "h/rp-1", err, sizeof err), STORE_ERR_INTERNAL);
    store_rollback(s);
    ck_assert_int_eq(store_lease_take(s, LEASE, "h/rp-1", 0, &l, err, sizeof err),
                     STORE_ERR_INTERNAL);
    ck_assert_int_eq(
        store_lease_take(s, LEASE, "h/rp-1", STORE_LEASE_TTL_MAX_MS + 1, &l, err, sizeof err),
        STORE_ERR_INTERNAL);
    ck_assert_int_eq(store_lease_take(s, "", "h/rp-1", TTL, &l, err, sizeof err),
                     STORE_ERR_INTERNAL);
    ck_assert_int_eq(store_lease_take(s, LEASE, "", TTL, &l, err, sizeof err), STORE_ERR_INTERNAL);
    char longer[STORE_LEASE_HOLDER_MAX + 2];
    memset(longer, 'h', sizeof longer - 1);
    longer[sizeof longer - 1] = '\0';
    ck_assert_int_eq(store_lease_take(s, LEASE, longer, TTL, &l, err, sizeof err),
                     STORE_ERR_INTERNAL);
    /* nothing refused was taken */
    ck_assert_int_eq(take(s, LEASE, "other/rp-9", TTL).held, 1);
    store_close(s);
    s = store_open(where, STORE_READONLY, err, sizeof err);
    ck_assert_msg(s != NULL, "open read-only: %s", err);
    ck_assert_int_eq(store_lease_take(s, LEASE, "h/rp-1", TTL, &l, err, sizeof err),
                     STORE_ERR_INTERNAL);
    ck_assert_int_eq(store_lease_release(s, LEASE, "other/rp-9", err, sizeof err),
                     STORE_ERR_INTERNAL);
    store_close(s);
}
END_TEST

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void status_put(store *s, const char *id, const char *doc)
{
    store_status st = store_replay_status_put(s, id, doc, strlen(doc), err, sizeof err);
    ck_assert_msg(st == STORE_OK, "status_put %s: %s %s", id, store_status_name(st), err);
}

START_TEST(test_replay_status_shared_replaced_and_pruned)
{
    store *a = open_rw(), *b = open_rw();
    char *doc = NULL;
    int64_t age = -1;
    ck_assert_int_eq(store_replay_status_get(b, "rp-1-00000000", &doc, &age, err, sizeof err),
                     STORE_NOT_FOUND);
    ck_assert_ptr_null(doc);
    status_put(a, "rp-1-00000000", "{\"state\":\"running\"}");
    status_put(a, "rp-1-00000000", "{\"state\":\"completed\",\"replayed\":3}");
    store_status st = store_replay_status_get(b, "rp-1-00000000", &doc, &age, err, sizeof err);
    ck_assert_msg(st == STORE_OK, "status_get: %s %s", store_status_name(st), err);
    ck_assert_str_eq(doc, "{\"state\":\"completed\",\"replayed\":3}");
    ck_assert_msg(age >= -1000 && age < 60000, "age %lld ms", (long long)age);
    free(doc);
    /* the oldest beyond the kept number go (distinct times: 2 ms apart) */
    for (int i = 0; i < STORE_REPLAY_STATUS_KEPT + 3; i++) {
        char id[32];
        snprintf(id, sizeof id, "rp-k-%03d", i);
        status_put(a, id, "{\"state\":\"completed\"}");
        sleep_ms(2);
    }
    ck_assert_int_eq(store_replay_status_get(b, "rp-1-00000000", &doc, &age, err, sizeof err),
                     STORE_NOT_FOUND);
    for (int i = 0; i < STORE_REPLAY_STATUS_KEPT + 3; i++) {
        char id[32];
        snprintf(id, sizeof id, "rp-k-%03d", i);
        st = store_replay_status_get(b, id, &doc, &age, err, sizeof err);
        ck_assert_msg(st == (i < 3 ? STORE_NOT_FOUND : STORE_OK), "%s: %s %s", id,
                      store_status_name(st), err);
        free(doc);
    }
    store_close(a);
    store_close(b);
}
END_TEST

START_TEST(test_replay_status_calls_refused)
{
    store *s = open_rw();
    char *doc = NULL;
    int64_t age = 0;
    ck_assert_int_eq(store_replay_status_put(s, "", "{}", 2, err, sizeof err), STORE_ERR_INTERNAL);
    char longer[STORE_REPLAY_ID_MAX + 2];
    memset(longer, 'r', sizeof longer - 1);
    longer[sizeof longer - 1] = '\0';
    ck_assert_int_eq(store_replay_status_put(s, longer, "{}", 2, err, sizeof err),
                     STORE_ERR_INTERNAL);
    ck_assert_int_eq(store_replay_status_get(s, longer, &doc, &age, err, sizeof err),
                     STORE_ERR_INTERNAL);
    ck_assert_int_eq(store_replay_status_put(s, "rp-2", "{}", 0, err, sizeof err),
                     STORE_ERR_INTERNAL);
    ck_assert_int_eq(
        store_replay_status_put(s, "rp-2", "{}", STORE_REPLAY_STATUS_MAX + 1, err, sizeof err),
        STORE_ERR_INTERNAL);
    ck_assert_int_eq(store_begin(s, err, sizeof err), STORE_OK);
    ck_assert_int_eq(store_replay_status_put(s, "rp-2", "{}", 2, err, sizeof err),
                     STORE_ERR_INTERNAL);
    store_rollback(s);
    /* nothing refused was written */
    ck_assert_int_eq(store_replay_status_get(s, "rp-2", &doc, &age, err, sizeof err),
                     STORE_NOT_FOUND);
    store_close(s);
    s = store_open(where, STORE_READONLY, err, sizeof err);
    ck_assert_msg(s != NULL, "open read-only: %s", err);
    ck_assert_int_eq(store_replay_status_put(s, "rp-2", "{}", 2, err, sizeof err),
                     STORE_ERR_INTERNAL);
    store_close(s);
}
END_TEST

static void add_contract(TCase *tc)
{
    tcase_add_test(tc, test_replay_status_shared_replaced_and_pruned);
    tcase_add_test(tc, test_replay_status_calls_refused);
    tcase_add_test(tc, test_one_holder_across_handles);
    tcase_add_test(tc, test_an_unrenewed_lease_expires);
    tcase_add_test(tc, test_lease_calls_refused);
}

Suite *test_suite(int *rc)
{
    (void)rc;
    return stfx_suite("order_store_lease", add_contract);
}
