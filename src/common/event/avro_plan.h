/*
 * avro_plan: a compiled schema-resolution plan and the reader that runs it.
 *
 * Why: Avro schema resolution (reader fields the writer lacks take their
 * defaults, writer-only fields are skipped, fields match by name or alias,
 * numeric and string/bytes promotions, union branches and enum symbols by
 * name) is decided per (writer schema, reader schema) pair, so it is decided
 * once: avro_resolve.c compiles the pair into this tree, and each event only
 * runs it. A node says how to read one writer value into one reader value:
 * which promotion, which reader field each writer field lands in (or which
 * writer schema to skip), which reader fields take a default, which reader
 * symbol each writer symbol becomes, which reader branch each writer branch
 * fills.
 *
 * The reader reads bytes that avwalk_datum() already proved to be exactly
 * one well-formed datum of the writer schema, and still checks every length
 * and count itself, so a plan never reads outside the buffer.
 */
#ifndef AVRO_PLAN_H
#define AVRO_PLAN_H

#include "event/avro_jschema.h"
#include "event/codec_status.h"

#include <avro.h>
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define AVPLAN_MAX_DEPTH 32 /* nesting of the reader value, as AVWALK_MAX_DEPTH */

typedef enum {
    AVPLAN_NULL,
    AVPLAN_BOOLEAN,
    AVPLAN_INT,
    AVPLAN_INT_LONG,
    AVPLAN_INT_FLOAT,
    AVPLAN_INT_DOUBLE,
    AVPLAN_LONG,
    AVPLAN_LONG_FLOAT,
    AVPLAN_LONG_DOUBLE,
    AVPLAN_FLOAT,
    AVPLAN_FLOAT_DOUBLE,
    AVPLAN_DOUBLE,
    AVPLAN_TO_STRING, /* writer string, or bytes that must be UTF-8 */
    AVPLAN_TO_BYTES,  /* writer bytes or string */
    AVPLAN_FIXED,
    AVPLAN_ENUM,
    AVPLAN_ARRAY,
    AVPLAN_MAP,
    AVPLAN_RECORD,
    AVPLAN_UNION, /* a writer union: one plan per writer branch */
    AVPLAN_FAIL   /* a writer union branch the reader cannot take */
} avplan_op;

typedef struct avplan_node avplan_node;

typedef struct {
    int rfield;            /* reader field index, or -1: skip the writer field */
    avplan_node *plan;     /* rfield >= 0 */
    avro_schema_t wschema; /* rfield < 0: what to skip */
} avplan_wfield;

typedef struct {
    int rfield;            /* reader field that takes its default */
    avro_schema_t rschema; /* its schema */
    json_t *def;           /* the default (owned by the reader's avjs) */
    json_t *node;          /* JSON node of rschema, for nested defaults */
} avplan_default;

struct avplan_node {
    avplan_op op;
    int rbranch;         /* >= 0: the reader value is a union; take this branch */
    int from_bytes;      /* AVPLAN_TO_STRING: the writer wrote bytes */
    int64_t fixed_size;  /* AVPLAN_FIXED */
    int *enum_map;       /* AVPLAN_ENUM: writer symbol -> reader symbol, -1: none */
    size_t enum_count;   /* writer symbols */
    avro_schema_t wenum; /* writer enum, for symbol names in errors */
    avplan_node *child;  /* AVPLAN_ARRAY items, AVPLAN_MAP values */
    avplan_wfield *wfields;
    size_t nwfields; /* AVPLAN_RECORD: one per writer field, in writer order */
    avplan_default *defaults;
    size_t ndefaults;
    avplan_node **branches; /* AVPLAN_UNION: one per writer branch */
    size_t nbranches;
    char *why; /* AVPLAN_FAIL */
};

typedef struct {
    avplan_node *root;
    const avjs *rj; /* the reader schema's JSON (defaults) */
} avplan;

/* Growable buffer the reader copies strings through (libavro wants them
 * NUL-terminated); reused across events, freed with avplan_scratch_free. */
typedef struct {
    char *buf;
    size_t cap;
} avplan_scratch;

void avplan_scratch_free(avplan_scratch *s);

/* A node of op `op`, everything else empty; NULL on out of memory. */
avplan_node *avplan_node_new(avplan_op op);
void avplan_node_free(avplan_node *n);
void avplan_free(avplan *p);

/*
 * Reads buf[0..len) (one datum of the writer schema) into dst (a value of
 * the reader schema, reset by the caller). CODEC_OK; CODEC_ERR_INCOMPATIBLE
 * for data the reader cannot take (a writer symbol or branch it lacks);
 * CODEC_ERR_MALFORMED for bytes that do not hold the datum;
 * CODEC_ERR_INTERNAL for libavro or memory failures.
 */
codec_status avplan_read(const avplan *p, const uint8_t *buf, size_t len, avro_value_t *dst,
                         avplan_scratch *s, char *err, size_t errlen);

#endif
