/*
 * cart_bootstrap: see the header. The thread owns its own Kafka client (for
 * the Admin API and metadata probes) and registry client, so nothing here
 * touches the producer that the event loop owns. State is a small struct
 * under a mutex; readers copy it out.
 */
#include "cart_bootstrap.h"

#include "platform/kafka_util.h"
#include "platform/log.h"
#include "event/schema_registry.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BACKOFF_MIN_MS 250
#define BACKOFF_MAX_MS 5000
#define PROBE_EVERY_MS 3000
#define KAFKA_OP_TIMEOUT_MS 3000
#define REGISTRY_TIMEOUT_MS 3000

struct cart_bootstrap {
    const cart_config *cfg;
    char *schema_json;
    char subject[300];
    pthread_t tid;
    int started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;
    cart_status st;
};

static void set_state(cart_bootstrap *b, int topics, uint32_t id, int kafka_ok, const char *reason)
{
    pthread_mutex_lock(&b->mu);
    if (topics >= 0)
        b->st.topics_ready = topics;
    if (id)
        b->st.schema_id = id;
    if (kafka_ok >= 0)
        b->st.kafka_ok = kafka_ok;
    if (reason)
        snprintf(b->st.reason, sizeof b->st.reason, "%s", reason);
    pthread_mutex_unlock(&b->mu);
}

void cart_bootstrap_status(cart_bootstrap *b, cart_status *out)
{
    pthread_mutex_lock(&b->mu);
    *out = b->st;
    pthread_mutex_unlock(&b->mu);
}

void cart_bootstrap_kafka_down(cart_bootstrap *b, const char *reason)
{
    set_state(b, -1, 0, 0, reason);
}

void cart_bootstrap_kafka_up(cart_bootstrap *b)
{
    pthread_mutex_lock(&b->mu);
    if (!b->st.kafka_ok) {
        b->st.kafka_ok = 1;
        if (b->st.topics_ready && b->st.schema_id)
            b->st.reason[0] = '\0';
    }
    pthread_mutex_unlock(&b->mu);
}

/* Sleeps up to ms unless stopped; returns 1 if stopping. */
static int wait_ms(cart_bootstrap *b, int ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&b->mu);
    while (!b->stop && pthread_cond_timedwait(&b->cv, &b->mu, &ts) == 0)
        ;
    int stop = b->stop;
    pthread_mutex_unlock(&b->mu);
    return stop;
}

static rd_kafka_t *admin_client(const cart_config *cfg, char *err, size_t errlen)
{
    rd_kafka_conf_t *conf =
        kafka_conf_new(cfg->bootstrap, "cart-service-admin", NULL, 0, err, errlen);
    if (!conf)
        return NULL;
    char e[512];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, e, sizeof e);
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        snprintf(err, errlen, "admin client: %s", e);
    }
    return rk;
}

