// Actors (issue 6) through the official SDK: a DaprServer (HTTP) app hosting
// AbstractActor types on one daprd, called with ActorProxyBuilder over HTTP
// and gRPC: method calls, state through the actor state manager (the
// transaction API), turn-based concurrency, parallelism across ids, timers,
// idle deactivation, reminders (GET/DELETE, durable across a daprd restart;
// last: the restarted daprd has new ports the app's own client does not know).
"use strict";
const { describe, it, before, after } = require("node:test");
const assert = require("node:assert/strict");
const { DaprClient, DaprServer, CommunicationProtocolEnum, AbstractActor, ActorProxyBuilder,
  ActorId, Temporal } = require("@dapr/dapr");
const { spawn } = require("node:child_process");
const path = require("node:path");
const { startDaprd, startRedis, freePort, waitFor, sleep, DAPRD } = require("./harness");
const PLACEMENT = process.env.PLACEMENT || path.join(path.dirname(DAPRD), "placement");

const APP = "actorapp";
const log = [];          // [event, id, t]
const fired = [];        // timers and reminders seen by the app
const deactivated = [];

class CounterActor extends AbstractActor {
  async add(n) {
    const cur = (await this.getStateManager().tryGetState("count"))[1] || 0;
    await this.getStateManager().setState("count", cur + n);
    await this.getStateManager().saveState();
    return cur + n;
  }
  async get() { return (await this.getStateManager().tryGetState("count"))[1] || 0; }
  async slow(ms) {
    const id = this.getActorId().getId();
    log.push(["enter", id, Date.now()]);
    await sleep(ms);
    log.push(["exit", id, Date.now()]);
    return id;
  }
  async echo(x) { return { got: x, id: this.getActorId().getId() }; }
  async startTimer(name) {
    await this.registerActorTimer(name, "onTimer", Temporal.Duration.from({ milliseconds: 100 }),
      Temporal.Duration.from({ milliseconds: 200 }), undefined, "tick");
  }
  async stopTimer(name) { await this.unregisterActorTimer(name); }
  async onTimer(data) { fired.push(["timer", this.getActorId().getId(), data]); }
  async receiveReminder(data) { fired.push(["reminder", this.getActorId().getId(), data]); }
  async onDeactivate() { deactivated.push(this.getActorId().getId()); }
}

// Overlap check: per id, enter/exit strictly alternate.
function assertTurns(events) {
  const open = new Map();
  for (const [ev, id] of events) {
    if (ev === "enter") { assert.ok(!open.get(id), `two calls of ${id} overlapped`); open.set(id, true); }
    else open.set(id, false);
  }
}

