-- wrk script: GET a path (BENCH_PATH; for order-details, BENCH_ID_PREFIX and
-- BENCH_ID_COUNT pick a random existing order "<prefix><n>" per request).
local path = os.getenv("BENCH_PATH") or "/"
local prefix = os.getenv("BENCH_ID_PREFIX")
local count = tonumber(os.getenv("BENCH_ID_COUNT") or "0")

function init(args)
  math.randomseed(os.time() + math.floor(os.clock() * 1e6))
end

function request()
  if prefix and count > 0 then
    return wrk.format("GET", path .. "?orderId=" .. prefix .. math.random(0, count - 1))
  end
  return wrk.format("GET", path)
end

function done(summary, latency, requests)
  io.write(string.format("BENCH_RESULT requests=%d errors_connect=%d errors_read=%d errors_write=%d errors_status=%d errors_timeout=%d rps=%.1f p50_ms=%.3f p99_ms=%.3f max_ms=%.3f\n",
    summary.requests, summary.errors.connect, summary.errors.read, summary.errors.write,
    summary.errors.status, summary.errors.timeout,
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
