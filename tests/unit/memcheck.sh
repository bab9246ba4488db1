#!/usr/bin/env bash
# Runs every C unit test binary of a build without sanitizers under valgrind
# memcheck (make memcheck): invalid reads/writes, uses of uninitialised
# values, bad frees and leaks (definite, indirect and possible) all fail.
#
# valgrind and ASan cannot share a process, hence the separate build. Run it
# under scripts/with-stack.sh so the tests that need the real broker and
# registry run too instead of skipping (exit 77 = skipped, counted apart).
# libcheck runs in-process (CK_FORK=no) so valgrind sees the tests themselves.
# ORDERSTREAM_MEMCHECK=1 tells a test with a long randomized loop to run a
# tenth of it (valgrind is ~50x slower; the ASan run does the whole loop).
#
# --track-origins=yes roughly doubles the run time: pass it in MEMCHECK_ARGS
# when a report needs the origin of an uninitialised value.
#
# usage: tests/unit/memcheck.sh BUILD_DIR     env: MEMCHECK_LOG_DIR, MEMCHECK_ARGS
set -euo pipefail

build=${1:?usage: memcheck.sh BUILD_DIR}
logs=${MEMCHECK_LOG_DIR:-$build/memcheck}
mkdir -p "$logs"

shopt -s nullglob
tests=("$build"/test_*)
[ ${#tests[@]} -gt 0 ] || {
    echo "memcheck.sh: no test_* binaries in $build" >&2
    exit 2
}

failed=() skipped=() passed=0
for bin in "${tests[@]}"; do
    [ -x "$bin" ] || continue
    name=$(basename "$bin")
    start=$(date +%s)
    rc=0
    ORDERSTREAM_MEMCHECK=1 CK_FORK=no valgrind -q --error-exitcode=99 --leak-check=full --show-leak-kinds=definite,indirect,possible \
        --errors-for-leak-kinds=definite,indirect,possible ${MEMCHECK_ARGS:-} \
        "$bin" >"$logs/$name.log" 2>&1 || rc=$?
    took=$(($(date +%s) - start))
    case $rc in
    0)
        passed=$((passed + 1))
        echo "   ok    $name (${took}s)"
        ;;
    77)
        skipped+=("$name")
        echo "   skip  $name (needs the stack: run under scripts/with-stack.sh)"
        ;;
    *)
        failed+=("$name")
        echo "   FAIL  $name rc=$rc (${took}s), log: $logs/$name.log"
        grep -E '^==[0-9]+== ' "$logs/$name.log" | head -30 || true
        ;;
    esac
done

echo "memcheck: $passed clean, ${#skipped[@]} skipped, ${#failed[@]} failed"
[ ${#failed[@]} -eq 0 ]
