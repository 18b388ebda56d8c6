#!/usr/bin/env python3
"""bench/state.py: the "state" suite of bench/run.

GET and SET of one key with a 1 KB value through daprd (HTTP/1.1 with wrk, gRPC with h2load),
against a Redis the suite starts on a free loopback port and against the in-memory store, next to
redis-benchmark GET/SET on the same Redis at the same concurrency (16 connections by default).

Pinning: the reference row runs redis-server on the server CPU and redis-benchmark on the load CPU;
the daprd rows run daprd on the server CPU and Redis next to the load generator (redis-server is
moved with `taskset -p`), so the hop under test has a core of its own in both.
Also: GET at a fixed 1000 requests/s (h2load --h1) for p50/p99, and redis-benchmark with one
client for the bare Redis round trip, so "added latency" = daprd GET p50 - Redis p50.
"""
import os
import subprocess
import time

import common as C

STORES = (("redis", "state.redis"), ("memory", "state.in-memory"))


def grpc_get(store, key):
    return C.grpc_frame(C.pb_len(1, store.encode()) + C.pb_len(2, key.encode()))


def grpc_save(store, key, value):
    item = C.pb_len(1, key.encode()) + C.pb_len(2, value.encode())
    return C.grpc_frame(C.pb_len(1, store.encode()) + C.pb_len(2, item))


def grpc_ok(ctx, port, method, frame_file):
    """One gRPC call with curl (h2c): True when grpc-status is 0."""
    hdr = ctx.path("grpc.hdr")
    r = subprocess.run(["curl", "-s", "-m", "5", "--http2-prior-knowledge", "-X", "POST",
                        "-H", "content-type: application/grpc", "-H", "te: trailers",
                        "--data-binary", "@" + frame_file, "-D", hdr, "-o", "/dev/null",
                        f"http://127.0.0.1:{port}/dapr.proto.runtime.v1.Dapr/{method}"])
    txt = open(hdr, errors="replace").read() if os.path.exists(hdr) else ""
    ok = r.returncode == 0 and "grpc-status: 0" in txt.lower()
    if not ok:
        ctx.note(f"gRPC {method} sanity call failed: {txt.strip()[:300]}")
    return ok


def redis_bench(ctx, port, tests, clients, n, size):
    cmd = ctx.load + ["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-c", str(clients),
                      "-n", str(n), "-t", tests, "-d", str(size), "--csv"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300).stdout
    res = {}
    for line in out.splitlines()[1:]:
        f = [x.strip('"') for x in line.split(",")]
        if len(f) >= 8:
            res[f[0]] = {"rps": float(f[1]), "mean": float(f[2]), "p50": float(f[4]),
                         "p95": float(f[5]), "p99": float(f[6]), "max": float(f[7]), "errors": 0}
    return res


