-- wrk script: GET a path (BENCH_PATH; for order-details, BENCH_ID_PREFIX and
-- BENCH_ID_COUNT pick a random existing order "<prefix><n>" per request).
dofile("bench/wrk_result.lua")
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
  bench_result(summary, latency)
end
