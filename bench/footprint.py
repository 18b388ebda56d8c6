#!/usr/bin/env python3
"""bench/footprint.py: the "footprint" suite of bench/run.

  size       daprd as built and stripped (`strip -o`), plus the shared libraries it links that a
             minimal Debian lacks (libuv, nghttp2, yaml, hiredis, jansson, mbedTLS), for honesty:
             Dapr's daprd is one static Go binary
  idle RSS   VmRSS / RssAnon / VmHWM of a daprd with no components and of one with
             examples/resources, --idle-wait seconds (30) after it answered /v1.0/healthz 204
  1000 QPS   daprd one invoke hop (nginx app on the load CPU) at --rate/s (1000) for --duration s:
             CPU (mCPU, from /proc/<pid>/stat) and RSS, per 1000 requests/s
  ready      exec → first `GET /v1.0/healthz` answered 204, with 0, 1 and 10 components
             (state.in-memory / pubsub.in-memory), polled in a tight loop from the load CPU;
             median (and min/max) of --ready-runs runs (7)
The idle daprds start first and sit idle while the start-up runs happen (they use no CPU), so the
suite takes about max(idle-wait, the rest) rather than their sum.
"""
import os
import socket
import statistics
import subprocess
import time

import common as C


def ready_once(ctx, res_dir):
    hp, gp, ip = C.free_ports(3)
    cmd = ctx.srv + [ctx.a.daprd, "--app-id", f"ready{hp}", "--dapr-http-port", str(hp),
                     "--dapr-grpc-port", str(gp), "--dapr-internal-grpc-port", str(ip),
                     "--dapr-listen-addresses", "127.0.0.1", "--resources-path", res_dir,
                     "--log-level", "warn"]
    req = f"GET /v1.0/healthz HTTP/1.1\r\nHost: 127.0.0.1:{hp}\r\n\r\n".encode()
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ctx.procs.append(p)
    dt = None
    end = t0 + 10
    try:
        while time.perf_counter() < end and p.poll() is None:
            s = socket.socket()
            try:
                s.connect(("127.0.0.1", hp))
                s.sendall(req)
                if s.recv(64).startswith(b"HTTP/1.1 204"):
                    dt = time.perf_counter() - t0
                    break
            except OSError:
                pass
            finally:
                s.close()
    finally:
        ctx.stop(p)
    return dt


