#!/usr/bin/env python3
"""HTTP/1.1 transport against real clients (curl, http.client, raw sockets).

usage: test_http_server.py PATH/TO/http_echo_server

Starts the echo server on free 127.0.0.1 ports with small limits and short
timeouts, runs every check (each bounded by socket timeouts), stops the
servers with SIGTERM (graceful shutdown) and requires a clean exit (ASan and
UBSan reports fail the test). Stdlib only.
"""
import http.client
import json
import os
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback

EXE = None
MAX_BODY = 1024 * 1024
MAX_HEADER = 2048
HEADER_TO = 300   # ms
IDLE_TO = 600     # ms
BODY_TO = 400     # ms


def fnv1a(data):
    h = 2166136261
    for b in data:
        h ^= b
        h = (h * 16777619) & 0xFFFFFFFF
    return h


class Server:
    def __init__(self, *args, env_extra=None):
        self.stderr = tempfile.TemporaryFile()
        env = dict(os.environ, **(env_extra or {}))
        self.proc = subprocess.Popen([EXE, "0"] + list(args), stdout=subprocess.PIPE,
                                     stderr=self.stderr, env=env)
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("echo server did not start: " + self.errors())
        self.port = int(line)

    def errors(self):
        self.stderr.seek(0)
        return self.stderr.read().decode(errors="replace")

    def stop(self, timeout=10):
        """Graceful stop; returns (exit code, stderr)."""
        if self.proc.poll() is None:
            self.proc.send_signal(15)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = "hung"
        return rc, self.errors()


class Resp:
    def __init__(self, status, headers, body, raw_head):
        self.status, self.headers, self.body, self.raw_head = status, headers, body, raw_head

    def h(self, name):
        return self.headers.get(name.lower())

    def json(self):
        return json.loads(self.body)


class Conn:
    """A raw client socket with a tiny response reader."""

    def __init__(self, port, timeout=5.0, host="127.0.0.1", family=socket.AF_INET):
        self.s = socket.socket(family, socket.SOCK_STREAM)
        self.s.settimeout(timeout)
        self.s.connect((host, port))
        self.buf = b""

    def send(self, data):
        self.s.sendall(data if isinstance(data, bytes) else data.encode("latin1"))

    def fill(self):
        d = self.s.recv(65536)
        if not d:
            raise EOFError("connection closed by server")
        self.buf += d

    def read_head(self):
        while b"\r\n\r\n" not in self.buf:
            self.fill()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin1").split("\r\n")
        status = int(lines[0].split(" ")[1])
        if not lines[0].startswith("HTTP/1.1 "):
            raise AssertionError("bad status line " + lines[0])
        headers = {}
        for ln in lines[1:]:
            k, v = ln.split(":", 1)
            k = k.strip().lower()
            if k in headers:
                raise AssertionError("duplicate header " + k)
            headers[k] = v.strip()
        return status, headers, head

    def read_response(self, head_request=False):
        status, headers, head = self.read_head()
        n = 0
        if "content-length" in headers:
            n = int(headers["content-length"])
        if head_request or status in (204, 304) or status < 200:
            n = 0
        while len(self.buf) < n:
            self.fill()
        body, self.buf = self.buf[:n], self.buf[n:]
        return Resp(status, headers, body, head)

    def closed_within(self, seconds):
        """True if the server closes (EOF or reset) within `seconds`."""
        if self.buf:
            return False
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.s.settimeout(max(0.01, end - time.monotonic()))
            try:
                d = self.s.recv(65536)
            except socket.timeout:
                return False
            except (ConnectionResetError, BrokenPipeError):
                return True
            if not d:
                return True
            self.buf += d
            return False
        return False

    def close(self):
        self.s.close()


def req(method, path, headers=None, body=b"", version="HTTP/1.1"):
    h = {"Host": "test"}
    h.update(headers or {})
    if body and "Content-Length" not in h and "Transfer-Encoding" not in h:
        h["Content-Length"] = str(len(body))
    out = "%s %s %s\r\n" % (method, path, version)
    out += "".join("%s: %s\r\n" % kv for kv in h.items()) + "\r\n"
    return out.encode("latin1") + body


def curl(*args, timeout=20):
    p = subprocess.run(["curl", "-sS", "--max-time", "15"] + list(args), capture_output=True,
                       timeout=timeout)
    return p


CHECKS = []


def check(fn):
    CHECKS.append(fn)
    return fn


def eq(a, b, what=""):
    if a != b:
        raise AssertionError("%s: %r != %r" % (what, a, b))


def ok(cond, what):
    if not cond:
        raise AssertionError(what)


def expect_error(port, data, status, what):
    c = Conn(port)
    c.send(data)
    r = c.read_response()
    eq(r.status, status, what)
    eq(r.h("connection"), "close", what + " connection header")
    ok(r.h("content-type", ).startswith("text/plain"), what + " plain text")
    ok(len(r.body) > 0, what + " body")
    ok(c.closed_within(3), what + ": connection not closed")
    c.close()


# ---------------------------------------------------------------------------
# Basics, keep-alive, pipelining
# ---------------------------------------------------------------------------

