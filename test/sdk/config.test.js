// The Configuration resource (daprd --config <file>), through real clients:
// spec.nameResolution picks nameresolution.sqlite for two sidecars that then
// reach each other's apps; spec.features shows in the metadata API; a bad
// file stops daprd with an error naming it.
"use strict";
const { describe, it, before, after } = require("node:test");
const assert = require("node:assert/strict");
const { spawn } = require("node:child_process");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { DaprClient, DaprServer, CommunicationProtocolEnum, HttpMethod } = require("@dapr/dapr");
const { startDaprd, freePort, waitFor, DAPRD } = require("./harness");

// Unique app ids: several test runs on one machine may share the mDNS group.
const tag = `${process.pid}${Date.now() % 100000}`;

let dir;
function writeConfig(name, text) {
  const p = path.join(dir, name);
  fs.writeFileSync(p, text);
  return p;
}

async function appServer(daprd, appPort, name) {
  const server = new DaprServer({
    serverHost: "127.0.0.1", serverPort: String(appPort),
    communicationProtocol: CommunicationProtocolEnum.HTTP,
    clientOptions: { daprHost: "127.0.0.1", daprPort: String(daprd.httpPort),
      communicationProtocol: CommunicationProtocolEnum.HTTP },
    logger: { level: 0 },
  });
  await server.invoker.listen("whoami", async (req) => ({ me: name, body: req.body }),
    { method: HttpMethod.POST });
  await server.start();
  return server;
}

function client(daprd, proto) {
  return new DaprClient({ daprHost: "127.0.0.1", logger: { level: 0 },
    daprPort: String(proto === "GRPC" ? daprd.grpcPort : daprd.httpPort),
    communicationProtocol: CommunicationProtocolEnum[proto] });
}

// Run daprd expecting it to fail at start; resolves with its exit code and output.
async function runFailing(args) {
  const proc = spawn(DAPRD, ["--app-id", `bad${tag}`, "--dapr-http-port", String(await freePort()),
    "--dapr-grpc-port", String(await freePort()), ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  proc.stdout.on("data", (d) => { out += d; });
  proc.stderr.on("data", (d) => { out += d; });
  const t = setTimeout(() => proc.kill("SIGKILL"), 20000);
  const [code, signal] = await new Promise((r) => proc.once("exit", (c, s) => r([c, s])));
  clearTimeout(t);
  return { code, signal, out };
}

before(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), "libdapr-cfg-")); });
after(() => { fs.rmSync(dir, { recursive: true, force: true }); });

describe("spec.nameResolution: sqlite", () => {
  it("two sidecars find each other through one SQLite file; a stopped target fails the calls", async () => {
    const db = path.join(dir, "nr.db");
    const cfg = writeConfig("sqlite.yaml", `apiVersion: dapr.io/v1alpha1
kind: Configuration
metadata:
  name: sqlitenr
spec:
  nameResolution:
    component: sqlite
    version: v1
    configuration:
      connectionString: "${db}"
      updateInterval: 5s
      timeout: 1s
`);
    const T = `target${tag}`, C = `caller${tag}`;
    const appPort = await freePort();
    const dT = await startDaprd({ appId: T, args: ["--config", cfg, "--app-port", String(appPort)] });
    let dC, server, stoppedT = false;
    try {
      dC = await startDaprd({ appId: C, args: ["--config", cfg] });
      server = await appServer(dT, appPort, "T");
      for (const d of [dT, dC])
        await waitFor("the sqlite resolver", async () => /Initialized name resolution to sqlite/.test(d.logs()), 10000);
      assert.ok(fs.existsSync(db), "the resolver keeps its registrations in the configured file");
      assert.doesNotMatch(dC.logs(), /name resolution to mdns/);

      for (const proto of ["HTTP", "GRPC"]) {
        const c = client(dC, proto);
        try {
          let r;
          await waitFor(`${proto} invoke through sqlite`, async () => {
            try { r = await c.invoker.invoke(T, "whoami", HttpMethod.POST, { from: proto }); return true; }
            catch { return false; }
          }, 10000);
          assert.equal(r.me, "T");
          assert.deepEqual(JSON.parse(r.body), { from: proto });
        } finally {
          await c.stop();
        }
      }

      // the target's sidecar goes away (it withdraws its row): calls fail, and soon
      assert.equal((await dT.stop()).code, 0);
      stoppedT = true;
      const t0 = Date.now();
      let last;
      await waitFor("ERR_DIRECT_INVOKE after the target stopped", async () => {
        const r = await fetch(`http://127.0.0.1:${dC.httpPort}/v1.0/invoke/${T}/method/whoami`, { method: "POST" });
        last = { status: r.status, body: await r.text() };
        return r.status === 500 && JSON.parse(last.body).errorCode === "ERR_DIRECT_INVOKE";
      }, 10000);
      assert.ok(Date.now() - t0 < 10000);
      assert.match(JSON.parse(last.body).message, new RegExp(`failed to invoke, id: ${T}`));
      // the SDK client sees the failure too
      const c = client(dC, "HTTP");
      try {
        await assert.rejects(c.invoker.invoke(T, "whoami", HttpMethod.POST, {}));
      } finally {
        await c.stop();
      }
    } finally {
      if (!stoppedT) await dT.stop();
      if (dC) assert.equal((await dC.stop()).code, 0);
      if (server) await server.stop();
    }
  });
});

