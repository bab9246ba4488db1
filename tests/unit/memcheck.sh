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
# usage: tests/unit/memcheck.sh BUILD_DIR     env: MEMCHECK_LOG_DIR, MEMCHECK_ARGS, JOBS
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

# One test per core at a time (JOBS, default: the core count): valgrind runs
# each binary on one core, and the tests wait on the broker as much as they
# compute. Each job writes its verdict to a file; the reports are printed in
# the binaries' order once all are done, so parallel output never interleaves.
jobs=${JOBS:-$(nproc)}
[ "$jobs" -ge 1 ] 2>/dev/null || jobs=1
verdicts=$(mktemp -d "${TMPDIR:-/tmp}/orderstream-memcheck.XXXXXX")
trap 'rm -rf "$verdicts"' EXIT

run_one() { # binary, verdict file: writes "rc seconds"
    local bin=$1 name rc=0 start
    name=$(basename "$bin")
    start=$(date +%s)
    ORDERSTREAM_MEMCHECK=1 CK_FORK=no valgrind -q --error-exitcode=99 --leak-check=full \
        --show-leak-kinds=definite,indirect,possible \
        --errors-for-leak-kinds=definite,indirect,possible ${MEMCHECK_ARGS:-} \
        "$bin" >"$logs/$name.log" 2>&1 || rc=$?
    echo "$rc $(($(date +%s) - start))" >"$2"
}

started=0
for bin in "${tests[@]}"; do
    [ -x "$bin" ] || continue
    while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do
        wait -n || true
    done
    run_one "$bin" "$verdicts/$(basename "$bin")" &
    started=$((started + 1))
done
wait || true

failed=() skipped=() passed=0
for bin in "${tests[@]}"; do
    [ -x "$bin" ] || continue
    name=$(basename "$bin")
    rc=98 took=?
    [ -s "$verdicts/$name" ] && read -r rc took <"$verdicts/$name"
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

echo "memcheck: $passed clean, ${#skipped[@]} skipped, ${#failed[@]} failed ($started binaries, $jobs at a time)"
[ ${#failed[@]} -eq 0 ]
