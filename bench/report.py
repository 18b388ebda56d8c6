#!/usr/bin/env python3
"""bench/report.py: the dated report of bench/run.

  report.py DATE [--perf-section FILE]

Reads bench/results/DATE-<suite>.json (invoke, state, pubsub, actors, footprint, profile, inproc: whichever
exist, so suites run alone on the same day add up), writes bench/results/DATE.md with the tables,
the targets of issue 8 (met / missed, with the ratio) and PNG plots (gnuplot, pngcairo)
bench/results/DATE-*.png, prints the summary table, and with --perf-section writes the README's
performance section (latest numbers beside Dapr's published ones) and, when the inproc suite ran,
bench/README-inproc-section.md next to it (in process vs through daprd).
"""
import json
import os
import shutil
import subprocess
import sys

BENCH = os.path.dirname(os.path.abspath(__file__))
RES = os.path.join(BENCH, "results")

# Dapr's published figures (docs.dapr.io, "Service invocation performance" and "Actors performance"
# pages, Dapr 1.x perf suite on Kubernetes: other hardware, 1 KB payloads, 16 connections, 1000 QPS)
DAPR = {"invoke_p50_added_ms": 1.06, "invoke_p99_added_ms": 2.90, "invoke_mcpu": 202,
        "invoke_mem_mb": 51, "state_get_p50_added_ms": 0.28, "actor_activation_p99_ms": 6.89,
        "binary_mb": 81}


def load(date, suite):
    p = os.path.join(RES, f"{date}-{suite}.json")
    try:
        return json.load(open(p))
    except (OSError, ValueError):
        return None


def ms(v):
    if v is None:
        return "—"
    return f"{v * 1e3:.0f} µs" if v < 1 else f"{v:.2f} ms"


def num(v, fmt="{:,.0f}"):
    return "—" if v is None else fmt.format(v)


def us(v):
    return "—" if v is None else f"{v:.1f} µs"


def mib(kb):
    return "—" if kb is None else f"{kb / 1024:.1f} MiB"


# ---- plots -------------------------------------------------------------------------------------

def plot(date, name, title, ylabel, labels, series, logscale=False):
    """A clustered bar chart: labels on x, series = [(title, [values])]. Returns the PNG name."""
    if not shutil.which("gnuplot"):
        return None
    png = f"{date}-{name}.png"
    dat = os.path.join(RES, f".{date}-{name}.dat")
    with open(dat, "w") as f:
        for i, lab in enumerate(labels):
            vals = [s[1][i] if s[1][i] is not None else "NaN" for s in series]
            f.write('"%s" %s\n' % (lab.replace('"', "'"), " ".join(str(v) for v in vals)))
    cols = ", ".join(
        (f"'{dat}' using {k + 2}:xtic(1) title '{t}'" if k == 0 else f"'' using {k + 2} title '{t}'")
        for k, (t, _) in enumerate(series))
    script = f"""set terminal pngcairo size 1000,520 font ',10'
set output '{os.path.join(RES, png)}'
set title '{title}'
set ylabel '{ylabel}'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set xtics rotate by -25 scale 0
set key top right
set grid ytics
set yrange [0:*]
{"set logscale y" if logscale else ""}
plot {cols}
"""
    r = subprocess.run(["gnuplot"], input=script, text=True, capture_output=True)
    os.unlink(dat)
    if r.returncode != 0:
        print(f">>> gnuplot {name}: {r.stderr.strip()[:300]}", file=sys.stderr)
        return None
    return png


# ---- suites ------------------------------------------------------------------------------------

