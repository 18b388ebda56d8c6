// dapr-embed — an embedded Dapr runtime (libdapr) for Node.js, over koffi.
//
//   const { Runtime } = require("dapr-embed");
//   const rt = new Runtime("myapp", { options: { "dapr-http-port": "-1" },
//     components: [{ type: "state.in-memory", name: "statestore" }] });
//   await rt.start();
//   await rt.stateSave("statestore", { k: "v" });
//   (await rt.stateGet("statestore", "k")).text();   // "v"
//   await rt.close();
//
// Threads. The runtime runs on a loop thread of libdapr (created with loop
// NULL, dapr_runtime_run_thread). JS only ever calls dapr_runtime_post()
// from the main thread (the one thread-safe call) and everything else from
// inside posted callbacks. libdapr calls our registered callbacks on its
// loop thread; koffi relays such a call to the JS main thread through the
// Node event loop and the loop thread waits until the JS function returns.
// So, while JS runs a callback, libdapr's loop is paused: C calls made from
// that callback are made "on the loop thread" as the C API requires, and
// the main thread must never block waiting for the loop thread (join runs
// through koffi's .async on a worker thread). Consequences for handlers:
//  - pub/sub handlers must return their verdict synchronously (SUCCESS,
//    RETRY, DROP; a thrown error is RETRY);
//  - invoke handlers and actor methods may be async: their answer is posted
//    to the loop thread when the promise settles.
"use strict";
const koffi = require("koffi");

const lib = koffi.load(process.env.DAPR_LIBRARY || "libdapr.so.0");

// ---- types (include/dapr/*.h) --------------------------------------------
const KV = koffi.struct("dapr_kv_t", { key: "const char *", value: "const char *" });
const Err = koffi.struct("dapr_error_t", { code: "int", message: "const char *", error_code: "const char *" });
const StateItem = koffi.struct("dapr_state_item_t", {
  key: "const char *", value: "const void *", value_len: "size_t", etag: "const char *",
  concurrency: "int", consistency: "int", ttl_seconds: "int64_t", content_type: "const char *",
  metadata: "const dapr_kv_t *", n_metadata: "size_t" });
const StateKey = koffi.struct("dapr_state_key_t", {
  key: "const char *", etag: "const char *", concurrency: "int", consistency: "int",
  metadata: "const dapr_kv_t *", n_metadata: "size_t" });
const StateValueT = koffi.struct("dapr_state_value_t", {
  found: "bool", data: "const void *", len: "size_t", etag: "const char *",
  content_type: "const char *", metadata: "const dapr_kv_t *", n_metadata: "size_t" });
koffi.struct("dapr_state_op_t", { kind: "int", item: "dapr_state_item_t" });
const BulkValue = koffi.struct("dapr_state_bulk_value_t", {
  key: "const char *", found: "bool", data: "const void *", len: "size_t", etag: "const char *",
  error: "const char *", metadata: "const dapr_kv_t *", n_metadata: "size_t" });
const InvokeRequest = koffi.struct("dapr_invoke_request_t", {
  method: "const char *", verb: "const char *", query: "const char *", content_type: "const char *",
  headers: "const dapr_kv_t *", n_headers: "size_t", body: "const void *", body_len: "size_t" });
const InvokeResponse = koffi.struct("dapr_invoke_response_t", {
  status: "int", content_type: "const char *", headers: "const dapr_kv_t *", n_headers: "size_t",
  body: "const void *", body_len: "size_t" });
koffi.struct("dapr_publish_request_t", {
  pubsub: "const char *", topic: "const char *", data: "const void *", len: "size_t",
  content_type: "const char *", metadata: "const dapr_kv_t *", n_metadata: "size_t" });
const Message = koffi.struct("dapr_message_t", {
  pubsub: "const char *", topic: "const char *", route: "const char *", id: "const char *",
  source: "const char *", type: "const char *", specversion: "const char *",
  data_content_type: "const char *", data: "const void *", len: "size_t",
  event: "const void *", event_len: "size_t", metadata: "const dapr_kv_t *", n_metadata: "size_t" });
