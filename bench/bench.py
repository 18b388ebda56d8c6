#!/usr/bin/env python3
"""Helpers for bench/run (standard library only).

  bench.py ports N                    print N free 127.0.0.1 TCP ports, one per line
  bench.py grpc-body STORE KEY OUT    write a length-prefixed GetStateRequest to OUT
  bench.py grpc-check FILE VALUE      check a raw gRPC GetState response body; print its size
  bench.py http-size PORT PATH [BODY] bytes of one keep-alive GET response (headers + body);
                                      with BODY (a file), of a POST of that body
  bench.py wrk LOG                    wrk output (with bench/wrk-report.lua) -> JSON
  bench.py h2load LOG [REQLOG]        h2load output (+ optional --log-file) -> JSON
  bench.py report RESULTS.json        markdown report from the collected results
  bench.py invoke-report RESULTS.json markdown report of the invoke suite (bench/invoke.sh)
"""
import json
import math
import re
import socket
import sys


# ---- ports ---------------------------------------------------------------------------------

def cmd_ports(n):
    # Hold every socket open until all are bound so the N ports are distinct.
    socks = []
    for _ in range(int(n)):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind(("127.0.0.1", 0))
        socks.append(s)
    for s in socks:
        print(s.getsockname()[1])
    for s in socks:
        s.close()


# ---- protobuf / gRPC framing ---------------------------------------------------------------

def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def pb_len_field(num, data):
    return varint((num << 3) | 2) + varint(len(data)) + data


def grpc_frame(msg):
    return b"\x00" + len(msg).to_bytes(4, "big") + msg


def cmd_grpc_body(store, key, out):
    # dapr.proto.runtime.v1.GetStateRequest { string store_name = 1; string key = 2; }
    msg = pb_len_field(1, store.encode()) + pb_len_field(2, key.encode())
    with open(out, "wb") as f:
        f.write(grpc_frame(msg))


def pb_fields(buf):
    """Decode one protobuf message into [(field, wiretype, value)]."""
    i, out = 0, []

    def rd_varint():
        nonlocal i
        shift = val = 0
        while True:
            b = buf[i]
            i += 1
            val |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                return val

    while i < len(buf):
        tag = rd_varint()
        num, wt = tag >> 3, tag & 7
        if wt == 0:
            out.append((num, wt, rd_varint()))
        elif wt == 2:
            ln = rd_varint()
            out.append((num, wt, buf[i:i + ln]))
            i += ln
        elif wt == 1:
            out.append((num, wt, buf[i:i + 8]))
            i += 8
        elif wt == 5:
            out.append((num, wt, buf[i:i + 4]))
            i += 4
        else:
            raise ValueError(f"wire type {wt}")
    return out


def cmd_grpc_check(path, value):
    raw = open(path, "rb").read()
    if len(raw) < 5 or raw[0] != 0:
        sys.exit(f"grpc-check: not an uncompressed gRPC message ({len(raw)} bytes)")
    ln = int.from_bytes(raw[1:5], "big")
    if len(raw) != 5 + ln:
        sys.exit(f"grpc-check: frame says {ln} bytes, body has {len(raw) - 5}")
    fields = pb_fields(raw[5:])
    data = [v for (n, w, v) in fields if n == 1 and w == 2]
    if not data or data[0] != value.encode():
        sys.exit(f"grpc-check: GetStateResponse.data is {data[:1]!r}, expected {value!r}")
    print(len(raw))