def invoke_section(date, d, w, targets, summary):
    rows = {r["id"]: r for r in d["rows"]}
    meta = d["meta"]
    rate = int(meta["rate"])

    def per_req(r, prefix, which):
        for h in (r or {}).get("hops", []):
            if h["name"].startswith(prefix):
                n = ((r.get(which) or {}).get("requests"))
                t = h.get(which + "_ticks")
                return None if t is None or not n else t / r["hz"] * 1e6 / n
        return None

    w(f"## Service invocation ({meta['date']})")
    w("")
    w(f"wrk {meta['wrk_threads']} threads × {meta['wrk_conns']} connections for max throughput, "
      f"h2load at {rate:,}/s for latency; {meta['body_size']}-byte bodies; {meta['pinning']}. "
      "Details: `bench/results/invoke-latest.md`.")
    w("")
    w(f"| Target | Max req/s | × direct | p50 @{rate} | p90 | p99 | p99.9 | hop CPU/req @max | "
      f"hop CPU/req @{rate} | errors |")
    w("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    hopname = {"inv-direct": "app", "inv-nginx": "nginx proxy", "inv-haproxy": "haproxy",
               "inv-dapr1": "daprd A", "inv-dapr2": "daprd"}
    direct = (rows.get("inv-direct") or {}).get("wrk") or {}
    labels, rps, p50s, p99s = [], [], [], []
    for rid in ("inv-direct", "inv-nginx", "inv-haproxy", "inv-dapr1", "inv-dapr2"):
        r = rows.get(rid)
        if not r:
            continue
        x, y = r.get("wrk") or {}, r.get("rate") or {}
        if rid == "inv-dapr2":
            cm = [per_req(r, p, "wrk") for p in ("daprd B", "daprd A")]
            cr = [per_req(r, p, "rate") for p in ("daprd B", "daprd A")]
            cpu_m = sum(cm) if None not in cm else None
            cpu_r = sum(cr) if None not in cr else None
        else:
            cpu_m, cpu_r = per_req(r, hopname[rid], "wrk"), per_req(r, hopname[rid], "rate")
        ratio = x.get("rps") / direct["rps"] if x.get("rps") and direct.get("rps") else None
        errs = (x.get("errors") or 0) + (y.get("errors") or 0) if x or y else "—"
        w(f"| {r['label']} | {num(x.get('rps'))} | {num(ratio, '{:.2f}×')} | {ms(y.get('p50'))} | "
          f"{ms(y.get('p90'))} | {ms(y.get('p99'))} | {ms(y.get('p999'))} | {us(cpu_m)} | {us(cpu_r)} | "
          f"{errs if not r.get('error') else r['error']} |")
        labels.append(r["label"].split(" →")[0].replace("daprd, ", "daprd "))
        rps.append(x.get("rps"))
        p50s.append((y.get("p50") or 0) * 1e3 if y else None)
        p99s.append((y.get("p99") or 0) * 1e3 if y else None)
    w("")
    pngs = [plot(date, "invoke-rps", "Service invocation: max requests/s (wrk)", "requests/s",
                 labels, [("max req/s", rps)]),
            plot(date, "invoke-latency", f"Service invocation: latency at {rate}/s (h2load)", "µs",
                 labels, [("p50", p50s), ("p99", p99s)])]
    for p in pngs:
        if p:
            w(f"![]({p})")
    w("")
    d1, dr, ng, hp = (rows.get(k) or {} for k in ("inv-dapr1", "inv-direct", "inv-nginx", "inv-haproxy"))
    if d1.get("wrk") and ng.get("wrk") and hp.get("wrk"):
        best = max(ng["wrk"]["rps"], hp["wrk"]["rps"])
        targets.append(("one daprd hop ≥ the better proxy in throughput", d1["wrk"]["rps"] / best, ">=", 1.0,
                        f"{d1['wrk']['rps']:,.0f} vs {best:,.0f} req/s"))
    if d1.get("rate") and ng.get("rate") and hp.get("rate"):
        bp = min(ng["rate"]["p50"], hp["rate"]["p50"])
        targets.append((f"one daprd hop p50 ≤ the better proxy's (at {rate}/s)", d1["rate"]["p50"] / bp, "<=", 1.0,
                        f"{ms(d1['rate']['p50'])} vs {ms(bp)}"))
        cpus = [c for c in (per_req(ng, "nginx proxy", "rate"), per_req(hp, "haproxy", "rate")) if c]
        cd = per_req(d1, "daprd A", "rate")
        if cpus and cd:
            targets.append((f"daprd CPU/req ≤ the cheaper proxy's (at {rate}/s)", cd / min(cpus), "<=", 1.0,
                            f"{cd:.1f} vs {min(cpus):.1f} µs"))
        cpus = [c for c in (per_req(ng, "nginx proxy", "wrk"), per_req(hp, "haproxy", "wrk")) if c]
        cd = per_req(d1, "daprd A", "wrk")
        if cpus and cd:
            targets.append(("daprd CPU/req ≤ the cheaper proxy's (at max load)", cd / min(cpus), "<=", 1.0,
                            f"{cd:.1f} vs {min(cpus):.1f} µs"))
    if d1.get("rate") and dr.get("rate"):
        a50 = d1["rate"]["p50"] - dr["rate"]["p50"]
        a99 = d1["rate"]["p99"] - dr["rate"]["p99"]
        targets.append((f"added latency p50 ≤ 0.1 ms (at {rate}/s)", a50 / 0.1, "<=", 1.0,
                        f"+{a50 * 1e3:.0f} µs (Dapr published: +1.06 ms)"))
        targets.append((f"added latency p99 ≤ 1 ms (at {rate}/s)", a99 / 1.0, "<=", 1.0,
                        f"{a99 * 1e3:+.0f} µs (Dapr published: +2.90 ms)"))
        summary["invoke_added_p50_ms"] = a50
        summary["invoke_added_p99_ms"] = a99
    if d1.get("wrk"):
        summary["invoke_rps"] = d1["wrk"]["rps"]
        summary["invoke_cpu_us"] = per_req(d1, "daprd A", "rate")