koffi.struct("dapr_route_rule_t", { match: "const char *", path: "const char *" });
koffi.struct("dapr_subscription_t", {
  pubsub: "const char *", topic: "const char *", rules: "const dapr_route_rule_t *",
  n_rules: "size_t", default_route: "const char *", dead_letter_topic: "const char *",
  metadata: "const dapr_kv_t *", n_metadata: "size_t" });
const TurnInfo = koffi.struct("dapr_actor_turn_info_t", {
  kind: "int", type: "const char *", id: "const char *", name: "const char *",
  body: "const void *", body_len: "size_t", content_type: "const char *" });
const ActorResponse = koffi.struct("dapr_actor_response_t", { status: "int", body: "const void *", body_len: "size_t" });
koffi.struct("dapr_actor_state_op_t", {
  kind: "int", key: "const char *", value: "const void *", value_len: "size_t", ttl_seconds: "int64_t" });
koffi.struct("dapr_actor_schedule_t", {
  type: "const char *", id: "const char *", name: "const char *", due_time: "const char *",
  period: "const char *", ttl: "const char *", data: "const char *" });
koffi.struct("dapr_actor_config_t", {
  idle_timeout_ms: "uint64_t", scan_interval_ms: "uint64_t", drain_timeout_ms: "uint64_t",
  no_drain_rebalanced: "bool", reentrancy: "bool", max_stack_depth: "int" });

// Callback types. `data` is declared intptr_t: the same ABI as void *, and
// it carries a plain number (a token naming the JS side) both ways.
const RuntimeCb = koffi.proto("void dapr_runtime_cb(void *rt, int status, const char *detail, intptr_t data)");
const RuntimeFn = koffi.proto("void dapr_runtime_fn(void *rt, intptr_t data)");
const DoneCb = koffi.proto("void dapr_done_cb(const dapr_error_t *err, intptr_t data)");
const GetCb = koffi.proto("void dapr_state_get_cb(const dapr_error_t *err, const dapr_state_value_t *val, intptr_t data)");
const BulkCb = koffi.proto("void dapr_state_bulk_cb(const dapr_error_t *err, const dapr_state_bulk_value_t *vals, size_t n, intptr_t data)");
const InvokeCb = koffi.proto("void dapr_invoke_cb(const dapr_error_t *err, const dapr_invoke_response_t *resp, intptr_t data)");
const InvokeHandler = koffi.proto("void dapr_invoke_handler(void *inv, const dapr_invoke_request_t *req, const char *caller, intptr_t data)");
const MessageCb = koffi.proto("int dapr_message_cb(const dapr_message_t *msg, intptr_t data)");
const OnTurn = koffi.proto("void dapr_on_turn(void *turn, const dapr_actor_turn_info_t *info, intptr_t data)");
const OnDeactivate = koffi.proto("void dapr_on_deactivate(const char *type, const char *id, intptr_t data)");
const ActorInvokeCb = koffi.proto("void dapr_actor_invoke_cb(const dapr_error_t *err, const dapr_actor_response_t *resp, intptr_t data)");
koffi.struct("dapr_actor_callbacks_t", { on_turn: "dapr_on_turn *", on_deactivate: "dapr_on_deactivate *" });