def cmd_http_size(port, path, body_file=None):
    s = socket.create_connection(("127.0.0.1", int(port)), timeout=5)
    if body_file:
        body = open(body_file, "rb").read()
        s.sendall(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
                  f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
    else:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
    head, _, body = buf.partition(b"\r\n\r\n")
    m = re.search(rb"(?im)^content-length:\s*(\d+)", head)
    need = int(m.group(1)) if m else 0
    while len(body) < need:
        chunk = s.recv(65536)
        if not chunk:
            break
        body += chunk
    s.close()
    print(len(head) + 4 + len(body))


# ---- load generator output -----------------------------------------------------------------

UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def to_ms(s):
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", s.strip())
    return float(m.group(1)) * UNITS[m.group(2)] if m else None


def cmd_wrk(log):
    text = open(log).read()
    res = {"tool": "wrk"}
    for line in text.splitlines():
        if line.startswith("BENCH "):  # from wrk-report.lua's done()
            k, v = line[6:].split("=", 1)
            res[k] = float(v)
    if "requests" not in res:
        sys.exit(f"wrk: no summary in {log}")
    dur_s = res["duration_us"] / 1e6
    res["rps"] = res["requests"] / dur_s if dur_s else 0
    for p in ("p50", "p90", "p99", "p999", "min", "max", "mean", "stdev"):
        if p in res:
            res[p] = res[p] / 1e3  # us -> ms
    res["errors"] = int(sum(res.get(k, 0) for k in
                            ("err_connect", "err_read", "err_write", "err_status", "err_timeout")))
    res["bytes_per_req"] = res["bytes"] / res["requests"] if res["requests"] else 0
    print(json.dumps(res))


def pct(sorted_vals, p):
    if not sorted_vals:
        return None
    k = max(0, math.ceil(p / 100 * len(sorted_vals)) - 1)
    return sorted_vals[k]


def cmd_h2load(log, reqlog=None):
    text = open(log).read()
    res = {"tool": "h2load"}
    m = re.search(r"finished in ([\d.]+\w+), ([\d.]+) req/s", text)
    if not m:
        sys.exit(f"h2load: no summary in {log}")
    res["duration_ms"] = to_ms(m.group(1))
    res["rps"] = float(m.group(2))
    m = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, "
                  r"(\d+) failed, (\d+) errored, (\d+) timeout", text)
    for k, v in zip(("total", "started", "done", "succeeded", "failed", "errored", "timeout"),
                    m.groups()):
        res[k] = int(v)
    m = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", text)
    res["2xx"], res["3xx"], res["4xx"], res["5xx"] = map(int, m.groups())
    m = re.search(r"traffic: .*?\((\d+)\) total, .*?\((\d+)\) headers .*?, .*?\((\d+)\) data", text)
    if m:
        res["bytes"], res["header_bytes"], res["data_bytes"] = map(int, m.groups())
        res["data_per_req"] = res["data_bytes"] / res["succeeded"] if res["succeeded"] else 0
    m = re.search(r"time for request:\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)", text)
    if m:
        res["min"], res["max"], res["mean"], res["stdev"] = (to_ms(x) for x in m.groups())
    res["errors"] = res["failed"] + res["errored"] + res["timeout"] + \
        (res["succeeded"] - res["2xx"])
    res["requests"] = res["succeeded"]
    if reqlog:
        # --log-file columns: start (us since epoch), status, microseconds to end of response
        lat, starts, non2xx = [], [], 0
        with open(reqlog) as f:
            for line in f:
                parts = line.split("\t")
                if len(parts) >= 3:
                    lat.append(int(parts[2]))
                    starts.append(int(parts[0]))
                    if not parts[1].startswith("2"):
                        non2xx += 1
        lat.sort()
        starts.sort()
        res["logged"] = len(lat)
        res["logged_non2xx"] = non2xx
        # how evenly the requests were sent: share started < 100 us after the previous one
        if len(starts) > 1:
            res["close_starts"] = sum(1 for a, b in zip(starts, starts[1:]) if b - a < 100) / (len(starts) - 1)
            res["log_span_s"] = (starts[-1] - starts[0]) / 1e6
        for name, p in (("p50", 50), ("p90", 90), ("p99", 99), ("p999", 99.9)):
            v = pct(lat, p)
            res[name] = v / 1e3 if v is not None else None
    print(json.dumps(res))


# ---- report --------------------------------------------------------------------------------

def fmt_ms(v):
    if v is None:
        return "—"
    return f"{v * 1e3:.0f} µs" if v < 1 else f"{v:.2f} ms"


def fmt_kib(v):
    return "—" if v is None else f"{v / 1024:.1f} MiB"


