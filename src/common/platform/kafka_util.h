/*
 * kafka_util: what both services need around librdkafka: configuration with
 * logs routed to our logger and KAFKA_PROP_* passthrough, idempotent topic
 * creation through the Admin API, and a broker reachability probe.
 */
#ifndef KAFKA_UTIL_H
#define KAFKA_UTIL_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>

/*
 * A configuration with bootstrap.servers and client.id set, librdkafka's logs
 * sent through log.h, then the service's own props (nprops pairs of key,
 * value; props may be NULL when nprops is 0), and every KAFKA_PROP_* variable
 * applied last (so an operator can override anything, e.g. security.protocol).
 * NULL + err on a bad property.
 */
rd_kafka_conf_t *kafka_conf_new(const char *bootstrap, const char *client_id,
                                const char *const (*props)[2], size_t nprops, char *err,
                                size_t errlen);
/* rd_kafka_conf_set with the error text copied to err. 0 or -1. */
int kafka_conf_set(rd_kafka_conf_t *conf, const char *key, const char *value, char *err,
                   size_t errlen);

typedef struct {
    const char *name;
    int partitions;
    int replication_factor; /* <= 0: auto, see kafka_replication_for */
    long long retention_ms;
    int min_insync_replicas; /* <= 0: auto, see kafka_min_isr_for */
} kafka_topic_spec;

/* The replication factor a topic gets: the configured one, else min(3, brokers). */
int kafka_replication_for(int configured, int brokers);
/*
 * The min.insync.replicas a topic gets: the configured one, else 2 on a
 * cluster of three or more brokers and 1 otherwise, never above the
 * topic's replication factor (a higher value would refuse every acks=all write).
 */
int kafka_min_isr_for(int configured, int brokers, int replication_factor);

/*
 * Creates the topics that do not exist yet (CreateTopics) with their
 * partitions, retention, replication factor and min.insync.replicas (auto
 * values from the number of brokers in the metadata), keeps those that do,
 * and logs a warning when an existing topic's partition count, replication
 * factor or min.insync.replicas (DescribeConfigs) differs from the
 * configuration. Returns 0 when every topic exists afterwards, -1 with err
 * otherwise (the broker unreachable, more replicas asked than brokers, a
 * min.insync.replicas above the replication factor): the caller retries.
 */
int kafka_topics_ensure(rd_kafka_t *rk, const kafka_topic_spec *specs, size_t n, int timeout_ms,
                        char *err, size_t errlen);

/*
 * Wakes the broker thread that fetches topic[partition]: librdkafka 2.0.2
 * stops fetching a partition whose local queue reached its bound and looks
 * at it again only at that thread's next periodic wake-up (2.1's
 * fetch.queue.backoff.ms bounds the wait), so a consumer that drained the
 * queue would sit idle with the backlog on the broker. A watermark query is
 * a small request queued to the partition leader's broker thread, which then
 * fetches too. Waits up to timeout_ms for the answer, which is not needed: a
 * failure changes nothing (the periodic wake-up still comes).
 */
void kafka_wake_fetcher(rd_kafka_t *rk, const char *topic, int32_t partition, int timeout_ms);

/*
 * Partition count of a topic from metadata: > 0, 0 if the topic does not
 * exist, -1 with err if the broker could not be asked.
 */
int kafka_topic_partitions(rd_kafka_t *rk, const char *topic, int timeout_ms, char *err,
                           size_t errlen);

#endif
