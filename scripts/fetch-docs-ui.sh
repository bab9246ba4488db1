#!/usr/bin/env bash
# fetch-docs-ui.sh: install the Swagger UI assets that GET /docs serves into
# var/docs-ui/ (git-ignored): npm's swagger-ui-dist at the version pinned in
# scripts/versions.sh, its tarball checked against the pinned sha512
# integrity (the npm registry's dist.integrity for that version) before
# anything is unpacked. Only the two files the page loads are kept. A stamp
# naming version and integrity makes a second run a no-op.
#
# Needs npm (node) on the PATH; no package is installed globally and no
# install script runs (npm pack only downloads).
#
# Env: DOCS_UI_DIR (default var/docs-ui), SWAGGER_UI_VERSION, SWAGGER_UI_INTEGRITY.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
# shellcheck source=scripts/versions.sh
. scripts/versions.sh
DIR=${DOCS_UI_DIR:-var/docs-ui}
STAMP="$DIR/.installed"
WANT="swagger-ui-dist@$SWAGGER_UI_VERSION $SWAGGER_UI_INTEGRITY"
FILES=(swagger-ui-bundle.js swagger-ui.css LICENSE NOTICE)

log() { printf '[fetch-docs-ui] %s\n' "$*"; }

if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ] &&
    [ -s "$DIR/swagger-ui-bundle.js" ] && [ -s "$DIR/swagger-ui.css" ]; then
    log "swagger-ui-dist $SWAGGER_UI_VERSION: present in $DIR"
    exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
    log "npm not found: install Node.js (npm) to serve GET /docs; the services run without it" >&2
    exit 1
fi

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
log "swagger-ui-dist $SWAGGER_UI_VERSION -> $DIR (npm pack)"
(cd "$TMP" && npm pack --silent "swagger-ui-dist@$SWAGGER_UI_VERSION" >pack.out 2>pack.err) || {
    cat "$TMP/pack.err" >&2
    log "npm pack failed" >&2
    exit 1
}
TGZ="$TMP/swagger-ui-dist-$SWAGGER_UI_VERSION.tgz"
[ -f "$TGZ" ] || { log "npm pack wrote no $TGZ" >&2; exit 1; }
GOT=$(python3 -c 'import base64, hashlib, sys
print("sha512-" + base64.b64encode(hashlib.sha512(open(sys.argv[1], "rb").read()).digest()).decode())' "$TGZ")
if [ "$GOT" != "$SWAGGER_UI_INTEGRITY" ]; then
    log "integrity mismatch for swagger-ui-dist $SWAGGER_UI_VERSION:" >&2
    log "  pinned $SWAGGER_UI_INTEGRITY" >&2
    log "  got    $GOT" >&2
    exit 1
fi
mkdir -p "$TMP/x"
tar -xzf "$TGZ" -C "$TMP/x" "${FILES[@]/#/package/}"
mkdir -p "$DIR"
for f in "${FILES[@]}"; do
    cp "$TMP/x/package/$f" "$DIR/$f.tmp" && mv "$DIR/$f.tmp" "$DIR/$f"
done
echo "$WANT" >"$STAMP"
log "installed swagger-ui-dist $SWAGGER_UI_VERSION (integrity verified) in $DIR"
