// Cleartext HTTP/2 on daprd's HTTP API port, as Dapr serves it: Node's own
// http2 client (prior knowledge) and curl (the HTTP/1.1 "Upgrade: h2c"
// handshake) against the same routes the HTTP/1.1 tests use.
"use strict";
const { describe, it, before, after } = require("node:test");
const assert = require("node:assert/strict");
const http2 = require("node:http2");
const { execFile } = require("node:child_process");
const { startDaprd } = require("../sdk/harness");

const mem = { name: "statestore", type: "state.in-memory" };

function session(port) {
  const s = http2.connect(`http://127.0.0.1:${port}`);
  s.on("error", () => {});
  return s;
}

// One request on a session; resolves {status, headers, body}.
function req(s, method, path, { body, headers = {} } = {}) {
  return new Promise((resolve, reject) => {
    const st = s.request({ ":method": method, ":path": path, ...headers });
    const chunks = [];
    let h;
    st.on("response", (hd) => { h = hd; });
    st.on("data", (c) => chunks.push(c));
    st.on("end", () => resolve({ status: h[":status"], headers: h, body: Buffer.concat(chunks).toString() }));
    st.on("error", reject);
    st.setTimeout(10000, () => { st.close(); reject(new Error(`timeout ${method} ${path}`)); });
    if (body !== undefined) st.end(body); else st.end();
  });
}

function curl(args) {
  return new Promise((resolve, reject) => {
    execFile("curl", ["-sS", "--max-time", "10", ...args], (err, stdout, stderr) => {
      if (err) reject(new Error(`curl ${args.join(" ")}: ${stderr || err.message}`));
      else resolve(stdout);
    });
  });
}

describe("h2c on the HTTP API port", () => {
  let d, s;
  before(async () => {
    d = await startDaprd({ appId: "h2capp", components: [mem], args: ["--max-body-size", "64Ki"] });
    s = session(d.httpPort);
  });
  after(async () => {
    s.close();
    const r = await d.stop();
    assert.equal(r.code, 0, "daprd exits cleanly");
  });

  it("serves state save, get with etag and delete with prior knowledge", async () => {
    const json = { "content-type": "application/json" };
    let r = await req(s, "POST", "/v1.0/state/statestore",
      { body: JSON.stringify([{ key: "k1", value: { a: 1 } }]), headers: json });
    assert.equal(r.status, 204, r.body);
    r = await req(s, "GET", "/v1.0/state/statestore/k1");
    assert.equal(r.status, 200);
    assert.deepEqual(JSON.parse(r.body), { a: 1 });
    assert.equal(r.headers.etag, "1");
    assert.equal(r.headers["content-type"], "application/json");
    r = await req(s, "DELETE", "/v1.0/state/statestore/k1", { headers: { "if-match": "7" } });
    assert.equal(r.status, 409);
    assert.equal(JSON.parse(r.body).errorCode, "ERR_STATE_DELETE");
    r = await req(s, "DELETE", "/v1.0/state/statestore/k1", { headers: { "if-match": "1" } });
    assert.equal(r.status, 204);
    r = await req(s, "GET", "/v1.0/state/statestore/k1");
    assert.equal(r.status, 204);
  });

  it("multiplexes 100 concurrent requests on one connection", async () => {
    await req(s, "POST", "/v1.0/state/statestore",
      { body: JSON.stringify([{ key: "m", value: "v" }]) });
    const all = await Promise.all(Array.from({ length: 100 }, (_, i) =>
      req(s, "GET", i % 2 ? "/v1.0/state/statestore/m" : "/v1.0/metadata")));
    all.forEach((r, i) => {
      assert.equal(r.status, 200);
      if (i % 2) assert.equal(r.body, '"v"');
      else assert.equal(JSON.parse(r.body).id, "h2capp");
    });
  });

  it("answers health, query strings and unknown routes like HTTP/1.1", async () => {
    assert.equal((await req(s, "GET", "/v1.0/healthz")).status, 204);
    assert.equal((await req(s, "GET", "/v1.0/healthz/outbound")).status, 204);
    const r = await req(s, "GET", "/v1.0/state/nosuch/k?metadata.x=1");
    assert.equal(r.status, 400);
    assert.equal(JSON.parse(r.body).errorCode, "ERR_STATE_STORE_NOT_FOUND");
    assert.equal((await req(s, "GET", "/v1.0/nothing-here")).status, 404);
  });

  it("refuses a body over --max-body-size with 413 and keeps the connection", async () => {
    const r = await req(s, "POST", "/v1.0/state/statestore", { body: "x".repeat(70 * 1024) });
    assert.equal(r.status, 413);
    assert.equal((await req(s, "GET", "/v1.0/healthz")).status, 204);
  });

  it("rejects malformed JSON with ERR_MALFORMED_REQUEST", async () => {
    const r = await req(s, "POST", "/v1.0/state/statestore", { body: "{nope" });
    assert.equal(r.status, 400);
    assert.equal(JSON.parse(r.body).errorCode, "ERR_MALFORMED_REQUEST");
  });

  it("survives a client that resets streams and one that sends a broken preface", async () => {
    for (let i = 0; i < 20; i++) {
      const st = s.request({ ":method": "POST", ":path": "/v1.0/state/statestore" });
      st.on("error", () => {});
      st.write("[{\"key\":");
      st.close(http2.constants.NGHTTP2_CANCEL);
    }
    const net = require("node:net");
    await new Promise((resolve) => {
      const c = net.connect(d.httpPort, "127.0.0.1", () => c.write("PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n\0\0"));
      c.on("data", () => {});
      c.on("close", resolve);
      c.on("error", resolve);
      c.setTimeout(5000, () => { c.destroy(); resolve(); });
    });
    assert.equal((await req(s, "GET", "/v1.0/healthz")).status, 204);
  });

  it("switches with Upgrade: h2c (curl --http2), with and without a body", async () => {
    const base = `http://127.0.0.1:${d.httpPort}`;
    let out = await curl(["--http2", "-X", "POST", "-H", "content-type: application/json",
      "-d", JSON.stringify([{ key: "up", value: "grade" }]), "-w", "%{http_code} %{http_version}",
      `${base}/v1.0/state/statestore`]);
    assert.equal(out, "204 2");
    out = await curl(["--http2", "-w", " %{http_code} %{http_version}", `${base}/v1.0/state/statestore/up`]);
    assert.equal(out, '"grade" 200 2');
    out = await curl(["--http2-prior-knowledge", "-w", " %{http_code} %{http_version}",
      `${base}/v1.0/state/statestore/up`]);
    assert.equal(out, '"grade" 200 2');
  });
});