def main():
    p = C.parser(__doc__)
    p.add_argument("--rate", type=int, default=1000)
    a = p.parse_args()
    ctx = C.Ctx(a, "state")
    value = C.json_body(a.body_size)
    rows = []
    out = {"suite": "state", "rows": rows, "value_bytes": len(value),
                     "connections": a.connections}

    # ---- Redis, and the redis-benchmark reference (redis-server alone on the server CPU)
    redis = C.start_redis(ctx, cpu="srv")
    ctx.log(f"redis-server on 127.0.0.1:{redis.port}")
    C.busy_before(ctx)
    calib = redis_bench(ctx, redis.port, "get,set", a.connections, 20000, a.body_size)
    n = int(max(calib.get("GET", {"rps": 50000})["rps"], calib.get("SET", {"rps": 50000})["rps"])
            * a.duration)
    t0 = C.cpu_ticks(redis.pid)
    ctx.log(f"redis-benchmark -c {a.connections} -n {n} -t set,get -d {a.body_size}")
    rb = redis_bench(ctx, redis.port, "set,get", a.connections, n, a.body_size)
    t1 = C.cpu_ticks(redis.pid)
    for op in ("GET", "SET"):
        r = rb.get(op)
        if r:
            rows.append({"id": f"redis-benchmark-{op.lower()}", "label": f"redis-benchmark {op}",
                         "store": "redis", "op": op, "proto": "RESP", "rps": r["rps"],
                         "p50": r["p50"], "p99": r["p99"], "errors": 0,
                         "cpu_us": {"redis-server": (t1 - t0) / C.HZ * 1e6 / (2 * n)}})
    one = redis_bench(ctx, redis.port, "get", 1, 5000, a.body_size).get("GET")
    out["redis_rtt_p50"] = one["p50"] if one else None
    out["redis_rtt_p99"] = one["p99"] if one else None

    # ---- daprd with both stores; Redis moves next to the load generator
    if ctx.load:
        subprocess.run(["taskset", "-a", "-p", "-c", str(a.load_cpu), str(redis.pid)],
                       capture_output=True)
    res = ctx.path("res")
    C.component(res, "redis", "state.redis", {"redisHost": f"127.0.0.1:{redis.port}"})
    C.component(res, "memory", "state.in-memory")
    d = C.Daprd(ctx, "statebench", res)
    if not d.ready():
        d.log_problems("state")
        out["error"] = "daprd did not become ready"
        ctx.save(out)
        return 1
    rss_idle = C.mem_kb(d.pid)
    key = "bench-key"
    body_file, frame_get, frame_set = ctx.path("set.json"), ctx.path("get.grpc"), ctx.path("set.grpc")
    for store, _ in STORES:
        with open(body_file, "w") as f:
            f.write(f'[{{"key":"{key}","value":{value}}}]')
        st, b = C.http("POST", d.http_port, f"/v1.0/state/{store}", open(body_file, "rb").read())
        st2, got = C.http("GET", d.http_port, f"/v1.0/state/{store}/{key}")
        if st != 204 or st2 != 200 or got.decode() != value:
            ctx.note(f"{store}: sanity save/get failed: {st} {st2} {got[:120]!r}")
        with open(frame_get, "wb") as f:
            f.write(grpc_get(store, key))
        with open(frame_set, "wb") as f:
            f.write(grpc_save(store, key, value))
        grpc_ok(ctx, d.grpc_port, "GetState", frame_get)
        grpc_ok(ctx, d.grpc_port, "SaveState", frame_set)
        pids = {"daprd": d.pid}
        if store == "redis":
            pids["redis-server"] = redis.pid
        http_url = f"http://127.0.0.1:{d.http_port}/v1.0/state/{store}"
        grpc_url = f"http://127.0.0.1:{d.grpc_port}/dapr.proto.runtime.v1.Dapr/"
        for op in ("GET", "SET"):
            for proto in ("HTTP", "gRPC"):
                rid = f"daprd-{store}-{op.lower()}-{proto.lower()}"
                C.busy_before(ctx)
                if proto == "HTTP":
                    url = f"{http_url}/{key}" if op == "GET" else http_url
                    bf = body_file if op == "SET" else None
                    C.wrk(ctx, url, a.warmup, body_file=bf, tag=rid + "-warm")
                    t0 = C.ticks(pids)
                    ctx.log(f"{rid}: wrk -c{a.connections} -d{a.duration}s {url}")
                    r = C.wrk(ctx, url, a.duration, body_file=bf, tag=rid)
                else:
                    frame = frame_get if op == "GET" else frame_set
                    url = grpc_url + ("GetState" if op == "GET" else "SaveState")
                    args = ["-c", str(a.connections), "-m", "1", "-t", "1", "-d", frame,
                            "-H", "content-type: application/grpc", "-H", "te: trailers"]
                    C.h2load(ctx, [url], args + ["-D", str(a.warmup)], a.warmup + 30,
                             tag=rid + "-warm", log=False)
                    t0 = C.ticks(pids)
                    ctx.log(f"{rid}: h2load -c{a.connections} -m1 -D{a.duration} {url}")
                    r = C.h2load(ctx, [url], args + ["-D", str(a.duration)], a.duration + 30, tag=rid)
                t1 = C.ticks(pids)
                row = {"id": rid, "label": f"daprd {op} {proto} → {store}", "store": store, "op": op,
                       "proto": proto, "rps": r and r["rps"], "p50": r and r.get("p50"),
                       "p99": r and r.get("p99"), "errors": r["errors"] if r else None,
                       "requests": r and r["requests"],
                       "cpu_us": C.cpu_per_req(t0, t1, r and r["requests"]),
                       "rss_kb": C.mem_kb(d.pid), "hwm_kb": C.mem_kb(d.pid, "VmHWM")}
                rows.append(row)
        # fixed rate GET over HTTP: latency
        rid = f"daprd-{store}-get-rate"
        url = f"{http_url}/{key}"
        conns = 10
        per = a.rate // conns
        C.busy_before(ctx)
        t0 = C.ticks(pids)
        ctx.log(f"{rid}: h2load --h1 at {a.rate}/s for {a.duration}s {url}")
        r = C.h2load(ctx, [url], ["--h1", "-c", str(conns), "--rps", str(per), "-r", "1",
                                  "--rate-period", "1ms", "-n", str(a.rate * a.duration)],
                     a.duration + 30, tag=rid)
        t1 = C.ticks(pids)
        rows.append({"id": rid, "label": f"daprd GET HTTP → {store} at {a.rate}/s", "store": store,
                     "op": "GET", "proto": "HTTP", "rate": a.rate, "rps": r and r["rps"],
                     "p50": r and r.get("p50"), "p90": r and r.get("p90"), "p99": r and r.get("p99"),
                     "p999": r and r.get("p999"), "errors": r["errors"] if r else None,
                     "cpu_us": C.cpu_per_req(t0, t1, r and r["requests"])})
    out["daprd_rss_idle_kb"] = rss_idle
    out["daprd_hwm_kb"] = C.mem_kb(d.pid, "VmHWM")
    d.log_problems("state")
    ctx.save(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
