// Pub/sub through our daprd with the official SDK: DaprServer apps (HTTP and
// gRPC) subscribing programmatically (subscribe, subscribeWithOptions with
// routing rules, dead-letter topics, raw payloads) and through declarative
// Subscription resources, DaprClient publishing over HTTP and gRPC, the
// delivery rules (RETRY, DROP, dead letter after a Resiliency policy's
// retries), bulk publish, the metadata API, and raw-HTTP error answers.
"use strict";
const { describe, it, before, after } = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { DaprClient, DaprServer, CommunicationProtocolEnum, HttpMethod, DaprPubSubStatusEnum } =
  require("@dapr/dapr");
const { startDaprd, freePort, waitFor, sleep } = require("./harness");

const PUBSUB = { name: "pubsub", type: "pubsub.in-memory" };
// a broker that holds one message at most: bulk publish failures
const TINY = { name: "tiny", type: "pubsub.in-memory", metadata: { maxQueue: "1" } };
// topic scoping by component metadata (ERR_PUBSUB_FORBIDDEN)
const SCOPED = { name: "scoped", type: "pubsub.in-memory",
  metadata: { publishingScopes: "psapp=ok,fine;other=x", subscriptionScopes: "psapp=ok" } };

const RESOURCES = `apiVersion: dapr.io/v1alpha1
kind: Resiliency
metadata:
  name: psres
spec:
  policies:
    retries:
      fast:
        policy: constant
        duration: 20ms
        maxRetries: 2
  targets:
    components:
      pubsub:
        inbound:
          retry: fast
---
apiVersion: dapr.io/v2alpha1
kind: Subscription
metadata:
  name: decl-sub
spec:
  pubsubname: pubsub
  topic: decl
  routes:
    rules:
    - match: event.type == "special"
      path: /decl-special
    default: /decl-default
scopes:
- psapp
---
apiVersion: dapr.io/v1alpha1
kind: Subscription
metadata:
  name: decl-v1
spec:
  pubsubname: pubsub
  topic: declv1
  route: /decl-v1
---
apiVersion: dapr.io/v2alpha1
kind: Subscription
metadata:
  name: not-mine
spec:
  pubsubname: pubsub
  topic: notmine
  routes:
    default: /nowhere
scopes:
- someone-else
---
apiVersion: dapr.io/v2alpha1
kind: Subscription
metadata:
  name: bad-cel
spec:
  pubsubname: pubsub
  topic: badcel
  routes:
    rules:
    - match: event.type ==
      path: /x
---
apiVersion: dapr.io/v2alpha1
kind: Subscription
metadata:
  name: held
spec:
  pubsubname: tiny
  topic: held
  routes:
    default: /held
---
apiVersion: dapr.io/v2alpha1
kind: Subscription
metadata:
  name: hidden
spec:
  pubsubname: scoped
  topic: hidden
  route: /hidden
`;

function extraResources(text) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "libdapr-ps-"));
  fs.writeFileSync(path.join(dir, "resources.yaml"), text);
  return dir;
}

const body = (b) => (typeof b === "string" ? JSON.parse(b) : Buffer.isBuffer(b) ? JSON.parse(b.toString()) : b);

function client(daprd, proto) {
  return new DaprClient({ daprHost: "127.0.0.1",
    daprPort: String(proto === "GRPC" ? daprd.grpcPort : daprd.httpPort),
    communicationProtocol: CommunicationProtocolEnum[proto], logger: { level: 0 } });
}

