// gRPC proxying (Dapr's "proxy mode"): a plain grpc-js client calls its own
// daprd's gRPC API port with `dapr-app-id` metadata and reaches the target
// app's own gRPC service (test/sdk/proto/proxytest.proto), which daprd knows
// nothing about: unary and all three streaming kinds, errors with details,
// deadlines and cancellation in both directions, metadata in and out, the
// caller's API token never forwarded (CVE-2024-35223), APP_API_TOKEN added.
//
//   client ──(dapr-app-id: B)──▶ daprd A ──internal gRPC──▶ daprd B ──▶ app B
//   client ──(dapr-app-id: A)──▶ daprd A ──▶ app A          (local target)
"use strict";
const { describe, it, before, after } = require("node:test");
const assert = require("node:assert/strict");
const path = require("node:path");
const grpc = require("@grpc/grpc-js");
const protoLoader = require("@grpc/proto-loader");
const protobuf = require("protobufjs"); // proto-loader's own dependency
const { startDaprd, waitFor, sleep } = require("./harness");

const { status: S } = grpc;
const def = protoLoader.loadSync(path.join(__dirname, "proto/proxytest.proto"),
  { keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true });
const Echo = grpc.loadPackageDefinition(def).proxytest.Echo;

// google.rpc.Status, for grpc-status-details-bin
const rpcRoot = new protobuf.Root();
rpcRoot.resolvePath = (origin, target) => path.join(__dirname, "../../proto", target);
rpcRoot.loadSync(["google/rpc/status.proto", "google/rpc/error_details.proto"]);
const RpcStatus = rpcRoot.lookupType("google.rpc.Status");
const ErrorInfo = rpcRoot.lookupType("google.rpc.ErrorInfo");

// Unique app ids: several test runs on one machine share the mDNS group.
const tag = `${process.pid}${Date.now() % 100000}`;
const A = `pxa${tag}`, B = `pxb${tag}`, C = `pxc${tag}`, D = `pxd${tag}`, E = `pxe${tag}`;
const CALLER_TOKEN = "caller-secret";
const BLOB = Buffer.from([0, 1, 2, 0xfe, 0xff, 0x80, 0x0a]);

