/* docs_ui: see docs_ui.h. */
#include "platform/docs_ui.h"

#include "platform/fileio.h"
#include "platform/log.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DOCS_UI_INSTALL "run scripts/fetch-docs-ui.sh (make run and make test do), then restart"

/* Loaded once before any HTTP thread starts, then only read. */
static struct {
    char *css, *bundle, *page;
    size_t css_len, bundle_len, page_len;
    char problem[PATH_MAX + 256]; /* why /docs answers 503; "" when loaded */
} g_docs;

/* The page: Swagger UI on this origin's spec. The plugin rewrites the spec
 * as loaded: servers = this origin, and only this service's operations. */
static const char page_fmt[] =
    "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
    "<title>%s API</title>\n"
    "<link rel=\"stylesheet\" href=\"/docs/swagger-ui.css\">\n</head>\n<body>\n"
    "<div id=\"swagger-ui\"></div>\n"
    "<script src=\"/docs/swagger-ui-bundle.js\"></script>\n<script>\n"
    "var serviceTag = \"%s\";\n"
    "function ownOperations(spec) {\n"
    "  spec.servers = [{url: window.location.origin, description: \"%s (this page's origin)\"}];\n"
    "  var paths = spec.paths || {};\n"
    "  Object.keys(paths).forEach(function (p) {\n"
    "    Object.keys(paths[p]).forEach(function (m) {\n"
    "      var tags = (paths[p][m] && paths[p][m].tags) || [];\n"
    "      if (tags.length && tags.indexOf(serviceTag) < 0) delete paths[p][m];\n"
    "    });\n"
    "    if (!Object.keys(paths[p]).length) delete paths[p];\n"
    "  });\n"
    "  spec.tags = (spec.tags || []).filter(function (t) { return t.name === serviceTag; });\n"
    "  return spec;\n"
    "}\n"
    "window.ui = SwaggerUIBundle({\n"
    "  url: window.location.origin + \"/openapi.yaml\",\n"
    "  dom_id: \"#swagger-ui\",\n"
    "  deepLinking: true,\n"
    "  plugins: [function () {\n"
    "    return {statePlugins: {spec: {wrapActions: {updateJsonSpec: function (ori) {\n"
    "      return function (spec) { return ori(ownOperations(spec)); };\n"
    "    }}}}};\n"
    "  }]\n"
    "});\n"
    "</script>\n</body>\n</html>\n";

/* dir/name into out; 0, or -1 when it does not fit. */
static int join(char *out, size_t outlen, const char *dir, const char *name)
{
    int n = snprintf(out, outlen, "%s/%s", dir, name);
    return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

/* Loads both assets from dir; 0, or -1 with why in err. */
static int load_from(const char *dir, char *err, size_t errlen)
{
    char path[PATH_MAX];
    char *css = NULL, *bundle = NULL;
    if (join(path, sizeof path, dir, "swagger-ui.css") != 0 ||
        !(css = fileio_read_all(path, err, errlen)))
        goto fail;
    if (join(path, sizeof path, dir, "swagger-ui-bundle.js") != 0 ||
        !(bundle = fileio_read_all(path, err, errlen)))
        goto fail;
    g_docs.css = css;
    g_docs.css_len = strlen(css);
    g_docs.bundle = bundle;
    g_docs.bundle_len = strlen(bundle);
    return 0;
fail:
    if (!err[0])
        snprintf(err, errlen, "%s: path too long", dir);
    free(css);
    free(bundle);
    return -1;
}

/* The folder of the running binary ("" when unknown). */
static void exe_dir(char *out, size_t outlen)
{
    out[0] = '\0';
    if (outlen < 2)
        return;
    ssize_t n = readlink("/proc/self/exe", out, outlen - 1);
    if (n <= 0) {
        out[0] = '\0';
        return;
    }
    out[n] = '\0';
    char *slash = strrchr(out, '/');
    if (slash)
        *slash = '\0';
    else
        out[0] = '\0';
}

static int make_page(const char *service)
{
    char tag[64];
    /* "cart-service" -> "cart": the spec's tag of its operations */
    snprintf(tag, sizeof tag, "%.*s", (int)strcspn(service, "-"), service);
    int n = snprintf(NULL, 0, page_fmt, service, tag, service);
    if (n < 0 || !(g_docs.page = malloc((size_t)n + 1)))
        return -1;
    snprintf(g_docs.page, (size_t)n + 1, page_fmt, service, tag, service);
    g_docs.page_len = (size_t)n;
    return 0;
}

int docs_ui_load(const char *dir, const char *service)
{
    docs_ui_free();
    char err[PATH_MAX + 64] = "";
    char tried[3][PATH_MAX];
    size_t ntried = 0;
    if (dir && *dir) {
        snprintf(tried[ntried++], PATH_MAX, "%s", dir);
    } else {
        char exe[PATH_MAX];
        exe_dir(exe, sizeof exe);
        if (exe[0] && join(tried[ntried], PATH_MAX, exe, "../var/docs-ui") == 0)
            ntried++;
        snprintf(tried[ntried++], PATH_MAX, "var/docs-ui");
    }
    for (size_t i = 0; i < ntried; i++) {
        err[0] = '\0';
        if (load_from(tried[i], err, sizeof err) == 0) {
            if (make_page(service) != 0) {
                docs_ui_free();
                snprintf(g_docs.problem, sizeof g_docs.problem, "out of memory");
                return 1;
            }
            log_info("GET /docs: Swagger UI from %s", tried[i]);
            return 0;
        }
    }
    snprintf(g_docs.problem, sizeof g_docs.problem,
             "API docs UI not installed (%s): " DOCS_UI_INSTALL ", or set DOCS_UI_DIR", err);
    log_warn("GET /docs will answer 503: %s", g_docs.problem);
    return 1;
}

void docs_ui_free(void)
{
    free(g_docs.css);
    free(g_docs.bundle);
    free(g_docs.page);
    memset(&g_docs, 0, sizeof g_docs);
}

/* 1 when loaded; else answers the call with the 503. */
static int docs_ready(http_call *call)
{
    if (g_docs.page)
        return 1;
    http_reply_error(call, 503, g_docs.problem[0] ? g_docs.problem : "API docs UI not loaded");
    return 0;
}

void docs_ui_handle_page(http_call *call)
{
    if (docs_ready(call))
        http_reply_typed(call, 200, "text/html; charset=utf-8", g_docs.page, g_docs.page_len);
}

void docs_ui_handle_css(http_call *call)
{
    if (!docs_ready(call))
        return;
    http_add_header(call, "Cache-Control", "public, max-age=3600");
    http_reply_typed(call, 200, "text/css; charset=utf-8", g_docs.css, g_docs.css_len);
}

void docs_ui_handle_bundle(http_call *call)
{
    if (!docs_ready(call))
        return;
    http_add_header(call, "Cache-Control", "public, max-age=3600");
    http_reply_typed(call, 200, "application/javascript; charset=utf-8", g_docs.bundle,
                     g_docs.bundle_len);
}
