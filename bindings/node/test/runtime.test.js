// dapr-embed (koffi) against the real libdapr.so (DAPR_LIBRARY): state,
// invoke, pub/sub and actors through an embedded runtime on its own loop
// thread. Every port is 127.0.0.1; every wait is bounded.
"use strict";
const { describe, it, before, after } = require("node:test");
const assert = require("node:assert/strict");
const net = require("node:net");
const { spawn } = require("node:child_process");
const { Runtime, Actor, DaprError, SUCCESS, RETRY, DROP, missing } = require("..");

const CLOSED = { "dapr-http-port": "-1", "dapr-grpc-port": "-1", "dapr-internal-grpc-port": "-1", "log-level": "warn" };
const lacks = (...fns) => { const m = fns.filter((f) => missing.includes(f)); return m.length ? `libdapr lacks ${m.join(", ")}` : false; };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function waitFor(what, fn, ms = 20000) {
  const end = Date.now() + ms;
  while (Date.now() < end) { if (await fn()) return; await sleep(20); }
  throw new Error(`timed out waiting for ${what}`);
}
function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, "127.0.0.1", () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}
const connects = (port) => new Promise((resolve) => {
  const c = net.connect(port, "127.0.0.1");
  c.once("connect", () => { c.destroy(); resolve(true); });
  c.once("error", () => resolve(false));
});

describe("state", { skip: lacks("dapr_state_get", "dapr_state_save", "dapr_runtime_add_component") }, () => {
  let rt;
  before(async () => {
    rt = new Runtime("nodestate", { options: CLOSED, components: [{ type: "state.in-memory", name: "store" }] });
    await rt.start();
  });
  after(async () => { if (rt) await rt.close(); });

  it("saves, reads, bulk-reads and deletes", async () => {
    assert.equal(await rt.stateGet("store", "nothing"), null);
    await rt.stateSave("store", { a: { n: 1 }, b: "text", c: Buffer.from([0, 1]) });
    const a = await rt.stateGet("store", "a");
    assert.deepEqual(a.json(), { n: 1 });
    assert.ok(a.etag);
    assert.equal((await rt.stateGet("store", "b")).text(), "text");
    assert.deepEqual([...(await rt.stateGet("store", "c")).data], [0, 1]);
    const bulk = await rt.stateGetBulk("store", ["a", "b", "zz"]);
    assert.equal(bulk.b.text(), "text");
    assert.equal(bulk.zz, null);
    await rt.stateDelete("store", "a");
    assert.equal(await rt.stateGet("store", "a"), null);
  });

  it("enforces ETags", async () => {
    await rt.stateSave("store", { counter: 1 });
    const v = await rt.stateGet("store", "counter");
    await rt.stateSave("store", { counter: 2 }, { etag: v.etag, firstWrite: true });
    await assert.rejects(rt.stateSave("store", { counter: 3 }, { etag: v.etag, firstWrite: true }),
      (e) => e instanceof DaprError && e.codeName === "DAPR_EETAG_MISMATCH");
    assert.equal((await rt.stateGet("store", "counter")).json(), 2);
  });

  it("applies transactions", async () => {
    await rt.stateSave("store", { gone: 1 });
    await rt.stateTransact("store", { upserts: { t1: "x", t2: [1, 2] }, deletes: ["gone"] });
    assert.deepEqual((await rt.stateGet("store", "t2")).json(), [1, 2]);
    assert.equal(await rt.stateGet("store", "gone"), null);
  });

  it("reports Dapr's error codes", async () => {
    await assert.rejects(rt.stateGet("nosuch", "k"), (e) => e.errorCode === "ERR_STATE_STORE_NOT_FOUND");
  });

  it("runs many calls at once", async () => {
    const keys = Array.from({ length: 100 }, (_, i) => `k${i}`);
    await Promise.all(keys.map((k, i) => rt.stateSave("store", { [k]: i })));
    const vals = await Promise.all(keys.map((k) => rt.stateGet("store", k)));
    assert.deepEqual(vals.map((v) => v.json()), keys.map((_, i) => i));
  });
});

describe("service invocation", { skip: lacks("dapr_invoke", "dapr_invoke_register", "dapr_invocation_respond") }, () => {
  it("registers handlers (sync and async) and calls them, also through the HTTP port", async () => {
    const http = await freePort();
    const rt = new Runtime("nodeinvoke", { options: { ...CLOSED, "dapr-http-port": String(http) } });
    try {
      await rt.registerInvokeHandler("hello", (req) => ({ hello: req.json().name, verb: req.verb }));
      await rt.registerInvokeHandler("slow", async () => { await sleep(50); return "late"; });
      await rt.start();
      await rt.registerInvokeHandler("fail", () => ({ status: 418, body: "teapot" }));
      await rt.registerInvokeHandler("nested", async () => (await rt.invoke("nodeinvoke", "hello", { name: "inner" })).json());
      const r = await rt.invoke("nodeinvoke", "hello", { name: "js" });
      assert.equal(r.status, 200);
      assert.deepEqual(r.json(), { hello: "js", verb: "POST" });
      assert.equal((await rt.invoke("nodeinvoke", "slow")).text(), "late");
      assert.equal((await rt.invoke("nodeinvoke", "fail")).status, 418);
      assert.equal((await rt.invoke("nodeinvoke", "nested")).json().hello, "inner");
      const res = await fetch(`http://127.0.0.1:${http}/v1.0/invoke/nodeinvoke/method/hello`,
        { method: "POST", body: JSON.stringify({ name: "fetch" }), headers: { "content-type": "application/json" } });
      assert.equal((await res.json()).hello, "fetch");
    } finally {
      await rt.close();
    }
  });
});

