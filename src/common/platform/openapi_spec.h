/* openapi_spec: the text of docs/openapi.yaml, compiled in at build time and
 * served by both services at GET /openapi.yaml. */
#ifndef OPENAPI_SPEC_H
#define OPENAPI_SPEC_H

extern const char openapi_yaml[];

#endif
