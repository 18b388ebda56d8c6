// Service invocation of a gRPC app written with the official SDK's
// DaprServer (communicationProtocol GRPC), called through our daprd by the
// SDK's DaprClient over HTTP (/v1.0/invoke) and over gRPC (InvokeService).
"use strict";
const { describe, it, before, after } = require("node:test");
const assert = require("node:assert/strict");
const { DaprClient, DaprServer, CommunicationProtocolEnum, HttpMethod } = require("@dapr/dapr");
const { startDaprd, freePort, waitFor } = require("./harness");

const APP = "invapp";

describe("invoking a gRPC app (DaprServer over gRPC)", () => {
  let daprd, server, appPort, seen = [];
  before(async () => {
    appPort = await freePort();
    daprd = await startDaprd({ appId: APP, components: [],
      args: ["--app-port", String(appPort), "--app-protocol", "grpc"],
      env: { APP_API_TOKEN: "app-secret" } });
    server = new DaprServer({
      serverHost: "127.0.0.1", serverPort: String(appPort),
      communicationProtocol: CommunicationProtocolEnum.GRPC,
      clientOptions: { daprHost: "127.0.0.1", daprPort: String(daprd.grpcPort),
        communicationProtocol: CommunicationProtocolEnum.GRPC },
      logger: { level: 0 },
    });
    await server.invoker.listen("hello", async (req) => {
      seen.push(req);
      return { got: req.body, query: req.query || "", ct: req.metadata.contentType };
    }, { method: HttpMethod.POST });
    await server.invoker.listen("orders/list", async (req) => ({ query: req.query || "" }),
      { method: HttpMethod.GET });
    await server.start();
  });
  after(async () => {
    // daprd first: the app's server.stop() (Node's http2 server.close) waits
    // for its open sessions, and daprd's connection to the app is one.
    if (daprd) assert.equal((await daprd.stop()).code, 0);
    if (server) await server.stop();
  });

  for (const proto of ["HTTP", "GRPC"]) {
    it(`reaches the app from DaprClient over ${proto}`, async () => {
      const client = new DaprClient({ daprHost: "127.0.0.1",
        daprPort: String(proto === "GRPC" ? daprd.grpcPort : daprd.httpPort),
        communicationProtocol: CommunicationProtocolEnum[proto], logger: { level: 0 } });
      try {
        const r = await client.invoker.invoke(APP, "hello", HttpMethod.POST, { n: 42, s: "x" });
        assert.deepEqual(JSON.parse(r.got), { n: 42, s: "x" });
        assert.equal(r.ct, "application/json");
        const l = await client.invoker.invoke(APP, "orders/list", HttpMethod.GET);
        assert.deepEqual(l, { query: "" });
      } finally {
        await client.stop();
      }
    });
  }

  it("passes the query string, the verb and the body through /v1.0/invoke", async () => {
    const base = `http://127.0.0.1:${daprd.httpPort}/v1.0/invoke/${APP}/method`;
    let r = await fetch(`${base}/orders/list?page=2&sort=asc`);
    assert.equal(r.status, 200);
    assert.deepEqual(await r.json(), { query: "page=2&sort=asc" });
    r = await fetch(`${base}/hello`, { method: "POST", body: "plain text", headers: { "content-type": "text/plain" } });
    assert.equal(r.status, 200);
    const j = await r.json();
    assert.equal(j.got, "plain text");
    assert.equal(j.ct, "text/plain");
    // the dapr-app-id header routes any path to the app
    r = await fetch(`http://127.0.0.1:${daprd.httpPort}/orders/list?x=1`, { headers: { "dapr-app-id": APP } });
    assert.equal(r.status, 200);
    assert.deepEqual(await r.json(), { query: "x=1" });
  });

  it("answers a method the app does not handle with the app's (empty) answer", async () => {
    const r = await fetch(`http://127.0.0.1:${daprd.httpPort}/v1.0/invoke/${APP}/method/nothing`);
    assert.equal(r.status, 200);
    assert.equal(await r.text(), "");
  });

  it("refuses an unknown app id with ERR_DIRECT_INVOKE, and no app id at all", async () => {
    let r = await fetch(`http://127.0.0.1:${daprd.httpPort}/v1.0/invoke/nosuchapp/method/hello`);
    assert.equal(r.status, 500);
    assert.equal((await r.json()).errorCode, "ERR_DIRECT_INVOKE");
    r = await fetch(`http://127.0.0.1:${daprd.httpPort}/v1.0/invoke//method/hello`);
    assert.equal(r.status, 404);
  });
});