// Functions; a library that lacks one (a partial build) leaves it undefined.
const SIGS = {
  strerror: "const char *dapr_strerror(int code)",
  err_name: "const char *dapr_err_name(int code)",
  version: "const char *dapr_version(void)",
  runtime_create: "int dapr_runtime_create(_Out_ void **rt, void *loop)",
  runtime_destroy: "void dapr_runtime_destroy(void *rt)",
  runtime_set_option: "int dapr_runtime_set_option(void *rt, const char *name, const char *value)",
  runtime_last_error: "const char *dapr_runtime_last_error(void *rt)",
  runtime_add_component: "int dapr_runtime_add_component(void *rt, const char *type, const char *version, const char *name, const dapr_kv_t *md, size_t n)",
  runtime_start: "int dapr_runtime_start(void *rt, dapr_runtime_cb *cb, intptr_t data)",
  runtime_stop: "int dapr_runtime_stop(void *rt, dapr_runtime_cb *cb, intptr_t data)",
  runtime_run_thread: "int dapr_runtime_run_thread(void *rt)",
  runtime_post: "int dapr_runtime_post(void *rt, dapr_runtime_fn *fn, intptr_t data)",
  runtime_join_thread: "int dapr_runtime_join_thread(void *rt)",
  state_get: "int dapr_state_get(void *rt, const char *store, const dapr_state_key_t *key, dapr_state_get_cb *cb, intptr_t data)",
  state_save: "int dapr_state_save(void *rt, const char *store, const dapr_state_item_t *items, size_t n, dapr_done_cb *cb, intptr_t data)",
  state_delete: "int dapr_state_delete(void *rt, const char *store, const dapr_state_key_t *key, dapr_done_cb *cb, intptr_t data)",
  state_get_bulk: "int dapr_state_get_bulk(void *rt, const char *store, const char **keys, size_t n, int parallelism, const dapr_kv_t *md, size_t n_md, dapr_state_bulk_cb *cb, intptr_t data)",
  state_transact: "int dapr_state_transact(void *rt, const char *store, const dapr_state_op_t *ops, size_t n, const dapr_kv_t *md, size_t n_md, dapr_done_cb *cb, intptr_t data)",
  invoke: "int dapr_invoke(void *rt, const char *app_id, const dapr_invoke_request_t *req, dapr_invoke_cb *cb, intptr_t data)",
  invoke_register: "int dapr_invoke_register(void *rt, const char *method, dapr_invoke_handler *h, intptr_t data)",
  invoke_unregister: "int dapr_invoke_unregister(void *rt, const char *method)",
  invocation_respond: "int dapr_invocation_respond(void *inv, const dapr_invoke_response_t *resp)",
  publish: "int dapr_publish(void *rt, const dapr_publish_request_t *req, dapr_done_cb *cb, intptr_t data)",
  subscribe: "int dapr_subscribe(void *rt, const dapr_subscription_t *sub, dapr_message_cb *cb, intptr_t data, _Out_ void **out)",
  unsubscribe: "int dapr_unsubscribe(void *h)",
  actors_register_type: "int dapr_actors_register_type(void *rt, const char *type, const dapr_actor_callbacks_t *cbs, const dapr_actor_config_t *config, intptr_t data)",
  actor_turn_done: "int dapr_actor_turn_done(void *turn, int status, const void *body, size_t len, bool cancel_reminder)",
  actor_invoke: "int dapr_actor_invoke(void *rt, const char *type, const char *id, const char *method, const void *body, size_t len, dapr_actor_invoke_cb *cb, intptr_t data)",
  actor_state_get: "int dapr_actor_state_get(void *rt, const char *type, const char *id, const char *key, dapr_state_get_cb *cb, intptr_t data)",
  actor_state_transact: "int dapr_actor_state_transact(void *rt, const char *type, const char *id, const dapr_actor_state_op_t *ops, size_t n, dapr_done_cb *cb, intptr_t data)",
  actor_timer_register: "int dapr_actor_timer_register(void *rt, const dapr_actor_schedule_t *s, dapr_done_cb *cb, intptr_t data)",
  actor_reminder_register: "int dapr_actor_reminder_register(void *rt, const dapr_actor_schedule_t *s, dapr_done_cb *cb, intptr_t data)",
  actor_reminder_unregister: "int dapr_actor_reminder_unregister(void *rt, const char *type, const char *id, const char *name, dapr_done_cb *cb, intptr_t data)",
};
const C = {};
const missing = [];
for (const [k, sig] of Object.entries(SIGS)) {
  try { C[k] = lib.func(sig); } catch (e) { missing.push(`dapr_${k}`); }
}

const SUCCESS = 0, RETRY = 1, DROP = 2;
const UPSERT = 1, DELETE = 2, FIRST_WRITE = 1;
const TTL_UNSET = -(2n ** 63n);
const TURN_KINDS = ["method", "timer", "reminder"];

