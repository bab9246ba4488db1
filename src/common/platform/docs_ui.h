/*
 * docs_ui: GET /docs, the interactive API page (Swagger UI over the served
 * GET /openapi.yaml), on both services.
 *
 * The Swagger UI assets are not in git: scripts/fetch-docs-ui.sh installs
 * npm's swagger-ui-dist (pinned version, verified integrity) into
 * var/docs-ui/, and docs_ui_load() reads the two files it needs into memory
 * at start-up (read-only afterwards, so every HTTP thread may serve them).
 * Where: DOCS_UI_DIR when set, else var/docs-ui beside the binary's folder
 * (build/../var/docs-ui), else var/docs-ui in the working directory. When
 * they are missing the service still runs and the three routes answer 503
 * JSON naming how to install them.
 *
 * The page asks for /openapi.yaml on its own origin, points "Try it out" at
 * that same origin (the spec's servers name the default ports) and keeps the
 * operations this service serves (its tag, or none).
 */
#ifndef DOCS_UI_H
#define DOCS_UI_H

#include "platform/http.h"

/* dir: DOCS_UI_DIR ("" or NULL: the default places); service: "cart-service".
 * Returns 0 when the assets were loaded, 1 when they are missing (logged). */
int docs_ui_load(const char *dir, const char *service);
void docs_ui_free(void);

void docs_ui_handle_page(http_call *call);   /* GET /docs */
void docs_ui_handle_css(http_call *call);    /* GET /docs/swagger-ui.css */
void docs_ui_handle_bundle(http_call *call); /* GET /docs/swagger-ui-bundle.js */

#endif