describe("invoking an HTTP app (DaprServer over HTTP)", () => {
  let daprd, server, appPort;
  before(async () => {
    appPort = await freePort();
    daprd = await startDaprd({ appId: "httpapp", components: [],
      args: ["--app-port", String(appPort)] });
    server = new DaprServer({
      serverHost: "127.0.0.1", serverPort: String(appPort),
      communicationProtocol: CommunicationProtocolEnum.HTTP,
      clientOptions: { daprHost: "127.0.0.1", daprPort: String(daprd.httpPort) },
      logger: { level: 0 },
    });
    await server.invoker.listen("hello", async (req) => ({ got: req.body, query: req.query }),
      { method: HttpMethod.POST });
    await server.invoker.listen("items/list", async (req) => ({ query: req.query }),
      { method: HttpMethod.GET });
    await server.start();
  });
  after(async () => {
    if (daprd) assert.equal((await daprd.stop()).code, 0);
    if (server) await server.stop();
  });

  it("turns ready (GET /v1.0/healthz 204) once the app listens", async () => {
    await waitFor("healthz 204", async () =>
      (await fetch(`http://127.0.0.1:${daprd.httpPort}/v1.0/healthz`)).status === 204, 5000);
    assert.match(daprd.logs(), new RegExp(`application discovered on port ${appPort}`));
  });

  for (const proto of ["HTTP", "GRPC"]) {
    it(`reaches the app from DaprClient over ${proto}`, async () => {
      const client = new DaprClient({ daprHost: "127.0.0.1",
        daprPort: String(proto === "GRPC" ? daprd.grpcPort : daprd.httpPort),
        communicationProtocol: CommunicationProtocolEnum[proto], logger: { level: 0 } });
      try {
        // the SDK's HTTP server hands the handler the raw body text and the URL
        const r = await client.invoker.invoke("httpapp", "hello", HttpMethod.POST, { n: 7 });
        assert.deepEqual(JSON.parse(r.got), { n: 7 });
        const l = await client.invoker.invoke("httpapp", "items/list", HttpMethod.GET);
        assert.equal(l.query, "/items/list");
      } finally {
        await client.stop();
      }
    });
  }

  it("passes status, headers, query and body through, both ways", async () => {
    const base = `http://127.0.0.1:${daprd.httpPort}/v1.0/invoke/httpapp/method`;
    let r = await fetch(`${base}/items/list?page=3&tag=a&tag=b`);
    assert.equal(r.status, 200);
    assert.equal((await r.json()).query, "/items/list?page=3&tag=a&tag=b");
    r = await fetch(`${base}/hello`, { method: "POST", body: JSON.stringify({ k: "v" }),
      headers: { "content-type": "application/json" } });
    assert.equal(r.status, 200);
    assert.deepEqual(JSON.parse((await r.json()).got), { k: "v" });
    r = await fetch(`${base}/not-registered`);
    assert.equal(r.status, 404, "the app's own 404 comes back");
  });
});

describe("invoking an app that is not listening", () => {
  it("fails with ERR_DIRECT_INVOKE (HTTP 500, gRPC INTERNAL)", async () => {
    const appPort = await freePort();
    const daprd = await startDaprd({ appId: "downapp", components: [],
      args: ["--app-port", String(appPort), "--app-protocol", "grpc"] });
    try {
      const r = await fetch(`http://127.0.0.1:${daprd.httpPort}/v1.0/invoke/downapp/method/x`, { method: "POST" });
      assert.equal(r.status, 500);
      const e = await r.json();
      assert.equal(e.errorCode, "ERR_DIRECT_INVOKE");
      assert.match(e.message, /^failed to invoke, id: downapp, err: /);
      const client = new DaprClient({ daprHost: "127.0.0.1", daprPort: String(daprd.grpcPort),
        communicationProtocol: CommunicationProtocolEnum.GRPC, logger: { level: 0 } });
      try {
        await assert.rejects(client.invoker.invoke("downapp", "x", HttpMethod.POST, { a: 1 }),
          (err) => err.code === 13 && /failed to invoke, id: downapp/.test(err.message));
      } finally {
        await client.stop();
      }
    } finally {
      assert.equal((await daprd.stop()).code, 0);
    }
  });
});

