#!/usr/bin/env bash
# deps.sh: install what this project needs on a Debian 12 machine, and only
# what is missing, so `make run` / `make test` work on a fresh machine and cost
# a few dpkg-query calls on a warm one.
#
#   - Debian packages: C libraries (-dev), the C test framework, tools, a JDK
#     and Maven for the local Kafka/registry (scripts/fetch-infra.sh).
#   - var/tools/promtool, extracted from Debian's prometheus package (not installed)
#   - .venv (git-ignored) with tests/requirements.txt; reinstalled only when
#     that file changes (a hash stamp inside the venv).
#
# Env: PYTHON (interpreter for the venv, default python3), VENV (default .venv),
#      DEPS_SKIP_APT=1 to skip the apt part (e.g. a machine without root).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}

# name of the Debian package, one per line; a tool a fresh Debian 12 may lack
# is listed by its package so the check is uniform.
APT_PACKAGES=(
    build-essential cmake pkg-config make curl ca-certificates
    librdkafka-dev libavro-dev libjansson-dev libevent-dev libcurl4-openssl-dev
    libsqlite3-dev check
    clang clang-format valgrind wrk nginx-light docker-compose
)
# a JDK, Maven and venv support may come from elsewhere than Debian: only
# install the Debian ones when the tool itself is missing
command -v java >/dev/null 2>&1 || APT_PACKAGES+=(openjdk-17-jre-headless)
command -v mvn >/dev/null 2>&1 || APT_PACKAGES+=(maven)
"$PYTHON" -c 'import ensurepip, venv' >/dev/null 2>&1 || APT_PACKAGES+=(python3 python3-venv)

log() { printf '[deps] %s\n' "$*"; }

install_apt() {
    local missing=() p
    for p in "${APT_PACKAGES[@]}"; do
        if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
            missing+=("$p")
        fi
    done
    if [ ${#missing[@]} -eq 0 ]; then
        log "Debian packages: all present"
        return 0
    fi
    log "Debian packages missing: ${missing[*]}"
    local sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null 2>&1; then
            sudo=(sudo)
        else
            log "not root and no sudo: install them by hand: apt-get install ${missing[*]}" >&2
            return 1
        fi
    fi
    export DEBIAN_FRONTEND=noninteractive
    "${sudo[@]}" apt-get update -q
    # Packages such as nginx-light would start their daemon on install; a
    # policy-rc.d (the Debian mechanism for this) keeps them stopped, and is
    # removed again unless it was there before.
    local policy=/usr/sbin/policy-rc.d own_policy=0
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee "$policy" >/dev/null
        "${sudo[@]}" chmod +x "$policy"
        own_policy=1
    fi
    local rc=0
    # Recommends would drag in the docker engine with docker-compose; we only
    # need its `config` validation, which works without one.
    "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null || rc=$?
    [ "$own_policy" = 1 ] && "${sudo[@]}" rm -f "$policy"
    return $rc
}

install_venv() {
    local req=tests/requirements.txt stamp="$VENV/.requirements.sha256" want
    want=$(sha256sum "$req" | cut -d' ' -f1)
    if [ -x "$VENV/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
        log "venv $VENV: up to date"
        return 0
    fi
    if [ ! -x "$VENV/bin/python" ]; then
        log "creating venv $VENV with $PYTHON ($("$PYTHON" --version 2>&1))"
        "$PYTHON" -m venv "$VENV"
    fi
    log "installing $req into $VENV"
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$req"
    echo "$want" >"$stamp"
}

# promtool (validates deploy/prometheus.yml in the tests): taken out of
# Debian's prometheus package without installing it, so no server, no daemon
# and none of its web dependencies land on the machine.
install_promtool() {
    local dir=var/tools
    [ -x "$dir/promtool" ] && return 0
    command -v apt-get >/dev/null 2>&1 || { log "no apt-get: promtool checks will be skipped"; return 0; }
    local tmp
    tmp=$(mktemp -d)
    chmod 755 "$tmp" # apt's download user must be able to write there
    if (cd "$tmp" && apt-get download -q prometheus >/dev/null 2>&1) &&
        dpkg-deb -x "$tmp"/prometheus_*.deb "$tmp/x"; then
        mkdir -p "$dir"
        cp "$tmp/x/usr/bin/promtool" "$dir/promtool"
        log "promtool: $("$dir/promtool" --version 2>&1 | head -1)"
    else
        log "could not fetch promtool from Debian's prometheus package"
        rm -rf "$tmp"
        return 1
    fi
    rm -rf "$tmp"
}

if [ "${DEPS_SKIP_APT:-0}" != 1 ]; then
    install_apt
    install_promtool
fi
install_venv
