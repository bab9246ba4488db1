/*
 * avro_direct: OrderEvent's Avro binary encoding written straight into the
 * caller's buffer, for the reader schema the project ships.
 *
 * Why: through libavro, one create cost about 12,000 instructions and six
 * allocator calls (a generic value per field, then a walk of the schema to
 * write it: bench/profile-notes.md); the bytes themselves are a few varints
 * and copies. The encoding is fixed by the schema's field order, so it is
 * used only when avdirect_fits() finds exactly the shipped layout; any other
 * reader schema keeps the libavro path. Unit tests compare both byte for byte.
 * Decoding likewise (avdirect_decode): libavro's generic value, its field
 * lookups and copies were ~8,000 of the ~14,700 instructions of a decoded
 * CREATE (bench/profile-notes.md).
 */
#ifndef AVRO_DIRECT_H
#define AVRO_DIRECT_H

#include "event/avro_layout.h"
#include "event/order_model.h"

#include <avro.h>
#include <stddef.h>
#include <stdint.h>

/* Lengths of ev's strings, measured (and bounded) by the caller's checks. */
typedef struct {
    size_t order_id, customer, date, currency, status;
    size_t item_id[ORDER_ITEMS_MAX];
} avdirect_lens;

/*
 * 1 if rschema (with L, from avlayout_reader) is OrderEvent with its fields in
 * the order avdirect_encode writes and no others: eventType, orderId,
 * timestamp, payload [CreateOrderPayload {customerId, orderDate, items
 * [{itemId, quantity, price}], totalAmount, currency, status}, UpdateOrderPayload
 * {status}].
 */
int avdirect_fits(avro_schema_t rschema, const avlayout *L);

/*
 * Writes ev's Avro body (no wire header) into buf; returns the bytes written,
 * or 0 if cap is too small. ev must have passed the codec's checks (lengths,
 * item count, decimal digits).
 */
size_t avdirect_encode(const avlayout *L, const order_event *ev, const avdirect_lens *n,
                       uint8_t *buf, size_t cap);

/*
 * The decoding side, for a writer schema equal to that reader schema (so
 * resolution is the identity): reads body (len bytes, no wire header, already
 * proved well-formed by avwalk_datum) straight into *out. 1 when the event
 * decoded and passed every check the generic path (avplan_read, then
 * avvalues_extract) applies, with the same result; 0 when anything is off
 * (a bound, a NUL, a decimal, the item count, an unknown symbol or branch):
 * then *out is unspecified and the caller decodes through the generic path,
 * which names the failure. enum_map as avvalues_extract's.
 */
int avdirect_decode(const avlayout *L, const int8_t *enum_map, size_t enum_count,
                    const uint8_t *body, size_t len, order_event *out);

#endif
