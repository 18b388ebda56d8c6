// grpc-js (the real client) against daprd's Dapr gRPC API, with stubs built
// at run time from OUR .proto files (proto/). One daprd (in-memory store, no
// redis) serves every case: DAPR_API_TOKEN set, --max-body-size 64Ki.
// Run: node --test daprd_grpc.test.js with DAPRD pointing at daemon/daprd
// and NODE_PATH at test/sdk/node_modules.
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const http2 = require('node:http2');
const path = require('node:path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');
const protobuf = require('protobufjs'); // proto-loader's own dependency
const { startDaprd } = require('../../sdk/harness');

const PROTO_ROOT = path.join(__dirname, '../../../proto');
const APP_ID = 'grpc-daprd';
const STORE = 'statestore';
const TOKEN = 'grpc-test-token-0123456789';
const MAX = 64 * 1024; // --max-body-size 64Ki
const DAPR = '/dapr.proto.runtime.v1.Dapr/';
const { status: S } = grpc;

const pkgDef = protoLoader.loadSync(
  ['dapr/proto/runtime/v1/dapr.proto'],
  { includeDirs: [PROTO_ROOT], keepCase: true, longs: String, enums: String, defaults: true,
    oneofs: true });
const Dapr = grpc.loadPackageDefinition(pkgDef).dapr.proto.runtime.v1.Dapr;
const methods = pkgDef['dapr.proto.runtime.v1.Dapr'];

// google.rpc.Status and its details, for grpc-status-details-bin.
const rpcRoot = new protobuf.Root();
rpcRoot.resolvePath = (origin, target) => path.join(PROTO_ROOT, target);
rpcRoot.loadSync(['google/rpc/status.proto', 'google/rpc/error_details.proto']);
const RpcStatus = rpcRoot.lookupType('google.rpc.Status');

let daprd;
let client; // typed stubs
let raw;    // identity serializers: bytes in, bytes out

const id = (b) => b;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function md(token = TOKEN) {
  const m = new grpc.Metadata();
  if (token !== null) m.set('dapr-api-token', token);
  return m;
}

// A typed unary call. token: null sends none.
function call(method, req, { token = TOKEN, deadline } = {}) {
  return new Promise((resolve, reject) => {
    const opts = deadline !== undefined ? { deadline } : {};
    client[method](req, md(token), opts, (err, res) => (err ? reject(err) : resolve(res)));
  });
}

function rawCall(fullPath, bytes, { token = TOKEN, metadata } = {}) {
  return new Promise((resolve, reject) => {
    const m = metadata || md(token);
    raw.makeUnaryRequest(fullPath, id, id, Buffer.from(bytes), m, {},
      (err, res) => (err ? reject(err) : resolve(res)));
  });
}

// Await a call that must fail with `code` (and `details`: string or RegExp).
async function failure(p, code, details) {
  let err = null;
  try {
    await p;
  } catch (e) {
    err = e;
  }
  assert.ok(err, `expected ${S[code]}, the call succeeded`);
  assert.equal(err.code, code, `expected ${S[code]}, got ${S[err.code]}: ${err.details}`);
  if (details instanceof RegExp) assert.match(err.details, details);
  else if (details !== undefined) assert.equal(err.details, details);
  return err;
}

