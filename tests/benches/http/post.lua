-- wrk script of tests/benches/http.sh: every request is the same POST
-- /quotes with a valid body and the token in $TOKEN. No response()
-- callback (it would cost the client Lua work per answer); an answer
-- that is not 2xx counts in summary.errors.status. done() prints one line
-- the script parses: requests per second, p50 and p99 in microseconds,
-- requests, and errors (connect, read, write, timeout, non-2xx status).
wrk.method = "POST"
wrk.path = "/quotes"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKEN")
wrk.body = [[{"customer":"Ada Lovelace","email":"ada@example.com","country":"GB","discountPercent":15,"lines":[{"sku":"TSHIRT-BLK-M","quantity":2,"unitCents":1999},{"sku":"HOODIE-GRY-L","quantity":1,"unitCents":4990},{"sku":"MUG-LOGO","quantity":4,"unitCents":950}],"note":"Leave it at the door"}]]

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT rps=%.1f p50_us=%d p99_us=%d requests=%d errors=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50),
    latency:percentile(99), summary.requests,
    e.connect + e.read + e.write + e.status + e.timeout))
end
