#!/usr/bin/env bash
# doctor.sh: a toolchain self-check of a few seconds, run before the long
# builds and tests, so a machine that lacks something fails at once with the
# Debian package to install instead of half an hour later with a linker error.
#
#   scripts/doctor.sh [run|test|bench|all]...     (default: all)
#
# For each build kind the project uses it compiles, links and (where it can)
# runs a one-line program: gcc with ASan+UBSan (the unit and e2e binaries),
# clang with -fsanitize=fuzzer,address,undefined (the libFuzzer targets), and
# every C library through pkg-config. It then finds each tool the chosen
# targets call. Why each check: presence of a package is not enough (clang
# installed without libclang-rt-14-dev compiles but cannot link a sanitizer),
# so the check is the same operation the build performs.
#
# Exit 0 when all pass; 1 with one line per failure naming its package.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=${VENV:-$ROOT/.venv}
WANT=("$@")
[ ${#WANT[@]} -gt 0 ] || WANT=(all)
want() { # want GROUP: is GROUP (or all) asked for?
    local g
    for g in "${WANT[@]}"; do
        [ "$g" = "$1" ] || [ "$g" = all ] && return 0
    done
    return 1
}

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
FAILED=()
START=$SECONDS

fail() { # fail WHAT PACKAGE DETAIL-FILE
    FAILED+=("$2")
    printf '[doctor] FAIL %s -> install the Debian package: apt-get install %s\n' "$1" "$2" >&2
    if [ -n "${3:-}" ] && [ -s "$3" ]; then
        sed -n '1,4s/^/[doctor]      /p' "$3" >&2
    fi
}

# c_check NAME PACKAGE COMPILER FLAGS... -- SOURCE: compile+link SOURCE, run it
c_check() {
    local name=$1 pkg=$2 cc=$3
    shift 3
    local flags=()
    while [ $# -gt 0 ] && [ "$1" != -- ]; do
        flags+=("$1")
        shift
    done
    shift
    local src=$1 exe="$TMP/$name"
    printf '%s\n' "$src" >"$TMP/$name.c"
    if ! command -v "$cc" >/dev/null 2>&1; then
        fail "$name ($cc not found)" "$pkg"
        return
    fi
    # the program goes first, libraries after it: the linker reads in order
    local link=()
    local f
    for f in "${flags[@]}"; do
        case "$f" in -l* | -pthread) link+=("$f") ;; esac
    done
    local cflags=()
    for f in "${flags[@]}"; do
        case "$f" in -l* | -pthread) ;; *) cflags+=("$f") ;; esac
    done
    if ! "$cc" -std=c11 "${cflags[@]}" "$TMP/$name.c" -o "$exe" "${link[@]}" >"$TMP/$name.log" 2>&1; then
        fail "$name (compile/link with $cc)" "$pkg" "$TMP/$name.log"
        return
    fi
    case " ${flags[*]} " in
    *fuzzer*) "$exe" -runs=1 >"$TMP/$name.run" 2>&1 || fail "$name (run)" "$pkg" "$TMP/$name.run" ;;
    *) "$exe" >"$TMP/$name.run" 2>&1 || fail "$name (run)" "$pkg" "$TMP/$name.run" ;;
    esac
}

# lib_check PKGCONFIG-NAMES PACKAGE HEADER CALL: a program that calls CALL
lib_check() {
    local mods=$1 pkg=$2 header=$3 call=$4 flags
    if ! command -v pkg-config >/dev/null 2>&1; then
        fail "pkg-config" pkg-config
        return
    fi
    # shellcheck disable=SC2086
    if ! flags=$(pkg-config --cflags --libs $mods 2>"$TMP/pc.log"); then
        fail "pkg-config $mods" "$pkg" "$TMP/pc.log"
        return
    fi
    # shellcheck disable=SC2086
    c_check "lib-${mods%% *}" "$pkg" gcc $flags -- \
        "#include <$header>
int main(void) { return ($call) ? 0 : 0; }"
}

tool_check() { # tool_check COMMAND PACKAGE
    command -v "$1" >/dev/null 2>&1 || fail "$1 not on PATH" "$2"
}

# --- build (every group builds) ---
tool_check cmake cmake
tool_check make make
c_check gcc build-essential gcc -- 'int main(void) { return 0; }'
lib_check rdkafka librdkafka-dev librdkafka/rdkafka.h 'rd_kafka_version() > 0'
lib_check avro-c libavro-dev avro.h 'avro_strerror() != 0'
lib_check jansson libjansson-dev jansson.h 'json_object() != 0'
lib_check "libevent libevent_pthreads" libevent-dev event2/thread.h 'evthread_use_pthreads() == 0'
lib_check libcurl libcurl4-openssl-dev curl/curl.h 'curl_version() != 0'
lib_check sqlite3 libsqlite3-dev sqlite3.h 'sqlite3_libversion_number() > 0'
lib_check libpq libpq-dev libpq-fe.h 'PQlibVersion() > 0'
lib_check check check check.h 'srunner_create(0) != 0'

# --- run: Kafka + registry (JVM, Maven), the venv for readiness probes ---
if want run || want test || want bench; then
    tool_check java openjdk-17-jre-headless
    tool_check mvn maven
    tool_check curl curl
    tool_check ss iproute2
    tool_check pgrep procps
    tool_check npm npm
    if [ ! -x "$VENV/bin/python" ]; then
        fail "Python venv $VENV missing (scripts/deps.sh creates it)" python3-venv
    fi
fi

# --- test: sanitizers, fuzzing, valgrind, check, formatting, PostgreSQL ---
if want test; then
    c_check asan-ubsan build-essential gcc -fsanitize=address,undefined -fno-sanitize-recover=undefined -- \
        '#include <stdlib.h>
int main(void) { char *p = malloc(4); p[0] = 1; int r = p[0] - 1; free(p); return r; }'
    c_check libfuzzer libclang-rt-14-dev clang -fsanitize=fuzzer,address,undefined -- \
        '#include <stddef.h>
#include <stdint.h>
int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);
int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }'
    tool_check valgrind valgrind
    tool_check clang-format clang-format
    tool_check docker-compose docker-compose
    pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
    if [ -z "$pgbin" ] || [ ! -x "$pgbin/initdb" ] || [ ! -x "$pgbin/pg_ctl" ]; then
        fail "PostgreSQL server (initdb, pg_ctl)" postgresql
    fi
    tool_check psql postgresql-client
    # the /docs page test drives a real headless Chromium through its WebDriver
    if ! command -v chromium >/dev/null 2>&1; then
        fail "chromium not on PATH" chromium
    elif ! timeout 60 chromium --headless=new --no-sandbox --disable-gpu --dump-dom about:blank \
        >"$TMP/chromium.out" 2>&1; then
        fail "headless chromium does not start" chromium "$TMP/chromium.out"
    fi
    tool_check chromedriver chromium-driver
fi

# --- bench: load generators, the reference HTTP server ---
if want bench; then
    tool_check wrk wrk
    tool_check nginx nginx-light
    tool_check strace strace
fi

if [ ${#FAILED[@]} -gt 0 ]; then
    mapfile -t uniq < <(printf '%s\n' "${FAILED[@]}" | sort -u)
    printf '[doctor] %d check(s) failed; install: apt-get install %s (or run scripts/deps.sh %s)\n' \
        "${#FAILED[@]}" "${uniq[*]}" "${WANT[*]}" >&2
    exit 1
fi
printf '[doctor] toolchain ok for %s (%ss)\n' "${WANT[*]}" $((SECONDS - START))
