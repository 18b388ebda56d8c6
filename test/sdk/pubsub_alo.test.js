// At-least-once delivery of pubsub.redis through our daprd, proved end to end
// with the official SDK: a DaprServer app that answers RETRY the first time it
// sees every fifth message, 10,000 messages published by a DaprClient (50 in
// flight), daprd killed with SIGKILL and restarted midway, redis-server
// (appendonly) restarted later; every message must reach the app. A second
// test runs two instances of one app id (they share the messages) next to a
// second app id (it gets them all).
"use strict";
const { describe, it, before, after } = require("node:test");
const assert = require("node:assert/strict");
const { DaprClient, DaprServer, CommunicationProtocolEnum, DaprPubSubStatusEnum } =
  require("@dapr/dapr");
const { freePort, sleep, waitFor } = require("./harness");
const { Redis, Sidecar, redisPubsub } = require("./redis_util");

const TOTAL = Number(process.env.ALO_MESSAGES || 10000);
const IN_FLIGHT = 50;
const KILL_AT = Math.floor(TOTAL * 0.3);
const REDIS_AT = Math.floor(TOTAL * 0.7);

// the SDK logs every failed publish at ERROR: thousands while daprd is down
const quiet = { error() {}, warn() {}, info() {}, verbose() {}, debug() {} };

function client(sc) {
  return new DaprClient({ daprHost: "127.0.0.1", daprPort: String(sc.httpPort),
    communicationProtocol: CommunicationProtocolEnum.HTTP, logger: { level: 0, service: quiet } });
}

// A DaprServer (HTTP) subscribed to `topic`; `verdict(id)` picks the answer.
async function startApp(appPort, daprHttpPort, topic, onEvent) {
  const server = new DaprServer({ serverHost: "127.0.0.1", serverPort: String(appPort),
    communicationProtocol: CommunicationProtocolEnum.HTTP,
    clientOptions: { daprHost: "127.0.0.1", daprPort: String(daprHttpPort) },
    logger: { level: 0 } });
  await server.pubsub.subscribe("redispubsub", topic, async (data) => onEvent(data));
  return server;
}

// The error of a failed SDK publish: { status, errorCode } when daprd answered.
function publishError(e) {
  try {
    const j = JSON.parse(e.message);
    const body = JSON.parse(j.error_msg);
    return { status: j.status, errorCode: body.errorCode, message: body.message };
  } catch (_) {
    return { status: 0, errorCode: "", message: String(e && e.message) };
  }
}

