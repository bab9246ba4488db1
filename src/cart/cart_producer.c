/*
 * cart_producer: see the header. Why each setting:
 * - enable.idempotence (implies acks=all and bounded in-flight requests):
 *   retries can neither duplicate nor reorder the events of one orderId.
 * - message.timeout.ms bounds the wait for an acknowledgement, so a client
 *   gets its 503 within DELIVERY_TIMEOUT_MS even with the broker gone.
 *   librdkafka scans for timed-out messages about once a second, so it is set
 *   one second below the configured bound. With every broker down it only
 *   scans when it tries to reconnect, hence reconnect.backoff.max.ms = 1 s
 *   (the default 10 s let a 3 s timeout become 10 s; it also speeds recovery).
 * - max.in.flight.requests.per.connection = 1 (idempotence allows up to 5):
 *   with 3 or more, librdkafka 2.0.2's broker thread busy-polls (poll() with
 *   a zero timeout, about 150,000 calls a second at 20,000 creates/s) while
 *   a ready batch waits for a free request slot, which took a quarter of a
 *   core from a box shared with the broker. With one request in flight the
 *   next batch grows while the last is acknowledged and the thread sleeps;
 *   1 gave more creates/s and a lower p99 than 2 at 64 and 1,000 clients
 *   (bench/profile-notes.md). KAFKA_PROP_* still overrides it, e.g. for many
 *   partitions per broker, whose batches then wait in turn.
 * - A fatal error (the idempotent producer lost its guarantees) cannot be
 *   recovered in place: the handle is purged (every waiting client gets a
 *   503), destroyed and created again, from a timer on the loop thread.
 *   Other HTTP threads send concurrently, so the handle is swapped under a
 *   write lock and every send holds the read lock (uncontended: a few atomic
 *   operations per event).
 */
#include "cart_producer.h"

#include "platform/config.h"
#include "platform/kafka_util.h"
#include "platform/log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define POLL_BATCHES_MAX 64 /* bounds one wake-up so HTTP is not starved */

struct cart_producer {
    struct event_base *base;
    const cart_config *cfg;
    cart_delivery_fn on_delivery;
    cart_brokers_down_fn on_down;
    void *app;
    rd_kafka_t *rk;
    pthread_rwlock_t rk_lock; /* sends read rk; replacing it writes */
    int rk_lock_ok;
    int pipefd[2];
    struct event *wake;
    struct event *tick;
    atomic_long in_flight;
    atomic_int fatal;
    int brokers_down_pending;
    char down_reason[256];
};

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    cart_producer *p = opaque;
    (void)rk;
    atomic_fetch_sub(&p->in_flight, 1);
    const char *topic = m->rkt ? rd_kafka_topic_name(m->rkt) : "";
    int maybe = m->err && rd_kafka_message_status(m) != RD_KAFKA_MSG_STATUS_NOT_PERSISTED;
    p->on_delivery(m->_private, m->err, maybe, topic, m->partition, m->offset, p->app);
}

static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    cart_producer *p = opaque;
    (void)rk;
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        atomic_store(&p->fatal, 1);
        log_msg(LOG_ERROR, "kafka", NULL, "fatal producer error: %s", reason);
        return;
    }
    if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) {
        /* served on the loop thread (we are inside rd_kafka_poll) */
        snprintf(p->down_reason, sizeof p->down_reason, "all brokers down: %s", reason);
        if (p->on_down)
            p->on_down(p->down_reason, p->app);
    }
    log_msg(LOG_WARN, "kafka", NULL, "%s: %s", rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
}

/* Applies KAFKA_PROP_* again, so the operator overrides our settings too. */
static rd_kafka_t *create_handle(cart_producer *p, char *err, size_t errlen)
{
    const cart_config *c = p->cfg;
    char timeout[24], linger[24];
    int t = c->delivery_timeout_ms > 2000 ? c->delivery_timeout_ms - 1000 : 1000;
    snprintf(timeout, sizeof timeout, "%d", t);
    snprintf(linger, sizeof linger, "%d", c->linger_ms);
    const char *const props[][2] = {{"enable.idempotence", "true"},
                                    {"acks", "all"},
                                    {"max.in.flight.requests.per.connection", "1"},
                                    {"linger.ms", linger},
                                    {"message.timeout.ms", timeout},
                                    {"request.timeout.ms", timeout},
                                    {"partitioner", "murmur2_random"},
                                    {"reconnect.backoff.max.ms", "1000"}};
    rd_kafka_conf_t *conf = kafka_conf_new(c->bootstrap, "cart-service", props,
                                           sizeof props / sizeof props[0], err, errlen);
    if (!conf)
        return NULL;
    rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
    rd_kafka_conf_set_error_cb(conf, error_cb);
    rd_kafka_conf_set_opaque(conf, p);
    char e[512];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, e, sizeof e);
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        snprintf(err, errlen, "cannot create the producer: %s", e);
        return NULL;
    }
    rd_kafka_queue_t *q = rd_kafka_queue_get_main(rk);
    rd_kafka_queue_io_event_enable(q, p->pipefd[1], "1", 1);
    rd_kafka_queue_destroy(q);
    return rk;
}

