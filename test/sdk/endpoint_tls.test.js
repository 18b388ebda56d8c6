// HTTPS for HTTPEndpoint resources (spec.clientTLS: rootCA, certificate,
// privateKey) through our daprd, called by the official SDK's DaprClient
// over HTTP and gRPC. A throwaway PKI is made at test time with the openssl
// CLI (a CA, a server certificate for IP 127.0.0.1, a client certificate,
// and an unrelated CA); the external services are Node https servers, one
// of them requiring a client certificate (mTLS).
"use strict";
const { describe, it, before, after } = require("node:test");
const assert = require("node:assert/strict");
const { execFileSync } = require("node:child_process");
const crypto = require("node:crypto");
const fs = require("node:fs");
const http = require("node:http");
const https = require("node:https");
const net = require("node:net");
const os = require("node:os");
const path = require("node:path");
const { DaprClient, CommunicationProtocolEnum, HttpMethod } = require("@dapr/dapr");
const { startDaprd } = require("./harness");

const MB = 1024 * 1024;
const PROTOS = ["HTTP", "GRPC"];

function openssl(dir, ...args) {
  execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
}

// ca, wrongca: self-signed CAs; server (IP:127.0.0.1) and client certs from ca.
function makePki(dir) {
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
  for (const ca of ["ca", "wrongca"])
    openssl(dir, "req", "-x509", ...ec, "-keyout", `${ca}.key`, "-out", `${ca}.crt`, "-days", "2",
      "-subj", `/CN=libdapr test ${ca}`);
  const leaf = (name, key, ext) => {
    openssl(dir, "req", ...key, "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${name}`);
    fs.writeFileSync(path.join(dir, `${name}.ext`), ext);
    openssl(dir, "x509", "-req", "-in", `${name}.csr`, "-CA", "ca.crt", "-CAkey", "ca.key",
      "-CAcreateserial", "-out", `${name}.crt`, "-days", "2", "-extfile", `${name}.ext`);
  };
  leaf("server", ec, "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n");
  // the client key is RSA, to cover both key types
  leaf("client", ["-newkey", "rsa:2048", "-nodes"], "extendedKeyUsage=clientAuth\n");
  const read = (f) => fs.readFileSync(path.join(dir, f), "utf8");
  return { ca: read("ca.crt"), wrongca: read("wrongca.crt"), serverCrt: read("server.crt"),
    serverKey: read("server.key"), clientCrt: read("client.crt"), clientKey: read("client.key") };
}

const indent = (pem, n) => pem.trim().split("\n").map((l) => " ".repeat(n) + l).join("\n");
function tlsDoc(key, pem) {
  return pem ? `    ${key}:\n      value: |\n${indent(pem, 8)}\n` : "";
}
function endpointYaml(name, baseUrl, { ca, cert, key, headers = [], extra = "" } = {}) {
  const h = headers.map(([k, v]) => `  - name: ${k}\n    value: ${JSON.stringify(v)}`).join("\n");
  const tls = tlsDoc("rootCA", ca) + tlsDoc("certificate", cert) + tlsDoc("privateKey", key) + extra;
  return `apiVersion: dapr.io/v1alpha1
kind: HTTPEndpoint
metadata:
  name: ${name}
spec:
  baseUrl: ${baseUrl}
${h ? `  headers:\n${h}\n` : ""}${tls ? `  clientTLS:\n${tls}` : ""}`;
}

// An https server that answers JSON about the request (or echoes its body
// for /echo, or sends n bytes for /gen?n=), counting TLS connections.
async function startHttps(opts) {
  const st = { conns: 0, reqs: [] };
  const srv = https.createServer(opts, (req, res) => {
    const chunks = [];
    req.on("data", (d) => chunks.push(d));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      const u = new URL(req.url, "https://x");
      const peer = req.socket.getPeerCertificate();
      st.reqs.push({ url: req.url, method: req.method, headers: req.headers, len: body.length });
      if (u.pathname.endsWith("/echo")) {
        res.writeHead(200, { "content-type": req.headers["content-type"] || "application/octet-stream" });
        res.end(body);
        return;
      }
      if (u.pathname.endsWith("/gen")) {
        const n = Number(u.searchParams.get("n"));
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ s: "g".repeat(n) }));
        return;
      }
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ url: req.url, method: req.method, len: body.length,
        sha: crypto.createHash("sha256").update(body).digest("hex"),
        peer: peer && peer.subject ? peer.subject.CN : null, proto: req.socket.getProtocol() }));
    });
  });
  srv.on("secureConnection", () => { st.conns++; });
  srv.on("tlsClientError", () => {});
  await new Promise((r) => srv.listen(0, "127.0.0.1", r));
  st.port = srv.address().port;
  st.close = () => { srv.closeAllConnections(); return new Promise((r) => srv.close(r)); };
  return st;
}

