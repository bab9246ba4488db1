/*
 * kafka_util: the librdkafka plumbing both services share.
 *
 * Why: configuration must look the same in both services (logs through our
 * JSON logger, operator overrides through KAFKA_PROP_* applied last), and
 * topics must exist because the services created them (the broker has
 * auto-creation off): CreateTopics is idempotent here by treating "already
 * exists" as success, so two services racing at start-up both succeed.
 */
#include "platform/kafka_util.h"

#include "platform/clock.h"
#include "platform/config.h"
#include "platform/log.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk;
    log_msg(log_level_from_syslog(level), "kafka", NULL, "%s: %s", fac, buf);
}

int kafka_conf_set(rd_kafka_conf_t *conf, const char *key, const char *value, char *err,
                   size_t errlen)
{
    char e[512];
    if (rd_kafka_conf_set(conf, key, value, e, sizeof e) != RD_KAFKA_CONF_OK) {
        snprintf(err, errlen, "kafka property %s: %s", key, e);
        return -1;
    }
    return 0;
}

typedef struct {
    rd_kafka_conf_t *conf;
    char *err;
    size_t errlen;
} prop_ctx;

static int apply_prop(const char *key, const char *value, void *arg)
{
    prop_ctx *p = arg;
    return kafka_conf_set(p->conf, key, value, p->err, p->errlen) == 0 ? 0 : -1;
}

rd_kafka_conf_t *kafka_conf_new(const char *bootstrap, const char *client_id,
                                const char *const (*props)[2], size_t nprops, char *err,
                                size_t errlen)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (!conf) {
        snprintf(err, errlen, "rd_kafka_conf_new failed");
        return NULL;
    }
    rd_kafka_conf_set_log_cb(conf, kafka_log_cb);
    prop_ctx p = {conf, err, errlen};
    if (kafka_conf_set(conf, "bootstrap.servers", bootstrap, err, errlen) != 0 ||
        kafka_conf_set(conf, "client.id", client_id, err, errlen) != 0) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    for (size_t i = 0; i < nprops; i++) {
        if (kafka_conf_set(conf, props[i][0], props[i][1], err, errlen) != 0) {
            rd_kafka_conf_destroy(conf);
            return NULL;
        }
    }
    /* last, so an operator's KAFKA_PROP_* overrides the service's defaults */
    if (config_each_kafka_prop(apply_prop, &p) != 0) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    return conf;
}

/* What metadata says about one spec'd topic. */
typedef struct {
    int partitions; /* 0: absent */
    int replicas;   /* replicas of its first partition (the replication factor) */
} topic_state;

/*
 * One metadata call: the state of each spec'd topic and how many brokers the
 * cluster has (what the auto replication settings are derived from).
 */
static int fetch_state(rd_kafka_t *rk, const kafka_topic_spec *specs, size_t n, topic_state *st,
                       int *brokers, int timeout_ms, char *err, size_t errlen)
{
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 1, NULL, &md, timeout_ms);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(err, errlen, "metadata request failed: %s", rd_kafka_err2str(e));
        return -1;
    }
    if (brokers)
        *brokers = md->broker_cnt;
    for (size_t i = 0; i < n; i++) {
        st[i].partitions = 0;
        st[i].replicas = 0;
        for (int t = 0; t < md->topic_cnt; t++) {
            const struct rd_kafka_metadata_topic *mt = &md->topics[t];
            if (strcmp(mt->topic, specs[i].name) == 0 && mt->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
                st[i].partitions = mt->partition_cnt > 0 ? mt->partition_cnt : 0;
                if (mt->partition_cnt > 0)
                    st[i].replicas = mt->partitions[0].replica_cnt;
                break;
            }
        }
    }
    rd_kafka_metadata_destroy(md);
    return 0;
}

void kafka_wake_fetcher(rd_kafka_t *rk, const char *topic, int32_t partition, int timeout_ms)
{
    int64_t lo, hi;
    (void)rd_kafka_query_watermark_offsets(rk, topic, partition, &lo, &hi, timeout_ms);
}

int kafka_topic_partitions(rd_kafka_t *rk, const char *topic, int timeout_ms, char *err,
                           size_t errlen)
{
    kafka_topic_spec spec = {topic, 0, 0, 0, 0};
    topic_state st;
    if (fetch_state(rk, &spec, 1, &st, NULL, timeout_ms, err, errlen) != 0)
        return -1;
    return st.partitions;
}

