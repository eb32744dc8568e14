-- infer.lua — wrk script for `make loadtest` and `make soak`: POSTs one KServe V2 request body
-- (read from the file named by $LOADTEST_BODY, e.g. a single-row JSON request) to the URL's
-- path. With $LOADTEST_DELAY_MS set, each connection waits that long between a response and its
-- next request (wrk's delay() hook): rate-limited load for "p99 at half the maximum throughput".
local f = assert(io.open(os.getenv("LOADTEST_BODY"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
local d = tonumber(os.getenv("LOADTEST_DELAY_MS") or "")
if d then
  function delay()
    return d
  end
end
