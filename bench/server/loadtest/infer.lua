-- infer.lua — wrk script for `make loadtest` and `make soak`: POSTs one KServe V2 request body
-- (read from the file named by $LOADTEST_BODY, e.g. a single-row JSON request) to the URL's
-- path.
--
-- Pacing (wrk has no rate option; its delay() hook sets a pause, in whole milliseconds, before a
-- connection sends its next request):
--   LOADTEST_PAUSE_MS=x  after each response a connection pauses x ms on average (x may be
--                        fractional: an accumulator spreads the whole-millisecond pauses evenly,
--                        e.g. x = 0.25 pauses 1 ms after every fourth response). With C
--                        connections and a round trip of t ms the rate is about C / (t + x) per
--                        ms; loadtest.py calibrates x to hold a target rate.
--   LOADTEST_DELAY_MS=d  every response is followed by a d ms pause (the older, fixed mode).
local f = assert(io.open(os.getenv("LOADTEST_BODY"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
local x = tonumber(os.getenv("LOADTEST_PAUSE_MS") or "")
local d = tonumber(os.getenv("LOADTEST_DELAY_MS") or "")
if x and x > 0 then
  local acc = 0
  function delay()
    acc = acc + x
    local k = math.floor(acc)
    acc = acc - k
    return k
  end
elseif d then
  function delay()
    return d
  end
end
