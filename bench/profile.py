#!/usr/bin/env python3
"""bench/profile.py: the "profile" suite of bench/run: instructions per request with callgrind.

Builds daprd with debug info (release + LTO + -g, build dir build-bench-prof), runs it under
`valgrind --tool=callgrind --instr-atstart=no`, switches instrumentation on only once it is ready
(`callgrind_control -i on`), sends --requests requests with h2load (16 connections), switches it
off and stops daprd; Ir per request = the dumped total / requests. Paths:
  invoke      POST /v1.0/invoke/<self>/method/echo (1 KB) → an nginx app
  state-get   GET /v1.0/state/memory/k and /v1.0/state/redis/k (HTTP), GetState redis (gRPC)
  state-set   POST /v1.0/state/redis (HTTP, 1 KB value)
  pubsub      publish to pubsub.in-memory + delivery to an nginx HTTP subscriber (per message)
`perf stat` is tried first on the release daprd (CPU counters are often unavailable in
containers); its result or error is recorded. With --before REV the invoke path is profiled again
on daprd built from `git archive REV` (read-only for the repository) for a before/after row.
"""
import os
import re
import subprocess
import time

import common as C

PROF_BUILD = os.path.join(C.ROOT, "build-bench-prof")


def build(src, bdir):
    if not os.path.exists(os.path.join(bdir, "build.ninja")):
        r = subprocess.run(["meson", "setup", bdir, "--buildtype=release", "-Db_lto=true",
                            "-Ddebug=true", "-Dtests=false"], cwd=src, capture_output=True, text=True)
        if r.returncode:
            raise RuntimeError("meson setup failed: " + r.stdout[-500:] + r.stderr[-500:])
    r = subprocess.run(["ninja", "-C", bdir, "daemon/daprd"], capture_output=True, text=True)
    if r.returncode:
        raise RuntimeError("ninja failed: " + r.stdout[-800:])
    return os.path.join(bdir, "daemon/daprd")


LINE = re.compile(r"^\s*([\d,]+)\s+\(\s*([\d.]+)%\)\s+(.*)$")


def annotate(outfile, src_root):
    txt = subprocess.run(["callgrind_annotate", "--inclusive=no", "--threshold=99", outfile],
                         capture_output=True, text=True).stdout
    total, funcs = None, []
    for line in txt.splitlines():
        m = LINE.match(line)
        if not m:
            continue
        ir = int(m.group(1).replace(",", ""))
        rest = m.group(3)
        if "PROGRAM TOTALS" in rest:
            total = ir
            continue
        obj = ""
        mo = re.search(r" \[([^\]]+)\]$", rest)
        if mo:
            obj = mo.group(1)
            rest = rest[:mo.start()]
        file, _, fn = rest.rpartition(":")
        funcs.append({"fn": fn, "file": file, "obj": os.path.basename(obj), "ir": ir})
    if not total:
        raise RuntimeError("no totals from callgrind_annotate")
    for f in funcs:
        f["share"] = f["ir"] / total
        f["where"] = where(f, src_root)
    return total, funcs


def where(f, src_root):
    """file:line of a function of ours (its definition), else the object."""
    path = f["file"]
    for root in (src_root, C.ROOT):
        cand = os.path.join(root, path.lstrip("./")) if not os.path.isabs(path) else path
        if os.path.isfile(cand):
            rel = os.path.relpath(cand, root)
            try:
                for i, line in enumerate(open(cand, errors="replace"), 1):
                    if re.match(rf"^(static\s+)?(inline\s+)?[\w\s\*]*\b{re.escape(f['fn'])}\s*\(", line):
                        return f"{rel}:{i}"
            except OSError:
                pass
            return rel
    return f["obj"] or path


def ctl(*args):
    return subprocess.run(["callgrind_control"] + list(args), capture_output=True, text=True)


