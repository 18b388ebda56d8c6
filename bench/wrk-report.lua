-- wrk script for bench/run: plain GETs (no per-request Lua), and a machine-readable
-- summary at the end. Latencies are in microseconds.
done = function(summary, latency, requests)
   local function p(k, v) io.write(string.format("BENCH %s=%s\n", k, tostring(v))) end
   p("requests", summary.requests)
   p("duration_us", summary.duration)
   p("bytes", summary.bytes)
   p("err_connect", summary.errors.connect)
   p("err_read", summary.errors.read)
   p("err_write", summary.errors.write)
   p("err_status", summary.errors.status)
   p("err_timeout", summary.errors.timeout)
   p("min", latency.min)
   p("max", latency.max)
   p("mean", latency.mean)
   p("stdev", latency.stdev)
   p("p50", latency:percentile(50))
   p("p90", latency:percentile(90))
   p("p99", latency:percentile(99))
   p("p999", latency:percentile(99.9))
end
