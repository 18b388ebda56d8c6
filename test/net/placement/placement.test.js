// grpc-js (with stubs from our proto/) against the placement binary:
// dissemination order, table contents and versions, hosts leaving by
// closing their stream or by going silent. Run: node --test placement.test.js
// with PLACEMENT pointing at the binary and NODE_PATH at test/sdk/node_modules.
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert');
const { spawn } = require('node:child_process');
const http = require('node:http');
const path = require('node:path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const BIN = process.env.PLACEMENT;
const PROTO_ROOT = path.join(__dirname, '..', '..', '..', 'proto');
const def = protoLoader.loadSync('dapr/proto/placement/v1/placement.proto', {
  includeDirs: [PROTO_ROOT], keepCase: true, longs: String, defaults: true, oneofs: true,
});
const pkg = grpc.loadPackageDefinition(def).dapr.proto.placement.v1;

let proc;
let port;
let healthzPort;
let log = '';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitFor(pred, ms = 5000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = pred();
    if (v) return v;
    if (Date.now() > end) return null;
    await sleep(20);
  }
}

function start() {
  return new Promise((resolve, reject) => {
    proc = spawn(BIN, ['--port', '0', '--healthz-port', '0', '--host-timeout', '2s',
      '--replicationFactor', '50', '--disseminate-timeout', '1s'], { stdio: ['ignore', 'pipe', 'pipe'] });
    proc.stdout.on('data', (d) => {
      log += d;
      const m = /started on port (\d+)/.exec(log);
      const h = /Healthz server is listening on [^:]+:(\d+)/.exec(log);
      if (m && h) { port = Number(m[1]); healthzPort = Number(h[1]); resolve(); }
    });
    proc.stderr.on('data', (d) => { log += d; });
    proc.on('exit', (c) => reject(new Error(`placement exited ${c}\n${log}`)));
  });
}

const ACK = { lock: 'LOCK', update: 'UPDATE', unlock: 'UNLOCK' };

// One fake sidecar: a stream, its received orders and a heartbeat. It
// acknowledges each order as daprd 1.17+ does, after ackDelay(order) ms
// (null: never).
class Host {
  constructor(name, id, entities, ns = 'ns1', ackDelay = () => 0) {
    this.msg = { name, port: 50002, id, entities, namespace: ns, api_level: 20 };
    this.orders = [];
    this.ended = null;
    this.client = new pkg.Placement(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    this.call = this.client.ReportDaprStatus();
    this.call.on('data', (o) => {
      o.at = Date.now();
      this.orders.push(o);
      const d = ackDelay(o);
      if (d === null) return;
      setTimeout(() => {
        if (!this.ended) this.call.write({ ...this.msg, operation: ACK[o.operation], version: o.version });
      }, d);
    });
    this.call.on('error', (e) => { this.ended = e; });
    this.call.on('end', () => { if (!this.ended) this.ended = { code: 0 }; });
    this.call.write(this.msg);
    this.beat = setInterval(() => this.call.write(this.msg), 500);
  }
  silence() { clearInterval(this.beat); }
  close() { this.silence(); this.call.end(); }
  destroy() { this.silence(); this.call.cancel(); this.client.close(); }
  // the last update, once the matching unlock came too
  lastTables() {
    for (let i = this.orders.length - 1; i >= 0; i--) {
      if (this.orders[i].operation === 'update') {
        const v = this.orders[i].version;
        const unlocked = this.orders.slice(i).some((o) => o.operation === 'unlock' && o.version === v);
        return unlocked ? this.orders[i] : null;
      }
    }
    return null;
  }
}

const hostsOf = (upd, type) => (upd && upd.tables.entries[type]
  ? Object.keys(upd.tables.entries[type].load_map).sort() : []);

before(async () => {
  assert.ok(BIN, 'PLACEMENT must name the placement binary');
  await start();
});

after(() => {
  if (proc && proc.exitCode === null) proc.kill('SIGKILL');
});

test('healthz answers 200', async () => {
  const status = await new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port: healthzPort, path: '/healthz' }, (res) => {
      res.resume();
      resolve(res.statusCode);
    }).on('error', reject);
  });
  assert.strictEqual(status, 200);
});

