"""Shared helpers of the Python bench suites (state.py, pubsub.py, actors.py, footprint.py).

Standard library only. Every process a suite starts is registered here and stopped (TERM, then
KILL after 5 s) when the suite ends, whatever happens; nothing listens on anything but 127.0.0.1.
"""
import argparse
import atexit
import contextlib
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import sys
import tempfile
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH)
sys.path.insert(0, BENCH)
import bench as _bench  # noqa: E402  (the parsers of bench/run)

HZ = os.sysconf("SC_CLK_TCK")
NCPU = os.cpu_count() or 1


# ---- command line shared by the suites --------------------------------------------------------

def parser(desc):
    p = argparse.ArgumentParser(description=desc)
    p.add_argument("--daprd", default=os.path.join(ROOT, "build-bench/daemon/daprd"))
    p.add_argument("--placement", default=os.path.join(ROOT, "build-bench/daemon/placement"))
    p.add_argument("--duration", type=int, default=10, help="seconds of measured load per row")
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--connections", type=int, default=16)
    p.add_argument("--body-size", type=int, default=1024)
    p.add_argument("--server-cpu", type=int, default=0)
    p.add_argument("--load-cpu", type=int, default=1)
    p.add_argument("--no-pin", action="store_true")
    p.add_argument("--out", help="write the suite's JSON here")
    return p


