// Large bodies through service invocation: streamed both ways, in bounded
// memory (issue 4: "a 100 MB body goes through with bounded memory").
// A raw Node HTTP app echoes what it reads as it reads it, or generates a
// large answer; curl-like Node clients talk to daprd; the peak RSS of each
// daprd (VmHWM from /proc) is checked against the body size.
"use strict";
const { describe, it, before, after } = require("node:test");
const assert = require("node:assert/strict");
const http = require("node:http");
const crypto = require("node:crypto");
const fs = require("node:fs");
const { freePort, startDaprd, waitFor } = require("./harness");
const { DaprClient, CommunicationProtocolEnum } = require("@dapr/dapr");

const MB = 1024 * 1024;
const BIG = 100 * MB;
// ASan keeps freed blocks in a quarantine (256 MB by default), which would
// make every process look like it holds its whole history; a small one
// shows what daprd really keeps.
const env = {
  ASAN_OPTIONS: [process.env.ASAN_OPTIONS, "quarantine_size_mb=8"].filter(Boolean).join(":"),
};
const limits = ["--max-body-size", "256Mi"];
// Peak RSS growth allowed while 100 MB pass: buffering would cost at least
// the body (the old path ~3x); what streaming holds is a few windows and
// queues, plus the allocator's and ASan's own slack under load.
const LIMIT = 56 * MB;

function status(pid) {
  const s = fs.readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (k) => Number((s.match(new RegExp(`^${k}:\\s+(\\d+)`, "m")) || [0, 0])[1]);
  return { rss: kb("VmRSS") * 1024, hwm: kb("VmHWM") * 1024 };
}

// Reset the peak so that VmHWM covers this transfer only.
function resetPeak(pid) {
  try { fs.writeFileSync(`/proc/${pid}/clear_refs`, "5"); return true; } catch { return false; }
}

// A deterministic byte pattern, produced piece by piece.
function pattern(i) {
  const b = Buffer.alloc(64 * 1024);
  for (let k = 0; k < b.length; k += 4) b.writeUInt32LE((i * b.length + k) >>> 0, k);
  return b;
}

function sendBody(port, urlPath, total, { chunked = false, headers = {} } = {}) {
  return new Promise((resolve, reject) => {
    const h = { "content-type": "application/octet-stream", ...headers };
    if (!chunked) h["content-length"] = String(total);
    const req = http.request({ host: "127.0.0.1", port, path: urlPath, method: "POST", headers: h, agent: false }, (res) => {
      const hash = crypto.createHash("sha256");
      let len = 0;
      res.on("data", (d) => { hash.update(d); len += d.length; });
      res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, len, sha: hash.digest("hex") }));
      res.on("error", reject);
    });
    req.on("error", reject);
    const sent = crypto.createHash("sha256");
    let i = 0, off = 0;
    const pump = () => {
      while (off < total) {
        let b = pattern(i++);
        if (b.length > total - off) b = b.subarray(0, total - off);
        off += b.length;
        sent.update(b);
        if (!req.write(b)) { req.once("drain", pump); return; }
      }
      req.sentSha = sent.digest("hex");
      req.end();
    };
    pump();
    req.sentShaP = () => req.sentSha;
    sendBody.last = req;
  });
}

function get(port, urlPath) {
  return new Promise((resolve, reject) => {
    http.get({ host: "127.0.0.1", port, path: urlPath, agent: false }, (res) => {
      const hash = crypto.createHash("sha256");
      let len = 0;
      res.on("data", (d) => { hash.update(d); len += d.length; });
      res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, len, sha: hash.digest("hex") }));
      res.on("error", reject);
    }).on("error", reject);
  });
}

function shaOfPattern(total) {
  const h = crypto.createHash("sha256");
  let i = 0, off = 0;
  while (off < total) {
    let b = pattern(i++);
    if (b.length > total - off) b = b.subarray(0, total - off);
    off += b.length;
    h.update(b);
  }
  return h.digest("hex");
}