describe("pub/sub", { skip: lacks("dapr_publish", "dapr_subscribe") }, () => {
  it("delivers with SUCCESS / RETRY / DROP verdicts and routing rules", async () => {
    const rt = new Runtime("nodepubsub", { options: CLOSED, components: [{ type: "pubsub.in-memory", name: "ps" }] });
    try {
      const got = [], seen = {};
      await rt.subscribe("ps", "orders", (msg) => {
        const n = msg.json().n;
        seen[n] = (seen[n] || 0) + 1;
        if (n === 2 && seen[n] === 1) return RETRY;
        if (n === 3) return DROP;
        got.push([n, msg.route]);
        return SUCCESS;
      }, { rules: [["event.data.n > 3", "big"]], defaultRoute: "small" });
      await rt.start();
      for (let n = 1; n <= 5; n++) await rt.publish("ps", "orders", { n });
      await waitFor("4 orders", () => got.length === 4);
      assert.deepEqual(got.sort(), [[1, "small"], [2, "small"], [4, "big"], [5, "big"]]);
      assert.ok(seen[2] >= 2);
      await sleep(500);
      assert.equal(seen[3], 1);
      await assert.rejects(rt.publish("nope", "orders", { n: 0 }), (e) => e.errorCode === "ERR_PUBSUB_NOT_FOUND");
    } finally {
      await rt.close();
    }
  });
});

const reminders = [];
class Account extends Actor {
  async deposit(body) { const bal = ((await this.stateGet("balance")) || 0) + JSON.parse(body); await this.stateSet("balance", bal); return bal; }
  async withdraw(body) {
    const bal = (await this.stateGet("balance")) || 0, amount = JSON.parse(body);
    if (amount > bal) throw new Error("insufficient funds");
    await this.stateSet("balance", bal - amount);
    return bal - amount;
  }
  async balance() { return (await this.stateGet("balance")) || 0; }
  async onReminder(name, data) {
    await this.stateSet("balance", ((await this.stateGet("balance")) || 0) + data.bonus);
    reminders.push([this.id, name]);
    return true; // once
  }
}

describe("actors", { skip: lacks("dapr_actors_register_type", "dapr_actor_invoke", "dapr_actor_turn_done",
  "dapr_actor_state_get", "dapr_actor_state_transact", "dapr_actor_reminder_register") || (!process.env.PLACEMENT && "PLACEMENT not set") }, () => {
  let placement, rt;
  before(async () => {
    const port = await freePort();
    placement = spawn(process.env.PLACEMENT, ["--port", String(port), "--healthz-port", String(await freePort()), "--log-level", "warn"], { stdio: "ignore" });
    await waitFor("placement", () => connects(port));
    rt = new Runtime("nodeactors", { options: { ...CLOSED, "placement-host-address": `127.0.0.1:${port}`,
      "dapr-internal-grpc-port": String(await freePort()) },
    components: [{ type: "state.in-memory", name: "actors", metadata: { actorStateStore: "true" } }] });
    rt.registerActorType("Account", Account);
    await rt.start();
  });
  after(async () => {
    if (rt) await rt.close();
    if (placement) placement.kill("SIGTERM");
  });
  async function call(method, arg) {
    const end = Date.now() + 20000;
    for (;;) { // until placement's table lists this host
      try { return JSON.parse((await rt.actorInvoke("Account", "bob", method, arg)).toString()); } catch (e) {
        if (e.errorCode === "ERR_ACTOR_INVOKE_METHOD" || (e.errorCode || "").startsWith("HTTP") || Date.now() > end) throw e;
        await sleep(200);
      }
    }
  }
  it("runs methods with state and a self-cancelling reminder", async () => {
    assert.equal(await call("deposit", 100), 100);
    assert.equal(await call("withdraw", 40), 60);
    await assert.rejects(call("withdraw", 1000), (e) => /insufficient funds/.test(e.detail));
    assert.equal(await call("balance"), 60);
    assert.equal((await rt.actorStateGet("Account", "bob", "balance")).json(), 60);
    await rt.actorReminderRegister("Account", "bob", "bonus", { dueTime: "200ms", period: "1s", data: { bonus: 5 } });
    await waitFor("the reminder", () => reminders.length > 0);
    assert.deepEqual(reminders, [["bob", "bonus"]]);
    assert.equal(await call("balance"), 65);
    await sleep(1500);
    assert.deepEqual(reminders, [["bob", "bonus"]]);
  });
});
