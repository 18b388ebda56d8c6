// grpc-js (the real client) against libdapr's gRPC engine serving the
// raw-bytes echo service of grpc_test_server. Run: node --test grpc_edges.test.js
// with GRPC_TEST_SERVER pointing at the binary and NODE_PATH at
// test/sdk/node_modules.
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert');
const { spawn, execFile } = require('node:child_process');
const net = require('node:net');
const http2 = require('node:http2');
const grpc = require('@grpc/grpc-js');

const SERVER = process.env.GRPC_TEST_SERVER;
const MAX_MSG = 1 << 20;
const id = (b) => b;
const ERROR_MESSAGE = 'thing not found: café 100% "sure"\n';
const ERROR_DETAILS = Buffer.concat([Buffer.from([0x08, 0x05, 0x12, 0x0f]),
  Buffer.from('thing not found')]);

let server;
let port;
let client;
let serverLog = '';

function startServer(args) {
  return new Promise((resolve, reject) => {
    const proc = spawn(SERVER, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    proc.stderr.on('data', (d) => { serverLog += d; });
    proc.stdout.on('data', (d) => {
      out += d;
      const m = /PORT (\d+)/.exec(out);
      if (m) resolve({ proc, port: Number(m[1]) });
    });
    proc.on('error', reject);
    proc.on('exit', (code) => reject(new Error(`server exited early: ${code}\n${serverLog}`)));
  });
}

function newClient(opts = {}) {
  return new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), opts);
}

function unary(c, method, body, { metadata, deadlineMs } = {}) {
  return new Promise((resolve, reject) => {
    const md = metadata || new grpc.Metadata();
    const options = deadlineMs ? { deadline: Date.now() + deadlineMs } : {};
    c.makeUnaryRequest(method, id, id, Buffer.from(body), md, options, (err, res) => {
      if (err) reject(err); else resolve(res);
    });
  });
}

async function stats(c = client, reset = false) {
  const res = await unary(c, '/test.Echo/Stats', reset ? 'reset' : '');
  return JSON.parse(res.toString());
}

async function waitFor(pred, ms = 3000) {
  const end = Date.now() + ms;
  for (;;) {
    if (await pred()) return true;
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 25));
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

before(async () => {
  assert.ok(SERVER, 'GRPC_TEST_SERVER must name grpc_test_server');
  ({ proc: server, port } = await startServer(['--max-msg', String(MAX_MSG)]));
  server.removeAllListeners('exit');
  client = newClient();
});

after(() => {
  if (client) client.close();
  if (server && server.exitCode === null) server.kill('SIGKILL');
});

test('unary echo, response headers and metadata', async () => {
  const md = new grpc.Metadata();
  md.set('x-custom', 'v1');
  md.set('trace-bin', Buffer.from([0, 1, 2, 255]));
  const res = await new Promise((resolve, reject) => {
    const call = client.makeUnaryRequest('/test.Echo/Unary', id, id, Buffer.from('hello'), md,
      {}, (err, r) => (err ? reject(err) : resolve(r)));
    call.on('metadata', (m) => assert.deepStrictEqual(m.get('x-echo'), ['1']));
  });
  assert.strictEqual(res.toString(), 'hello');
  const empty = await unary(client, '/test.Echo/Unary', '');
  assert.strictEqual(empty.length, 0);
});

test('200 concurrent calls on one connection', async () => {
  const calls = [];
  for (let i = 0; i < 200; i++) calls.push(unary(client, '/test.Echo/Unary', `msg-${i}`));
  const res = await Promise.all(calls);
  res.forEach((r, i) => assert.strictEqual(r.toString(), `msg-${i}`));
  const s = await stats();
  assert.strictEqual(s.conns, 1, 'all calls shared one HTTP/2 connection');
});

test('message size limit: one byte under, at, and one over', async () => {
  const under = await unary(client, '/test.Echo/Unary', Buffer.alloc(MAX_MSG - 1, 'u'));
  assert.strictEqual(under.length, MAX_MSG - 1);
  const at = await unary(client, '/test.Echo/Unary', Buffer.alloc(MAX_MSG, 'a'));
  assert.strictEqual(at.length, MAX_MSG);
  await assert.rejects(unary(client, '/test.Echo/Unary', Buffer.alloc(MAX_MSG + 1, 'o')), (e) => {
    assert.strictEqual(e.code, grpc.status.RESOURCE_EXHAUSTED);
    assert.strictEqual(e.details,
      `grpc: received message larger than max (${MAX_MSG + 1} vs. ${MAX_MSG})`);
    return true;
  });
  // the connection is still fine
  assert.strictEqual((await unary(client, '/test.Echo/Unary', 'ok')).toString(), 'ok');
});

