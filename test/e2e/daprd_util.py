"""Helpers for end-to-end tests: free ports, a real redis-server, and daprd
processes on 127.0.0.1, each bounded in time and always stopped."""
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

DAPRD = os.environ.get("DAPRD", os.path.join(os.path.dirname(__file__), "../../build/daemon/daprd"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_tcp(port, timeout=10.0):
    end = time.time() + timeout
    while time.time() < end:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"port {port} not listening after {timeout}s")


class Redis:
    def __init__(self, *extra):
        self.port = free_port()
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", *extra],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_tcp(self.port)

    def cli(self, *args):
        out = subprocess.run(["redis-cli", "-p", str(self.port), "--raw", *args],
                             capture_output=True, text=True, timeout=10)
        return out.stdout

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def component(name, typ, metadata=None, extra=""):
    md = "".join(f"  - name: {k}\n    value: {json.dumps(str(v))}\n"
                 for k, v in (metadata or {}).items())
    return (f"apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: {name}\n"
            f"spec:\n  type: {typ}\n  version: v1\n" + (f"  metadata:\n{md}" if md else "  metadata: []\n")
            + extra)


class Daprd:
    """A daprd process with its own resources dir; start() waits for readiness."""

    def __init__(self, components=(), args=(), env=None, app_id="e2e", wait=True):
        self.dir = tempfile.mkdtemp(prefix="libdapr-e2e-")
        for i, c in enumerate(components):
            with open(os.path.join(self.dir, f"c{i}.yaml"), "w") as f:
                f.write(c)
        self.port = free_port()
        self.logfile = tempfile.TemporaryFile(mode="w+")
        e = dict(os.environ)
        e.update(env or {})
        cmd = [DAPRD, "--app-id", app_id, "--dapr-http-port", str(self.port),
               "--resources-path", self.dir, *args]
        self.proc = subprocess.Popen(cmd, stdout=self.logfile, stderr=subprocess.STDOUT, env=e)
        if wait:
            self.wait_ready()

    def wait_ready(self, timeout=15.0):
        end = time.time() + timeout
        while time.time() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"daprd exited with {self.proc.returncode}:\n{self.logs()}")
            try:
                if self.request("GET", "/v1.0/healthz/outbound")[0] == 204:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise TimeoutError("daprd not ready:\n" + self.logs())

    def logs(self):
        self.logfile.seek(0)
        return self.logfile.read()

    def request(self, method, path, body=None, headers=None, timeout=10):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            if isinstance(body, (dict, list)):
                body = json.dumps(body)
                headers = dict(headers or {}, **{"Content-Type": "application/json"})
            c.request(method, path, body=body, headers=headers or {})
            r = c.getresponse()
            data = r.read()
            return r.status, dict((k.lower(), v) for k, v in r.getheaders()), data
        finally:
            c.close()

    def json(self, method, path, body=None, headers=None):
        st, h, data = self.request(method, path, body, headers)
        return st, (json.loads(data) if data else None)

    def wait_exit(self, timeout=15.0):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise

    def stop(self, sig=signal.SIGTERM):
        rc = self.proc.returncode
        if rc is None:
            self.proc.send_signal(sig)
            rc = self.wait_exit()
        shutil.rmtree(self.dir, ignore_errors=True)
        return rc


def run_daprd(args, env=None, timeout=20):
    """Run daprd to completion (for start-up failures); returns (rc, output)."""
    e = dict(os.environ)
    e.update(env or {})
    p = subprocess.run([DAPRD, *args], capture_output=True, text=True, timeout=timeout, env=e)
    return p.returncode, p.stdout + p.stderr