// The app: /echo streams the request body back as it arrives (chunked);
// /gen?n=N answers N pattern bytes (chunked, unknown length); /len counts.
function startApp() {
  const seen = [];
  const srv = http.createServer((req, res) => {
    if (req.url === "/dapr/config") { res.writeHead(404); res.end(); return; }
    const u = new URL(req.url, "http://x");
    seen.push({ method: req.method, path: u.pathname, headers: req.headers });
    if (u.pathname === "/echo") {
      res.writeHead(200, { "content-type": req.headers["content-type"] || "application/octet-stream", "x-echo": "1" });
      req.pipe(res);
      return;
    }
    if (u.pathname === "/len") {
      const hash = crypto.createHash("sha256");
      let n = 0;
      req.on("data", (d) => { n += d.length; hash.update(d); });
      req.on("end", () => {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ n, sha: hash.digest("hex"), te: req.headers["transfer-encoding"] || null, cl: req.headers["content-length"] || null }));
      });
      req.on("error", () => {});
      return;
    }
    if (u.pathname === "/gen") {
      const total = Number(u.searchParams.get("n"));
      res.writeHead(200, { "content-type": "application/octet-stream" });
      let i = 0, off = 0;
      const pump = () => {
        while (off < total) {
          let b = pattern(i++);
          if (b.length > total - off) b = b.subarray(0, total - off);
          off += b.length;
          if (!res.write(b)) { res.once("drain", pump); return; }
        }
        res.end();
      };
      pump();
      return;
    }
    res.writeHead(404); res.end();
  });
  return new Promise((resolve) => srv.listen(0, "127.0.0.1", () => resolve({ srv, port: srv.address().port, seen })));
}

describe("large bodies through one daprd (app channel, streamed)", () => {
  let app, d;
  before(async () => {
    app = await startApp();
    d = await startDaprd({ appId: "bigapp", args: ["--app-port", String(app.port), ...limits], env });
  });
  after(async () => {
    if (d) assert.equal((await d.stop()).code, 0);
    if (app) app.srv.close();
  });

  it("echoes a 100 MB request body; daprd's peak RSS stays far below the body size", async () => {
    const base = status(d.proc.pid).rss;
    const peakReset = resetPeak(d.proc.pid);
    const p = sendBody(d.httpPort, "/v1.0/invoke/bigapp/method/echo", BIG);
    const req = sendBody.last;
    const r = await p;
    assert.equal(r.status, 200);
    assert.equal(r.headers["x-echo"], "1");
    assert.equal(r.len, BIG);
    assert.equal(r.sha, req.sentShaP());
    const st = status(d.proc.pid);
    const grown = (peakReset ? st.hwm : st.rss) - base;
    console.log(`daprd RSS before ${(base / MB).toFixed(1)} MB, peak growth ${(grown / MB).toFixed(1)} MB for a ${BIG / MB} MB echo`);
    assert.ok(grown < LIMIT, `daprd grew by ${(grown / MB).toFixed(1)} MB while passing a ${BIG / MB} MB body`);
  });

  it("streams a 100 MB answer of unknown length from the app", async () => {
    const base = status(d.proc.pid).rss;
    const peakReset = resetPeak(d.proc.pid);
    const r = await get(d.httpPort, `/v1.0/invoke/bigapp/method/gen?n=${BIG}`);
    assert.equal(r.status, 200);
    assert.equal(r.len, BIG);
    assert.equal(r.sha, shaOfPattern(BIG));
    const st = status(d.proc.pid);
    const grown = (peakReset ? st.hwm : st.rss) - base;
    assert.ok(grown < LIMIT, `daprd grew by ${(grown / MB).toFixed(1)} MB`);
  });

  it("passes a chunked body of unknown length on, and a small one whole", async () => {
    let r = await sendBody(d.httpPort, "/v1.0/invoke/bigapp/method/len", 3 * MB + 17, { chunked: true });
    let body = JSON.parse(await fetchText(d.httpPort, "/v1.0/invoke/bigapp/method/len", "x".repeat(10)));
    assert.equal(body.n, 10);
    assert.equal(body.cl, "10");
    assert.equal(r.status, 200);
    // the first answer: the app saw every byte, chunked
    const first = await sendBodyJson(d.httpPort, "/v1.0/invoke/bigapp/method/len", 2 * MB + 5, true);
    assert.equal(first.n, 2 * MB + 5);
    assert.equal(first.sha, shaOfPattern(2 * MB + 5));
    assert.equal(first.te, "chunked");
    const known = await sendBodyJson(d.httpPort, "/v1.0/invoke/bigapp/method/len", 2 * MB + 5, false);
    assert.equal(known.n, 2 * MB + 5);
    assert.equal(known.cl, String(2 * MB + 5));
  });

  it("refuses a body over --max-body-size with 413 while streaming, and stays up", async () => {
    const d2 = await startDaprd({ appId: "bigapp2", args: ["--app-port", String(app.port), "--max-body-size", "1Mi"], env });
    try {
      const r = await sendBody(d2.httpPort, "/v1.0/invoke/bigapp2/method/len", 3 * MB, { chunked: true }).catch((e) => ({ error: e }));
      // either a 413 answer or a closed connection once the limit is passed
      if (!r.error) assert.equal(r.status, 413);
      const ok = JSON.parse(await fetchText(d2.httpPort, "/v1.0/invoke/bigapp2/method/len", "abc"));
      assert.equal(ok.n, 3);
    } finally {
      assert.equal((await d2.stop()).code, 0);
    }
  });

  it("survives a client that goes away mid-body", async () => {
    await new Promise((resolve) => {
      const req = http.request({ host: "127.0.0.1", port: d.httpPort, path: "/v1.0/invoke/bigapp/method/echo", method: "POST", agent: false,
        headers: { "content-length": String(50 * MB) } });
      req.on("error", () => resolve());
      req.on("response", (res) => { res.on("data", () => {}); res.on("error", () => resolve()); res.on("close", () => resolve()); });
      req.write(pattern(0));
      req.write(pattern(1), () => setTimeout(() => { req.destroy(); resolve(); }, 200));
    });
    const ok = JSON.parse(await fetchText(d.httpPort, "/v1.0/invoke/bigapp/method/len", "abcd"));
    assert.equal(ok.n, 4);
  });
});