test('deadline expires mid-call: DEADLINE_EXCEEDED and on_cancel on the server', async () => {
  const before0 = (await stats()).cancels;
  await assert.rejects(unary(client, '/test.Echo/Slow', 'never', { deadlineMs: 300 }),
    (e) => e.code === grpc.status.DEADLINE_EXCEEDED);
  await assert.rejects(unary(client, '/test.Echo/Slow', '5000', { deadlineMs: 200 }),
    (e) => e.code === grpc.status.DEADLINE_EXCEEDED);
  assert.ok(await waitFor(async () => (await stats()).cancels >= before0 + 2),
    'server-side on_cancel ran for both calls');
  // a deadline that is not reached
  const ok = await unary(client, '/test.Echo/Slow', '50', { deadlineMs: 5000 });
  assert.strictEqual(ok.toString(), 'slept 50');
  assert.strictEqual((await stats()).calls, 1, 'only the Stats call itself is open');
});

test('client cancels: CANCELLED and the server sees the cancel', async () => {
  const before0 = (await stats()).cancels;
  const err = await new Promise((resolve) => {
    const call = client.makeUnaryRequest('/test.Echo/Slow', id, id, Buffer.from('never'),
      new grpc.Metadata(), {}, (e) => resolve(e));
    setTimeout(() => call.cancel(), 200);
  });
  assert.strictEqual(err.code, grpc.status.CANCELLED);
  assert.ok(await waitFor(async () => (await stats()).cancels >= before0 + 1),
    'server-side on_cancel ran');
});

test('unknown path goes to the fallback (non-OK status, message)', async () => {
  await assert.rejects(unary(client, '/nope.Service/Method', 'x'), (e) => {
    assert.strictEqual(e.code, grpc.status.UNKNOWN);
    assert.strictEqual(e.details,
      'failed to proxy request: required metadata dapr-app-id or dapr-callee-app-id not found');
    return true;
  });
  const md = new grpc.Metadata();
  md.set('dapr-app-id', 'other-app');
  await assert.rejects(unary(client, '/nope.Service/Method', 'x', { metadata: md }),
    (e) => e.code === grpc.status.UNAVAILABLE && e.details === 'no app other-app here');
});

test('server stream of 1000 messages', async () => {
  const call = client.makeServerStreamRequest('/test.Echo/ServerStream', id, id,
    Buffer.from('1000 100'));
  let n = 0;
  call.on('data', (m) => {
    assert.strictEqual(m.length, 100);
    assert.strictEqual(m[0], n & 255);
    n++;
  });
  const st = await new Promise((resolve, reject) => {
    call.on('status', resolve);
    call.on('error', reject);
  });
  assert.strictEqual(st.code, grpc.status.OK);
  assert.strictEqual(n, 1000);
});

test('client stream sums lengths', async () => {
  const res = await new Promise((resolve, reject) => {
    const call = client.makeClientStreamRequest('/test.Echo/ClientStream', id, id,
      (err, r) => (err ? reject(err) : resolve(r)));
    for (let i = 1; i <= 50; i++) call.write(Buffer.alloc(i * 100, 'c'));
    call.end();
  });
  assert.strictEqual(res.toString(), `50 ${(50 * 51 / 2) * 100}`);
});

test('bidi ping-pong', async () => {
  const call = client.makeBidiStreamRequest('/test.Echo/Bidi', id, id);
  let round = 0;
  const got = [];
  const done = new Promise((resolve, reject) => {
    call.on('status', resolve);
    call.on('error', reject);
  });
  call.on('data', (m) => {
    got.push(m.toString());
    round++;
    if (round < 20) call.write(Buffer.from(`ping ${round}`)); else call.end();
  });
  call.write(Buffer.from('ping 0'));
  const st = await done;
  assert.strictEqual(st.code, grpc.status.OK);
  assert.strictEqual(got.length, 20);
  assert.deepStrictEqual(got.slice(0, 3), ['ping 0', 'ping 1', 'ping 2']);
});

test('error status with details', async () => {
  await assert.rejects(unary(client, '/test.Echo/Error', 'x'), (e) => {
    assert.strictEqual(e.code, grpc.status.NOT_FOUND);
    assert.strictEqual(e.details, ERROR_MESSAGE);
    const det = e.metadata.get('grpc-status-details-bin');
    assert.strictEqual(det.length, 1);
    assert.ok(Buffer.from(det[0]).equals(ERROR_DETAILS));
    return true;
  });
});

