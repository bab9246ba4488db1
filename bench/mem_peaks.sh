# bench/mem_peaks.sh, sourced by bench/run.sh and bench/scan_mem.sh.
# mem_peaks PID FILE SECONDS: samples /proc/PID/status every SECONDS until the
# process ends (or the caller kills the sampler) and keeps in FILE the peaks
# "RssAnon VmRSS" in kB: RssAnon (heap, stacks, arenas: the issue-15 target)
# and VmRSS (plus file-backed pages, e.g. SQLite's mmap). FILE is replaced
# whole at each sample, so a reader never sees half a line.
mem_peaks() {
    local pid=$1 file=$2 every=$3 a=0 v=0 ra rv
    while [ -r "/proc/$pid/status" ]; do
        read -r ra rv < <(awk '/^RssAnon/ {a=$2} /^VmRSS/ {v=$2} END {print a+0, v+0}' "/proc/$pid/status" 2>/dev/null || echo "0 0")
        [ "$ra" -gt "$a" ] && a=$ra
        [ "$rv" -gt "$v" ] && v=$rv
        echo "$a $v" >"$file.tmp" && mv "$file.tmp" "$file"
        sleep "$every"
    done
}