describe("pub/sub with an HTTP app (DaprServer over HTTP)", () => {
  let daprd, server, appPort, resDir;
  const got = {}; // topic/route -> [{data, headers}]
  const rec = (k, status) => async (data, headers) => {
    (got[k] ||= []).push({ data, headers });
    return typeof status === "function" ? status(got[k].length) : status;
  };
  const raw = {}; // invoker routes -> [CloudEvent]
  before(async () => {
    appPort = await freePort();
    resDir = extraResources(RESOURCES);
    daprd = await startDaprd({ appId: "psapp", components: [PUBSUB, TINY, SCOPED],
      args: ["--app-port", String(appPort), "--resources-path", resDir] });
    server = new DaprServer({ serverHost: "127.0.0.1", serverPort: String(appPort),
      communicationProtocol: CommunicationProtocolEnum.HTTP,
      clientOptions: { daprHost: "127.0.0.1", daprPort: String(daprd.httpPort) },
      logger: { level: 0 } });
    const ps = server.pubsub;
    await ps.subscribe("pubsub", "orders", rec("orders"));
    await ps.subscribeWithOptions("pubsub", "routed", {
      route: { rules: [{ match: 'event.data.kind == "a"', path: "a" }], default: "other" } });
    await ps.subscribeToRoute("pubsub", "routed", "a", rec("routed-a"));
    await ps.subscribeToRoute("pubsub", "routed", "other", rec("routed-other"));
    await ps.subscribe("pubsub", "retry", rec("retry", (n) =>
      n < 3 ? DaprPubSubStatusEnum.RETRY : DaprPubSubStatusEnum.SUCCESS));
    await ps.subscribe("pubsub", "drop", rec("drop", DaprPubSubStatusEnum.DROP));
    await ps.subscribeWithOptions("pubsub", "poison", { deadLetterTopic: "poison-dlq",
      callback: rec("poison", DaprPubSubStatusEnum.RETRY) });
    await ps.subscribe("pubsub", "poison-dlq", rec("poison-dlq"));
    await ps.subscribe("pubsub", "raw", rec("raw"), "", { rawPayload: true });
    await ps.subscribe("pubsub", "ttl", rec("ttl", DaprPubSubStatusEnum.RETRY));
    const seenBulk = new Set();
    await ps.subscribeBulk("pubsub", "bulk-in", rec("bulk-in", (n) => DaprPubSubStatusEnum.SUCCESS),
      { maxMessagesCount: 3, maxAwaitDurationMs: 3000 });
    await ps.subscribeBulk("pubsub", "bulk-retry", async (data) => {
      (got["bulk-retry"] ||= []).push(data);
      if (data.n === 2 && !seenBulk.has(2)) { seenBulk.add(2); return DaprPubSubStatusEnum.RETRY; }
      return DaprPubSubStatusEnum.SUCCESS;
    }, { maxMessagesCount: 2, maxAwaitDurationMs: 3000 });
    for (const r of ["decl-default", "decl-special", "decl-v1"])
      await server.invoker.listen(r, async (req) => { (raw[r] ||= []).push(body(req.body)); return {}; },
        { method: HttpMethod.POST });
    await server.invoker.listen("held", async () => ({ status: "RETRY" }), { method: HttpMethod.POST });
    await server.start();
    await waitFor("subscriptions", async () => {
      const m = await (await fetch(`http://127.0.0.1:${daprd.httpPort}/v1.0/metadata`)).json();
      return (m.subscriptions || []).some((s) => s.topic === "orders");
    }, 10000);
  });
  after(async () => {
    if (daprd) assert.equal((await daprd.stop()).code, 0);
    if (server) await server.stop();
    if (resDir) fs.rmSync(resDir, { recursive: true, force: true });
  });

  it("lists the pubsub components and the subscriptions in the metadata API", async () => {
    const m = await (await fetch(`http://127.0.0.1:${daprd.httpPort}/v1.0/metadata`)).json();
    const comp = m.components.find((c) => c.name === "pubsub");
    assert.deepEqual(comp, { name: "pubsub", type: "pubsub.in-memory", version: "v1", capabilities: [] });
    const byTopic = Object.fromEntries(m.subscriptions.map((s) => [s.topic, s]));
    assert.equal(byTopic.orders.type, "PROGRAMMATIC");
    assert.equal(byTopic.orders.pubsubname, "pubsub");
    assert.deepEqual(byTopic.orders.rules, [{ path: "/pubsub--orders--default" }]);
    assert.equal(byTopic.poison.deadLetterTopic, "poison-dlq");
    assert.deepEqual(byTopic.raw.metadata, { rawPayload: "true" });
    assert.equal(byTopic.decl.type, "DECLARATIVE");
    assert.deepEqual(byTopic.decl.rules, [{ match: 'event.type == "special"', path: "/decl-special" },
      { path: "/decl-default" }]);
    assert.equal(byTopic.declv1.type, "DECLARATIVE");
    assert.equal(byTopic.notmine, undefined, "a Subscription scoped to another app is not loaded");
    assert.equal(byTopic.badcel, undefined, "a Subscription whose rule does not compile is skipped");
    assert.match(daprd.logs(), /subscription bad-cel .*routing rule .* does not compile/);
  });

  for (const proto of ["HTTP", "GRPC"]) {
    it(`delivers objects, strings and bytes published over ${proto}`, async () => {
      const c = client(daprd, proto);
      try {
        const before = (got.orders || []).length;
        await c.pubsub.publish("pubsub", "orders", { n: 1, proto });
        await c.pubsub.publish("pubsub", "orders", `text over ${proto}`);
        await c.pubsub.publish("pubsub", "orders", Buffer.from(`bytes over ${proto}`));
        await waitFor("3 deliveries", async () => (got.orders || []).length >= before + 3, 5000);
        // deliveries run concurrently: compare without order
        const mine = got.orders.slice(before);
        const d = mine.map((x) => x.data);
        assert.ok(d.some((x) => x && x.n === 1 && x.proto === proto), JSON.stringify(d));
        assert.ok(d.includes(`text over ${proto}`), JSON.stringify(d));
        assert.ok(d.includes(`bytes over ${proto}`), JSON.stringify(d));
        for (const x of mine) {
          assert.equal(x.headers.pubsubname, "pubsub");
          assert.match(x.headers.traceparent, /^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/);
        }
      } finally {
        await c.stop();
      }
    });
  }

  it("wraps the payload in a CloudEvents envelope (declarative v2 subscription)", async () => {
    const c = client(daprd, "HTTP");
    try {
      await c.pubsub.publish("pubsub", "decl", { order: 7 }, { metadata: { ttlInSeconds: "60" } });
      await waitFor("envelope", async () => (raw["decl-default"] || []).length >= 1, 5000);
      const ce = raw["decl-default"][0];
      assert.match(ce.id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      assert.equal(ce.source, "psapp");
      assert.equal(ce.type, "com.dapr.event.sent");
      assert.equal(ce.specversion, "1.0");
      assert.equal(ce.datacontenttype, "application/json");
      assert.deepEqual(ce.data, { order: 7 });
      assert.equal(ce.topic, "decl");
      assert.equal(ce.pubsubname, "pubsub");
      assert.match(ce.traceparent, /^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/);
      assert.equal(ce.traceid, ce.traceparent);
      assert.equal(ce.tracestate, "");
      assert.ok(!Number.isNaN(Date.parse(ce.time)));
      const exp = Date.parse(ce.expiration);
      assert.ok(exp > Date.now() + 50000 && exp < Date.now() + 70000, ce.expiration);
    } finally {
      await c.stop();
    }
  });

  it("passes a CloudEvent through and routes it by a CEL rule; v1alpha1 route", async () => {
    const c = client(daprd, "GRPC");
    try {
      await c.pubsub.publish("pubsub", "decl", { id: "my-id", source: "my-src", type: "special",
        specversion: "1.0", datacontenttype: "application/json", data: { x: 1 }, ext: "kept" });
      await c.pubsub.publish("pubsub", "declv1", "v1 route");
      await waitFor("special", async () => (raw["decl-special"] || []).length >= 1 &&
        (raw["decl-v1"] || []).length >= 1, 5000);
      const ce = raw["decl-special"][0];
      assert.equal(ce.id, "my-id");
      assert.equal(ce.source, "my-src");
      assert.equal(ce.ext, "kept");
      assert.deepEqual(ce.data, { x: 1 });
      assert.equal(ce.topic, "decl");
      assert.equal(ce.pubsubname, "pubsub");
      assert.equal(raw["decl-v1"][0].data, "v1 route");
      assert.equal(raw["decl-v1"][0].datacontenttype, "text/plain");
    } finally {
      await c.stop();
    }
  });

  it("routes programmatic subscriptions by their rules", async () => {
    const c = client(daprd, "HTTP");
    try {
      await c.pubsub.publish("pubsub", "routed", { kind: "a" });
      await c.pubsub.publish("pubsub", "routed", { kind: "b" });
      await waitFor("both routes", async () => (got["routed-a"] || []).length >= 1 &&
        (got["routed-other"] || []).length >= 1, 5000);
      assert.deepEqual(got["routed-a"].map((x) => x.data), [{ kind: "a" }]);
      assert.deepEqual(got["routed-other"].map((x) => x.data), [{ kind: "b" }]);
    } finally {
      await c.stop();
    }
  });

  it("redelivers on RETRY, drops on DROP, dead-letters after the retries", async () => {
    const c = client(daprd, "HTTP");
    try {
      await c.pubsub.publish("pubsub", "retry", { r: 1 });
      await c.pubsub.publish("pubsub", "drop", { d: 1 });
      await c.pubsub.publish("pubsub", "poison", { p: 1 });
      await waitFor("retry x3", async () => (got.retry || []).length >= 3, 5000);
      await waitFor("dead letter", async () => (got["poison-dlq"] || []).length >= 1, 5000);
      await sleep(400);
      assert.equal(got.retry.length, 3, "succeeded at the third delivery");
      assert.equal(got.drop.length, 1, "a dropped message is not delivered again");
      // one attempt plus the policy's two retries, then the dead-letter topic
      assert.equal(got.poison.length, 3);
      assert.deepEqual(got["poison-dlq"].map((x) => x.data), [{ p: 1 }]);
      assert.match(daprd.logs(), /DROP status returned from app/);
    } finally {
      await c.stop();
    }
  });

  it("publishes and delivers raw payloads (rawPayload metadata)", async () => {
    const c = client(daprd, "HTTP");
    try {
      await c.pubsub.publish("pubsub", "raw", "hello raw", { metadata: { rawPayload: "true" } });
      await waitFor("raw", async () => (got.raw || []).length >= 1, 5000);
      assert.equal(got.raw[0].data, "hello raw");
    } finally {
      await c.stop();
    }
  });

  it("drops a message whose ttlInSeconds expired instead of delivering it again", async () => {
    const c = client(daprd, "HTTP");
    try {
      await c.pubsub.publish("pubsub", "ttl", { t: 1 }, { metadata: { ttlInSeconds: "2" } });
      await waitFor("expired drop", async () => /dropping expired pub\/sub event/.test(daprd.logs()), 5000);
      const n = got.ttl.length;
      assert.ok(n >= 1, `delivered ${n} times before expiring`);
      await sleep(500);
      assert.equal(got.ttl.length, n, "not delivered after it expired");
    } finally {
      await c.stop();
    }
  });

  it("batches deliveries for bulk subscriptions, per-entry statuses", async () => {
    const c = client(daprd, "GRPC");
    try {
      for (let i = 1; i <= 3; i++) await c.pubsub.publish("pubsub", "bulk-in", { i });
      await waitFor("bulk-in", async () => (got["bulk-in"] || []).length >= 3, 5000);
      assert.deepEqual(got["bulk-in"].map((x) => x.data), [{ i: 1 }, { i: 2 }, { i: 3 }]);
      assert.match(daprd.logs(), /sending 3 event\(s\) of topic bulk-in to \/pubsub--bulk-in--default in one bulk call/);
      await c.pubsub.publish("pubsub", "bulk-retry", { n: 1 });
      await c.pubsub.publish("pubsub", "bulk-retry", { n: 2 });
      await waitFor("bulk-retry", async () => (got["bulk-retry"] || []).length >= 3, 5000);
      await sleep(200);
      // entry 2 answered RETRY: only it was sent again
      assert.deepEqual(got["bulk-retry"], [{ n: 1 }, { n: 2 }, { n: 2 }]);
      assert.match(daprd.logs(), /sending 1 event\(s\) of topic bulk-retry/);
    } finally {
      await c.stop();
    }
  });

  for (const proto of ["HTTP", "GRPC"]) {
    it(`bulk publishes over ${proto}`, async () => {
      const c = client(daprd, proto);
      try {
        const before = (got.orders || []).length;
        const r = await c.pubsub.publishBulk("pubsub", "orders", [{ bulk: 1 }, "bulk two"]);
        assert.deepEqual(r.failedMessages, []);
        await waitFor("bulk", async () => (got.orders || []).length >= before + 2, 5000);
        const d = got.orders.slice(before).map((x) => x.data);
        assert.deepEqual(d.sort((a, b) => String(a).localeCompare(String(b))).length, 2);
        assert.ok(d.some((x) => x && x.bulk === 1) && d.includes("bulk two"));
      } finally {
        await c.stop();
      }
    });
  }

  it("reports bulk entries the broker refused (per entry)", async () => {
    // `tiny` holds one message; its subscriber keeps failing, so it stays
    const c = client(daprd, "GRPC");
    try {
      const r = await c.pubsub.publishBulk("tiny", "held", [
        { entryID: "e1", event: { n: 1 } }, { entryID: "e2", event: { n: 2 } }]);
      assert.deepEqual(r.failedMessages.map((f) => f.message.entryID), ["e2"]);
      assert.match(String(r.failedMessages[0].error), /queue is full/);
      const res = await fetch(`http://127.0.0.1:${daprd.httpPort}/v1.0-alpha1/publish/bulk/tiny/held`, {
        method: "POST", headers: { "content-type": "application/json" },
        body: JSON.stringify([{ entryId: "x1", event: "a", contentType: "text/plain" }]) });
      assert.equal(res.status, 500);
      const j = await res.json();
      assert.equal(j.errorCode, "ERR_PUBSUB_PUBLISH_MESSAGE");
      assert.equal(j.failedEntries.length, 1);
      assert.equal(j.failedEntries[0].entryId, "x1");
    } finally {
      await c.stop();
    }
  });

  it("answers publish errors as Dapr does (raw HTTP)", async () => {
    const base = `http://127.0.0.1:${daprd.httpPort}`;
    const post = (p, b, ct = "application/json") => fetch(base + p, { method: "POST", body: b,
      headers: { "content-type": ct } });
    let r = await post("/v1.0/publish/nosuch/t", "{}");
    assert.equal(r.status, 404);
    assert.equal((await r.json()).errorCode, "ERR_PUBSUB_NOT_FOUND");
    r = await post("/v1.0/publish/pubsub", "{}");
    assert.equal(r.status, 404);
    assert.equal((await r.json()).errorCode, "ERR_TOPIC_NAME_EMPTY");
    r = await post("/v1.0/publish/pubsub/t?metadata.rawPayload=maybe", "{}");
    assert.equal(r.status, 400);
    assert.equal((await r.json()).errorCode, "ERR_PUBSUB_REQUEST_METADATA");
    r = await post("/v1.0/publish/pubsub/t", "not json", "application/cloudevents+json");
    assert.equal(r.status, 500);
    assert.equal((await r.json()).errorCode, "ERR_PUBSUB_CLOUD_EVENTS_SER");
    r = await post("/v1.0-alpha1/publish/bulk/pubsub/t", '{"not":"an array"}');
    assert.equal(r.status, 400);
    assert.equal((await r.json()).errorCode, "ERR_PUBSUB_EVENTS_SER");
    r = await post("/v1.0-alpha1/publish/bulk/pubsub/t",
      JSON.stringify([{ entryId: "1", event: 1, contentType: "text/plain" }]));
    assert.equal(r.status, 400);
    assert.equal((await r.json()).errorCode, "ERR_PUBSUB_EVENTS_SER");
    r = await post("/v1.0-alpha1/publish/bulk/pubsub/t", JSON.stringify([
      { entryId: "1", event: "a", contentType: "text/plain" },
      { entryId: "1", event: "b", contentType: "text/plain" }]));
    assert.equal(r.status, 400);
    assert.equal((await r.json()).errorCode, "ERR_PUBSUB_EVENTS_SER");
    r = await post("/v1.0/publish/pubsub/t", "plain", "text/plain");
    assert.equal(r.status, 204);
  });

  it("applies the component's publishingScopes and subscriptionScopes", async () => {
    const base = `http://127.0.0.1:${daprd.httpPort}/v1.0/publish/scoped`;
    let r = await fetch(`${base}/ok`, { method: "POST", body: "x" });
    assert.equal(r.status, 204);
    r = await fetch(`${base}/nope`, { method: "POST", body: "x" });
    assert.equal(r.status, 403);
    const j = await r.json();
    assert.equal(j.errorCode, "ERR_PUBSUB_FORBIDDEN");
    assert.equal(j.message, "topic nope is not allowed for app id psapp");
    const c = client(daprd, "GRPC");
    try {
      await assert.rejects(c.pubsub.publish("scoped", "nope", { a: 1 }),
        (e) => /not allowed for app id psapp/.test(String(e.error && e.error.message)));
    } finally {
      await c.stop();
    }
    assert.match(daprd.logs(), /subscription hidden: topic hidden of pubsub scoped is not allowed for app id psapp/);
    const m = await (await fetch(`http://127.0.0.1:${daprd.httpPort}/v1.0/metadata`)).json();
    assert.ok(!m.subscriptions.some((s) => s.topic === "hidden"));
  });

  it("fails a gRPC publish to an unknown pubsub with its error", async () => {
    const c = client(daprd, "GRPC");
    try {
      await assert.rejects(c.pubsub.publish("nosuch", "t", { a: 1 }),
        (e) => /pubsub nosuch is not found/.test(String(e.error && e.error.message)));
    } finally {
      await c.stop();
    }
  });
});

describe("pub/sub with a gRPC app (DaprServer over gRPC)", () => {
  let daprd, server, appPort;
  const got = {};
  const slow = { now: 0, max: 0 };
  const rec = (k, status) => async (data, headers) => {
    (got[k] ||= []).push({ data, headers });
    return typeof status === "function" ? status(got[k].length) : status;
  };
  before(async () => {
    appPort = await freePort();
    daprd = await startDaprd({ appId: "psgrpc", components: [PUBSUB],
      args: ["--app-port", String(appPort), "--app-protocol", "grpc", "--app-max-concurrency", "1"] });
    server = new DaprServer({ serverHost: "127.0.0.1", serverPort: String(appPort),
      communicationProtocol: CommunicationProtocolEnum.GRPC,
      clientOptions: { daprHost: "127.0.0.1", daprPort: String(daprd.grpcPort),
        communicationProtocol: CommunicationProtocolEnum.GRPC },
      logger: { level: 0 } });
    const ps = server.pubsub;
    await ps.subscribe("pubsub", "orders", rec("orders"));
    await ps.subscribeWithOptions("pubsub", "routed", {
      route: { rules: [{ match: 'event.data.kind == "a"', path: "a" }], default: "other" } });
    await ps.subscribeToRoute("pubsub", "routed", "a", rec("routed-a"));
    await ps.subscribeToRoute("pubsub", "routed", "other", rec("routed-other"));
    await ps.subscribe("pubsub", "retry", rec("retry", (n) =>
      n < 2 ? DaprPubSubStatusEnum.RETRY : DaprPubSubStatusEnum.SUCCESS));
    await ps.subscribeBulk("pubsub", "bulk-in", rec("bulk-in", DaprPubSubStatusEnum.SUCCESS),
      { maxMessagesCount: 2, maxAwaitDurationMs: 3000 });
    await ps.subscribe("pubsub", "slow", async (data) => {
      slow.now++;
      slow.max = Math.max(slow.max, slow.now);
      await sleep(150);
      slow.now--;
      (got.slow ||= []).push(data);
      return DaprPubSubStatusEnum.SUCCESS;
    });
    await server.start();
    await waitFor("subscriptions", async () => {
      const m = await (await fetch(`http://127.0.0.1:${daprd.httpPort}/v1.0/metadata`)).json();
      return (m.subscriptions || []).some((s) => s.topic === "orders");
    }, 10000);
  });
  after(async () => {
    if (daprd) assert.equal((await daprd.stop()).code, 0);
    if (server) await server.stop();
  });

  for (const proto of ["HTTP", "GRPC"]) {
    it(`delivers events published over ${proto} through OnTopicEvent`, async () => {
      const c = client(daprd, proto);
      try {
        const before = (got.orders || []).length;
        await c.pubsub.publish("pubsub", "orders", { n: 2, proto });
        await c.pubsub.publish("pubsub", "orders", `text ${proto}`);
        await waitFor("deliveries", async () => (got.orders || []).length >= before + 2, 5000);
        const d = got.orders.slice(before).map((x) => x.data);
        assert.ok(d.some((x) => x && x.n === 2 && x.proto === proto), JSON.stringify(d));
        assert.ok(d.includes(`text ${proto}`), JSON.stringify(d));
      } finally {
        await c.stop();
      }
    });
  }

  it("routes by rules and redelivers on RETRY", async () => {
    const c = client(daprd, "GRPC");
    try {
      await c.pubsub.publish("pubsub", "routed", { kind: "a" });
      await c.pubsub.publish("pubsub", "routed", { kind: "z" });
      await c.pubsub.publish("pubsub", "retry", { r: 2 });
      await waitFor("routes", async () => (got["routed-a"] || []).length >= 1 &&
        (got["routed-other"] || []).length >= 1 && (got.retry || []).length >= 2, 5000);
      assert.deepEqual(got["routed-a"][0].data, { kind: "a" });
      assert.deepEqual(got["routed-other"][0].data, { kind: "z" });
      await sleep(300);
      assert.equal(got.retry.length, 2);
    } finally {
      await c.stop();
    }
  });

  it("keeps at most --app-max-concurrency deliveries with the app", async () => {
    const c = client(daprd, "GRPC");
    try {
      for (let i = 0; i < 3; i++) await c.pubsub.publish("pubsub", "slow", { i });
      await waitFor("slow", async () => (got.slow || []).length >= 3, 5000);
      assert.equal(slow.max, 1);
    } finally {
      await c.stop();
    }
  });

  it("batches bulk subscriptions through OnBulkTopicEventAlpha1", async () => {
    const c = client(daprd, "HTTP");
    try {
      await c.pubsub.publish("pubsub", "bulk-in", { b: 1 });
      await c.pubsub.publish("pubsub", "bulk-in", "two");
      await waitFor("bulk", async () => (got["bulk-in"] || []).length >= 2, 5000);
      assert.deepEqual(got["bulk-in"].map((x) => x.data), [{ b: 1 }, "two"]);
      assert.match(daprd.logs(), /sending 2 event\(s\) of topic bulk-in/);
    } finally {
      await c.stop();
    }
  });

  it("lists the app's subscriptions (GetMetadata over gRPC)", async () => {
    // the SDK's metadata.get() drops subscriptions: a raw grpc-js client
    const grpc = require("@grpc/grpc-js");
    const protoLoader = require("@grpc/proto-loader");
    const def = protoLoader.loadSync("dapr/proto/runtime/v1/dapr.proto",
      { includeDirs: [path.join(__dirname, "../../proto"), "/usr/include"], keepCase: true,
        enums: String, defaults: true });
    const Dapr = grpc.loadPackageDefinition(def).dapr.proto.runtime.v1.Dapr;
    const c = new Dapr(`127.0.0.1:${daprd.grpcPort}`, grpc.credentials.createInsecure());
    try {
      const m = await new Promise((res, rej) => c.GetMetadata({}, (e, r) => (e ? rej(e) : res(r))));
      const s = m.subscriptions.find((x) => x.topic === "routed");
      assert.equal(s.pubsub_name, "pubsub");
      assert.equal(s.type, "PROGRAMMATIC");
      assert.equal(s.rules.rules.length, 2);
      assert.equal(s.rules.rules[0].match, 'event.data.kind == "a"');
      assert.ok(m.registered_components.some((x) => x.type === "pubsub.in-memory"));
    } finally {
      c.close();
    }
  });
});

describe("streaming subscriptions (SubscribeTopicEventsAlpha1, raw grpc-js)", () => {
  // @dapr/dapr 3.18 has no streaming-subscription client: grpc-js on Dapr's protos
  const grpc = require("@grpc/grpc-js");
  const protoLoader = require("@grpc/proto-loader");
  const def = protoLoader.loadSync("dapr/proto/runtime/v1/dapr.proto",
    { includeDirs: [path.join(__dirname, "../../proto"), "/usr/include"], keepCase: true,
      enums: String, defaults: true, oneofs: true });
  const Dapr = grpc.loadPackageDefinition(def).dapr.proto.runtime.v1.Dapr;
  let daprd, stub;
  before(async () => {
    daprd = await startDaprd({ appId: "psstream", components: [PUBSUB] });
    stub = new Dapr(`127.0.0.1:${daprd.grpcPort}`, grpc.credentials.createInsecure());
  });
  after(async () => {
    if (stub) stub.close();
    if (daprd) assert.equal((await daprd.stop()).code, 0);
  });

  function open(topic) {
    const call = stub.SubscribeTopicEventsAlpha1();
    const msgs = [];
    let ended = null;
    call.on("data", (m) => msgs.push(m));
    call.on("error", (e) => { ended = e; });
    call.on("end", () => { ended = ended || "end"; });
    if (topic) call.write({ initial_request: { pubsub_name: "pubsub", topic, metadata: {} } });
    return { call, msgs, ended: () => ended };
  }

  it("streams events, acks by event_processed and redelivers on RETRY", async () => {
    const s = open("live");
    await waitFor("initial response", async () => s.msgs.length >= 1, 5000);
    assert.equal(s.msgs[0].subscribe_topic_events_response_type, "initial_response");
    let m = await (await fetch(`http://127.0.0.1:${daprd.httpPort}/v1.0/metadata`)).json();
    assert.deepEqual(m.subscriptions.map((x) => [x.topic, x.type]), [["live", "STREAMING"]]);
    const c = client(daprd, "GRPC");
    try {
      await c.pubsub.publish("pubsub", "live", { hello: "stream" });
      await waitFor("event", async () => s.msgs.length >= 2, 5000);
      const ev = s.msgs[1].event_message;
      assert.equal(ev.topic, "live");
      assert.equal(ev.pubsub_name, "pubsub");
      assert.equal(ev.type, "com.dapr.event.sent");
      assert.equal(ev.data_content_type, "application/json");
      assert.deepEqual(JSON.parse(ev.data.toString()), { hello: "stream" });
      s.call.write({ event_processed: { id: ev.id, status: { status: "RETRY" } } });
      await waitFor("redelivery", async () => s.msgs.length >= 3, 5000);
      assert.equal(s.msgs[2].event_message.id, ev.id);
      s.call.write({ event_processed: { id: ev.id, status: { status: "SUCCESS" } } });
      await sleep(400);
      assert.equal(s.msgs.length, 3, "acked: not delivered again");
    } finally {
      await c.stop();
    }
    s.call.end();
    await waitFor("stream end", async () => s.ended() !== null, 5000);
    m = await (await fetch(`http://127.0.0.1:${daprd.httpPort}/v1.0/metadata`)).json();
    assert.equal((m.subscriptions || []).length, 0);
  });

  it("refuses a stream without initial request, and a second subscriber of a topic", async () => {
    const s = open(null);
    s.call.write({ event_processed: { id: "x", status: { status: "SUCCESS" } } });
    await waitFor("error", async () => s.ended() !== null, 5000);
    assert.equal(s.ended().code, grpc.status.INVALID_ARGUMENT);
    assert.match(s.ended().details, /initial request is required/);
    const a = open("dup");
    await waitFor("initial response", async () => a.msgs.length >= 1, 5000);
    const b = open("dup");
    await waitFor("dup error", async () => b.ended() !== null, 5000);
    assert.equal(b.ended().code, grpc.status.ALREADY_EXISTS);
    const nf = stub.SubscribeTopicEventsAlpha1();
    const err = new Promise((res) => nf.on("error", res));
    nf.on("data", () => {});
    nf.write({ initial_request: { pubsub_name: "nosuch", topic: "t" } });
    assert.equal((await err).code, grpc.status.INVALID_ARGUMENT);
    a.call.end();
    await waitFor("end", async () => a.ended() !== null, 5000);
  });
});
