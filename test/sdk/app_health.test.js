// App health checks (--enable-app-health-check): a raw Node HTTP app whose
// /healthz answers 200, 500 or hangs on demand; daprd probes it every
// second (timeout 200 ms, threshold 2) and logs the transitions.
"use strict";
const { describe, it, before, after } = require("node:test");
const assert = require("node:assert/strict");
const http = require("node:http");
const grpc = require("@grpc/grpc-js");
const { startDaprd, freePort, waitFor } = require("./harness");

const UNHEALTHY = "App entered an unhealthy state";
const HEALTHY = "App entered a healthy state";
const count = (s, what) => s.split(what).length - 1;

describe("app health checks (HTTP app)", () => {
  let daprd, app, appPort, mode = "ok", probes = 0;
  before(async () => {
    appPort = await freePort();
    app = http.createServer((req, res) => {
      if (req.url === "/work") { res.end("done"); return; }
      if (req.url !== "/healthz") { res.statusCode = 404; res.end(); return; }
      probes++;
      if (mode === "ok") { res.end("ok"); return; }
      if (mode === "fail") { res.statusCode = 500; res.end("failing"); return; }
      // hang: answer 200, but long after the probe timeout
      setTimeout(() => { if (!res.destroyed) res.end("late"); }, 1500);
    });
    await new Promise((r) => app.listen(appPort, "127.0.0.1", r));
    daprd = await startDaprd({ appId: "healthapp", args: ["--app-port", String(appPort),
      "--enable-app-health-check", "--app-health-probe-interval", "1",
      "--app-health-probe-timeout", "200", "--app-health-threshold", "2"] });
  });
  after(async () => {
    if (daprd && daprd.proc.exitCode === null) await daprd.stop();
    if (app) { app.closeAllConnections(); await new Promise((r) => app.close(r)); }
  });

  it("logs the unhealthy and healthy transitions, counts a hung probe as failed", async () => {
    const logs = () => daprd.logs();
    // healthy app: probes succeed, no transition logged
    await waitFor("two probes", () => probes >= 2, 10000);
    assert.equal(count(logs(), UNHEALTHY), 0, logs());
    assert.equal(count(logs(), HEALTHY), 0, logs());

    const work = () => fetch(`http://127.0.0.1:${daprd.httpPort}/v1.0/invoke/healthapp/method/work`);
    assert.equal((await work()).status, 200);
    mode = "fail";
    await waitFor("the unhealthy transition", () => count(logs(), UNHEALTHY) === 1, 10000);
    // as Dapr: invocations of an unhealthy app end in the sidecar
    const refused = await work();
    assert.equal(refused.status, 500);
    assert.match((await refused.json()).message, /app is not healthy/);
    mode = "ok";
    await waitFor("the healthy transition", () => count(logs(), HEALTHY) === 1, 10000);
    assert.equal((await work()).status, 200);

    // a probe that answers 200 only after 1.5 s (timeout 200 ms) is a failure
    mode = "hang";
    await waitFor("the unhealthy transition (timeouts)", () => count(logs(), UNHEALTHY) === 2, 10000);
    assert.match(logs(), /App health probe failed \(\d+\/2\): timed out/);
    mode = "ok";
    await waitFor("the healthy transition again", () => count(logs(), HEALTHY) === 2, 10000);
    assert.equal(count(logs(), UNHEALTHY), 2);

    // GET /v1.0/healthz is still the sidecar's own health
    const r = await fetch(`http://127.0.0.1:${daprd.httpPort}/v1.0/healthz`);
    assert.equal(r.status, 204);

    // stop while probing: daprd exits cleanly
    mode = "hang";
    await new Promise((res) => setTimeout(res, 1100));
    assert.equal((await daprd.stop()).code, 0);
  });
});

describe("app health checks (gRPC app)", () => {
  let daprd, server, mode = "ok", probes = 0;
  const id = (b) => b;
  before(async () => {
    const appPort = await freePort();
    server = new grpc.Server();
    server.addService({
      HealthCheck: { path: "/dapr.proto.runtime.v1.AppCallbackHealthCheck/HealthCheck",
        requestStream: false, responseStream: false, requestSerialize: id,
        requestDeserialize: id, responseSerialize: id, responseDeserialize: id },
    }, {
      HealthCheck: (call, cb) => {
        probes++;
        if (mode === "ok") cb(null, Buffer.alloc(0));
        else cb({ code: grpc.status.UNAVAILABLE, details: "not now" });
      },
    });
    await new Promise((res, rej) => server.bindAsync(`127.0.0.1:${appPort}`,
      grpc.ServerCredentials.createInsecure(), (e) => (e ? rej(e) : res())));
    daprd = await startDaprd({ appId: "healthgrpc", args: ["--app-port", String(appPort),
      "--app-protocol", "grpc", "--enable-app-health-check", "--app-health-probe-interval", "1",
      "--app-health-probe-timeout", "200", "--app-health-threshold", "2"] });
  });
  after(async () => {
    if (daprd && daprd.proc.exitCode === null) await daprd.stop();
    if (server) server.forceShutdown();
  });

  it("probes AppCallbackHealthCheck/HealthCheck and logs the transitions", async () => {
    const logs = () => daprd.logs();
    await waitFor("two probes", () => probes >= 2, 10000);
    assert.equal(count(logs(), UNHEALTHY), 0, logs());
    mode = "fail";
    await waitFor("the unhealthy transition", () => count(logs(), UNHEALTHY) === 1, 10000);
    mode = "ok";
    await waitFor("the healthy transition", () => count(logs(), HEALTHY) === 1, 10000);
    assert.equal((await daprd.stop()).code, 0);
  });
});
