#!/usr/bin/env python3
"""bench/pubsub.py: the "pubsub" suite of bench/run: published → delivered messages per second.

For each broker (pubsub.in-memory, pubsub.redis on a Redis the suite starts) and each subscriber
protocol (HTTP, gRPC): wrk POSTs a 1 KB JSON body to /v1.0/publish/<pubsub>/<topic> on
--connections connections for warm-up + duration seconds; the subscriber app counts deliveries and
the suite reports the messages delivered per second over the measured window (the warm-up second
excluded), the publishes accepted per second (2xx; the in-memory broker refuses publishes while its
queue is full), and after the publishing stops, how many accepted messages arrived within 5 s.

Subscriber apps (on the load CPU with wrk and Redis; daprd alone on the server CPU):
  HTTP: an nginx (1 worker) answering GET /dapr/subscribe and POST /sub with {"status":"SUCCESS"},
        logging $msec of each delivery (buffered access log) — the count comes from that log;
  gRPC: bench/pubsub-sub.js, a bare @grpc/grpc-js AppCallback server (ListTopicSubscriptions,
        OnTopicEvent) from test/sdk/node_modules that prints its count every 100 ms.
"""
import bisect
import os
import shutil
import time

import common as C


def http_app(ctx, name, port, pubsub, topic):
    logf = ctx.path(name + ".deliveries")
    sub = f'[{{"pubsubname":"{pubsub}","topic":"{topic}","route":"/sub"}}]'
    block = f"""    log_format t '$msec';
    server {{
        listen 127.0.0.1:{port};
        location = /dapr/subscribe {{ default_type application/json; return 200 '{sub}'; }}
        location = /dapr/config {{ default_type application/json; return 200 '{{}}'; }}
        location = /sub {{
            access_log {logf} t buffer=256k flush=200ms;
            default_type application/json;
            return 200 '{{"status":"SUCCESS"}}';
        }}
        location / {{ return 404; }}
    }}"""
    m = C.nginx(ctx, name, block, cpu="load")
    m.counts = lambda: _times_from_log(logf)
    return m


def _times_from_log(path):
    try:
        with open(path) as f:
            return [float(x) for x in f.read().split()]
    except OSError:
        return []


def grpc_app(ctx, name, port, pubsub, topic):
    node = shutil.which("node")
    env = dict(os.environ, NODE_PATH=os.path.join(C.ROOT, "test/sdk/node_modules"))
    p = ctx.start([node, os.path.join(C.BENCH, "pubsub-sub.js"), str(port), pubsub, topic],
                  name + ".out", "load", env=env)

    def samples():
        out = []
        for line in open(p.logfile, errors="replace"):
            f = line.split()
            if len(f) == 2:
                try:
                    out.append((float(f[0]), int(f[1])))
                except ValueError:
                    pass
        return out
    p.samples = samples
    return p


def count_between(ev, t1, t2):
    """Deliveries in [t1, t2): ev is ('times', [t...]) or ('cumulative', [(t, n)...])."""
    kind, data = ev
    if kind == "times":
        data = sorted(data)
        return bisect.bisect_left(data, t2) - bisect.bisect_left(data, t1)

    def at(t):
        prev = (0.0, 0)
        for (ts, n) in data:
            if ts >= t:
                if ts == prev[0]:
                    return n
                return prev[1] + (n - prev[1]) * (t - prev[0]) / (ts - prev[0])
            prev = (ts, n)
        return prev[1]
    return at(t2) - at(t1)


def total(ev):
    kind, data = ev
    return len(data) if kind == "times" else (data[-1][1] if data else 0)


def events(app, proto):
    return ("times", app.counts()) if proto == "HTTP" else ("cumulative", app.samples())


