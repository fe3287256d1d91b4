-- wrk script for the HTTP benchmark (bench/http.py writes the inputs, reads the last line).
--
-- Environment:
--   BENCH_WRK_REQUESTS  a Lua file returning a list of requests, each
--                       {method=, path=, headers={...}, body=}; sent round-robin, so the
--                       session cookies, CSRF tokens and POST bodies come from real pages.
--   BENCH_WRK_EXPECT    the statuses a response may have, e.g. "302" or "200,302".
--   BENCH_WRK_REDIRECT  a Lua pattern every redirect's Location must match (a redirect to
--                       the login or two-factor page is a failure, not a fast response).
--   BENCH_WRK_DELAY_MS  mean pause before each request on a connection (pacing); 0 = none.
--   BENCH_WRK_STOP_AFTER stop after this many responses (the memory phases); 0 = never.
--
-- wrk runs until --duration is over, even when its threads have stopped, so stopping early
-- (after BENCH_WRK_STOP_AFTER responses, or at the first unexpected response) also sends
-- wrk the SIGINT that ends the run and prints the summary. The shell os.execute starts is
-- wrk's child, so its $PPID is wrk; the kill runs in the background, a moment later,
-- because system() ignores SIGINT in wrk until the shell has exited.
--
-- done() prints one line "BENCH_JSON {...}" with the counts and latency percentiles.

local requests_file = os.getenv("BENCH_WRK_REQUESTS")
local expect_list = os.getenv("BENCH_WRK_EXPECT") or "200"
local redirect_pattern = os.getenv("BENCH_WRK_REDIRECT") or ""
local delay_ms = tonumber(os.getenv("BENCH_WRK_DELAY_MS") or "0")
local stop_after = tonumber(os.getenv("BENCH_WRK_STOP_AFTER") or "0")

local threads = {}

function setup(thread)
   table.insert(threads, thread)
end

function init(args)
   local entries = dofile(requests_file)
   prepared = {}
   for i, entry in ipairs(entries) do
      prepared[i] = wrk.format(entry.method, entry.path, entry.headers, entry.body)
   end
   expected = {}
   for code in string.gmatch(expect_list, "%d+") do
      expected[tonumber(code)] = true
   end
   next_index = 0
   stopping = false
   responses = 0
   unexpected = 0
   statuses = {}
   first_unexpected = ""
   math.randomseed(os.time())
end

function request()
   next_index = next_index % #prepared + 1
   return prepared[next_index]
end

-- Pacing for the "at 80% of peak" runs (bench/http.py, Wrk.paced, says why and how): each
-- connection pauses before each request. The pauses are exponentially distributed (random
-- arrivals, like people) and rounded at random to whole milliseconds, wrk's unit, so the
-- mean is kept. wrk times each request from when it is written, so the pause is not
-- counted as latency.
if delay_ms > 0 then
   function delay()
      local pause = -delay_ms * math.log(1 - math.random())
      return math.floor(pause + math.random())
   end
end

local function stop()
   if not stopping then
      stopping = true
      wrk.thread:stop()
      os.execute("(sleep 0.1; kill -INT $PPID) &")
   end
end

function response(status, headers, body)
   responses = responses + 1
   statuses[status] = (statuses[status] or 0) + 1
   local ok = expected[status] == true
   if ok and status >= 300 and status < 400 and redirect_pattern ~= "" then
      local location = headers["Location"] or headers["location"] or ""
      ok = string.match(location, redirect_pattern) ~= nil
      if not ok and first_unexpected == "" then
         first_unexpected = status .. " to " .. location
      end
   end
   if not ok then
      unexpected = unexpected + 1
      if first_unexpected == "" then
         first_unexpected = tostring(status)
      end
   end
   if not ok or (stop_after > 0 and responses >= stop_after) then
      stop()
   end
end

local function quote(text)
   return '"' .. string.gsub(text, '[%c"\\]', function(c)
      return string.format("\\u%04x", string.byte(c))
   end) .. '"'
end

function done(summary, latency, requests)
   local responses_total, unexpected_total, first = 0, 0, ""
   local status_totals = {}
   for _, thread in ipairs(threads) do
      responses_total = responses_total + (thread:get("responses") or 0)
      unexpected_total = unexpected_total + (thread:get("unexpected") or 0)
      local sample = thread:get("first_unexpected") or ""
      if first == "" then
         first = sample
      end
      for code, count in pairs(thread:get("statuses") or {}) do
         status_totals[code] = (status_totals[code] or 0) + count
      end
   end
   local status_parts = {}
   for code, count in pairs(status_totals) do
      table.insert(status_parts, quote(tostring(code)) .. ":" .. count)
   end
   local errors = summary.errors
   io.write(string.format(
      'BENCH_JSON {"requests":%d,"duration_us":%d,"responses":%d,"unexpected":%d,'
         .. '"first_unexpected":%s,"statuses":{%s},"non_2xx_3xx":%d,'
         .. '"socket_errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d},'
         .. '"latency_us":{"mean":%.1f,"p50":%d,"p90":%d,"p99":%d,"max":%d}}\n',
      summary.requests, summary.duration, responses_total, unexpected_total, quote(first),
      table.concat(status_parts, ","), errors.status,
      errors.connect, errors.read, errors.write, errors.timeout,
      latency.mean, latency:percentile(50), latency:percentile(90), latency:percentile(99),
      latency.max
   ))
end