class DaprError extends Error {
  constructor(code, message, errorCode) {
    const name = C.err_name(code);
    super(`${name}: ${message || C.strerror(code)}${errorCode ? ` (${errorCode})` : ""}`);
    this.code = code;
    this.codeName = name;
    this.detail = message || C.strerror(code);
    this.errorCode = errorCode || null;
  }
  static fromC(ptr) {
    const e = koffi.decode(ptr, Err);
    return new DaprError(e.code, e.message, e.error_code);
  }
}

// ---- callback plumbing ----------------------------------------------------
// One registered koffi callback per signature for the whole process (never
// unregistered, so C can never call a released slot); `data` is a token.
let nextToken = 1;
const pending = new Map();  // token -> one-shot function
const handlers = new Map(); // token -> long-lived function / object

function once(fn) { const t = nextToken++; pending.set(t, fn); return t; }
function keep(obj) { const t = nextToken++; handlers.set(t, obj); return t; }
function fire(token, ...args) {
  const fn = pending.get(Number(token));
  if (!fn) return;
  pending.delete(Number(token));
  try { fn(...args); } catch (e) { process.emitWarning(`dapr-embed callback: ${e.stack}`); }
}
const bytes = (ptr, n) => (ptr && n ? Buffer.from(koffi.decode(ptr, "uint8_t", Number(n))) : Buffer.alloc(0));
const kvs = (ptr, n) => {
  const out = {};
  if (ptr && n) for (const kv of koffi.decode(ptr, koffi.array(KV, Number(n)))) out[kv.key] = kv.value;
  return out;
};
const toKV = (obj) => Object.entries(obj || {}).map(([key, value]) => ({ key, value: String(value) }));

const CB = {
  post: koffi.register((rt, data) => fire(data), koffi.pointer(RuntimeFn)),
  runtime: koffi.register((rt, status, detail, data) => fire(data, status, detail), koffi.pointer(RuntimeCb)),
  done: koffi.register((err, data) => fire(data, err), koffi.pointer(DoneCb)),
  get: koffi.register((err, val, data) => fire(data, err, val), koffi.pointer(GetCb)),
  bulk: koffi.register((err, vals, n, data) => fire(data, err, vals, n), koffi.pointer(BulkCb)),
  invoke: koffi.register((err, resp, data) => fire(data, err, resp), koffi.pointer(InvokeCb)),
  actorInvoke: koffi.register((err, resp, data) => fire(data, err, resp), koffi.pointer(ActorInvokeCb)),
  handler: koffi.register((inv, req, caller, data) => {
    const h = handlers.get(Number(data));
    try { h(inv, req, caller); } catch (e) {
      process.emitWarning(`dapr-embed invoke handler: ${e.stack}`);
      C.invocation_respond(inv, { status: 500, body: null, body_len: 0 });
    }
  }, koffi.pointer(InvokeHandler)),
  message: koffi.register((msg, data) => {
    try { return handlers.get(Number(data))(msg); } catch (e) { return RETRY; }
  }, koffi.pointer(MessageCb)),
  onTurn: koffi.register((turn, info, data) => {
    try { handlers.get(Number(data)).onTurn(turn, info); } catch (e) {
      C.actor_turn_done(turn, 500, null, 0, false);
    }
  }, koffi.pointer(OnTurn)),
  onDeactivate: koffi.register((type, id, data) => {
    try { handlers.get(Number(data)).onDeactivate(type, id); } catch (e) { /* nothing to answer */ }
  }, koffi.pointer(OnDeactivate)),
};

// bytes as is, strings as UTF-8, anything else as JSON text
function payload(v) {
  if (v === undefined || v === null) return Buffer.alloc(0);
  if (Buffer.isBuffer(v) || v instanceof Uint8Array) return Buffer.from(v);
  if (typeof v === "string") return Buffer.from(v);
  return Buffer.from(JSON.stringify(v));
}
const isJson = (v) => v !== undefined && v !== null && typeof v !== "string" && !(v instanceof Uint8Array);

class StateValue {
  constructor(key, data, etag, contentType, metadata) {
    Object.assign(this, { key, data, etag, contentType, metadata });
  }
  text() { return this.data.toString(); }
  json() { return JSON.parse(this.data.toString()); }
}

