// Actors across several daprd (issue 6): one placement, three daprd sharing a
// Redis actor state store, each with its own DaprServer app process
// (actors_cluster_app.js) hosting ClusterActor, called with the SDK's
// ActorProxyBuilder through any of the three sidecars. The apps log every
// call (enter/exit), activation, deactivation, timer and reminder with their
// host, which is what the assertions read:
//  (a) calls, state, timers and reminders across hosts;
//  (b) hundreds of concurrent calls on 20 ids from all hosts: one host per id,
//      never two calls of one id at once;
//  (c) SIGKILL of a daprd and its app: its actors come back on the others,
//      its reminders keep firing there;
//  (d) a daprd stopped and restarted (same ports): reminders registered
//      before still fire;
//  (e) reentrancy (raw Node app: the JS SDK 3.18 does not forward
//      Dapr-Reentrancy-Id, see its own @todo) through another sidecar, up to
//      maxStackDepth, and ERR_ACTOR_STACK_DEPTH past it.
"use strict";
const { describe, it, before, after } = require("node:test");
const assert = require("node:assert/strict");
const { DaprClient, CommunicationProtocolEnum, AbstractActor, ActorProxyBuilder, ActorId } =
  require("@dapr/dapr");
const { spawn } = require("node:child_process");
const http = require("node:http");
const path = require("node:path");
const { startRedis, freePort, waitFor, sleep, DAPRD } = require("./harness");
const { Sidecar } = require("./redis_util");
const PLACEMENT = process.env.PLACEMENT || path.join(path.dirname(DAPRD), "placement");

const APP = "clusterapp";
const TYPE = "ClusterActor";
const events = []; // every app's JSON lines
const deaths = []; // hosts killed, with the time

// The proxy only needs the class name and method names.
class ClusterActor extends AbstractActor {
  async whoami() {} async slow(_ms) {} async add(_n) {} async startTimer(_n) {}
  async stopTimer(_n) {}
}