def main():
    p = C.parser(__doc__)
    p.add_argument("--idle-wait", type=int, default=30)
    p.add_argument("--ready-runs", type=int, default=7)
    p.add_argument("--rate", type=int, default=1000)
    a = p.parse_args()
    ctx = C.Ctx(a, "footprint")
    if ctx.load:
        os.sched_setaffinity(0, {a.load_cpu})  # the poll loop and h2load stay off the server CPU
    out = {"suite": "footprint", "idle_wait": a.idle_wait}

    # ---- size
    stripped = ctx.path("daprd.stripped")
    subprocess.run(["strip", "-o", stripped, a.daprd], check=False)
    out["size_bytes"] = os.path.getsize(a.daprd)
    out["stripped_bytes"] = os.path.getsize(stripped) if os.path.exists(stripped) else None
    libs = {}
    ldd = subprocess.run(["ldd", a.daprd], capture_output=True, text=True).stdout
    for line in ldd.splitlines():
        f = line.split()
        if "=>" in f and len(f) >= 3 and os.path.exists(f[2]):
            name = f[0]
            if any(k in name for k in ("uv", "nghttp2", "yaml", "hiredis", "jansson", "mbed", "sqlite")):
                libs[name] = os.path.getsize(os.path.realpath(f[2]))
    out["shared_libs"] = libs

    # ---- idle daprds (start now, read after idle-wait)
    empty = ctx.path("res-empty")
    os.makedirs(empty)
    idle = {}
    for label, res in (("no components", empty),
                       ("examples/resources", os.path.join(C.ROOT, "examples/resources"))):
        d = C.Daprd(ctx, "idle" + str(len(idle)), res)
        if d.ready():
            idle[label] = (d, time.time())
        else:
            d.log_problems("idle " + label)

    # ---- ready time with 0, 1, 10 components
    dirs = {0: empty}
    for n in (1, 10):
        r = ctx.path(f"res-{n}")
        for i in range(n):
            if i % 5 == 4:
                C.component(r, f"ps{i}", "pubsub.in-memory")
            else:
                C.component(r, f"st{i}", "state.in-memory")
        dirs[n] = r
    out["ready"] = {}
    for n, r in dirs.items():
        ts = [ready_once(ctx, r) for _ in range(a.ready_runs)]
        ok = [t * 1e3 for t in ts if t is not None]
        out["ready"][str(n)] = {"median_ms": statistics.median(ok) if ok else None,
                                "min_ms": min(ok) if ok else None, "max_ms": max(ok) if ok else None,
                                "runs": len(ts), "failed": len(ts) - len(ok)}
        ctx.log(f"ready with {n} components: median {out['ready'][str(n)]['median_ms']} ms")

    # ---- 1000 QPS of invoke through one daprd hop
    app_port = C.free_ports(1)[0]
    body = C.json_body(a.body_size)
    app = C.nginx(ctx, "app", f"""    server {{
        listen 127.0.0.1:{app_port};
        location = /echo {{ default_type application/json; return 200 '{body}'; }}
    }}""", cpu="load")
    C.wait_port(app_port, app)
    d = C.Daprd(ctx, "fpapp", empty, ["--app-port", str(app_port)])
    qps = {}
    if d.ready():
        req = ctx.path("req.json")
        with open(req, "w") as f:
            f.write(C.json_body(a.body_size, "y"))
        url = f"http://127.0.0.1:{d.http_port}/v1.0/invoke/fpapp/method/echo"
        st, b = C.http("POST", d.http_port, "/v1.0/invoke/fpapp/method/echo", open(req, "rb").read())
        if st != 200:
            ctx.note(f"invoke sanity call answered {st}: {b[:200]!r}")
        C.h2load(ctx, [url], ["--h1", "-c", "10", "-n", "2000", "-d", req], 30, tag="fp-warm", log=False)
        rss0 = C.mem_kb(d.pid)
        t0, w0 = C.cpu_ticks(d.pid), time.time()
        ctx.log(f"invoke at {a.rate}/s for {a.duration}s")
        r = C.h2load(ctx, [url], ["--h1", "-c", "10", "--rps", str(a.rate // 10), "-r", "1",
                                  "--rate-period", "1ms", "-n", str(a.rate * a.duration), "-d", req,
                                  "-H", "Content-Type: application/json"], a.duration + 30, tag="fp-rate")
        t1, w1 = C.cpu_ticks(d.pid), time.time()
        mcpu = (t1 - t0) / C.HZ / (w1 - w0) * 1000
        achieved = (r["requests"] / (w1 - w0)) if r else 0
        qps = {"rate": a.rate, "achieved_rps": r and r["rps"], "errors": r and r["errors"],
               "p50": r and r.get("p50"), "p99": r and r.get("p99"),
               "mcpu": mcpu, "mcpu_per_1000": mcpu * 1000 / achieved if achieved else None,
               "rss_before_kb": rss0, "rss_kb": C.mem_kb(d.pid), "hwm_kb": C.mem_kb(d.pid, "VmHWM"),
               "rss_anon_kb": C.mem_kb(d.pid, "RssAnon")}
    else:
        d.log_problems("footprint invoke")
    ctx.stop(d.proc)
    ctx.stop(app)
    out["invoke_1000"] = qps

    # ---- idle RSS once idle-wait has passed
    out["idle"] = {}
    for label, (d, t) in idle.items():
        rest = t + a.idle_wait - time.time()
        if rest > 0:
            time.sleep(rest)
        out["idle"][label] = {"rss_kb": C.mem_kb(d.pid), "rss_anon_kb": C.mem_kb(d.pid, "RssAnon"),
                              "rss_file_kb": C.mem_kb(d.pid, "RssFile"),
                              "hwm_kb": C.mem_kb(d.pid, "VmHWM"), "after_s": round(time.time() - t, 1),
                              "cpu_ticks": C.cpu_ticks(d.pid)}
        d.log_problems("idle " + label)
    ctx.save(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