static void *bootstrap_main(void *arg)
{
    cart_bootstrap *b = arg;
    const cart_config *c = b->cfg;
    char err[512];
    rd_kafka_t *rk = admin_client(c, err, sizeof err);
    sr_client *sr = sr_client_new(c->registry_url, REGISTRY_TIMEOUT_MS, err, sizeof err);
    if (!rk || !sr) {
        log_msg(LOG_ERROR, "bootstrap", NULL, "cannot start: %s", err);
        set_state(b, -1, 0, -1, err);
        goto out;
    }
    kafka_topic_spec specs[2] = {
        {c->topic, c->partitions, c->replication_factor, c->retention_ms, c->min_insync_replicas},
        {c->dlq_topic, c->dlq_partitions, c->replication_factor, c->dlq_retention_ms,
         c->min_insync_replicas},
    };
    int topics_ok = 0;
    uint32_t schema_id = 0;
    int backoff = BACKOFF_MIN_MS;
    int url_wrong_said = 0;
    while (!topics_ok || !schema_id) {
        char why[1024] = "";
        if (!topics_ok) {
            if (kafka_topics_ensure(rk, specs, 2, KAFKA_OP_TIMEOUT_MS, err, sizeof err) == 0) {
                topics_ok = 1;
                set_state(b, 1, 0, 1, NULL);
                log_msg(LOG_INFO, "bootstrap", NULL, "topics %s and %s ready", c->topic,
                        c->dlq_topic);
            } else {
                snprintf(why, sizeof why, "kafka: %s", err);
                set_state(b, -1, 0, 0, NULL);
            }
        }
        if (!schema_id) {
            sr_status s = sr_register(sr, b->subject, b->schema_json, &schema_id, err, sizeof err);
            if (s == SR_OK) {
                set_state(b, -1, schema_id, -1, NULL);
                log_msg(LOG_INFO, "bootstrap", NULL, "schema registered under %s with id %u",
                        b->subject, schema_id);
            } else {
                schema_id = 0;
                /* A wrong URL is said once, as an error, naming the URL (not the password). */
                if (s == SR_NOT_REGISTRY && !url_wrong_said) {
                    log_msg(LOG_ERROR, "bootstrap", NULL,
                            "SCHEMA_REGISTRY_URL does not answer as the registry API: %s", err);
                    url_wrong_said = 1;
                }
                if (!why[0])
                    snprintf(why, sizeof why, "schema registry: schema not registered yet (%s): %s",
                             sr_status_name(s), err);
            }
        }
        if (topics_ok && schema_id) {
            set_state(b, -1, 0, -1, "");
            break;
        }
        set_state(b, -1, 0, -1, why);
        log_msg(LOG_WARN, "bootstrap", NULL, "not ready, retrying in %d ms: %s", backoff, why);
        if (wait_ms(b, backoff))
            goto out;
        backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
    }
    /* Reachability probe for /health; the loop never blocks on the network. */
    while (!wait_ms(b, PROBE_EVERY_MS)) {
        int n = kafka_topic_partitions(rk, c->topic, KAFKA_OP_TIMEOUT_MS, err, sizeof err);
        if (n > 0) {
            cart_bootstrap_kafka_up(b);
        } else {
            char why[600];
            if (n == 0)
                snprintf(why, sizeof why, "kafka: topic %s does not exist", c->topic);
            else
                snprintf(why, sizeof why, "kafka unreachable: %s", err);
            cart_bootstrap_kafka_down(b, why);
        }
    }
out:
    if (sr)
        sr_client_free(sr);
    if (rk)
        rd_kafka_destroy(rk);
    return NULL;
}

cart_bootstrap *cart_bootstrap_start(const cart_config *cfg, const char *schema_json, char *err,
                                     size_t errlen)
{
    cart_bootstrap *b = calloc(1, sizeof *b);
    if (!b || !(b->schema_json = strdup(schema_json))) {
        free(b);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    b->cfg = cfg;
    snprintf(b->subject, sizeof b->subject, "%s-value", cfg->topic);
    snprintf(b->st.reason, sizeof b->st.reason, "starting: topics and schema not ready yet");
    pthread_mutex_init(&b->mu, NULL);
    pthread_cond_init(&b->cv, NULL);
    int rc = pthread_create(&b->tid, NULL, bootstrap_main, b);
    if (rc != 0) {
        snprintf(err, errlen, "pthread_create: %s", strerror(rc));
        cart_bootstrap_stop(b);
        return NULL;
    }
    b->started = 1;
    return b;
}

void cart_bootstrap_stop(cart_bootstrap *b)
{
    if (!b)
        return;
    if (b->started) {
        pthread_mutex_lock(&b->mu);
        b->stop = 1;
        pthread_cond_broadcast(&b->cv);
        pthread_mutex_unlock(&b->mu);
        pthread_join(b->tid, NULL);
    }
    pthread_mutex_destroy(&b->mu);
    pthread_cond_destroy(&b->cv);
    free(b->schema_json);
    free(b);
}
