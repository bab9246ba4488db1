/*
 * avro_walk: a bounds check of Avro binary data against a writer schema,
 * run before the bytes reach libavro.
 *
 * Why: libavro (1.11) trusts declared lengths. A corrupt or hostile string
 * length makes it malloc that many bytes before noticing the buffer is short,
 * a huge array block count makes it append forever, a negative block count of
 * INT64_MIN is undefined behaviour in its negation. This walker reads nothing
 * but varints and lengths, allocates nothing, and accepts a buffer only if it
 * holds exactly one datum of the schema with every length inside the buffer.
 * It is deliberately stricter where libavro is looser (booleans must be 0 or
 * 1, varints must fit their type, strings must be valid UTF-8 as the spec
 * says), so anything it accepts libavro decodes without surprises and other
 * Avro readers would accept too.
 */
#ifndef AVRO_WALK_H
#define AVRO_WALK_H

#include <avro.h>
#include <stddef.h>
#include <stdint.h>

#define AVWALK_MAX_DEPTH 32    /* nesting of records/arrays/unions */
#define AVWALK_MAX_ITEMS 65536 /* array + map items in one datum */

/*
 * 0 if buf[0..len) is exactly one datum of `schema` (no trailing bytes),
 * -1 otherwise with the reason and the byte offset in err.
 */
int avwalk_datum(avro_schema_t schema, const uint8_t *buf, size_t len, char *err, size_t errlen);

/*
 * The same walk over one datum at the start of buf, without the trailing
 * check: *used receives its size. The resolver skips writer-only fields
 * with it. 0, or -1 + err.
 */
int avwalk_value(avro_schema_t schema, const uint8_t *buf, size_t len, size_t *used, char *err,
                 size_t errlen);

/* 1 if s[0..n) is strict UTF-8 (RFC 3629), as every Avro string must be. */
int avwalk_utf8_valid(const uint8_t *s, size_t n);

#endif