class Actor {
  // Base class of an actor type. Methods take the request body (Buffer) and
  // return (or resolve to) a Buffer, a string or a JSON-able value.
  constructor(runtime, type, id) { Object.assign(this, { runtime, type, id }); }
  async stateGet(key) {
    const v = await this.runtime.actorStateGet(this.type, this.id, key);
    return v ? v.json() : null;
  }
  stateSet(key, value) { return this.runtime.actorStateTransact(this.type, this.id, { upserts: { [key]: value } }); }
  stateDelete(key) { return this.runtime.actorStateTransact(this.type, this.id, { deletes: [key] }); }
  async onReminder(name, data) { return false; } // true cancels the reminder
  async onTimer(name, data) {}
  onDeactivate() {}
}

class Runtime {
  constructor(appId, { options = {}, components = [] } = {}) {
    if (!C.runtime_run_thread) throw new Error("libdapr lacks dapr_runtime_run_thread");
    const out = [null];
    check(C.runtime_create(out, null));
    this.rt = out[0];
    this.started = false;
    this.closed = false;
    this.tokens = [];
    this.subs = new Map();
    this.setOption("app-id", appId);
    for (const [k, v] of Object.entries(options)) this.setOption(k, v);
    for (const c of components) this.addComponent(c);
  }

  setOption(name, value) {
    this.beforeStart();
    const rc = C.runtime_set_option(this.rt, name, value === null ? null : String(value));
    if (rc !== 0) throw new DaprError(rc, `${name}: ${C.runtime_last_error(this.rt)}`);
  }

  addComponent({ type, name, version = "v1", metadata = {} }) {
    this.beforeStart();
    const md = toKV(metadata);
    check(C.runtime_add_component(this.rt, type, version, name, md.length ? md : null, md.length));
  }

  beforeStart() {
    if (this.started || this.closed) throw new DaprError(-15, "only before start");
  }

  // Run fn() on the loop thread (inside a posted callback).
  post(fn) {
    const t = once(fn);
    const rc = C.runtime_post(this.rt, CB.post, t);
    if (rc !== 0) { pending.delete(t); throw new DaprError(rc, "post"); }
  }

  // A promise of an async C call: start(token) -> rc on the loop thread,
  // then settle(...callback args) -> value (or throws).
  call(start, settle) {
    return new Promise((resolve, reject) => {
      if (!this.started) return reject(new DaprError(-15, "the runtime is not running"));
      this.post(() => {
        const t = once((...args) => {
          try { resolve(settle(...args)); } catch (e) { reject(e); }
        });
        const rc = start(t);
        if (rc !== 0) { pending.delete(t); reject(new DaprError(rc)); }
      });
    });
  }

  async start() {
    this.beforeStart();
    check(C.runtime_run_thread(this.rt));
    this.started = true;
    // koffi's relayed calls from the loop thread hold no reference on Node's
    // event loop: a running runtime keeps the process alive, as a server does
    this.keepAlive = setInterval(() => {}, 1 << 30);
    await new Promise((resolve, reject) => {
      this.post(() => {
        const t = once((status, detail) => (status === 0 ? resolve() : reject(new DaprError(status, detail))));
        const rc = C.runtime_start(this.rt, CB.runtime, t);
        if (rc !== 0) { pending.delete(t); reject(new DaprError(rc, C.runtime_last_error(this.rt))); }
      });
    });
    return this;
  }

  async stop() {
    if (!this.started || this.closed) return;
    await new Promise((resolve) => {
      this.post(() => {
        const t = once(() => resolve());
        if (C.runtime_stop(this.rt, CB.runtime, t) !== 0) { pending.delete(t); resolve(); }
      });
    });
    // join on a koffi worker thread: the main thread must stay free for
    // callbacks the loop thread still makes while it closes
    await new Promise((resolve) => C.runtime_join_thread.async(this.rt, () => resolve()));
    clearInterval(this.keepAlive);
    this.started = false;
  }

  async close() {
    if (this.closed) return;
    await this.stop();
    this.closed = true;
    C.runtime_destroy(this.rt);
    for (const t of this.tokens) handlers.delete(t);
  }