int kafka_replication_for(int configured, int brokers)
{
    if (configured > 0)
        return configured;
    if (brokers >= 3)
        return 3;
    return brokers > 0 ? brokers : 1;
}

int kafka_min_isr_for(int configured, int brokers, int replication_factor)
{
    if (configured > 0)
        return configured;
    int m = brokers >= 3 ? 2 : 1;
    return m < replication_factor ? m : replication_factor;
}

/* The settings a topic gets, resolved against the cluster's size. */
typedef struct {
    int replication;
    int min_isr;
} topic_want;

/*
 * The answer to one admin request on q, or NULL with err set (no answer, or
 * a request-level error); a non-NULL event is the caller's to destroy. The
 * request times out on its own; the margin only covers scheduling.
 */
static rd_kafka_event_t *admin_result(rd_kafka_queue_t *q, const char *what, int timeout_ms,
                                      char *err, size_t errlen)
{
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, timeout_ms + 2000);
    if (!ev) {
        snprintf(err, errlen, "%s: no answer within %d ms", what, timeout_ms);
        return NULL;
    }
    if (rd_kafka_event_error(ev) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(err, errlen, "%s: %s", what, rd_kafka_event_error_string(ev));
        rd_kafka_event_destroy(ev);
        return NULL;
    }
    return ev;
}

/* CreateTopics for the missing ones; "already exists" counts as success. */
static int create_topics(rd_kafka_t *rk, const kafka_topic_spec *specs, const topic_state *st,
                         const topic_want *want, size_t n, int timeout_ms, char *err, size_t errlen)
{
    rd_kafka_NewTopic_t *nts[16];
    size_t cnt = 0;
    int rc = -1;
    rd_kafka_queue_t *q = NULL;
    rd_kafka_AdminOptions_t *opt = NULL;
    rd_kafka_event_t *ev = NULL;
    char e[512];

    for (size_t i = 0; i < n; i++) {
        if (st[i].partitions > 0)
            continue;
        if (cnt == sizeof nts / sizeof nts[0]) {
            snprintf(err, errlen, "too many topics to create at once");
            goto out;
        }
        /* Kafka would accept it, and then refuse every acks=all write to it */
        if (want[i].min_isr > want[i].replication) {
            snprintf(err, errlen,
                     "topic %s: min.insync.replicas %d is above the replication factor %d "
                     "(TOPIC_MIN_INSYNC_REPLICAS, TOPIC_REPLICATION_FACTOR)",
                     specs[i].name, want[i].min_isr, want[i].replication);
            goto out;
        }
        rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(specs[i].name, specs[i].partitions,
                                                        want[i].replication, e, sizeof e);
        if (!nt) {
            snprintf(err, errlen, "topic %s: %s", specs[i].name, e);
            goto out;
        }
        nts[cnt++] = nt;
        char ret[32], isr[16];
        snprintf(ret, sizeof ret, "%lld", specs[i].retention_ms);
        snprintf(isr, sizeof isr, "%d", want[i].min_isr);
        if (rd_kafka_NewTopic_set_config(nt, "retention.ms", ret) != RD_KAFKA_RESP_ERR_NO_ERROR ||
            rd_kafka_NewTopic_set_config(nt, "min.insync.replicas", isr) !=
                RD_KAFKA_RESP_ERR_NO_ERROR) {
            snprintf(err, errlen, "topic %s: cannot set retention.ms / min.insync.replicas",
                     specs[i].name);
            goto out;
        }
    }
    if (cnt == 0)
        return 0;

    q = rd_kafka_queue_new(rk);
    opt = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    if (!q || !opt ||
        rd_kafka_AdminOptions_set_operation_timeout(opt, timeout_ms, e, sizeof e) != 0 ||
        rd_kafka_AdminOptions_set_request_timeout(opt, timeout_ms, e, sizeof e) != 0) {
        snprintf(err, errlen, "admin options: %s", q && opt ? e : "out of memory");
        goto out;
    }
    rd_kafka_CreateTopics(rk, nts, cnt, opt, q);
    if (!(ev = admin_result(q, "CreateTopics", timeout_ms, err, errlen)))
        goto out;
    const rd_kafka_CreateTopics_result_t *res = rd_kafka_event_CreateTopics_result(ev);
    size_t rn = 0;
    const rd_kafka_topic_result_t **tr = res ? rd_kafka_CreateTopics_result_topics(res, &rn) : NULL;
    for (size_t i = 0; i < rn; i++) {
        rd_kafka_resp_err_t te = rd_kafka_topic_result_error(tr[i]);
        const char *name = rd_kafka_topic_result_name(tr[i]);
        if (te == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
            log_msg(LOG_INFO, "kafka", NULL, "topic %s already exists", name);
        } else if (te != RD_KAFKA_RESP_ERR_NO_ERROR) {
            const char *es = rd_kafka_topic_result_error_string(tr[i]);
            snprintf(err, errlen, "cannot create topic %s: %s", name,
                     es ? es : rd_kafka_err2str(te));
            goto out;
        } else {
            for (size_t k = 0; k < n; k++)
                if (strcmp(specs[k].name, name) == 0)
                    log_msg(LOG_INFO, "kafka", NULL,
                            "created topic %s: %d partitions, replication factor %d, "
                            "min.insync.replicas %d",
                            name, specs[k].partitions, want[k].replication, want[k].min_isr);
        }
    }
    rc = 0;
out:
    if (ev)
        rd_kafka_event_destroy(ev);
    if (opt)
        rd_kafka_AdminOptions_destroy(opt);
    if (q)
        rd_kafka_queue_destroy(q);
    for (size_t i = 0; i < cnt; i++)
        rd_kafka_NewTopic_destroy(nts[i]);
    return rc;
}