function startApp(host, appPort, daprPort) {
  const proc = spawn(process.execPath, [path.join(__dirname, "actors_cluster_app.js")], {
    env: { ...process.env, APP_PORT: String(appPort), DAPR_HTTP_PORT: String(daprPort),
      HOST_NAME: host },
    stdio: ["ignore", "pipe", "pipe"] });
  let buf = "";
  proc.stdout.on("data", (d) => {
    buf += d;
    let nl;
    while ((nl = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      try { events.push(JSON.parse(line)); } catch { /* not ours */ }
    }
  });
  proc.stderr.on("data", (d) => process.stderr.write(d));
  return proc;
}

const evs = (ev, pred = () => true) => events.filter((e) => e.ev === ev && pred(e));

// Per id: enter/exit strictly alternate across all hosts, and an id is only
// active (activate..deactivate) on one host at a time. `deaths`: hosts
// killed at a time (their actors end there without a deactivation).
function assertExclusive(list, deaths = []) {
  const sorted = [...list, ...deaths.map((d) => ({ ev: "death", ...d }))].sort((x, y) => x.t - y.t);
  const inCall = new Map(), activeOn = new Map();
  for (const e of sorted) {
    if (e.ev === "enter") {
      assert.ok(!inCall.get(e.id), `two calls of ${e.id} overlapped (${inCall.get(e.id)} and ${e.host})`);
      inCall.set(e.id, e.host);
    } else if (e.ev === "exit") {
      inCall.delete(e.id);
    } else if (e.ev === "activate") {
      const on = activeOn.get(e.id);
      assert.ok(!on || on === e.host, `${e.id} active on ${on} and ${e.host} at once`);
      activeOn.set(e.id, e.host);
    } else if (e.ev === "deactivate") {
      if (activeOn.get(e.id) === e.host) activeOn.delete(e.id);
    } else if (e.ev === "death") {
      for (const [id, h] of [...activeOn]) if (h === e.host) activeOn.delete(id);
      for (const [id, h] of [...inCall]) if (h === e.host) inCall.delete(id);
    }
  }
}

describe("actors across three daprd (DaprServer apps, real placement)", () => {
  let redis, placement, placementPort;
  const hosts = []; // {name, sidecar, app, appPort}
  const comps = () => [{ name: "actorstore", type: "state.redis",
    metadata: { redisHost: `127.0.0.1:${redis.port}`, actorStateStore: "true" } }];

  async function startHost(name, extraArgs = []) {
    const appPort = await freePort();
    const sidecar = new Sidecar({ appId: APP, appPort, components: comps(), logLevel: "info",
      args: ["--placement-host-address", `127.0.0.1:${placementPort}`, ...extraArgs] });
    await sidecar.start();
    const h = { name, sidecar, appPort, app: startApp(name, appPort, sidecar.httpPort) };
    await waitFor(`${name} hosts ${TYPE}`, async () => {
      const r = await fetch(`http://127.0.0.1:${sidecar.httpPort}/v1.0/metadata`).catch(() => null);
      const m = r && await r.json();
      return !!m && (m.actorRuntime?.activeActors || []).some((a) => a.type === TYPE) &&
        m.actorRuntime.placement === "placement: connected";
    }, 20000);
    return h;
  }

  const base = (h) => `http://127.0.0.1:${h.sidecar.httpPort}/v1.0/actors/${TYPE}`;
  const client = (h, proto = "HTTP") => new DaprClient({ daprHost: "127.0.0.1",
    daprPort: String(proto === "GRPC" ? h.sidecar.grpcPort : h.sidecar.httpPort),
    communicationProtocol: CommunicationProtocolEnum[proto], logger: { level: 0 } });
  const proxy = (c, id) => new ActorProxyBuilder(ClusterActor, c).build(new ActorId(id));

  before(async () => {
    redis = await startRedis();
    placementPort = await freePort();
    placement = spawn(PLACEMENT, ["--port", String(placementPort), "--healthz-port",
      String(await freePort()), "--host-timeout", "3s"], { stdio: "ignore" });
    const h2Ports = ["--dapr-internal-grpc-port", String(await freePort())];
    for (const [name, extra] of [["h1", []], ["h2", h2Ports], ["h3", []]])
      hosts.push(await startHost(name, extra));
    // every host's tables hold all three: ids spread over the three apps
    const c = client(hosts[0]);
    try {
      await waitFor("ids on all three hosts", async () => {
        const seen = new Set(await Promise.all(Array.from({ length: 24 }, (_, i) =>
          proxy(c, `probe-${i}`).whoami())));
        return seen.size === 3;
      }, 20000);
    } finally { await c.stop(); }
    await sleep(300);
  });

  after(async () => {
    for (const h of hosts) {
      if (h.app && h.app.exitCode === null) h.app.kill("SIGTERM");
      if (h.sidecar) await h.sidecar.stop(); // a killed one: only its files go
    }
    if (placement) placement.kill("SIGTERM");
    if (redis) await redis.stop();
    for (const h of hosts)
      assert.doesNotMatch(h.sidecar.logs(), /runtime error:|AddressSanitizer|LeakSanitizer/,
        `${h.name}: sanitizer report`);
  });

  it("(a) calls, state, timers and reminders reach the owner from any host", async () => {
    const cs = hosts.map((h, i) => client(h, i === 1 ? "GRPC" : "HTTP"));
    try {
      // one owner per id, whichever sidecar is asked
      for (let i = 0; i < 8; i++) {
        const owners = await Promise.all(cs.map((c) => proxy(c, `a-${i}`).whoami()));
        assert.equal(new Set(owners).size, 1, `a-${i} answered from ${owners}`);
      }
      // state written by the owner, read through every sidecar
      assert.equal(await proxy(cs[0], "a-state").add(2), 2);
      assert.equal(await proxy(cs[1], "a-state").add(3), 5);
      assert.equal(await proxy(cs[2], "a-state").add(4), 9);
      for (const h of hosts) {
        const r = await fetch(`${base(h)}/a-state/state/count`);
        assert.equal(await r.text(), "9");
      }
      // a timer registered by the actor (on its owner) fires there
      const owner = await proxy(cs[0], "a-timer").startTimer("t1");
      await waitFor("timer firings", async () => evs("timer", (e) => e.id === "a-timer").length >= 2, 8000);
      assert.ok(evs("timer", (e) => e.id === "a-timer").every((e) => e.host === owner));
      await proxy(cs[2], "a-timer").stopTimer("t1");
      // a timer asked of a sidecar that does not own the actor is refused
      const other = hosts.find((h) => h.name !== owner);
      const r = await fetch(`${base(other)}/a-timer/timers/t2`, { method: "POST",
        body: JSON.stringify({ dueTime: "1s", callback: "onTimer" }) });
      assert.equal(r.status, 500);
      assert.equal((await r.json()).errorCode, "ERR_ACTOR_TIMER_CREATE");
      // reminders registered through each sidecar fire on the actor's owner only
      const ids = ["a-rem-0", "a-rem-1", "a-rem-2"];
      for (let i = 0; i < 3; i++) {
        const rr = await fetch(`${base(hosts[i])}/${ids[i]}/reminders/r`, { method: "POST",
          body: JSON.stringify({ dueTime: "300ms", period: "400ms", data: ids[i] }) });
        assert.equal(rr.status, 204);
      }
      await waitFor("reminders fired twice each", async () =>
        ids.every((id) => evs("reminder", (e) => e.id === id).length >= 2), 10000);
      for (const id of ids) {
        const who = await proxy(cs[0], id).whoami();
        assert.ok(evs("reminder", (e) => e.id === id).every((e) => e.host === who),
          `${id} fired away from its owner ${who}`);
        // GET answers on any sidecar once it has read the array (within 1 s)
        await waitFor(`GET ${id} everywhere`, async () => (await Promise.all(hosts.map((h) =>
          fetch(`${base(h)}/${id}/reminders/r`).then((x) => x.status)))).every((s) => s === 200), 5000);
      }
      // delete through another sidecar: no more firings anywhere
      for (let i = 0; i < 3; i++) {
        const d = await fetch(`${base(hosts[(i + 1) % 3])}/${ids[i]}/reminders/r`, { method: "DELETE" });
        assert.equal(d.status, 204);
      }
      await sleep(1500); // a reload on every host
      const n = evs("reminder", (e) => ids.includes(e.id)).length;
      await sleep(1000);
      assert.equal(evs("reminder", (e) => ids.includes(e.id)).length, n, "deleted reminders fired");
    } finally { for (const c of cs) await c.stop(); }
  });

  it("(b) concurrent calls from all hosts: one host per id, one call per id at a time", async () => {
    const cs = hosts.map((h) => client(h));
    const start = now();
    try {
      const calls = [];
      for (let round = 0; round < 5; round++)
        for (let i = 0; i < 20; i++)
          for (const c of cs) calls.push(proxy(c, `b-${i}`).slow(5));
      const owners = await Promise.all(calls);
      assert.equal(owners.length, 300);
      // each id answered from one host only
      const by = new Map();
      owners.forEach((o, k) => {
        const id = `b-${Math.floor(k / 3) % 20}`;
        by.set(id, (by.get(id) || new Set()).add(o));
      });
      for (const [id, s] of by) assert.equal(s.size, 1, `${id} ran on ${[...s]}`);
      const mine = events.filter((e) => e.t >= start && e.id.startsWith("b-"));
      assert.equal(mine.filter((e) => e.ev === "enter").length, 300);
      assertExclusive(events.filter((e) => e.id.startsWith("b-")));
      assert.ok(new Set(mine.map((e) => e.host)).size >= 2, "ids spread over the hosts");
    } finally { for (const c of cs) await c.stop(); }
  });

  it("(c) SIGKILL of a host: its actors and reminders move to the others", async () => {
    const ids = Array.from({ length: 12 }, (_, i) => `c-${i}`);
    // registered at once through all three sidecars: read-modify-write of
    // one array with ETags, none lost
    const st = await Promise.all(ids.map((id, i) => fetch(`${base(hosts[i % 3])}/${id}/reminders/rc`,
      { method: "POST", body: JSON.stringify({ dueTime: "200ms", period: "500ms", data: id }) })
      .then((r) => r.status)));
    assert.deepEqual(st, ids.map(() => 204));
    await waitFor("every c- reminder fired", async () =>
      ids.every((id) => evs("reminder", (e) => e.id === id).length >= 1), 10000);
    const victim = hosts[2];
    const theirs = ids.filter((id) => evs("reminder", (e) => e.id === id).every((e) => e.host === victim.name));
    assert.ok(theirs.length >= 1, "some reminders fired on the host to kill");
    victim.killed = true;
    victim.app.kill("SIGKILL");
    await victim.sidecar.kill("SIGKILL");
    const killedAt = now();
    deaths.push({ host: victim.name, t: killedAt });
    // calls through the survivors find the moved actors (retried until the tables change)
    const c = client(hosts[0]);
    try {
      for (const id of theirs) {
        const who = await proxy(c, id).whoami();
        assert.ok(who === "h1" || who === "h2", `${id} answered from ${who}`);
      }
    } finally { await c.stop(); }
    await waitFor("moved reminders fire on the survivors", async () => theirs.every((id) =>
      evs("reminder", (e) => e.id === id && e.t > killedAt && e.host !== victim.name).length >= 2), 10000);
    // once per due time in the cluster: no burst of duplicates
    for (const id of ids) {
      const after = evs("reminder", (e) => e.id === id && e.t > killedAt + 1500);
      const span = (now() - killedAt - 1500) / 500;
      assert.ok(after.length <= span + 2, `${id}: ${after.length} firings in ${span} periods`);
    }
    assertExclusive(events.filter((e) => e.id.startsWith("c-") || e.id.startsWith("b-")), deaths);
    for (const id of ids)
      await fetch(`${base(hosts[0])}/${id}/reminders/rc`, { method: "DELETE" });
  });

  it("(d) a restarted daprd: reminders registered before still fire", async () => {
    const ids = Array.from({ length: 8 }, (_, i) => `d-${i}`);
    for (const id of ids) {
      const r = await fetch(`${base(hosts[1])}/${id}/reminders/rd`, { method: "POST",
        body: JSON.stringify({ dueTime: "2s", period: "600ms", data: id }) });
      assert.equal(r.status, 204);
    }
    const h2 = hosts[1];
    assert.equal((await h2.sidecar.kill("SIGTERM")).code, 0); // keeps its resources dir
    const downAt = now();
    await sleep(500);
    await h2.sidecar.start();
    await waitFor("h2 connected again", async () => {
      const m = await (await fetch(`http://127.0.0.1:${h2.sidecar.httpPort}/v1.0/metadata`)).json();
      return m.actorRuntime?.placement === "placement: connected" &&
        (m.actorRuntime.activeActors || []).some((a) => a.type === TYPE);
    }, 20000);
    await waitFor("every d- reminder fired after the restart", async () =>
      ids.every((id) => evs("reminder", (e) => e.id === id && e.t > downAt).length >= 2), 15000);
    const restartedFired = evs("reminder", (e) => ids.includes(e.id) && e.host === "h2" && e.t > downAt);
    const c = client(hosts[0]);
    try {
      const owners = await Promise.all(ids.map((id) => proxy(c, id).whoami()));
      if (owners.includes("h2")) assert.ok(restartedFired.length > 0, "the restarted host fires its reminders");
      // the b- actors active on h1 that h2 owns again were deactivated on h1
      // (rebalancing) before they came back on h2
      const bOwners = await Promise.all(Array.from({ length: 20 }, (_, i) => proxy(c, `b-${i}`).slow(1)));
      assert.ok(bOwners.includes("h2"), "some b- ids moved back to h2");
      const upAt = downAt + 500;
      for (let i = 0; i < 20; i++) {
        if (bOwners[i] !== "h2") continue;
        const wasOnH1 = evs("activate", (e) => e.id === `b-${i}` && e.host === "h1").length > 0;
        if (wasOnH1)
          assert.ok(evs("deactivate", (e) => e.id === `b-${i}` && e.host === "h1" && e.t > upAt).length,
            `b-${i} not deactivated on h1 after moving to h2`);
      }
      assertExclusive(events.filter((e) => /^[bcd]-/.test(e.id)), deaths);
    } finally { await c.stop(); }
    for (const id of ids)
      await fetch(`${base(hosts[0])}/${id}/reminders/rd`, { method: "DELETE" });
  });

  it("(e) reentrancy through another sidecar, up to maxStackDepth", async () => {
    // a raw app hosting ReentrantActor; nested calls go out through h1's sidecar
    const via = hosts[0].sidecar.httpPort;
    const appPort = await freePort();
    const srv = http.createServer((req, res) => {
      let body = "";
      req.on("data", (d) => { body += d; });
      req.on("end", async () => {
        if (req.url === "/dapr/config") {
          res.setHeader("content-type", "application/json");
          return res.end(JSON.stringify({ entities: ["ReentrantActor"],
            reentrancy: { enabled: true, maxStackDepth: 4 } }));
        }
        const m = /^\/actors\/ReentrantActor\/([^/]+)\/method\/recurse$/.exec(req.url);
        if (req.method === "DELETE") return res.end();
        if (!m) { res.statusCode = 404; return res.end(); }
        const n = JSON.parse(body || "0");
        if (n <= 0) return res.end("1");
        const r = await fetch(`http://127.0.0.1:${via}/v1.0/actors/ReentrantActor/${m[1]}/method/recurse`, {
          method: "PUT", body: JSON.stringify(n - 1),
          headers: { "Dapr-Reentrancy-Id": req.headers["dapr-reentrancy-id"] || "" } });
        const text = await r.text();
        res.statusCode = r.status;
        res.end(r.ok ? String(Number(text) + 1) : text);
      });
    });
    await new Promise((r) => srv.listen(appPort, "127.0.0.1", r));
    const sc = new Sidecar({ appId: "reentrantapp", appPort, components: comps(), logLevel: "info",
      args: ["--placement-host-address", `127.0.0.1:${placementPort}`] });
    try {
      await sc.start();
      await waitFor("ReentrantActor in h1's tables", async () => {
        const r = await fetch(`http://127.0.0.1:${via}/v1.0/actors/ReentrantActor/x/method/recurse`,
          { method: "PUT", body: "0" });
        return r.status === 200;
      }, 20000);
      // 4 nested calls of one actor (depth 4 = maxStackDepth): no deadlock
      let r = await fetch(`http://127.0.0.1:${sc.httpPort}/v1.0/actors/ReentrantActor/e1/method/recurse`,
        { method: "PUT", body: "3", signal: AbortSignal.timeout(10000) });
      assert.equal(r.status, 200);
      assert.equal(await r.text(), "4");
      // one more level: ERR_ACTOR_STACK_DEPTH from the owner, through h1
      r = await fetch(`http://127.0.0.1:${sc.httpPort}/v1.0/actors/ReentrantActor/e2/method/recurse`,
        { method: "PUT", body: "4", signal: AbortSignal.timeout(10000) });
      assert.equal(r.status, 500);
      const err = await r.json();
      assert.equal(err.errorCode, "ERR_ACTOR_INVOKE_METHOD");
      assert.match(err.message, /ERR_ACTOR_STACK_DEPTH/);
    } finally {
      await sc.stop();
      srv.close();
    }
  });
});

function now() { return performance.timeOrigin + performance.now(); }