function withTimeout(p, ms, what) {
  let t;
  return Promise.race([p, new Promise((_, rej) => {
    t = setTimeout(() => rej(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  })]).finally(() => clearTimeout(t));
}

// The app: an Echo server that records what it saw.
function seenMd(md) {
  const out = {};
  for (const k of Object.keys(md.getMap()))
    out[k] = md.get(k).map((x) => (Buffer.isBuffer(x) ? x.toString("base64") : String(x))).join(",");
  return out;
}

async function startApp(name) {
  const app = { name, cancels: [], deadlines: [], lastMd: null, forever: 0 };
  const server = new grpc.Server();
  server.addService(Echo.service, {
    Unary(call, cb) {
      app.lastMd = seenMd(call.metadata);
      const head = new grpc.Metadata();
      head.set("x-resp-head", "h1");
      head.set("x-head-bin", Buffer.from([9, 8, 0, 7]));
      call.sendMetadata(head);
      const trail = new grpc.Metadata();
      trail.set("x-resp-trail", "t1");
      cb(null, { text: call.request.text, n: call.request.n, blob: call.request.blob, app: name,
        md: app.lastMd }, trail);
    },
    ServerStream(call) {
      app.lastMd = seenMd(call.metadata);
      const { count, size } = call.request;
      let i = 0;
      const pump = () => {
        while (i < count) {
          const ok = call.write({ n: i, blob: Buffer.alloc(size, i & 255), app: name });
          i++;
          if (!ok) { call.once("drain", pump); return; }
        }
        call.end();
      };
      pump();
    },
    ClientStream(call, cb) {
      app.lastMd = seenMd(call.metadata);
      let n = 0, bytes = 0, texts = "";
      const slow = call.metadata.get("x-slow-reader").length > 0;
      if (slow) { call.pause(); setTimeout(() => call.resume(), 1000); }
      call.on("data", (m) => { n++; bytes += m.blob.length; texts += m.text; });
      call.on("end", () => cb(null, { n, text: texts.length > 200 ? `${texts.length}` : texts,
        blob: Buffer.from(String(bytes)), app: name }));
    },
    Bidi(call) {
      app.lastMd = seenMd(call.metadata);
      call.on("data", (m) => call.write({ text: `pong:${m.text}`, n: m.n, app: name }));
      call.on("end", () => call.end());
    },
    Fail(call, cb) {
      const st = RpcStatus.encode({ code: S.FAILED_PRECONDITION, message: "not now",
        details: [{ type_url: "type.googleapis.com/google.rpc.ErrorInfo",
          value: ErrorInfo.encode({ reason: "NOT_READY", domain: "proxytest",
            metadata: { who: name } }).finish() }] }).finish();
      const md = new grpc.Metadata();
      md.set("grpc-status-details-bin", Buffer.from(st));
      md.set("x-err-trail", "e1");
      cb({ code: S.FAILED_PRECONDITION, details: `not now (${name})`, metadata: md });
    },
    StreamFail(call) {
      for (let i = 0; i < call.request.count; i++) call.write({ n: i, app: name });
      const md = new grpc.Metadata();
      md.set("x-why", "stream broke");
      call.emit("error", { code: S.ABORTED, details: "aborted midway", metadata: md });
    },
    Slow(call, cb) {
      app.deadlines.push(call.getDeadline());
      const t = setTimeout(() => cb(null, { text: "late", app: name }), 20000);
      call.on("cancelled", () => { clearTimeout(t); app.cancels.push("Slow"); });
    },
    Forever(call) {
      app.forever++;
      let i = 0;
      const t = setInterval(() => call.write({ n: i++, app: name }), 20);
      call.on("cancelled", () => { clearInterval(t); app.cancels.push("Forever"); });
    },
  });
  const port = await new Promise((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(),
      (err, p) => (err ? reject(err) : resolve(p))));
  app.port = port;
  app.stop = () => new Promise((r) => { server.forceShutdown(); r(); });
  return app;
}

// Metadata of a proxied call: target app id and the caller's API token.
function md(target, extra = {}, token = CALLER_TOKEN) {
  const m = new grpc.Metadata();
  if (target) m.set("dapr-app-id", target);
  if (token) m.set("dapr-api-token", token);
  for (const [k, v] of Object.entries(extra)) m.set(k, v);
  return m;
}

// A unary call: its response, response headers and final status (trailers).
const unary = (client, method, req, meta, opts = {}) => new Promise((resolve, reject) => {
  const out = {};
  let result = null;
  const call = client[method](req, meta, opts, (err, res) => { result = { err, res }; });
  call.on("metadata", (h) => { out.head = h; });
  // grpc-js runs the callback first, then emits the status
  call.on("status", (st) => setImmediate(() => {
    if (!result) reject(new Error("status without a result"));
    else if (result.err) { result.err.head = out.head; reject(result.err); }
    else resolve({ res: result.res, status: st, ...out });
  }));
});

// Collect a server stream: messages and the final status (or error).
const collect = (call) => new Promise((resolve) => {
  const msgs = [];
  let head = null;
  call.on("metadata", (h) => { head = h; });
  call.on("data", (m) => msgs.push(m));
  call.on("error", (err) => resolve({ msgs, err, head }));
  call.on("status", (st) => { if (st.code === S.OK) resolve({ msgs, status: st, head }); });
});

describe("gRPC proxying with dapr-app-id", () => {
  let dA, dB, dC, dD, dE, appA, appB, appC, client;
  before(async () => {
    appA = await startApp("A");
    appB = await startApp("B");
    appC = await startApp("C");
    // A: the caller's sidecar (API token on), with its own gRPC app
    dA = await startDaprd({ appId: A, components: [],
      args: ["--app-port", String(appA.port), "--app-protocol", "grpc"],
      env: { DAPR_API_TOKEN: CALLER_TOKEN, APP_API_TOKEN: "app-token-a" } });
    // B: the target, with APP_API_TOKEN for its app
    dB = await startDaprd({ appId: B, components: [],
      args: ["--app-port", String(appB.port), "--app-protocol", "grpc"],
      env: { APP_API_TOKEN: "app-token-b" } });
    // C: a target without APP_API_TOKEN; D: a sidecar without an app
    dC = await startDaprd({ appId: C, components: [],
      args: ["--app-port", String(appC.port), "--app-protocol", "grpc"] });
    dD = await startDaprd({ appId: D, components: [] });
    // E: an HTTP app (nothing needs to listen: the call is refused before)
    dE = await startDaprd({ appId: E, components: [], args: ["--app-port", String(appC.port)] });
    client = new Echo(`127.0.0.1:${dA.grpcPort}`, grpc.credentials.createInsecure());
  });
  after(async () => {
    if (client) client.close();
    // sidecars first: an app server's shutdown waits for daprd's connection
    for (const d of [dA, dB, dC, dD, dE]) if (d) assert.equal((await d.stop()).code, 0);
    for (const a of [appA, appB, appC]) if (a) await a.stop();
  });

  it("unary: reaches app B, metadata in and out, token replaced, caller id stamped", { timeout: 20000 }, async () => {
    const { res, head, status } = await withTimeout(unary(client, "Unary",
      { text: "hi", n: 7, blob: BLOB },
      md(B, { "x-custom": "one", "x-blob-bin": BLOB })), 10000, "Unary");
    assert.equal(res.app, "B");
    assert.equal(res.text, "hi");
    assert.equal(res.n, 7);
    assert.deepEqual(Buffer.from(res.blob), BLOB);
    const seen = res.md;
    assert.equal(seen["dapr-caller-app-id"], A, "the app sees the caller's app id");
    assert.equal(seen["dapr-callee-app-id"], B);
    assert.equal(seen["dapr-api-token"], "app-token-b", "APP_API_TOKEN, never the caller's token");
    assert.ok(!Object.values(seen).includes(CALLER_TOKEN), "the caller's token reaches nobody");
    assert.equal(seen["dapr-app-id"], undefined);
    assert.equal(seen["x-custom"], "one");
    assert.equal(seen["x-blob-bin"], BLOB.toString("base64"), "binary metadata arrives as bytes");
    // response headers and trailers come back
    assert.deepEqual(head.get("x-resp-head"), ["h1"]);
    assert.deepEqual(head.get("x-head-bin"), [Buffer.from([9, 8, 0, 7])]);
    assert.deepEqual(status.metadata.get("x-resp-trail"), ["t1"]);
  });

  it("server stream: 1000 messages in order", { timeout: 30000 }, async () => {
    const r = await withTimeout(collect(client.ServerStream({ count: 1000, size: 100 }, md(B))),
      20000, "ServerStream");
    assert.equal(r.err, undefined, r.err && r.err.message);
    assert.equal(r.msgs.length, 1000);
    r.msgs.forEach((m, i) => { assert.equal(m.n, i); assert.equal(m.blob.length, 100); });
  });

  it("server stream: 24 MiB to a client that stops reading for a while (flow control)", { timeout: 60000 }, async () => {
    const call = client.ServerStream({ count: 48, size: 512 * 1024 }, md(B));
    call.pause();
    const done = collect(call);
    await sleep(1500); // daprd A and B must hold back, not buffer 24 MiB
    call.resume();
    const r = await withTimeout(done, 45000, "big ServerStream");
    assert.equal(r.err, undefined, r.err && r.err.message);
    assert.equal(r.msgs.length, 48);
    r.msgs.forEach((m, i) => { assert.equal(m.n, i); assert.equal(m.blob[0], i & 255); });
  });

  it("client stream: 200 messages counted by the app", { timeout: 20000 }, async () => {
    const res = await withTimeout(new Promise((resolve, reject) => {
      const call = client.ClientStream(md(B), (err, r) => (err ? reject(err) : resolve(r)));
      for (let i = 0; i < 200; i++) call.write({ text: "x", blob: Buffer.alloc(10), n: i });
      call.end();
    }), 10000, "ClientStream");
    assert.equal(res.app, "B");
    assert.equal(res.n, 200);
    assert.equal(res.blob.toString(), "2000");
  });

  it("client stream: 24 MiB to an app that reads late (flow control)", { timeout: 60000 }, async () => {
    const res = await withTimeout(new Promise((resolve, reject) => {
      const call = client.ClientStream(md(B, { "x-slow-reader": "1" }),
        (err, r) => (err ? reject(err) : resolve(r)));
      let i = 0;
      const pump = () => {
        while (i < 48) {
          const ok = call.write({ n: i, blob: Buffer.alloc(512 * 1024, i & 255) });
          i++;
          if (!ok) { call.once("drain", pump); return; }
        }
        call.end();
      };
      pump();
    }), 45000, "big ClientStream");
    assert.equal(res.n, 48);
    assert.equal(res.blob.toString(), String(48 * 512 * 1024));
  });

  it("bidi: 50 rounds of ping-pong, then the client ends", { timeout: 20000 }, async () => {
    const call = client.Bidi(md(B));
    const replies = [];
    let waiter = null;
    call.on("data", (m) => { replies.push(m); if (waiter) { const w = waiter; waiter = null; w(); } });
    const ended = new Promise((resolve, reject) => {
      call.on("status", resolve);
      call.on("error", reject);
    });
    for (let i = 0; i < 50; i++) {
      const got = new Promise((r) => { waiter = r; });
      call.write({ text: `ping${i}`, n: i });
      await withTimeout(got, 5000, `pong ${i}`);
      assert.equal(replies[i].text, `ping${i}`.replace(/^/, "pong:"));
      assert.equal(replies[i].app, "B");
    }
    call.end();
    const st = await withTimeout(ended, 5000, "bidi status");
    assert.equal(st.code, S.OK);
    assert.equal(replies.length, 50);
  });

  it("many calls at once share the sidecar connection", { timeout: 30000 }, async () => {
    const all = [];
    for (let i = 0; i < 50; i++)
      all.push(unary(client, "Unary", { text: `c${i}`, n: i }, md(B)));
    const rs = await withTimeout(Promise.all(all), 20000, "50 calls");
    rs.forEach(({ res }, i) => { assert.equal(res.text, `c${i}`); assert.equal(res.app, "B"); });
  });

  it("an error status from the app comes back with its message, details and trailers", { timeout: 20000 }, async () => {
    let err;
    try {
      await withTimeout(unary(client, "Fail", { text: "x" }, md(B)), 10000, "Fail");
    } catch (e) { err = e; }
    assert.ok(err && err.code !== undefined, `expected a gRPC error, got ${err}`);
    assert.equal(err.code, S.FAILED_PRECONDITION);
    assert.equal(err.details, "not now (B)");
    assert.deepEqual(err.metadata.get("x-err-trail"), ["e1"]);
    const bin = err.metadata.get("grpc-status-details-bin");
    assert.equal(bin.length, 1);
    const st = RpcStatus.decode(bin[0]);
    assert.equal(st.code, S.FAILED_PRECONDITION);
    assert.equal(st.message, "not now");
    const info = ErrorInfo.decode(st.details[0].value);
    assert.equal(info.reason, "NOT_READY");
    assert.equal(info.metadata.who, "B");
  });

  it("a stream that fails midway: the messages, then the app's status", { timeout: 20000 }, async () => {
    const r = await withTimeout(collect(client.StreamFail({ count: 5 }, md(B))), 10000, "StreamFail");
    assert.equal(r.msgs.length, 5);
    assert.ok(r.err);
    assert.equal(r.err.code, S.ABORTED);
    assert.equal(r.err.details, "aborted midway");
    assert.deepEqual(r.err.metadata.get("x-why"), ["stream broke"]);
  });

  it("a deadline expires: DEADLINE_EXCEEDED, the app got the remaining time and is cancelled", { timeout: 20000 }, async () => {
    const before = appB.cancels.length;
    const t0 = Date.now();
    let err;
    try {
      await withTimeout(unary(client, "Slow", { text: "zzz" }, md(B),
        { deadline: Date.now() + 600 }), 10000, "Slow");
    } catch (e) { err = e; }
    assert.ok(err && err.code !== undefined, `expected a gRPC error, got ${err}`);
    assert.equal(err.code, S.DEADLINE_EXCEEDED);
    assert.ok(Date.now() - t0 < 5000, "the deadline was kept");
    const dl = Number(appB.deadlines[appB.deadlines.length - 1]); // Date or ms
    assert.ok(Number.isFinite(dl) && dl <= t0 + 700,
      `the app's deadline (${dl}, call at ${t0}) is the caller's remaining time`);
    await waitFor("the app to see the cancel", async () => appB.cancels.length > before, 5000);
  });

  it("the client cancels a stream: the cancel reaches the app", { timeout: 20000 }, async () => {
    const before = appB.cancels.length;
    const call = client.Forever({ text: "go" }, md(B));
    const got = await withTimeout(new Promise((resolve) => {
      let n = 0;
      call.on("data", () => { if (++n === 3) resolve(n); });
      call.on("error", () => {});
    }), 10000, "three messages");
    assert.equal(got, 3);
    const st = new Promise((resolve) => call.on("status", resolve));
    call.cancel();
    assert.equal((await withTimeout(st, 5000, "cancel status")).code, S.CANCELLED);
    await waitFor("the app to see the cancel", async () =>
      appB.cancels.slice(before).includes("Forever"), 5000);
  });

  it("the API token is required: none or a wrong one → UNAUTHENTICATED", { timeout: 20000 }, async () => {
    for (const token of [null, "wrong"]) {
      let err;
      try {
        await withTimeout(unary(client, "Unary", { text: "x" }, md(B, {}, token)), 5000, "no token");
      } catch (e) { err = e; }
      assert.equal(err && err.code, S.UNAUTHENTICATED);
    }
  });

  it("without dapr-app-id: UNKNOWN naming the metadata (unchanged)", { timeout: 20000 }, async () => {
    let err;
    try {
      await withTimeout(unary(client, "Unary", { text: "x" }, md(null)), 5000, "no app id");
    } catch (e) { err = e; }
    assert.equal(err && err.code, S.UNKNOWN);
    assert.match(err.details, /dapr-app-id/);
  });

  it("a target without APP_API_TOKEN gets no token at all", { timeout: 20000 }, async () => {
    const { res } = await withTimeout(unary(client, "Unary", { text: "c" }, md(C)), 10000, "to C");
    assert.equal(res.app, "C");
    assert.equal(res.md["dapr-api-token"], undefined, "the caller's token is not forwarded");
    assert.equal(res.md["dapr-caller-app-id"], A);
  });

  it("an unknown app id → UNAVAILABLE naming the resolution failure", { timeout: 20000 }, async () => {
    let err;
    try {
      await withTimeout(unary(client, "Unary", { text: "x" }, md(`nobody${tag}`)), 10000, "nobody");
    } catch (e) { err = e; }
    assert.equal(err && err.code, S.UNAVAILABLE);
    assert.match(err.details, new RegExp(`nobody${tag}.*failed to resolve address`));
  });

  it("a target sidecar without an app → UNAVAILABLE, app channel not initialized", { timeout: 20000 }, async () => {
    let err;
    try {
      await withTimeout(unary(client, "Unary", { text: "x" }, md(D)), 10000, "to D");
    } catch (e) { err = e; }
    assert.equal(err && err.code, S.UNAVAILABLE);
    assert.match(err.details, /app channel is not initialized/);
  });

  it("a target whose app speaks HTTP → INTERNAL naming --app-protocol grpc", { timeout: 20000 }, async () => {
    let err;
    try {
      await withTimeout(unary(client, "Unary", { text: "x" }, md(E)), 10000, "to E");
    } catch (e) { err = e; }
    assert.equal(err && err.code, S.INTERNAL);
    assert.match(err.details, /--app-protocol grpc/);
  });

  it("the local app: dapr-app-id naming A's own app (also as id.namespace)", { timeout: 20000 }, async () => {
    for (const target of [A, `${A}.default`]) {
      const { res, head } = await withTimeout(unary(client, "Unary", { text: "self" },
        md(target, { "x-blob-bin": BLOB })), 10000, `to ${target}`);
      assert.equal(res.app, "A");
      assert.equal(res.md["dapr-caller-app-id"], A);
      assert.equal(res.md["dapr-callee-app-id"], A);
      assert.equal(res.md["dapr-api-token"], "app-token-a");
      assert.equal(res.md["x-blob-bin"], BLOB.toString("base64"));
      assert.deepEqual(head.get("x-resp-head"), ["h1"]);
    }
    // streaming to the local app too
    const r = await withTimeout(collect(client.ServerStream({ count: 300, size: 10 }, md(A))),
      10000, "local ServerStream");
    assert.equal(r.msgs.length, 300);
    assert.equal(r.msgs[299].app, "A");
    const call = client.Bidi(md(A));
    const pong = new Promise((resolve) => call.on("data", resolve));
    call.write({ text: "me" });
    assert.equal((await withTimeout(pong, 5000, "local bidi")).text, "pong:me");
    const st = new Promise((resolve) => call.on("status", resolve));
    call.end();
    assert.equal((await withTimeout(st, 5000, "local bidi status")).code, S.OK);
  });
});

describe("sidecars stop cleanly with proxied streams open", () => {
  for (const who of ["caller's", "target's"]) {
    it(`stopping the ${who} sidecar ends the streams and the app's calls, and exits 0`, { timeout: 60000 }, async () => {
      const app = await startApp("S");
      const target = `pxs${who[0]}${tag}`;
      const dCaller = await startDaprd({ appId: `pxr${who[0]}${tag}`, components: [],
        args: ["--dapr-graceful-shutdown-seconds", "1"] });
      const dTarget = await startDaprd({ appId: target, components: [],
        args: ["--app-port", String(app.port), "--app-protocol", "grpc",
          "--dapr-graceful-shutdown-seconds", "1"] });
      const c = new Echo(`127.0.0.1:${dCaller.grpcPort}`, grpc.credentials.createInsecure());
      try {
        const calls = [c.Forever({}, md(target, {}, null)), c.Forever({}, md(target, {}, null)),
          c.Bidi(md(target, {}, null))];
        const ends = calls.map((call) => new Promise((resolve) => {
          call.on("data", () => {});
          call.on("error", (e) => resolve(e.code));
          call.on("status", (st) => resolve(st.code));
        }));
        calls[2].write({ text: "open" });
        await waitFor("both Forever streams at the app", async () => app.forever === 2, 5000);
        const first = who === "caller's" ? dCaller : dTarget;
        const t0 = Date.now();
        assert.equal((await first.stop()).code, 0, "a clean exit (ASan: no leak)");
        assert.ok(Date.now() - t0 < 10000, "bounded by the graceful shutdown period");
        const codes = await withTimeout(Promise.all(ends), 10000, "the streams to end");
        for (const code of codes) assert.ok([S.CANCELLED, S.UNAVAILABLE].includes(code), S[code]);
        await waitFor("the app to see both cancels", async () => app.cancels.length >= 2, 10000);
      } finally {
        c.close();
        for (const d of [dCaller, dTarget]) if (d.proc.exitCode === null) assert.equal((await d.stop()).code, 0);
        await app.stop();
      }
    });
  }
});
