// The embedding API against the official SDK: a C program embedding the
// runtime (embed_peer.c: invoke handlers, a subscription, the HTTP and gRPC
// API ports open, pubsub.redis on a real redis-server) is called by
// DaprClient over HTTP and gRPC (service invocation of the embedded app's
// methods, publishing to the topic it subscribes), and the embedded program
// calls a DaprServer app behind a daprd, found by mDNS as in
// invoke_remote.test.js.
"use strict";
const { describe, it, before, after } = require("node:test");
const assert = require("node:assert/strict");
const { spawn } = require("node:child_process");
const { DaprClient, DaprServer, CommunicationProtocolEnum, HttpMethod } = require("@dapr/dapr");
const { startDaprd, startRedis, freePort, waitFor } = require("./harness");

const PEER = process.env.EMBED_PEER;
const tag = `${process.pid}${Date.now() % 100000}`;
const EMB = `embedded${tag}`, SDK = `sdkapp${tag}`;

function startPeer(httpPort, grpcPort, redisPort) {
  const proc = spawn(PEER, [EMB, String(httpPort), String(grpcPort), String(redisPort)],
    { stdio: ["ignore", "pipe", "pipe"] });
  let out = "", logs = "";
  proc.stdout.on("data", (d) => { out += d; });
  proc.stderr.on("data", (d) => { logs += d; });
  return {
    proc, logs: () => logs,
    ready: () => waitFor("embedded program READY", async () => {
      if (proc.exitCode !== null) throw new Error(`embed_peer exited (${proc.exitCode}):\n${logs}`);
      return out.includes("READY");
    }, 20000),
    stop: () => new Promise((resolve) => {
      if (proc.exitCode !== null) return resolve(proc.exitCode);
      const t = setTimeout(() => proc.kill("SIGKILL"), 15000);
      proc.once("exit", (code) => { clearTimeout(t); resolve(code); });
      proc.kill("SIGTERM");
    }),
  };
}

describe("an embedded runtime with the official SDK", () => {
  let redis, peer, daprd, server, httpPort, grpcPort;
  const shipments = []; // what the SDK app's subscription received
  before(async () => {
    redis = await startRedis();
    httpPort = await freePort();
    grpcPort = await freePort();
    peer = startPeer(httpPort, grpcPort, redis.port);
    await peer.ready();
    const appPort = await freePort();
    daprd = await startDaprd({ appId: SDK, args: ["--app-port", String(appPort)],
      components: [{ name: "pubsub", type: "pubsub.redis",
        metadata: { redisHost: `127.0.0.1:${redis.port}` } }] });
    server = new DaprServer({
      serverHost: "127.0.0.1", serverPort: String(appPort),
      communicationProtocol: CommunicationProtocolEnum.HTTP,
      clientOptions: { daprHost: "127.0.0.1", daprPort: String(daprd.httpPort),
        communicationProtocol: CommunicationProtocolEnum.HTTP },
      logger: { level: 0 },
    });
    await server.invoker.listen("ping", async (req) => ({ pong: true, got: req.body }),
      { method: HttpMethod.POST });
    await server.pubsub.subscribe("pubsub", "shipments", async (data) => { shipments.push(data); });
    await server.start();
  });
  after(async () => {
    if (server) await server.stop();
    if (daprd) assert.equal((await daprd.stop()).code, 0);
    if (peer) {
      const code = await peer.stop();
      if (code !== 0) process.stderr.write(peer.logs());
      assert.equal(code, 0);
    }
    if (redis) await redis.stop();
  });

  for (const proto of ["HTTP", "GRPC"]) {
    const client = () => new DaprClient({ daprHost: "127.0.0.1", logger: { level: 0 },
      daprPort: String(proto === "GRPC" ? grpcPort : httpPort),
      communicationProtocol: CommunicationProtocolEnum[proto] });

    it(`DaprClient over ${proto} invokes the embedded app's handler`, async () => {
      const c = client();
      try {
        const r = await c.invoker.invoke(EMB, "hello", HttpMethod.POST, { proto });
        assert.deepEqual(JSON.parse(r.hello), { proto });
        assert.equal(r.caller, ""); // through its own API ports: no caller app id
        assert.equal(r.verb, "POST");
      } finally {
        await c.stop();
      }
    });

    it(`DaprClient over ${proto} publishes to a topic the embedded program subscribes`, async () => {
      const c = client();
      try {
        await c.pubsub.publish("pubsub", "orders", { proto, n: 42 });
        await waitFor(`delivery of the ${proto} message`, async () => {
          const got = await c.invoker.invoke(EMB, "received", HttpMethod.GET);
          return got.some((d) => { try { return JSON.parse(d).proto === proto; } catch { return false; } });
        }, 15000);
      } finally {
        await c.stop();
      }
    });
  }

  it("the embedded program publishes through Redis to a DaprServer app's subscription", async () => {
    const c = new DaprClient({ daprHost: "127.0.0.1", daprPort: String(httpPort),
      logger: { level: 0 }, communicationProtocol: CommunicationProtocolEnum.HTTP });
    try {
      await waitFor("the SDK app's subscription", async () => {
        const m = await (await fetch(`http://127.0.0.1:${daprd.httpPort}/v1.0/metadata`)).json();
        return (m.subscriptions || []).some((s) => s.topic === "shipments");
      }, 15000);
      // the consumer group may be created just after the subscription is listed: publish
      // again until one arrives (duplicates are fine)
      await waitFor("delivery to the SDK app", async () => {
        const r = await c.invoker.invoke(EMB, "publish/shipments", HttpMethod.POST, { box: 7 });
        assert.deepEqual(r, { published: true });
        for (let i = 0; i < 10 && !shipments.some((d) => d && d.box === 7); i++)
          await new Promise((res) => setTimeout(res, 100));
        return shipments.some((d) => d && d.box === 7);
      }, 15000);
    } finally {
      await c.stop();
    }
  });

  it("the embedded program invokes a DaprServer app through its daprd", async () => {
    const c = new DaprClient({ daprHost: "127.0.0.1", daprPort: String(httpPort),
      logger: { level: 0 }, communicationProtocol: CommunicationProtocolEnum.HTTP });
    try {
      let r;
      await waitFor("mDNS finds the SDK app", async () => {
        r = await c.invoker.invoke(EMB, `call/${SDK}`, HttpMethod.POST, { from: "embedded" });
        return r && r.status === 200;
      }, 20000);
      const body = JSON.parse(r.body);
      assert.equal(body.pong, true);
      assert.deepEqual(JSON.parse(body.got), { from: "embedded" });
    } finally {
      await c.stop();
    }
  });
});