@check
def basic_get_and_fields(S):
    c = Conn(S.port)
    c.send(req("GET", "/a/b%20c?x=1&y=2", {"X-Test": "  padded value\t ", "x-Other": "v"}))
    r = c.read_response()
    eq(r.status, 200, "status")
    ok(r.h("date") and r.h("date").endswith(" GMT"), "Date header")
    eq(r.h("content-type"), "application/json", "content-type")
    j = r.json()
    eq(j["method"], "GET", "method")
    eq(j["path"], "/a/b%20c", "path")
    eq(j["query"], "x=1&y=2", "query")
    eq(j["http"], "1.1", "version")
    eq(j["remote_ip"], "127.0.0.1", "remote_ip")
    eq(j["n_headers"], 3, "headers count")
    ok(["X-Test", "padded value"] in j["headers"], "trimmed value, name case kept")
    ok(["x-Other", "v"] in j["headers"], "second header")
    eq(j["body_len"], 0, "no body")
    c.close()


@check
def absolute_form_and_empty_values(S):
    c = Conn(S.port)
    c.send(req("GET", "http://example.com:80/abs/path?q=1", {"X-Empty": ""}))
    j = c.read_response().json()
    eq(j["path"], "/abs/path", "absolute-form path")
    eq(j["query"], "q=1", "absolute-form query")
    ok(["X-Empty", ""] in j["headers"], "empty header value kept: %r" % j["headers"])
    c.close()


@check
def keep_alive_reuse(S):
    conn = http.client.HTTPConnection("127.0.0.1", S.port, timeout=5)
    socks = set()
    for i in range(5):
        conn.request("POST", "/ka/%d" % i, body=b"x" * i)
        r = conn.getresponse()
        j = json.loads(r.read())
        eq(r.status, 200, "status")
        eq(j["path"], "/ka/%d" % i, "path")
        eq(j["body_len"], i, "body")
        socks.add(id(conn.sock))
    eq(len(socks), 1, "one socket for all requests")
    conn.close()
    p = curl("-v", "http://127.0.0.1:%d/one" % S.port, "http://127.0.0.1:%d/two" % S.port)
    eq(p.returncode, 0, "curl rc")
    ok(b"Re-using existing connection" in p.stderr or b"Reusing existing" in p.stderr,
       "curl reused the connection")


@check
def pipelining(S):
    c = Conn(S.port)
    c.send(req("GET", "/p1") + req("POST", "/p2", body=b"hello") + req("GET", "/p3?z"))
    for path, n in (("/p1", 0), ("/p2", 5), ("/p3", 0)):
        j = c.read_response().json()
        eq(j["path"], path, "pipelined order")
        eq(j["body_len"], n, "pipelined body")
    # a slow handler first: later requests wait for it, order is kept
    c.send(req("GET", "/slow") + req("GET", "/after") + req("GET", "/status/201"))
    r1, r2, r3 = c.read_response(), c.read_response(), c.read_response()
    eq(r1.body, b"slow\n", "slow first")
    eq(r2.json()["path"], "/after", "then the next")
    eq(r3.status, 201, "then the third")
    # many at once, split at awkward places
    blob = b"".join(req("GET", "/m%d" % i) for i in range(50))
    for i in range(0, len(blob), 7):
        c.send(blob[i:i + 7])
    for i in range(50):
        eq(c.read_response().json()["path"], "/m%d" % i, "many pipelined")
    c.close()


@check
def http10(S):
    c = Conn(S.port)
    c.send(req("GET", "/old", version="HTTP/1.0"))
    r = c.read_response()
    eq(r.status, 200, "1.0 status")
    eq(r.h("connection"), "close", "1.0 closes")
    ok(c.closed_within(2), "1.0 connection closed")
    c.close()
    c = Conn(S.port)
    for i in range(2):
        c.send(req("GET", "/old-ka", {"Connection": "keep-alive"}, version="HTTP/1.0"))
        r = c.read_response()
        eq(r.status, 200, "1.0 keep-alive status")
        eq(r.h("connection"), "keep-alive", "1.0 keep-alive header")
        eq(r.json()["keep_alive"], True, "keep_alive flag")
    c.close()


@check
def connection_close(S):
    c = Conn(S.port)
    c.send(req("GET", "/bye", {"Connection": "close"}) + req("GET", "/never"))
    r = c.read_response()
    eq(r.h("connection"), "close", "Connection: close echoed")
    eq(r.json()["keep_alive"], False, "keep_alive false")
    ok(c.closed_within(2), "closed after Connection: close (pipelined request ignored)")
    c.close()


# ---------------------------------------------------------------------------
# Bodies
# ---------------------------------------------------------------------------

@check
def chunked_upload(S):
    c = Conn(S.port)
    parts = [b"hello ", b"chunked " * 100, b"world"]
    body = b"".join(parts)
    c.send(req("POST", "/chunked", {"Transfer-Encoding": "chunked"}))
    for p in parts:
        c.send(b"%x;ext=1\r\n" % len(p))
        time.sleep(0.02)
        c.send(p + b"\r\n")
    c.send(b"0\r\nX-Trailer: t\r\n\r\n")
    j = c.read_response().json()
    eq(j["body_len"], len(body), "chunked length")
    eq(j["body_fnv"], fnv1a(body), "chunked checksum")
    eq(j["body_nul"], True, "body NUL-terminated")
    c.close()
    data = os.urandom(300000)
    with tempfile.NamedTemporaryFile() as f:
        f.write(data)
        f.flush()
        p = curl("-H", "Transfer-Encoding: chunked", "--data-binary", "@" + f.name,
                 "http://127.0.0.1:%d/curl-chunked" % S.port)
    eq(p.returncode, 0, "curl rc")
    j = json.loads(p.stdout)
    eq(j["body_len"], len(data), "curl chunked length")
    eq(j["body_fnv"], fnv1a(data), "curl chunked checksum")


