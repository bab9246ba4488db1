/*
 * avro_jschema: the JSON side of a parsed Avro schema.
 *
 * Why: libavro 1.11 parses a schema but drops what schema resolution needs
 * besides types: field defaults, aliases, an enum's default symbol and
 * logicalType (decimal scale). This keeps the schema's JSON next to the
 * libavro schema and finds the JSON node of any libavro (sub)schema: named
 * types are indexed once by their libavro schema, so a reference ("OrderItem")
 * leads to its definition, and children are reached in step with libavro's
 * (record field i is JSON field i, union branch i is array element i).
 * Wherever the JSON does not line up with libavro's schema the node is NULL,
 * which reads as "no attributes" (no default, no alias, not a decimal).
 */
#ifndef AVRO_JSCHEMA_H
#define AVRO_JSCHEMA_H

#include <avro.h>
#include <jansson.h>
#include <stddef.h>

#define AVJS_MAX_DEPTH 64 /* JSON nesting followed when indexing */

typedef struct avjs avjs;

/* Parses json (the text `schema` was parsed from) and indexes its named
 * types. NULL + err if the text is not JSON or memory runs out. */
avjs *avjs_new(avro_schema_t schema, const char *json, char *err, size_t errlen);
void avjs_free(avjs *j);

/* The JSON node of the root schema. */
json_t *avjs_root(const avjs *j);

/* The node describing schema s (s as found at JSON position node): a named
 * reference is followed to its definition. NULL if unknown. */
json_t *avjs_node(const avjs *j, json_t *node, avro_schema_t s);

/* The JSON object of field i of record node rec (NULL if it does not line up
 * with `name`); its "type" member is the field's schema node. */
json_t *avjs_field(json_t *rec, size_t i, const char *name);

/* Child nodes, in step with libavro: array items, map values, union branch i. */
json_t *avjs_items(json_t *node);
json_t *avjs_values(json_t *node);
json_t *avjs_branch(json_t *node, size_t i);

/* 1 if the JSON array `aliases` of obj holds `name` (compared unqualified). */
int avjs_has_alias(json_t *obj, const char *name);

/* Decimal scale of node (a bytes/fixed with logicalType decimal; an absent
 * scale is 0), or -1 if node is not a decimal. */
int avjs_decimal_scale(json_t *node);

#endif