def state_section(date, d, w, targets, summary):
    rows = d["rows"]
    w(f"## State ({d['date']})")
    w("")
    w(f"One key, {d['value_bytes']}-byte value, {d['connections']} connections (wrk for HTTP, h2load "
      f"-m1 for gRPC, redis-benchmark -c {d['connections']}); {d['pinning']}; redis-server on the "
      "server CPU for the redis-benchmark rows and next to the load generator for the daprd rows. "
      f"Bare Redis round trip (redis-benchmark -c 1 GET): p50 {ms(d.get('redis_rtt_p50'))}, "
      f"p99 {ms(d.get('redis_rtt_p99'))}.")
    w("")
    w("| Row | req/s | × redis-benchmark | p50 | p99 | errors | daprd CPU/req | redis CPU/req |")
    w("|---|---:|---:|---:|---:|---:|---:|---:|")
    ref = {r["op"]: r for r in rows if r["id"].startswith("redis-benchmark")}
    labels, vals = [], []
    for r in rows:
        base = ref.get(r["op"]) if "rate" not in r else None
        ratio = r["rps"] / base["rps"] if base and r.get("rps") and r["store"] == "redis" else None
        cpu = r.get("cpu_us") or {}
        lab = r["label"]
        w(f"| {lab} | {num(r.get('rps'))} | {num(ratio, '{:.2f}×')} | {ms(r.get('p50'))} | "
          f"{ms(r.get('p99'))} | {r.get('errors', '—')} | {us(cpu.get('daprd'))} | {us(cpu.get('redis-server'))} |")
        if "rate" not in r:
            labels.append(lab.replace("daprd ", ""))
            vals.append(r.get("rps"))
    w("")
    p = plot(date, "state-rps", "State GET/SET: requests/s", "requests/s", labels, [("req/s", vals)])
    if p:
        w(f"![]({p})")
        w("")
    by = {r["id"]: r for r in rows}
    g, rb = by.get("daprd-redis-get-http"), ref.get("GET")
    if g and rb and g.get("rps"):
        targets.append(("state GET through daprd (HTTP) ≥ 0.5× redis-benchmark GET", g["rps"] / rb["rps"] / 0.5,
                        ">=", 1.0, f"{g['rps']:,.0f} vs {rb['rps']:,.0f} req/s = {g['rps'] / rb['rps']:.2f}×"))
    gg = by.get("daprd-redis-get-grpc")
    if gg and rb and gg.get("rps"):
        targets.append(("state GET through daprd (gRPC) ≥ 0.5× redis-benchmark GET", gg["rps"] / rb["rps"] / 0.5,
                        ">=", 1.0, f"{gg['rps']:,.0f} vs {rb['rps']:,.0f} req/s = {gg['rps'] / rb['rps']:.2f}×"))
    rr = by.get("daprd-redis-get-rate")
    if rr and rr.get("p50") and d.get("redis_rtt_p50"):
        summary["state_added_p50_ms"] = rr["p50"] - d["redis_rtt_p50"]
        summary["state_get_p50_ms"] = rr["p50"]
    if g:
        summary["state_get_rps"] = g.get("rps")
        summary["state_get_ratio"] = g["rps"] / rb["rps"] if rb and g.get("rps") else None


def pubsub_section(date, d, w, targets, summary):
    rows = d["rows"]
    w(f"## Pub/sub ({d['date']})")
    w("")
    w(f"wrk publishes {d['body_bytes']}-byte JSON messages on {d['connections']} connections to "
      "/v1.0/publish; the subscriber app counts deliveries; msg/s delivered over the measured window "
      f"({d['duration']} s, the warm-up excluded). {d['pinning']}.")
    w("")
    w("| Broker → subscriber | delivered msg/s | accepted publishes/s | refused (queue full) | "
      "delivered / accepted (5 s drain) | publish p50 | daprd CPU/delivery | app CPU/delivery |")
    w("|---|---:|---:|---:|---:|---:|---:|---:|")
    labels, dv, pv = [], [], []
    for r in rows:
        if r.get("error"):
            w(f"| {r.get('label', r['id'])} | failed: {r['error']} | | | | | | |")
            continue
        cpu = r.get("cpu_us_per_delivery") or {}
        ratio = r["delivered_total"] / r["accepted"] if r.get("accepted") else None
        w(f"| {r['label']} | {num(r['delivered_rps'])} | {num(r['published_rps'])} | "
          f"{num(r.get('publish_refused'))} | {num(ratio, '{:.3f}')} | {ms(r.get('publish_p50'))} | "
          f"{us(cpu.get('daprd'))} | {us(cpu.get('app'))} |")
        labels.append(r["label"])
        dv.append(r["delivered_rps"])
        pv.append(r["published_rps"])
    w("")
    p = plot(date, "pubsub", "Pub/sub: messages per second", "msg/s", labels,
             [("delivered", dv), ("accepted publishes", pv)])
    if p:
        w(f"![]({p})")
        w("")
    mem = [r["delivered_rps"] for r in rows if r.get("broker") == "memory" and r.get("delivered_rps")]
    if mem:
        targets.append(("≥ 100,000 msg/s delivered (in-memory)", max(mem) / 100000, ">=", 1.0,
                        f"{max(mem):,.0f} msg/s (best subscriber protocol)"))
        summary["pubsub_mem_rps"] = max(mem)


