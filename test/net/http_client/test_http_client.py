#!/usr/bin/env python3
"""The HTTP/1.1 client against misbehaving servers.

usage: test_http_client.py PATH/TO/http_client_test

Starts a raw-socket HTTP peer on a free 127.0.0.1 port (one thread per
connection, behaviour chosen by the request path), finds a refused port and,
where the kernel allows it, a port that drops SYNs (a listener with a full
accept queue), then runs `http_client_test peer PORT REFUSED BLACKHOLE`, which
prints PASS/FAIL per test. The run is bounded in time; sanitizer reports fail
it. Stdlib only.

Peer paths:
  /ok                 200 "ok", keep-alive
  /count              number of connections accepted so far
  /close-mid-body     Content-Length 1000, 100 bytes, close
  /close-delimited    no Content-Length, 5000 PATTERN bytes, close
  /chunked-trailers   chunked with a chunk extension and two trailer fields
  /slow-headers       a status line, then nothing for 3 s
  /garbage            not HTTP at all
  /bad-chunk          chunked with an invalid chunk size
  /reset              RST right after the request
  /huge-head          ~100 KB of headers
  /interim            100 Continue and 103 Early Hints before the 200
  /lone-cr            head ended by "\\r\\n\\rX" (CVE-2023-30589 shape)
  /204cl              204 with a Content-Length (no body must be read)
  /stale              first request on a connection: 200; later ones: close
  /source?n=N&chunked=0|1   N PATTERN bytes, generated on the fly
  /fuzz?seed=N        a valid response of some kind, randomly damaged, sent in
                      random pieces, then close (the client must end every
                      such request with exactly one final callback)
  /sink               reads the body (Content-Length or chunked), checks the
                      PATTERN and answers "n=<bytes> bad=<0|1>"
"""
import os
import random
import socket
import struct
import subprocess
import sys
import threading
import time

PERIOD = 251
PAT = bytes(i % PERIOD for i in range(PERIOD * 300))  # > 64 KiB + PERIOD


class Reader:
    def __init__(self, s):
        self.s = s
        self.buf = bytearray()

    def fill(self):
        d = self.s.recv(262144)
        if not d:
            raise EOFError()
        self.buf += d

    def line(self):
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                ln = bytes(self.buf[:i])
                del self.buf[:i + 2]
                return ln
            self.fill()

    def head(self):
        while b"\r\n\r\n" not in self.buf:
            if not self.buf:
                try:
                    self.fill()
                except EOFError:
                    return None
            else:
                self.fill()
        i = self.buf.index(b"\r\n\r\n")
        head = bytes(self.buf[:i]).decode("latin1")
        del self.buf[:i + 4]
        lines = head.split("\r\n")
        method, target, _ = lines[0].split(" ", 2)
        hdrs = {}
        for ln in lines[1:]:
            k, v = ln.split(":", 1)
            hdrs[k.strip().lower()] = v.strip()
        return method, target, hdrs

    def pieces(self, n):
        """Yield exactly n body bytes in pieces."""
        while n > 0:
            if not self.buf:
                self.fill()
            k = min(n, len(self.buf), 65536)
            piece = bytes(self.buf[:k])
            del self.buf[:k]
            n -= k
            yield piece

    def body(self, hdrs):
        """Yield the request body's pieces (Content-Length or chunked)."""
        if hdrs.get("transfer-encoding", "").lower() == "chunked":
            while True:
                size = int(self.line().split(b";")[0], 16)
                if size == 0:
                    while self.line():
                        pass
                    return
                yield from self.pieces(size)
                if self.line() != b"":
                    raise ValueError("bad chunk end")
        else:
            yield from self.pieces(int(hdrs.get("content-length", "0")))


def query(target, key, default):
    if "?" not in target:
        return default
    for kv in target.split("?", 1)[1].split("&"):
        k, _, v = kv.partition("=")
        if k == key:
            return v
    return default