// A raw @grpc/grpc-js app (our own .proto files) to see exactly what daprd
// sends: the caller's headers as metadata, never the caller's dapr-api-token
// (CVE-2024-35223), APP_API_TOKEN as dapr-api-token, dapr-caller-app-id.
describe("what a gRPC app receives", () => {
  const path = require("node:path");
  const grpc = require("@grpc/grpc-js");
  const protoLoader = require("@grpc/proto-loader");
  const root = path.join(__dirname, "../../proto");
  const def = protoLoader.loadSync(path.join(root, "dapr/proto/runtime/v1/appcallback.proto"),
    { includeDirs: [root], keepCase: true, longs: String, enums: String, defaults: true });
  const AppCallback = grpc.loadPackageDefinition(def).dapr.proto.runtime.v1.AppCallback;

  it("gets filtered metadata, the app token, the caller id, verb, query and body", async () => {
    let got;
    const srv = new grpc.Server();
    srv.addService(AppCallback.service, {
      OnInvoke(call, cb) {
        got = { md: call.metadata.getMap(), req: call.request };
        cb(null, { data: { type_url: "", value: Buffer.from("pong") }, content_type: "text/plain" });
      },
    });
    const appPort = await new Promise((res, rej) => srv.bindAsync("127.0.0.1:0",
      grpc.ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))));
    const daprd = await startDaprd({ appId: "rawapp", components: [],
      args: ["--app-port", String(appPort), "--app-protocol", "grpc"],
      env: { APP_API_TOKEN: "app-secret", DAPR_API_TOKEN: "caller-secret" } });
    try {
      const r = await fetch(`http://127.0.0.1:${daprd.httpPort}/v1.0/invoke/rawapp/method/ping/sub?a=1&b=2`, {
        method: "PUT", body: "ping-body",
        headers: { "dapr-api-token": "caller-secret", "x-trace-me": "yes", "content-type": "text/plain" } });
      assert.equal(r.status, 200);
      assert.equal(await r.text(), "pong");
      assert.match(r.headers.get("content-type"), /^text\/plain/);
      assert.equal(got.req.method, "ping/sub");
      assert.equal(got.req.http_extension.verb, "PUT");
      assert.equal(got.req.http_extension.querystring, "a=1&b=2");
      assert.equal(got.req.content_type, "text/plain");
      assert.equal(Buffer.from(got.req.data.value).toString(), "ping-body");
      assert.equal(got.md["x-trace-me"], "yes");
      assert.equal(got.md["dapr-api-token"], "app-secret", "APP_API_TOKEN, not the caller's token");
      assert.equal(got.md["dapr-caller-app-id"], "rawapp");
      assert.equal(got.md["dapr-callee-app-id"], "rawapp");
      // an error status from the app: passed through over HTTP as Dapr renders it
      srv.removeService(AppCallback.service);
      srv.addService(AppCallback.service, {
        OnInvoke(call, cb) { cb({ code: grpc.status.NOT_FOUND, details: "no such order" }); },
      });
      const e = await fetch(`http://127.0.0.1:${daprd.httpPort}/v1.0/invoke/rawapp/method/x`,
        { headers: { "dapr-api-token": "caller-secret" } });
      assert.equal(e.status, 404);
      assert.deepEqual(await e.json(), { code: 5, message: "no such order", details: [] });
    } finally {
      assert.equal((await daprd.stop()).code, 0);
      srv.forceShutdown();
    }
  });
});

