/*
 * loader: preloads a topic with valid OrderEvent CREATEs for the benchmarks
 * (consumer catch-up, order-details reads, getAllOrderIdsFromTopic), encoded
 * with the project's own codec and schema registry client, so the events are
 * byte-for-byte what cart-service would write.
 *
 * usage: loader BOOTSTRAP REGISTRY_URL TOPIC COUNT ID_PREFIX
 * The topic is created (3 partitions) if it does not exist.
 * Order ids are ID_PREFIX0 .. ID_PREFIX<COUNT-1>; each order has 3 items, and
 * every field has the width cart-service's generator gives it (CUST-%06d,
 * ITEM-%05d), so an event has the size of a create-order's: `make bench` uses
 * the loader's rate as this box's produce ceiling. It prints the mean size.
 */
#include "event/avro_codec.h"
#include "platform/kafka_util.h"
#include "event/order_schema.h"
#include "event/schema_registry.h"

#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static long loader_failed;

static void loader_dr(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    (void)opaque;
    if (m->err)
        loader_failed++;
}

static void loader_fill(order_event *ev, const char *prefix, long i, int64_t now_ms)
{
    memset(ev, 0, sizeof *ev);
    ev->type = ORDER_EVENT_CREATE;
    snprintf(ev->order_id, sizeof ev->order_id, "%s%ld", prefix, i);
    ev->timestamp_ms = now_ms;
    snprintf(ev->customer_id, sizeof ev->customer_id, "CUST-%06ld", i % 1000000);
    snprintf(ev->order_date, sizeof ev->order_date, "2026-11-25T12:00:00.000Z");
    ev->item_count = 3;
    ev->total_cents = 0;
    for (size_t k = 0; k < ev->item_count; k++) {
        order_item *it = &ev->items[k];
        snprintf(it->item_id, sizeof it->item_id, "ITEM-%05ld", (i + (long)k) % 100000);
        it->quantity = (int32_t)(1 + (i + (long)k) % 5);
        it->price_cents = 199 + ((i * 7 + (long)k * 13) % 10000);
        ev->total_cents += it->quantity * it->price_cents;
    }
    snprintf(ev->currency, sizeof ev->currency, "USD");
    snprintf(ev->status, sizeof ev->status, "new");
}

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: %s BOOTSTRAP REGISTRY_URL TOPIC COUNT ID_PREFIX\n", argv[0]);
        return 2;
    }
    const char *bootstrap = argv[1], *registry = argv[2], *topic = argv[3], *prefix = argv[5];
    long count = strtol(argv[4], NULL, 10);
    if (count <= 0) {
        fprintf(stderr, "COUNT must be > 0\n");
        return 2;
    }
    char err[512];
    codec *c = codec_new(order_schema_json, err, sizeof err);
    if (!c) {
        fprintf(stderr, "codec: %s\n", err);
        return 1;
    }
    sr_client *sr = sr_client_new(registry, 10000, err, sizeof err);
    if (!sr) {
        fprintf(stderr, "registry: %s\n", err);
        return 1;
    }
    char subject[300];
    snprintf(subject, sizeof subject, "%s-value", topic);
    uint32_t id = 0;
    if (sr_register(sr, subject, codec_reader_schema_json(c), &id, err, sizeof err) != SR_OK) {
        fprintf(stderr, "register: %s\n", err);
        return 1;
    }
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    const char *props[][2] = {{"bootstrap.servers", bootstrap},
                              {"enable.idempotence", "true"},
                              {"acks", "all"},
                              {"linger.ms", "20"},
                              {"batch.size", "1000000"},
                              {"queue.buffering.max.messages", "1000000"},
                              {"queue.buffering.max.kbytes", "1048576"},
                              {"compression.type", "lz4"}};
    for (size_t i = 0; i < sizeof props / sizeof props[0]; i++) {
        if (rd_kafka_conf_set(conf, props[i][0], props[i][1], err, sizeof err) !=
            RD_KAFKA_CONF_OK) {
            fprintf(stderr, "%s: %s\n", props[i][0], err);
            return 1;
        }
    }
    rd_kafka_conf_set_dr_msg_cb(conf, loader_dr);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (!rk) {
        fprintf(stderr, "producer: %s\n", err);
        return 1;
    }
    /* Auto-creation is off on our brokers: the topic is made like the services make theirs. */
    const kafka_topic_spec spec = {.name = topic,
                                   .partitions = 3,
                                   .replication_factor = 1,
                                   .retention_ms = 7LL * 24 * 3600 * 1000};
    if (kafka_topics_ensure(rk, &spec, 1, 30000, err, sizeof err) != 0) {
        fprintf(stderr, "topic: %s\n", err);
        return 1;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int64_t now_ms = (int64_t)time(NULL) * 1000;
    static order_event ev;
    uint8_t buf[CODEC_MAX_ENCODED];
    double bytes = 0;
    for (long i = 0; i < count; i++) {
        loader_fill(&ev, prefix, i, now_ms);
        size_t len = 0;
        if (codec_encode(c, id, &ev, buf, sizeof buf, &len, err, sizeof err) != CODEC_OK) {
            fprintf(stderr, "encode: %s\n", err);
            return 1;
        }
        bytes += (double)len;
        for (;;) {
            rd_kafka_resp_err_t e = rd_kafka_producev(
                rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(ev.order_id, strlen(ev.order_id)),
                RD_KAFKA_V_VALUE(buf, len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                RD_KAFKA_V_END);
            if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
                break;
            if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                fprintf(stderr, "produce: %s\n", rd_kafka_err2str(e));
                return 1;
            }
            rd_kafka_poll(rk, 10);
        }
        rd_kafka_poll(rk, 0);
    }
    if (rd_kafka_flush(rk, 120000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        fprintf(stderr, "flush timed out\n");
        return 1;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("loaded %ld events into %s in %.2f s (%.0f/s), %ld failed, schema id %u, "
           "%.0f bytes/event\n",
           count, topic, secs, (double)count / secs, loader_failed, id, bytes / (double)count);
    rd_kafka_destroy(rk);
    sr_client_free(sr);
    codec_free(c);
    return loader_failed ? 1 : 0;
}
