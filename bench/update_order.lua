-- wrk script: PUT /update-order on existing orders. BENCH_ID_PREFIX and
-- BENCH_ID_COUNT name the orders (bench/run.sh preloads "<prefix><n>" for n
-- in 0..count-1 and waits until order-service holds them); each request picks
-- one at random and sets the next status of a fixed cycle, so every request
-- is a real status change of a stored order. Answers must be 200, sent from
-- Kafka's delivery report (wrk counts any status >= 400 as an error).
dofile("bench/wrk_result.lua")
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
  bench_result(summary, latency)
end