// A plain Node http app: exactly what daprd sends an HTTP app and passes back.
describe("what an HTTP app receives and returns", () => {
  const http = require("node:http");
  it("gets the verb, path, query, headers (no caller token) and body; its answer comes back", async () => {
    let got, configReads = 0;
    const app = http.createServer((req, res) => {
      const chunks = [];
      req.on("data", (c) => chunks.push(c));
      req.on("end", () => {
        if (req.url === "/dapr/config") {
          configReads++;
          res.writeHead(200, { "content-type": "application/json" });
          res.end(JSON.stringify({ entities: [] }));
          return;
        }
        got = { method: req.method, url: req.url, headers: req.headers, body: Buffer.concat(chunks).toString() };
        res.writeHead(req.url.startsWith("/gone") ? 410 : 201,
          { "content-type": "application/x-custom", "x-app-header": "from-app" });
        res.end("app-body");
      });
    });
    await new Promise((r) => app.listen(0, "127.0.0.1", r));
    const appPort = app.address().port;
    const daprd = await startDaprd({ appId: "rawhttp", components: [],
      args: ["--app-port", String(appPort)],
      env: { APP_API_TOKEN: "app-secret", DAPR_API_TOKEN: "caller-secret" } });
    try {
      const base = `http://127.0.0.1:${daprd.httpPort}/v1.0/invoke/rawhttp/method`;
      let r = await fetch(`${base}/orders/42?expand=1`, { method: "PATCH", body: "patch-body",
        headers: { "dapr-api-token": "caller-secret", "x-trace-me": "yes", "content-type": "text/plain" } });
      assert.equal(r.status, 201);
      // daprd read the app's configuration once after discovering it
      await waitFor("GET /dapr/config", async () => configReads === 1, 5000);
      assert.match(daprd.logs(), /application configuration loaded/);
      assert.equal(r.headers.get("content-type"), "application/x-custom");
      assert.equal(r.headers.get("x-app-header"), "from-app");
      assert.equal(await r.text(), "app-body");
      assert.equal(got.method, "PATCH");
      assert.equal(got.url, "/orders/42?expand=1");
      assert.equal(got.body, "patch-body");
      assert.equal(got.headers["content-type"], "text/plain");
      assert.equal(got.headers["x-trace-me"], "yes");
      assert.equal(got.headers["dapr-api-token"], "app-secret", "APP_API_TOKEN, never the caller's");
      assert.equal(got.headers["dapr-caller-app-id"], "rawhttp");
      r = await fetch(`${base}/gone`, { headers: { "dapr-api-token": "caller-secret" } });
      assert.equal(r.status, 410, "the app's status passes through");
      assert.equal(got.method, "GET");
      assert.equal(got.body, "");
      // encoded "../" is resolved before the app sees the method (CVE-2026-41491)
      r = await fetch(`${base}/public%2F..%2F..%2F..%2Fadmin%2F.%2Fusers`,
        { headers: { "dapr-api-token": "caller-secret" } });
      assert.equal(r.status, 201);
      assert.equal(got.url, "/admin/users");
    } finally {
      assert.equal((await daprd.stop()).code, 0);
      await new Promise((r) => app.close(r));
    }
  });
});

describe("--app-max-concurrency", () => {
  const http = require("node:http");
  it("bounds the calls in flight to the app; excess calls wait, none is dropped", async () => {
    let inFlight = 0, maxSeen = 0, served = 0;
    const app = http.createServer((req, res) => {
      if (req.url === "/dapr/config") { res.writeHead(404); res.end(); return; }
      inFlight++;
      maxSeen = Math.max(maxSeen, inFlight);
      setTimeout(() => { inFlight--; served++; res.end("ok"); }, 50);
    });
    await new Promise((r) => app.listen(0, "127.0.0.1", r));
    const daprd = await startDaprd({ appId: "slowapp", components: [],
      args: ["--app-port", String(app.address().port), "--app-max-concurrency", "2"] });
    try {
      const rs = await Promise.all(Array.from({ length: 10 }, () =>
        fetch(`http://127.0.0.1:${daprd.httpPort}/v1.0/invoke/slowapp/method/work`)));
      for (const r of rs) assert.equal(r.status, 200);
      assert.equal(served, 10);
      assert.equal(maxSeen, 2);
    } finally {
      assert.equal((await daprd.stop()).code, 0);
      await new Promise((r) => app.close(r));
    }
  });
});

