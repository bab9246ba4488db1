#!/usr/bin/env bash
# bench/cpu_per_request.sh URL LUA CONNS SECONDS NAME=PID...: one wrk run
# (wrk -t2 -c CONNS -d SECONDS -s LUA URL) and the CPU each named process spent
# during it, in microseconds per answered request (user + system time from
# /proc/PID/stat before and after), wrk's own beside them. On a box whose
# speed moves from run to run this says where a request's cost goes better
# than req/s do: the shares repeat while the rates do not. Measures only.
#
# Example: bench/cpu_per_request.sh http://127.0.0.1:8000 bench/create_order.lua 64 10 \
#              kafka=$(pgrep -f kafka.Kafka) cart=$(pgrep cart-service) order=$(pgrep order-service)
set -euo pipefail
[ $# -ge 5 ] || { sed -n '2,10p' "$0" >&2; exit 2; }
url=$1 lua=$2 conns=$3 secs=$4
shift 4
ticks() { awk '{ sub(/^[^)]*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }
declare -a names pids before
for kv in "$@"; do
    names+=("${kv%%=*}")
    pids+=("${kv#*=}")
    before+=("$(ticks "${kv#*=}")")
done
out=$(mktemp)
trap 'rm -f "$out" "$out.time"' EXIT
/usr/bin/time -f "%U %S" -o "$out.time" wrk -t2 -c"$conns" -d"${secs}s" --latency -s "$lua" "$url" >"$out"
n=$(grep -o 'requests=[0-9]*' "$out" | cut -d= -f2)
[ -n "$n" ] && [ "$n" -gt 0 ] || { echo "no BENCH_RESULT line from wrk" >&2; exit 1; }
hz=$(getconf CLK_TCK)
line="req/s $((n / secs)) $(grep -o 'p50_ms=[0-9.]* p99_ms=[0-9.]*' "$out") us/request:"
for i in "${!pids[@]}"; do
    d=$(($(ticks "${pids[$i]}") - before[i]))
    line+=" ${names[$i]} $(awk -v d="$d" -v hz="$hz" -v n="$n" 'BEGIN { printf "%.1f", d / hz / n * 1e6 }')"
done
read -r wu ws <"$out.time"
line+=" wrk $(awk -v u="$wu" -v s="$ws" -v n="$n" 'BEGIN { printf "%.1f", (u + s) / n * 1e6 }')"
echo "$line"
