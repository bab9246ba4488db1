-- wrk script: POST /create-order with a unique orderId per request.
-- Ids are "B<run>-<thread>-<n>": unique across threads and runs, so every
-- request is a real CREATE (no duplicate goes to the DLQ during a bench).
-- thread_id is a global on purpose: setup() assigns it per thread with
-- thread:set, which a local would shadow (every thread would be 0).
dofile("bench/wrk_result.lua")
local counter = 0
thread_id = 0
local run = os.getenv("BENCH_RUN") or tostring(os.time())
local threads = {}

function setup(thread)
  thread:set("thread_id", #threads)
  table.insert(threads, thread)
end

function init(args)
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  counter = counter + 1
  local body = string.format('{"orderId":"B%s-%d-%d","itemsCount":3}', run, thread_id, counter)
  return wrk.format(nil, "/create-order", nil, body)
end

-- global, so done() can sum it over the threads (thread:get)
non201 = 0
function response(status, headers, body)
  if status ~= 201 then
    non201 = non201 + 1
  end
end

function done(summary, latency, requests)
  local not201 = 0
  for _, t in ipairs(threads) do
    not201 = not201 + (t:get("non201") or 0)
  end
  bench_result(summary, latency, string.format("not201=%d ", not201))
end