test('tables: lock → update → unlock, contents, leave and timeout', async () => {
  const a = new Host('127.0.0.1:10001', 'appa', ['T1']);
  const b = new Host('127.0.0.1:10002', 'appb', ['T1']);
  const c = new Host('127.0.0.1:10003', 'appc', ['T1', 'T2']);
  const all = [a, b, c];
  try {
    const full = await waitFor(() => all.every((h) => hostsOf(h.lastTables(), 'T1').length === 3));
    assert.ok(full, `no table with 3 hosts\n${log}`);
    let prev = 0n;
    for (const h of all) {
      // every round is lock, update, unlock with one version, versions increase
      assert.strictEqual(h.orders.length % 3, 0, JSON.stringify(h.orders.map((o) => o.operation)));
      for (let i = 0; i < h.orders.length; i += 3) {
        const [l, u, un] = h.orders.slice(i, i + 3);
        assert.deepStrictEqual([l.operation, u.operation, un.operation], ['lock', 'update', 'unlock']);
        assert.ok(l.version === u.version && u.version === un.version);
        assert.strictEqual(u.tables.version, u.version);
      }
      const upd = h.lastTables();
      assert.strictEqual(Number(upd.tables.replication_factor), 50);
      assert.deepStrictEqual(hostsOf(upd, 'T1'), ['127.0.0.1:10001', '127.0.0.1:10002', '127.0.0.1:10003']);
      assert.deepStrictEqual(hostsOf(upd, 'T2'), ['127.0.0.1:10003']);
      const hc = upd.tables.entries.T1.load_map['127.0.0.1:10003'];
      assert.strictEqual(hc.id, 'appc');
      assert.strictEqual(hc.namespace, 'ns1');
      assert.strictEqual(Number(hc.port), 50002);
      prev = BigInt(upd.version);
    }
    // a host in another namespace does not appear here
    const other = new Host('127.0.0.1:10009', 'appx', ['T1'], 'ns2');
    await waitFor(() => other.lastTables());
    assert.deepStrictEqual(hostsOf(other.lastTables(), 'T1'), ['127.0.0.1:10009']);
    other.destroy();

    // an actor client (no types) gets the current tables once, no new version
    const d = new Host('127.0.0.1:10004', 'appd', []);
    assert.ok(await waitFor(() => d.lastTables()), 'client-only stream got no tables');
    assert.strictEqual(BigInt(d.lastTables().version), prev);
    assert.strictEqual(hostsOf(d.lastTables(), 'T1').length, 3);

    // A closes its stream: a new version without it
    a.close();
    const v2 = await waitFor(() => {
      const t = b.lastTables();
      return t && BigInt(t.version) > prev && hostsOf(t, 'T1').length === 2 ? t : null;
    });
    assert.ok(v2, `no table after A left\n${log}`);
    assert.deepStrictEqual(hostsOf(v2, 'T1'), ['127.0.0.1:10002', '127.0.0.1:10003']);
    assert.ok(await waitFor(() => hostsOf(d.lastTables(), 'T1').length === 2), 'client not updated');

    // B stops reporting: dropped after the host timeout (2 s here)
    const t0 = Date.now();
    b.silence();
    const v3 = await waitFor(() => {
      const t = c.lastTables();
      return t && hostsOf(t, 'T1').length === 1 ? t : null;
    }, 6000);
    assert.ok(v3, `B not dropped\n${log}`);
    assert.ok(Date.now() - t0 >= 1500, 'dropped too early');
    assert.deepStrictEqual(hostsOf(v3, 'T1'), ['127.0.0.1:10003']);
    assert.ok(BigInt(v3.version) > BigInt(v2.version));
    assert.ok(await waitFor(() => b.ended), 'silent stream not closed');
    assert.strictEqual(b.ended.code, grpc.status.DEADLINE_EXCEEDED);
    d.destroy();
  } finally {
    for (const h of all) h.destroy();
  }
});

test('each phase waits for every host to acknowledge; a host that never does is dropped', async () => {
  // S acknowledges its locks 600 ms late: F's update must wait for it
  const f = new Host('127.0.0.1:10011', 'appf', ['A1'], 'ns3');
  const sl = new Host('127.0.0.1:10012', 'apps', ['A1'], 'ns3', (o) => (o.operation === 'lock' ? 600 : 0));
  let n = null;
  try {
    const both = await waitFor(() => hostsOf(f.lastTables(), 'A1').length === 2 &&
      hostsOf(sl.lastTables(), 'A1').length === 2 ? f.lastTables() : null, 8000);
    assert.ok(both, `no table with both hosts\n${log}`);
    const v = both.version;
    const lock = f.orders.find((o) => o.operation === 'lock' && o.version === v);
    const upd = f.orders.find((o) => o.operation === 'update' && o.version === v);
    assert.ok(upd.at - lock.at >= 500, `update ${upd.at - lock.at} ms after lock`);
    // S got its update only after its own (late) lock ack, and unlock after the update
    const so = sl.orders.filter((o) => o.version === v).map((o) => o.operation);
    assert.deepStrictEqual(so, ['lock', 'update', 'unlock']);

    // N never acknowledges: dropped after --disseminate-timeout (1 s), and
    // the others get a table without it
    n = new Host('127.0.0.1:10013', 'appn', ['A1'], 'ns3', () => null);
    const t0 = Date.now();
    assert.ok(await waitFor(() => n.ended, 8000), `silent acker not dropped\n${log}`);
    assert.strictEqual(n.ended.code, grpc.status.DEADLINE_EXCEEDED);
    assert.ok(Date.now() - t0 >= 900, `dropped after ${Date.now() - t0} ms`);
    assert.ok(await waitFor(() => {
      const t = f.lastTables();
      return t && BigInt(t.version) > BigInt(v) && hostsOf(t, 'A1').length === 2 &&
        !hostsOf(t, 'A1').includes('127.0.0.1:10013');
    }, 8000), `no table without N\n${log}`);
    assert.match(log, /not acknowledged in time/);
  } finally {
    f.destroy();
    sl.destroy();
    if (n) n.destroy();
  }
});

test('SIGTERM shuts down gracefully', async () => {
  const h = new Host('127.0.0.1:10005', 'appe', ['T9']);
  await waitFor(() => h.lastTables());
  const code = await new Promise((resolve) => {
    proc.removeAllListeners('exit');
    proc.on('exit', (c) => resolve(c));
    proc.kill('SIGTERM');
  });
  h.destroy();
  assert.strictEqual(code, 0, log);
  assert.match(log, /shut down gracefully/);
});
