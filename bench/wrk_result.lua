-- Shared by the wrk scripts of bench/ (loaded with dofile from the repository
-- root, where bench/run.sh runs wrk): the one BENCH_RESULT line that
-- run.sh records; prefix carries a script's own counters ("key=value ").
function bench_result(summary, latency, prefix)
  io.write(string.format("BENCH_RESULT %srequests=%d errors_connect=%d errors_read=%d errors_write=%d errors_status=%d errors_timeout=%d rps=%.1f p50_ms=%.3f p99_ms=%.3f max_ms=%.3f\n",
    prefix or "", summary.requests, summary.errors.connect, summary.errors.read,
    summary.errors.write, summary.errors.status, summary.errors.timeout,
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
