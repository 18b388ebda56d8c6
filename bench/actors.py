#!/usr/bin/env python3
"""bench/actors.py: the "actors" suite of bench/run.

One host: the placement service (build-bench/daemon/placement), an app (nginx, 1 worker: GET
/dapr/config -> {"entities":["T"]}, PUT /actors/T/<id>/method/<m> -> 200, reminder callbacks
PUT /actors/T/<id>/method/remind/<name> logged with $msec, DELETE -> 200), a state.in-memory
store with actorStateStore true, and one daprd on the server CPU (app, placement and load on the
other CPU). Rows:
  calls/s        wrk (bench/wrk-actors.lua), --connections connections, POST
                 /v1.0/actors/T/a<n>/method/m round robin over --actor-ids ids (all activated first)
  activation     --activation-rate/s (500) of first calls to fresh ids: 5 h2load --h1 processes,
                 each one connection at rate/5 with its own list of never-used ids; p50/p90/p99
                 from h2load's per-request log
  reminders      --reminders reminders (one per fresh actor, dueTime 0s, period --reminder-period)
                 registered, then the callbacks the app gets per second over --duration seconds,
                 against the nominal rate reminders / period
--hosts 3 adds the multi-host row: three daprd (same app id, same app, same placement) and one wrk
per daprd over disjoint id sets; calls for actors another daprd owns must be forwarded, so any
non-2xx answer is reported with its body (remote actor calls not working shows here).
"""
import os
import threading
import time

import common as C


def app_block(port, logf):
    return f"""    log_format t '$msec';
    server {{
        listen 127.0.0.1:{port};
        location = /dapr/config {{ default_type application/json; return 200 '{{"entities":["T"]}}'; }}
        location ~ ^/actors/T/[^/]+/method/remind/ {{
            access_log {logf} t buffer=256k flush=200ms;
            return 200 '';
        }}
        location /actors/ {{ default_type application/json; return 200 '"ok"'; }}
        location / {{ return 200 ''; }}
    }}"""


def actor_ready(ctx, d, timeout=20.0):
    """Until a call to a fresh actor answers 200 through this daprd."""
    end = time.time() + timeout
    last = None
    n = 0
    while time.time() < end:
        n += 1
        try:
            st, b = C.http("POST", d.http_port, f"/v1.0/actors/T/ready-{d.http_port}-{n}/method/m", b"{}")
            if st == 200:
                return True
            last = (st, b[:200])
        except OSError as e:
            last = e
        time.sleep(0.2)
    ctx.note(f"daprd {d.http_port}: actor calls never answered 200 within {timeout:.0f} s; last {last}")
    return False


def run_wrk(ctx, d, ids, offset, duration, conns, tag):
    env_ids = {"BENCH_IDS": str(ids), "BENCH_ID_OFFSET": str(offset)}
    os.environ.update(env_ids)
    return C.wrk(ctx, f"http://127.0.0.1:{d.http_port}/v1.0/actors/T/", duration, conns=conns,
                 lua=os.path.join(C.BENCH, "wrk-actors.lua"), tag=tag)


def activate(ctx, d, ids, offset):
    import http.client
    c = http.client.HTTPConnection("127.0.0.1", d.http_port, timeout=5)
    bad = 0
    for i in range(offset, offset + ids):
        c.request("POST", f"/v1.0/actors/T/a{i}/method/m", body=b"{}")
        r = c.getresponse()
        r.read()
        bad += r.status != 200
    c.close()
    return bad


