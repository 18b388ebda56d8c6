-- wrk script for bench/run --suite invoke: the same static POST on every request (the body is
-- read once from $BENCH_BODY_FILE; no request() hook, so wrk builds the request once and adds no
-- per-request Lua work), plus the summary of wrk-report.lua.
local f = assert(io.open(os.getenv("BENCH_BODY_FILE"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
dofile(os.getenv("BENCH_DIR") .. "/wrk-report.lua")
