# bench/wait_up.sh, sourced by the bench scripts (each defines say()).
# wait_up URL PID NAME LOG [POLLS]: polls URL every 0.1 s until it answers
# 2xx; exits the script when PID dies first (naming LOG) or after POLLS polls
# (1200: two minutes, a service catching up under valgrind may need them).
wait_up() {
    local url=$1 pid=$2 name=$3 log=$4 polls=${5:-1200}
    for _ in $(seq 1 "$polls"); do
        curl -fsS -o /dev/null "$url" 2>/dev/null && return 0
        kill -0 "$pid" 2>/dev/null || { say "$name died; see $log"; exit 1; }
        sleep 0.1
    done
    say "$name not up at $url"
    exit 1
}