  // Registration: direct before start (no loop thread yet), posted after.
  register(fn) {
    if (!this.started) { check(fn()); return Promise.resolve(); }
    return new Promise((resolve, reject) => this.post(() => {
      const rc = fn();
      rc === 0 ? resolve() : reject(new DaprError(rc));
    }));
  }

  // ---- state ----
  stateGet(store, key) {
    return this.call((t) => C.state_get(this.rt, store, { key, metadata: null, n_metadata: 0 }, CB.get, t),
      (err, val) => {
        if (err) throw DaprError.fromC(err);
        const v = koffi.decode(val, StateValueT);
        if (!v.found) return null;
        return new StateValue(key, bytes(v.data, v.len), v.etag, v.content_type, kvs(v.metadata, v.n_metadata));
      });
  }

  stateGetBulk(store, keys, parallelism = 0) {
    return this.call((t) => C.state_get_bulk(this.rt, store, keys, keys.length, parallelism, null, 0, CB.bulk, t),
      (err, vals, n) => {
        if (err) throw DaprError.fromC(err);
        const out = {};
        for (const v of (n ? koffi.decode(vals, koffi.array(BulkValue, Number(n))) : [])) {
          out[v.key] = v.found ? new StateValue(v.key, bytes(v.data, v.len), v.etag) : null;
        }
        return out;
      });
  }

  // items: { key: value } or [{ key, value, etag, firstWrite, ttl, contentType }]
  stateSave(store, items, { etag, firstWrite = false, ttl } = {}) {
    const list = Array.isArray(items) ? items
      : Object.entries(items).map(([key, value]) => ({ key, value, etag, firstWrite, ttl }));
    const c = list.map(item);
    return this.call((t) => C.state_save(this.rt, store, c, c.length, CB.done, t), done);
  }

  stateDelete(store, key, { etag, firstWrite = false } = {}) {
    const k = { key, etag: etag || null, concurrency: firstWrite ? FIRST_WRITE : 0, metadata: null, n_metadata: 0 };
    return this.call((t) => C.state_delete(this.rt, store, k, CB.done, t), done);
  }

  stateTransact(store, { upserts = {}, deletes = [] } = {}) {
    const ops = [
      ...Object.entries(upserts).map(([key, value]) => ({ kind: UPSERT, item: item({ key, value }) })),
      ...deletes.map((key) => ({ kind: DELETE, item: item({ key, value: null }) })),
    ];
    return this.call((t) => C.state_transact(this.rt, store, ops, ops.length, null, 0, CB.done, t), done);
  }

  // ---- service invocation ----
  // Promise of { status, body (Buffer), contentType, headers, json(), text() }
  invoke(appId, method, data, { verb = "POST", contentType, query, headers = {} } = {}) {
    const body = payload(data);
    const hdr = toKV(headers);
    const req = { method, verb, query: query || null,
      content_type: contentType || (isJson(data) ? "application/json" : null),
      headers: hdr.length ? hdr : null, n_headers: hdr.length, body: body.length ? body : null, body_len: body.length };
    return this.call((t) => C.invoke(this.rt, appId, req, CB.invoke, t), (err, resp) => {
      if (err) throw DaprError.fromC(err);
      const r = koffi.decode(resp, InvokeResponse);
      return response(r.status, bytes(r.body, r.body_len), r.content_type, kvs(r.headers, r.n_headers));
    });
  }

  // fn(req) -> value | { status, body, contentType } | Promise of either.
  registerInvokeHandler(method, fn) {
    const t = keep((inv, reqPtr, caller) => {
      const r = koffi.decode(reqPtr, InvokeRequest);
      const req = { method: r.method, verb: r.verb || "POST", query: r.query, contentType: r.content_type,
        headers: kvs(r.headers, r.n_headers), body: bytes(r.body, r.body_len), caller };
      req.json = () => JSON.parse(req.body.toString());
      Promise.resolve().then(() => fn(req)).then(
        (out) => this.respond(inv, out),
        (e) => this.respond(inv, { status: 500, body: String(e && e.message), contentType: "text/plain" }));
    });
    this.tokens.push(t);
    return this.register(() => C.invoke_register(this.rt, method, CB.handler, t));
  }

