// Actor reminders over raw gRPC (GetActorReminder, ListActorReminders,
// UnregisterActorRemindersByType, Dapr 1.17's RPCs) and entitiesConfig
// per-type overrides, against two daprd of one app id sharing a Redis actor
// store and the real placement binary, with a raw Node http actor app
// (actors_rawapp.js) so the app side is exact.
"use strict";
const { describe, it, before, after } = require("node:test");
const assert = require("node:assert/strict");
const { spawn } = require("node:child_process");
const path = require("node:path");
const grpc = require("@grpc/grpc-js");
const protoLoader = require("@grpc/proto-loader");
const { startDaprd, startRedis, freePort, waitFor, sleep, DAPRD } = require("./harness");
const { startActorApp } = require("./actors_rawapp");
const PLACEMENT = process.env.PLACEMENT || path.join(path.dirname(DAPRD), "placement");

const def = protoLoader.loadSync("dapr/proto/runtime/v1/dapr.proto",
  { includeDirs: [path.join(__dirname, "../../proto"), "/usr/include"], keepCase: true,
    enums: String, defaults: true, oneofs: true });
const Dapr = grpc.loadPackageDefinition(def).dapr.proto.runtime.v1.Dapr;
const call = (c, m, req) => new Promise((res, rej) => c[m](req, (e, r) => (e ? rej(e) : res(r))));
const rejects = async (p, code, re) => {
  try { await p; } catch (e) {
    assert.equal(e.code, code, `${e.code} ${e.details}`);
    if (re) assert.match(e.details, re);
    return e;
  }
  assert.fail("expected an error");
};
// google.protobuf.BytesValue{value} → the bytes
const bytesValue = (any) => {
  assert.equal(any.type_url, "type.googleapis.com/google.protobuf.BytesValue");
  const b = any.value;
  assert.equal(b[0], 0x0a);
  let len = 0, shift = 0, i = 1;
  for (; ; i++) { len |= (b[i] & 0x7f) << shift; shift += 7; if (!(b[i] & 0x80)) break; }
  return b.subarray(i + 1, i + 1 + len).toString();
};

const CONFIG = {
  entities: ["Lasting", "Brief", "Reent", "Plain"],
  actorIdleTimeout: "1h", actorScanInterval: "200ms",
  reentrancy: { enabled: false },
  entitiesConfig: [
    { entities: ["Brief"], actorIdleTimeout: "1s" },
    { entities: ["Reent"], reentrancy: { enabled: true, maxStackDepth: 4 } },
  ],
};