static void serve(cart_producer *p)
{
    for (int i = 0; i < POLL_BATCHES_MAX; i++)
        if (rd_kafka_poll(p->rk, 0) == 0)
            break;
}

/* Purges, serves the reports, destroys; the caller creates a new handle. */
static void drop_handle(cart_producer *p, int timeout_ms)
{
    if (!p->rk)
        return;
    rd_kafka_purge(p->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    for (int waited = 0; atomic_load(&p->in_flight) > 0 && waited < timeout_ms; waited += 100)
        rd_kafka_poll(p->rk, 100);
    if (atomic_load(&p->in_flight) > 0)
        log_msg(LOG_ERROR, "kafka", NULL, "%ld deliveries never reported",
                atomic_load(&p->in_flight));
    rd_kafka_queue_t *q = rd_kafka_queue_get_main(p->rk);
    rd_kafka_queue_io_event_enable(q, -1, NULL, 0);
    rd_kafka_queue_destroy(q);
    rd_kafka_destroy(p->rk);
    p->rk = NULL;
    atomic_store(&p->in_flight, 0);
}

static void on_wake(evutil_socket_t fd, short what, void *arg)
{
    cart_producer *p = arg;
    char buf[256];
    (void)what;
    /* librdkafka writes one byte per wake-up and no more until the queue is
     * served, so one read empties the pipe; a second would only say EAGAIN
     * (one syscall per batch of delivery reports saved) */
    ssize_t n;
    do
        n = read(fd, buf, sizeof buf);
    while (n == (ssize_t)sizeof buf || (n < 0 && errno == EINTR));
    serve(p);
}

/* Only a corrupted lock fails: sending on a handle being destroyed would be worse. */
static void rk_lock_check(int rc, const char *what)
{
    if (rc != 0) {
        log_msg(LOG_ERROR, "kafka", NULL, "producer handle lock (%s): %s", what, strerror(rc));
        abort();
    }
}
static void rk_read_lock(cart_producer *p)
{
    rk_lock_check(pthread_rwlock_rdlock(&p->rk_lock), "read");
}
static void rk_write_lock(cart_producer *p)
{
    rk_lock_check(pthread_rwlock_wrlock(&p->rk_lock), "write");
}
static void rk_unlock(cart_producer *p)
{
    rk_lock_check(pthread_rwlock_unlock(&p->rk_lock), "unlock");
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    cart_producer *p = arg;
    (void)fd;
    (void)what;
    if (atomic_load(&p->fatal)) {
        char e[512];
        rd_kafka_resp_err_t fe = rd_kafka_fatal_error(p->rk, e, sizeof e);
        log_msg(LOG_ERROR, "kafka", NULL, "recreating the producer after fatal error %s: %s",
                rd_kafka_err2name(fe), e);
        rk_write_lock(p);
        drop_handle(p, 2000);
        atomic_store(&p->fatal, 0);
        char err[512] = "";
        p->rk = create_handle(p, err, sizeof err);
        rk_unlock(p);
        if (!p->rk) /* cannot happen with a configuration that worked once */
            log_msg(LOG_ERROR, "kafka", NULL, "cannot recreate the producer: %s", err);
        return;
    }
    /* a safety net in case a wake-up byte was coalesced away */
    if (p->rk)
        serve(p);
}

cart_producer *cart_producer_new(struct event_base *base, const cart_config *cfg,
                                 cart_delivery_fn on_delivery, cart_brokers_down_fn on_down,
                                 void *app, char *err, size_t errlen)
{
    cart_producer *p = calloc(1, sizeof *p);
    if (!p) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    p->base = base;
    p->cfg = cfg;
    p->on_delivery = on_delivery;
    p->on_down = on_down;
    p->app = app;
    atomic_init(&p->in_flight, 0);
    p->pipefd[0] = p->pipefd[1] = -1;
    int rc = pthread_rwlock_init(&p->rk_lock, NULL);
    if (rc != 0) {
        snprintf(err, errlen, "producer lock: %s", strerror(rc));
        free(p);
        return NULL;
    }
    p->rk_lock_ok = 1;
    if (pipe2(p->pipefd, O_NONBLOCK | O_CLOEXEC) != 0) {
        snprintf(err, errlen, "pipe: %s", strerror(errno));
        goto fail;
    }
    err[0] = '\0';
    p->rk = create_handle(p, err, errlen);
    if (!p->rk)
        goto fail;
    p->wake = event_new(base, p->pipefd[0], EV_READ | EV_PERSIST, on_wake, p);
    p->tick = event_new(base, -1, EV_PERSIST, on_tick, p);
    struct timeval tv = {0, 100 * 1000};
    if (!p->wake || !p->tick || event_add(p->wake, NULL) != 0 || event_add(p->tick, &tv) != 0) {
        snprintf(err, errlen, "cannot watch the producer queue");
        goto fail;
    }
    return p;
fail:
    cart_producer_free(p, 0);
    return NULL;
}

static rd_kafka_resp_err_t send_locked(cart_producer *p, const char *topic, const char *key,
                                       size_t keylen, const void *value, size_t len,
                                       const cart_headers *h, void *msg_opaque)
{
    if (!p->rk || atomic_load(&p->fatal))
        return RD_KAFKA_RESP_ERR__FATAL;
    /* librdkafka copies headers into the message either way: building them
     * here costs the same as RD_KAFKA_V_HEADER and allows optional ones. */
    rd_kafka_headers_t *hdrs = NULL;
    if (h && ((h->traceparent && *h->traceparent) || h->idem_len)) {
        hdrs = rd_kafka_headers_new(2);
        if (!hdrs)
            return RD_KAFKA_RESP_ERR__QUEUE_FULL; /* out of memory: a retry can fix it */
        if (h->traceparent && *h->traceparent)
            rd_kafka_header_add(hdrs, "traceparent", -1, h->traceparent, -1);
        if (h->idem_len)
            rd_kafka_header_add(hdrs, "idempotency-key", -1, h->idem_key, (ssize_t)h->idem_len);
    }
    rd_kafka_resp_err_t e;
    if (hdrs)
        e = rd_kafka_producev(p->rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, keylen),
                              RD_KAFKA_V_VALUE((void *)value, len),
                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(hdrs),
                              RD_KAFKA_V_OPAQUE(msg_opaque), RD_KAFKA_V_END);
    else
        e = rd_kafka_producev(p->rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, keylen),
                              RD_KAFKA_V_VALUE((void *)value, len),
                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                              RD_KAFKA_V_OPAQUE(msg_opaque), RD_KAFKA_V_END);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR && hdrs)
        rd_kafka_headers_destroy(hdrs); /* taken over only on success */
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
        atomic_fetch_add(&p->in_flight, 1);
    return e;
}