def run_path(ctx, daprd, label, res, extra, load, requests, src_root, prep=None, per=None):
    """daprd under callgrind; load() sends the requests; per() (optional) the count to divide by."""
    outf = ctx.path(f"cg.{label.replace(' ', '_').replace('/', '_')}.out")
    hp, gp, ip = C.free_ports(3)
    cmd = ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={outf}",
           daprd, "--app-id", "prof", "--dapr-http-port", str(hp), "--dapr-grpc-port", str(gp),
           "--dapr-internal-grpc-port", str(ip), "--dapr-listen-addresses", "127.0.0.1",
           "--resources-path", res, "--log-level", "warn"] + extra
    p = ctx.start(cmd, f"vg-{hp}.log", "srv")
    try:
        if not (C.wait_port(hp, p, 60) and C.wait_http(hp, "/v1.0/healthz", (204,), 60, p)):
            return {"label": label, "error": "daprd under valgrind not ready: " +
                    open(p.logfile, errors="replace").read()[-300:]}
        if prep:
            prep(hp, gp)
        load(hp, gp, 200)  # warm: connection pools, first-call paths
        ctl("-i", "on", str(p.pid))
        time.sleep(0.2)
        n = load(hp, gp, requests)
        time.sleep(0.5)
        count = per() if per else n
        ctl("-i", "off", str(p.pid))
        p.terminate()
        p.wait(60)
        total, funcs = annotate(outf, src_root)
        libs = sum(f["ir"] for f in funcs if ".so" in f["obj"])
        return {"label": label, "requests": count, "ir_total": total, "ir_per_req": total / count,
                "lib_share": libs / total, "top": funcs[:25]}
    finally:
        ctx.stop(p)


def h2(ctx, url, n, extra=()):
    r = C.h2load(ctx, [url], ["-n", str(n), "-c", "16", "-t", "1"] + list(extra), 600,
                 tag="prof", log=False, cpu="load")
    return (r or {}).get("succeeded", 0)


def perf_stat(ctx, daprd):
    import shutil
    if not shutil.which("perf"):
        return "perf not installed"
    r = subprocess.run(["perf", "stat", "-e", "instructions,cycles", "--", daprd, "--version"],
                       capture_output=True, text=True)
    txt = (r.stderr or "") + (r.stdout or "")
    if "not supported" in txt or "<not counted>" in txt or r.returncode:
        return "perf stat: hardware counters unavailable here: " + " ".join(txt.split())[:240]
    return "perf stat works: " + " ".join(txt.split())[:240]


def profile_all(ctx, daprd, src_root, paths, requests):
    a = ctx.a
    value = C.json_body(a.body_size)
    out = []
    empty = ctx.path("res-empty")
    os.makedirs(empty, exist_ok=True)
    app_port = C.free_ports(1)[0]
    body = C.json_body(a.body_size)
    if not hasattr(ctx, "app"):
        ctx.app = C.nginx(ctx, "app", f"""    log_format t '$msec';
    server {{
        listen 127.0.0.1:{app_port};
        location = /echo {{ default_type application/json; return 200 '{body}'; }}
        location = /dapr/subscribe {{ default_type application/json;
            return 200 '[{{"pubsubname":"ps","topic":"t","route":"/sub"}}]'; }}
        location = /sub {{ access_log {ctx.path('deliveries.log')} t buffer=64k flush=100ms;
            default_type application/json; return 200 '{{"status":"SUCCESS"}}'; }}
        location / {{ return 404; }}
    }}""", cpu="load")
        ctx.app_port = app_port
        C.wait_port(app_port, ctx.app)
    app_port = ctx.app_port
    req = ctx.path("req.json")
    with open(req, "w") as f:
        f.write(C.json_body(a.body_size, "y"))
    if "invoke" in paths:
        out.append(run_path(ctx, daprd, "invoke (HTTP, one hop)", empty, ["--app-port", str(app_port)],
                            lambda hp, gp, n: h2(ctx, f"http://127.0.0.1:{hp}/v1.0/invoke/prof/method/echo", n,
                                                 ["--h1", "-d", req, "-H", "Content-Type: application/json"]),
                            requests, src_root))
    if "state" in paths or "pubsub" in paths:
        redis = getattr(ctx, "redis", None) or C.start_redis(ctx, cpu="load")
        ctx.redis = redis
    if "state" in paths:
        res = ctx.path("res-state")
        C.component(res, "redis", "state.redis", {"redisHost": f"127.0.0.1:{redis.port}"})
        C.component(res, "memory", "state.in-memory")
        setf = ctx.path("set.json")
        with open(setf, "w") as f:
            f.write(f'[{{"key":"k","value":{value}}}]')

        def prep(hp, gp):
            for s in ("memory", "redis"):
                C.http("POST", hp, f"/v1.0/state/{s}", open(setf, "rb").read())
        import state as S
        gget = ctx.path("get.grpc")
        with open(gget, "wb") as f:
            f.write(S.grpc_get("redis", "k"))
        for label, load in (
                ("state GET HTTP, in-memory", lambda hp, gp, n: h2(ctx, f"http://127.0.0.1:{hp}/v1.0/state/memory/k", n, ["--h1"])),
                ("state GET HTTP, redis", lambda hp, gp, n: h2(ctx, f"http://127.0.0.1:{hp}/v1.0/state/redis/k", n, ["--h1"])),
                ("state SET HTTP, redis", lambda hp, gp, n: h2(ctx, f"http://127.0.0.1:{hp}/v1.0/state/redis", n,
                                                                 ["--h1", "-d", setf, "-H", "Content-Type: application/json"])),
                ("state GET gRPC, redis", lambda hp, gp, n: h2(ctx, f"http://127.0.0.1:{gp}/dapr.proto.runtime.v1.Dapr/GetState", n,
                                                                 ["-m", "1", "-d", gget, "-H", "content-type: application/grpc",
                                                                  "-H", "te: trailers"]))):
            out.append(run_path(ctx, daprd, label, res, [], load, requests, src_root, prep=prep))
    if "pubsub" in paths:
        res = ctx.path("res-ps")
        C.component(res, "ps", "pubsub.in-memory")
        logf = ctx.path("deliveries.log")

        def delivered():
            try:
                return len(open(logf).read().split())
            except OSError:
                return 0
        state = {}

        def load(hp, gp, n):
            before = delivered()
            k = h2(ctx, f"http://127.0.0.1:{hp}/v1.0/publish/ps/t", n,
                   ["--h1", "-c", "4", "-d", req, "-H", "Content-Type: application/json"])
            end = time.time() + 60
            while time.time() < end and delivered() - before < k:
                time.sleep(0.2)
            state["n"] = delivered() - before
            return k

        def prep(hp, gp):
            time.sleep(1)
        out.append(run_path(ctx, daprd, "pubsub in-memory publish + HTTP delivery (per message)", res,
                            ["--app-port", str(app_port)], load, requests, src_root, prep=prep,
                            per=lambda: max(1, state.get("n", 0))))
    return out