describe("spec.features", () => {
  it("enabled features show in the metadata API's enabledFeatures", async () => {
    const cfg = writeConfig("features.yaml", `apiVersion: dapr.io/v1alpha1
kind: Configuration
metadata:
  name: featurecfg
spec:
  tracing:
    samplingRate: "1"
  features:
    - name: Resiliency
      enabled: true
    - name: NotThisOne
      enabled: false
    - name: HotReload
      enabled: true
`);
    const d = await startDaprd({ appId: `feat${tag}`, args: ["--config", cfg] });
    try {
      const r = await fetch(`http://127.0.0.1:${d.httpPort}/v1.0/metadata`);
      assert.equal(r.status, 200);
      const md = await r.json();
      assert.deepEqual([...md.enabledFeatures].sort(), ["HotReload", "Resiliency"]);
      const c = client(d, "HTTP");
      try {
        const viaSdk = await c.metadata.get();
        assert.deepEqual([...viaSdk.enabledFeatures].sort(), ["HotReload", "Resiliency"]);
      } finally {
        await c.stop();
      }
      assert.match(d.logs(), /loaded configuration featurecfg from/);
      assert.doesNotMatch(d.logs(), /flag --config is accepted but not active/);
    } finally {
      assert.equal((await d.stop()).code, 0);
    }
    // without --config there are none
    const plain = await startDaprd({ appId: `plain${tag}` });
    try {
      const md = await (await fetch(`http://127.0.0.1:${plain.httpPort}/v1.0/metadata`)).json();
      assert.equal(md.enabledFeatures, undefined);
    } finally {
      assert.equal((await plain.stop()).code, 0);
    }
  });
});

describe("a bad --config stops daprd", () => {
  it("exits non-zero with an error naming the file", async () => {
    const bad = writeConfig("bad.yaml", `apiVersion: dapr.io/v1alpha1
kind: Configuration
metadata:
  name: broken
spec:
  features:
    - name: Resiliency
      enabled: perhaps
`);
    let r = await runFailing(["--config", bad]);
    assert.equal(r.code, 1, r.out);
    assert.match(r.out, /error loading configuration: /);
    assert.ok(r.out.includes(`${bad}:8: configuration broken: spec.features[0].enabled`), r.out);

    const missing = path.join(dir, "missing.yaml");
    r = await runFailing(["--config", missing]);
    assert.equal(r.code, 1, r.out);
    assert.ok(r.out.includes(`error loading configuration: ${missing}: No such file or directory`), r.out);

    const syntax = writeConfig("syntax.yaml", "kind: Configuration\nspec:\n  features: [\n");
    r = await runFailing(["--config", syntax]);
    assert.equal(r.code, 1, r.out);
    assert.ok(r.out.includes(`${syntax}:4: invalid YAML`), r.out);

    const unknown = writeConfig("unknown.yaml", `kind: Configuration
spec:
  nameResolution:
    component: nosuchresolver
`);
    r = await runFailing(["--config", unknown]);
    assert.equal(r.code, 1, r.out);
    assert.match(r.out, /couldn't find name resolver nameresolution\.nosuchresolver\/v1/);
    assert.ok(r.out.includes(unknown), r.out);
  });
});
