/*
 * replay_lease: the replay's side of the store's lease. A second instance's
 * take is refused naming the holder's instance and replay id; the holder's
 * renewal keeps it; a holder whose lease another took (it lapsed while it
 * did not renew) learns it at its next renewal and must stop; release frees
 * it. On SQLite and, when ORDERSTREAM_TEST_PG_URL is set, PostgreSQL.
 */
#include "replay/replay_lease.h"

#include "order/store/store_fixture.h"
#include "platform/clock.h"
#include "test_main.h"

#include <check.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define DLQ "order-events-dlq"

static char err[400], oinst[REPLAY_INSTANCE_MAX + 1], oid[64];

static store *open_rw(void)
{
    store *s = store_open(where, 0, err, sizeof err);
    ck_assert_msg(s != NULL, "store_open: %s", err);
    return s;
}

static replay_lease_result take(replay_lease *l, store *s, const char *inst, const char *id)
{
    oinst[0] = oid[0] = '\0';
    return replay_lease_take(l, s, DLQ, inst, id, oinst, sizeof oinst, oid, sizeof oid, err,
                             sizeof err);
}

/* As if a renewal interval had passed since the last renewal. */
static void renewal_due(replay_lease *l)
{
    l->renewed_ms = l->tried_ms = clock_mono_ms() - REPLAY_LEASE_RENEW_MS;
}

START_TEST(test_second_instance_is_refused_with_the_holder_named)
{
    store *a = open_rw(), *b = open_rw();
    replay_lease la, lb;
    ck_assert_int_eq(take(&la, a, "host-a:11", "rp-1-aaaaaaaa"), REPLAY_LEASE_TAKEN);
    ck_assert_int_eq(take(&lb, b, "host-b:22", "rp-1-bbbbbbbb"), REPLAY_LEASE_BUSY);
    ck_assert_str_eq(oinst, "host-a:11");
    ck_assert_str_eq(oid, "rp-1-aaaaaaaa");
    /* not due: nothing asked; due: renewed, still held */
    ck_assert_int_eq(replay_lease_keep(&la, err, sizeof err), 0);
    renewal_due(&la);
    ck_assert_msg(replay_lease_keep(&la, err, sizeof err) == 0, "keep: %s", err);
    ck_assert_int_eq(take(&lb, b, "host-b:22", "rp-2-bbbbbbbb"), REPLAY_LEASE_BUSY);
    /* released at the end: the next instance's replay takes it */
    replay_lease_release(&la);
    ck_assert_int_ne(replay_lease_keep(&la, err, sizeof err), 0); /* no longer held */
    ck_assert_int_eq(take(&lb, b, "host-b:22", "rp-3-bbbbbbbb"), REPLAY_LEASE_TAKEN);
    replay_lease_release(&lb);
    store_close(a);
    store_close(b);
}
END_TEST

START_TEST(test_a_lost_lease_stops_its_holder)
{
    store *a = open_rw(), *b = open_rw();
    replay_lease la, lb;
    ck_assert_int_eq(take(&la, a, "host-a:11", "rp-1-aaaaaaaa"), REPLAY_LEASE_TAKEN);
    /* a's lease lapsed (a stalled past the ttl) and b took it: modelled by freeing a's row */
    store_status st = store_lease_release(b, la.name, la.holder, err, sizeof err);
    ck_assert_msg(st == STORE_OK, "release: %s", err);
    ck_assert_int_eq(take(&lb, b, "host-b:22", "rp-1-bbbbbbbb"), REPLAY_LEASE_TAKEN);
    renewal_due(&la);
    ck_assert_int_ne(replay_lease_keep(&la, err, sizeof err), 0);
    ck_assert_msg(strstr(err, "lost") && strstr(err, "host-b:22/rp-1-bbbbbbbb"), "%s", err);
    /* a's release at its end leaves b's lease alone */
    replay_lease_release(&la);
    ck_assert_int_eq(take(&la, a, "host-a:11", "rp-2-aaaaaaaa"), REPLAY_LEASE_BUSY);
    ck_assert_str_eq(oid, "rp-1-bbbbbbbb");
    replay_lease_release(&lb);
    store_close(a);
    store_close(b);
}
END_TEST

START_TEST(test_instance_names_host_and_pid)
{
    char inst[REPLAY_INSTANCE_MAX + 1];
    replay_lease_instance(inst, sizeof inst);
    char pid[24];
    snprintf(pid, sizeof pid, ":%ld", (long)getpid());
    size_t n = strlen(inst), p = strlen(pid);
    ck_assert_msg(n > p && strcmp(inst + n - p, pid) == 0, "%s", inst);
    ck_assert_ptr_null(strchr(inst, '/')); /* the holder's separator stays unambiguous */
}
END_TEST

static void add_contract(TCase *tc)
{
    tcase_add_test(tc, test_second_instance_is_refused_with_the_holder_named);
    tcase_add_test(tc, test_a_lost_lease_stops_its_holder);
    tcase_add_test(tc, test_instance_names_host_and_pid);
}

Suite *test_suite(int *rc)
{
    (void)rc;
    return stfx_suite("replay_lease", add_contract);
}