rd_kafka_resp_err_t cart_producer_send(cart_producer *p, const char *topic, const char *key,
                                       size_t keylen, const void *value, size_t len,
                                       const cart_headers *h, void *msg_opaque)
{
    rk_read_lock(p);
    rd_kafka_resp_err_t e = send_locked(p, topic, key, keylen, value, len, h, msg_opaque);
    rk_unlock(p);
    return e;
}

long cart_producer_in_flight(const cart_producer *p)
{
    return p ? atomic_load(&p->in_flight) : 0;
}

rd_kafka_t *cart_producer_rk(cart_producer *p)
{
    return p->rk;
}

void cart_producer_purge(cart_producer *p)
{
    if (p && p->rk) {
        rd_kafka_purge(p->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        for (int i = 0; i < 20 && atomic_load(&p->in_flight) > 0; i++)
            rd_kafka_poll(p->rk, 50);
    }
}

void cart_producer_free(cart_producer *p, int timeout_ms)
{
    if (!p)
        return;
    if (p->wake)
        event_free(p->wake);
    if (p->tick)
        event_free(p->tick);
    if (p->rk) {
        rd_kafka_resp_err_t e = rd_kafka_flush(p->rk, timeout_ms);
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
            log_msg(LOG_WARN, "kafka", NULL, "flush at shutdown: %s", rd_kafka_err2str(e));
        drop_handle(p, 1000);
    }
    if (p->pipefd[0] >= 0)
        close(p->pipefd[0]);
    if (p->pipefd[1] >= 0)
        close(p->pipefd[1]);
    if (p->rk_lock_ok)
        pthread_rwlock_destroy(&p->rk_lock);
    free(p);
}
