#!/usr/bin/env bash
# fetch-infra.sh: lay out the jars of the local Kafka broker and the Apicurio
# schema registry under var/infra/, fetched from Maven Central by infra/pom.xml.
#
# The Maven repository is a cache outside git (ORDERSTREAM_M2, default
# ~/.cache/orderstream/m2) so a fresh clone on a warm machine downloads nothing
# and a `make distclean` never throws it away. Each layout has a stamp file
# naming its version: present stamp = nothing to do, no Maven start (~10 s).
#
# Env: ORDERSTREAM_M2, INFRA_DIR (default var/infra).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
# shellcheck source=scripts/versions.sh
. scripts/versions.sh
# HOME may be unset under some CI runners; fall back to the passwd entry
HOME=${HOME:-$(getent passwd "$(id -u)" | cut -d: -f6)}
M2=${ORDERSTREAM_M2:-$HOME/.cache/orderstream/m2}
INFRA_DIR=${INFRA_DIR:-var/infra}
mkdir -p "$INFRA_DIR"
INFRA_DIR=$(cd "$INFRA_DIR" && pwd)
KAFKA_LIBS="$INFRA_DIR/kafka-$KAFKA_VERSION/libs"
REGISTRY_HOME="$INFRA_DIR/apicurio-registry-$APICURIO_VERSION"

log() { printf '[fetch-infra] %s\n' "$*"; }
# Maven's output goes to a log, shown only when it fails
MVN_LOG="$INFRA_DIR/maven.log"
mvn_() {
    if ! mvn -B -ntp -Dstyle.color=never -Dmaven.repo.local="$M2" "$@" </dev/null >>"$MVN_LOG" 2>&1; then
        tail -n 40 "$MVN_LOG" >&2
        log "Maven failed (full log: $MVN_LOG)" >&2
        return 1
    fi
}

mkdir -p "$M2" "$INFRA_DIR"
: >"$MVN_LOG"

if [ -f "$KAFKA_LIBS/.complete" ]; then
    log "Kafka $KAFKA_VERSION jars: present"
else
    log "Kafka $KAFKA_VERSION jars -> $KAFKA_LIBS (Maven cache $M2)"
    rm -rf "$KAFKA_LIBS.tmp"
    mvn_ -f infra/pom.xml -Dkafka.version="$KAFKA_VERSION" dependency:copy-dependencies \
        -DoutputDirectory="$KAFKA_LIBS.tmp" -DincludeScope=runtime
    rm -rf "$KAFKA_LIBS" && mv "$KAFKA_LIBS.tmp" "$KAFKA_LIBS"
    touch "$KAFKA_LIBS/.complete"
fi

if [ -f "$REGISTRY_HOME/.complete" ]; then
    log "Apicurio Registry $APICURIO_VERSION: present"
else
    log "Apicurio Registry $APICURIO_VERSION -> $REGISTRY_HOME (Maven cache $M2)"
    coords="io.apicurio:apicurio-registry-app:$APICURIO_VERSION:tar.gz:all"
    mvn_ dependency:get -Dartifact="$coords" -Dtransitive=false
    tgz="$M2/io/apicurio/apicurio-registry-app/$APICURIO_VERSION/apicurio-registry-app-$APICURIO_VERSION-all.tar.gz"
    rm -rf "$REGISTRY_HOME.tmp" && mkdir -p "$REGISTRY_HOME.tmp"
    tar -xzf "$tgz" -C "$REGISTRY_HOME.tmp"
    # the archive has one top directory (or none, by version): flatten it so
    # the runner jar is always at $REGISTRY_HOME/<name>-runner.jar
    runner=$(find "$REGISTRY_HOME.tmp" -maxdepth 2 -name '*-runner.jar' | head -n1)
    if [ -z "$runner" ]; then
        log "no *-runner.jar in $tgz" >&2
        exit 1
    fi
    src=$(dirname "$runner")
    rm -rf "$REGISTRY_HOME" && mv "$src" "$REGISTRY_HOME"
    rm -rf "$REGISTRY_HOME.tmp"
    touch "$REGISTRY_HOME/.complete"
fi