describe("resiliency policies on app calls", () => {
  const http = require("node:http");
  const fs = require("node:fs");
  const os = require("node:os");
  const path = require("node:path");

  function resiliencyDir(appId) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "libdapr-resil-"));
    fs.writeFileSync(path.join(dir, "resiliency.yaml"), `apiVersion: dapr.io/v1alpha1
kind: Resiliency
metadata:
  name: appresiliency
spec:
  policies:
    timeouts:
      short: 300ms
    retries:
      three:
        policy: constant
        duration: 50ms
        maxRetries: 3
    circuitBreakers:
      twoStrikes:
        maxRequests: 1
        timeout: 1s
        trip: consecutiveFailures >= 2
  targets:
    apps:
      ${appId}-retry:
        retry: three
      ${appId}-cb:
        circuitBreaker: twoStrikes
      ${appId}-slow:
        timeout: short
`);
    return dir;
  }

  async function withApp(handler, appId, fn) {
    // GET /dapr/config (read once at discovery) is not part of what we count
    const app = http.createServer((req, res) => {
      if (req.url === "/dapr/config") { res.writeHead(404); res.end(); return; }
      handler(req, res);
    });
    await new Promise((r) => app.listen(0, "127.0.0.1", r));
    const dir = resiliencyDir(appId.replace(/-(retry|cb|slow)$/, ""));
    const daprd = await startDaprd({ appId, components: [],
      args: ["--app-port", String(app.address().port), "--resources-path", dir] });
    try {
      await fn(`http://127.0.0.1:${daprd.httpPort}/v1.0/invoke/${appId}/method`);
    } finally {
      assert.equal((await daprd.stop()).code, 0);
      await new Promise((r) => app.close(r));
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }

  it("retries a failing app call (constant, maxRetries 3) until it succeeds", async () => {
    let calls = 0;
    await withApp((req, res) => {
      calls++;
      res.writeHead(calls < 3 ? 500 : 200);
      res.end(calls < 3 ? "boom" : "finally");
    }, "resil-retry", async (base) => {
      const r = await fetch(`${base}/flaky`, { method: "POST", body: "payload" });
      assert.equal(r.status, 200);
      assert.equal(await r.text(), "finally");
      assert.equal(calls, 3, "the app saw the two failures and the success");
      calls = -100; // now it always fails: 1 try + 3 retries, then the app's 500 comes back
      const f = await fetch(`${base}/flaky`, { method: "POST" });
      assert.equal(f.status, 500);
      assert.equal(calls, -96);
    });
  });

  it("retries a large streamed (chunked) body: each attempt gets the whole body", async () => {
    const crypto = require("node:crypto");
    const sizes = [];
    const big = crypto.randomBytes(3 * 1024 * 1024 + 11);
    await withApp((req, res) => {
      let n = 0;
      const h = crypto.createHash("sha256");
      req.on("data", (d) => { n += d.length; h.update(d); });
      req.on("end", () => {
        sizes.push([n, h.digest("hex")]);
        res.writeHead(sizes.length < 2 ? 503 : 200);
        res.end(String(n));
      });
    }, "resil-retry", async (base) => {
      // a ReadableStream body: fetch sends it chunked, so daprd streams it in
      const body = new ReadableStream({ start(c) { for (let o = 0; o < big.length; o += 100000) c.enqueue(big.subarray(o, o + 100000)); c.close(); } });
      const r = await fetch(`${base}/upload`, { method: "POST", body, duplex: "half" });
      assert.equal(r.status, 200);
      assert.equal(await r.text(), String(big.length));
      const want = crypto.createHash("sha256").update(big).digest("hex");
      assert.deepEqual(sizes, [[big.length, want], [big.length, want]]);
    });
  });

  it("starts with a bad Resiliency resource, logs it, and calls go on without it", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "libdapr-resil-bad-"));
    fs.writeFileSync(path.join(dir, "bad.yaml"), `apiVersion: dapr.io/v1alpha1
kind: Resiliency
metadata:
  name: broken
spec:
  policies:
    retries:
      one: {policy: constant, duration: 10ms, maxRetries: 1}
  targets:
    apps:
      somebody:
        retry: nosuchpolicy
`);
    let calls = 0;
    const app = http.createServer((req, res) => {
      if (req.url === "/dapr/config") { res.writeHead(404); res.end(); return; }
      calls++; res.end("fine");
    });
    await new Promise((r) => app.listen(0, "127.0.0.1", r));
    const daprd = await startDaprd({ appId: "resil-bad", args: ["--app-port", String(app.address().port), "--resources-path", dir] });
    try {
      const r = await fetch(`http://127.0.0.1:${daprd.httpPort}/v1.0/invoke/resil-bad/method/x`);
      assert.equal(r.status, 200);
      assert.equal(await r.text(), "fine");
      assert.match(daprd.logs(), /failed to load resiliency.*nosuchpolicy/);
    } finally {
      assert.equal((await daprd.stop()).code, 0);
      await new Promise((r) => app.close(r));
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("opens the circuit breaker after two failures, fails fast, then half-opens", async () => {
    let calls = 0, fail = true;
    await withApp((req, res) => {
      calls++;
      res.writeHead(fail ? 500 : 200);
      res.end(fail ? "down" : "up");
    }, "resil-cb", async (base) => {
      assert.equal((await fetch(`${base}/x`)).status, 500);
      assert.equal((await fetch(`${base}/x`)).status, 500);
      assert.equal(calls, 2);
      const r = await fetch(`${base}/x`);
      assert.equal(r.status, 500);
      const e = await r.json();
      assert.equal(e.errorCode, "ERR_DIRECT_INVOKE");
      assert.match(e.message, /circuit breaker is open/);
      assert.equal(calls, 2, "an open breaker does not call the app");
      fail = false;
      await new Promise((res) => setTimeout(res, 1100));
      const ok = await fetch(`${base}/x`);
      assert.equal(ok.status, 200, "half-open lets one call through, it succeeds, the breaker closes");
      assert.equal(calls, 3);
      assert.equal((await fetch(`${base}/x`)).status, 200);
    });
  });

  it("times an app call out after the policy's timeout", async () => {
    await withApp((req, res) => { setTimeout(() => res.end("late"), 1500); },
      "resil-slow", async (base) => {
        const t = Date.now();
        const r = await fetch(`${base}/slow`);
        const took = Date.now() - t;
        assert.equal(r.status, 500);
        assert.match((await r.json()).message, /deadline exceeded|timed out/);
        assert.ok(took < 1400, `answered after ${took} ms`);
      });
  });
});