function client(daprd, proto) {
  return new DaprClient({ daprHost: "127.0.0.1",
    daprPort: String(proto === "GRPC" ? daprd.grpcPort : daprd.httpPort),
    communicationProtocol: CommunicationProtocolEnum[proto], logger: { level: 0 },
    maxBodySizeMb: 32 });
}

// The SDK's error for a failed call, as text (HTTP: JSON body in the
// message; gRPC: status details).
const errText = (e) => `${e && e.message} ${JSON.stringify(e)}`;

describe("HTTPEndpoint over https (clientTLS)", () => {
  let dir, pki, plain, mtls, resetSrv, notTls, daprd;
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "libdapr-tls-"));
    pki = makePki(dir);
    plain = await startHttps({ key: pki.serverKey, cert: pki.serverCrt });
    mtls = await startHttps({ key: pki.serverKey, cert: pki.serverCrt, ca: [pki.ca],
      requestCert: true, rejectUnauthorized: true });
    // a peer that drops every connection at once (close mid-handshake)
    resetSrv = net.createServer((s) => s.destroy());
    await new Promise((r) => resetSrv.listen(0, "127.0.0.1", r));
    // a plain HTTP server where TLS is expected
    notTls = http.createServer((q, s) => s.end("hi"));
    await new Promise((r) => notTls.listen(0, "127.0.0.1", r));
    const res = path.join(dir, "res");
    fs.mkdirSync(res);
    const base = `https://127.0.0.1:${plain.port}`;
    fs.writeFileSync(path.join(res, "endpoints.yaml"), [
      endpointYaml("secure", `${base}/api/v1`, { ca: pki.ca,
        headers: [["X-Api-Key", "k-123"], ["Accept-Language", "nb-NO"]] }),
      endpointYaml("wrongca", base, { ca: pki.wrongca }),
      endpointYaml("mtls", `https://127.0.0.1:${mtls.port}`, { ca: pki.ca, cert: pki.clientCrt,
        key: pki.clientKey, extra: "    renegotiation: RenegotiateOnceAsClient\n" }),
      endpointYaml("nocert", `https://127.0.0.1:${mtls.port}`, { ca: pki.ca }),
      endpointYaml("reset", `https://127.0.0.1:${resetSrv.address().port}`, { ca: pki.ca }),
      endpointYaml("nottls", `https://127.0.0.1:${notTls.address().port}`, { ca: pki.ca }),
    ].join("---\n"));
    daprd = await startDaprd({ appId: "tlscaller", args: ["--resources-path", res,
      "--max-body-size", "32Mi"] });
  });
  after(async () => {
    if (daprd) assert.equal((await daprd.stop()).code, 0);
    for (const s of [plain, mtls]) if (s) await s.close();
    for (const s of [resetSrv, notTls]) if (s) await new Promise((r) => s.close(r));
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  for (const proto of PROTOS) {
    it(`calls an https endpoint trusted through rootCA, with its headers (${proto})`, async () => {
      const c = client(daprd, proto);
      try {
        const before = plain.reqs.length;
        const r = await c.invoker.invoke("secure", "orders/list", HttpMethod.POST, { n: 1 });
        assert.equal(r.url, "/api/v1/orders/list");
        assert.equal(r.method, "POST");
        assert.equal(r.proto, "TLSv1.2");
        assert.equal(r.len, JSON.stringify({ n: 1 }).length);
        const seen = plain.reqs[before];
        assert.equal(seen.headers["x-api-key"], "k-123");
        assert.equal(seen.headers["accept-language"], "nb-NO");
        const g = await c.invoker.invoke("secure", "ping", HttpMethod.GET);
        assert.equal(g.url, "/api/v1/ping");
      } finally {
        await c.stop();
      }
    });

    it(`fails fast with a clear error when the CA does not match (${proto})`, async () => {
      const c = client(daprd, proto);
      try {
        const t = Date.now();
        await assert.rejects(c.invoker.invoke("wrongca", "x", HttpMethod.GET), (e) => {
          const s = errText(e);
          assert.match(s, /failed to invoke/);
          assert.match(s, /x509 certificate verify failed: The certificate is not correctly signed by the trusted CA/);
          return true;
        });
        assert.ok(Date.now() - t < 5000);
      } finally {
        await c.stop();
      }
    });

    it(`presents the client certificate to an mTLS server (${proto})`, async () => {
      const c = client(daprd, proto);
      try {
        const r = await c.invoker.invoke("mtls", "who", HttpMethod.POST, { a: "b" });
        assert.equal(r.peer, "client");
        assert.equal(r.url, "/who");
      } finally {
        await c.stop();
      }
    });

    it(`is refused by the mTLS server without a client certificate (${proto})`, async () => {
      const c = client(daprd, proto);
      try {
        await assert.rejects(c.invoker.invoke("nocert", "who", HttpMethod.GET), (e) => {
          assert.match(errText(e), /failed to invoke.*TLS handshake failed: the server sent alert/);
          return true;
        });
      } finally {
        await c.stop();
      }
    });

    it(`carries 5 MB both ways over TLS (${proto})`, async () => {
      const c = client(daprd, proto);
      try {
        const big = crypto.randomBytes(5 * MB / 2).toString("hex"); // 5 MB of text
        const r = await c.invoker.invoke("secure", "sum", HttpMethod.POST, { big });
        const sent = Buffer.from(JSON.stringify({ big }));
        assert.equal(r.len, sent.length);
        assert.equal(r.sha, crypto.createHash("sha256").update(sent).digest("hex"));
        const g = await c.invoker.invoke("secure", `gen?n=${5 * MB}`, HttpMethod.GET);
        assert.equal(g.s.length, 5 * MB);
        assert.ok(/^g+$/.test(g.s));
      } finally {
        await c.stop();
      }
    });
  }

  it("reuses TLS connections (keep-alive): fewer handshakes than requests", async () => {
    const c = client(daprd, "HTTP");
    try {
      const conns = plain.conns, reqs = plain.reqs.length;
      for (let i = 0; i < 10; i++) {
        const r = await c.invoker.invoke("secure", `seq/${i}`, HttpMethod.GET);
        assert.equal(r.url, `/api/v1/seq/${i}`);
      }
      assert.equal(plain.reqs.length - reqs, 10);
      assert.ok(plain.conns - conns <= 1, `${plain.conns - conns} new TLS connections for 10 calls`);
      // concurrent calls: bounded by the number in flight, then reused
      await Promise.all(Array.from({ length: 8 }, (_, i) =>
        c.invoker.invoke("secure", `par/${i}`, HttpMethod.GET)));
      const before = plain.conns;
      for (let i = 0; i < 8; i++) await c.invoker.invoke("secure", `again/${i}`, HttpMethod.GET);
      assert.equal(plain.conns, before, "pooled TLS connections were not reused");
    } finally {
      await c.stop();
    }
  });

  it("reports peers that drop the connection or do not speak TLS", async () => {
    const u = `http://127.0.0.1:${daprd.httpPort}/v1.0/invoke`;
    let r = await fetch(`${u}/reset/method/x`);
    assert.equal(r.status, 500);
    let e = await r.json();
    assert.equal(e.errorCode, "ERR_DIRECT_INVOKE");
    assert.match(e.message, /TLS handshake with 127\.0\.0\.1:\d+: (connection closed by the server|connection reset by peer)/);
    r = await fetch(`${u}/nottls/method/x`);
    assert.equal(r.status, 500);
    e = await r.json();
    assert.match(e.message, /TLS handshake failed/);
  });

  it("verifies an https URL used as the app id against the system CAs", async () => {
    // our test CA is not in the system store: refused, not silently trusted
    const id = encodeURIComponent(`https://127.0.0.1:${plain.port}`);
    const r = await fetch(`http://127.0.0.1:${daprd.httpPort}/v1.0/invoke/${id}/method/x`);
    assert.equal(r.status, 500);
    const e = await r.json();
    assert.equal(e.errorCode, "ERR_DIRECT_INVOKE");
    assert.match(e.message, /x509 certificate verify failed/);
  });
});