/*
 * min.insync.replicas of each topic with check[i] set (DescribeConfigs), into
 * isr[i]; 0 where the broker did not say. Only used to log a difference, so
 * a failure is reported to the caller but does not fail the topic check.
 */
static int describe_min_isr(rd_kafka_t *rk, const kafka_topic_spec *specs, const int *check,
                            size_t n, int *isr, int timeout_ms, char *err, size_t errlen)
{
    rd_kafka_ConfigResource_t *res[16];
    size_t cnt = 0;
    int rc = -1;
    rd_kafka_queue_t *q = NULL;
    rd_kafka_AdminOptions_t *opt = NULL;
    rd_kafka_event_t *ev = NULL;
    char e[512];

    for (size_t i = 0; i < n; i++) {
        isr[i] = 0;
        if (!check[i] || cnt == sizeof res / sizeof res[0])
            continue;
        res[cnt] = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, specs[i].name);
        if (!res[cnt]) {
            snprintf(err, errlen, "DescribeConfigs %s: out of memory", specs[i].name);
            goto out;
        }
        cnt++;
    }
    if (cnt == 0)
        return 0;
    q = rd_kafka_queue_new(rk);
    opt = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS);
    if (!q || !opt ||
        rd_kafka_AdminOptions_set_request_timeout(opt, timeout_ms, e, sizeof e) != 0) {
        snprintf(err, errlen, "admin options: %s", q && opt ? e : "out of memory");
        goto out;
    }
    rd_kafka_DescribeConfigs(rk, res, cnt, opt, q);
    if (!(ev = admin_result(q, "DescribeConfigs", timeout_ms, err, errlen)))
        goto out;
    const rd_kafka_DescribeConfigs_result_t *dr = rd_kafka_event_DescribeConfigs_result(ev);
    size_t rn = 0;
    const rd_kafka_ConfigResource_t **rr =
        dr ? rd_kafka_DescribeConfigs_result_resources(dr, &rn) : NULL;
    for (size_t r = 0; r < rn; r++) {
        const char *name = rd_kafka_ConfigResource_name(rr[r]);
        if (rd_kafka_ConfigResource_error(rr[r]) != RD_KAFKA_RESP_ERR_NO_ERROR) {
            const char *es = rd_kafka_ConfigResource_error_string(rr[r]);
            snprintf(err, errlen, "DescribeConfigs %s: %s", name,
                     es ? es : rd_kafka_err2str(rd_kafka_ConfigResource_error(rr[r])));
            goto out;
        }
        size_t en = 0;
        const rd_kafka_ConfigEntry_t **entries = rd_kafka_ConfigResource_configs(rr[r], &en);
        for (size_t k = 0; k < en; k++) {
            const char *v = rd_kafka_ConfigEntry_value(entries[k]);
            if (strcmp(rd_kafka_ConfigEntry_name(entries[k]), "min.insync.replicas") != 0 || !v)
                continue;
            for (size_t i = 0; i < n; i++)
                if (check[i] && strcmp(specs[i].name, name) == 0)
                    isr[i] = atoi(v);
        }
    }
    rc = 0;
