// Helpers for the pubsub.redis SDK tests: a redis-server that can be shut
// down and started again on the same port and directory (append-only file),
// and a daprd that keeps its app id, ports and resources across a kill and a
// restart. Everything listens on 127.0.0.1; every wait is bounded.
"use strict";
const { spawn, execFile } = require("node:child_process");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { freePort, waitFor, httpStatus, DAPRD } = require("./harness");

function exited(proc, timeoutMs) {
  if (proc.exitCode !== null || proc.signalCode !== null)
    return Promise.resolve({ code: proc.exitCode, signal: proc.signalCode });
  return new Promise((resolve) => {
    const t = setTimeout(() => proc.kill("SIGKILL"), timeoutMs);
    proc.once("exit", (code, signal) => { clearTimeout(t); resolve({ code, signal }); });
  });
}

function tcpReady(port) {
  return new Promise((resolve) => {
    const c = require("node:net").connect(port, "127.0.0.1");
    c.once("connect", () => { c.destroy(); resolve(true); });
    c.once("error", () => resolve(false));
  });
}

class Redis {
  static async start({ aof = false } = {}) {
    const r = new Redis();
    r.port = await freePort();
    r.dir = fs.mkdtempSync(path.join(os.tmpdir(), "libdapr-redis-"));
    r.aof = aof;
    await r.start();
    return r;
  }

  async start() {
    const args = ["--port", String(this.port), "--bind", "127.0.0.1", "--save", "",
      "--dir", this.dir, "--appendonly", this.aof ? "yes" : "no"];
    this.proc = spawn("redis-server", args, { stdio: "ignore" });
    await waitFor(`redis-server on ${this.port}`, async () => {
      if (this.proc.exitCode !== null) throw new Error("redis-server exited");
      return (await this.cli("PING").catch(() => "")) === "PONG";
    }, 15000);
  }

  // redis-cli <args>: the reply text, trimmed.
  cli(...args) {
    return new Promise((resolve, reject) => {
      execFile("redis-cli", ["-h", "127.0.0.1", "-p", String(this.port), ...args.map(String)],
        { timeout: 5000 }, (err, out) => (err ? reject(err) : resolve(out.trim())));
    });
  }

  // SHUTDOWN (not a kill): the server writes out its append-only file.
  async shutdown() {
    await this.cli("SHUTDOWN").catch(() => {}); // the connection drops: not an error
    const r = await exited(this.proc, 10000);
    if (r.signal === "SIGKILL") throw new Error("redis-server did not shut down");
    await waitFor("the port to close", async () => !(await tcpReady(this.port)), 5000);
  }

  async stop() {
    if (this.proc && this.proc.exitCode === null && this.proc.signalCode === null) {
      this.proc.kill("SIGTERM");
      await exited(this.proc, 5000);
    }
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
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
  version: v1
${md ? `  metadata:\n${md}` : "  metadata: []"}
`;
}

function redisPubsub(name, port, metadata = {}) {
  return { name, type: "pubsub.redis", metadata: { redisHost: `127.0.0.1:${port}`, ...metadata } };
}

// A daprd whose app id, ports and resources survive kill() + start().
class Sidecar {
  constructor({ appId, appPort, appProtocol, components = [], resources = "", args = [], logLevel = "debug" }) {
    this.appId = appId;
    this.logLevel = logLevel;
    this.appPort = appPort;
    this.args = args;
    if (appProtocol) this.args = [...this.args, "--app-protocol", appProtocol];
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), "libdapr-res-"));
    components.forEach((c, i) => fs.writeFileSync(path.join(this.dir, `c${i}.yaml`), componentYaml(c)));
    if (resources) fs.writeFileSync(path.join(this.dir, "extra.yaml"), resources);
    this.all = "";
    this.proc = null;
  }

  async start() {
    if (!this.httpPort) {
      this.httpPort = await freePort();
      this.grpcPort = await freePort();
    }
    const args = ["--app-id", this.appId, "--dapr-http-port", String(this.httpPort),
      "--dapr-grpc-port", String(this.grpcPort), "--resources-path", this.dir,
      "--log-level", this.logLevel, ...this.args];
    if (this.appPort) args.push("--app-port", String(this.appPort));
    const proc = spawn(DAPRD, args, { stdio: ["ignore", "pipe", "pipe"] });
    this.proc = proc;
    this.all += `--- daprd start (${new Date().toISOString()})\n`;
    proc.stdout.on("data", (d) => { this.all += d; });
    proc.stderr.on("data", (d) => { this.all += d; });
    try {
      // a killed daprd's ports may take a moment to be free again
      await waitFor("daprd outbound health", async () => {
        if (proc.exitCode !== null) throw new Error(`daprd exited early (${proc.exitCode}):\n${this.all}`);
        return (await httpStatus(this.httpPort, "/v1.0/healthz/outbound")) === 204;
      }, 30000);
    } catch (e) {
      proc.kill("SIGKILL");
      throw e;
    }
  }

  logs() { return this.all; }

  async kill(signal = "SIGKILL") {
    this.proc.kill(signal);
    return exited(this.proc, 15000);
  }

  async waitSubscribed(topic, timeoutMs = 15000) {
    await waitFor(`subscription to ${topic}`, async () => {
      const r = await fetch(`http://127.0.0.1:${this.httpPort}/v1.0/metadata`).catch(() => null);
      if (!r) return false;
      const m = await r.json();
      return (m.subscriptions || []).some((s) => s.topic === topic);
    }, timeoutMs);
  }

  // SIGTERM; asserts a clean exit (ASan reports make it fail).
  async stop() {
    let r = { code: 0 };
    if (this.proc && this.proc.exitCode === null && this.proc.signalCode === null) {
      this.proc.kill("SIGTERM");
      r = await exited(this.proc, 15000);
    }
    fs.rmSync(this.dir, { recursive: true, force: true });
    if (r.code !== 0) {
      process.stderr.write(`daprd ${this.appId} logs:\n${this.all.slice(-20000)}\n`);
      throw new Error(`daprd ${this.appId} exited with ${r.code}/${r.signal}`);
    }
    return r;
  }
}

module.exports = { Redis, Sidecar, redisPubsub, componentYaml };
