// Actor resiliency (a Resiliency resource's targets.actors.<type>) through
// daprd with the real placement binary and a raw Node http actor app
// (actors_rawapp.js): the timeout ends a slow method's call for the caller
// while the turn stays taken until the app is done (no overlap after it);
// retries retry the app's error answers (not 404), a breaker scoped by id
// opens after N failures and answers at once, closes again after its
// timeout; a type without a policy is never retried.
"use strict";
const { describe, it, before, after } = require("node:test");
const assert = require("node:assert/strict");
const { spawn } = require("node:child_process");
const path = require("node:path");
const grpc = require("@grpc/grpc-js");
const protoLoader = require("@grpc/proto-loader");
const { startRedis, freePort, waitFor, sleep, DAPRD } = require("./harness");
const { Sidecar } = require("./redis_util");
const { startActorApp, overlaps } = require("./actors_rawapp");
const PLACEMENT = process.env.PLACEMENT || path.join(path.dirname(DAPRD), "placement");

const RESILIENCY = `apiVersion: dapr.io/v1alpha1
kind: Resiliency
metadata:
  name: actors
spec:
  policies:
    timeouts:
      quick: 500ms
    retries:
      thrice:
        policy: constant
        duration: 100ms
        maxRetries: 2
    circuitBreakers:
      trip3:
        maxRequests: 1
        timeout: 2s
        trip: consecutiveFailures > 2
  targets:
    actors:
      Timed:
        timeout: quick
      Flaky:
        retry: thrice
        circuitBreaker: trip3
        circuitBreakerScope: id
`;

const CONFIG = { entities: ["Timed", "Flaky", "Plain"], actorIdleTimeout: "1h" };