describe("HTTPEndpoint resources and URLs as the app id", () => {
  const http = require("node:http");
  const fs = require("node:fs");
  const os = require("node:os");
  const path = require("node:path");
  it("calls an external HTTP service by endpoint name (with its headers) and by URL", async () => {
    let got;
    const ext = http.createServer((req, res) => {
      got = { url: req.url, headers: req.headers, method: req.method };
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ external: true }));
    });
    await new Promise((r) => ext.listen(0, "127.0.0.1", r));
    const port = ext.address().port;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "libdapr-ep-"));
    fs.writeFileSync(path.join(dir, "endpoint.yaml"), `apiVersion: dapr.io/v1alpha1
kind: HTTPEndpoint
metadata:
  name: weather
spec:
  baseUrl: http://127.0.0.1:${port}/api/v2
  headers:
  - name: "Accept-Language"
    value: "en-US"
  - name: "X-From-Env"
    envRef: "EP_TEST_HEADER"
---
apiVersion: dapr.io/v1alpha1
kind: HTTPEndpoint
metadata:
  name: notforus
spec:
  baseUrl: http://127.0.0.1:${port}
scopes:
  - someotherapp
`);
    let daprd;
    try {
      daprd = await startDaprd({ appId: "epcaller", components: [],
        args: ["--resources-path", dir], env: { EP_TEST_HEADER: "from-env" } });
      let r = await fetch(`http://127.0.0.1:${daprd.httpPort}/v1.0/invoke/weather/method/forecast?city=Oslo`);
      assert.equal(r.status, 200);
      assert.deepEqual(await r.json(), { external: true });
      assert.equal(got.url, "/api/v2/forecast?city=Oslo");
      assert.equal(got.headers["accept-language"], "en-US");
      assert.equal(got.headers["x-from-env"], "from-env");
      // a fully qualified URL as the app id, raw and percent-encoded
      r = await fetch(`http://127.0.0.1:${daprd.httpPort}/v1.0/invoke/http://127.0.0.1:${port}/method/direct/call`,
        { method: "POST", body: "x" });
      assert.equal(r.status, 200);
      assert.equal(got.url, "/direct/call");
      assert.equal(got.method, "POST");
      r = await fetch(`http://127.0.0.1:${daprd.httpPort}/v1.0/invoke/${encodeURIComponent(`http://127.0.0.1:${port}`)}/method/enc`);
      assert.equal(r.status, 200);
      assert.equal(got.url, "/enc");
      // the metadata API lists the endpoints in scope
      const md = await (await fetch(`http://127.0.0.1:${daprd.httpPort}/v1.0/metadata`)).json();
      assert.deepEqual(md.httpEndpoints, [{ name: "weather" }]);
      // an endpoint scoped to another app is not ours
      r = await fetch(`http://127.0.0.1:${daprd.httpPort}/v1.0/invoke/notforus/method/x`);
      assert.equal(r.status, 500);
      assert.equal((await r.json()).errorCode, "ERR_DIRECT_INVOKE");
      // the SDK's invoker reaches the endpoint too
      const c = new DaprClient({ daprHost: "127.0.0.1", daprPort: String(daprd.grpcPort),
        communicationProtocol: CommunicationProtocolEnum.GRPC, logger: { level: 0 } });
      try {
        const v = await c.invoker.invoke("weather", "today", HttpMethod.GET);
        assert.deepEqual(v, { external: true });
        assert.equal(got.url, "/api/v2/today");
      } finally {
        await c.stop();
      }
    } finally {
      if (daprd) assert.equal((await daprd.stop()).code, 0);
      await new Promise((r) => ext.close(r));
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