describe("h2c with an API token", () => {
  let d, s;
  before(async () => {
    d = await startDaprd({ appId: "h2ctok", components: [mem], env: { DAPR_API_TOKEN: "sekret" } });
    s = session(d.httpPort);
  });
  after(async () => {
    s.close();
    assert.equal((await d.stop()).code, 0);
  });

  it("needs dapr-api-token except on the healthz paths", async () => {
    let r = await req(s, "GET", "/v1.0/state/statestore/x");
    assert.equal(r.status, 401);
    assert.equal(r.body, "invalid api token\n"); // Dapr answers with Go's http.Error text
    assert.match(r.headers["content-type"], /^text\/plain/);
    r = await req(s, "GET", "/v1.0/state/statestore/x", { headers: { "dapr-api-token": "wrong" } });
    assert.equal(r.status, 401);
    r = await req(s, "GET", "/v1.0/state/statestore/x", { headers: { "dapr-api-token": "sekret" } });
    assert.equal(r.status, 204);
    assert.equal((await req(s, "GET", "/v1.0/healthz")).status, 204);
    r = await req(s, "GET", "/v1.0/metadata?x=/v1.0/healthz");
    assert.equal(r.status, 401);
  });
});

describe("h2c with CORS (--allowed-origins)", () => {
  let d, s;
  before(async () => {
    d = await startDaprd({ appId: "h2ccors", components: [mem],
      args: ["--allowed-origins", "http://good.example"] });
    s = session(d.httpPort);
  });
  after(async () => {
    s.close();
    assert.equal((await d.stop()).code, 0);
  });

  it("answers preflights and adds Access-Control-Allow-Origin for allowed origins only", async () => {
    let r = await req(s, "OPTIONS", "/v1.0/state/statestore", { headers: {
      origin: "http://good.example", "access-control-request-method": "POST",
      "access-control-request-headers": "content-type" } });
    assert.equal(r.status, 204);
    assert.equal(r.headers["access-control-allow-origin"], "http://good.example");
    assert.match(r.headers["access-control-allow-methods"], /POST/);
    assert.equal(r.headers["access-control-allow-headers"], "content-type");
    r = await req(s, "GET", "/v1.0/metadata", { headers: { origin: "http://good.example" } });
    assert.equal(r.status, 200);
    assert.equal(r.headers["access-control-allow-origin"], "http://good.example");
    r = await req(s, "GET", "/v1.0/metadata", { headers: { origin: "http://evil.example" } });
    assert.equal(r.status, 200);
    assert.equal(r.headers["access-control-allow-origin"], undefined);
    r = await req(s, "OPTIONS", "/v1.0/metadata", { headers: {
      origin: "http://evil.example", "access-control-request-method": "GET" } });
    assert.equal(r.status, 204);
    assert.equal(r.headers["access-control-allow-origin"], undefined);
  });
});
