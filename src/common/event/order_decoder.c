/*
 * order_decoder: decode + validate one record into a verdict (see the
 * header). The mapping from failures to outcomes is the heart of the DLQ
 * policy: contract violations are the producer's fault and never heal, so
 * they go to the DLQ at once; an unreachable registry is ours and always
 * heals, so it is retried forever; anything unexpected gets a bounded number
 * of retries.
 */
#include "event/order_decoder.h"

#include "event/order_schema.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REGISTRY_TIMEOUT_MS 5000

struct order_decoder {
    codec *codec;
    sr_client *sr;
    int registry_failing;     /* the last registry answer was not a final one */
    char registry_error[256]; /* why, while failing */
};

/* Notes the outcome of a registry call for order_decoder_registry_problem(). */
static void decoder_registry_seen(order_decoder *d, sr_status st, const char *err)
{
    int failing = st == SR_UNAVAILABLE || st == SR_NOT_REGISTRY || st == SR_REJECTED;
    d->registry_failing = failing;
    if (failing)
        snprintf(d->registry_error, sizeof d->registry_error, "%s", err);
    else
        d->registry_error[0] = '\0';
}

const char *order_decoder_registry_problem(const order_decoder *d)
{
    return d->registry_failing ? d->registry_error : NULL;
}

int order_decoder_check_registry(order_decoder *d, char *err, size_t errlen)
{
    char e[256] = "";
    sr_status st = sr_ping(d->sr, e, sizeof e);
    decoder_registry_seen(d, st, e);
    if (st == SR_OK)
        return 0;
    snprintf(err, errlen, "%s (%s)", e, sr_status_name(st));
    return -1;
}

order_decoder *order_decoder_new(const char *registry_url, char *err, size_t errlen)
{
    return order_decoder_new_with_reader(registry_url, NULL, err, errlen);
}

order_decoder *order_decoder_new_with_reader(const char *registry_url,
                                             const char *reader_schema_json, char *err,
                                             size_t errlen)
{
    order_decoder *d = calloc(1, sizeof *d);
    if (!d) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    d->codec = codec_new(reader_schema_json ? reader_schema_json : order_schema_json, err, errlen);
    if (d->codec)
        d->sr = sr_client_new(registry_url, REGISTRY_TIMEOUT_MS, err, errlen);
    if (!d->codec || !d->sr) {
        order_decoder_free(d);
        return NULL;
    }
    return d;
}

void order_decoder_free(order_decoder *d)
{
    if (!d)
        return;
    codec_free(d->codec);
    sr_client_free(d->sr);
    free(d);
}

int order_decoder_add_schema(order_decoder *d, uint32_t id, const char *schema_json, char *err,
                             size_t errlen)
{
    return codec_add_writer_schema(d->codec, id, schema_json, err, errlen) == CODEC_OK ? 0 : -1;
}

const char *order_decoder_kind_name(order_decoder_kind k)
{
    switch (k) {
    case ORDER_DECODER_EVENT:
        return "EVENT";
    case ORDER_DECODER_DLQ:
        return "DLQ";
    case ORDER_DECODER_RETRY_INFRA:
        return "RETRY_INFRA";
    case ORDER_DECODER_FAILED:
        return "FAILED";
    }
    return "?";
}

static void decoder_verdict(order_decoder_result *out, order_decoder_kind kind, const char *reason,
                            const char *prefix, const char *detail)
{
    out->kind = kind;
    out->reason = reason;
    snprintf(out->message, sizeof out->message, "%s%s%s", prefix, *detail ? ": " : "", detail);
}

