/*
 * order_process: turns the bytes of one record into a decision, separately
 * from Kafka and the store so the rules are testable on their own:
 *
 *   PROC_EVENT        decoded and valid: apply it
 *   PROC_DLQ          breaks the contract: dead-letter at once (reason given)
 *   PROC_RETRY_INFRA  a dependency (the registry) is unavailable: retry later,
 *                     for as long as it takes; never dead-letter
 *   PROC_FAILED       unexpected failure: retry, then PROCESSING_FAILED
 *
 * Writer schemas are fetched from the registry by the id in the frame the
 * first time they are seen and cached in the codec. One decoder per thread.
 */
#ifndef ORDER_PROCESS_H
#define ORDER_PROCESS_H

#include "avro_codec.h"
#include "dlq.h"
#include "order_model.h"
#include "schema_registry.h"

#include <stddef.h>

typedef enum { PROC_EVENT = 0, PROC_DLQ, PROC_RETRY_INFRA, PROC_FAILED } proc_kind;

typedef struct {
    proc_kind kind;
    const char *reason; /* DLQ_R_* for PROC_DLQ, else NULL */
    uint32_t schema_id; /* from the frame, 0 if framing failed */
    int decoded;        /* ev holds the decoded event (even if it is invalid) */
    char message[DLQ_MESSAGE_MAX + 1];
} proc_result;

typedef struct order_decoder order_decoder;

order_decoder *order_decoder_new(const char *registry_url, char *err, size_t errlen);
void order_decoder_free(order_decoder *d);

/* Decodes and validates one record value into ev. */
void order_decode(order_decoder *d, const void *value, size_t len, order_event *ev,
                  proc_result *out);

const char *proc_kind_name(proc_kind k);

#endif