describe("actor reminders over gRPC, entitiesConfig (raw app, two daprd)", () => {
  let redis, placement, app, a, b, ga, gb;
  before(async () => {
    redis = await startRedis();
    const placementPort = await freePort();
    placement = spawn(PLACEMENT, ["--port", String(placementPort), "--healthz-port",
      String(await freePort())], { stdio: "ignore" });
    app = await startActorApp(CONFIG);
    const comps = [{ name: "actorstore", type: "state.redis",
      metadata: { redisHost: `127.0.0.1:${redis.port}`, actorStateStore: "true" } }];
    const args = async () => ["--app-port", String(app.port), "--placement-host-address",
      `127.0.0.1:${placementPort}`, "--dapr-internal-grpc-port", String(await freePort())];
    a = await startDaprd({ appId: "rawactors", components: comps, args: await args() });
    b = await startDaprd({ appId: "rawactors", components: comps, args: await args() });
    for (const d of [a, b]) {
      await waitFor("actor types reported", async () => {
        const m = await (await fetch(`http://127.0.0.1:${d.httpPort}/v1.0/metadata`)).json();
        return m.actorRuntime?.placement === "placement: connected" &&
          (m.actorRuntime?.activeActors || []).some((x) => x.type === "Lasting");
      }, 20000);
    }
    ga = new Dapr(`127.0.0.1:${a.grpcPort}`, grpc.credentials.createInsecure());
    gb = new Dapr(`127.0.0.1:${b.grpcPort}`, grpc.credentials.createInsecure());
  });
  after(async () => {
    ga?.close();
    gb?.close();
    for (const d of [a, b]) if (d) assert.equal((await d.stop()).code, 0);
    if (app) await app.stop();
    if (redis) await redis.stop();
    if (placement) placement.kill("SIGTERM");
  });

  const register = (c, id, name, extra = {}) => call(c, "RegisterActorReminder",
    { actor_type: "Lasting", actor_id: id, name, due_time: "1000s", period: "5m", ...extra });
  const list = async (c, type, id) => (await call(c, "ListActorReminders",
    id === undefined ? { actor_type: type } : { actor_type: type, actor_id: id })).reminders;

  it("GetActorReminder answers the stored reminder, NOT_FOUND and PERMISSION_DENIED", async () => {
    await register(ga, "r1", "a", { data: Buffer.from('{"x":1}'), ttl: "1h" });
    const r = await call(ga, "GetActorReminder", { actor_type: "Lasting", actor_id: "r1", name: "a" });
    assert.equal(r.actor_type, "Lasting");
    assert.equal(r.actor_id, "r1");
    assert.equal(r.due_time, "1000s");
    assert.equal(r.period, "5m");
    assert.ok(r.ttl && !Number.isNaN(Date.parse(r.ttl)), `ttl is the expiration time: ${r.ttl}`);
    assert.deepEqual(JSON.parse(bytesValue(r.data)), { x: 1 });
    await rejects(call(ga, "GetActorReminder", { actor_type: "Lasting", actor_id: "r1", name: "nope" }),
      grpc.status.NOT_FOUND, /actor reminder not found: nope/);
    await rejects(call(ga, "GetActorReminder", { actor_type: "Unknown", actor_id: "r1", name: "a" }),
      grpc.status.PERMISSION_DENIED, /not hosted/);
    await rejects(call(ga, "GetActorReminder", { actor_type: "Lasting", actor_id: "", name: "a" }),
      grpc.status.INVALID_ARGUMENT);
  });

  it("a reminder registered through the other daprd is visible at once", async () => {
    // the periodic re-read of the arrays is 1 s: answering within it proves a store read
    const r = await fetch(`http://127.0.0.1:${b.httpPort}/v1.0/actors/Lasting/r3/reminders/z`, {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ dueTime: "1000s", data: "hi" }) });
    assert.equal(r.status, 204);
    const g = await call(ga, "GetActorReminder", { actor_type: "Lasting", actor_id: "r3", name: "z" });
    assert.equal(g.actor_id, "r3");
    assert.equal(JSON.parse(bytesValue(g.data)), "hi");
    assert.equal(g._period, undefined, "no period set");
    // and deleted through the other one: gone at once
    await rejects(call(gb, "UnregisterActorReminder", { actor_type: "Lasting", actor_id: "r3",
      name: "z" }).then(() => call(ga, "GetActorReminder", { actor_type: "Lasting", actor_id: "r3",
      name: "z" })), grpc.status.NOT_FOUND);
  });

  it("ListActorReminders lists a type, or one id of it", async () => {
    await register(gb, "r1", "b");
    await register(ga, "r2", "c");
    const all = await list(ga, "Lasting");
    assert.deepEqual(all.map((x) => `${x.reminder.actor_id}/${x.name}`).sort(), ["r1/a", "r1/b", "r2/c"]);
    const one = await list(gb, "Lasting", "r1");
    assert.deepEqual(one.map((x) => x.name).sort(), ["a", "b"]);
    assert.equal(one[0].reminder.actor_type, "Lasting");
    assert.equal(one[0].reminder.due_time, "1000s");
    assert.deepEqual(await list(ga, "Lasting", "nobody"), []);
    assert.deepEqual(await list(ga, "Brief"), []);
    await rejects(list(ga, "Unknown"), grpc.status.PERMISSION_DENIED, /not hosted/);
  });

  it("UnregisterActorRemindersByType removes one id's, then all, and they stop firing", async () => {
    await call(ga, "RegisterActorReminder", { actor_type: "Lasting", actor_id: "r4", name: "tick",
      due_time: "0s", period: "300ms" });
    await waitFor("reminder fires", async () => app.calls("Lasting", "r4", "remind/tick").length >= 2, 10000);
    await call(gb, "UnregisterActorRemindersByType", { actor_type: "Lasting", actor_id: "r1" });
    assert.deepEqual((await list(ga, "Lasting")).map((x) => `${x.reminder.actor_id}/${x.name}`).sort(),
      ["r2/c", "r4/tick"]);
    await call(ga, "UnregisterActorRemindersByType", { actor_type: "Lasting" });
    assert.deepEqual(await list(gb, "Lasting"), []);
    await sleep(300); // a firing already in the app may still end
    const n = app.calls("Lasting", "r4", "remind/tick").length;
    await sleep(1200);
    assert.equal(app.calls("Lasting", "r4", "remind/tick").length, n, "no firing after the removal");
    await rejects(call(ga, "UnregisterActorRemindersByType", { actor_type: "Unknown" }),
      grpc.status.PERMISSION_DENIED);
    // the stored array is empty
    const { execFileSync } = require("node:child_process");
    const raw = execFileSync("redis-cli", ["-p", String(redis.port), "HGET", "actors||Lasting", "data"]).toString().trim();
    assert.deepEqual(JSON.parse(raw), []);
  });

  it("entitiesConfig: a per-type actorIdleTimeout deactivates Brief, not Lasting", async () => {
    const put = (type, id) => fetch(`http://127.0.0.1:${a.httpPort}/v1.0/actors/${type}/${id}/method/echo`,
      { method: "PUT" }).then((r) => assert.equal(r.status, 200));
    await put("Brief", "i1");
    await put("Lasting", "i1");
    const t0 = Date.now();
    await waitFor("Brief deactivated", async () =>
      app.log.some((e) => e.ev === "deactivate" && e.type === "Brief" && e.id === "i1"), 8000);
    assert.ok(Date.now() - t0 >= 700, "not before its 1 s idle timeout");
    await sleep(1500);
    assert.ok(!app.log.some((e) => e.ev === "deactivate" && e.type === "Lasting"),
      "Lasting keeps the app-wide 1h timeout");
  });

  it("entitiesConfig: reentrancy enabled for Reent only", async () => {
    const run = async (type) => {
      const r = await fetch(`http://127.0.0.1:${a.httpPort}/v1.0/actors/${type}/x/method/outer`,
        { method: "PUT", body: String(a.httpPort) });
      assert.equal(r.status, 200);
      return (await r.json()).reentered;
    };
    assert.equal(await run("Reent"), true, "the nested call enters the running turn");
    assert.equal(await run("Plain"), false, "the nested call waits for the turn");
    // Dapr-Reentrancy-Id reaches the app for Reent only
    const echo = async (type) => (await (await fetch(
      `http://127.0.0.1:${a.httpPort}/v1.0/actors/${type}/e/method/echo`, { method: "PUT" })).json()).rid;
    assert.match(await echo("Reent"), /^[0-9a-f-]{36}$/);
    assert.equal(await echo("Plain"), null);
    // Plain's nested call ran after the outer one ended
    await waitFor("Plain inner ran", async () => app.calls("Plain", "x", "inner").length === 1, 5000);
  });
});
