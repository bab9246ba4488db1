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

#include "platform/config.h"
#include "platform/log.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* Partition count of each spec'd topic from one metadata call (0: absent). */
static int fetch_partitions(rd_kafka_t *rk, const kafka_topic_spec *specs, size_t n, int *counts,
                            int timeout_ms, char *err, size_t errlen)
{
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 1, NULL, &md, timeout_ms);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(err, errlen, "metadata request failed: %s", rd_kafka_err2str(e));
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        counts[i] = 0;
        for (int t = 0; t < md->topic_cnt; t++) {
            const struct rd_kafka_metadata_topic *mt = &md->topics[t];
            if (strcmp(mt->topic, specs[i].name) == 0 && mt->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
                counts[i] = mt->partition_cnt > 0 ? mt->partition_cnt : 0;
                break;
            }
        }
    }
    rd_kafka_metadata_destroy(md);
    return 0;
}

int kafka_topic_partitions(rd_kafka_t *rk, const char *topic, int timeout_ms, char *err,
                           size_t errlen)
{
    kafka_topic_spec spec = {topic, 0, 0, 0};
    int count = 0;
    if (fetch_partitions(rk, &spec, 1, &count, timeout_ms, err, errlen) != 0)
        return -1;
    return count;
}

/* CreateTopics for the missing ones; "already exists" counts as success. */
static int create_topics(rd_kafka_t *rk, const kafka_topic_spec *specs, const int *counts, size_t n,
                         int timeout_ms, char *err, size_t errlen)
{
    rd_kafka_NewTopic_t *nts[16];
    size_t cnt = 0;
    int rc = -1;
    rd_kafka_queue_t *q = NULL;
    rd_kafka_AdminOptions_t *opt = NULL;
    rd_kafka_event_t *ev = NULL;
    char e[512];

    for (size_t i = 0; i < n; i++) {
        if (counts[i] > 0)
            continue;
        if (cnt == sizeof nts / sizeof nts[0]) {
            snprintf(err, errlen, "too many topics to create at once");
            goto out;
        }
        rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(specs[i].name, specs[i].partitions,
                                                        specs[i].replication_factor, e, sizeof e);
        if (!nt) {
            snprintf(err, errlen, "topic %s: %s", specs[i].name, e);
            goto out;
        }
        nts[cnt++] = nt;
        char ret[32];
        snprintf(ret, sizeof ret, "%lld", specs[i].retention_ms);
        if (rd_kafka_NewTopic_set_config(nt, "retention.ms", ret) != RD_KAFKA_RESP_ERR_NO_ERROR) {
            snprintf(err, errlen, "topic %s: cannot set retention.ms", specs[i].name);
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
    /* the request times out on its own; the margin only covers scheduling */
    ev = rd_kafka_queue_poll(q, timeout_ms + 2000);
    if (!ev) {
        snprintf(err, errlen, "CreateTopics: no answer within %d ms", timeout_ms);
        goto out;
    }
    if (rd_kafka_event_error(ev) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(err, errlen, "CreateTopics: %s", rd_kafka_event_error_string(ev));
        goto out;
    }
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
            log_msg(LOG_INFO, "kafka", NULL, "created topic %s", name);
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

int kafka_topics_ensure(rd_kafka_t *rk, const kafka_topic_spec *specs, size_t n, int timeout_ms,
                        char *err, size_t errlen)
{
    int counts[16], before[16];
    if (n > sizeof counts / sizeof counts[0]) {
        snprintf(err, errlen, "too many topics");
        return -1;
    }
    if (fetch_partitions(rk, specs, n, before, timeout_ms, err, errlen) != 0)
        return -1;
    if (create_topics(rk, specs, before, n, timeout_ms, err, errlen) != 0)
        return -1;
    /* Check what is there now: created, pre-existing, or created by a racing peer. */
    if (fetch_partitions(rk, specs, n, counts, timeout_ms, err, errlen) != 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (counts[i] == 0) {
            snprintf(err, errlen, "topic %s not visible in metadata yet", specs[i].name);
            return -1;
        }
        if (before[i] > 0)
            log_msg(LOG_INFO, "kafka", NULL, "topic %s already exists (%d partitions)",
                    specs[i].name, counts[i]);
        if (counts[i] != specs[i].partitions)
            log_msg(LOG_WARN, "kafka", NULL,
                    "topic %s has %d partitions, configuration asks for %d; keeping it",
                    specs[i].name, counts[i], specs[i].partitions);
    }
    return 0;
}