def actors_section(date, d, w, targets, summary):
    w(f"## Actors ({d['date']})")
    w("")
    if d.get("error"):
        w(f"**Failed:** {d['error']}")
        w("")
    w(f"{d['connections']} connections; app = nginx answering the actor callbacks; state.in-memory "
      f"as the actor state store; {d['pinning']}.")
    w("")
    w("| Row | rate | p50 | p90 | p99 | errors | daprd CPU per call | daprd RSS |")
    w("|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in d["rows"]:
        cpu = r.get("cpu_us") or {}
        cpu_v = next(iter(cpu.values()), None) if cpu else None
        if r["id"] == "actors-reminders":
            rate = f"{r['fired_rps']:,.0f} fired/s (nominal {r['nominal_rps']:,.0f}/s)"
            w(f"| {r['label']}; registering took {r['register_s']} s | {rate} | | | | "
              f"{r['register_errors']} | {us(cpu_v)} | {mib(r.get('rss_kb'))} |")
            continue
        rate = f"{num(r.get('rps'))}/s"
        err = r.get("errors", "—")
        if r.get("error"):
            err = f"{err} — {r['error']}"
        w(f"| {r['label']} | {rate} | {ms(r.get('p50'))} | {ms(r.get('p90'))} | {ms(r.get('p99'))} | "
          f"{err} | {us(cpu_v)} | {mib(r.get('rss_kb'))} |")
    w("")
    by = {r["id"]: r for r in d["rows"]}
    c1 = by.get("actors-calls-1")
    if c1 and c1.get("rps"):
        targets.append(("≥ 50,000 actor calls/s per host", c1["rps"] / 50000, ">=", 1.0, f"{c1['rps']:,.0f} calls/s"))
        summary["actor_calls_rps"] = c1["rps"]
    act = by.get("actors-activation")
    if act and act.get("p99"):
        summary["actor_activation_p50_ms"] = act["p50"]
        summary["actor_activation_p99_ms"] = act["p99"]
    labels = [r["label"] for r in d["rows"] if r.get("rps") and r["id"].startswith("actors-calls")]
    vals = [r["rps"] for r in d["rows"] if r.get("rps") and r["id"].startswith("actors-calls")]
    rem = by.get("actors-reminders")
    if rem:
        labels.append("reminders fired/s")
        vals.append(rem["fired_rps"])
    p = plot(date, "actors", "Actors: calls/s and reminders fired/s", "per second", labels, [("rate", vals)])
    if p:
        w(f"![]({p})")
        w("")


def footprint_section(date, d, w, targets, summary):
    w(f"## Footprint ({d['date']})")
    w("")
    libs = d.get("shared_libs") or {}
    w(f"- daprd binary: {d['size_bytes'] / 1e6:.2f} MB as built, **{d['stripped_bytes'] / 1e6:.2f} MB "
      f"stripped**; it links {len(libs)} shared libraries a bare Debian lacks "
      f"({', '.join(libs)}: {sum(libs.values()) / 1e6:.2f} MB together; Dapr's daprd is one static binary).")
    for label, v in (d.get("idle") or {}).items():
        w(f"- idle {v['after_s']:.0f} s after ready, {label}: RSS **{mib(v['rss_kb'])}** (anonymous "
          f"{mib(v['rss_anon_kb'])}, file-backed {mib(v['rss_file_kb'])}), peak {mib(v['hwm_kb'])}, "
          f"{v['cpu_ticks']} CPU ticks since start")
    q = d.get("invoke_1000") or {}
    if q:
        w(f"- invoke at {q['rate']}/s (one hop, {q['achieved_rps']:,.0f} req/s achieved, {q['errors']} errors): "
          f"**{q['mcpu']:.0f} mCPU** ({q['mcpu_per_1000']:.0f} mCPU per 1000 req/s), RSS {mib(q['rss_kb'])} "
          f"(anonymous {mib(q['rss_anon_kb'])}), p50 {ms(q['p50'])}, p99 {ms(q['p99'])}")
    for n, v in (d.get("ready") or {}).items():
        w(f"- exec → /v1.0/healthz 204 with {n} component(s): median **{num(v['median_ms'], '{:.1f}')} ms** "
          f"(min {num(v['min_ms'], '{:.1f}')}, max {num(v['max_ms'], '{:.1f}')}, {v['runs']} runs, {v['failed']} failed)")
    w("")
    rd = d.get("ready") or {}
    p = plot(date, "ready", "exec → healthz 204 (median)", "ms", [f"{n} components" for n in rd],
             [("median ms", [v["median_ms"] for v in rd.values()])])
    if p:
        w(f"![]({p})")
        w("")
    idle = (d.get("idle") or {}).get("no components")
    if idle:
        targets.append(("idle RSS ≤ 4 MB (no components)", idle["rss_kb"] / 1024 / 4, "<=", 1.0,
                        f"{mib(idle['rss_kb'])} (anonymous {mib(idle['rss_anon_kb'])})"))
        summary["idle_rss_kb"] = idle["rss_kb"]
    if d.get("stripped_bytes"):
        targets.append(("stripped daprd ≤ 2 MB", d["stripped_bytes"] / 2e6, "<=", 1.0,
                        f"{d['stripped_bytes'] / 1e6:.2f} MB"))
        summary["stripped_mb"] = d["stripped_bytes"] / 1e6
    r0 = rd.get("0")
    if r0 and r0.get("median_ms"):
        targets.append(("ready ≤ 10 ms (0 components)", r0["median_ms"] / 10, "<=", 1.0,
                        f"{r0['median_ms']:.1f} ms"))
        summary["ready_ms"] = r0["median_ms"]
    if q:
        summary["invoke_mcpu"] = q["mcpu_per_1000"]
        summary["invoke_rss_kb"] = q["rss_kb"]


def profile_section(date, d, w, targets, summary):
    w(f"## Profile: instructions per request (callgrind, {d['date']})")
    w("")
    w(d.get("how", ""))
    w("")
    w("| Path | requests | Ir per request | in shared libraries (libc, jansson, hiredis, nghttp2…; top 25 functions) | top functions (self Ir share) |")
    w("|---|---:|---:|---:|---|")
    for p in d["paths"]:
        if p.get("error"):
            w(f"| {p['label']} | failed: {p['error']} | | | |")
            continue
        top = "; ".join(f"`{f['fn']}` {f['share'] * 100:.1f} %" for f in p["top"][:6])
        lib = sum(f["share"] for f in p["top"] if ".so" in (f.get("obj") or ""))
        w(f"| {p['label']} | {p['requests']:,} | {p['ir_per_req']:,.0f} | ≥ {lib * 100:.0f} % | {top} |")
    w("")
    for p in d["paths"]:
        if p.get("error"):
            continue
        w(f"<details><summary>{p['label']}: top functions by self cost</summary>")
        w("")
        w("| Function | file:line | self Ir/request | share |")
        w("|---|---|---:|---:|")
        for f in p["top"][:15]:
            w(f"| `{f['fn']}` | {f.get('where', '')} | {f['ir'] / p['requests']:,.0f} | {f['share'] * 100:.1f} % |")
        w("")
        w("</details>")
        w("")
    if d.get("compare"):
        w("Before/after (Ir per request):")
        w("")
        w("| Path | before | after | after/before |")
        w("|---|---:|---:|---:|")
        for c in d["compare"]:
            w(f"| {c['label']} | {c['before']:,.0f} ({c['before_rev']}) | {c['after']:,.0f} ({c['after_rev']}) | "
              f"{c['after'] / c['before']:.2f}× |")
        w("")


# ---- the report ---------------------------------------------------------------------------------

# ---- inproc (issue 7): in-process C API vs the same operations through daprd -----------------------

def lat(v):
    """A latency in ms with enough digits for sub-microsecond in-process calls."""
    if v is None or v < 0:
        return "—"
    if v < 0.001:
        return f"{v * 1e6:.0f} ns"
    if v < 0.1:
        return f"{v * 1e3:.1f} µs"
    return ms(v)


def ratio(v):
    if v is None:
        return "—"
    if v >= 1:
        return f"{v:,.0f}×" if v >= 100 else f"{v:.1f}×"
    return f"{v:.2f}×" if v >= 0.01 else f"1/{1 / v:,.0f}"


INPROC_OPS = {"get": "state GET", "invoke": "invoke"}
INPROC_TARGETS = {"memory": "state.in-memory", "redis": "state.redis", "echo": "1 KB echo app"}


def inproc_table(d):
    """The markdown table of the inproc suite (the dated report and the README snippet)."""
    rows = d["rows"]
    lines = ["| Operation | Path | Outstanding | ops/s | p50 | p99 | CPU per op | ops/s in-process ÷ this | "
             "p50 in-process ÷ this | p99 in-process ÷ this |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    order = {"in-process": 0, "daprd HTTP": 1, "daprd gRPC": 2}
    keyf = (lambda r: (list(INPROC_OPS).index(r["op"]), list(INPROC_TARGETS).index(r["target"]),
                       r["concurrency"], order.get(r["path"], 9)))
    for r in sorted(rows, key=keyf):
        cpu = r.get("cpu_us") or {}
        c = cpu.get("process") if r["path"] == "in-process" else cpu.get("daprd")
        op = f"{INPROC_OPS[r['op']]}, {INPROC_TARGETS[r['target']]}"
        path = "**in-process** (C API)" if r["path"] == "in-process" else r["path"]
        err = f" ({r['errors']} errors)" if r.get("errors") else ""
        cpus = "—" if c is None else (f"{c:.2f} µs" if c < 10 else f"{c:.1f} µs")
        if r["path"] == "in-process":
            rr = ("", "", "")
        else:
            rr = (ratio(r.get("ratio_rps")), ratio(r.get("ratio_p50")), ratio(r.get("ratio_p99")))
        lines.append(f"| {op} | {path} | {r['concurrency']} | {num(r.get('rps'))}{err} | {lat(r.get('p50'))} | "
                     f"{lat(r.get('p99'))} | {cpus} | {rr[0]} | {rr[1]} | {rr[2]} |")
    return lines


def inproc_intro(d):
    v = d.get("value_bytes", 1024)
    return (f"{v}-byte values and bodies; in-process: `bench/inproc/inproc_bench.c` linked against the "
            f"same `libdapr.a` as daprd (same compile flags and link line: release, LTO), its own libuv "
            f"loop, every API port closed, a closed loop with N operations outstanding; sidecar: daprd with "
            f"the same components, wrk -t1 -c N (HTTP) and h2load -c N -m 1 (gRPC) on the other CPU, "
            f"invoke to an nginx app answering {v} bytes (in process: a registered handler echoing the "
            f"body). Pinning: {d['pinning']}; the in-process program on the server CPU. {d['duration']} s "
            f"measured per row after {d.get('warmup', 1)} s of warm-up. CPU per op: the whole in-process "
            "program (caller and runtime) vs daprd alone (without the load generator, the app or Redis). "
            "Ratios are in-process ÷ daprd: ops/s above 1 and latency below 1 favour in process. "
            "In-process numbers include no network hop, no HTTP/gRPC parsing and no serialisation by design.")


def inproc_section(date, d, w, targets, summary):
    w(f"## In process vs sidecar ({d['date']})")
    w("")
    w(inproc_intro(d))
    w("")
    for line in inproc_table(d):
        w(line)
    w("")
    inside = [f"{INPROC_OPS[r['op']]} {r['target']} N={r['concurrency']}: {r['inside_call'] / r['requests']:.0%}"
              for r in d["rows"] if r["path"] == "in-process" and r.get("requests") and r.get("inside_call") is not None]
    if inside:
        w("In-process calls whose callback ran inside the call (synchronous completion): " + "; ".join(inside) + ".")
        w("")
    by = {r["id"]: r for r in d["rows"]}
    lines = []
    for rid, label in (("daprd-get-memory-c16-http", "state GET in-memory, 16 outstanding, vs HTTP"),
                       ("daprd-get-memory-c16-grpc", "state GET in-memory, 16 outstanding, vs gRPC"),
                       ("daprd-get-redis-c16-http", "state GET Redis, 16 outstanding, vs HTTP"),
                       ("daprd-invoke-echo-c16-http", "invoke, 16 outstanding, vs HTTP"),
                       ("daprd-invoke-echo-c16-grpc", "invoke, 16 outstanding, vs gRPC"),
                       ("daprd-get-memory-c1-http", "state GET in-memory, 1 outstanding, p50 vs HTTP"),
                       ("daprd-invoke-echo-c1-http", "invoke, 1 outstanding, p50 vs HTTP")):
        r = by.get(rid)
        if not r:
            continue
        if "p50" in label:
            ip = by.get(rid.replace("daprd-", "inproc-").rsplit("-", 1)[0])
            lines.append((label, f"{lat(ip and ip.get('p50'))} vs {lat(r.get('p50'))}", ratio(r.get("ratio_p50"))))
        else:
            ip = by.get(rid.replace("daprd-", "inproc-").rsplit("-", 1)[0])
            lines.append((label, f"{num(ip and ip.get('rps'))} vs {num(r.get('rps'))} ops/s",
                          ratio(r.get("ratio_rps"))))
    summary["inproc_lines"] = lines


def main():
    date = sys.argv[1]
    perf = None
    if "--perf-section" in sys.argv:
        perf = sys.argv[sys.argv.index("--perf-section") + 1]
    out, targets, summary = [], [], {}
    w = out.append
    w(f"# libdapr performance — {date}")
    w("")
    w("Written by `bench/run` (`./run bench`); every ratio compares rows of the same run on this "
      "machine. The raw data of each suite is in `bench/results/" + date + "-<suite>.json`.")
    try:
        cpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        model = next((x.split(":", 1)[1].strip() for x in cpu.splitlines() if x.startswith("Model name")), "?")
    except OSError:
        model = "?"
    w(f"Machine: {model}, {os.cpu_count()} CPUs, Linux {os.uname().release}.")
    w("")
    body = []
    bw = body.append
    sections = (("invoke", invoke_section), ("state", state_section), ("pubsub", pubsub_section),
                ("actors", actors_section), ("footprint", footprint_section), ("profile", profile_section),
                ("inproc", inproc_section))
    found = []
    for suite, fn in sections:
        d = load(date, suite)
        if d is None:
            continue
        found.append(suite)
        try:
            fn(date, d, bw, targets, summary)
        except Exception as e:  # a half-written suite must not lose the others
            bw(f"_{suite}: report failed: {type(e).__name__}: {e}_")
            bw("")
        notes = d.get("notes") or []
        if notes:
            bw("Notes:")
            bw("")
            for n in notes:
                bw(f"- {n}")
            bw("")
    busy = {}
    for suite in found:
        d = load(date, suite) or {}
        b = d.get("busy_before_rows") or [r.get("bg_busy") or 0 for r in d.get("rows", []) if isinstance(r, dict)]
        b = [x for x in b if x is not None]
        if b and max(b) >= 10:
            busy[suite] = (sum(1 for x in b if x >= 10), len(b), max(b))
    summary["busy"] = busy
    if busy:
        w("**Warning: other work was running on this machine during the run** (share of the machine busy "
          "just before a row, ≥ 10 %: " + "; ".join(f"{k}: {n} of {t} rows, up to {m:.0f} %" for k, (n, t, m)
                                                      in busy.items()) + "). These numbers are noisy; "
          "rerun on a quiet machine before drawing conclusions.")
        w("")
    if not found:
        print(f"report: no bench/results/{date}-*.json", file=sys.stderr)
        return 1
    # targets first
    w("## Targets (issue 8)")
    w("")
    w("| Target | measured | ratio to target | |")
    w("|---|---|---:|---|")
    tl = []
    for name, ratio, op, lim, txt in targets:
        met = ratio >= lim if op == ">=" else ratio <= lim
        tl.append((name, txt, ratio, met))
        w(f"| {name} | {txt} | {ratio:.2f} | {'met' if met else '**missed**'} |")
    w("")
    w("Ratio to target: measured / target (≥ targets are met at ≥ 1, ≤ targets at ≤ 1).")
    w("")
    out.extend(body)
    md = os.path.join(RES, f"{date}.md")
    with open(md, "w") as f:
        f.write("\n".join(out) + "\n")
    json.dump({"date": date, "summary": summary, "targets": tl},
              open(os.path.join(RES, f"{date}-summary.json.tmp"), "w"), indent=1)
    # printed summary
    print(f"\nSummary ({date}, suites: {', '.join(found)}):")
    print(f"{'target':58s} {'measured':44s} {'ratio':>6s}")
    for name, txt, ratio, met in tl:
        print(f"{name[:58]:58s} {txt[:44]:44s} {ratio:6.2f} {'met' if met else 'MISSED'}")
    if summary.get("inproc_lines"):
        print("\nIn process ÷ through daprd (bench/run --suite inproc; ops/s: higher is better in process, "
              "p50: lower):")
        for label, txt, r in summary["inproc_lines"]:
            print(f"{label[:58]:58s} {txt[:44]:44s} {r:>8s}")
    print(f"\nwritten: bench/results/{date}.md and its PNGs")
    if perf:
        write_perf(perf, date, summary, tl)
        if "inproc" in found:
            write_inproc(os.path.join(os.path.dirname(os.path.abspath(perf)), "README-inproc-section.md"),
                         date, load(date, "inproc"), bool(summary.get("busy")))
    return 0


def write_perf(path, date, s, tl):
    def f(v, fmt):
        return "—" if v is None else fmt.format(v)
    lines = [
        "## Performance",
        "",
        f"`./run bench` builds a release daprd (LTO) in `build-bench/`, runs every scenario of `bench/run` "
        f"(`./run bench invoke` runs one) and writes `bench/results/<date>.md` with tables and plots. "
        f"Latest: [`bench/results/{date}.md`](bench/results/{date}.md), on a 2-CPU VM with the hop under "
        "test pinned to one CPU and the load generator and app to the other (`bench/README.md`).",
        "",
        ("**The latest run shared the machine with other work** (see the warning in the report): its "
         "numbers are noisy." if s.get("busy") else "") + "\n\n" +
        "Dapr's column is **Dapr's published figures, measured on other hardware** (Kubernetes, Dapr's perf "
        "suite, 1 KB payloads, 16 connections, 1000 QPS); it is not a side-by-side run.",
        "",
        "| Measure | libdapr (this machine) | Dapr 1.x (published, other hardware) |",
        "|---|---:|---:|",
        f"| HTTP invoke, latency added to a direct call at 1000 QPS, p50 | "
        f"{f(s.get('invoke_added_p50_ms'), '+{:.2f} ms')} | +1.06 ms |",
        f"| HTTP invoke, latency added at 1000 QPS, p99 | {f(s.get('invoke_added_p99_ms'), '{:+.2f} ms')} | +2.90 ms |",
        f"| Sidecar CPU at 1000 QPS of invoke | {f(s.get('invoke_mcpu'), '{:.0f} mCPU')} | 202 mCPU |",
        f"| Sidecar memory at 1000 QPS of invoke (RSS) | {f(s.get('invoke_rss_kb') and s['invoke_rss_kb'] / 1024, '{:.1f} MiB')} | 51 MB |",
        f"| State GET, latency added to the Redis round trip, p50 | {f(s.get('state_added_p50_ms'), '+{:.2f} ms')} | +0.28 ms |",
        f"| Actor activation p99 | {f(s.get('actor_activation_p99_ms'), '{:.2f} ms')} | 6.89 ms |",
        f"| daprd binary | {f(s.get('stripped_mb'), '{:.2f} MB stripped')} (+ shared libs) | 81 MB |",
        f"| Max invoke throughput, one hop (1 CPU) | {f(s.get('invoke_rps'), '{:,.0f} req/s')} | — |",
        f"| State GET through daprd, × redis-benchmark GET | {f(s.get('state_get_ratio'), '{:.2f}×')} | — |",
        f"| Pub/sub delivered, in-memory | {f(s.get('pubsub_mem_rps'), '{:,.0f} msg/s')} | — |",
        f"| Actor calls, one host | {f(s.get('actor_calls_rps'), '{:,.0f} calls/s')} | — |",
        f"| Idle RSS, no components | {f(s.get('idle_rss_kb') and s['idle_rss_kb'] / 1024, '{:.1f} MiB')} | — |",
        f"| exec → healthz 204, no components | {f(s.get('ready_ms'), '{:.1f} ms')} | — |",
        "",
        "Targets of issue 8 in the latest run:",
        "",
        "| Target | measured | |",
        "|---|---|---|",
    ]
    for name, txt, ratio, met in tl:
        lines.append(f"| {name} | {txt} | {'met' if met else f'missed ({ratio:.2f}× the target)'} |")
    lines.append("")
    with open(path, "w") as fh:
        fh.write("\n".join(lines))


def write_inproc(path, date, d, busy):
    """bench/README-inproc-section.md: the README's in-process vs sidecar table (merged by hand)."""
    lines = ["### In process vs through daprd",
             "",
             f"`bench/run --suite inproc` runs the same operations in process, through libdapr's C API "
             f"(`dapr_state_get`, `dapr_invoke` of the program's own in-process handler), and through a daprd "
             f"over HTTP and gRPC, in one run (latest: [`bench/results/{date}.md`](bench/results/{date}.md)). "
             + inproc_intro(d),
             ""]
    if busy or any(x >= 10 for x in d.get("busy_before_rows") or []):
        lines += ["**This run shared the machine with other work** (a 2-CPU VM; see the warning in the "
                  "report): the numbers are noisy, the ratios more so.", ""]
    lines += inproc_table(d)
    lines.append("")
    with open(path, "w") as fh:
        fh.write("\n".join(lines))


if __name__ == "__main__":
    raise SystemExit(main())