  respond(inv, out) {
    const isResp = out && typeof out === "object" && "status" in out && !Buffer.isBuffer(out);
    const body = payload(isResp ? out.body : out);
    const ct = isResp ? out.contentType || null : isJson(out) ? "application/json" : null;
    const resp = { status: isResp ? out.status : 200, content_type: ct, headers: null, n_headers: 0,
      body: body.length ? body : null, body_len: body.length };
    this.post(() => C.invocation_respond(inv, resp));
  }

  // ---- pub/sub ----
  publish(pubsub, topic, data, { contentType, metadata } = {}) {
    const body = payload(data);
    const md = toKV(metadata);
    const req = { pubsub, topic, data: body.length ? body : null, len: body.length,
      content_type: contentType || (isJson(data) ? "application/json" : null),
      metadata: md.length ? md : null, n_metadata: md.length };
    return this.call((t) => C.publish(this.rt, req, CB.done, t), done);
  }

  // fn(msg) -> SUCCESS | RETRY | DROP (synchronously; undefined = SUCCESS).
  subscribe(pubsub, topic, fn, { rules = [], defaultRoute, deadLetterTopic, metadata } = {}) {
    const t = keep((msgPtr) => {
      const m = koffi.decode(msgPtr, Message);
      const event = bytes(m.event, m.event_len);
      const msg = { pubsub: m.pubsub, topic: m.topic, route: m.route, id: m.id, source: m.source,
        type: m.type, dataContentType: m.data_content_type, data: bytes(m.data, m.len),
        event: event.length ? JSON.parse(event.toString()) : {}, metadata: kvs(m.metadata, m.n_metadata) };
      msg.json = () => JSON.parse(msg.data.toString());
      const v = fn(msg);
      if (v && typeof v.then === "function") throw new Error("pub/sub handlers must answer synchronously");
      return v === undefined ? SUCCESS : v;
    });
    this.tokens.push(t);
    const md = toKV(metadata);
    const sub = { pubsub, topic, rules: rules.length ? rules.map(([match, path]) => ({ match, path })) : null,
      n_rules: rules.length, default_route: defaultRoute || null, dead_letter_topic: deadLetterTopic || null,
      metadata: md.length ? md : null, n_metadata: md.length };
    const out = [null];
    return this.register(() => {
      const rc = C.subscribe(this.rt, sub, CB.message, t, out);
      if (rc === 0) this.subs.set(`${pubsub}/${topic}`, out[0]);
      return rc;
    });
  }

  unsubscribe(pubsub, topic) {
    const h = this.subs.get(`${pubsub}/${topic}`);
    this.subs.delete(`${pubsub}/${topic}`);
    return this.register(() => C.unsubscribe(h));
  }

  // ---- actors ----
  registerActorType(type, cls, { idleTimeoutMs = 0, scanIntervalMs = 0 } = {}) {
    this.beforeStart();
    const instances = new Map();
    const rt = this;
    const t = keep({
      onTurn(turn, infoPtr) {
        const info = koffi.decode(infoPtr, TurnInfo);
        const kind = TURN_KINDS[info.kind] || "method";
        const body = bytes(info.body, info.body_len);
        const id = info.id, name = info.name;
        let a = instances.get(id);
        if (!a) instances.set(id, (a = new cls(rt, type, id)));
        Promise.resolve().then(async () => {
          const data = body.length ? JSON.parse(body.toString()) : null;
          if (kind === "reminder") return { status: 200, out: null, cancel: !!(await a.onReminder(name, data)) };
          if (kind === "timer") { await a.onTimer(name, data); return { status: 200, out: null }; }
          if (name.startsWith("_") || typeof a[name] !== "function" || name in Actor.prototype) {
            return { status: 404, out: `no method ${name}` };
          }
          return { status: 200, out: await a[name](body) };
        }).catch((e) => ({ status: 500, out: `${e && e.name}: ${e && e.message}` }))
          .then(({ status, out, cancel = false }) => {
            const b = payload(out);
            rt.post(() => C.actor_turn_done(turn, status, b.length ? b : null, b.length, cancel));
          });
      },
      onDeactivate(_type, id) {
        const a = instances.get(id);
        instances.delete(id);
        if (a) a.onDeactivate();
      },
    });
    this.tokens.push(t);
    check(C.actors_register_type(this.rt, type, { on_turn: CB.onTurn, on_deactivate: CB.onDeactivate },
      { idle_timeout_ms: idleTimeoutMs, scan_interval_ms: scanIntervalMs, drain_timeout_ms: 0,
        no_drain_rebalanced: false, reentrancy: false, max_stack_depth: 0 }, t));
  }

