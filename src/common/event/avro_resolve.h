/*
 * avro_resolve: compiles a (writer schema, reader schema) pair into an
 * avro_plan, by the Avro specification's resolution rules:
 *
 * - records match by unqualified name (or a reader alias); fields by name,
 *   else by a reader field alias; writer-only fields are skipped; a reader
 *   field the writer lacks takes its "default", and without one the pair
 *   does not resolve;
 * - int -> long -> float -> double, and string <-> bytes, are promotions;
 *   a reader decimal is only read from a writer decimal of the same scale
 *   (same bytes, different scale would be a different amount);
 * - enums match by name; writer symbols map to reader symbols by name, and
 *   one the reader lacks takes the reader enum's "default" or fails when an
 *   event uses it;
 * - a reader union takes the first branch the writer type matches (same
 *   type or name first, then a promotion); a writer union is resolved per
 *   branch, and a branch no reader type matches fails when an event uses it
 *   (the pair is refused if no branch fits at all);
 * - arrays and maps resolve their items, fixed types match by name and size.
 *
 * A pair that does not resolve is refused with the reason (the first field
 * or type that failed, with its path). Bounded: schemas nested deeper than
 * AVRES_MAX_DEPTH (a recursive type the reader reads) or needing more than
 * AVRES_MAX_NODES plan nodes are refused, not followed.
 */
#ifndef AVRO_RESOLVE_H
#define AVRO_RESOLVE_H

#include "event/avro_jschema.h"
#include "event/avro_plan.h"

#include <avro.h>
#include <stddef.h>

#define AVRES_MAX_DEPTH AVPLAN_MAX_DEPTH
#define AVRES_MAX_NODES 4096

/* The plan reading data of writer w (its JSON wj) as reader r (its JSON rj,
 * which must outlive the plan). NULL + the reason in err. */
avplan *avres_compile(avro_schema_t w, const avjs *wj, avro_schema_t r, const avjs *rj, char *err,
                      size_t errlen);

#endif