describe("HTTPEndpoint clientTLS refused at load", () => {
  const cases = [
    ["a secretKeyRef", `  clientTLS:\n    rootCA:\n      secretKeyRef:\n        name: s\n        key: ca\n`,
      /httpendpoint bad: spec\.clientTLS\.rootCA\.secretKeyRef is not supported yet/],
    ["a PEM that does not parse", `  clientTLS:\n    rootCA:\n      value: "hello"\n`,
      /httpendpoint bad: spec\.clientTLS: rootCA: no PEM certificate/],
    ["a certificate without its key", null, /certificate is given without privateKey/],
    ["an unknown renegotiation", `  clientTLS:\n    renegotiation: Sometimes\n`,
      /renegotiation must be RenegotiateNever/],
  ];
  for (const [what, tls, re] of cases) {
    it(`refuses ${what}, naming the resource`, async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "libdapr-tlsbad-"));
      try {
        let spec = tls;
        if (spec === null) {
          const pki = makePki(dir);
          spec = `  clientTLS:\n${tlsDoc("certificate", pki.clientCrt)}`;
        }
        fs.writeFileSync(path.join(dir, "bad.yaml"), `apiVersion: dapr.io/v1alpha1
kind: HTTPEndpoint
metadata:
  name: bad
spec:
  baseUrl: https://127.0.0.1:1
${spec}`);
        await assert.rejects(startDaprd({ appId: "tlsbad", args: ["--resources-path", dir] }),
          (e) => { assert.match(e.message, /daprd exited early/); assert.match(e.message, re); return true; });
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
