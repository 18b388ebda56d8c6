#!/usr/bin/env python3
"""Drive test_pubsub_redis against real redis-server processes on 127.0.0.1.

Usage: run_pubsub_tests.py <path to test_pubsub_redis>

Starts redis-server on free ports, runs the C phases, checks the stream
layout the main phase left behind with redis-cli, restarts an appendonly
server under the restart phase, and always stops the servers. Every wait is
bounded. Exit status 0 only if everything passed."""
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run_redis_tests import Redis as _Redis, check, failures, run_phase, PHASE_TIMEOUT  # noqa: E402


class Redis(_Redis):
    """A server with an append-only file in its own directory when `aof`."""

    def __init__(self, aof_dir=None):
        self.aof_dir = aof_dir
        super().__init__()

    def start(self):
        args = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        if self.aof_dir:
            args += ["--appendonly", "yes", "--appendfsync", "always", "--dir", self.aof_dir]
        else:
            args += ["--appendonly", "no"]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        from run_redis_tests import wait_tcp
        wait_tcp(self.port)


def check_layout(r):
    """Entries as Dapr writes them: field data, and metadata as JSON."""
    out = r.cli("XRANGE", "t1", "-", "+", "COUNT", "1").split("\n")
    check(out[1:3] == ["data", "hello"], f"first entry of t1 has data=hello ({out[1:3]})")
    check(out[3:5] == ["metadata", '{"k":"v\\u003c\\u0026\\u003e"}'],
          f"and the request metadata as a JSON object ({out[3:5]})")
    groups = r.cli("XINFO", "GROUPS", "t2").split("\n")
    names = sorted(groups[i + 1] for i in range(0, len(groups), 12) if groups[i] == "name")
    check(names == ["app1", "app2", "app3"], f"t2 has one group per consumerID ({names})")


def phase_restart(exe, r):
    print("--- phase restart", flush=True)
    p = subprocess.Popen([exe, "restart", str(r.port)], stdout=subprocess.PIPE)
    end = time.time() + PHASE_TIMEOUT
    restarted = False
    try:
        buf = b""
        while time.time() < end and p.poll() is None and not restarted:
            ready, _, _ = select.select([p.stdout], [], [], 0.2)
            if not ready:
                continue
            buf += os.read(p.stdout.fileno(), 4096)
            if b"RESTART" in buf:
                r.stop(signal.SIGKILL)
                time.sleep(1.0)
                r.start()
                restarted = True
        check(restarted, "restart requested by the C phase")
        rc = p.wait(max(1, end - time.time()))
        check(rc == 0, f"phase restart exit status {rc}")
    except subprocess.TimeoutExpired:
        check(False, f"phase restart finished within {PHASE_TIMEOUT}s")
    finally:
        if p.poll() is None:
            p.kill()
            p.wait(5)


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    exe = sys.argv[1]
    for tool in ("redis-server", "redis-cli"):
        if not shutil.which(tool):
            print(f"{tool} not installed (apt-get install redis-server redis-tools)")
            return 1
    servers = []
    with tempfile.TemporaryDirectory() as aof:
        try:
            plain = Redis()
            servers.append(plain)
            run_phase(exe, "main", plain.port)
            check_layout(plain)
            durable = Redis(aof_dir=aof)
            servers.append(durable)
            phase_restart(exe, durable)
        finally:
            for s in servers:
                s.stop()
    if failures:
        print(f"{len(failures)} failure(s):", *failures, sep="\n  ")
        return 1
    print("all pubsub.redis tests passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
