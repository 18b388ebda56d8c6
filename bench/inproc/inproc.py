#!/usr/bin/env python3
"""bench/inproc/inproc.py: the "inproc" suite of bench/run (issue 7).

The same operations in one run, in process and through a sidecar:

  in process  bench/inproc/inproc_bench.c, linked against the libdapr.a that daprd is linked
              against (compiled and linked with daprd's own flags and link line, read from the
              build directory of --daprd: release + LTO in build-bench/), pinned on the server
              CPU: dapr_state_get of one key with a 1 KB value (state.in-memory, state.redis) and
              dapr_invoke of its own app id answered by an in-process handler echoing 1 KB;
              closed loop with C operations outstanding (--concurrency, default 1 and 16);
  sidecar     daprd (server CPU) with the same components: state GET over HTTP (wrk -c C) and
              gRPC GetState (h2load -c C -m 1); invoke over HTTP (wrk POST of 1 KB to
              /v1.0/invoke/<app>/method/echo, nginx answering 1 KB on the load CPU) and gRPC
              InvokeService (h2load, same body, HTTP extension POST).

Redis (one redis-server, no persistence, on the load CPU) serves both halves.
Ratios: in-process ops/s ÷ sidecar ops/s and in-process p50/p99 ÷ sidecar p50/p99 per row.
"""
import json
import os
import shlex
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common as C  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
APP = "inprocapp"


# ---- building inproc_bench exactly as daprd is built ---------------------------------------------

def build_bench(ctx, daprd):
    """Compile inproc_bench.c with daprd.c's compile flags and link it with daprd's link line
    (static libdapr.a, LTO) from daprd's build directory. Returns the binary's path."""
    bdir = os.path.dirname(os.path.dirname(os.path.abspath(daprd)))
    cc_json = os.path.join(bdir, "compile_commands.json")
    ninja = os.path.join(bdir, "build.ninja")
    if not (os.path.exists(cc_json) and os.path.exists(ninja)):
        raise RuntimeError(f"{bdir} is not a meson build directory (no compile_commands.json)")
    entry = next((e for e in json.load(open(cc_json))
                  if os.path.normpath(os.path.join(e["directory"], e["file"])).endswith("daemon/daprd.c")),
                 None)
    if entry is None:
        raise RuntimeError("daprd.c not in compile_commands.json")
    args = shlex.split(entry["command"])
    flags, skip = [], 0
    for i, x in enumerate(args[1:], 1):  # drop the compiler, -MD/-MQ/-MF/-o/-c and the source
        if skip:
            skip -= 1
            continue
        if x in ("-MQ", "-MF", "-o", "-c"):
            skip = 1
            continue
        if x in ("-MD", "-MMD") or x.startswith("-fdiagnostics-color"):
            continue
        flags.append(x)
    link = None
    lines = open(ninja).read().split("\n")
    for i, line in enumerate(lines):
        if line.startswith("build daemon/daprd:"):
            for nxt in lines[i + 1:]:
                if not nxt.startswith(" "):
                    break
                k, _, v = nxt.strip().partition(" = ")
                if k == "LINK_ARGS":
                    link = shlex.split(v)
            break
    if link is None:
        raise RuntimeError("no link line of daemon/daprd in build.ninja")
    obj = ctx.path("inproc_bench.o")
    exe = ctx.path("inproc_bench")
    src = os.path.join(HERE, "inproc_bench.c")
    cmd1 = [args[0]] + flags + ["-o", obj, "-c", src]
    cmd2 = [args[0]] + [f for f in flags if f.startswith("-flto") or f.startswith("-O") or f == "-pthread"] \
        + ["-o", exe, obj] + link
    for cmd in (cmd1, cmd2):
        r = subprocess.run(cmd, cwd=bdir, capture_output=True, text=True, timeout=600)
        if r.returncode != 0:
            raise RuntimeError(f"build of inproc_bench failed: {' '.join(cmd)[:300]}\n{r.stderr[-2000:]}")
    ctx.log(f"built inproc_bench against {bdir}/libdapr.a with daprd's flags ({' '.join(flags[-12:])[:120]} ...)")
    return exe, " ".join(cmd2[:6]) + " ..."


# ---- gRPC request bodies ------------------------------------------------------------------------------

def grpc_get(store, key):
    return C.grpc_frame(C.pb_len(1, store.encode()) + C.pb_len(2, key.encode()))


def grpc_invoke(app, method, body):
    # InvokeServiceRequest{id=1, message=3: InvokeRequest{method=1, data=2: Any{value=2},
    # content_type=3, http_extension=4: {verb=1: POST(3)}}}
    any_ = C.pb_len(2, body.encode())
    ext = bytes([0x08, 3])
    req = (C.pb_len(1, method.encode()) + C.pb_len(2, any_) + C.pb_len(3, b"application/json")
           + C.pb_len(4, ext))
    return C.grpc_frame(C.pb_len(1, app.encode()) + C.pb_len(3, req))


