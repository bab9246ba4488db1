/*
 * order_decoder: decodes and validates the bytes of one record into a
 * verdict, apart from Kafka and the store so the rules are testable on their
 * own. It belongs to the event contract because both sides of order-service
 * read records through it: ingest decides on the verdict, and the /dlq
 * endpoints show the same event and the same reason for a dead letter.
 *
 *   ORDER_DECODER_EVENT        decoded and valid: apply it
 *   ORDER_DECODER_DLQ          breaks the contract: dead-letter at once (reason given)
 *   ORDER_DECODER_RETRY_INFRA  a dependency (the registry) is unavailable: retry later,
 *                               for as long as it takes; never dead-letter
 *   ORDER_DECODER_FAILED       unexpected failure: retry, then PROCESSING_FAILED
 *
 * Writer schemas are fetched from the registry by the id in the frame the
 * first time they are seen and cached in the codec. One decoder per thread.
 */
#ifndef ORDER_DECODER_H
#define ORDER_DECODER_H

#include "event/avro_codec.h"
#include "event/dlq_info.h"
#include "event/order_model.h"
#include "event/schema_registry.h"

#include <stddef.h>

typedef enum {
    ORDER_DECODER_EVENT = 0,
    ORDER_DECODER_DLQ,
    ORDER_DECODER_RETRY_INFRA,
    ORDER_DECODER_FAILED
} order_decoder_kind;

typedef struct {
    order_decoder_kind kind;
    const char *reason; /* DLQ_R_* for ORDER_DECODER_DLQ, else NULL */
    uint32_t schema_id; /* from the frame, 0 if framing failed */
    int decoded;        /* ev holds the decoded event (even if it is invalid) */
    char message[DLQ_MESSAGE_MAX + 1];
} order_decoder_result;

typedef struct order_decoder order_decoder;

/* A decoder whose reader schema is the compiled-in schemas/order-event.avsc. */
order_decoder *order_decoder_new(const char *registry_url, char *err, size_t errlen);

/*
 * The same with another reader schema text (NULL: the compiled-in one):
 * writer schemas are resolved against it, so a reader that evolved ahead of
 * the writers (a field added with a default) can be run and tested before
 * its schema is compiled in. NULL + err if it is not a usable OrderEvent.
 */
order_decoder *order_decoder_new_with_reader(const char *registry_url,
                                             const char *reader_schema_json, char *err,
                                             size_t errlen);
void order_decoder_free(order_decoder *d);

/*
 * Makes writer schema `id` known without asking the registry (a decoder
 * whose registry is unreachable still decodes events under it). 0, or -1 +
 * err when the schema cannot be read as an OrderEvent.
 */
int order_decoder_add_schema(order_decoder *d, uint32_t id, const char *schema_json, char *err,
                             size_t errlen);

/* Decodes and validates one record value into ev. */
void order_decoder_decode(order_decoder *d, const void *value, size_t len, order_event *ev,
                          order_decoder_result *out);

const char *order_decoder_kind_name(order_decoder_kind k);

/*
 * The registry as this decoder last met it: NULL while its answers are final
 * (a schema, or the registry's own "not found" / "not Avro"), else why it
 * fails (unreachable, 5xx, a 404 that is not the registry's: a wrong URL).
 */
const char *order_decoder_registry_problem(const order_decoder *d);
/* Probes that the URL is the registry API (start-up check): 0, or -1 + err naming the URL. */
int order_decoder_check_registry(order_decoder *d, char *err, size_t errlen);

#endif
