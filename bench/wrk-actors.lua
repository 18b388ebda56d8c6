-- wrk script for bench/actors.py: POST /v1.0/actors/<type>/<prefix><n>/method/m over a set of
-- $BENCH_IDS actor ids (n = offset .. offset + ids - 1, round robin), so with 16 connections
-- and 1000 ids no two requests in flight share an id; plus wrk-report.lua's summary.
local ids = tonumber(os.getenv("BENCH_IDS") or "1000")
local offset = tonumber(os.getenv("BENCH_ID_OFFSET") or "0")
local base = os.getenv("BENCH_ACTOR_PATH") or "/v1.0/actors/T/"
local headers = { ["Content-Type"] = "application/json" }
local i = 0
request = function()
   i = i + 1
   return wrk.format("POST", base .. "a" .. (offset + i % ids) .. "/method/m", headers, "{}")
end
dofile(os.getenv("BENCH_DIR") .. "/wrk-report.lua")
