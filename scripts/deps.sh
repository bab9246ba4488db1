#!/usr/bin/env bash
# deps.sh: install what this project needs on a Debian 12 machine, and only
# what is missing, so `make run` / `make test` work on a fresh machine and cost
# a few dpkg-query calls on a warm one.
#
#   - Debian packages, by group (below): `deps.sh run` for `make run`,
#     `deps.sh test` for `make test`, `deps.sh bench`, `deps.sh` = all.
#   - var/tools/promtool, extracted from Debian's prometheus package (not installed)
#   - .venv (git-ignored) with tests/requirements.txt, plus bench/requirements.txt
#     (matplotlib, for make bench's plot) for the bench and all groups;
#     reinstalled only when those files change (a hash stamp inside the venv).
#
# Env: PYTHON (interpreter for the venv, default python3), VENV (default .venv),
#      DEPS_SKIP_APT=1 to skip the apt part (e.g. a machine without root).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}

# Debian packages by what needs them, each named explicitly: apt runs with
# --no-install-recommends (Recommends would drag in the docker engine with
# docker-compose), so nothing may be left to a Recommends line. clang's
# sanitizer and libFuzzer runtimes, for one, are only recommended by clang:
# libclang-rt-14-dev is named here. scripts/doctor.sh checks that each of
# these works (compile, link, run) and names the package when one does not.
#   build  compilers, CMake, every C library the services link (-dev) and
#          the unit-test framework (the release build compiles the tests too)
#   run    the local Kafka and registry (a JDK, Maven), readiness probes,
#          npm (scripts/fetch-docs-ui.sh: the Swagger UI of GET /docs)
#   test   the sanitizer/fuzz/valgrind builds, formatting, compose validation, a PostgreSQL server
#          for the store, a headless Chromium and its WebDriver (the /docs page test)
#   bench  load generators and the reference servers of `make bench`
APT_BUILD=(
    build-essential gcc make cmake pkg-config git curl ca-certificates
    librdkafka-dev libavro-dev libjansson-dev libevent-dev libcurl4-openssl-dev
    libsqlite3-dev libpq-dev check libsubunit-dev
)
APT_RUN=(openjdk-17-jre-headless maven python3 python3-venv iproute2 procps npm)
APT_TEST=(
    clang libclang-rt-14-dev clang-format valgrind
    docker-compose postgresql postgresql-client
    chromium chromium-driver
)
APT_BENCH=(wrk nginx-light strace linux-perf)

# which groups: the arguments (run, test, bench, all); default all
GROUPS_WANTED=("$@")
[ ${#GROUPS_WANTED[@]} -gt 0 ] || GROUPS_WANTED=(all)
APT_PACKAGES=("${APT_BUILD[@]}")
for g in "${GROUPS_WANTED[@]}"; do
    case "$g" in
    run | build) APT_PACKAGES+=("${APT_RUN[@]}") ;;
    test) APT_PACKAGES+=("${APT_RUN[@]}" "${APT_TEST[@]}") ;;
    bench) APT_PACKAGES+=("${APT_RUN[@]}" "${APT_BENCH[@]}") ;;
    all) APT_PACKAGES+=("${APT_RUN[@]}" "${APT_TEST[@]}" "${APT_BENCH[@]}") ;;
    *)
        echo "usage: $0 [run|test|bench|all]..." >&2
        exit 2
        ;;
    esac
done
# a JDK and Maven may come from elsewhere than Debian (a fresh machine of
# this kind has a Temurin JDK beside Debian's): only ask for Debian's when
# the tool itself is missing
if command -v java >/dev/null 2>&1; then
    APT_PACKAGES=("${APT_PACKAGES[@]/openjdk-17-jre-headless/}")
fi
if command -v mvn >/dev/null 2>&1; then
    APT_PACKAGES=("${APT_PACKAGES[@]/maven/}")
fi
# likewise npm: a machine of this kind ships Node.js with npm outside Debian
if command -v npm >/dev/null 2>&1; then
    APT_PACKAGES=("${APT_PACKAGES[@]/npm/}")
fi

log() { printf '[deps] %s\n' "$*"; }

install_apt() {
    local missing=() p
    for p in "${APT_PACKAGES[@]}"; do
        [ -n "$p" ] || continue
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
    "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null || rc=$?
    [ "$own_policy" = 1 ] && "${sudo[@]}" rm -f "$policy"
    return $rc
}

install_venv() {
    local reqs=(tests/requirements.txt) stamp="$VENV/.requirements.sha256" want
    case " ${GROUPS_WANTED[*]} " in
    *" bench "* | *" all "*) reqs+=(bench/requirements.txt) ;;
    esac
    # a venv that has the bench group's packages also satisfies the test group alone
    if [ ${#reqs[@]} = 1 ] && [ -f "$stamp" ] &&
        [ "$(cat "$stamp")" = "$(cat tests/requirements.txt bench/requirements.txt | sha256sum | cut -d' ' -f1)" ]; then
        reqs+=(bench/requirements.txt)
    fi
    want=$(cat "${reqs[@]}" | sha256sum | cut -d' ' -f1)
    if [ -x "$VENV/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
        log "venv $VENV: up to date"
        return 0
    fi
    if [ ! -x "$VENV/bin/python" ]; then
        log "creating venv $VENV with $PYTHON ($("$PYTHON" --version 2>&1))"
        "$PYTHON" -m venv "$VENV"
    fi
    log "installing ${reqs[*]} into $VENV"
    local args=()
    for r in "${reqs[@]}"; do args+=(-r "$r"); done
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check "${args[@]}"
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
    case " ${GROUPS_WANTED[*]} " in
    *" test "* | *" all "*) install_promtool ;;
    esac
fi
install_venv