function h2request(headers, body) {
  return new Promise((resolve, reject) => {
    const s = http2.connect(`http://127.0.0.1:${port}`);
    s.on('error', reject);
    const req = s.request(headers);
    let resp;
    req.on('response', (h) => { resp = h; });
    req.on('data', () => {});
    req.on('close', () => { s.close(); resolve(resp); });
    req.on('error', reject);
    req.end(body);
  });
}

test('wrong content-type or method: HTTP 415 without grpc-status', async () => {
  const h = await h2request({ ':method': 'POST', ':path': '/test.Echo/Unary',
    'content-type': 'application/json' }, '{}');
  assert.strictEqual(h[':status'], 415);
  assert.strictEqual(h['grpc-status'], undefined);
  const g = await h2request({ ':method': 'GET', ':path': '/test.Echo/Unary' });
  assert.strictEqual(g[':status'], 415);
  const j = await h2request({ ':method': 'POST', ':path': '/test.Echo/Unary',
    'content-type': 'application/grpc+json' }, '');
  assert.strictEqual(j[':status'], 415);
});

function rawExchange(bytes) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    let buf = Buffer.alloc(0);
    sock.on('data', (d) => { buf = Buffer.concat([buf, d]); });
    sock.on('close', () => resolve(buf));
    sock.on('error', reject);
    sock.setTimeout(5000, () => { sock.destroy(); reject(new Error('no close')); });
    sock.write(bytes);
  });
}

test('HTTP/1.1 and garbage on the gRPC port: closed with an error, server keeps going', async () => {
  const r = await rawExchange('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  assert.ok(r.toString('latin1').includes('HTTP/1.1 505 HTTP Version Not Supported'),
    `got ${r.toString('latin1')}`);
  const g = await rawExchange(Buffer.from('\x16\x03\x01\x02\x00 garbage that is not h2'));
  assert.ok(g.length < 200, 'closed after at most our SETTINGS/GOAWAY');
  assert.strictEqual((await unary(client, '/test.Echo/Unary', 'still up')).toString(), 'still up');
});

test('nghttp raw exchange: trailers carry grpc-status', async () => {
  const fs = require('node:fs');
  const os = require('node:os');
  const path = require('node:path');
  const body = path.join(os.tmpdir(), `grpc-body-${process.pid}.bin`);
  fs.writeFileSync(body, Buffer.from([0, 0, 0, 0, 3, 0x61, 0x62, 0x63]));
  const out = await new Promise((resolve, reject) => {
    execFile('nghttp', ['-v', '-d', body, '-H', 'content-type: application/grpc', '-H',
      'te: trailers', `http://127.0.0.1:${port}/test.Echo/Unary`], { timeout: 10000 },
    (err, stdout) => (err ? reject(err) : resolve(stdout)));
  });
  fs.unlinkSync(body);
  assert.match(out, /:status: 200/);
  assert.match(out, /content-type: application\/grpc/);
  assert.match(out, /grpc-status: 0/);
  assert.match(out, /SETTINGS_MAX_CONCURRENT_STREAMS\(0x03\):1000/);
  assert.match(out, /SETTINGS_INITIAL_WINDOW_SIZE\(0x04\):1048576/);
});

test('a client that stops reading does not make the server buffer without bound', async () => {
  // its own connection, so the paused stream cannot starve our Stats calls
  const slow = newClient({ 'grpc.use_local_subchannel_pool': 1 });
  await stats(client, true);
  const rss0 = (await stats()).rss_kb;
  const COUNT = 1500;
  const SIZE = 65536;
  const call = slow.makeServerStreamRequest('/test.Echo/ServerStream', id, id,
    Buffer.from(`${COUNT} ${SIZE}`));
  let n = 0;
  const done = new Promise((resolve, reject) => {
    call.on('status', resolve);
    call.on('error', reject);
  });
  call.on('data', () => { n++; if (n === 1) call.pause(); });
  await sleep(1500);
  const s = await stats();
  if (process.env.GRPC_TEST_VERBOSE) console.log('paused after', n, s);
  assert.ok(n < COUNT, `client paused after ${n} messages`);
  assert.ok(s.eagains > 0, 'the handler saw DAPR_EAGAIN');
  assert.ok(s.queued <= 4 * 1048576 + SIZE + 5, `queued ${s.queued} bytes`);
  assert.ok(s.max_queued <= 4 * 1048576 + SIZE + 5, `max queued ${s.max_queued}`);
  assert.ok(s.max_write <= 8 * 1048576, `max write queue ${s.max_write}`);
  assert.ok(s.rss_kb - rss0 < 48 * 1024, `rss grew ${s.rss_kb - rss0} KiB`);
  call.resume();
  const st = await done;
  assert.strictEqual(st.code, grpc.status.OK);
  assert.strictEqual(n, COUNT, 'every message arrived after resuming');
  slow.close();
});

