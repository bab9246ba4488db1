-- wrk script: PUT /update-order on existing orders. BENCH_ID_PREFIX and
-- BENCH_ID_COUNT name the orders (bench/run.sh preloads "<prefix><n>" for n
-- in 0..count-1 and waits until order-service holds them); each request picks
-- one at random and sets the next status of a fixed cycle, so every request
-- is a real status change of a stored order. Answers must be 200, sent from
-- Kafka's delivery report (wrk counts any status >= 400 as an error).
local prefix = os.getenv("BENCH_ID_PREFIX") or "U"
local count = tonumber(os.getenv("BENCH_ID_COUNT") or "1000")
local statuses = {"pending", "confirmed", "processing", "shipped", "delivered"}
local n = 0

function init(args)
  math.randomseed(os.time() + math.floor(os.clock() * 1e6))
  wrk.method = "PUT"
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  n = n + 1
  local body = string.format('{"orderId":"%s%d","status":"%s"}', prefix,
    math.random(0, count - 1), statuses[n % #statuses + 1])
  return wrk.format(nil, "/update-order", nil, body)
end

function done(summary, latency, requests)
  io.write(string.format("BENCH_RESULT requests=%d errors_connect=%d errors_read=%d errors_write=%d errors_status=%d errors_timeout=%d rps=%.1f p50_ms=%.3f p99_ms=%.3f max_ms=%.3f\n",
    summary.requests, summary.errors.connect, summary.errors.read, summary.errors.write,
    summary.errors.status, summary.errors.timeout,
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
