/*
 * codec_status: what encoding or decoding an OrderEvent can come to, shared
 * by avro_codec (framing, schemas) and avro_values (the fields).
 */
#ifndef CODEC_STATUS_H
#define CODEC_STATUS_H

#include "platform/errfmt.h"

typedef enum {
    CODEC_OK = 0,
    CODEC_ERR_FRAMING,        /* shorter than 5 bytes or magic byte != 0 */
    CODEC_ERR_UNKNOWN_SCHEMA, /* schema id not added yet: fetch it, add it, retry */
    CODEC_ERR_MALFORMED,      /* Avro bytes do not decode under the writer schema */
    CODEC_ERR_INCOMPATIBLE,   /* writer schema cannot be resolved to the reader's */
    CODEC_ERR_LIMIT,          /* decodes, but breaks a bound of order_model.h */
    CODEC_ERR_INTERNAL        /* encode failure, bad argument, out of memory */
} codec_status;

/* The error text into err, and st for the caller to return. */
#define codec_fail(st, err, errlen, ...) (errfmt(err, errlen, __VA_ARGS__), (st))

#endif