  // Promise of the answer body (Buffer); an actor's status >= 400 rejects
  // with a DaprError whose errorCode is "HTTP <status>".
  actorInvoke(type, id, method, data) {
    const body = payload(data);
    return this.call((t) => C.actor_invoke(this.rt, type, id, method, body.length ? body : null, body.length, CB.actorInvoke, t),
      (err, resp) => {
        if (err) throw DaprError.fromC(err);
        const r = koffi.decode(resp, ActorResponse);
        const b = bytes(r.body, r.body_len);
        if (r.status >= 400) throw new DaprError(-11, b.toString(), `HTTP ${r.status}`);
        return b;
      });
  }

  actorStateGet(type, id, key) {
    return this.call((t) => C.actor_state_get(this.rt, type, id, key, CB.get, t), (err, val) => {
      if (err) throw DaprError.fromC(err);
      const v = koffi.decode(val, StateValueT);
      return v.found ? new StateValue(key, bytes(v.data, v.len), v.etag) : null;
    });
  }

  // upserts { key: JSON-able } (stored as JSON text), deletes [key]
  actorStateTransact(type, id, { upserts = {}, deletes = [] } = {}) {
    const ops = [
      ...Object.entries(upserts).map(([key, v]) => {
        const b = Buffer.from(JSON.stringify(v));
        return { kind: UPSERT, key, value: b, value_len: b.length, ttl_seconds: TTL_UNSET };
      }),
      ...deletes.map((key) => ({ kind: DELETE, key, value: null, value_len: 0, ttl_seconds: TTL_UNSET })),
    ];
    return this.call((t) => C.actor_state_transact(this.rt, type, id, ops, ops.length, CB.done, t), done);
  }

  actorReminderRegister(type, id, name, { dueTime, period, ttl, data } = {}) {
    const s = schedule(type, id, name, dueTime, period, ttl, data);
    return this.call((t) => C.actor_reminder_register(this.rt, s, CB.done, t), done);
  }

  actorTimerRegister(type, id, name, { dueTime, period, ttl, data } = {}) {
    const s = schedule(type, id, name, dueTime, period, ttl, data);
    return this.call((t) => C.actor_timer_register(this.rt, s, CB.done, t), done);
  }

  actorReminderUnregister(type, id, name) {
    return this.call((t) => C.actor_reminder_unregister(this.rt, type, id, name, CB.done, t), done);
  }
}

function check(rc) { if (rc !== 0) throw new DaprError(rc); }
function done(err) { if (err) throw DaprError.fromC(err); }
function item({ key, value, etag, firstWrite, ttl, contentType }) {
  const b = payload(value);
  return { key, value: b.length ? b : null, value_len: b.length, etag: etag || null,
    concurrency: firstWrite ? FIRST_WRITE : 0, consistency: 0,
    ttl_seconds: ttl === undefined || ttl === null ? TTL_UNSET : BigInt(ttl),
    content_type: contentType || (isJson(value) ? "application/json" : null), metadata: null, n_metadata: 0 };
}
function response(status, body, contentType, headers) {
  return { status, body, contentType, headers, text: () => body.toString(), json: () => JSON.parse(body.toString()) };
}
function schedule(type, id, name, dueTime, period, ttl, data) {
  return { type, id, name, due_time: dueTime || null, period: period || null, ttl: ttl || null,
    data: data === undefined ? null : JSON.stringify(data) };
}

module.exports = { Runtime, Actor, DaprError, StateValue, SUCCESS, RETRY, DROP, missing,
  version: () => C.version() };
