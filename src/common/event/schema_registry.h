/*
 * schema_registry: a small client for the Confluent Schema Registry REST API
 * (also served by Apicurio under /apis/ccompat/v7), over libcurl.
 *
 * base_url is the API root, e.g. http://127.0.0.1:8081/apis/ccompat/v7 or
 * http://schema-registry:8081. User info in the URL (http://user:pw@host) is
 * sent as basic auth and never logged. One client per thread.
 */
#ifndef SCHEMA_REGISTRY_H
#define SCHEMA_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

typedef struct sr_client sr_client;

/*
 * Only the registry's own word makes an outcome final: a 404 counts as "does
 * not exist" only with the Confluent error code for it (40403 for a schema
 * id). A 404 without it comes from a wrong URL path or a proxy in between and
 * says nothing about the id: SR_NOT_REGISTRY, retried like SR_UNAVAILABLE.
 */
typedef enum {
    SR_OK = 0,
    SR_NOT_FOUND,   /* the registry said so: 404 with error_code 40403 (schema not found) */
    SR_WRONG_TYPE,  /* the id names a schema of another type (JSON, PROTOBUF): final */
    SR_REJECTED,    /* another 4xx (e.g. 409/422 incompatible schema): not retryable */
    SR_UNAVAILABLE, /* connect error, timeout, 5xx: retry later */
    SR_NOT_REGISTRY /* the URL answers, but not as the registry API (a 404 without the
                       registry's error code, a foreign body): wrong SCHEMA_REGISTRY_URL
                       path or a proxy; retry later, never "unknown" */
} sr_status;

sr_client *sr_client_new(const char *base_url, long timeout_ms, char *err, size_t errlen);
void sr_client_free(sr_client *c);

/* POST /subjects/{subject}/versions. *id receives the schema id. */
sr_status sr_register(sr_client *c, const char *subject, const char *schema_json, uint32_t *id,
                      char *err, size_t errlen);

/*
 * GET /schemas/ids/{id}. *schema_json receives a malloc'd string to free().
 * SR_WRONG_TYPE (err names the type) when the id is not an Avro schema.
 */
sr_status sr_fetch_schema(sr_client *c, uint32_t id, char **schema_json, char *err, size_t errlen);

/*
 * GET /subjects: a cheap probe that the URL is the registry API root (the
 * answer must be a JSON list). SR_NOT_REGISTRY, with a message naming the
 * URL, when something else answers there: the start-up check of both services.
 */
sr_status sr_ping(sr_client *c, char *err, size_t errlen);

const char *sr_status_name(sr_status s);

#endif
