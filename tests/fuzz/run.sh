#!/usr/bin/env bash
# Runs every libFuzzer target of a fuzz build (make fuzz) for FUZZ_SECONDS
# each, one target per core at a time (JOBS, default: the core count; a
# libFuzzer process uses one core). Each target's report goes to a file and
# the reports are printed in the targets' order at the end.
#
# Each target starts from a throw-away copy of its seed corpus
# (tests/fuzz/corpus/<name without fuzz_>/), so new inputs found during the run
# never pollute the repository; crash, leak and timeout reproducers land in
# FUZZ_OUT (default: a temp dir, kept and named on failure). Any libFuzzer
# finding (crash, sanitizer report, leak, timeout, OOM) fails the run.
#
# usage: tests/fuzz/run.sh BUILD_DIR     env: FUZZ_SECONDS (60), FUZZ_OUT, JOBS
set -euo pipefail

build=${1:?usage: run.sh BUILD_DIR}
secs=${FUZZ_SECONDS:-60}
here=$(cd "$(dirname "$0")" && pwd)
out=${FUZZ_OUT:-$(mktemp -d "${TMPDIR:-/tmp}/orderstream-fuzz.XXXXXX")}
mkdir -p "$out"

# libavro keeps pointers at malloc()+4: without use_unaligned LeakSanitizer
# misses them and reports live objects as leaks (the targets also set it).
# No suppressions: the one known libavro leak is skipped inside
# fuzz_avro_schema (see there), so every leak report is a finding.
export LSAN_OPTIONS="use_unaligned=1${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
export ASAN_OPTIONS="detect_leaks=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"

shopt -s nullglob
targets=("$build"/fuzz_*)
if [ ${#targets[@]} -eq 0 ]; then
    echo "run.sh: no fuzz_* targets in $build" >&2
    exit 2
fi

jobs=${JOBS:-$(nproc)}
[ "$jobs" -ge 1 ] 2>/dev/null || jobs=1

fuzz_one() { # binary: runs it, writes its report to $out/<name>/report; 1 = finding
    local bin=$1 name seeds work dict base log rc=0 runs cov
    name=$(basename "$bin")
    seeds="$here/corpus/${name#fuzz_}"
    work="$out/$name/corpus"
    rm -rf "$work" && mkdir -p "$work" "$out/$name/artifacts"
    [ -d "$seeds" ] && cp -r "$seeds"/. "$work"/
    dict=()
    base="$here/${name#fuzz_}.dict"
    [ -f "$base" ] && dict=(-dict="$base")
    log="$out/$name/log"
    {
        echo "== $name: ${secs}s from $(ls "$work" | wc -l) seeds"
        "$bin" "${dict[@]}" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
            -print_final_stats=1 -artifact_prefix="$out/$name/artifacts/" \
            "$work" >"$log" 2>&1 || rc=$?
        # one summary line: executions, coverage, corpus growth
        runs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' || true)
        cov=$(grep -oE '(#[0-9]+|DONE) +.*cov: [0-9]+ ft: [0-9]+ corp: [0-9]+' "$log" | tail -1 ||
            true)
        echo "   rc=$rc runs=${runs:-?} ${cov#* }"
        if [ "$rc" -ne 0 ] || grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:' "$log"; then
            echo "   FINDING in $name; log: $log"
            grep -E 'ERROR:|runtime error:|SUMMARY:|Test unit written' "$log" | head -20 || true
            touch "$out/$name/finding"
        fi
    } >"$out/$name/report" 2>&1
}

names=()
for bin in "${targets[@]}"; do
    [ -x "$bin" ] || continue
    names+=("$(basename "$bin")")
    while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do
        wait -n || true
    done
    fuzz_one "$bin" &
done
wait || true

failed=0
for name in "${names[@]}"; do
    if [ -s "$out/$name/report" ]; then
        cat "$out/$name/report"
    else
        echo "== $name: no report (the job died)"
        failed=1
    fi
    [ -e "$out/$name/finding" ] && failed=1
done

if [ "$failed" -ne 0 ]; then
    echo "fuzz: findings kept in $out" >&2
    exit 1
fi
[ -n "${FUZZ_OUT:-}" ] || rm -rf "$out"
echo "fuzz: all targets clean (${secs}s each, $jobs at a time)"