// grpc-status-details-bin → google.rpc.Status with its Any details decoded.
function richStatus(err) {
  const bin = err.metadata.get('grpc-status-details-bin');
  if (!bin.length) return null;
  assert.equal(bin.length, 1);
  const st = RpcStatus.toObject(RpcStatus.decode(bin[0]), { defaults: true });
  st.details = st.details.map((a) => {
    const name = a.type_url.replace(/^type\.googleapis\.com\//, '');
    const T = rpcRoot.lookupType(name);
    return { type: name, ...T.toObject(T.decode(a.value), { defaults: true }) };
  });
  return st;
}

// A SaveStateRequest whose serialized size is exactly `size` bytes.
function saveOfSize(key, size) {
  const enc = methods.SaveState.requestSerialize;
  const mk = (n) => ({ store_name: STORE, states: [{ key, value: Buffer.alloc(n, 'v') }] });
  let n = size - enc(mk(0)).length;
  for (let i = 0; i < 4 && enc(mk(n)).length !== size; i++) n -= enc(mk(n)).length - size;
  assert.equal(enc(mk(n)).length, size, 'could not hit the exact size');
  return mk(n);
}

// One raw HTTP/2 request (own connection), returning headers + trailers.
function h2grpc(fullPath, headers, body) {
  return new Promise((resolve, reject) => {
    const s = http2.connect(`http://127.0.0.1:${daprd.grpcPort}`);
    s.on('error', reject);
    const req = s.request({ ':method': 'POST', ':path': fullPath,
      'content-type': 'application/grpc', te: 'trailers', ...headers });
    let head = {};
    let trailers = {};
    req.on('response', (h) => { head = h; });
    req.on('trailers', (t) => { trailers = t; });
    req.on('data', () => {});
    req.on('close', () => { s.close(); resolve({ ...head, ...trailers }); });
    req.on('error', reject);
    req.end(body);
  });
}

function frame(msg) {
  const b = Buffer.alloc(5 + msg.length);
  b.writeUInt32BE(msg.length, 1);
  msg.copy(b, 5);
  return b;
}

function withTimeout(p, ms, what) {
  let t;
  return Promise.race([p, new Promise((_, rej) => {
    t = setTimeout(() => rej(new Error(`${what}: no answer within ${ms} ms (hang)`)), ms);
  })]).finally(() => clearTimeout(t));
}

before(async () => {
  daprd = await startDaprd({
    appId: APP_ID,
    components: [{ name: STORE, type: 'state.in-memory' }],
    args: ['--max-body-size', '64Ki'],
    env: { DAPR_API_TOKEN: TOKEN },
  });
  const addr = `127.0.0.1:${daprd.grpcPort}`;
  const opts = { 'grpc.max_send_message_length': 4 * MAX };
  client = new Dapr(addr, grpc.credentials.createInsecure(), opts);
  raw = new grpc.Client(addr, grpc.credentials.createInsecure(), opts);
});

after(async () => {
  if (client) client.close();
  if (raw) raw.close();
  if (daprd) {
    const r = await daprd.stop();
    const logs = daprd.logs();
    assert.equal(r.signal, null, `daprd killed by ${r.signal}\n${logs}`);
    assert.equal(r.code, 0, `daprd exit code (ASan/LSan/UBSan clean)\n${logs}`);
    assert.doesNotMatch(logs, /AddressSanitizer|LeakSanitizer|runtime error:/);
  }
});

test('API token: missing or wrong → UNAUTHENTICATED, right → OK', async () => {
  const req = { store_name: STORE, key: 'auth-k' };
  await failure(call('GetState', req, { token: null }), S.UNAUTHENTICATED,
    'missing api token in request metadata');
  for (const wrong of ['wrong', '', TOKEN.slice(0, -1), `${TOKEN}x`, TOKEN.toUpperCase()]) {
    await failure(call('GetState', req, { token: wrong }), S.UNAUTHENTICATED,
      'authentication error: api token mismatch');
  }
  const res = await call('GetState', req);
  assert.equal(res.data.length, 0);
  assert.equal(res.etag, '');
  // the token is checked before anything else: unknown paths, unimplemented
  // RPCs and undecodable requests too
  await failure(rawCall('/foo.Bar/Baz', 'x', { token: null }), S.UNAUTHENTICATED);
  await failure(call('PublishEvent', { pubsub_name: 'p', topic: 't' }, { token: null }),
    S.UNAUTHENTICATED);
  await failure(rawCall(`${DAPR}GetState`, [0x0a, 0x05], { token: 'nope' }), S.UNAUTHENTICATED,
    'authentication error: api token mismatch');
});

test('unknown method path → UNKNOWN naming dapr-app-id; unimplemented RPC → UNIMPLEMENTED', async () => {
  await failure(rawCall('/foo.Bar/Baz', 'x'), S.UNKNOWN,
    'failed to proxy request: required metadata dapr-app-id or dapr-callee-app-id not found');
  await failure(rawCall('/dapr.proto.runtime.v1.Dapr/NoSuchRpc', ''), S.UNKNOWN, /dapr-app-id/);
  await failure(call('InvokeBinding', { name: 'b', operation: 'create', data: Buffer.from('x') }),
    S.UNIMPLEMENTED, /\bInvokeBinding\b/);
  // a streaming one answers too (at the first message or the half-close)
  const bidi = client.SubscribeActorEventsAlpha1(md());
  const st = await withTimeout(new Promise((resolve) => {
    bidi.on('error', resolve);
    bidi.on('status', (s) => { if (s.code !== S.OK) resolve(s); });
    bidi.on('data', () => {});
    bidi.end();
  }), 5000, 'SubscribeActorEventsAlpha1');
  assert.equal(st.code, S.UNIMPLEMENTED);
  assert.match(st.details, /\bSubscribeActorEventsAlpha1\b/);
});

test('max message size 64Ki: one byte under and at succeed, one over → RESOURCE_EXHAUSTED', async () => {
  await call('SaveState', saveOfSize('size-under', MAX - 1));
  await call('SaveState', saveOfSize('size-at', MAX));
  await failure(call('SaveState', saveOfSize('size-over', MAX + 1)), S.RESOURCE_EXHAUSTED,
    `grpc: received message larger than max (${MAX + 1} vs. ${MAX})`);
  const under = await call('GetState', { store_name: STORE, key: 'size-under' });
  assert.ok(under.data.length > MAX - 64 && under.etag, 'the under-limit value was stored');
  assert.ok((await call('GetState', { store_name: STORE, key: 'size-at' })).etag);
  const over = await call('GetState', { store_name: STORE, key: 'size-over' });
  assert.equal(over.data.length, 0, 'nothing of the oversized request was stored');
});

test('undecodable protobuf → INTERNAL, and daprd keeps serving', async () => {
  const bad = [
    [0x0a, 0x05, 0x61],       // field 1 (string) claims 5 bytes, has 1
    [0x12, 0x80],             // field 2 length varint never ends
    [0x0f, 0x00],             // wire type 7 does not exist
    [0x0b, 0x0a, 0x01, 0x61], // start-group without its end
    [0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01], // 11-byte varint
  ];
  for (const rpc of ['GetState', 'SaveState', 'DeleteState', 'GetBulkState',
    'ExecuteStateTransaction', 'SetMetadata']) {
    for (const b of bad) {
      await failure(rawCall(`${DAPR}${rpc}`, b), S.INTERNAL,
        /^grpc: error unmarshalling request/);
    }
  }
  // a StateItem inside SaveState that is itself broken
  await failure(rawCall(`${DAPR}SaveState`, [0x0a, 0x01, 0x73, 0x12, 0x03, 0x0a, 0x09, 0x61]),
    S.INTERNAL, /^grpc: error unmarshalling request/);
  // still serving, on the same connection
  await call('SaveState', { store_name: STORE, states: [{ key: 'after-bad', value: Buffer.from('ok') }] });
  const r = await call('GetState', { store_name: STORE, key: 'after-bad' });
  assert.equal(r.data.toString(), 'ok');
});

test('error mapping: unknown store, etag mismatch, invalid etag, rich details', async () => {
  const nf = await failure(call('GetState', { store_name: 'nosuchstore', key: 'k' }),
    S.INVALID_ARGUMENT, 'state store nosuchstore is not found');
  const st = richStatus(nf);
  assert.ok(st, 'grpc-status-details-bin present');
  assert.equal(st.code, S.INVALID_ARGUMENT);
  assert.equal(st.message, 'state store nosuchstore is not found');
  const info = st.details.find((d) => d.type === 'google.rpc.ErrorInfo');
  assert.ok(info, JSON.stringify(st));
  assert.equal(info.reason, 'DAPR_STATE_NOT_FOUND');
  assert.equal(info.domain, 'dapr.io');
  assert.deepEqual(info.metadata, { appID: APP_ID });
  // the same over SaveState
  const nf2 = await failure(call('SaveState', { store_name: 'nosuchstore',
    states: [{ key: 'k', value: Buffer.from('1') }] }), S.INVALID_ARGUMENT,
  'state store nosuchstore is not found');
  assert.equal(richStatus(nf2).details[0].reason, 'DAPR_STATE_NOT_FOUND');

  await call('SaveState', { store_name: STORE, states: [{ key: 'etag-k', value: Buffer.from('v1') }] });
  const { etag } = await call('GetState', { store_name: STORE, key: 'etag-k' });
  assert.ok(etag);
  await call('SaveState', { store_name: STORE,
    states: [{ key: 'etag-k', value: Buffer.from('v2'), etag: { value: etag } }] });
  // etag is now stale
  const mm = await failure(call('SaveState', { store_name: STORE,
    states: [{ key: 'etag-k', value: Buffer.from('v3'), etag: { value: etag } }] }), S.ABORTED,
  /^failed saving state in state store statestore: possible etag mismatch\. error from state store: /);
  assert.equal(richStatus(mm), null, 'legacy error: no status details, as in Dapr');
  await failure(call('DeleteState', { store_name: STORE, key: 'etag-k', etag: { value: etag } }),
    S.ABORTED, /^failed deleting state with key etag-k: possible etag mismatch/);
  // Dapr's in-memory store compares ETags as opaque strings: a foreign one
  // is a mismatch (ABORTED), not an invalid ETag.
  await failure(call('SaveState', { store_name: STORE,
    states: [{ key: 'etag-k', value: Buffer.from('v4'), etag: { value: 'not-a-number' } }] }),
  S.ABORTED, /^failed saving state in state store statestore: possible etag mismatch/);
  assert.equal((await call('GetState', { store_name: STORE, key: 'etag-k' })).data.toString(), 'v2');
  // an unknown transaction operation
  await failure(call('ExecuteStateTransaction', { storeName: STORE,
    operations: [{ operationType: 'merge', request: { key: 'tx' } }] }), S.UNIMPLEMENTED,
  'operation type merge not supported');
});

test('deadline below 1 ms: DEADLINE_EXCEEDED or OK, never a hang', async () => {
  const req = { store_name: STORE, key: 'deadline-k' };
  for (let i = 0; i < 20; i++) {
    try {
      await withTimeout(call('GetState', req, { deadline: Date.now() + (i % 2) }), 5000,
        'GetState with a tiny deadline');
    } catch (e) {
      if (e.code === undefined) throw e;
      assert.equal(e.code, S.DEADLINE_EXCEEDED, `${S[e.code]}: ${e.details}`);
    }
  }
  // grpc-timeout below a millisecond sent on the wire as is
  const body = frame(methods.GetState.requestSerialize(req));
  for (const t of ['1n', '999n', '1u', '500u', '0m', '1m']) {
    const h = await withTimeout(h2grpc(`${DAPR}GetState`,
      { 'grpc-timeout': t, 'dapr-api-token': TOKEN }, body), 5000, `grpc-timeout ${t}`);
    assert.ok(['0', '4'].includes(h['grpc-status']), `grpc-timeout ${t}: ${JSON.stringify(h)}`);
  }
  // and the server is fine afterwards
  await call('GetState', req);
});

test('200 concurrent GetState calls on one channel all OK', async () => {
  await call('SaveState', { store_name: STORE,
    states: Array.from({ length: 10 }, (_, i) => ({ key: `c-${i}`, value: Buffer.from(`v-${i}`) })) });
  const res = await Promise.all(Array.from({ length: 200 },
    (_, i) => call('GetState', { store_name: STORE, key: `c-${i % 10}` })));
  res.forEach((r, i) => assert.equal(r.data.toString(), `v-${i % 10}`));
});

test('GetMetadata: id and the in-memory store; SetMetadata shows in extended metadata', async () => {
  const m = await call('GetMetadata', {});
  assert.equal(m.id, APP_ID);
  assert.ok(m.runtime_version, 'runtime_version');
  const comp = m.registered_components.find((c) => c.name === STORE);
  assert.ok(comp, JSON.stringify(m.registered_components));
  assert.equal(comp.type, 'state.in-memory');
  assert.equal(comp.version, 'v1');
  for (const cap of ['ETAG', 'TRANSACTIONAL']) assert.ok(comp.capabilities.includes(cap), cap);
  assert.equal(m.extended_metadata.team, undefined);
  await call('SetMetadata', { key: 'team', value: 'blue' });
  await call('SetMetadata', { key: 'unicode', value: 'café ☕' });
  const m2 = await call('GetMetadata', {});
  assert.equal(m2.extended_metadata.team, 'blue');
  assert.equal(m2.extended_metadata.unicode, 'café ☕');
  await call('SetMetadata', { key: 'team', value: 'green' });
  assert.equal((await call('GetMetadata', {})).extended_metadata.team, 'green');
});

// ---------------------------------------------------------------------------
// Known divergences from Dapr: these fail until lib/ is fixed (see the
// report that came with this file). Not skipped on purpose.

// protobuf-c hands string fields over as NUL-terminated C strings, so a NUL
// inside a key or store name silently cuts it: "nul\0b" and "nul\0c" are the
// same key as "nul" (lib/grpc/api.c on_request → lib/grpc/api_state.c pass
// q->key / q->store_name as C strings). In Dapr (Go) they are distinct keys.
test('a NUL inside a key or store name must not alias a shorter one', async () => {
  await call('SaveState', { store_name: STORE, states: [{ key: 'nul', value: Buffer.from('orig') }] });
  for (const [k, v] of [['nul\u0000b', 'first'], ['nul\u0000c', 'second']]) {
    try {
      await call('SaveState', { store_name: STORE, states: [{ key: k, value: Buffer.from(v) }] });
    } catch (e) {
      assert.ok([S.INVALID_ARGUMENT, S.INTERNAL].includes(e.code), `${S[e.code]}: ${e.details}`);
    }
  }
  const plain = await call('GetState', { store_name: STORE, key: 'nul' });
  assert.equal(plain.data.toString(), 'orig', 'key "nul" was overwritten through "nul\\0…"');
  let got = null;
  try {
    got = await call('GetState', { store_name: `${STORE}\u0000x`, key: 'nul' });
  } catch (e) {
    assert.ok([S.INVALID_ARGUMENT, S.INTERNAL].includes(e.code), `${S[e.code]}: ${e.details}`);
  }
  assert.equal(got, null, `store "${STORE}\\0x" was served by "${STORE}"`);
});

// Our .proto files are proto3: grpc-go (Dapr) rejects a string field that is
// not UTF-8 while unmarshalling → INTERNAL "grpc: error unmarshalling request:
// string field contains invalid UTF-8". protobuf-c does not check; daprd does
// before unpacking (lib/grpc/pbcheck.c).
test('string fields that are not UTF-8 → INTERNAL, as grpc-go', async () => {
  const str = (field, bytes) => [(field << 3) | 2, bytes.length, ...bytes];
  const cases = [
    ['SetMetadata', [...str(1, [0x6b, 0xff]), ...str(2, [0x76])]],               // key "k\xff"
    ['SetMetadata', [...str(1, [0x6b]), ...str(2, [0xc3, 0x28])]],               // value
    ['GetState', [...str(1, Buffer.from(STORE)), ...str(2, [0xe2, 0x82])]],      // key
    ['SaveState', [...str(1, Buffer.from(STORE)), ...str(2, str(1, [0x80]))]],   // item key
  ];
  for (const [rpc, bytes] of cases) {
    await failure(rawCall(`${DAPR}${rpc}`, bytes), S.INTERNAL,
      /^grpc: error unmarshalling request/);
  }
});

// Dapr's SetMetadata with an empty key is a no-op that answers OK.
test('SetMetadata with an empty key is a no-op answering OK, as in Dapr', async () => {
  await call('SetMetadata', { key: '', value: 'ignored' });
  const m = await call('GetMetadata', {});
  assert.equal(m.extended_metadata[''], undefined);
});
