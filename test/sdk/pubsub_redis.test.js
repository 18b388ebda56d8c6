// pubsub.redis through our daprd with the official SDK, against a real
// redis-server: DaprClient publishing over HTTP and gRPC, DaprServer apps over
// HTTP and gRPC receiving the CloudEvents; XACK only after the app's SUCCESS or
// DROP (checked with XPENDING); what a SIGKILLed daprd held comes back to its
// restarted self; publishes fail fast with Dapr's error while redis-server is
// down and the subscription resumes after it is back.
"use strict";
const { describe, it, before, after } = require("node:test");
const assert = require("node:assert/strict");
const { DaprClient, DaprServer, CommunicationProtocolEnum, HttpMethod, DaprPubSubStatusEnum } =
  require("@dapr/dapr");
const { freePort, waitFor, sleep } = require("./harness");
const { Redis, Sidecar, redisPubsub } = require("./redis_util");

const PS = "redispubsub";
const SUBS = `apiVersion: dapr.io/v2alpha1
kind: Subscription
metadata:
  name: ce-sub
spec:
  pubsubname: ${PS}
  topic: ce
  routes:
    default: /ce-in
`;

function client(sc, proto) {
  return new DaprClient({ daprHost: "127.0.0.1",
    daprPort: String(proto === "GRPC" ? sc.grpcPort : sc.httpPort),
    communicationProtocol: CommunicationProtocolEnum[proto], logger: { level: 0 } });
}

const body = (b) => (typeof b === "string" ? JSON.parse(b) : Buffer.isBuffer(b) ? JSON.parse(b.toString()) : b);

// Entries of `topic` pending in `group` (XPENDING summary).
async function pending(redis, topic, group) {
  const out = await redis.cli("XPENDING", topic, group);
  return Number(out.split("\n")[0]);
}