out:
    if (ev)
        rd_kafka_event_destroy(ev);
    if (opt)
        rd_kafka_AdminOptions_destroy(opt);
    if (q)
        rd_kafka_queue_destroy(q);
    for (size_t i = 0; i < cnt; i++)
        rd_kafka_ConfigResource_destroy(res[i]);
    return rc;
}

/* " (auto, N brokers)" after a value that came from "auto", else nothing */
static const char *auto_note(int configured, int brokers, char *buf, size_t len)
{
    if (configured > 0)
        return "";
    snprintf(buf, len, " (auto, %d broker%s)", brokers, brokers == 1 ? "" : "s");
    return buf;
}

int kafka_topics_ensure(rd_kafka_t *rk, const kafka_topic_spec *specs, size_t n, int timeout_ms,
                        char *err, size_t errlen)
{
    topic_state before[16], now[16];
    topic_want want[16];
    int existed[16], isr[16], brokers = 0;
    if (n > sizeof now / sizeof now[0]) {
        snprintf(err, errlen, "too many topics");
        return -1;
    }
    if (fetch_state(rk, specs, n, before, &brokers, timeout_ms, err, errlen) != 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        want[i].replication = kafka_replication_for(specs[i].replication_factor, brokers);
        want[i].min_isr =
            kafka_min_isr_for(specs[i].min_insync_replicas, brokers, want[i].replication);
        existed[i] = before[i].partitions > 0;
    }
    if (create_topics(rk, specs, before, want, n, timeout_ms, err, errlen) != 0)
        return -1;
    /*
     * Check what is there now: created, pre-existing, or created by a racing
     * peer. A topic that CreateTopics just acknowledged can take a moment to
     * reach the broker's metadata cache (KRaft propagates it asynchronously,
     * slower on a loaded machine), so poll until the deadline, not once.
     */
    int64_t deadline = clock_mono_ms() + timeout_ms;
    for (;;) {
        if (fetch_state(rk, specs, n, now, NULL, timeout_ms, err, errlen) != 0)
            return -1;
        size_t visible = 0;
        for (size_t i = 0; i < n; i++)
            visible += now[i].partitions > 0;
        if (visible == n || clock_mono_ms() >= deadline)
            break;
        struct timespec pause = {0, 100 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
    char derr[512] = "";
    if (describe_min_isr(rk, specs, existed, n, isr, timeout_ms, derr, sizeof derr) != 0)
        log_msg(LOG_WARN, "kafka", NULL, "cannot read min.insync.replicas back: %s", derr);
    for (size_t i = 0; i < n; i++) {
        char note[48];
        if (now[i].partitions == 0) {
            snprintf(err, errlen, "topic %s not visible in metadata yet", specs[i].name);
            return -1;
        }
        if (existed[i])
            log_msg(LOG_INFO, "kafka", NULL,
                    "topic %s already exists (%d partitions, replication factor %d)", specs[i].name,
                    now[i].partitions, now[i].replicas);
        if (now[i].partitions != specs[i].partitions)
            log_msg(LOG_WARN, "kafka", NULL,
                    "topic %s has %d partitions, configuration asks for %d; keeping it",
                    specs[i].name, now[i].partitions, specs[i].partitions);
        if (now[i].replicas != want[i].replication)
            log_msg(LOG_WARN, "kafka", NULL,
                    "topic %s has replication factor %d, configuration asks for %d%s; keeping it",
                    specs[i].name, now[i].replicas, want[i].replication,
                    auto_note(specs[i].replication_factor, brokers, note, sizeof note));
        if (isr[i] > 0 && isr[i] != want[i].min_isr)
            log_msg(LOG_WARN, "kafka", NULL,
                    "topic %s has min.insync.replicas %d, configuration asks for %d%s; "
                    "keeping it",
                    specs[i].name, isr[i], want[i].min_isr,
                    auto_note(specs[i].min_insync_replicas, brokers, note, sizeof note));
    }
    return 0;
}
