#!/usr/bin/env python3
"""The HTTP/1.1 client over TLS (mbedTLS) against Python's ssl module.

usage: test_http_client_tls.py PATH/TO/http_client_tls_test

Makes a throwaway PKI with the openssl CLI (a CA, an unrelated CA, a server
certificate for IP 127.0.0.1 and DNS localhost, one for DNS example.com
only), then serves test_http_client.py's peer paths (/ok, /count, /source,
/sink, /close-mid-body, ...) over TLS on two ports (one per server
certificate), plus a TCP listener that accepts and never says a word (a
stalled handshake). Runs `http_client_tls_test PORT NOSAN_PORT STALL_PORT
DIR`; sanitizer reports fail the run. Stdlib + openssl.
"""
import os
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "http_client"))
import test_http_client as base  # noqa: E402


def openssl(d, *args):
    subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True)


def make_pki(d):
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    for ca in ("ca", "wrongca"):
        openssl(d, "req", "-x509", *ec, "-keyout", ca + ".key", "-out", ca + ".crt", "-days", "2",
                "-subj", "/CN=libdapr test " + ca)
    for name, san in (("server", "IP:127.0.0.1,DNS:localhost"), ("nosan", "DNS:example.com")):
        openssl(d, "req", *ec, "-keyout", name + ".key", "-out", name + ".csr", "-subj", "/CN=" + name)
        with open(os.path.join(d, name + ".ext"), "w") as f:
            f.write("subjectAltName=%s\nextendedKeyUsage=serverAuth\n" % san)
        openssl(d, "x509", "-req", "-in", name + ".csr", "-CA", "ca.crt", "-CAkey", "ca.key",
                "-CAcreateserial", "-out", name + ".crt", "-days", "2", "-extfile", name + ".ext")


class TlsPeer(base.Peer):
    def __init__(self, d, name):
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(os.path.join(d, name + ".crt"), os.path.join(d, name + ".key"))
        super().__init__()

    def serve(self, s):
        s.settimeout(30)
        try:
            s = self.ctx.wrap_socket(s, server_side=True)
        except (OSError, ssl.SSLError):
            s.close()
            return
        super().serve(s)


def stall_listener():
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(16)
    held = []

    def loop():
        while True:
            try:
                c, _ = ls.accept()
            except OSError:
                return
            held.append(c)  # never answered, closed at the end
    threading.Thread(target=loop, daemon=True).start()
    return ls, held


def main():
    exe = sys.argv[1]
    with tempfile.TemporaryDirectory(prefix="libdapr-hctls-") as d:
        make_pki(d)
        peer, nosan = TlsPeer(d, "server"), TlsPeer(d, "nosan")
        ls, held = stall_listener()
        t0 = time.monotonic()
        try:
            p = subprocess.run([exe, str(peer.port), str(nosan.port), str(ls.getsockname()[1]), d],
                               capture_output=True, timeout=200)
            out, err, rc = p.stdout.decode(), p.stderr.decode(errors="replace"), p.returncode
        except subprocess.TimeoutExpired as e:
            out = (e.stdout or b"").decode()
            err = (e.stderr or b"").decode(errors="replace")
            rc = "timeout"
        sys.stdout.write(out)
        if err:
            sys.stdout.write("--- stderr ---\n" + err[-20000:])
        bad = "ERROR: AddressSanitizer" in err or "runtime error:" in err or "LeakSanitizer" in err
        print("tls run: exit %s in %.1fs" % (rc, time.monotonic() - t0))
        for c in held:
            c.close()
        ls.close()
        peer.ls.close()
        nosan.ls.close()
        return 0 if rc == 0 and not bad else 1


if __name__ == "__main__":
    sys.exit(main())