describe("pubsub.redis with an HTTP app", () => {
  let redis, sc, server;
  const got = {};
  const raw = [];
  const gates = {}; // topic -> {resolve} of the held delivery
  const rec = (k, status) => async (data, headers) => {
    (got[k] ||= []).push({ data, headers });
    return typeof status === "function" ? status(data, got[k].length) : status;
  };
  // the first delivery of each message waits for the test to answer it
  const held = (k) => rec(k, (data, n) => n > 1 ? DaprPubSubStatusEnum.SUCCESS
    : new Promise((resolve) => {
      gates[k] = { resolve };
      setTimeout(() => resolve(DaprPubSubStatusEnum.RETRY), 30000); // bounded
    }));

  before(async () => {
    redis = await Redis.start({ aof: true });
    const appPort = await freePort();
    sc = new Sidecar({ appId: "psredis", appPort, resources: SUBS,
      components: [redisPubsub(PS, redis.port,
        { processingTimeout: "2s", redeliverInterval: "500ms", maxRetryBackoff: "500ms" }),
      // one reclaim sweep per 4s, a queue of 10: the sweep must not stop at a queueful
      redisPubsub("slowtick", redis.port, { processingTimeout: "1s", redeliverInterval: "4s",
        queueDepth: "10", concurrency: "5" })] });
    await sc.start();
    // published before the app subscribes: the consumer group created later
    // starts at the beginning of the stream, as Dapr's does
    const early = await fetch(`http://127.0.0.1:${sc.httpPort}/v1.0/publish/${PS}/early`, {
      method: "POST", body: JSON.stringify({ early: 1 }), headers: { "content-type": "application/json" } });
    assert.equal(early.status, 204);
    server = new DaprServer({ serverHost: "127.0.0.1", serverPort: String(appPort),
      communicationProtocol: CommunicationProtocolEnum.HTTP,
      clientOptions: { daprHost: "127.0.0.1", daprPort: String(sc.httpPort) },
      logger: { level: 0 } });
    await server.pubsub.subscribe(PS, "orders", rec("orders", DaprPubSubStatusEnum.SUCCESS));
    await server.pubsub.subscribe(PS, "early", rec("early", DaprPubSubStatusEnum.SUCCESS));
    await server.pubsub.subscribe(PS, "hold", held("hold"));
    await server.pubsub.subscribe(PS, "drop", rec("drop", DaprPubSubStatusEnum.DROP));
    await server.pubsub.subscribe(PS, "crash", held("crash"));
    await server.pubsub.subscribe(PS, "resume", rec("resume", DaprPubSubStatusEnum.SUCCESS));
    await server.pubsub.subscribe(PS, "outage", held("outage"));
    const firstSeen = new Set();
    await server.pubsub.subscribe("slowtick", "sweep", rec("sweep", (data) => {
      if (firstSeen.has(data.i)) return DaprPubSubStatusEnum.SUCCESS;
      firstSeen.add(data.i);
      return DaprPubSubStatusEnum.RETRY;
    }));
    await server.invoker.listen("ce-in", async (req) => { raw.push(body(req.body)); return {}; },
      { method: HttpMethod.POST });
    await server.start();
    await sc.waitSubscribed("orders");
  });
  after(async () => {
    for (const g of Object.values(gates)) g.resolve(DaprPubSubStatusEnum.SUCCESS);
    if (sc) await sc.stop();
    if (server) await server.stop();
    if (redis) await redis.stop();
  });

  it("lists the component with Dapr's type", async () => {
    const m = await (await fetch(`http://127.0.0.1:${sc.httpPort}/v1.0/metadata`)).json();
    assert.equal(m.components.find((c) => c.name === PS).type, "pubsub.redis");
    const topics = m.subscriptions.map((s) => s.topic).sort();
    assert.deepEqual(topics, ["ce", "crash", "drop", "early", "hold", "orders", "outage", "resume",
      "sweep"]);
  });

  it("delivers what was published before the app subscribed (group created at 0)", async () => {
    await waitFor("the early message", async () => (got.early || []).some((x) => x.data.early === 1),
      15000);
  });

  for (const proto of ["HTTP", "GRPC"]) {
    it(`delivers the CloudEvent of a publish over ${proto}`, async () => {
      const c = client(sc, proto);
      try {
        const n = raw.length;
        const r = await c.pubsub.publish(PS, "ce", { order: 1, proto });
        assert.equal(r.error, undefined, String(r.error));
        await waitFor("the event", async () => raw.length > n, 10000);
        const ce = raw[n];
        assert.match(ce.id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
        assert.equal(ce.source, "psredis");
        assert.equal(ce.type, "com.dapr.event.sent");
        assert.equal(ce.specversion, "1.0");
        assert.equal(ce.datacontenttype, "application/json");
        assert.deepEqual(ce.data, { order: 1, proto });
        assert.equal(ce.topic, "ce");
        assert.equal(ce.pubsubname, PS);
        assert.match(ce.traceparent, /^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/);
        assert.ok(!Number.isNaN(Date.parse(ce.time)));
        // and through the SDK's subscribe: objects, strings, bytes
        const before = (got.orders || []).length;
        await c.pubsub.publish(PS, "orders", { n: 1, proto });
        await c.pubsub.publish(PS, "orders", `text over ${proto}`);
        await waitFor("2 deliveries", async () => (got.orders || []).length >= before + 2, 10000);
        const d = got.orders.slice(before).map((x) => x.data);
        assert.ok(d.some((x) => x && x.n === 1 && x.proto === proto), JSON.stringify(d));
        assert.ok(d.includes(`text over ${proto}`), JSON.stringify(d));
        for (const x of got.orders.slice(before)) assert.equal(x.headers.pubsubname, PS);
      } finally {
        await c.stop();
      }
    });
  }

  it("acks only after SUCCESS: pending while the app holds it and after RETRY", async () => {
    const c = client(sc, "HTTP");
    try {
      await c.pubsub.publish(PS, "hold", { h: 1 });
      await waitFor("held delivery", async () => !!gates.hold, 10000);
      assert.equal(await pending(redis, "hold", "psredis"), 1, "pending while with the app");
      gates.hold.resolve(DaprPubSubStatusEnum.RETRY);
      await sleep(300);
      assert.equal(await pending(redis, "hold", "psredis"), 1, "still pending after RETRY");
      // reclaimed after processingTimeout (2s), then answered SUCCESS
      await waitFor("redelivery", async () => got.hold.length >= 2, 10000);
      await waitFor("acked", async () => (await pending(redis, "hold", "psredis")) === 0, 5000);
      assert.deepEqual(got.hold.map((x) => x.data), [{ h: 1 }, { h: 1 }]);
    } finally {
      await c.stop();
    }
  });

  it("acks a DROP", async () => {
    const c = client(sc, "GRPC");
    try {
      await c.pubsub.publish(PS, "drop", { d: 1 });
      await waitFor("drop", async () => (got.drop || []).length >= 1, 10000);
      await waitFor("acked", async () => (await pending(redis, "drop", "psredis")) === 0, 5000);
      await sleep(2600); // past processingTimeout: not delivered again
      assert.equal(got.drop.length, 1);
    } finally {
      await c.stop();
    }
  });

  it("redelivers what a SIGKILLed daprd held, through its restarted self", async () => {
    const c = client(sc, "HTTP");
    try {
      await c.pubsub.publish(PS, "crash", { c: 1 });
      await waitFor("held delivery", async () => !!gates.crash, 10000);
    } finally {
      await c.stop();
    }
    await sc.kill("SIGKILL");
    gates.crash.resolve(DaprPubSubStatusEnum.SUCCESS); // too late: nobody acks it
    assert.equal(await pending(redis, "crash", "psredis"), 1);
    await sc.start();
    await waitFor("redelivery", async () => got.crash.length >= 2, 15000);
    await waitFor("acked", async () => (await pending(redis, "crash", "psredis")) === 0, 5000);
    assert.deepEqual(got.crash[1].data, { c: 1 });
  });

  it("reclaims a whole pending list in one sweep, not a queueful per redeliverInterval", async () => {
    const c = client(sc, "HTTP");
    const N = 100;
    try {
      for (let i = 0; i < N; i++) await c.pubsub.publish("slowtick", "sweep", { i });
    } finally {
      await c.stop();
    }
    await waitFor("first deliveries", async () => (got.sweep || []).length >= N, 10000);
    const t = Date.now();
    // the first sweep that finds them idle (a tick within 4s) takes them all; a
    // sweep stopping at a queueful (10 + 5 with the app) needs 7 ticks, 28s
    await waitFor("every message again", async () => got.sweep.length >= 2 * N, 10000);
    console.log(`${N} RETRY answers reclaimed in ${Date.now() - t} ms`);
    await waitFor("acked", async () => (await pending(redis, "sweep", "psredis")) === 0, 5000);
  });

  it("fails publishes fast while redis-server is down, resumes after", async () => {
    // answered while redis is down: the XACK waits for the reconnect, no redelivery
    const c0 = client(sc, "HTTP");
    try {
      await c0.pubsub.publish(PS, "outage", { o: 1 });
      await waitFor("held delivery", async () => !!gates.outage, 10000);
    } finally {
      await c0.stop();
    }
    await redis.shutdown();
    gates.outage.resolve(DaprPubSubStatusEnum.SUCCESS);
    await waitFor("ack parked", async () => /acknowledgements wait for the connection/.test(sc.logs()), 5000);
    const t = Date.now();
    const res = await fetch(`http://127.0.0.1:${sc.httpPort}/v1.0/publish/${PS}/resume`, {
      method: "POST", body: JSON.stringify({ r: 0 }), headers: { "content-type": "application/json" } });
    assert.ok(Date.now() - t < 2000, `took ${Date.now() - t} ms`);
    assert.equal(res.status, 500);
    const j = await res.json();
    assert.equal(j.errorCode, "ERR_PUBSUB_PUBLISH_MESSAGE");
    assert.match(j.message, /redis/);
    const g = client(sc, "GRPC");
    try {
      const t2 = Date.now();
      await assert.rejects(g.pubsub.publish(PS, "resume", { r: 0 }), (e) =>
        /\[internal\] error when publishing to topic resume in pubsub redispubsub: redis/.test(String(e.error && e.error.message)));
      assert.ok(Date.now() - t2 < 2000, `gRPC publish took ${Date.now() - t2} ms`);
    } finally {
      await g.stop();
    }
    await redis.start();
    const c = client(sc, "HTTP");
    try {
      // accepted again once the connection is back
      await waitFor("publish accepted", async () => !(await c.pubsub.publish(PS, "resume", { r: 1 })).error,
        15000);
      await waitFor("delivered after the restart", async () =>
        (got.resume || []).some((x) => x.data.r === 1), 15000);
    } finally {
      await c.stop();
    }
    assert.match(sc.logs(), /reading resume again/);
    await waitFor("parked ack sent", async () => (await pending(redis, "outage", "psredis")) === 0, 10000);
    assert.match(sc.logs(), /sending 1 acknowledgement\(s\) held while redis was unavailable/);
    await sleep(2600); // past processingTimeout
    assert.equal(got.outage.length, 1, "answered SUCCESS during the outage: not delivered again");
  });
});

describe("pubsub.redis with a gRPC app", () => {
  let redis, sc, server;
  const got = {};
  before(async () => {
    redis = await Redis.start();
    const appPort = await freePort();
    sc = new Sidecar({ appId: "psredisg", appPort, appProtocol: "grpc",
      components: [redisPubsub(PS, redis.port, { processingTimeout: "1s", redeliverInterval: "300ms" })] });
    await sc.start();
    server = new DaprServer({ serverHost: "127.0.0.1", serverPort: String(appPort),
      communicationProtocol: CommunicationProtocolEnum.GRPC,
      clientOptions: { daprHost: "127.0.0.1", daprPort: String(sc.grpcPort),
        communicationProtocol: CommunicationProtocolEnum.GRPC },
      logger: { level: 0 } });
    await server.pubsub.subscribe(PS, "orders", async (data) => { (got.orders ||= []).push(data); });
    await server.pubsub.subscribe(PS, "retry", async (data) => {
      (got.retry ||= []).push(data);
      return got.retry.length < 2 ? DaprPubSubStatusEnum.RETRY : DaprPubSubStatusEnum.SUCCESS;
    });
    await server.start();
    await sc.waitSubscribed("orders");
  });
  after(async () => {
    if (sc) await sc.stop();
    if (server) await server.stop();
    if (redis) await redis.stop();
  });

  for (const proto of ["HTTP", "GRPC"]) {
    it(`delivers events published over ${proto} through OnTopicEvent`, async () => {
      const c = client(sc, proto);
      try {
        const before = (got.orders || []).length;
        await c.pubsub.publish(PS, "orders", { n: 2, proto });
        await c.pubsub.publish(PS, "orders", `text ${proto}`);
        await waitFor("deliveries", async () => (got.orders || []).length >= before + 2, 10000);
        const d = got.orders.slice(before);
        assert.ok(d.some((x) => x && x.n === 2 && x.proto === proto), JSON.stringify(d));
        assert.ok(d.includes(`text ${proto}`), JSON.stringify(d));
      } finally {
        await c.stop();
      }
    });
  }

  it("redelivers after RETRY (reclaimed after processingTimeout)", async () => {
    const c = client(sc, "GRPC");
    try {
      await c.pubsub.publish(PS, "retry", { r: 1 });
      await waitFor("redelivery", async () => (got.retry || []).length >= 2, 10000);
      await waitFor("acked", async () => (await pending(redis, "retry", "psredisg")) === 0, 5000);
      assert.deepEqual(got.retry, [{ r: 1 }, { r: 1 }]);
    } finally {
      await c.stop();
    }
  });
});
