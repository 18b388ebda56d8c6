#!/usr/bin/env python3
"""Drive test_state_redis against real redis-server processes on 127.0.0.1.

Usage: run_redis_tests.py <path to test_state_redis>

Starts redis-server on free ports (one plain, one with --requirepass), runs
the C test phases, checks the storage layout the C test left behind with
redis-cli, restarts a server under a running phase, and always stops the
servers. Every wait is bounded. Exit status 0 only if everything passed."""
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import time

PHASE_TIMEOUT = 60
failures = []


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_tcp(port, timeout=10.0):
    end = time.time() + timeout
    while time.time() < end:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"redis on port {port} not listening after {timeout}s")


class Redis:
    def __init__(self, port=None, password=None):
        self.port = port or free_port()
        self.password = password
        self.proc = None
        self.start()

    def start(self):
        args = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                "--save", "", "--appendonly", "no"]
        if self.password:
            args += ["--requirepass", self.password]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_tcp(self.port)

    def cli(self, *args, db=None):
        cmd = ["redis-cli", "-p", str(self.port), "--raw"]
        if self.password:
            cmd += ["--no-auth-warning", "-a", self.password]
        if db is not None:
            cmd += ["-n", str(db)]
        out = subprocess.run(cmd + list(args), capture_output=True, timeout=10)
        return out.stdout.decode("utf-8", "replace").rstrip("\n")

    def stop(self, sig=signal.SIGTERM):
        if not self.proc or self.proc.poll() is not None:
            return
        self.proc.send_signal(sig)
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)


def run_phase(exe, *args):
    print(f"--- phase {' '.join(map(str, args))}", flush=True)
    try:
        r = subprocess.run([exe, *map(str, args)], timeout=PHASE_TIMEOUT)
        check(r.returncode == 0, f"phase {args[0]} exit status {r.returncode}")
    except subprocess.TimeoutExpired:
        check(False, f"phase {args[0]} finished within {PHASE_TIMEOUT}s")


def check_layout(r):
    """Keys written by the main phase, read the way real Dapr stores them."""
    check(r.cli("TYPE", "layout||k1") == "hash", "layout||k1 is a hash")
    check(sorted(r.cli("HKEYS", "layout||k1").split("\n")) == ["data", "version"],
          "hash has exactly the fields data and version")
    check(r.cli("HGET", "layout||k1", "data") == '{"a":1}', "data holds the value verbatim")
    check(r.cli("HGET", "layout||k1", "version") == "2", "version counts the writes")
    ttl = int(r.cli("TTL", "layout||ttl") or "-9")
    check(90 <= ttl <= 100, f"TTL of layout||ttl is set ({ttl})")
    check(r.cli("TTL", "app||ttl2") == "-1", "ttlInSeconds -1 persists the key")
    check(r.cli("TYPE", "legacy||plain") == "string", "a read leaves a plain string alone")
    check(r.cli("TYPE", "legacy||plain2") == "hash", "a write turns a plain string into a hash")
    check(r.cli("HGET", "legacy||dapr", "version") == "8", "ETag write on a Dapr-made hash")
    check(r.cli("HGET", "layout||db3", "data", db=3) == "in three", "redisDB 3 wrote to db 3")
    check(r.cli("EXISTS", "layout||db3", db=0) == "0", "and not to db 0")
    check(r.cli("EXISTS", "tx||c") == "0", "transaction delete applied")
    check(r.cli("HGET", "tx||a", "data") == "a2", "transaction upserts applied in order")
    bin_data = subprocess.run(
        ["redis-cli", "-p", str(r.port), "--no-raw", "HGET", "app||bin", "data"],
        capture_output=True, timeout=10).stdout
    check(b"\\x00" in bin_data and b"\\xff" in bin_data, "binary value stored byte for byte")


def phase_restart(exe, r):
    """The C phase prints RESTART; we crash the server and start a fresh one
    on the same port while the store keeps working against it."""
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
            chunk = os.read(p.stdout.fileno(), 4096)
            buf += chunk
            if b"RESTART" in buf:
                r.stop(signal.SIGKILL)
                time.sleep(0.5)
                r.start()
                restarted = True
        check(restarted, "restart requested by the C phase")
        rc = p.wait(max(1, end - time.time()))
        check(rc == 0, f"phase restart exit status {rc}")
        check(r.cli("HGET", "rs||k", "data") == "after", "writes land on the restarted server")
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
    try:
        plain = Redis()
        servers.append(plain)
        secured = Redis(password="s3cret pass")
        servers.append(secured)

        run_phase(exe, "refused", free_port())

        # data as older Dapr versions and real Dapr leave it
        plain.cli("SET", "legacy||plain", "hello")
        plain.cli("SET", "legacy||plain2", "old")
        plain.cli("HSET", "legacy||dapr", "data", '"from dapr"', "version", "7")
        run_phase(exe, "main", plain.port)
        check_layout(plain)

        run_phase(exe, "auth", secured.port, secured.password)
        run_phase(exe, "timeout", plain.port)
        phase_restart(exe, plain)
    finally:
        for s in servers:
            s.stop()
    if failures:
        print(f"{len(failures)} failure(s):", *failures, sep="\n  ")
        return 1
    print("all redis tests passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