@check
def large_body_and_checksum(S):
    data = os.urandom(MAX_BODY)  # exactly at the limit
    conn = http.client.HTTPConnection("127.0.0.1", S.port, timeout=10)
    conn.request("PUT", "/upload", body=data)
    r = conn.getresponse()
    j = json.loads(r.read())
    eq(r.status, 200, "status at limit")
    eq(j["body_len"], len(data), "length")
    eq(j["body_fnv"], fnv1a(data), "checksum")
    conn.close()


@check
def expect_100_continue(S):
    # curl waits for 100 Continue before sending the body
    data = os.urandom(500000)
    with tempfile.NamedTemporaryFile() as f:
        f.write(data)
        f.flush()
        p = curl("-v", "-H", "Expect: 100-continue", "--expect100-timeout", "10",
                 "--data-binary", "@" + f.name, "http://127.0.0.1:%d/exp" % S.port)
    eq(p.returncode, 0, "curl rc")
    ok(b"HTTP/1.1 100 Continue" in p.stderr, "curl saw 100 Continue")
    j = json.loads(p.stdout)
    eq(j["body_len"], len(data), "body after 100")
    eq(j["body_fnv"], fnv1a(data), "checksum after 100")
    # raw: the 100 comes before we send the body
    c = Conn(S.port)
    c.send(req("POST", "/exp-raw", {"Expect": "100-continue", "Content-Length": "10"}))
    r = c.read_response()
    eq(r.status, 100, "interim 100")
    eq(r.raw_head, b"HTTP/1.1 100 Continue", "exact 100 line")
    c.send(b"0123456789")
    r = c.read_response()
    eq(r.status, 200, "final after 100")
    eq(r.json()["body_len"], 10, "body length after 100")
    # too large: 413 instead of 100
    c.send(req("POST", "/exp-big", {"Expect": "100-continue",
                                     "Content-Length": str(MAX_BODY + 1)}))
    r = c.read_response()
    eq(r.status, 413, "413 instead of 100")
    eq(r.h("connection"), "close", "413 closes")
    ok(c.closed_within(3), "closed after 413")
    c.close()
    expect_error(S.port, req("POST", "/x", {"Expect": "something-else",
                                             "Content-Length": "3"}), 417, "unknown Expect")


@check
def oversized_body_content_length(S):
    c = Conn(S.port)
    # only the head: the server must decide without the body
    c.send(req("POST", "/big", {"Content-Length": str(10 * MAX_BODY)}))
    t0 = time.monotonic()
    r = c.read_response()
    eq(r.status, 413, "413 by Content-Length")
    eq(r.h("connection"), "close", "413 closes")
    ok(time.monotonic() - t0 < 1.0, "413 came at once")
    ok(c.closed_within(3), "connection closed after 413")
    c.close()
    # head and part of the body in one go: the 413 still arrives intact
    c = Conn(S.port)
    c.send(req("POST", "/big", {"Content-Length": str(MAX_BODY + 1)}) + b"x" * 100000)
    eq(c.read_response().status, 413, "413 with body bytes following")
    c.close()


@check
def oversized_body_chunked(S):
    # grows past the limit chunk by chunk
    c = Conn(S.port)
    c.send(req("POST", "/chunks", {"Transfer-Encoding": "chunked"}))
    status = None
    try:
        for _ in range(20):
            c.send(b"%x\r\n" % 200000 + b"y" * 200000 + b"\r\n")
    except (BrokenPipeError, ConnectionResetError):
        pass
    r = c.read_response()
    eq(r.status, 413, "413 for chunked over limit")
    eq(r.h("connection"), "close", "closes")
    c.close()
    # one chunk announced bigger than the limit: refused before its data
    c = Conn(S.port)
    c.send(req("POST", "/chunk1", {"Transfer-Encoding": "chunked"}) +
           b"%x\r\n" % (MAX_BODY + 1))
    r = c.read_response()
    eq(r.status, 413, "413 for an oversized chunk header")
    ok(c.closed_within(3), "closed")
    c.close()


@check
def oversized_headers(S):
    expect_error(S.port, req("GET", "/", {"X-Big": "v" * (MAX_HEADER + 10)}), 431,
                 "one big header")
    many = {"X-H%d" % i: "value%d" % i for i in range(200)}
    expect_error(S.port, req("GET", "/", many), 431, "many headers")
    expect_error(S.port, req("GET", "/" + "u" * (MAX_HEADER + 10)), 431, "long URL")
    # blanks reach no llhttp callback; still counted
    expect_error(S.port, b"GET / HTTP/1.1\r\nX: a" + b" " * (MAX_HEADER + 100) + b"b\r\n\r\n",
                 431, "whitespace flood")
    # just under the limit passes
    c = Conn(S.port)
    c.send(req("GET", "/", {"X-Fit": "v" * (MAX_HEADER - 100)}))
    eq(c.read_response().status, 200, "header under the limit")
    c.close()