describe("actors on one daprd (DaprServer over HTTP)", () => {
  let redis, daprd, server, appPort, placement, placementPort;
  const comps = () => [{ name: "actorstore", type: "state.redis",
    metadata: { redisHost: `127.0.0.1:${redis.port}`, actorStateStore: "true" } }];
  const startSidecar = async () => startDaprd({ appId: APP, components: comps(),
    args: ["--app-port", String(appPort), "--placement-host-address", `127.0.0.1:${placementPort}`] });

  before(async () => {
    redis = await startRedis();
    appPort = await freePort();
    placementPort = await freePort();
    placement = spawn(PLACEMENT, ["--port", String(placementPort), "--healthz-port",
      String(await freePort())], { stdio: "ignore" });
    daprd = await startSidecar();
    server = new DaprServer({
      serverHost: "127.0.0.1", serverPort: String(appPort),
      communicationProtocol: CommunicationProtocolEnum.HTTP,
      clientOptions: { daprHost: "127.0.0.1", daprPort: String(daprd.httpPort),
        communicationProtocol: CommunicationProtocolEnum.HTTP,
        actor: { actorIdleTimeout: "2s", actorScanInterval: "500ms" } },
      logger: { level: 0 },
    });
    await server.actor.init();
    await server.actor.registerActor(CounterActor);
    await server.start();
    await waitFor("actor types reported", async () => {
      const m = await (await fetch(`http://127.0.0.1:${daprd.httpPort}/v1.0/metadata`)).json();
      return (m.actorRuntime?.activeActors || []).some((a) => a.type === "CounterActor");
    }, 15000);
  });
  after(async () => {
    if (daprd) assert.equal((await daprd.stop()).code, 0);
    if (server) await server.stop();
    if (redis) await redis.stop();
    if (placement) placement.kill("SIGTERM");
  });

  const clientFor = (proto) => new DaprClient({ daprHost: "127.0.0.1",
    daprPort: String(proto === "GRPC" ? daprd.grpcPort : daprd.httpPort),
    communicationProtocol: CommunicationProtocolEnum[proto], logger: { level: 0 } });

  for (const proto of ["HTTP", "GRPC"]) {
    it(`calls methods with arguments and results, and keeps state (${proto})`, async () => {
      const client = clientFor(proto);
      try {
        const b = new ActorProxyBuilder(CounterActor, client);
        const a = b.build(new ActorId(`c-${proto}`));
        assert.deepEqual(await a.echo({ x: [1, 2] }), { got: { x: [1, 2] }, id: `c-${proto}` });
        assert.equal(await a.add(2), 2);
        assert.equal(await a.add(3), 5);
        assert.equal(await a.get(), 5);
        // the state is in redis under appid||type||id||key
        const r = await fetch(`http://127.0.0.1:${daprd.httpPort}/v1.0/actors/CounterActor/c-${proto}/state/count`);
        assert.equal(r.status, 200);
        assert.equal(await r.text(), "5");
      } finally { await client.stop(); }
    });
  }

  it("runs the calls of one id one at a time, and different ids in parallel", async () => {
    const client = clientFor("HTTP");
    try {
      const b = new ActorProxyBuilder(CounterActor, client);
      log.length = 0;
      const one = b.build(new ActorId("turn-1"));
      let t0 = Date.now();
      await Promise.all(Array.from({ length: 5 }, () => one.slow(100)));
      assert.ok(Date.now() - t0 >= 480, "calls of one id must not overlap");
      assertTurns(log);
      log.length = 0;
      t0 = Date.now();
      await Promise.all(Array.from({ length: 5 }, (_, i) => b.build(new ActorId(`par-${i}`)).slow(300)));
      assert.ok(Date.now() - t0 < 1400, `ids should run in parallel (${Date.now() - t0} ms)`);
      assertTurns(log);
    } finally { await client.stop(); }
  });

  for (const proto of ["HTTP", "GRPC"]) {
    it(`fires and stops timers (${proto})`, async () => {
      const client = clientFor(proto);
      try {
        const id = `timer-${proto}`;
        const a = new ActorProxyBuilder(CounterActor, client).build(new ActorId(id));
        await a.startTimer("t1");
        await waitFor("3 timer firings", async () => fired.filter((f) => f[1] === id).length >= 3, 5000);
        assert.deepEqual(fired.find((f) => f[1] === id), ["timer", id, "tick"]);
        await a.stopTimer("t1");
        const n = fired.filter((f) => f[1] === id).length;
        await sleep(600);
        assert.ok(fired.filter((f) => f[1] === id).length <= n + 1, "timer kept firing after delete");
      } finally { await client.stop(); }
    });
  }

  it("answers bad bodies with Dapr's errors", async () => {
    const r = await fetch(`http://127.0.0.1:${daprd.httpPort}/v1.0/actors/CounterActor/x/state`,
      { method: "POST", body: "{}", headers: { "content-type": "application/json" } });
    assert.equal(r.status, 400);
    const bad = await fetch(`http://127.0.0.1:${daprd.httpPort}/v1.0/actors/CounterActor/x/timers/t`,
      { method: "POST", body: JSON.stringify({ dueTime: "soon" }) });
    assert.equal(bad.status, 500);
    assert.equal((await bad.json()).errorCode, "ERR_ACTOR_TIMER_CREATE");
  });

  it("deactivates idle actors (actorIdleTimeout)", async () => {
    const client = clientFor("HTTP");
    try {
      const a = new ActorProxyBuilder(CounterActor, client).build(new ActorId("idle-1"));
      await a.add(1);
      await waitFor("idle deactivation", async () => deactivated.includes("idle-1"), 8000);
      assert.equal(await a.get(), 1); // re-activates with its state
    } finally { await client.stop(); }
  });

  it("fires reminders, answers GET and DELETE, and keeps them across a daprd restart", async () => {
    const base = `http://127.0.0.1:${daprd.httpPort}/v1.0/actors/CounterActor`;
    let r = await fetch(`${base}/rem-1/reminders/r1`, { method: "POST",
      body: JSON.stringify({ dueTime: "200ms", period: "300ms", data: "hello" }) });
    assert.equal(r.status, 204);
    r = await fetch(`${base}/rem-1/reminders/r1`);
    assert.equal(r.status, 200);
    const got = await r.json();
    assert.equal(got.period, "300ms");
    assert.equal(got.data, "hello");
    await waitFor("reminder fired twice", async () => fired.filter((f) => f[1] === "rem-1").length >= 2, 5000);
    assert.deepEqual(fired.find((f) => f[1] === "rem-1"), ["reminder", "rem-1", "hello"]);
    // a second one registered through the SDK's actor client (gRPC, ISO durations)
    r = await fetch(`${base}/rem-2/reminders/r2`, { method: "PUT",
      body: JSON.stringify({ dueTime: "1s", period: "R100/PT0.3S", data: "durable" }) });
    assert.equal(r.status, 204);
    // restart daprd on the same redis: rem-2 must fire again afterwards
    assert.equal((await daprd.stop()).code, 0);
    const before = fired.filter((f) => f[1] === "rem-2").length;
    daprd = await startSidecar();
    await waitFor("reminder after restart", async () =>
      fired.filter((f) => f[1] === "rem-2").length >= before + 2, 10000);
    r = await fetch(`http://127.0.0.1:${daprd.httpPort}/v1.0/actors/CounterActor/rem-2/reminders/r2`,
      { method: "DELETE" });
    assert.equal(r.status, 204);
    r = await fetch(`http://127.0.0.1:${daprd.httpPort}/v1.0/actors/CounterActor/rem-1/reminders/r1`,
      { method: "DELETE" });
    assert.equal(r.status, 204);
    r = await fetch(`http://127.0.0.1:${daprd.httpPort}/v1.0/actors/CounterActor/rem-2/reminders/r2`);
    assert.equal(r.status, 500);
    const n = fired.filter((f) => f[1] === "rem-2").length;
    await sleep(800);
    assert.ok(fired.filter((f) => f[1] === "rem-2").length <= n + 1);
  });

});