def run_one(ctx, broker, proto, redis, body_file):
    a = ctx.a
    tag = f"{broker}-{proto.lower()}"
    topic = f"bench-{tag}-{int(time.time())}"
    res = ctx.path("res-" + tag)
    if broker == "memory":
        C.component(res, "ps", "pubsub.in-memory")
    else:
        C.component(res, "ps", "pubsub.redis", {"redisHost": f"127.0.0.1:{redis.port}"})
    app_port = C.free_ports(1)[0]
    app = (http_app if proto == "HTTP" else grpc_app)(ctx, "app-" + tag, app_port, "ps", topic)
    row = {"id": f"pubsub-{tag}", "label": f"{broker} broker → {proto} subscriber", "broker": broker,
           "proto": proto}
    if not C.wait_port(app_port, app):
        row["error"] = "subscriber app did not start"
        return row
    extra = ["--app-port", str(app_port)] + (["--app-protocol", "grpc"] if proto == "gRPC" else [])
    d = C.Daprd(ctx, "psbench-" + tag, res, extra)
    if not d.ready():
        d.log_problems(tag)
        row["error"] = "daprd did not become ready"
        ctx.stop(app)
        return row
    # sanity: one message published must be delivered within 10 s
    pub = f"/v1.0/publish/ps/{topic}"
    # (again every second: a Redis consumer group made after a publish starts past it)
    deadline = time.time() + 10
    st, next_pub = None, 0.0
    while time.time() < deadline and total(events(app, proto)) < 1:
        if time.time() >= next_pub:
            st, _ = C.http("POST", d.http_port, pub, open(body_file, "rb").read())
            next_pub = time.time() + 1
        time.sleep(0.1)
    if total(events(app, proto)) < 1:
        row["error"] = f"no delivery of a sanity message within 10 s (publish answered {st})"
        d.log_problems(tag)
        ctx.stop(d.proc)
        ctx.stop(app)
        return row
    time.sleep(0.5)
    base = total(events(app, proto))
    pids = {"daprd": d.pid}
    if proto == "HTTP":
        pids["app"] = C.child_pid(app.pid)
    else:
        pids["app"] = app.pid
    if redis is not None:
        pids["redis-server"] = redis.pid
    C.busy_before(ctx)
    url = f"http://127.0.0.1:{d.http_port}{pub}"
    ctx.log(f"{tag}: wrk -c{a.connections} -d{a.warmup + a.duration}s POST {url}")
    t_start = time.time()
    tk = {}
    import threading

    def mark():
        time.sleep(a.warmup)
        tk["t0"] = (time.time(), C.ticks(pids))
    th = threading.Thread(target=mark)
    th.start()
    w = C.wrk(ctx, url, a.warmup + a.duration, body_file=body_file, tag=tag)
    t_end = time.time()
    t1 = C.ticks(pids)
    th.join()
    # drain: wait up to 5 s for the accepted messages to arrive
    accepted = (w["requests"] - w.get("err_status", 0)) if w else 0
    drain_end = time.time() + 5
    while time.time() < drain_end and total(events(app, proto)) - base < accepted:
        time.sleep(0.2)
    time.sleep(0.3)
    if proto == "HTTP":
        ctx.stop(app)  # flushes the access log
    ev = events(app, proto)
    win0 = tk["t0"][0]
    delivered_win = count_between(ev, win0, t_end)
    secs = t_end - win0
    row.update({
        "published_rps": accepted / (t_end - t_start) if w else None,
        "publish_attempts": w and w["requests"], "publish_refused": w and w.get("err_status", 0),
        "publish_errors": w and w["errors"] - w.get("err_status", 0),
        "publish_p50": w and w.get("p50"), "publish_p99": w and w.get("p99"),
        "delivered_rps": delivered_win / secs if secs > 0 else None,
        "window_s": round(secs, 2),
        "accepted": accepted, "delivered_total": total(ev) - base,
        "rss_kb": C.mem_kb(d.pid), "hwm_kb": C.mem_kb(d.pid, "VmHWM"),
    })
    delivered_in = count_between(ev, win0, t_end) or None
    row["cpu_us_per_delivery"] = C.cpu_per_req(tk["t0"][1], t1, delivered_in)
    d.log_problems(tag)
    ctx.stop(d.proc)
    ctx.stop(app)
    return row


def main():
    p = C.parser(__doc__)
    p.add_argument("--brokers", default="memory,redis")
    p.add_argument("--protos", default="HTTP,gRPC")
    a = p.parse_args()
    ctx = C.Ctx(a, "pubsub")
    body_file = ctx.path("msg.json")
    with open(body_file, "w") as f:
        f.write(C.json_body(a.body_size))
    rows = []
    out = {"suite": "pubsub", "rows": rows, "connections": a.connections, "body_bytes": a.body_size}
    redis = None
    if "redis" in a.brokers:
        redis = C.start_redis(ctx, cpu="load")
    for broker in a.brokers.split(","):
        for proto in a.protos.split(","):
            try:
                rows.append(run_one(ctx, broker, proto, redis if broker == "redis" else None, body_file))
            except Exception as e:  # one broken combination must not lose the others
                ctx.note(f"{broker}/{proto}: {type(e).__name__}: {e}")
                rows.append({"id": f"pubsub-{broker}-{proto.lower()}", "broker": broker,
                             "proto": proto, "error": str(e)})
            r = rows[-1]
            ctx.log(f"{broker}/{proto}: delivered {r.get('delivered_rps') or 0:.0f}/s, "
                    f"published {r.get('published_rps') or 0:.0f}/s {r.get('error', '')}")
    ctx.save(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
