// Sidecar to sidecar: apps written with the official SDK call each other
// through two (and three) of our daprd, found by mDNS on loopback with no
// configuration, over HTTP and gRPC on both ends.
"use strict";
const { describe, it, before, after } = require("node:test");
const assert = require("node:assert/strict");
const { DaprClient, DaprServer, CommunicationProtocolEnum, HttpMethod } = require("@dapr/dapr");
const { startDaprd, freePort, waitFor } = require("./harness");

// Unique app ids: several test runs on one machine share the mDNS group.
const tag = `${process.pid}${Date.now() % 100000}`;
const A = `alpha${tag}`, B = `beta${tag}`, C = `gamma${tag}`;

async function appServer(proto, daprd, appPort, name) {
  const server = new DaprServer({
    serverHost: "127.0.0.1", serverPort: String(appPort),
    communicationProtocol: CommunicationProtocolEnum[proto],
    clientOptions: { daprHost: "127.0.0.1",
      daprPort: String(proto === "GRPC" ? daprd.grpcPort : daprd.httpPort),
      communicationProtocol: CommunicationProtocolEnum[proto] },
    logger: { level: 0 },
  });
  await server.invoker.listen("whoami", async (req) => ({ me: name, body: req.body }),
    { method: HttpMethod.POST });
  await server.start();
  return server;
}

describe("two sidecars: an HTTP app and a gRPC app calling each other", () => {
  const procs = [], servers = [];
  let dA, dB;
  before(async () => {
    const pa = await freePort(), pb = await freePort();
    dA = await startDaprd({ appId: A, components: [], args: ["--app-port", String(pa)] });
    dB = await startDaprd({ appId: B, components: [],
      args: ["--app-port", String(pb), "--app-protocol", "grpc"] });
    procs.push(dA, dB);
    servers.push(await appServer("HTTP", dA, pa, "A"), await appServer("GRPC", dB, pb, "B"));
  });
  after(async () => {
    for (const d of procs) assert.equal((await d.stop()).code, 0);
    for (const s of servers) await s.stop();
  });

  for (const proto of ["HTTP", "GRPC"]) {
    it(`A's DaprClient over ${proto} reaches B (gRPC app) and B's reaches A (HTTP app)`, async () => {
      const cA = new DaprClient({ daprHost: "127.0.0.1", logger: { level: 0 },
        daprPort: String(proto === "GRPC" ? dA.grpcPort : dA.httpPort),
        communicationProtocol: CommunicationProtocolEnum[proto] });
      const cB = new DaprClient({ daprHost: "127.0.0.1", logger: { level: 0 },
        daprPort: String(proto === "GRPC" ? dB.grpcPort : dB.httpPort),
        communicationProtocol: CommunicationProtocolEnum[proto] });
      try {
        const r1 = await cA.invoker.invoke(B, "whoami", HttpMethod.POST, { from: "A" });
        assert.equal(r1.me, "B");
        assert.deepEqual(JSON.parse(r1.body), { from: "A" });
        const r2 = await cB.invoker.invoke(A, "whoami", HttpMethod.POST, { from: "B" });
        assert.equal(r2.me, "A");
        assert.deepEqual(JSON.parse(r2.body), { from: "B" });
      } finally {
        await cA.stop();
        await cB.stop();
      }
    });
  }

  it("passes the target app's status, headers and body back, and delivers the caller id", async () => {
    // a plain Node http app behind a third sidecar, called from A's sidecar
    const http = require("node:http");
    let got;
    const app = http.createServer((req, res) => {
      if (req.url === "/dapr/config") { res.writeHead(404); res.end(); return; }
      const chunks = [];
      req.on("data", (c) => chunks.push(c));
      req.on("end", () => {
        got = { method: req.method, url: req.url, headers: req.headers, body: Buffer.concat(chunks).toString() };
        res.writeHead(418, { "content-type": "text/x-teapot", "x-from-d": "yes" });
        res.end("short and stout");
      });
    });
    await new Promise((r) => app.listen(0, "127.0.0.1", r));
    const D = `delta${tag}`;
    const dD = await startDaprd({ appId: D, components: [], args: ["--app-port", String(app.address().port)] });
    try {
      const r = await fetch(`http://127.0.0.1:${dA.httpPort}/v1.0/invoke/${D}/method/brew/now?cups=2`,
        { method: "PUT", body: "raw bytes", headers: { "content-type": "text/plain", "x-custom": "1" } });
      assert.equal(r.status, 418);
      assert.equal(r.headers.get("content-type"), "text/x-teapot");
      assert.equal(r.headers.get("x-from-d"), "yes");
      assert.equal(await r.text(), "short and stout");
      assert.equal(got.method, "PUT");
      assert.equal(got.url, "/brew/now?cups=2");
      assert.equal(got.body, "raw bytes");
      assert.equal(got.headers["content-type"], "text/plain");
      assert.equal(got.headers["x-custom"], "1");
      assert.equal(got.headers["dapr-caller-app-id"], A, "the caller's app id reaches the target");
      assert.equal(got.headers["dapr-callee-app-id"], D);
    } finally {
      assert.equal((await dD.stop()).code, 0);
      await new Promise((r) => app.close(r));
    }
  });

  it("answers ERR_DIRECT_INVOKE for an app id nobody serves", async () => {
    const r = await fetch(`http://127.0.0.1:${dA.httpPort}/v1.0/invoke/nobody${tag}/method/x`);
    assert.equal(r.status, 500);
    const e = await r.json();
    assert.equal(e.errorCode, "ERR_DIRECT_INVOKE");
    assert.match(e.message, new RegExp(`failed to invoke, id: nobody${tag}, err: failed to resolve address`));
  });
});

describe("two instances of one app id share the calls (mDNS, round robin)", () => {
  it("spreads calls over both instances, and keeps working when one stops", async () => {
    const p1 = await freePort(), p2 = await freePort();
    const d1 = await startDaprd({ appId: C, components: [], args: ["--app-port", String(p1)] });
    const d2 = await startDaprd({ appId: C, components: [], args: ["--app-port", String(p2)] });
    const dc = await startDaprd({ appId: `caller${tag}`, components: [] });
    const s1 = await appServer("HTTP", d1, p1, "one");
    const s2 = await appServer("HTTP", d2, p2, "two");
    try {
      const seen = new Set();
      await waitFor("both instances to answer", async () => {
        const r = await fetch(`http://127.0.0.1:${dc.httpPort}/v1.0/invoke/${C}/method/whoami`, { method: "POST" });
        if (r.status === 200) seen.add((await r.json()).me);
        return seen.size === 2;
      }, 10000);
      assert.deepEqual([...seen].sort(), ["one", "two"]);
      // one instance goes away (its sidecar says goodbye): the other takes every call
      assert.equal((await d2.stop()).code, 0);
      await waitFor("calls to land on the remaining instance", async () => {
        const r = await fetch(`http://127.0.0.1:${dc.httpPort}/v1.0/invoke/${C}/method/whoami`, { method: "POST" });
        return r.status === 200 && (await r.json()).me === "one";
      }, 5000);
      for (let i = 0; i < 5; i++) {
        const r = await fetch(`http://127.0.0.1:${dc.httpPort}/v1.0/invoke/${C}/method/whoami`, { method: "POST" });
        assert.equal(r.status, 200);
        assert.equal((await r.json()).me, "one");
      }
    } finally {
      for (const d of [d1, dc]) assert.equal((await d.stop()).code, 0);
      await s1.stop();
      await s2.stop();
    }
  });
});