describe("a streamed body and the app's idle keep-alive connections", () => {
  it("does not send a streamed body on a connection idle long enough for the app to drop it", async () => {
    // a raw app that serves one request per connection and then kills the
    // connection on its next request, as a server whose idle timeout hit
    // just when the connection was reused
    const net = require("node:net");
    let conns = 0;
    const app = net.createServer((sock) => {
      conns++;
      let served = false, buf = "";
      sock.on("data", (d) => {
        if (served) { sock.destroy(); return; }
        buf += d.toString("latin1");
        const end = buf.indexOf("\r\n\r\n");
        if (end < 0) return;
        const head = buf.slice(0, end).toLowerCase();
        if (head.startsWith("get /dapr/config")) { sock.end("HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"); return; }
        const chunked = head.includes("transfer-encoding: chunked");
        const m = head.match(/content-length: (\d+)/);
        const body = buf.slice(end + 4);
        if ((chunked && !body.endsWith("0\r\n\r\n")) || (!chunked && m && body.length < Number(m[1]))) return;
        served = true;
        sock.write("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
      });
      sock.on("error", () => {});
    });
    await new Promise((r) => app.listen(0, "127.0.0.1", r));
    const d = await startDaprd({ appId: "idleapp", args: ["--app-port", String(app.address().port), ...limits], env });
    try {
      assert.equal(await fetchText(d.httpPort, "/v1.0/invoke/idleapp/method/small", "x"), "ok");
      await new Promise((r) => setTimeout(r, 1500));
      const r = await sendBody(d.httpPort, "/v1.0/invoke/idleapp/method/big", 300 * 1024, { chunked: true });
      assert.equal(r.status, 200, "the streamed call went on a fresh connection");
      assert.ok(conns >= 2);
    } finally {
      assert.equal((await d.stop()).code, 0);
      app.close();
    }
  });
});

describe("large bodies between two daprd (CallLocalStream)", () => {
  let app, callee, caller;
  before(async () => {
    app = await startApp();
    callee = await startDaprd({ appId: "bigcallee", args: ["--app-port", String(app.port), ...limits], env });
    caller = await startDaprd({ appId: "bigcaller", args: limits, env });
    // mDNS: wait until the caller resolves the callee
    await waitFor("the callee resolvable", async () => {
      try { return JSON.parse(await fetchText(caller.httpPort, "/v1.0/invoke/bigcallee/method/len", "x")).n === 1; } catch { return false; }
    }, 20000);
  });
  after(async () => {
    if (caller) assert.equal((await caller.stop()).code, 0);
    if (callee) assert.equal((await callee.stop()).code, 0);
    if (app) app.srv.close();
  });

  it("echoes 100 MB app → daprd → daprd → app and back, both sidecars in bounded memory", async () => {
    const b1 = status(caller.proc.pid).rss, b2 = status(callee.proc.pid).rss;
    const reset = resetPeak(caller.proc.pid) && resetPeak(callee.proc.pid);
    const p = sendBody(caller.httpPort, "/v1.0/invoke/bigcallee/method/echo", BIG);
    const req = sendBody.last;
    const r = await p;
    assert.equal(r.status, 200);
    assert.equal(r.headers["x-echo"], "1");
    assert.equal(r.len, BIG);
    assert.equal(r.sha, req.sentShaP());
    const s1 = status(caller.proc.pid), s2 = status(callee.proc.pid);
    const g1 = (reset ? s1.hwm : s1.rss) - b1, g2 = (reset ? s2.hwm : s2.rss) - b2;
    console.log(`peak growth: caller ${(g1 / MB).toFixed(1)} MB, callee ${(g2 / MB).toFixed(1)} MB`);
    assert.ok(g1 < LIMIT, `caller daprd grew by ${(g1 / MB).toFixed(1)} MB`);
    assert.ok(g2 < LIMIT, `callee daprd grew by ${(g2 / MB).toFixed(1)} MB`);
    // the app saw the caller's id
    const last = app.seen.filter((s) => s.path === "/echo").pop();
    assert.equal(last.headers["dapr-caller-app-id"], "bigcaller");
  });

  it("streams a generated answer back and passes small calls from the SDK", async () => {
    const r = await get(caller.httpPort, `/v1.0/invoke/bigcallee/method/gen?n=${20 * MB + 3}`);
    assert.equal(r.len, 20 * MB + 3);
    assert.equal(r.sha, shaOfPattern(20 * MB + 3));
    for (const proto of [CommunicationProtocolEnum.HTTP, CommunicationProtocolEnum.GRPC]) {
      const client = new DaprClient({ daprHost: "127.0.0.1",
        daprPort: String(proto === CommunicationProtocolEnum.HTTP ? caller.httpPort : caller.grpcPort), communicationProtocol: proto });
      const res = await client.invoker.invoke("bigcallee", "len", "POST", { hello: "world" });
      assert.equal(res.n, JSON.stringify({ hello: "world" }).length);
      await client.stop();
    }
  });
});

function fetchText(port, urlPath, body) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, path: urlPath, method: "POST", agent: false,
      headers: { "content-type": "text/plain", "content-length": Buffer.byteLength(body) } }, (res) => {
      let s = "";
      res.setEncoding("utf8");
      res.on("data", (d) => { s += d; });
      res.on("end", () => resolve(s));
    });
    req.on("error", reject);
    req.end(body);
  });
}

async function sendBodyJson(port, urlPath, total, chunked) {
  const r = await new Promise((resolve, reject) => {
    const h = { "content-type": "application/octet-stream" };
    if (!chunked) h["content-length"] = String(total);
    const req = http.request({ host: "127.0.0.1", port, path: urlPath, method: "POST", headers: h, agent: false }, (res) => {
      let s = "";
      res.on("data", (d) => { s += d; });
      res.on("end", () => resolve(s));
    });
    req.on("error", reject);
    let i = 0, off = 0;
    const pump = () => {
      while (off < total) {
        let b = pattern(i++);
        if (b.length > total - off) b = b.subarray(0, total - off);
        off += b.length;
        if (!req.write(b)) { req.once("drain", pump); return; }
      }
      req.end();
    };
    pump();
  });
  return JSON.parse(r);
}
