/*
 * replay_lease: the cross-instance replay lock (see replay_lease.h).
 */
#include "replay/replay_lease.h"

#include "platform/clock.h"
#include "platform/log.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

void replay_lease_instance(char *buf, size_t len)
{
    char host[65] = "";
    if (gethostname(host, sizeof host - 1) != 0 || !host[0])
        snprintf(host, sizeof host, "unknown-host");
    host[sizeof host - 1] = '\0';
    snprintf(buf, len, "%s:%ld", host, (long)getpid());
}

/* Splits "<instance>/<replay id>" at its last '/'. */
static void replay_lease_split(const char *holder, char *inst, size_t ilen, char *id, size_t idlen)
{
    const char *slash = strrchr(holder, '/');
    if (!slash) {
        snprintf(inst, ilen, "%s", holder);
        snprintf(id, idlen, "%s", "");
        return;
    }
    snprintf(inst, ilen, "%.*s", (int)(slash - holder), holder);
    snprintf(id, idlen, "%s", slash + 1);
}

replay_lease_result replay_lease_take(replay_lease *l, store *st, const char *dlq_topic,
                                      const char *instance, const char *replay_id,
                                      char *other_instance, size_t oilen, char *other_id,
                                      size_t oidlen, char *err, size_t errlen)
{
    memset(l, 0, sizeof *l);
    l->st = st;
    snprintf(l->name, sizeof l->name, "dlq-replay:%s", dlq_topic);
    snprintf(l->holder, sizeof l->holder, "%s/%s", instance, replay_id);
    store_lease got;
    store_status s =
        store_lease_take(st, l->name, l->holder, REPLAY_LEASE_TTL_MS, &got, err, errlen);
    if (s != STORE_OK)
        return REPLAY_LEASE_ERROR;
    if (!got.held) {
        replay_lease_split(got.holder, other_instance, oilen, other_id, oidlen);
        return REPLAY_LEASE_BUSY;
    }
    l->held = 1;
    l->renewed_ms = l->tried_ms = clock_mono_ms();
    return REPLAY_LEASE_TAKEN;
}

int replay_lease_keep(replay_lease *l, char *err, size_t errlen)
{
    if (!l->held) {
        snprintf(err, errlen, "the replay lease is not held");
        return -1;
    }
    int64_t now = clock_mono_ms();
    /* After a failed attempt, again a second later: a store that fails fast is not hammered. */
    int64_t wait = l->tried_ms == l->renewed_ms ? REPLAY_LEASE_RENEW_MS : 1000;
    if (now - l->tried_ms < wait)
        return 0;
    l->tried_ms = now;
    store_lease got;
    char serr[256] = "";
    store_status s =
        store_lease_take(l->st, l->name, l->holder, REPLAY_LEASE_TTL_MS, &got, serr, sizeof serr);
    if (s == STORE_OK && got.held) {
        l->renewed_ms = now; /* the lease runs from no earlier than the attempt's start */
        return 0;
    }
    if (s == STORE_OK) {
        l->held = 0;
        snprintf(err, errlen, "the replay lease was lost to %s (not renewed within %d ms)",
                 got.holder, REPLAY_LEASE_TTL_MS);
        return -1;
    }
    if (now - l->renewed_ms >= 2 * REPLAY_LEASE_RENEW_MS) {
        snprintf(err, errlen,
                 "the replay lease could not be renewed for %lld ms (%s): stopped before it "
                 "lapses",
                 (long long)(now - l->renewed_ms), serr);
        return -1;
    }
    log_msg(LOG_WARN, "replay", NULL, "renewing the replay lease: %s (retried)", serr);
    return 0;
}

void replay_lease_release(replay_lease *l)
{
    if (!l->held)
        return;
    l->held = 0;
    char err[256] = "";
    if (store_lease_release(l->st, l->name, l->holder, err, sizeof err) != STORE_OK)
        log_msg(LOG_WARN, "replay", NULL,
                "releasing the replay lease: %s (it lapses by itself within %d ms)", err,
                REPLAY_LEASE_TTL_MS);
}