def one_host(ctx, placement_addr, res, app_port, logf, out):
    a = ctx.a
    d = C.Daprd(ctx, "actorbench", res, ["--app-port", str(app_port),
                                         "--placement-host-address", placement_addr])
    if not d.ready() or not actor_ready(ctx, d):
        d.log_problems("actors")
        out["error"] = "daprd did not start or actors never became callable"
        return
    rows = out["rows"]
    pids = {"daprd": d.pid}
    # 1. calls/s over a set of already active ids
    bad = activate(ctx, d, a.actor_ids, 0)
    if bad:
        ctx.note(f"activating {a.actor_ids} ids: {bad} non-200 answers")
    C.busy_before(ctx)
    run_wrk(ctx, d, a.actor_ids, 0, a.warmup, a.connections, "calls-warm")
    t0 = C.ticks(pids)
    ctx.log(f"calls: wrk -c{a.connections} -d{a.duration}s over {a.actor_ids} ids")
    w = run_wrk(ctx, d, a.actor_ids, 0, a.duration, a.connections, "calls")
    t1 = C.ticks(pids)
    rows.append({"id": "actors-calls-1", "label": "actor calls/s, one host", "hosts": 1,
                 "rps": w and w["rps"], "p50": w and w.get("p50"), "p99": w and w.get("p99"),
                 "errors": w and w["errors"], "cpu_us": C.cpu_per_req(t0, t1, w and w["requests"]),
                 "rss_kb": C.mem_kb(d.pid)})
    # 2. activation latency: fresh id per request at a fixed rate
    procs, rate = 5, a.activation_rate
    per = max(1, rate // procs)
    n = per * a.duration
    files = []
    for k in range(procs):
        f = ctx.path(f"act-{k}.uris")
        with open(f, "w") as fh:
            for j in range(n):
                fh.write(f"http://127.0.0.1:{d.http_port}/v1.0/actors/T/new-{k}-{j}/method/m\n")
        files.append(f)
    body = ctx.path("empty.json")
    with open(body, "w") as fh:
        fh.write("{}")
    C.busy_before(ctx)
    ctx.log(f"activation: {procs} × h2load --h1 -c1 --rps {per} -n {n} (fresh ids)")
    results = [None] * procs
    t0 = C.ticks(pids)

    def go(k):
        results[k] = C.h2load(ctx, [], ["--h1", "-c", "1", "--rps", str(per), "-n", str(n),
                                        "-d", body, "-H", "Content-Type: application/json",
                                        "-i", files[k]], a.duration + 60, tag=f"act-{k}",
                              raw=True)
    ths = [threading.Thread(target=go, args=(k,)) for k in range(procs)]
    for th in ths:
        th.start()
        time.sleep(1.0 / rate)
    for th in ths:
        th.join()
    t1 = C.ticks(pids)
    failed = [k for k, r in enumerate(results) if not r or not r.get("requests")]
    for k in failed:
        try:
            tail = " ".join(open(ctx.path(f"act-{k}.out")).read().split())[-300:]
        except OSError:
            tail = "no output"
        ctx.note(f"activation: h2load process {k} of {procs} gave no result: {tail}")
    lat = sorted(x for r in results if r for x in r.get("latencies", []))
    done = sum(r["requests"] for r in results if r)
    errs = sum(r["errors"] for r in results if r)
    rows.append({"id": "actors-activation", "label": f"activation (first call, fresh id) at {rate}/s",
                 "rate": rate, "requests": done, "errors": errs,
                 "rps": sum(r["rps"] for r in results if r),
                 "p50": C.pct(lat, 50), "p90": C.pct(lat, 90), "p99": C.pct(lat, 99),
                 "p999": C.pct(lat, 99.9), "max": lat[-1] if lat else None,
                 "cpu_us": C.cpu_per_req(t0, t1, done), "rss_kb": C.mem_kb(d.pid),
                 "active_after": a.actor_ids + done, "loadgens": procs,
                 "loadgens_failed": len(failed)})
    # 3. reminders fired per second
    import http.client
    c = http.client.HTTPConnection("127.0.0.1", d.http_port, timeout=5)
    bad = 0
    per_ms = a.reminder_period_ms
    reg0 = time.time()
    for i in range(a.reminders):
        c.request("POST", f"/v1.0/actors/T/rem-{i}/reminders/r",
                  body=f'{{"dueTime":"0s","period":"{per_ms}ms"}}'.encode(),
                  headers={"Content-Type": "application/json"})
        r = c.getresponse()
        r.read()
        bad += r.status not in (200, 204)
    c.close()
    reg_s = time.time() - reg0
    if bad:
        ctx.note(f"registering {a.reminders} reminders: {bad} non-2xx answers")
    time.sleep(1.0)
    t0 = C.ticks(pids)
    w0 = time.time()
    time.sleep(a.duration)
    w1 = time.time()
    t1 = C.ticks(pids)
    time.sleep(0.5)  # the access log flushes every 200 ms
    try:
        fires = sorted(float(x) for x in open(logf).read().split())
    except OSError:
        fires = []
    import bisect
    inwin = bisect.bisect_left(fires, w1) - bisect.bisect_left(fires, w0)
    nominal = a.reminders * 1000.0 / per_ms
    rows.append({"id": "actors-reminders", "label": f"reminders fired/s ({a.reminders} reminders, "
                 f"period {per_ms} ms)", "reminders": a.reminders, "period_ms": per_ms,
                 "fired_rps": inwin / (w1 - w0), "nominal_rps": nominal, "register_s": round(reg_s, 2),
                 "register_errors": bad, "fired_total": len(fires),
                 "cpu_us": C.cpu_per_req(t0, t1, inwin), "rss_kb": C.mem_kb(d.pid),
                 "hwm_kb": C.mem_kb(d.pid, "VmHWM")})
    d.log_problems("actors one host")
    ctx.stop(d.proc)


def multi_host(ctx, placement_addr, res, app_port, hosts, out):
    a = ctx.a
    ds = [C.Daprd(ctx, "actorbench3", res, ["--app-port", str(app_port),
                                            "--placement-host-address", placement_addr])
          for _ in range(hosts)]
    row = {"id": f"actors-calls-{hosts}", "label": f"actor calls/s, {hosts} hosts", "hosts": hosts}
    out["rows"].append(row)
    if not all(d.ready() for d in ds) or not all(actor_ready(ctx, d) for d in ds):
        for d in ds:
            d.log_problems(f"actors {hosts} hosts")
        row["error"] = "a daprd did not start or its actors never became callable"
        return
    time.sleep(1.5)  # let placement disseminate the table with every host
    # probe: calls to 60 ids through every host; ids owned elsewhere need remote calls
    probe_bad, sample = 0, None
    for k, d in enumerate(ds):
        for i in range(60):
            st, b = C.http("POST", d.http_port, f"/v1.0/actors/T/probe-{i}/method/m", b"{}")
            if st != 200:
                probe_bad += 1
                sample = sample or f"HTTP {st} {b[:200].decode(errors='replace')}"
    row["probe_calls"], row["probe_failed"] = 60 * hosts, probe_bad
    if probe_bad:
        row["error"] = (f"remote actor calls fail: {probe_bad} of {60 * hosts} probe calls through "
                        f"{hosts} hosts answered non-200 (e.g. {sample})")
        ctx.note(row["error"])
    conns = max(1, a.connections // hosts)
    per_ids = a.actor_ids
    results = [None] * hosts
    pids = {f"daprd{k}": d.pid for k, d in enumerate(ds)}

    def go(k, dur, tag):
        results[k] = run_wrk(ctx, ds[k], per_ids, k * per_ids, dur, conns, f"{tag}-{k}")
    for dur, tag in ((a.warmup, "m-warm"), (a.duration, "m")):
        C.busy_before(ctx) if tag == "m" else None
        t0 = C.ticks(pids)
        ths = [threading.Thread(target=go, args=(k, dur, tag)) for k in range(hosts)]
        for th in ths:
            th.start()
        for th in ths:
            th.join()
        t1 = C.ticks(pids)
    ok = [r for r in results if r]
    reqs = sum(r["requests"] for r in ok)
    row.update({"rps": sum(r["rps"] for r in ok), "errors": sum(r["errors"] for r in ok),
                "non2xx": sum(r.get("err_status", 0) for r in ok), "requests": reqs,
                "p50": max((r.get("p50") or 0) for r in ok) if ok else None,
                "p99": max((r.get("p99") or 0) for r in ok) if ok else None,
                "connections": conns * hosts,
                "cpu_us": {"all daprd": sum(v for v in C.cpu_per_req(t0, t1, reqs).values() if v)}})
    if row["errors"]:
        ctx.note(f"{hosts} hosts: {row['errors']} of {reqs} calls failed (non-2xx {row['non2xx']}); "
                 "calls for actors owned by another daprd are forwarded only if remote actor calls work")
    for k, d in enumerate(ds):
        d.log_problems(f"actors {hosts} hosts #{k}")


def main():
    p = C.parser(__doc__)
    p.add_argument("--hosts", type=int, default=1, help="1, or 3 for the multi-host row too")
    p.add_argument("--actor-ids", type=int, default=1000)
    p.add_argument("--activation-rate", type=int, default=500)
    p.add_argument("--reminders", type=int, default=200)
    p.add_argument("--reminder-period-ms", type=int, default=20)
    a = p.parse_args()
    ctx = C.Ctx(a, "actors")
    out = {"suite": "actors", "rows": [], "connections": a.connections}
    pport, hport, app_port = C.free_ports(3)
    pl = ctx.start([a.placement, "--port", str(pport), "--healthz-port", str(hport)],
                   "placement.log", "load")
    if not C.wait_port(pport, pl):
        out["error"] = "placement did not start: " + open(pl.logfile).read()[-300:]
        ctx.save(out)
        return 1
    logf = ctx.path("reminders.log")
    app = C.nginx(ctx, "actor-app", app_block(app_port, logf), cpu="load")
    if not C.wait_port(app_port, app):
        out["error"] = "actor app (nginx) did not start"
        ctx.save(out)
        return 1
    res = ctx.path("res")
    C.component(res, "actorstore", "state.in-memory", {"actorStateStore": "true"})
    one_host(ctx, f"127.0.0.1:{pport}", res, app_port, logf, out)
    if a.hosts > 1:
        multi_host(ctx, f"127.0.0.1:{pport}", res, app_port, a.hosts, out)
    ctx.save(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
