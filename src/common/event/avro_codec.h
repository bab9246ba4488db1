/*
 * avro_codec: OrderEvent <-> Confluent wire format (magic 0, 4-byte big-endian
 * schema id, Avro binary).
 *
 * Encoding always uses the reader schema (schemas/order-event.avsc), under the
 * id the registry gave it. Decoding looks up the writer schema by the id in the
 * frame and resolves it against the reader schema (Avro schema resolution), so
 * events written with an older or newer compatible schema decode. Before
 * handing bytes to libavro the decoder walks them against the writer schema
 * and rejects any length or count that runs past the buffer, so corrupt input
 * can never make libavro allocate or read out of bounds.
 *
 * A codec is not thread-safe: use one per thread. It reuses its Avro values,
 * so steady-state encode/decode does not allocate per message.
 */
#ifndef AVRO_CODEC_H
#define AVRO_CODEC_H

#include "event/codec_status.h"
#include "event/order_model.h"

#include <stddef.h>
#include <stdint.h>

#define CODEC_WIRE_HEADER 5
#define CODEC_MAX_ENCODED (64 * 1024) /* bound for one encoded event */

typedef struct codec codec;

/* reader_schema_json: the text of schemas/order-event.avsc. NULL on error. */
codec *codec_new(const char *reader_schema_json, char *err, size_t errlen);
void codec_free(codec *c);

/* The canonical text of the reader schema, as registered. */
const char *codec_reader_schema_json(const codec *c);

/*
 * Makes writer schema `id` known. Adding an id twice is a no-op. Returns
 * CODEC_OK, CODEC_ERR_INCOMPATIBLE (cannot resolve to the reader schema; the
 * id is remembered as such, so later decodes fail fast) or CODEC_ERR_INTERNAL.
 */
codec_status codec_add_writer_schema(codec *c, uint32_t id, const char *schema_json, char *err,
                                     size_t errlen);
int codec_has_schema(const codec *c, uint32_t id);

/*
 * Encodes ev under schema id `id` into buf. *len receives the frame size.
 * With the shipped reader schema the bytes are written directly
 * (avro_direct.h), else through libavro; both give the same bytes.
 */
codec_status codec_encode(codec *c, uint32_t id, const order_event *ev, uint8_t *buf, size_t cap,
                          size_t *len, char *err, size_t errlen);
/* 1 if codec_encode writes directly (the shipped layout), 0 if through libavro. */
int codec_encodes_directly(const codec *c);
/* codec_encode, through libavro whatever the schema when generic != 0 (tests compare the two). */
codec_status codec_encode_path(codec *c, uint32_t id, const order_event *ev, uint8_t *buf,
                               size_t cap, size_t *len, int generic, char *err, size_t errlen);

/*
 * Decodes one frame. *schema_id receives the id from the frame whenever the
 * framing is valid (even on CODEC_ERR_UNKNOWN_SCHEMA).
 */
codec_status codec_decode(codec *c, const uint8_t *buf, size_t len, uint32_t *schema_id,
                          order_event *out, char *err, size_t errlen);
/* 1 if frames written under schema id decode directly (avro_direct.h): the
 * writer schema equals the shipped reader layout; 0 otherwise or unknown. */
int codec_decodes_directly(const codec *c, uint32_t id);
/* codec_decode, through libavro whatever the schemas when generic != 0 (tests compare the two). */
codec_status codec_decode_path(codec *c, const uint8_t *buf, size_t len, uint32_t *schema_id,
                               order_event *out, int generic, char *err, size_t errlen);

const char *codec_status_name(codec_status s);

#endif
