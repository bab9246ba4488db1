/*
 * replay_lease: "one DLQ replay at a time" across every instance sharing the
 * store, on the store's leases (store_lease_*). The lease is named after the
 * DLQ topic ("dlq-replay:<DLQ topic>": the replay marks are kept per DLQ
 * topic too) and held by "<instance>/<replay id>", the instance being
 * "<hostname>:<pid>".
 *
 * The replay thread takes it before a replay starts (the POST's 202 or 409
 * waits for that), renews it every REPLAY_LEASE_RENEW_MS while the replay
 * runs (replay_lease_keep, called from the replay's loops, which never block
 * longer than about 10 s) and releases it at the end. A holder that crashed
 * stops renewing: its lease lapses REPLAY_LEASE_TTL_MS after its last
 * renewal, and another instance may start a replay then. A holder that
 * could not renew for 2 x REPLAY_LEASE_RENEW_MS (the store unreachable)
 * stops its replay before the lease can lapse under it, and so does one that
 * finds another holder (its lease lapsed meanwhile).
 */
#ifndef REPLAY_LEASE_H
#define REPLAY_LEASE_H

#include "store/store.h"

#include <stddef.h>
#include <stdint.h>

#define REPLAY_LEASE_RENEW_MS 5000
#define REPLAY_LEASE_TTL_MS (3 * REPLAY_LEASE_RENEW_MS)
#define REPLAY_INSTANCE_MAX 100

typedef struct {
    store *st; /* the replay's own writable handle (not owned) */
    char name[STORE_LEASE_NAME_MAX + 1];
    char holder[STORE_LEASE_HOLDER_MAX + 1];
    int64_t renewed_ms; /* monotonic: the last successful take or renewal */
    int64_t tried_ms;   /* monotonic: the last attempt */
    int held;
} replay_lease;

typedef enum {
    REPLAY_LEASE_TAKEN = 0,
    REPLAY_LEASE_BUSY, /* another holder: other_instance and other_id say who */
    REPLAY_LEASE_ERROR /* the store failed: err */
} replay_lease_result;

/* "<hostname>:<pid>" into buf (REPLAY_INSTANCE_MAX + 1 bytes). */
void replay_lease_instance(char *buf, size_t len);

/* Takes the lease for replay_id of instance on st. */
replay_lease_result replay_lease_take(replay_lease *l, store *st, const char *dlq_topic,
                                      const char *instance, const char *replay_id,
                                      char *other_instance, size_t oilen, char *other_id,
                                      size_t oidlen, char *err, size_t errlen);

/* Renews when due: 0 (still held), or -1 + err: lost, or not renewed for too long: the
 * replay must stop. Cheap when not due (a clock read). */
int replay_lease_keep(replay_lease *l, char *err, size_t errlen);

/* Releases it if held (a failure is logged: the lease then lapses by itself). */
void replay_lease_release(replay_lease *l);

#endif