def cmd_report(path):
    data = json.load(open(path))
    rows = data["rows"]
    by = {r["id"]: r for r in rows}
    out = []
    w = out.append
    meta = data["meta"]
    w(f"# libdapr benchmark — {meta['date']}")
    w("")
    w(f"- Machine: {meta['cpu']}, {meta['ncpu']} CPUs, {meta['mem']}, {meta['kernel']}")
    w(f"- daprd: {meta['daprd']}")
    w(f"- Tools: {meta['tools']}")
    w(f"- Load: {meta['duration']} s per target after a {meta['warmup']} s warm-up; "
      f"wrk {meta['wrk_threads']} threads × {meta['wrk_conns']} connections (HTTP/1.1 keep-alive); "
      f"h2load {meta['h2_clients']} connections × {meta['h2_streams']} concurrent streams (h2c), "
      f"{meta['h2_threads']} thread(s)")
    w(f"- CPU pinning: {meta['pinning']}")
    w(f"- Payload: {meta['payload']}")
    w("")
    noisy = [r for r in rows if (r.get("bg_busy") or 0) >= 10]
    if noisy:
        w("**Warning: other work was running on this machine during the benchmark** (CPU busy before "
          "the run: " + ", ".join(f"{r['id']} {r['bg_busy']:.0f} %" for r in noisy) +
          "); the numbers are not reliable.")
        w("")
    w("| Target | Server process | Requests/s | p50 | p90 | p99 | max | Errors | Server CPU: process / core | "
      "RSS idle → after | Peak RSS (VmHWM) |")
    w("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        x = r.get("result") or {}
        if not x:
            w(f"| {r['label']} | {r['proc']} | failed: {r.get('error', '?')} | | | | | | | | |")
            continue
        rss = (f"{fmt_kib(r.get('rss_idle'))} → {fmt_kib(r.get('rss_after'))}"
               if r.get("rss_after") is not None else "—")
        p = [fmt_ms(x.get(k)) for k in ("p50", "p90", "p99")]
        if x["tool"] == "h2load" and x.get("p50") is None:
            p = ["—", f"mean {fmt_ms(x.get('mean'))} ± {fmt_ms(x.get('stdev'))}", "—"]
        cpu = "—" if r.get("cpu") is None else f"{r['cpu']:.0f} %"
        if r.get("core_srv") is not None:
            cpu += f" / {r['core_srv']:.0f} %"
        w(f"| {r['label']} | {r['proc']} | {x['rps']:,.0f} | {p[0]} | {p[1]} | {p[2]} | "
          f"{fmt_ms(x.get('max'))} | {x['errors']} | {cpu} | {rss} | {fmt_kib(r.get('hwm'))} |")
    w("")

    def ratio(a, b, label):
        ra, rb = by.get(a, {}).get("result"), by.get(b, {}).get("result")
        if not ra or not rb or not rb["rps"]:
            return
        t = f"- {label}: **{ra['rps'] / rb['rps']:.2f}×** the requests/s"
        if ra.get("p99") and rb.get("p99"):
            t += f", p99 {ra['p99'] / rb['p99']:.2f}×"
        elif ra.get("mean") and rb.get("mean"):
            t += f", mean latency {ra['mean'] / rb['mean']:.2f}×"
        w(t)

    w("Ratios (higher requests/s is better; latency ratios < 1 are better):")
    w("")
    ratio("daprd-http", "direct", "daprd GetState HTTP vs direct nginx")
    ratio("daprd-grpc", "daprd-http", "daprd GetState gRPC vs daprd GetState HTTP")
    ratio("nginx-proxy", "direct", "nginx reverse proxy vs direct")
    ratio("haproxy", "direct", "haproxy reverse proxy vs direct")
    ratio("daprd-http", "nginx-proxy", "daprd GetState HTTP vs nginx reverse proxy")
    w("")
    w("Notes:")
    w("")
    for r in rows:
        x = r.get("result") or {}
        if not x:
            continue
        extra = ""
        if r.get("upstream_cpu"):
            extra += f" The upstream nginx worker used {r['upstream_cpu']} % of a CPU on the same core."
        if r.get("rss_warm") is not None and r.get("rss_after") is not None:
            extra += (f" RSS after warm-up {fmt_kib(r['rss_warm'])}, after the measured run "
                      f"{fmt_kib(r['rss_after'])}.")
        if r.get("core_srv") is not None and r.get("core_load") is not None:
            extra += (f" Server core {r['core_srv']:.0f} % busy ({r.get('core_srv_sirq') or 0:.0f} % softirq), "
                      f"load core {r['core_load']:.0f} % busy ({r.get('core_load_sirq') or 0:.0f} % softirq).")
        if r.get("bg_busy") is not None:
            extra += (f" Before the run the idle machine was {r['bg_busy']:.0f} % busy "
                      f"(loadavg {r.get('bg_load') or 0:.2f}).")
        if not r.get("alive", True):
            extra += " The server process was gone after the run."
        if x["tool"] == "wrk":
            w(f"- {r['label']}: {int(x['requests']):,} responses, {x['bytes_per_req']:.0f} bytes each "
              f"on the wire (headers + body; a single GET gives {r.get('expect_bytes', '?')}), mean {fmt_ms(x.get('mean'))} ± {fmt_ms(x.get('stdev'))}"
              f"; errors: connect {int(x.get('err_connect', 0))}, read {int(x.get('err_read', 0))}, "
              f"write {int(x.get('err_write', 0))}, non-2xx {int(x.get('err_status', 0))}, "
              f"timeout {int(x.get('err_timeout', 0))}.{extra}")
        else:
            lat = ("percentiles computed from h2load's per-request log "
                   f"({x.get('logged', 0):,} entries)" if x.get("p50") is not None else
                   "h2load gives only min/max/mean/sd of request time")
            w(f"- {r['label']}: {x['succeeded']:,} succeeded of {x['done']:,} done "
              f"({x['2xx']:,} HTTP 2xx, {x['failed']} failed, {x['errored']} errored, "
              f"{x['timeout']} timeout); {x.get('data_per_req', 0):.0f} DATA bytes per response "
              f"(expected {r.get('expect_data', '?')}); request time min {fmt_ms(x.get('min'))}, "
              f"mean {fmt_ms(x.get('mean'))} ± {fmt_ms(x.get('stdev'))}; {lat}.{extra}")
    for n in data.get("notes", []):
        w(f"- {n}")
    print("\n".join(out))


def cmd_invoke_report(path):
    data = json.load(open(path))
    rows, meta = data["rows"], data["meta"]
    by = {r["id"]: r for r in rows}
    rate = int(meta["rate"])
    out = []
    w = out.append

    def per_req_us(h, r, which):
        """CPU time of hop h per request in the wrk ('wrk') or fixed-rate ('rate') run, in us."""
        t = h.get(which + "_ticks")
        x = r.get(which)
        n = (x or {}).get("requests")
        if t is None or not n:
            return None
        return t / r["hz"] * 1e6 / n

    def hop(r, prefix):
        for h in (r or {}).get("hops", []):
            if h["name"].startswith(prefix):
                return h
        return None

    w(f"# libdapr benchmark: service invocation — {meta['date']}")
    w("")
    w(f"- Machine: {meta['cpu']}, {meta['ncpu']} CPUs, {meta['mem']}, {meta['kernel']}")
    w(f"- daprd: {meta['daprd']}")
    w(f"- Tools: {meta['tools']}")
    w(f"- Requests: `POST` with a {meta['body_size']}-byte JSON body (`Content-Type: application/json`); "
      f"the app (nginx, 1 worker, `location = /echo {{ return 200 '<{meta['body_size']} bytes>'; }}`) "
      f"answers every one with a {meta['body_size']}-byte JSON body.")
    w(f"- Max throughput: wrk {meta['wrk_threads']} threads × {meta['wrk_conns']} keep-alive connections, "
      f"{meta['duration']} s after a {meta['warmup']} s warm-up.")
    w(f"- Fixed rate: h2load --h1, {meta['rate_conns']} keep-alive connections × "
      f"{rate // int(meta['rate_conns'])} requests/s each (`--rps`), the connections started "
      f"{max(1, 1000 // rate)} ms apart (`-r 1 --rate-period`) so that their timers do not fire together; "
      f"{rate * int(meta['duration']):,} requests ({meta['duration']} s at {rate:,}/s), right after the wrk run. "
      f"Latency is from h2load's per-request log (send of the request to the end of the response).")
    w(f"- CPU pinning: {meta['pinning']}")
    w("")
    noisy = [r for r in rows if (r.get("bg_busy") or 0) >= 10]
    if noisy:
        w("**Warning: other work was running on this machine during the benchmark** (CPU busy before "
          "the run: " + ", ".join(f"{r['id']} {r['bg_busy']:.0f} %" for r in noisy) +
          "); the numbers are not reliable.")
        w("")
    w(f"| Target | Max req/s (wrk) | wrk p50 | wrk p99 | wrk errors | At {rate:,}/s: achieved req/s | "
      "p50 | p90 | p99 | p99.9 | max | errors / non-2xx |")
    w("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        x, y = r.get("wrk") or {}, r.get("rate") or {}
        if r.get("error") or not x:
            w(f"| {r['label']} | failed: {r.get('error', 'no wrk result')} | | | | | | | | | | |")
            continue
        if y:
            ry = (f"{y['rps']:,.0f} | {fmt_ms(y.get('p50'))} | {fmt_ms(y.get('p90'))} | {fmt_ms(y.get('p99'))} | "
                  f"{fmt_ms(y.get('p999'))} | {fmt_ms(y.get('max'))} | "
                  f"{y['failed'] + y['errored'] + y['timeout']} / {y['succeeded'] - y['2xx']}")
        else:
            ry = "failed | | | | | | "
        w(f"| {r['label']} | {x['rps']:,.0f} | {fmt_ms(x.get('p50'))} | {fmt_ms(x.get('p99'))} | "
          f"{x['errors']} | {ry} |")
    w("")
    w("Per hop process (the app nginx worker is listed under each target too: it sits behind every hop):")
    w("")
    w(f"| Target | Process | CPU at max load | CPU per request at max load | CPU per request at {rate:,}/s | "
      "Peak RSS (VmHWM) |")
    w("|---|---|---:|---:|---:|---:|")

    def us(v):
        return "—" if v is None else f"{v:.1f} µs"

    for r in rows:
        for h in r.get("hops", []):
            share = ("—" if h.get("wrk_ticks") is None else
                     f"{h['wrk_ticks'] / r['hz'] / float(meta['duration']) * 100:.0f} %")
            rt = per_req_us(h, r, "rate")
            rt_s = us(rt) + (f" ({h['rate_ticks']} ticks)" if h.get("rate_ticks") is not None else "")
            w(f"| {r['label']} | {h['name']} | {share} | {us(per_req_us(h, r, 'wrk'))} | {rt_s} | "
              f"{fmt_kib(h.get('hwm'))} |")
    w("")
    w(f"CPU time is utime + stime from `/proc/<pid>/stat` before and after each run, divided by the "
      f"responses of that run; one clock tick is {1e3 / rows[0]['hz'] if rows else 10:.0f} ms, so at "
      f"{rate:,}/s over {meta['duration']} s one tick is "
      f"{1e6 / rows[0]['hz'] / (rate * int(meta['duration'])) if rows else 0:.1f} µs per request.")
    w("")

    # ---- ratios
    def rps(i, k="wrk"):
        return ((by.get(i) or {}).get(k) or {}).get("rps")

    def p50(i):
        return ((by.get(i) or {}).get("rate") or {}).get("p50")

    def p99(i):
        return ((by.get(i) or {}).get("rate") or {}).get("p99")

    def hop_cpu(i, prefix, which="rate"):
        r = by.get(i)
        h = hop(r, prefix)
        return per_req_us(h, r, which) if h else None

    w("Ratios:")
    w("")
    proxies = [i for i in ("inv-nginx", "inv-haproxy") if rps(i)]
    name = {"inv-nginx": "nginx", "inv-haproxy": "haproxy"}
    phop = {"inv-nginx": "nginx proxy", "inv-haproxy": "haproxy"}
    if rps("inv-dapr1") and proxies:
        best = max(proxies, key=rps)
        w(f"- daprd one hop vs the better proxy hop by throughput ({name[best]}): "
          f"**{rps('inv-dapr1') / rps(best):.2f}×** the requests/s "
          f"({rps('inv-dapr1'):,.0f} vs {rps(best):,.0f})")
    lp = [i for i in proxies if p50(i)]
    if p50("inv-dapr1") and lp:
        best = min(lp, key=p50)
        w(f"- daprd one hop vs the better proxy hop by p50 at {rate:,}/s ({name[best]}): "
          f"p50 **{p50('inv-dapr1') / p50(best):.2f}×** ({fmt_ms(p50('inv-dapr1'))} vs {fmt_ms(p50(best))}), "
          f"p99 {p99('inv-dapr1') / p99(best):.2f}×")
    for which, what in (("rate", f"at {rate:,}/s"), ("wrk", "at max load")):
        cp = [(i, hop_cpu(i, phop[i], which)) for i in proxies if hop_cpu(i, phop[i], which)]
        d1 = hop_cpu("inv-dapr1", "daprd A", which)
        if d1 and cp:
            best, v = min(cp, key=lambda t: t[1])
            w(f"- daprd CPU per request vs the cheaper proxy ({name[best]}), {what}: "
              f"**{d1 / v:.2f}×** ({d1:.1f} µs vs {v:.1f} µs)")
    if rps("inv-dapr2") and rps("inv-dapr1"):
        t = (f"- daprd two hops vs one hop: **{rps('inv-dapr2') / rps('inv-dapr1'):.2f}×** the requests/s")
        if p50("inv-dapr2") and p50("inv-dapr1"):
            t += (f", p50 at {rate:,}/s {p50('inv-dapr2') / p50('inv-dapr1'):.2f}× "
                  f"({fmt_ms(p50('inv-dapr2'))} vs {fmt_ms(p50('inv-dapr1'))}), "
                  f"p99 {p99('inv-dapr2') / p99('inv-dapr1'):.2f}×")
        a1 = hop_cpu("inv-dapr1", "daprd A")
        a2, b2 = hop_cpu("inv-dapr2", "daprd A"), hop_cpu("inv-dapr2", "daprd B")
        if a1 and a2 is not None and b2 is not None:
            t += (f"; daprd CPU per request at {rate:,}/s {(a2 + b2) / a1:.2f}× "
                  f"(B {b2:.1f} + A {a2:.1f} µs vs A {a1:.1f} µs)")
        w(t)
    if p50("inv-direct"):
        short = {"inv-nginx": "nginx proxy", "inv-haproxy": "haproxy", "inv-dapr1": "daprd one hop",
                 "inv-dapr2": "daprd two hops"}
        added = [f"{short.get(r['id'], r['id'])} +{(p50(r['id']) - p50('inv-direct')) * 1e3:.0f} µs"
                 for r in rows if r["id"] != "inv-direct" and p50(r["id"])]
        w(f"- p50 added to the direct call at {rate:,}/s ({fmt_ms(p50('inv-direct'))}): " + ", ".join(added))
    w("")
    w("Notes:")
    w("")
    for r in rows:
        x, y = r.get("wrk") or {}, r.get("rate") or {}
        if not x:
            continue
        t = (f"- {r['label']}: wrk {int(x['requests']):,} responses, {x['bytes_per_req']:.0f} bytes each on the "
             f"wire (one POST by hand: {r.get('expect_bytes', '?')}); errors: connect {int(x.get('err_connect', 0))}, "
             f"read {int(x.get('err_read', 0))}, write {int(x.get('err_write', 0))}, non-2xx "
             f"{int(x.get('err_status', 0))}, timeout {int(x.get('err_timeout', 0))}.")
        if y:
            t += (f" h2load: {y['succeeded']:,} succeeded of {y['done']:,} done ({y['2xx']:,} 2xx, {y['failed']} failed, "
                  f"{y['errored']} errored, {y['timeout']} timeout), {y.get('data_per_req', 0):.0f} body bytes per "
                  f"response, mean {fmt_ms(y.get('mean'))} ± {fmt_ms(y.get('stdev'))}")
            if y.get("close_starts") is not None:
                t += (f"; {y['close_starts'] * 100:.0f} % of requests were sent less than 100 µs after the "
                      f"previous one")
            t += "."
        if r.get("first_200"):
            t += f" First 200 through this path {r['first_200']} s after the sidecars were up."
        if r.get("core_srv") is not None:
            t += (f" During wrk the server core was {r['core_srv']:.0f} % busy, the load core "
                  f"{r.get('core_load') or 0:.0f} %.")
        if r.get("bg_busy") is not None:
            t += f" Idle machine before the run: {r['bg_busy']:.0f} % busy."
        dead = [h["name"] for h in r.get("hops", []) if not h["alive"]]
        if dead:
            t += " NOT running after the run: " + ", ".join(dead) + "."
        if r.get("ok_after") == "0":
            t += " Answered wrongly after the load runs."
        w(t)
    for n in data.get("notes", []):
        w(f"- {n}")
    print("\n".join(out))


def main():
    a = sys.argv[1:]
    if not a:
        sys.exit(__doc__)
    cmd, args = a[0].replace("-", "_"), a[1:]
    fn = globals().get("cmd_" + cmd)
    if not fn:
        sys.exit(__doc__)
    fn(*args)


if __name__ == "__main__":
    main()