/* Fetches and adds the writer schema of `id`. ORDER_DECODER_EVENT means: decode again. */
static void decoder_learn_schema(order_decoder *d, uint32_t id, order_decoder_result *out)
{
    char err[256] = "";
    char *json = NULL;
    char prefix[64];
    snprintf(prefix, sizeof prefix, "schema id %u", id);
    sr_status st = sr_fetch_schema(d->sr, id, &json, err, sizeof err);
    decoder_registry_seen(d, st, err);
    if (st == SR_NOT_FOUND) {
        /* the registry's own 40403: only then is the id unknown */
        decoder_verdict(out, ORDER_DECODER_DLQ, DLQ_R_DESERIALIZATION, prefix,
                        "unknown to the registry");
        return;
    }
    if (st == SR_WRONG_TYPE) {
        /* a JSON or Protobuf schema id in an Avro topic: the producer broke the contract */
        decoder_verdict(out, ORDER_DECODER_DLQ, DLQ_R_DESERIALIZATION, prefix, err);
        return;
    }
    if (st != SR_OK) {
        /* Unreachable, 5xx, a 404 that is not the registry's, or an auth/4xx
         * problem: ours to fix, never the event's fault. */
        decoder_verdict(out, ORDER_DECODER_RETRY_INFRA, NULL, "schema registry unavailable", err);
        return;
    }
    codec_status cs = codec_add_writer_schema(d->codec, id, json, err, sizeof err);
    free(json);
    if (cs == CODEC_ERR_INCOMPATIBLE)
        decoder_verdict(out, ORDER_DECODER_DLQ, DLQ_R_DESERIALIZATION, prefix, err);
    else if (cs != CODEC_OK)
        decoder_verdict(out, ORDER_DECODER_FAILED, NULL, prefix, err);
    else
        out->kind = ORDER_DECODER_EVENT;
}

void order_decoder_decode(order_decoder *d, const void *value, size_t len, order_event *ev,
                          order_decoder_result *out)
{
    memset(out, 0, sizeof *out);
    char err[256] = "";
    if (!value)
        len = 0;
    for (int round = 0; round < 2; round++) {
        err[0] = '\0';
        codec_status cs = codec_decode(d->codec, value, len, &out->schema_id, ev, err, sizeof err);
        switch (cs) {
        case CODEC_OK:
            out->decoded = 1;
            if (order_event_validate(ev, err, sizeof err) != 0) {
                decoder_verdict(out, ORDER_DECODER_DLQ, DLQ_R_INVALID_EVENT, "invalid event", err);
                return;
            }
            /* Statuses are case-insensitive on the wire and stored lower-case. */
            char st[ORDER_STATUS_MAX + 1];
            if (order_status_normalize(ev->status, strlen(ev->status), 1, st) != 0) {
                decoder_verdict(out, ORDER_DECODER_DLQ, DLQ_R_INVALID_EVENT, "invalid event",
                                "unknown status");
                return;
            }
            memcpy(ev->status, st, sizeof st);
            out->kind = ORDER_DECODER_EVENT;
            return;
        case CODEC_ERR_UNKNOWN_SCHEMA:
            if (round > 0) {
                decoder_verdict(out, ORDER_DECODER_FAILED, NULL,
                                "schema still unknown after adding it", err);
                return;
            }
            decoder_learn_schema(d, out->schema_id, out);
            if (out->kind != ORDER_DECODER_EVENT)
                return;
            continue;
        case CODEC_ERR_FRAMING:
            decoder_verdict(out, ORDER_DECODER_DLQ, DLQ_R_DESERIALIZATION, "bad wire format", err);
            return;
        case CODEC_ERR_MALFORMED:
            decoder_verdict(out, ORDER_DECODER_DLQ, DLQ_R_DESERIALIZATION, "corrupt Avro", err);
            return;
        case CODEC_ERR_INCOMPATIBLE:
            decoder_verdict(out, ORDER_DECODER_DLQ, DLQ_R_DESERIALIZATION,
                            "incompatible writer schema", err);
            return;
        case CODEC_ERR_LIMIT:
            decoder_verdict(out, ORDER_DECODER_DLQ, DLQ_R_INVALID_EVENT, "event out of bounds",
                            err);
            return;
        case CODEC_ERR_INTERNAL:
            decoder_verdict(out, ORDER_DECODER_FAILED, NULL, "decoder failure", err);
            return;
        }
        decoder_verdict(out, ORDER_DECODER_FAILED, NULL, "unknown decoder status", "");
        return;
    }
}