@check
def malformed_requests(S):
    bad = [
        (b"GARBAGE\r\n\r\n", "garbage"),
        (b"GET / HTTP/1.1\r\nBad Header\r\n\r\n", "header without colon"),
        (b"G@T / HTTP/1.1\r\n\r\n", "invalid method"),
        (b"GET / HTTP/1.1\r\nContent-Length: abc\r\n\r\n", "bad content-length"),
        (b"POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", "two CLs"),
        (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "bad chunk size"),
        (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n", "bad chunk end"),
        (b"POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
         "CL and TE"),
        (b"GET /\x01 HTTP/1.1\r\n\r\n", "control char in URL"),
        (b"GET / HTTP/1.1\r\nX: a\x00b\r\n\r\n", "NUL in header"),
        (b"GET / HTTX/1.1\r\n\r\n", "bad protocol"),
        # llhttp 8.1.0 takes CR + any byte as the end of a head (CVE-2023-30589)
        (b"GET / HTTP/1.1\r\nHost: x\r\n\rX\n\r\n", "CR without LF ending the head"),
        (b"GET / HTTP/1.1\r\n Folded: x\r\n\r\n", "leading whitespace header"),
    ]
    for data, what in bad:
        expect_error(S.port, data, 400, what)
    # a well-formed but unsupported version
    c = Conn(S.port)
    c.send(b"GET / HTTP/2.0\r\n\r\n")
    r = c.read_response()
    ok(r.status in (400, 505), "HTTP/2.0 request line refused: %d" % r.status)
    ok(c.closed_within(3), "closed after version error")
    c.close()
    # a bad request after a good one in the same packet: good answered first
    c = Conn(S.port)
    c.send(req("GET", "/good") + b"BAD\r\n\r\n")
    eq(c.read_response().json()["path"], "/good", "good first")
    eq(c.read_response().status, 400, "then 400")
    ok(c.closed_within(3), "then closed")
    c.close()


@check
def pipelined_upgrade_stays_http1(S):
    # Upgrade: h2c with another request behind it: no switch (the client did
    # not wait for 101), both answered in HTTP/1.1.
    c = Conn(S.port)
    c.send(req("GET", "/up", {"Connection": "Upgrade, HTTP2-Settings", "Upgrade": "h2c",
                               "HTTP2-Settings": "AAMAAABkAAQAAP__"}) + req("GET", "/next"))
    eq(c.read_response().json()["path"], "/up", "upgrade request answered in HTTP/1.1")
    eq(c.read_response().json()["path"], "/next", "and the connection goes on")
    c.close()


def h2_frames(sock, want_type, timeout=3.0):
    """Read HTTP/2 frames until one of want_type arrives; returns the list."""
    sock.settimeout(timeout)
    buf, frames = b"", []
    end = time.time() + timeout
    while time.time() < end:
        while len(buf) >= 9:
            ln = int.from_bytes(buf[:3], "big")
            if len(buf) < 9 + ln:
                break
            f = (buf[3], buf[4], int.from_bytes(buf[5:9], "big") & 0x7FFFFFFF, buf[9:9 + ln])
            frames.append(f)
            buf = buf[9 + ln:]
            if f[0] == want_type:
                return frames
        try:
            d = sock.recv(65536)
        except socket.timeout:
            break
        if not d:
            break
        buf += d
    return frames


H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
EMPTY_SETTINGS = b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"


@check
def h2c_prior_knowledge_and_upgrade(S):
    # prior knowledge: the HTTP/2 preface switches the connection
    s = socket.create_connection(("127.0.0.1", S.port))
    s.sendall(H2_PREFACE + EMPTY_SETTINGS)
    frames = h2_frames(s, 4)
    ok(frames and frames[0][0] == 4, "server SETTINGS after the preface")
    s.close()
    # a broken preface: closed, no crash
    s = socket.create_connection(("127.0.0.1", S.port))
    s.sendall(b"PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n")
    h2_frames(s, 99, timeout=2.0)
    s.close()
    # Upgrade: 101, then HTTP/2 with the request's answer on stream 1
    s = socket.create_connection(("127.0.0.1", S.port))
    s.sendall(req("GET", "/up2", {"Connection": "Upgrade, HTTP2-Settings", "Upgrade": "h2c",
                                  "HTTP2-Settings": "AAMAAABkAAQAAP__"}))
    s.settimeout(3)
    head = b""
    while b"\r\n\r\n" not in head:
        d = s.recv(1)
        if not d:
            break
        head += d
    ok(head.startswith(b"HTTP/1.1 101 "), "101 Switching Protocols: %r" % head[:40])
    s.sendall(H2_PREFACE + EMPTY_SETTINGS)
    frames = h2_frames(s, 0)  # until a DATA frame
    data = [f for f in frames if f[0] == 0 and f[2] == 1]
    ok(data and b'"/up2"' in data[0][3], "stream 1 carries the answer: %r" % frames[-1:])
    s.close()
    # the server still serves HTTP/1.1
    c = Conn(S.port)
    c.send(req("GET", "/after-h2"))
    eq(c.read_response().json()["path"], "/after-h2", "HTTP/1.1 still served")
    c.close()


# ---------------------------------------------------------------------------
# HEAD, 204, 304, large responses
# ---------------------------------------------------------------------------

@check
def head_and_no_content(S):
    c = Conn(S.port)
    c.send(req("HEAD", "/status/200") + req("GET", "/status/204") + req("GET", "/status/304") +
           req("GET", "/after"))
    r = c.read_response(head_request=True)
    eq(r.status, 200, "HEAD status")
    eq(r.h("content-length"), "12", "HEAD keeps the length of the body")
    r = c.read_response()
    eq(r.status, 204, "204")
    eq(r.h("content-length"), None, "no Content-Length on 204")
    r = c.read_response()
    eq(r.status, 304, "304")
    eq(r.h("content-length"), None, "no Content-Length on 304")
    # had any body bytes been sent, this would not parse as the next response
    eq(c.read_response().json()["path"], "/after", "framing intact after HEAD/204/304")
    c.close()
    p = curl("-I", "http://127.0.0.1:%d/status/200" % S.port)
    eq(p.returncode, 0, "curl -I rc")
    ok(b"HTTP/1.1 200 OK" in p.stdout, "curl -I status")


@check
def large_responses(S):
    n = 6 * 1024 * 1024 + 123
    expect = bytes((ord("a") + i % 26) for i in range(26)) * (n // 26 + 1)
    expect = expect[:n]
    for path in ("/big", "/bigcopy"):
        p = curl("http://127.0.0.1:%d%s?n=%d" % (S.port, path, n))
        eq(p.returncode, 0, path + " rc")
        eq(len(p.stdout), n, path + " length")
        ok(p.stdout == expect, path + " content")
    # a slow reader: the server's write queue grows past 1 MiB; pipelined
    # requests behind it are answered once it drains
    c = Conn(S.port, timeout=10)
    c.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32768)
    c.send(req("GET", "/bigcopy?n=%d" % n) + req("GET", "/big?n=%d" % n) + req("GET", "/tail"))
    time.sleep(0.5)
    for _ in range(2):
        r = c.read_response()
        eq(len(r.body), n, "slow reader body")
        ok(r.body == expect, "slow reader content")
    eq(c.read_response().json()["path"], "/tail", "request behind big responses")
    c.close()


# ---------------------------------------------------------------------------
# Timeouts
# ---------------------------------------------------------------------------

@check
def header_timeout(S):
    c = Conn(S.port)
    c.send(b"GET / HTTP/1.1\r\nHost: x\r\n")
    t0 = time.monotonic()
    got = b""
    try:
        while True:
            d = c.s.recv(4096)
            if not d:
                break
            got += d
    except (ConnectionResetError, socket.timeout):
        pass
    dt = time.monotonic() - t0
    ok(0.2 <= dt < 2.5, "closed after the header timeout (%.2fs)" % dt)
    ok(got == b"" or got.startswith(b"HTTP/1.1 408 "), "408 or nothing: %r" % got[:40])
    c.close()
    # slow-loris: a byte every 50 ms does not extend the header deadline
    c = Conn(S.port)
    t0 = time.monotonic()
    closed = False
    try:
        for i in range(60):
            c.send(b"GET / HTTP/1.1\r\nX-Slow: "[i:i + 1] if i < 24 else b"a")
            time.sleep(0.05)
    except (BrokenPipeError, ConnectionResetError):
        closed = True
    if not closed:
        closed = c.closed_within(1)
    dt = time.monotonic() - t0
    ok(closed and dt < 2.5, "slow-loris cut off (%.2fs)" % dt)
    c.close()
    # a connection that sends nothing at all
    c = Conn(S.port)
    ok(c.closed_within(2.5), "silent connection closed")
    c.close()


@check
def idle_timeout(S):
    c = Conn(S.port)
    c.send(req("GET", "/"))
    c.read_response()
    t0 = time.monotonic()
    ok(c.closed_within(5), "idle keep-alive connection closed")
    dt = time.monotonic() - t0
    ok(0.4 <= dt < 3, "after about idle_to (%.2fs)" % dt)
    c.close()
    # activity resets the idle clock
    c = Conn(S.port)
    for _ in range(4):
        c.send(req("GET", "/"))
        eq(c.read_response().status, 200, "request before idle timeout")
        time.sleep(IDLE_TO / 1000 * 0.6)
    c.close()


@check
def slow_reader_is_not_idle(S):
    # a response that takes several idle periods to read, read in bursts:
    # the idle deadline must not cut it while the client keeps reading
    n = 24 * 1024 * 1024
    c = Conn(S.port, timeout=10)
    c.send(req("GET", "/big?n=%d" % n))
    c.fill()
    head_len = c.buf.index(b"\r\n\r\n") + 4
    got, total = len(c.buf), head_len + n
    t0 = time.monotonic()
    while got < total:
        time.sleep(0.25)
        burst = 0
        c.s.settimeout(0.05)
        try:
            while burst < 2 * 1024 * 1024 and got < total:
                d = c.s.recv(1 << 20)
                if not d:
                    raise AssertionError("closed after %d of %d bytes (%.2fs)" %
                                         (got, total, time.monotonic() - t0))
                burst += len(d)
                got += len(d)
        except socket.timeout:
            pass
    ok(time.monotonic() - t0 > 2 * IDLE_TO / 1000, "took longer than the idle timeout")
    eq(got, total, "whole response read")
    c.close()


@check
def body_timeout(S):
    c = Conn(S.port)
    c.send(req("POST", "/stall", {"Content-Length": "100"}) + b"0123456789")
    t0 = time.monotonic()
    ok(c.closed_within(5), "stalled body closed")
    dt = time.monotonic() - t0
    ok(0.3 <= dt < 3, "after about body_to (%.2fs)" % dt)
    c.close()
    # steady progress, each gap below body_to, total far above it
    c = Conn(S.port)
    c.send(req("POST", "/trickle", {"Content-Length": "8"}))
    for i in range(8):
        time.sleep(BODY_TO / 1000 * 0.5)
        c.send(b"x")
    r = c.read_response()
    eq(r.status, 200, "trickled body accepted")
    eq(r.json()["body_len"], 8, "trickled body complete")
    c.close()


@check
def no_timeout_while_in_app(S):
    # /slow takes 200 ms; with body_to/header_to at 300-400 ms nothing may
    # fire while the application works, even across several slow requests
    c = Conn(S.port)
    for _ in range(3):
        c.send(req("GET", "/slow"))
        eq(c.read_response().body, b"slow\n", "slow answered")
    c.close()


# ---------------------------------------------------------------------------
# Client going away, many clients
# ---------------------------------------------------------------------------

@check
def disconnect_during_slow(S):
    c = Conn(S.port)
    c.send(req("GET", "/slow"))
    time.sleep(0.05)
    c.close()  # FIN while the application works
    c = Conn(S.port)
    c.send(req("GET", "/slow"))
    time.sleep(0.05)
    c.s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    c.close()  # RST while the application works
    c = Conn(S.port)
    c.send(req("GET", "/slow") + req("GET", "/more"))
    c.s.shutdown(socket.SHUT_WR)  # half-close: answers still come
    eq(c.read_response().body, b"slow\n", "half-closed client gets its answer")
    eq(c.read_response().json()["path"], "/more", "and the pipelined one")
    ok(c.closed_within(2), "then the server closes")
    c.close()
    time.sleep(0.4)
    c = Conn(S.port)
    c.send(req("GET", "/inflight"))
    eq(c.read_response().body, b"1\n", "only this request in flight")
    c.close()


@check
def many_connections(S):
    conns = [Conn(S.port, timeout=20) for _ in range(200)]
    for i, c in enumerate(conns):
        c.send(req("POST", "/c%d" % i, body=b"z" * i))
    for i, c in enumerate(conns):
        j = c.read_response().json()
        eq(j["path"], "/c%d" % i, "concurrent path")
        eq(j["body_len"], i, "concurrent body")
    # and concurrently from threads, each with keep-alive
    errors = []

    def worker(k):
        try:
            conn = http.client.HTTPConnection("127.0.0.1", S.port, timeout=20)
            for n in range(5):
                conn.request("GET", "/t%d/%d" % (k, n))
                r = conn.getresponse()
                if json.loads(r.read())["path"] != "/t%d/%d" % (k, n):
                    errors.append("wrong path")
            conn.close()
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(repr(e))

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    eq(errors, [], "thread errors")
    for c in conns:
        c.close()


@check
def chaos(S):
    # clients that send pieces of valid and broken requests, pipeline, stall
    # and vanish (FIN or RST) at random points, many at a time; the server
    # must keep serving and (checked at exit) stay clean under ASan
    import random
    rnd = random.Random(1234)
    pieces = [req("GET", "/slow"), req("POST", "/p", body=b"x" * 3000),
              req("PUT", "/c", {"Transfer-Encoding": "chunked"}) + b"5\r\nhello\r\n0\r\n\r\n",
              req("POST", "/e", {"Expect": "100-continue", "Content-Length": "4"}) + b"abcd",
              req("GET", "/big?n=300000"), b"GARBAGE\r\n\r\n", b"GET / HTTP/1.1\r\nX: ",
              req("POST", "/big", {"Content-Length": str(MAX_BODY * 2)}),
              req("OPTIONS", "/o", {"Origin": "http://x", "Access-Control-Request-Method": "GET"})]
    for _round in range(6):
        socks = []
        for _ in range(40):
            s = socket.create_connection(("127.0.0.1", S.port), timeout=5)
            data = b"".join(rnd.choice(pieces) for _ in range(rnd.randint(1, 4)))
            cut = rnd.randint(0, len(data))
            try:
                s.sendall(data[:cut])
                if rnd.random() < 0.5:
                    s.settimeout(0.02)
                    s.recv(rnd.randint(1, 5000))
            except OSError:
                pass
            socks.append(s)
        time.sleep(0.05)
        for s in socks:
            if rnd.random() < 0.5:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            s.close()
    time.sleep(0.5)  # let /slow handlers answer their dead connections
    c = Conn(S.port)
    c.send(req("GET", "/inflight"))
    eq(c.read_response().body, b"1\n", "nothing left in flight")
    c.close()


# ---------------------------------------------------------------------------
# CORS
# ---------------------------------------------------------------------------

def preflight(port, origin, method="PUT", headers="x-foo, content-type"):
    c = Conn(port)
    h = {"Origin": origin, "Access-Control-Request-Method": method}
    if headers:
        h["Access-Control-Request-Headers"] = headers
    c.send(req("OPTIONS", "/v1.0/state/s", h))
    r = c.read_response()
    c.close()
    return r


@check
def cors_list(S, C):
    r = preflight(C.port, "http://good.example")
    ok(r.status in (200, 204), "preflight status %d" % r.status)
    eq(r.h("access-control-allow-origin"), "http://good.example", "ACAO echoes origin")
    eq(r.h("access-control-allow-methods"), "HEAD,GET,POST,PUT,PATCH,DELETE", "ACAM")
    eq(r.h("access-control-allow-headers"), "x-foo, content-type", "ACAH echoes request")
    ok(r.h("access-control-max-age"), "max-age")
    eq(r.body, b"", "preflight has no body")
    r = preflight(C.port, "https://api.wild.example")
    eq(r.h("access-control-allow-origin"), "https://api.wild.example", "wildcard entry")
    r = preflight(C.port, "http://evil.example")
    eq(r.h("access-control-allow-origin"), None, "no ACAO for a disallowed origin")
    eq(r.h("access-control-allow-methods"), None, "no ACAM for a disallowed origin")
    r = preflight(C.port, "http://good.example", method="TRACE")
    eq(r.h("access-control-allow-origin"), None, "no ACAO for a disallowed method")
    # simple requests
    c = Conn(C.port)
    c.send(req("GET", "/simple", {"Origin": "http://good.example"}))
    r = c.read_response()
    eq(r.status, 200, "simple request served")
    eq(r.h("access-control-allow-origin"), "http://good.example", "simple ACAO")
    eq(r.h("vary"), "Origin", "Vary: Origin for a list")
    c.send(req("GET", "/simple", {"Origin": "http://evil.example"}))
    r = c.read_response()
    eq(r.status, 200, "disallowed origin still served")
    eq(r.h("access-control-allow-origin"), None, "no ACAO for disallowed")
    # OPTIONS that is not a preflight goes to the application
    c.send(req("OPTIONS", "/opt", {"Origin": "http://good.example"}))
    r = c.read_response()
    eq(r.json()["method"], "OPTIONS", "plain OPTIONS reaches the app")
    c.close()
    # without CORS configured nothing is added and preflights reach the app
    r = preflight(S.port, "http://good.example")
    eq(r.h("access-control-allow-origin"), None, "CORS off")
    eq(r.json()["method"], "OPTIONS", "CORS off: preflight reaches the app")


@check
def cors_star(S, C, STAR):
    r = preflight(STAR.port, "http://anything.example", headers=None)
    eq(r.h("access-control-allow-origin"), "*", "star ACAO")
    eq(r.h("access-control-allow-headers"), None, "no ACAH when none requested")
    c = Conn(STAR.port)
    c.send(req("POST", "/s", {"Origin": "http://x.example"}, body=b"abc"))
    r = c.read_response()
    eq(r.h("access-control-allow-origin"), "*", "star on simple request")
    eq(r.h("vary"), None, "no Vary for *")
    eq(r.json()["body_len"], 3, "served")
    c.close()


# ---------------------------------------------------------------------------
# IPv6, graceful shutdown
# ---------------------------------------------------------------------------

@check
def ipv6_listener(S):
    try:
        probe = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        probe.bind(("::1", 0))
        probe.close()
    except OSError:
        print("    (no IPv6 loopback here: checking that listen fails cleanly)")
        p = subprocess.run([EXE, "0", "addr=[::1]"], capture_output=True, timeout=10)
        ok(p.returncode == 1, "listen on [::1] fails with an error")
        return
    srv = Server("addr=[::1]")
    try:
        c = Conn(srv.port, host="::1", family=socket.AF_INET6)
        c.send(req("GET", "/v6"))
        j = c.read_response().json()
        eq(j["remote_ip"], "::1", "IPv6 peer")
        c.close()
    finally:
        rc, err = srv.stop()
        eq(rc, 0, "IPv6 server exit: " + err[-2000:])


@check
def graceful_shutdown(S):
    srv = Server("idle_to=60000", "header_to=60000")
    idle = Conn(srv.port)
    idle.send(req("GET", "/first"))
    idle.read_response()
    busy = Conn(srv.port)
    busy.send(req("GET", "/slow"))
    time.sleep(0.05)
    t0 = time.monotonic()
    srv.proc.send_signal(15)
    ok(idle.closed_within(1), "idle keep-alive connection closed at once")
    r = busy.read_response()
    eq(r.body, b"slow\n", "in-flight request answered")
    eq(r.h("connection"), "close", "with Connection: close")
    ok(busy.closed_within(2), "then closed")
    try:
        rc = srv.proc.wait(5)  # exits on its own once shutdown is done
    except subprocess.TimeoutExpired:
        rc = "hung"
    ok(time.monotonic() - t0 < 3, "shutdown finished quickly")
    eq(rc, 0, "exit code; stderr: " + srv.errors()[-2000:])
    # shutdown requested from a handler
    srv = Server()
    c = Conn(srv.port)
    c.send(req("GET", "/shutdown"))
    eq(c.read_response().body, b"bye\n", "answered")
    ok(c.closed_within(2), "closed")
    c.close()
    try:
        rc = srv.proc.wait(5)
    except subprocess.TimeoutExpired:
        rc = "hung"
    eq(rc, 0, "exit after /shutdown: " + srv.errors()[-2000:])
    idle.close()
    busy.close()

# ---------------------------------------------------------------------------
# Streamed bodies (/stream: the echo server echoes the body while reading it)
# ---------------------------------------------------------------------------

def read_chunked(c, limit=None):
    """Read a chunked body from c.buf/socket; returns (bytes or count, fnv)."""
    h = 2166136261
    total = 0
    keep = bytearray()
    while True:
        while b"\r\n" not in c.buf:
            c.fill()
        line, c.buf = c.buf.split(b"\r\n", 1)
        n = int(line.split(b";")[0], 16)
        if n == 0:
            while not c.buf.startswith(b"\r\n"):
                c.fill()
            c.buf = c.buf[2:]
            return (bytes(keep) if limit is None else total), h
        while len(c.buf) < n + 2:
            c.fill()
        piece, c.buf = c.buf[:n], c.buf[n + 2:]
        total += n
        if limit is None:
            keep += piece
        else:
            for b in piece[:64]:  # a cheap running check on every piece
                h ^= b
                h = (h * 16777619) & 0xFFFFFFFF


@check
def stream_echo_small(S):
    # Content-Length and chunked uploads, keep-alive only when the body was
    # complete before the response started (not here: echoed while read)
    c = Conn(S.port)
    c.send(req("POST", "/stream", body=b"hello stream"))
    status, headers, _ = c.read_head()
    eq(status, 200, "status")
    eq(headers.get("transfer-encoding"), "chunked", "chunked echo")
    body, _ = read_chunked(c)
    eq(body, b"hello stream", "echoed body")
    c.close()
    c = Conn(S.port)
    c.send(req("PUT", "/stream", {"Transfer-Encoding": "chunked"}) +
           b"3\r\nabc\r\n4;x=1\r\ndefg\r\n0\r\nT: v\r\n\r\n")
    status, headers, _ = c.read_head()
    body, _ = read_chunked(c)
    eq(body, b"abcdefg", "chunked echo")
    c.close()
    # over the limit mid-body: the started response is cut, no last-chunk
    c = Conn(S.port, timeout=5)
    c.send(req("POST", "/stream", {"Transfer-Encoding": "chunked"}))
    piece = b"%x\r\n" % 65536 + b"x" * 65536 + b"\r\n"
    try:
        for _ in range(MAX_BODY // 65536 + 2):
            c.send(piece)
    except (BrokenPipeError, ConnectionResetError):
        pass
    got = b""
    try:
        while True:
            d = c.s.recv(65536)
            if not d:
                break
            got += d
    except (ConnectionResetError, socket.timeout):
        pass
    ok(got.startswith(b"HTTP/1.1 200 "), "streamed echo started")
    ok(not got.endswith(b"\r\n0\r\n\r\n"), "no last-chunk after the limit")
    c.close()
    # over h2c the request arrives whole; the streamed response still works
    p = curl("--http2-prior-knowledge", "--data-binary", "h2 body", "-o", "-",
             "http://127.0.0.1:%d/stream" % S.port)
    eq(p.stdout, b"h2 body", "h2c streamed response: %r" % p.stderr)
    # HTTP/1.0 client: close-delimited echo of a buffered body
    c = Conn(S.port)
    c.send(req("POST", "/stream", body=b"old", version="HTTP/1.0"))
    r = c.read_response()
    eq(r.body, b"old", "HTTP/1.0 echo")
    c.close()


@check
def stream_echo_100mb_bounded_memory(STREAM):
    total = 100 * 1024 * 1024
    block = bytes(range(256)) * 256  # 64 KiB
    c = Conn(STREAM.port, timeout=30)
    base = int(curl("http://127.0.0.1:%d/rss" % STREAM.port).stdout.split()[0])
    c.send(req("POST", "/stream", {"Content-Length": str(total)}))
    err = []

    def sender():
        try:
            for _ in range(total // len(block)):
                c.s.sendall(block)
        except Exception as e:  # noqa: BLE001
            err.append(e)
    t = threading.Thread(target=sender)
    t.start()
    time.sleep(1)  # a slow reader first: the server's queue fills, it pauses
    status, headers, _ = c.read_head()
    eq(status, 200, "status")
    n, _ = read_chunked(c, limit=True)
    t.join(60)
    ok(not err, "sender: %r" % err)
    eq(n, total, "echoed bytes")
    eq(headers.get("connection"), "close", "duplex echo closes after")
    c.close()
    peak, eagain = map(int, curl("http://127.0.0.1:%d/rss" % STREAM.port).stdout.split())
    print("  rss: %d KiB before, %d KiB peak; %d EAGAIN" % (base, peak, eagain))
    ok(eagain > 0, "backpressure was exercised")
    ok(peak - base < 40 * 1024, "peak RSS grew by %d KiB" % (peak - base))


def main():
    global EXE
    EXE = sys.argv[1]
    limits = ["max_body=%d" % MAX_BODY, "max_header=%d" % MAX_HEADER,
              "header_to=%d" % HEADER_TO, "idle_to=%d" % IDLE_TO, "body_to=%d" % BODY_TO]
    servers = {
        "S": Server(*limits),
        "C": Server(*limits, "origins=http://good.example, https://*.wild.example"),
        "STAR": Server(*limits, "origins=*"),
        # no body limit to speak of; a small ASan quarantine so that RSS
        # shows what the server holds, not what ASan keeps of freed memory
        "STREAM": Server("max_body=%d" % (200 << 20), "body_to=5000", env_extra={
            "ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "") +
            ":quarantine_size_mb=1:thread_local_quarantine_size_kb=64"}),
    }
    failed = 0
    for fn in CHECKS:
        names = fn.__code__.co_varnames[:fn.__code__.co_argcount]
        t0 = time.monotonic()
        try:
            fn(*(servers[n] for n in names))
            print("PASS %-32s %.2fs" % (fn.__name__, time.monotonic() - t0), flush=True)
        except Exception:  # noqa: BLE001 - report and go on
            failed += 1
            print("FAIL %s" % fn.__name__, flush=True)
            traceback.print_exc()
        for name, srv in servers.items():
            if srv.proc.poll() is not None:
                print("server %s died: %s" % (name, srv.errors()[-3000:]), flush=True)
                return 1
    for name, srv in servers.items():
        rc, err = srv.stop()
        bad = "ERROR: AddressSanitizer" in err or "runtime error:" in err or \
            "LeakSanitizer" in err
        if rc != 0 or bad:
            failed += 1
            print("FAIL server %s exit %s:\n%s" % (name, rc, err[-5000:]), flush=True)
    print("%d checks, %d failed" % (len(CHECKS), failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