describe("actor resiliency policies (raw app, placement)", () => {
  let redis, placement, app, d, g;
  before(async () => {
    redis = await startRedis();
    const placementPort = await freePort();
    placement = spawn(PLACEMENT, ["--port", String(placementPort), "--healthz-port",
      String(await freePort())], { stdio: "ignore" });
    app = await startActorApp(CONFIG);
    d = new Sidecar({ appId: "resactors", appPort: app.port, resources: RESILIENCY,
      components: [{ name: "actorstore", type: "state.redis",
        metadata: { redisHost: `127.0.0.1:${redis.port}`, actorStateStore: "true" } }],
      args: ["--placement-host-address", `127.0.0.1:${placementPort}`] });
    await d.start();
    await waitFor("actor types reported", async () => {
      const m = await (await fetch(`http://127.0.0.1:${d.httpPort}/v1.0/metadata`)).json();
      return m.actorRuntime?.placement === "placement: connected" &&
        (m.actorRuntime?.activeActors || []).some((x) => x.type === "Timed");
    }, 20000);
    const def = protoLoader.loadSync("dapr/proto/runtime/v1/dapr.proto",
      { includeDirs: [path.join(__dirname, "../../proto"), "/usr/include"], keepCase: true,
        enums: String, defaults: true, oneofs: true });
    const Dapr = grpc.loadPackageDefinition(def).dapr.proto.runtime.v1.Dapr;
    g = new Dapr(`127.0.0.1:${d.grpcPort}`, grpc.credentials.createInsecure());
  });
  after(async () => {
    g?.close();
    if (d) assert.equal((await d.stop()).code, 0, d.logs());
    if (app) await app.stop();
    if (redis) await redis.stop();
    if (placement) placement.kill("SIGTERM");
  });

  const invoke = async (type, id, method, body) => {
    const t0 = Date.now();
    const r = await fetch(`http://127.0.0.1:${d.httpPort}/v1.0/actors/${type}/${id}/method/${method}`,
      { method: "PUT", body: body === undefined ? undefined : String(body) });
    const text = await r.text();
    return { status: r.status, text, json: (() => { try { return JSON.parse(text); } catch { return null; } })(),
      ms: Date.now() - t0 };
  };

  it("a timeout ends the call for the caller; the turn waits for the app (no overlap)", async () => {
    app.log.length = 0;
    const first = invoke("Timed", "a", "slow", 1500);
    await sleep(50);
    const second = invoke("Timed", "a", "slow", 100); // queued behind the first
    const other = invoke("Timed", "b", "slow", 100);  // another id: not blocked
    const r1 = await first;
    assert.equal(r1.status, 500, r1.text);
    assert.equal(r1.json.errorCode, "ERR_ACTOR_INVOKE_METHOD");
    assert.match(r1.json.message, /deadline exceeded/);
    assert.ok(r1.ms >= 450 && r1.ms < 1300, `answered at the 500 ms timeout (${r1.ms} ms)`);
    const r2 = await second, r3 = await other;
    assert.equal(r2.status, 200, r2.text);
    assert.equal(r3.status, 200, r3.text);
    assert.ok(r3.ms < 1000, `another id is not held up (${r3.ms} ms)`);
    assert.equal(overlaps(app.log), null, "two calls of one id overlapped");
    const enters = app.log.filter((e) => e.ev === "enter" && e.id === "a");
    const exits = app.log.filter((e) => e.ev === "exit" && e.id === "a");
    assert.equal(enters.length, 2);
    assert.equal(exits.length, 2);
    // the second call entered only after the slow one exited
    const slowExit = exits[0].t;
    assert.ok(enters[1].t >= slowExit, "the next call waited for the timed-out one");
  });

  it("retries the app's error answers, not 404; no retries without a policy", async () => {
    const f = await invoke("Flaky", "flip", "flip", 2);
    assert.equal(f.status, 200, f.text);
    assert.deepEqual(f.json, { n: 3 });
    assert.equal(app.calls("Flaky", "flip", "flip").length, 3);
    const nf = await invoke("Flaky", "nf", "missing");
    assert.equal(nf.status, 500);
    assert.match(nf.json.message, /actor method not found/);
    assert.equal(app.calls("Flaky", "nf", "missing").length, 1, "404 is not retried");
    const p = await invoke("Plain", "p", "fail");
    assert.equal(p.status, 500);
    assert.match(p.json.message, /error from actor service: \(500\) boom/);
    await sleep(300);
    assert.equal(app.calls("Plain", "p", "fail").length, 1, "no policy: one attempt");
  });

  it("the breaker opens after 3 failures of one id, answers at once, closes after its timeout", async () => {
    const r1 = await invoke("Flaky", "x", "fail");
    assert.equal(r1.status, 500);
    assert.match(r1.json.message, /\(500\) boom/);
    assert.equal(app.calls("Flaky", "x", "fail").length, 3, "1 + 2 retries");
    const r2 = await invoke("Flaky", "x", "echo");
    assert.equal(r2.status, 500);
    assert.equal(r2.json.errorCode, "ERR_ACTOR_INVOKE_METHOD");
    assert.match(r2.json.message, /circuit breaker is open/);
    assert.equal(app.calls("Flaky", "x", "echo").length, 0, "the open breaker stops the call");
    // gRPC InvokeActor sees the same breaker
    await assert.rejects(new Promise((res, rej) => g.InvokeActor({ actor_type: "Flaky", actor_id: "x",
      method: "echo" }, (e, r) => (e ? rej(e) : res(r)))), (e) => e.code === grpc.status.INTERNAL &&
      /circuit breaker is open/.test(e.details));
    // scope id: another id of the type is not affected
    const y = await invoke("Flaky", "y", "echo");
    assert.equal(y.status, 200, y.text);
    // after the breaker's timeout (2 s) it lets a call through and closes
    await sleep(2200);
    const r3 = await invoke("Flaky", "x", "echo");
    assert.equal(r3.status, 200, r3.text);
    const r4 = await invoke("Flaky", "x", "echo");
    assert.equal(r4.status, 200, r4.text);
  });
});
