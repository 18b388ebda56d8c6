// Outbound component resiliency (a Resiliency resource's
// targets.components.<name>.outbound) through our daprd with the official SDK
// against a real redis-server: with a retry policy, state saves, reads and
// publishes made while redis-server is down succeed once it is back; the same
// calls on a component without a policy fail at once; a timeout policy ends a
// read that a stopped (SIGSTOP) redis-server never answers, well before the
// component's own readTimeout, and the late answer is dropped safely.
"use strict";
const { describe, it, before, after } = require("node:test");
const assert = require("node:assert/strict");
const { DaprClient, CommunicationProtocolEnum } = require("@dapr/dapr");
const { sleep } = require("./harness");
const { Redis, Sidecar, redisPubsub } = require("./redis_util");

const RESILIENCY = `apiVersion: dapr.io/v1alpha1
kind: Resiliency
metadata:
  name: outbound
spec:
  policies:
    timeouts:
      short: 400ms
    retries:
      steady:
        policy: constant
        duration: 250ms
        maxRetries: 40
  targets:
    components:
      guarded:
        outbound:
          timeout: short
          retry: steady
      psguarded:
        outbound:
          timeout: short
          retry: steady
      stalled:
        outbound:
          timeout: short
`;

function client(sc, proto) {
  return new DaprClient({ daprHost: "127.0.0.1",
    daprPort: String(proto === "GRPC" ? sc.grpcPort : sc.httpPort),
    communicationProtocol: CommunicationProtocolEnum[proto], logger: { level: 0 } });
}

const redisState = (name, port, md = {}) => ({ name, type: "state.redis",
  metadata: { redisHost: `127.0.0.1:${port}`, minRetryBackoff: "50ms", maxRetryBackoff: "200ms", ...md } });

describe("outbound resiliency of components", () => {
  let redis, sc, http, grpc;

  before(async () => {
    redis = await Redis.start();
    sc = new Sidecar({ appId: "resout", resources: RESILIENCY,
      components: [
        redisState("guarded", redis.port),
        redisState("plain", redis.port),
        redisState("stalled", redis.port, { readTimeout: "20s" }),
        redisPubsub("psguarded", redis.port, { minRetryBackoff: "50ms", maxRetryBackoff: "200ms" }),
      ] });
    await sc.start();
    http = client(sc, "HTTP");
    grpc = client(sc, "GRPC");
  });

  after(async () => {
    await http?.stop().catch(() => {});
    await grpc?.stop().catch(() => {});
    await sc?.stop();
    await redis?.stop();
  });

  it("saves and reads through a guarded store as usual", async () => {
    await http.state.save("guarded", [{ key: "a", value: { n: 1 } }]);
    assert.deepEqual(await grpc.state.get("guarded", "a"), { n: 1 });
  });

  it("retries state and publish calls across a redis-server outage", async () => {
    await redis.shutdown();
    // no policy: the first failure is the answer
    const t0 = Date.now();
    const r = await fetch(`http://127.0.0.1:${sc.httpPort}/v1.0/state/plain`, {
      method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify([{ key: "p", value: 1 }]) });
    assert.equal(r.status, 500);
    assert.equal((await r.json()).errorCode, "ERR_STATE_SAVE");
    assert.ok(Date.now() - t0 < 2000, `unguarded save took ${Date.now() - t0} ms`);

    // guarded: in flight while redis is down, answered after it is back
    const save = http.state.save("guarded", [{ key: "b", value: { n: 2 } }]);
    const saveGrpc = grpc.state.save("guarded", [{ key: "c", value: "over gRPC" }]);
    const pub = http.pubsub.publish("psguarded", "orders", { o: 1 });
    const pubGrpc = grpc.pubsub.publish("psguarded", "orders", { o: 2 });
    await sleep(900);
    await redis.start();
    await save;
    await saveGrpc;
    for (const p of [await pub, await pubGrpc]) assert.equal(p.error, undefined, String(p.error));
    assert.deepEqual(await http.state.get("guarded", "b"), { n: 2 });
    assert.equal(await grpc.state.get("guarded", "c"), "over gRPC");
    assert.equal(await redis.cli("XLEN", "orders"), "2");
    assert.match(sc.logs(), /Retrying in/);
  });

  it("ends a read that redis-server never answers with the policy's timeout", async () => {
    await http.state.save("stalled", [{ key: "s", value: "v" }]);
    redis.proc.kill("SIGSTOP");
    let elapsed;
    try {
      const t0 = Date.now();
      const r = await fetch(`http://127.0.0.1:${sc.httpPort}/v1.0/state/stalled/s`);
      elapsed = Date.now() - t0;
      assert.equal(r.status, 500);
      const j = await r.json();
      assert.equal(j.errorCode, "ERR_STATE_GET");
      assert.match(j.message, /timed out/);
      const t1 = Date.now();
      await assert.rejects(grpc.state.get("stalled", "s"));
      assert.ok(Date.now() - t1 < 10000, `gRPC read took ${Date.now() - t1} ms`);
    } finally {
      redis.proc.kill("SIGCONT");
    }
    // readTimeout is 20 s: only the 400 ms policy can end the call this early
    assert.ok(elapsed < 10000, `read took ${elapsed} ms`);
    // the abandoned attempts' late answers are dropped; the store keeps working
    assert.equal(await http.state.get("stalled", "s"), "v");
  });
});
