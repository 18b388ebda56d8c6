// The official SDK's DaprClient against our daprd: state management over
// HTTP (and gRPC once SDK_PROTOCOLS includes it), on the in-memory store and
// on a real redis-server.
"use strict";
const { describe, it, before, after } = require("node:test");
const assert = require("node:assert/strict");
const { DaprClient, CommunicationProtocolEnum, StateConcurrencyEnum } = require("@dapr/dapr");
const { startRedis, startDaprd } = require("./harness");

const protocols = (process.env.SDK_PROTOCOLS || "HTTP").split(",");

// The SDK reports a failed save/delete differently per protocol: over HTTP it
// resolves with {error}, over gRPC it rejects. Either way, return the error.
async function failure(p) {
  try {
    const r = await p;
    return r && r.error ? r.error : null;
  } catch (e) {
    return e;
  }
}
const stores = (process.env.SDK_STORES || "memory,redis").split(",");

for (const proto of protocols) {
  for (const storeKind of stores) {
    describe(`state via ${proto} on ${storeKind}`, () => {
      let redis, daprd, client;
      const store = "statestore";

      before(async () => {
        let comp = { name: store, type: "state.in-memory" };
        if (storeKind === "redis") {
          redis = await startRedis();
          comp = { name: store, type: "state.redis",
            metadata: { redisHost: `127.0.0.1:${redis.port}`, actorStateStore: "true" } };
        }
        daprd = await startDaprd({ appId: "sdkapp", components: [comp] });
        client = new DaprClient({
          daprHost: "127.0.0.1",
          daprPort: String(proto === "GRPC" ? daprd.grpcPort : daprd.httpPort),
          communicationProtocol: CommunicationProtocolEnum[proto],
          logger: { level: 0 },
        });
        await client.start();
      });

      after(async () => {
        if (client) await client.stop();
        if (daprd) {
          const r = await daprd.stop();
          assert.equal(r.code, 0, `daprd exit ${JSON.stringify(r)}`);
        }
        if (redis) await redis.stop();
      });

      it("saves and gets values of every JSON type", async () => {
        const res = await client.state.save(store, [
          { key: "obj", value: { name: "Ada", tags: ["x", "y"], n: 1.5 } },
          { key: "str", value: "hello" },
          { key: "num", value: 42 },
          { key: "bool", value: true },
        ]);
        assert.ok(!res.error, String(res.error));
        assert.deepEqual(await client.state.get(store, "obj"), { name: "Ada", tags: ["x", "y"], n: 1.5 });
        assert.equal(await client.state.get(store, "str"), "hello");
        assert.equal(await client.state.get(store, "num"), 42);
        assert.equal(await client.state.get(store, "bool"), true);
      });

      it("returns empty for a missing key", async () => {
        const v = await client.state.get(store, "does-not-exist");
        assert.ok(v === "" || v === undefined || v === null, `got ${JSON.stringify(v)}`);
      });

      it("bulk-gets in request order with etags", async () => {
        await client.state.save(store, [{ key: "b1", value: "one" }, { key: "b2", value: { two: 2 } }]);
        const items = await client.state.getBulk(store, ["b2", "missing", "b1"]);
        assert.equal(items.length, 3);
        assert.deepEqual(items.map((i) => i.key), ["b2", "missing", "b1"]);
        assert.deepEqual(items[0].data, { two: 2 });
        assert.equal(items[2].data, "one");
        assert.ok(items[0].etag, "etag present");
        assert.ok(items[1].data === undefined || items[1].data === "" || items[1].data === null);
      });

      it("deletes", async () => {
        await client.state.save(store, [{ key: "gone", value: 1 }]);
        const res = await client.state.delete(store, "gone");
        assert.ok(!res.error, String(res.error));
        const v = await client.state.get(store, "gone");
        assert.ok(v === "" || v === undefined || v === null);
      });

      it("runs transactions atomically", async () => {
        // the SDK's gRPC transaction only takes string values
        const obj = (v) => (proto === "GRPC" ? JSON.stringify(v) : v);
        await client.state.save(store, [{ key: "tx-del", value: "x" }]);
        await client.state.transaction(store, [
          { operation: "upsert", request: { key: "tx-a", value: obj({ a: 1 }) } },
          { operation: "upsert", request: { key: "tx-b", value: "b" } },
          { operation: "delete", request: { key: "tx-del" } },
        ]);
        assert.deepEqual(await client.state.get(store, "tx-a"), { a: 1 });
        assert.equal(await client.state.get(store, "tx-b"), "b");
        const gone = await client.state.get(store, "tx-del");
        assert.ok(gone === "" || gone === undefined || gone === null);
        // a stale etag aborts the whole transaction
        await assert.rejects(client.state.transaction(store, [
          { operation: "upsert", request: { key: "tx-c", value: "c" } },
          { operation: "upsert", request: { key: "tx-a", value: "z", etag: "987654" } },
        ]));
        const c = await client.state.get(store, "tx-c");
        assert.ok(c === "" || c === undefined || c === null, "nothing applied");
        assert.deepEqual(await client.state.get(store, "tx-a"), { a: 1 });
      });

      it("detects ETag conflicts", async () => {
        await client.state.save(store, [{ key: "etag-k", value: "v1" }]);
        const [first] = await client.state.getBulk(store, ["etag-k"]);
        assert.ok(first.etag);
        const ok = await client.state.save(store, [{ key: "etag-k", value: "v2", etag: first.etag }]);
        assert.ok(!ok.error, String(ok.error));
        const stale = await failure(client.state.save(store, [{ key: "etag-k", value: "v3", etag: first.etag }]));
        assert.ok(stale, "stale etag must fail");
        assert.match(String(stale), /409|aborted|etag/i);
        if (proto === "GRPC") assert.equal(stale.code, 10); // ABORTED
        assert.equal(await client.state.get(store, "etag-k"), "v2");
        const del = await failure(client.state.delete(store, "etag-k", { etag: first.etag }));
        assert.ok(del, "delete with stale etag must fail");
      });

      it("honours first-write concurrency", async () => {
        const a = await client.state.save(store, [{ key: "fw", value: 1,
          options: { concurrency: StateConcurrencyEnum.CONCURRENCY_FIRST_WRITE } }]);
        assert.ok(!a.error, String(a.error));
        const b = await failure(client.state.save(store, [{ key: "fw", value: 2,
          options: { concurrency: StateConcurrencyEnum.CONCURRENCY_FIRST_WRITE } }]));
        assert.ok(b, "second first-write without etag must fail");
        assert.equal(await client.state.get(store, "fw"), 1);
      });

      it("reports an unknown store", async () => {
        const r = await failure(client.state.save("nosuchstore", [{ key: "k", value: 1 }]));
        assert.ok(r);
        assert.match(String(r), /ERR_STATE_STORE_NOT_FOUND|not found/);
        if (proto === "GRPC") {
          assert.equal(r.code, 3); // INVALID_ARGUMENT
          assert.ok(r.details.some((d) => d.type === "google.rpc.ErrorInfo"), "rich error details");
        }
      });

      it("reads the sidecar metadata", async () => {
        const md = await client.metadata.get();
        assert.equal(md.id, "sdkapp");
        const comp = md.components.find((c) => c.name === store);
        assert.ok(comp, JSON.stringify(md));
        assert.equal(comp.type, storeKind === "redis" ? "state.redis" : "state.in-memory");
        if (storeKind === "redis") {
          for (const cap of ["ETAG", "TRANSACTIONAL", "ACTOR"])
            assert.ok(comp.capabilities.includes(cap), `${cap} in ${comp.capabilities}`);
        }
        await client.metadata.set("team", "blue");
        const md2 = await client.metadata.get();
        assert.equal(md2.extended.team, "blue");
      });

      it("reports the sidecar healthy", async () => {
        assert.equal(await client.health.isHealthy(), true);
      });

      it("expires values saved with metadata.ttlInSeconds", async () => {
        const res = await client.state.save(store, [{ key: "ttl-k", value: "short" }],
          { metadata: { ttlInSeconds: "1" } });
        assert.ok(!res || !res.error, String(res && res.error));
        await client.state.save(store, [{ key: "ttl-keep", value: "long" }]);
        assert.equal(await client.state.get(store, "ttl-k"), "short");
        await new Promise((r) => setTimeout(r, 2200));
        assert.equal(await client.state.get(store, "ttl-k"), "");
        assert.equal(await client.state.get(store, "ttl-keep"), "long");
      });

      it("passes request metadata through get, bulk get and delete", async () => {
        await client.state.save(store, [{ key: "md-k", value: 7 }]);
        assert.equal(await client.state.get(store, "md-k", { metadata: { contentType: "application/json" } }), 7);
        const bulk = await client.state.getBulk(store, ["md-k"], { metadata: { partitionKey: "p" } });
        assert.equal(bulk.length, 1);
        assert.equal(bulk[0].data, 7);
        const del = await client.state.delete(store, "md-k", { metadata: { partitionKey: "p" } });
        assert.ok(!del || !del.error, String(del && del.error));
        assert.equal(await client.state.get(store, "md-k"), "");
      });
    });
  }
}