class Peer:
    def __init__(self):
        self.ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.ls.bind(("127.0.0.1", 0))
        self.ls.listen(128)
        self.port = self.ls.getsockname()[1]
        self.accepts = 0
        self.errors = []
        threading.Thread(target=self.accept_loop, daemon=True).start()

    def accept_loop(self):
        while True:
            try:
                s, _ = self.ls.accept()
            except OSError:
                return
            self.accepts += 1
            threading.Thread(target=self.serve, args=(s,), daemon=True).start()

    def serve(self, s):
        s.settimeout(60)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        rd = Reader(s)
        n = 0
        try:
            while True:
                req = rd.head()
                if req is None:
                    return
                n += 1
                if not self.handle(s, rd, req, n):
                    return
        except (OSError, EOFError, ValueError):
            pass
        finally:
            try:
                s.close()
            except OSError:
                pass

    @staticmethod
    def respond(s, body, status="200 OK", extra=""):
        s.sendall(("HTTP/1.1 %s\r\nContent-Length: %d\r\n%s\r\n" % (status, len(body), extra))
                  .encode("latin1") + body)

    def handle(self, s, rd, req, n):
        method, target, hdrs = req
        path = target.split("?", 1)[0]
        if path != "/sink":
            for _ in rd.body(hdrs):
                pass
        if path == "/ok":
            self.respond(s, b"ok")
        elif path == "/count":
            self.respond(s, b"%d" % self.accepts)
        elif path == "/close-mid-body":
            s.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + PAT[:100])
            time.sleep(0.05)
            return False
        elif path == "/close-delimited":
            s.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n" + PAT[:5000])
            return False
        elif path == "/chunked-trailers":
            s.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Checksum\r\n\r\n"
                      b"5;name=value\r\nhello\r\n6\r\n world\r\n"
                      b"0\r\nX-Checksum: abc\r\nX-Checksum:  def \r\n\r\n")
        elif path == "/slow-headers":
            s.sendall(b"HTTP/1.1 200 OK\r\n")
            time.sleep(3)
            return False
        elif path == "/garbage":
            s.sendall(b"HELLO WORLD\r\n\r\n")
            time.sleep(0.2)
            return False
        elif path == "/bad-chunk":
            s.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\n")
            time.sleep(0.5)
            return False
        elif path == "/reset":
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return False
        elif path == "/huge-head":
            pad = "".join("X-Pad-%d: %s\r\n" % (i, "a" * 1000) for i in range(100))
            self.respond(s, b"x", extra=pad)
        elif path == "/interim":
            s.sendall(b"HTTP/1.1 100 Continue\r\n\r\n"
                      b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n"
                      b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ndone")
        elif path == "/lone-cr":
            s.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\rXok")
            time.sleep(0.5)
            return False
        elif path == "/204cl":
            s.sendall(b"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n")
        elif path == "/stale":
            if n > 1:
                return False  # a server that dropped the idle connection as it was reused
            self.respond(s, b"first")
        elif path == "/fuzz":
            self.fuzz(s, int(query(target, "seed", "0")))
            return False
        elif path == "/source":
            self.source(s, int(query(target, "n", "0")), query(target, "chunked", "0") == "1")
        elif path == "/sink":
            total, bad = 0, 0
            for piece in rd.body(hdrs):
                o = total % PERIOD
                if piece != PAT[o:o + len(piece)]:
                    bad = 1
                total += len(piece)
            self.respond(s, b"n=%d bad=%d" % (total, bad))
        else:
            self.respond(s, b"no such path", "404 Not Found")
        return hdrs.get("connection", "").lower() != "close"

    TEMPLATES = [
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: b\r\n\r\nhello",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5;e=1\r\nhello\r\n0\r\nX-T: 1\r\n\r\n",
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\nContent-Length: 3\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end",
        b"HTTP/1.0 404 Not Found\r\nContent-Length: 2\r\nSet-Cookie: a\r\nSet-Cookie: b\r\n\r\nno",
    ]

    @classmethod
    def fuzz(cls, s, seed):
        rnd = random.Random(seed)
        data = bytearray(rnd.choice(cls.TEMPLATES))
        for _ in range(rnd.randint(0, 4)):
            op = rnd.randint(0, 4)
            i = rnd.randint(0, len(data))
            if op == 0 and data:
                data[min(i, len(data) - 1)] = rnd.randint(0, 255)
            elif op == 1:
                data[i:i] = rnd.choice([b"\r", b"\n", b":", b" ", b"\x00", b"0", b"ff\r\n",
                                        b"\r\n\r\n", b"Content-Length: 9\r\n"])
            elif op == 2:
                del data[i:i + rnd.randint(1, 8)]
            elif op == 3:
                data = data[:i]
            else:
                data += bytes(rnd.randint(0, 255) for _ in range(rnd.randint(1, 16)))
        off = 0
        while off < len(data):
            k = rnd.randint(1, 16)
            s.sendall(bytes(data[off:off + k]))
            off += k
            if rnd.random() < 0.1:
                time.sleep(0.001)
        if rnd.random() < 0.2:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    @staticmethod
    def source(s, n, chunked):
        block = PERIOD * 256  # 64256
        if chunked:
            s.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        else:
            s.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % n)
        off = 0
        while off < n:
            k = min(block, n - off)
            data = PAT[off % PERIOD:off % PERIOD + k]
            if chunked:
                s.sendall(b"%x\r\n" % k + data + b"\r\n")
            else:
                s.sendall(data)
            off += k
        if chunked:
            s.sendall(b"0\r\n\r\n")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def blackhole():
    """A listener whose accept queue is full: further SYNs are dropped, so a
    connect hangs. Returns (listener, fillers, port) or (None, [], 0) if this
    kernel answers anyway."""
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(0)
    port = ls.getsockname()[1]
    fillers = []
    for _ in range(4):
        c = socket.socket()
        c.setblocking(False)
        try:
            c.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        fillers.append(c)
    time.sleep(0.2)
    probe = socket.socket()
    probe.settimeout(0.5)
    try:
        probe.connect(("127.0.0.1", port))
        ok = False
    except (socket.timeout, OSError):
        ok = True
    probe.close()
    if not ok:
        for c in fillers:
            c.close()
        ls.close()
        return None, [], 0
    return ls, fillers, port


def main():
    exe = sys.argv[1]
    peer = Peer()
    refused = free_port()
    bh, fillers, bh_port = blackhole()
    if not bh_port:
        print("(this kernel completes connects to a full listener: connect-timeout test skipped)")
    env = dict(os.environ)
    t0 = time.monotonic()
    try:
        p = subprocess.run([exe, "peer", str(peer.port), str(refused), str(bh_port)],
                           capture_output=True, timeout=300, env=env)
        out, err, rc = p.stdout.decode(), p.stderr.decode(errors="replace"), p.returncode
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode()
        err = (e.stderr or b"").decode(errors="replace")
        rc = "timeout"
    sys.stdout.write(out)
    if err:
        sys.stdout.write("--- stderr ---\n" + err[-20000:])
    bad = "ERROR: AddressSanitizer" in err or "runtime error:" in err or "LeakSanitizer" in err
    print("peer run: exit %s in %.1fs" % (rc, time.monotonic() - t0))
    for c in fillers:
        c.close()
    if bh:
        bh.close()
    peer.ls.close()
    return 0 if rc == 0 and not bad else 1


if __name__ == "__main__":
    sys.exit(main())