def grpc_call(ctx, port, method, frame_file):
    """One gRPC call with curl (h2c) -> (grpc-status text, response bytes)."""
    hdr, out = ctx.path("grpc.hdr"), ctx.path("grpc.out")
    subprocess.run(["curl", "-s", "-m", "5", "--http2-prior-knowledge", "-X", "POST",
                    "-H", "content-type: application/grpc", "-H", "te: trailers",
                    "--data-binary", "@" + frame_file, "-D", hdr, "-o", out,
                    f"http://127.0.0.1:{port}/dapr.proto.runtime.v1.Dapr/{method}"])
    txt = open(hdr, errors="replace").read().lower() if os.path.exists(hdr) else ""
    st = next((x.split(":", 1)[1].strip() for x in txt.splitlines() if x.startswith("grpc-status:")), None)
    return st, open(out, "rb").read() if os.path.exists(out) else b""


# ---- main ---------------------------------------------------------------------------------------------

def main():
    p = C.parser(__doc__)
    p.add_argument("--concurrency", default="1,16", help="outstanding operations per row, comma-separated")
    p.add_argument("--no-redis", action="store_true")
    a = p.parse_args()
    ctx = C.Ctx(a, "inproc")
    concs = [int(x) for x in a.concurrency.split(",") if x.strip()]
    value = C.json_body(a.body_size)
    rows = []
    out = {"suite": "inproc", "rows": rows, "value_bytes": len(value), "concurrency": concs,
           "warmup": a.warmup}

    try:
        exe, how = build_bench(ctx, a.daprd)
        out["built"] = how
    except Exception as e:  # noqa: BLE001
        ctx.note(str(e))
        out["error"] = "inproc_bench did not build"
        ctx.save(out)
        return 1

    redis = None
    if not a.no_redis:
        redis = C.start_redis(ctx, cpu="load")
        ctx.log(f"redis-server on 127.0.0.1:{redis.port} (load CPU)")

    # ---- in process: one program, its loop on the server CPU
    C.busy_before(ctx)
    cmd = ctx.srv + [exe, "--duration", str(a.duration), "--warmup", str(a.warmup),
                     "--concurrency", ",".join(map(str, concs)), "--value-size", str(a.body_size)]
    if redis:
        cmd += ["--redis", f"127.0.0.1:{redis.port}"]
    n_rows = len(concs) * (3 if redis else 2)
    limit = n_rows * (a.duration + a.warmup) + 60
    ctx.log("in process: " + " ".join(cmd))
    try:
        r = subprocess.run(cmd + ["--limit", str(limit)], capture_output=True, text=True,
                           timeout=limit + 30)
        stdout, rc, err = r.stdout, r.returncode, r.stderr
    except subprocess.TimeoutExpired as e:
        stdout, rc, err = (e.stdout or b"").decode() if isinstance(e.stdout, bytes) else (e.stdout or ""), -1, "timeout"
    sys.stderr.write(err)
    if rc != 0:
        ctx.note(f"inproc_bench exited {rc}: {err.strip().splitlines()[-1][:300] if err.strip() else ''}")
    for line in stdout.splitlines():
        try:
            x = json.loads(line)
        except ValueError:
            continue
        target = x["store"] if x["op"] == "get" else "echo"
        rows.append({"id": f"inproc-{x['op']}-{target}-c{x['concurrency']}", "path": "in-process",
                     "op": x["op"], "target": target, "concurrency": x["concurrency"],
                     "rps": x["rps"], "p50": x["p50"], "p90": x["p90"], "p99": x["p99"],
                     "p999": x["p999"], "max": x["max"], "errors": x["errors"],
                     "requests": x["requests"], "cpu_us": {"process": x["cpu_us"]},
                     "inside_call": x.get("inside_call"),
                     "first_error": x.get("first_error") or None})

    # ---- sidecar: daprd with the same components, nginx as the app for invoke
    app_port = C.free_ports(1)[0]
    app = C.nginx(ctx, "app", f"""    server {{
        listen 127.0.0.1:{app_port};
        location = /echo {{ default_type application/json; return 200 '{value}'; }}
    }}""", cpu="load")
    if not C.wait_port(app_port, app):
        ctx.note("nginx app did not start")
    res = ctx.path("res")
    C.component(res, "memory", "state.in-memory")
    if redis:
        C.component(res, "redis", "state.redis", {"redisHost": f"127.0.0.1:{redis.port}"})
    d = C.Daprd(ctx, APP, res, ["--app-port", str(app_port)])
    if not d.ready():
        d.log_problems("inproc")
        out["error"] = "daprd did not become ready"
        ctx.save(out)
        return 1
    key = "bench-key"
    stores = ["memory"] + (["redis"] if redis else [])
    body_file = ctx.path("body.json")
    with open(body_file, "w") as f:
        f.write(value)
    inv_frame = ctx.path("invoke.grpc")
    with open(inv_frame, "wb") as f:
        f.write(grpc_invoke(APP, "echo", value))
    frames = {}
    for s in stores:
        st, _ = C.http("POST", d.http_port, f"/v1.0/state/{s}", f'[{{"key":"{key}","value":{value}}}]'.encode())
        st2, got = C.http("GET", d.http_port, f"/v1.0/state/{s}/{key}")
        if st != 204 or st2 != 200 or got.decode() != value:
            ctx.note(f"{s}: sanity save/get through daprd failed: {st} {st2} {got[:120]!r}")
        frames[s] = ctx.path(f"get-{s}.grpc")
        with open(frames[s], "wb") as f:
            f.write(grpc_get(s, key))
        gst, _ = grpc_call(ctx, d.grpc_port, "GetState", frames[s])
        if gst != "0":
            ctx.note(f"{s}: sanity gRPC GetState answered grpc-status {gst}")
    st, got = C.http("POST", d.http_port, f"/v1.0/invoke/{APP}/method/echo", value.encode())
    if st != 200 or len(got) != len(value):
        ctx.note(f"invoke sanity call through daprd answered {st} with {len(got)} bytes")
    gst, gout = grpc_call(ctx, d.grpc_port, "InvokeService", inv_frame)
    if gst != "0" or len(gout) < len(value):
        ctx.note(f"gRPC InvokeService sanity call: grpc-status {gst}, {len(gout)} bytes")

    worker = C.child_pid(app.pid)
    pids = {"daprd": d.pid}
    grpc_base = f"http://127.0.0.1:{d.grpc_port}/dapr.proto.runtime.v1.Dapr/"
    h2_common = ["-m", "1", "-t", "1", "-H", "content-type: application/grpc", "-H", "te: trailers"]
    targets = [("get", s) for s in stores] + [("invoke", "echo")]
    for op, target in targets:
        for conc in concs:
            for proto in ("HTTP", "gRPC"):
                rid = f"daprd-{op}-{target}-c{conc}-{proto.lower()}"
                tp = dict(pids)
                if op == "invoke" and worker:
                    tp["app nginx"] = worker
                if target == "redis":
                    tp["redis-server"] = redis.pid
                C.busy_before(ctx)
                if proto == "HTTP":
                    if op == "get":
                        url, bf = f"http://127.0.0.1:{d.http_port}/v1.0/state/{target}/{key}", None
                    else:
                        url, bf = f"http://127.0.0.1:{d.http_port}/v1.0/invoke/{APP}/method/echo", body_file
                    if a.warmup:
                        C.wrk(ctx, url, a.warmup, conns=conc, body_file=bf, tag=rid + "-warm")
                    t0 = C.ticks(tp)
                    ctx.log(f"{rid}: wrk -t1 -c{conc} -d{a.duration}s {url}")
                    r = C.wrk(ctx, url, a.duration, conns=conc, body_file=bf, tag=rid)
                else:
                    frame = frames[target] if op == "get" else inv_frame
                    url = grpc_base + ("GetState" if op == "get" else "InvokeService")
                    args = ["-c", str(conc), "-d", frame] + h2_common
                    if a.warmup:
                        C.h2load(ctx, [url], args + ["-D", str(a.warmup)], a.warmup + 30,
                                 tag=rid + "-warm", log=False)
                    t0 = C.ticks(tp)
                    ctx.log(f"{rid}: h2load -c{conc} -m1 -D{a.duration} {url}")
                    r = C.h2load(ctx, [url], args + ["-D", str(a.duration)], a.duration + 30, tag=rid)
                t1 = C.ticks(tp)
                rows.append({"id": rid, "path": f"daprd {proto}", "op": op, "target": target,
                             "concurrency": conc, "rps": r and r["rps"], "p50": r and r.get("p50"),
                             "p90": r and r.get("p90"), "p99": r and r.get("p99"),
                             "errors": r["errors"] if r else None, "requests": r and r["requests"],
                             "cpu_us": C.cpu_per_req(t0, t1, r and r["requests"])})
    out["daprd_hwm_kb"] = C.mem_kb(d.pid, "VmHWM")
    d.log_problems("inproc")
    # ratios: the in-process row of the same op, target and concurrency
    ref = {(r["op"], r["target"], r["concurrency"]): r for r in rows if r["path"] == "in-process"}
    for r in rows:
        b = ref.get((r["op"], r["target"], r["concurrency"]))
        if r["path"] == "in-process" or not b:
            continue
        r["ratio_rps"] = b["rps"] / r["rps"] if r.get("rps") and b.get("rps") else None
        r["ratio_p50"] = b["p50"] / r["p50"] if r.get("p50") and b.get("p50") else None
        r["ratio_p99"] = b["p99"] / r["p99"] if r.get("p99") and b.get("p99") else None
    ctx.save(out)
    bad = [r["id"] for r in rows if not r.get("rps") or r.get("errors")]
    if bad:
        ctx.log("rows with errors or no result: " + ", ".join(bad))
    return 1 if bad or rc != 0 else 0


if __name__ == "__main__":
    raise SystemExit(main())