def main():
    p = C.parser(__doc__)
    p.add_argument("--requests", type=int, default=5000)
    p.add_argument("--paths", default="invoke,state,pubsub")
    p.add_argument("--before", help="a git revision to profile the invoke path on, for before/after")
    p.add_argument("--src", help="source tree to build (default: the working tree; bench/run --rev passes "
                   "its git-archive copy)")
    a = p.parse_args()
    ctx = C.Ctx(a, "profile")
    out = {"suite": "profile", "paths": [], "compare": []}
    out["perf_stat"] = perf_stat(ctx, a.daprd)
    ctx.log(out["perf_stat"])
    src = a.src or C.ROOT
    bdir = PROF_BUILD if src == C.ROOT else os.path.join(src, "build-prof")
    ctx.log(f"building {bdir} (release, LTO, -g)")
    daprd = build(src, bdir)
    rev = subprocess.run(["git", "-C", C.ROOT, "rev-parse", "--short", "HEAD"], capture_output=True,
                         text=True, env=dict(os.environ, GIT_OPTIONAL_LOCKS="0")).stdout.strip()
    dirty = subprocess.run(["git", "-C", C.ROOT, "diff", "--quiet", "HEAD", "--", "lib", "daemon", "include"],
                           env=dict(os.environ, GIT_OPTIONAL_LOCKS="0")).returncode != 0
    after_rev = rev + (" + working tree" if dirty else "") if src == C.ROOT else f"{rev} (git archive)"
    out["how"] = (f"`valgrind --tool=callgrind` on daprd {after_rev} (release, LTO, -g), instrumentation on "
                  f"only during the measured requests ({a.requests} per path after 200 warm-up requests, "
                  "16 connections); Ir = instructions executed in daprd's process (libc, libuv, "
                  f"nghttp2, hiredis, jansson included). {out['perf_stat']}")
    out["paths"] = profile_all(ctx, daprd, src, a.paths.split(","), a.requests)
    if a.before:
        src = ctx.path("src-before")
        os.makedirs(src)
        arch = subprocess.run(["git", "-C", C.ROOT, "archive", a.before], capture_output=True)
        subprocess.run(["tar", "-x", "-C", src], input=arch.stdout, check=True)
        ctx.log(f"building {a.before} for the before row")
        old = build(src, os.path.join(src, "build"))
        b = profile_all(ctx, old, src, ["invoke"], a.requests)
        cur = [x for x in out["paths"] if x["label"].startswith("invoke") and not x.get("error")]
        if b and not b[0].get("error") and cur:
            out["compare"].append({"label": "invoke (HTTP, one hop)", "before": b[0]["ir_per_req"],
                                   "before_rev": a.before, "after": cur[0]["ir_per_req"],
                                   "after_rev": after_rev})
            b[0]["label"] += f" — before ({a.before})"
            out["paths"].append(b[0])
    for x in out["paths"]:
        if not x.get("error"):
            ctx.log(f"{x['label']}: {x['ir_per_req']:,.0f} Ir/request")
    ctx.save(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