// A hand-rolled HTTP/2 client: huge flow-control windows, then it stops
// reading the socket. Only the server's write queue can hold it back now.
function frame(type, flags, sid, payload) {
  const h = Buffer.alloc(9);
  h.writeUIntBE(payload.length, 0, 3);
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(sid, 5);
  return Buffer.concat([h, payload]);
}

function hpackLiteral(name, value) {
  // literal header field without indexing, new name, no Huffman (lengths < 127)
  return Buffer.concat([Buffer.from([0, name.length]), Buffer.from(name),
    Buffer.from([value.length]), Buffer.from(value)]);
}

test('a raw client that stops reading its socket: the write queue stays bounded', async () => {
  const COUNT = 2000;
  const SIZE = 65536;
  await stats(client, true);
  const settings = Buffer.alloc(6);
  settings.writeUInt16BE(4, 0); // SETTINGS_INITIAL_WINDOW_SIZE
  settings.writeUInt32BE(0x7fffffff, 2);
  const wu = Buffer.alloc(4);
  wu.writeUInt32BE(0x7fffffff - 65535, 0);
  const headers = Buffer.concat([[':method', 'POST'], [':scheme', 'http'],
    [':path', '/test.Echo/ServerStream'], [':authority', 'raw'],
    ['content-type', 'application/grpc'], ['te', 'trailers']].map(([n, v]) => hpackLiteral(n, v)));
  const text = Buffer.from(`${COUNT} ${SIZE}`);
  const msg = Buffer.concat([Buffer.from([0, 0, 0, 0, text.length]), text]);
  const sock = net.connect(port, '127.0.0.1');
  let received = 0;
  sock.on('data', (d) => { received += d.length; });
  await new Promise((resolve) => sock.once('connect', resolve));
  sock.pause(); // never read: kernel buffers fill, then libuv's write queue
  sock.write(Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'),
    frame(4, 0, 0, settings), frame(8, 0, 0, wu), frame(1, 4, 1, headers),
    frame(0, 1, 1, msg)]));
  await sleep(1500);
  const s = await stats();
  if (process.env.GRPC_TEST_VERBOSE) console.log('raw paused', received, s);
  assert.ok(received < COUNT * SIZE, `client paused after ${received} bytes`);
  assert.ok(s.eagains > 0, 'the handler saw DAPR_EAGAIN');
  assert.ok(s.max_write > 1 << 20, `the write queue was used (${s.max_write})`);
  assert.ok(s.max_write <= 4 * 1048576 + 65536, `max write queue ${s.max_write}`);
  assert.ok(s.max_queued <= 4 * 1048576 + SIZE + 5, `max queued ${s.max_queued}`);
  sock.resume();
  assert.ok(await waitFor(async () => (await stats()).calls === 1, 20000),
    'the stream completed once the client read again');
  // the server is done writing; the last bytes may still be on their way
  await waitFor(async () => received >= COUNT * (SIZE + 5), 10000);
  assert.ok(received >= COUNT * (SIZE + 5), `received ${received}`);
  sock.destroy();
});

test('graceful shutdown: in-flight calls finish, then the server exits cleanly', async () => {
  const call = client.makeBidiStreamRequest('/test.Echo/Bidi', id, id);
  const first = new Promise((resolve) => call.once('data', resolve));
  const status = new Promise((resolve, reject) => {
    call.on('status', resolve);
    call.on('error', reject);
  });
  call.write(Buffer.from('before'));
  assert.strictEqual((await first).toString(), 'before');
  const exited = new Promise((resolve) => server.on('exit', (code, sig) => resolve({ code, sig })));
  server.kill('SIGTERM');
  await sleep(300); // GOAWAY went out; the stream stays usable
  const second = new Promise((resolve) => call.once('data', resolve));
  call.write(Buffer.from('during shutdown'));
  assert.strictEqual((await second).toString(), 'during shutdown');
  call.end();
  assert.strictEqual((await status).code, grpc.status.OK);
  const { code, sig } = await exited;
  assert.strictEqual(sig, null, serverLog);
  assert.strictEqual(code, 0, `server exit code (ASan/LSan clean)\n${serverLog}`);
});
