/*
 * avro_values: an OrderEvent read out of a decoded libavro value, field by
 * field at the positions the reader layout found (avro_layout.h), with every
 * bound of order_model.h checked on the way: a string too long or holding a
 * NUL, too many items, a decimal beyond its precision is CODEC_ERR_LIMIT,
 * never a truncated copy. The encoding side writes the same fields in
 * avro_codec.c.
 */
#ifndef AVRO_VALUES_H
#define AVRO_VALUES_H

#include "event/avro_layout.h"
#include "event/codec_status.h"
#include "event/order_model.h"

#include <avro.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Fills out from value (a reader-schema OrderEvent). enum_map maps the
 * reader's eventType symbol index to order_event_type (-1: a symbol the
 * reader schema has but the model does not).
 */
codec_status avvalues_extract(const avlayout *L, const avro_value_t *value, const int8_t *enum_map,
                              size_t enum_count, order_event *out, char *err, size_t errlen);

#endif