describe("pubsub.redis at-least-once: daprd SIGKILL and redis-server restart", () => {
  let redis, sc, server, appPort;
  const deliveries = new Map(); // id -> times the app saw it
  const succeeded = new Map();  // id -> times the app answered SUCCESS
  const failedOnce = new Set();
  let nDeliveries = 0;

  before(async () => {
    redis = await Redis.start({ aof: true });
    appPort = await freePort();
    sc = new Sidecar({ appId: "alo", appPort, logLevel: "info", components: [redisPubsub("redispubsub", redis.port,
      { processingTimeout: "2s", redeliverInterval: "1s", maxRetryBackoff: "500ms" })] });
    await sc.start();
    server = await startApp(appPort, sc.httpPort, "alo", (data) => {
      const id = data.id;
      nDeliveries++;
      deliveries.set(id, (deliveries.get(id) || 0) + 1);
      if (id % 5 === 0 && !failedOnce.has(id)) {
        failedOnce.add(id);
        return DaprPubSubStatusEnum.RETRY;
      }
      succeeded.set(id, (succeeded.get(id) || 0) + 1);
      return DaprPubSubStatusEnum.SUCCESS;
    });
    await server.start();
    await sc.waitSubscribed("alo");
  });
  after(async () => {
    if (sc && process.env.ALO_LOG) require("node:fs").writeFileSync(process.env.ALO_LOG, sc.logs());
    if (sc) await sc.stop();
    if (server) await server.stop();
    if (redis) await redis.stop();
  });

  it(`delivers all ${TOTAL} messages at least once`, async () => {
    const t0 = Date.now();
    const c = client(sc);
    let accepted = 0, failures = 0, next = 0;
    const errs = {}; // "status errorCode" -> count
    const outage = { probes: [] };
    let killed = false, redisRestarted = false, chaos = Promise.resolve();
    const deadline = Date.now() + 120000;
    const progress = setInterval(() => console.log(`t=${((Date.now() - t0) / 1000).toFixed(0)}s ` +
      `accepted ${accepted} failures ${failures} delivered ${succeeded.size} deliveries ${nDeliveries}`), 5000);
    progress.unref();

    async function publishOne(id) {
      for (let attempt = 0; Date.now() < deadline; attempt++) {
        const r = await c.pubsub.publish("redispubsub", "alo", { id, pad: "x".repeat(64) });
        if (!r.error) {
          accepted++;
          return;
        }
        failures++;
        const e = publishError(r.error);
        const k = `${e.status} ${e.errorCode}`;
        errs[k] = (errs[k] || 0) + 1;
        await sleep(Math.min(50 * (attempt + 1), 500));
      }
      throw new Error(`message ${id} was never accepted`);
    }

    // the two disruptions, started by the publishers' progress
    async function killDaprd() {
      await sc.kill("SIGKILL");
      await sleep(200);
      await sc.start();
    }
    async function restartRedis() {
      await redis.shutdown(); // SHUTDOWN: the append-only file is complete
      // publishes fail at once with Dapr's error while the server is down
      for (let i = 0; i < 3; i++) {
        const t = Date.now();
        const res = await fetch(`http://127.0.0.1:${sc.httpPort}/v1.0/publish/redispubsub/probe`, {
          method: "POST", body: "{}", headers: { "content-type": "application/json" } });
        outage.probes.push({ ms: Date.now() - t, status: res.status, body: await res.json() });
      }
      await redis.start();
    }
    async function worker() {
      while (next < TOTAL && Date.now() < deadline) {
        const id = next++;
        await publishOne(id);
        if (!killed && accepted >= KILL_AT) {
          killed = true;
          chaos = chaos.then(killDaprd);
        }
        if (!redisRestarted && accepted >= REDIS_AT) {
          redisRestarted = true;
          chaos = chaos.then(restartRedis);
        }
      }
    }
    try {
      await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
      await chaos;
    } finally {
      await c.stop();
    }
    const tPublished = Date.now();
    assert.equal(accepted, TOTAL, "every message was accepted once by the publisher");
    assert.ok(killed && redisRestarted);

    // every id delivered with SUCCESS, bounded
    const missing = () => {
      const m = [];
      for (let id = 0; id < TOTAL; id++) if (!succeeded.has(id)) m.push(id);
      return m;
    };
    const waitEnd = Date.now() + 90000;
    while (Date.now() < waitEnd && succeeded.size < TOTAL) await sleep(250);
    clearInterval(progress);
    const miss = missing();
    let dups = 0;
    for (const n of succeeded.values()) dups += n - 1;
    const report = {
      published: TOTAL, publishFailures: failures, publishErrors: errs,
      deliveries: nDeliveries, deliveredIds: succeeded.size, duplicates: dups,
      retried: failedOnce.size, missing: miss.length,
      publishSeconds: (tPublished - t0) / 1000, totalSeconds: (Date.now() - t0) / 1000,
    };
    console.log("at-least-once:", JSON.stringify(report));
    for (const p of outage.probes)
      console.log("publish during the redis outage:", JSON.stringify(p));
    assert.deepEqual(miss.slice(0, 50), [], `${miss.length} ids never delivered (first 50 shown)`);
    // publishes while redis was down failed quickly with Dapr's error
    assert.ok(outage.probes.length === 3);
    for (const p of outage.probes) {
      assert.equal(p.status, 500, JSON.stringify(p));
      assert.equal(p.body.errorCode, "ERR_PUBSUB_PUBLISH_MESSAGE");
      // fast (under load: 50 publishers retrying), not after a dial timeout
      assert.ok(p.ms < 3000, `a publish during the outage took ${p.ms} ms`);
    }
    // the messages the app answered RETRY came back
    for (const id of failedOnce) assert.ok(succeeded.has(id), `retried ${id} came back`);
    assert.match(sc.logs(), /reading alo again|reconnected to redis/);
  });
});

describe("pubsub.redis: two instances of an app share a topic, another app gets it all", () => {
  let redis;
  const scs = [], servers = [];
  const got = [new Map(), new Map(), new Map()]; // per app instance: id -> count
  const N = 600;

  before(async () => {
    redis = await Redis.start();
    // processingTimeout long enough that nothing is reclaimed from a live instance
    const comp = redisPubsub("redispubsub", redis.port, { processingTimeout: "60s" });
    const ids = ["shared", "shared", "other"];
    for (let i = 0; i < 3; i++) {
      const appPort = await freePort();
      const sc = new Sidecar({ appId: ids[i], appPort, components: [comp] });
      await sc.start();
      scs.push(sc);
      const m = got[i];
      const server = await startApp(appPort, sc.httpPort, "fanout", (data) => {
        m.set(data.id, (m.get(data.id) || 0) + 1);
        return DaprPubSubStatusEnum.SUCCESS;
      });
      await server.start();
      servers.push(server);
      await sc.waitSubscribed("fanout");
    }
  });
  after(async () => {
    for (const sc of scs) await sc.stop();
    for (const s of servers) await s.stop();
    if (redis) await redis.stop();
  });

  it("competing consumers in one group, one group per app id", async () => {
    const c = client(scs[2]);
    try {
      let next = 0;
      await Promise.all(Array.from({ length: 20 }, async () => {
        while (next < N) {
          const id = next++;
          const r = await c.pubsub.publish("redispubsub", "fanout", { id });
          assert.equal(r.error, undefined, String(r.error));
        }
      }));
    } finally {
      await c.stop();
    }
    await waitFor("every message in both apps", async () =>
      got[0].size + got[1].size >= N && got[2].size >= N, 60000);
    await sleep(500);
    const [a, b, other] = got;
    console.log(`shared: instance 1 ${a.size}, instance 2 ${b.size}; other app ${other.size}`);
    assert.ok(a.size > 0 && b.size > 0, `both instances got some (${a.size}, ${b.size})`);
    for (const id of a.keys()) assert.ok(!b.has(id), `message ${id} went to both instances`);
    assert.equal(a.size + b.size, N);
    assert.equal(other.size, N);
    for (const m of got) for (const [id, n] of m) assert.equal(n, 1, `message ${id} delivered ${n} times`);
  });
});
