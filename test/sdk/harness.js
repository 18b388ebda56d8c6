// Test harness for the SDK suites: starts real redis-server and our daprd on
// free 127.0.0.1 ports, waits for readiness, and stops them (checking that
// daprd exits cleanly — under ASan a leak or error makes that fail).
"use strict";
const { spawn } = require("node:child_process");
const fs = require("node:fs");
const net = require("node:net");
const os = require("node:os");
const path = require("node:path");
const http = require("node:http");

const DAPRD = process.env.DAPRD || path.join(__dirname, "../../build/daemon/daprd");

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function tcpReady(port) {
  return new Promise((resolve) => {
    const c = net.connect(port, "127.0.0.1");
    c.once("connect", () => { c.destroy(); resolve(true); });
    c.once("error", () => resolve(false));
  });
}

function httpStatus(port, urlPath, method = "GET") {
  return new Promise((resolve) => {
    const req = http.request({ host: "127.0.0.1", port, path: urlPath, method, agent: false }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode));
    });
    req.on("error", () => resolve(0));
    req.setTimeout(2000, () => { req.destroy(); resolve(0); });
    req.end();
  });
}

async function waitFor(what, fn, timeoutMs) {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await fn()) return;
    await sleep(50);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

function waitExit(proc, timeoutMs) {
  if (proc.exitCode !== null || proc.signalCode !== null)
    return Promise.resolve({ code: proc.exitCode, signal: proc.signalCode });
  return new Promise((resolve) => {
    const t = setTimeout(() => { proc.kill("SIGKILL"); }, timeoutMs);
    proc.once("exit", (code, signal) => { clearTimeout(t); resolve({ code, signal }); });
  });
}

async function startRedis(extraArgs = []) {
  const port = await freePort();
  const proc = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1",
    "--save", "", "--appendonly", "no", ...extraArgs], { stdio: "ignore" });
  await waitFor(`redis-server on ${port}`, () => tcpReady(port), 10000);
  return {
    port,
    async stop() { proc.kill("SIGTERM"); await waitExit(proc, 5000); },
  };
}

function componentYaml(c) {
  const md = Object.entries(c.metadata || {})
    .map(([k, v]) => `  - name: ${k}\n    value: ${JSON.stringify(String(v))}`).join("\n");
  return `apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: ${c.name}
spec:
  type: ${c.type}
  version: ${c.version || "v1"}
${md ? `  metadata:\n${md}` : "  metadata: []"}
`;
}

// Start daprd with the given components. Resolves once /v1.0/healthz/outbound
// answers 204.
async function startDaprd({ appId = "sdk-test", components = [], args = [], env = {} } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "libdapr-res-"));
  components.forEach((c, i) => fs.writeFileSync(path.join(dir, `c${i}.yaml`), componentYaml(c)));
  const httpPort = await freePort();
  const grpcPort = await freePort();
  const proc = spawn(DAPRD, ["--app-id", appId, "--dapr-http-port", String(httpPort),
    "--dapr-grpc-port", String(grpcPort), "--resources-path", dir, "--log-level", "debug", ...args],
    { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let logs = "";
  proc.stdout.on("data", (d) => { logs += d; });
  proc.stderr.on("data", (d) => { logs += d; });
  try {
    await waitFor("daprd outbound health", async () => {
      if (proc.exitCode !== null) throw new Error(`daprd exited early (${proc.exitCode}):\n${logs}`);
      return (await httpStatus(httpPort, "/v1.0/healthz/outbound")) === 204;
    }, 20000);
  } catch (e) {
    proc.kill("SIGKILL");
    throw e;
  }
  return {
    httpPort, grpcPort, proc,
    logs: () => logs,
    // SIGTERM and wait; returns the exit status so tests can assert a clean exit.
    async stop() {
      proc.kill("SIGTERM");
      const r = await waitExit(proc, 15000);
      fs.rmSync(dir, { recursive: true, force: true });
      if (r.code !== 0) process.stderr.write(`daprd logs:\n${logs}\n`);
      return r;
    },
  };
}

module.exports = { freePort, startRedis, startDaprd, sleep, httpStatus, waitFor, DAPRD };
