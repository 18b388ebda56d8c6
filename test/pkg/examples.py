#!/usr/bin/env python3
"""Runs the programs of examples/ and checks what they print.

Usage: examples.py <name> <executable>
  name: state_counter | order_pubsub | embedded_app | actor_bank
Environment: DAPRD (embedded_app's peer sidecar), PLACEMENT (actor_bank),
NODE and NODE_PATH (embedded_app's @dapr/dapr peer).

Used by the meson tests of the examples built in the tree and by
test_install.py for the examples built from an installed package. Every
process listens on 127.0.0.1 and every wait is bounded.
"""
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SRC = Path(__file__).resolve().parents[2]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_tcp(port, proc, what, timeout=20):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise AssertionError(f"{what} exited early ({proc.returncode})")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"{what} not listening on {port} after {timeout}s")


def stop(proc, timeout=15):
    """SIGTERM, then SIGKILL after `timeout`; returns (exit code, output)."""
    if proc.poll() is None:
        proc.terminate()
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
    return proc.returncode, out or ""


def run(cmd, timeout=60, env=None):
    """Run to completion; returns (exit code, output). A hang is a failure."""
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           timeout=timeout, env=env)
        return p.returncode, p.stdout
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        return -1, out + f"\n[killed after {timeout}s]"


def expect(ok, what, output):
    if not ok:
        raise AssertionError(f"{what}\n--- output ---\n{output[-6000:]}")


def state_counter(exe):
    rc, out = run([exe, "5"])
    expect(rc == 0, f"state_counter exited {rc}", out)
    expect("counter = 5 " in out, "state_counter did not count to 5", out)
    expect("stale write rejected: DAPR_EETAG_MISMATCH" in out, "no ETag conflict shown", out)
    return out


def order_pubsub(exe):
    rc, out = run([exe, "5"])
    expect(rc == 0, f"order_pubsub exited {rc}", out)
    expect("all 5 orders processed, 3 bulk" in out, "orders not all processed/routed", out)
    expect("order 2: not now, retry later" in out, "no RETRY shown", out)
    return out


def embedded_app(exe, daprd=None, node=None):
    daprd = daprd or os.environ["DAPRD"]
    node = node or os.environ.get("NODE") or shutil.which("node")
    env = dict(os.environ)
    env.setdefault("NODE_PATH", str(SRC / "test/sdk/node_modules"))
    res = tempfile.mkdtemp(prefix="libdapr-example-")
    c_http, c_grpc, c_int = free_port(), free_port(), free_port()
    app_port, p_http, p_grpc = free_port(), free_port(), free_port()
    procs = {}
    try:
        procs["embedded_app"] = subprocess.Popen(
            [exe, "--app-id", "embedded-app", "--dapr-http-port", str(c_http),
             "--dapr-grpc-port", str(c_grpc), "--dapr-internal-grpc-port", str(c_int),
             "--log-level", "warn", "--peer", "node-peer", "--once"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        wait_tcp(c_http, procs["embedded_app"], "embedded_app")
        # the app's own API port: a plain HTTP client reaches the C handler
        rc, out = run(["curl", "-sS", "-m", "10", "-d", '{"name":"curl"}',
                       f"http://127.0.0.1:{c_http}/v1.0/invoke/embedded-app/method/hello"])
        expect(rc == 0 and '"greeting":"hello from C"' in out, "curl → embedded_app failed", out)
        procs["daprd"] = subprocess.Popen(
            [daprd, "--app-id", "node-peer", "--app-port", str(app_port),
             "--dapr-http-port", str(p_http), "--dapr-grpc-port", str(p_grpc),
             "--resources-path", res, "--log-level", "warn"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        wait_tcp(p_http, procs["daprd"], "daprd")
        env.update(APP_PORT=str(app_port), DAPR_HTTP_PORT=str(p_http))
        rc, out = run([node, str(SRC / "examples/embedded_app_peer.js"), "embedded-app"],
                      timeout=90, env=env)
        expect(rc == 0, f"the Node peer exited {rc}", out)
        expect('"greeting":"hello from C"' in out, "the Node peer got no answer", out)
        try:
            c_out, _ = procs["embedded_app"].communicate(timeout=30)
        except subprocess.TimeoutExpired:
            c_out = stop(procs["embedded_app"])[1]
        c_rc = procs["embedded_app"].returncode
        expect(c_rc == 0, f"embedded_app exited {c_rc}", c_out)
        expect("node-peer answered:" in c_out and "hello called by node-peer" in c_out,
               "embedded_app: no round trip with node-peer", c_out)
        d_rc, d_out = stop(procs["daprd"])
        expect(d_rc == 0, f"daprd exited {d_rc}", d_out)
        return out + c_out
    finally:
        for p in procs.values():
            stop(p, 5)
        shutil.rmtree(res, ignore_errors=True)


def actor_bank(exe, placement=None):
    placement = placement or os.environ["PLACEMENT"]
    port, health = free_port(), free_port()
    plc = subprocess.Popen([placement, "--port", str(port), "--healthz-port", str(health),
                            "--log-level", "warn"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_tcp(port, plc, "placement")
        rc, out = run([exe, "--placement-host-address", f"127.0.0.1:{port}",
                       "--dapr-internal-grpc-port", str(free_port())], timeout=90)
        expect(rc == 0, f"actor_bank exited {rc}", out)
        expect("withdraw(500) -> refused" in out and "insufficient funds" in out, "overdraft not refused", out)
        expect("reminder: interest paid" in out, "the reminder did not fire", out)
        expect("balance of alice: 77" in out, "wrong final balance", out)
        return out
    finally:
        p_rc, p_out = stop(plc)
        if p_rc not in (0, -15):
            print(f"placement exited {p_rc}:\n{p_out[-3000:]}")


RUNNERS = {"state_counter": state_counter, "order_pubsub": order_pubsub,
           "embedded_app": embedded_app, "actor_bank": actor_bank}


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in RUNNERS:
        print(__doc__)
        return 2
    try:
        out = RUNNERS[sys.argv[1]](sys.argv[2])
    except AssertionError as e:
        print(f"FAIL {sys.argv[1]}: {e}")
        return 1
    print(out)
    print(f"ok {sys.argv[1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