class Ctx:
    """The run's settings, temp dir and the processes started (stopped at exit)."""

    def __init__(self, args, name):
        self.a = args
        self.name = name
        self.tmp = tempfile.mkdtemp(prefix=f"dapr-bench-{name}.")
        self.procs = []
        self.notes = []
        self.busy = []
        pin = (not args.no_pin and shutil.which("taskset") and NCPU >= 2
               and args.server_cpu != args.load_cpu and max(args.server_cpu, args.load_cpu) < NCPU)
        self.srv = ["taskset", "-c", str(args.server_cpu)] if pin else []
        self.load = ["taskset", "-c", str(args.load_cpu)] if pin else []
        self.pinning = (f"hop under test on CPU {args.server_cpu}; load generators, apps, Redis and "
                        f"placement on CPU {args.load_cpu} (taskset)") if pin else "none"
        atexit.register(self.cleanup)
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    def log(self, msg):
        print(f">>> {self.name}: {msg}", file=sys.stderr, flush=True)

    def note(self, msg):
        self.notes.append(msg)
        self.log("note: " + msg)

    def path(self, *parts):
        return os.path.join(self.tmp, *parts)

    def start(self, cmd, logname, cpu="srv", env=None, cwd=None):
        pre = self.srv if cpu == "srv" else self.load if cpu == "load" else []
        out = open(self.path(logname), "wb")
        p = subprocess.Popen(pre + cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=cwd,
                             start_new_session=True)
        p.logfile = self.path(logname)
        self.procs.append(p)
        return p

    def stop(self, p):
        if p is None or p.poll() is not None:
            return
        p.terminate()
        try:
            p.wait(5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()

    def cleanup(self):
        for p in reversed(self.procs):
            try:
                self.stop(p)
            except Exception:
                pass
        shutil.rmtree(self.tmp, ignore_errors=True)

    def save(self, data):
        data.setdefault("notes", []).extend(self.notes)
        data["pinning"] = self.pinning
        data["date"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        data["duration"] = self.a.duration
        data["busy_before_rows"] = self.busy
        txt = json.dumps(data, indent=1)
        if self.a.out:
            with open(self.a.out, "w") as f:
                f.write(txt)
        else:
            print(txt)


# ---- ports, processes, /proc -------------------------------------------------------------------

def free_ports(n):
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def wait_port(port, proc=None, timeout=10.0):
    end = time.time() + timeout
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return True
        except OSError:
            if proc is not None and proc.poll() is not None:
                return False
            time.sleep(0.02)
    return False


def http(method, port, path, body=None, headers=None, timeout=5.0):
    """One HTTP/1.1 request on a fresh connection -> (status, body bytes)."""
    import http.client
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        h = {"Content-Type": "application/json"}
        h.update(headers or {})
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def wait_http(port, path, want=(200, 204), timeout=10.0, proc=None):
    end = time.time() + timeout
    last = None
    while time.time() < end:
        try:
            st, body = http("GET", port, path, timeout=1)
            if st in want:
                return True
            last = (st, body[:200])
        except OSError as e:
            last = e
            if proc is not None and proc.poll() is not None:
                break
        time.sleep(0.05)
    print(f">>> wait_http {port}{path}: last answer {last}", file=sys.stderr)
    return False


def cpu_ticks(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            s = f.read()
        fields = s[s.rindex(")") + 2:].split()
        return int(fields[11]) + int(fields[12])
    except (OSError, ValueError):
        return None


def mem_kb(pid, field="VmRSS"):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def ticks(pids):
    return {k: cpu_ticks(v) for k, v in pids.items()}


def cpu_per_req(t0, t1, requests):
    """{name: µs of CPU per request} from two ticks() snapshots."""
    out = {}
    for k in t0:
        if t0[k] is None or t1.get(k) is None or not requests:
            out[k] = None
        else:
            out[k] = (t1[k] - t0[k]) / HZ * 1e6 / requests
    return out


def child_pid(pid, timeout=5.0):
    """First child of pid (the nginx worker of a master)."""
    end = time.time() + timeout
    while time.time() < end:
        try:
            with open(f"/proc/{pid}/task/{pid}/children") as f:
                c = f.read().split()
            if c:
                return int(c[0])
        except OSError:
            pass
        time.sleep(0.05)
    return None


# ---- payloads ----------------------------------------------------------------------------------

def json_body(n, fill="x"):
    head, tail = '{"id":"bench","pad":"', '"}'
    return head + fill * max(0, n - len(head) - len(tail)) + tail


pb_len = _bench.pb_len_field
grpc_frame = _bench.grpc_frame
varint = _bench.varint


# ---- components and daemons -------------------------------------------------------------------

def component(dirpath, name, ctype, metadata=None):
    os.makedirs(dirpath, exist_ok=True)
    md = "".join(f'  - name: {k}\n    value: "{v}"\n' for k, v in (metadata or {}).items())
    with open(os.path.join(dirpath, f"{name}.yaml"), "w") as f:
        f.write(f"apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: {name}\n"
                f"spec:\n  type: {ctype}\n  version: v1\n" + (f"  metadata:\n{md}" if md else "  metadata: []\n"))


class Daprd:
    def __init__(self, ctx, app_id, res_dir, extra=(), log=None, cpu="srv"):
        self.http_port, self.grpc_port, self.internal_port = free_ports(3)
        self.app_id = app_id
        cmd = [ctx.a.daprd, "--app-id", app_id, "--dapr-http-port", str(self.http_port),
               "--dapr-grpc-port", str(self.grpc_port),
               "--dapr-internal-grpc-port", str(self.internal_port),
               "--dapr-listen-addresses", "127.0.0.1", "--resources-path", res_dir,
               "--log-level", "info"] + list(extra)
        self.proc = ctx.start(cmd, log or f"daprd-{app_id}-{self.http_port}.log", cpu)
        self.pid = self.proc.pid
        self.ctx = ctx

    def ready(self, timeout=15.0):
        return (wait_port(self.http_port, self.proc, timeout)
                and wait_http(self.http_port, "/v1.0/healthz", (204,), timeout, self.proc))

    def log_text(self):
        try:
            return open(self.proc.logfile, errors="replace").read()
        except OSError:
            return ""

    def log_problems(self, label):
        txt = self.log_text()
        errs = [line for line in txt.splitlines() if "level=error" in line or "level=fatal" in line]
        if errs:
            self.ctx.note(f"{label}: daprd logged {len(errs)} error line(s), first: {errs[0][:240]}")
        if self.proc.poll() is not None:
            self.ctx.note(f"{label}: daprd exited ({self.proc.returncode}); log tail: "
                          + " | ".join(txt.splitlines()[-3:])[:400])


def start_redis(ctx, cpu="load"):
    port = free_ports(1)[0]
    p = ctx.start(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                   "--appendonly", "no", "--protected-mode", "no", "--dir", ctx.tmp],
                  f"redis-{port}.log", cpu)
    if not wait_port(port, p):
        raise RuntimeError("redis-server did not start: " + open(p.logfile).read()[-400:])
    p.port = port
    return p


def nginx(ctx, name, server_block, cpu="load"):
    """Start an nginx (one worker) with the given server block; returns (master, worker pid)."""
    d = ctx.path(name)
    os.makedirs(d, exist_ok=True)
    conf = f"""daemon off;
master_process on;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {d}/client_body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    keepalive_timeout 120s;
    keepalive_requests 100000000;
    client_max_body_size 1m;
    client_body_buffer_size 64k;
{server_block}
}}
"""
    with open(os.path.join(d, "nginx.conf"), "w") as f:
        f.write(conf)
    nginx_bin = shutil.which("nginx") or "/usr/sbin/nginx"
    m = ctx.start([nginx_bin, "-p", d, "-c", os.path.join(d, "nginx.conf")], f"{name}.out", cpu)
    m.dir = d
    return m


# ---- load generators ---------------------------------------------------------------------------

_parse_lock = threading.Lock()


def _parse(fn, *args):
    # redirect_stdout swaps the process-wide sys.stdout: load generators run in
    # threads (the activation run starts several h2load at once), so one at a time
    buf = io.StringIO()
    try:
        with _parse_lock, contextlib.redirect_stdout(buf):
            fn(*args)
    except SystemExit as e:
        print(f">>> parse failed: {e}", file=sys.stderr)
        return None
    return json.loads(buf.getvalue())


def wrk(ctx, url, duration, conns=None, threads=1, body_file=None, method=None, lua=None, tag="wrk"):
    """wrk on the load CPU; returns the parsed summary (rps, p50.. in ms, errors)."""
    conns = conns or ctx.a.connections
    env = dict(os.environ, BENCH_DIR=BENCH)
    script = lua or (os.path.join(BENCH, "wrk-post.lua") if body_file else
                     os.path.join(BENCH, "wrk-report.lua"))
    if body_file:
        env["BENCH_BODY_FILE"] = body_file
    if method:
        env["BENCH_METHOD"] = method
    out = ctx.path(f"{tag}.out")
    cmd = ctx.load + ["wrk", "-t", str(threads), "-c", str(conns), "-d", f"{duration}s",
                      "--timeout", "5s", "--latency", "-s", script, url]
    with open(out, "w") as f:
        subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, env=env, timeout=duration + 60)
    return _parse(_bench.cmd_wrk, out)


pct = _bench.pct


def h2load(ctx, urls, args, timeout, tag="h2load", log=True, cpu="load", raw=False):
    """h2load with extra args; with log=True the per-request log gives p50..p99.9;
    raw=True adds "latencies": every logged request's time in ms."""
    out, reqlog = ctx.path(f"{tag}.out"), ctx.path(f"{tag}.reqlog")
    pre = ctx.load if cpu == "load" else []
    cmd = pre + ["h2load"] + list(args) + ([f"--log-file={reqlog}"] if log else []) + list(urls)
    with open(out, "w") as f:
        try:
            subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, timeout=timeout)
        except subprocess.TimeoutExpired:
            ctx.note(f"{tag}: h2load timed out after {timeout} s")
    res = _parse(_bench.cmd_h2load, out, reqlog) if log and os.path.exists(reqlog) else \
        _parse(_bench.cmd_h2load, out)
    if raw and res is not None and os.path.exists(reqlog):
        with open(reqlog) as f:
            res["latencies"] = [int(p[2]) / 1e3 for p in (x.split("\t") for x in f) if len(p) >= 3]
    with contextlib.suppress(OSError):
        os.unlink(reqlog)
    return res


def busy_before(ctx):
    """% of the whole machine busy over 0.5 s (other people's work shows here)."""
    def snap():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:9]]
        return sum(v), v[3] + v[4]
    t0, i0 = snap()
    time.sleep(0.5)
    t1, i1 = snap()
    busy = 100 * (1 - (i1 - i0) / max(1, t1 - t0))
    ctx.busy.append(round(busy))
    if busy >= 10:
        ctx.log(f"warning: the machine is {busy:.0f}% busy before this row: numbers will be noisy")
    return round(busy)
