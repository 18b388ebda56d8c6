"""dapr_embed — an embedded Dapr runtime (libdapr) for Python, over ctypes.

    from dapr_embed import Runtime, Component

    with Runtime("myapp", components=[Component("state.in-memory", "statestore")],
                 options={"dapr-http-port": "-1", "dapr-grpc-port": "-1"}) as rt:
        rt.state_save("statestore", {"k": b"v"}).result()
        print(rt.state_get("statestore", "k").result().data)

Threads. The runtime runs on a loop thread of libdapr (created with loop
NULL, run by dapr_runtime_run_thread). Every method below may be called from
any Python thread: it posts the C call onto the loop thread
(dapr_runtime_post) and returns a concurrent.futures.Future. Handlers run:
 - pub/sub handlers on the loop thread (their return value is the verdict
   the C API wants synchronously): keep them short and never wait on a
   Future of this runtime there;
 - invoke handlers and actor methods on a thread pool: they may block, for
   example on rt.state_get(...).result().
"""
import concurrent.futures
import ctypes
import itertools
import json
import threading
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional

from . import _ffi
from ._ffi import api

__all__ = ["Runtime", "Component", "DaprError", "StateValue", "Request", "Response", "Message",
           "SUCCESS", "RETRY", "DROP", "Actor", "version"]

SUCCESS, RETRY, DROP = 0, 1, 2
FIRST_WRITE, LAST_WRITE = 1, 2
_UPSERT, _DELETE = 1, 2
_TURN_KINDS = {0: "method", 1: "timer", 2: "reminder"}


def _b(s):
    return None if s is None else (s if isinstance(s, bytes) else str(s).encode())


def _s(b):
    return None if b is None else b.decode("utf-8", "replace")


def _bytes(ptr, n):
    return ctypes.string_at(ptr, n) if ptr and n else b""


def _payload(v):
    """bytes as is; str as UTF-8; anything else as JSON text."""
    if v is None:
        return b""
    if isinstance(v, (bytes, bytearray, memoryview)):
        return bytes(v)
    if isinstance(v, str):
        return v.encode()
    return json.dumps(v).encode()


def version():
    return _s(api.version())


class DaprError(Exception):
    """A failed call: code (DAPR_E*, negative), name ("DAPR_ENOTFOUND"),
    message, and Dapr's error code ("ERR_STATE_STORE_NOT_FOUND") or None."""

    def __init__(self, code, message=None, error_code=None):
        self.code = code
        self.name = _s(api.err_name(code))
        self.message = message or _s(api.strerror(code))
        self.error_code = error_code
        super().__init__(f"{self.name}: {self.message}" +
                         (f" ({error_code})" if error_code else ""))

    @classmethod
    def from_c(cls, err):
        e = err.contents
        return cls(e.code, _s(e.message), _s(e.error_code))


def _kvs(pairs):
    """dict or list of pairs -> (KV array, n); the array keeps the bytes alive."""
    items = list(pairs.items()) if isinstance(pairs, dict) else list(pairs or [])
    if not items:
        return None, 0
    arr = (_ffi.KV * len(items))()
    for i, (k, v) in enumerate(items):
        arr[i].key, arr[i].value = _b(k), _b(v)
    return arr, len(items)


def _kv_dict(ptr, n):
    return {_s(ptr[i].key): _s(ptr[i].value) for i in range(n)} if ptr and n else {}


def _buf(data):
    """bytes -> (c_void_p-compatible buffer, length); keep the buffer referenced."""
    data = _payload(data)
    buf = ctypes.create_string_buffer(data, len(data) or 1)
    return buf, len(data)


@dataclass
class Component:
    type: str
    name: str
    metadata: Dict[str, str] = field(default_factory=dict)
    version: str = "v1"


@dataclass
class StateValue:
    key: str
    data: bytes
    etag: Optional[str]
    content_type: Optional[str] = None
    metadata: Dict[str, str] = field(default_factory=dict)

    def json(self):
        return json.loads(self.data)


@dataclass
class Request:
    method: str
    verb: str
    query: Optional[str]
    content_type: Optional[str]
    headers: List[tuple]
    body: bytes
    caller: Optional[str]

    def json(self):
        return json.loads(self.body)


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    content_type: Optional[str] = None
    headers: List[tuple] = field(default_factory=list)

    def json(self):
        return json.loads(self.body)


@dataclass
class Message:
    pubsub: str
    topic: str
    route: str
    id: str
    source: str
    type: str
    data_content_type: Optional[str]
    data: bytes
    event: dict
    metadata: Dict[str, str]

    def json(self):
        return json.loads(self.data)


class Actor:
    """Base class of an actor type: subclass it and add methods taking one
    argument (the request body, bytes) and returning bytes/str/JSON-able.
    self.type, self.id and self.runtime are set; self.state_get(key) and
    self.state_set(key, value) / self.state_delete(key) block (the turn runs
    on a pool thread). on_reminder(name, data) and on_timer(name, data) get
    the registered data; on_reminder returning True cancels the reminder."""

    def __init__(self, runtime, type_, id_):
        self.runtime, self.type, self.id = runtime, type_, id_

    def state_get(self, key, timeout=30):
        v = self.runtime.actor_state_get(self.type, self.id, key).result(timeout)
        return None if v is None else json.loads(v.data)

    def state_set(self, key, value, timeout=30):
        self.runtime.actor_state_transact(self.type, self.id, upserts={key: value}).result(timeout)

    def state_delete(self, key, timeout=30):
        self.runtime.actor_state_transact(self.type, self.id, deletes=[key]).result(timeout)

    def on_reminder(self, name, data):
        return False

    def on_timer(self, name, data):
        pass

    def on_deactivate(self):
        pass


# ---- callback plumbing ----------------------------------------------------
# One CFUNCTYPE object per callback signature for the whole process (never
# garbage-collected while C may call it); the C `data` argument is a token
# looking up the Python side in _pending (one-shot) or _handlers (kept until
# unregistered / the runtime is closed).

_lock = threading.Lock()
_tokens = itertools.count(1)
_pending = {}   # token -> one-shot callable(*args)
_handlers = {}  # token -> long-lived callable(*args)


def _new_token(table, fn):
    with _lock:
        t = next(_tokens)
        table[t] = fn
    return t


def _take(token):
    with _lock:
        return _pending.pop(token, None)


def _drop(token):
    with _lock:
        _pending.pop(token, None)


def _one_shot(*args):
    fn = _take(args[-1])
    if fn is not None:
        try:
            fn(*args[:-1])
        except BaseException as e:  # never let an exception unwind into C
            _report(e)


def _report(e):
    import traceback
    traceback.print_exception(type(e), e, e.__traceback__)


@_ffi.RUNTIME_FN
def _c_post(rt, data):
    _one_shot(rt, data)


@_ffi.RUNTIME_CB
def _c_runtime_cb(rt, status, detail, data):
    _one_shot(rt, status, detail, data)


@_ffi.DONE_CB
def _c_done(err, data):
    _one_shot(err, data)


@_ffi.STATE_GET_CB
def _c_state_get(err, val, data):
    _one_shot(err, val, data)


@_ffi.STATE_BULK_CB
def _c_state_bulk(err, vals, n, data):
    _one_shot(err, vals, n, data)


@_ffi.INVOKE_CB
def _c_invoke(err, resp, data):
    _one_shot(err, resp, data)


@_ffi.ACTOR_INVOKE_CB
def _c_actor_invoke(err, resp, data):
    _one_shot(err, resp, data)


def _handler(token):
    with _lock:
        return _handlers.get(token)


@_ffi.INVOKE_HANDLER
def _c_invoke_handler(inv, req, caller, data):
    h = _handler(data)
    try:
        h(inv, req, caller)
    except BaseException as e:
        _report(e)
        resp = _ffi.InvokeResponse(status=500)
        api.invocation_respond(inv, ctypes.byref(resp))


@_ffi.MESSAGE_CB
def _c_message(msg, data):
    h = _handler(data)
    try:
        return h(msg)
    except BaseException as e:
        _report(e)
        return RETRY


@_ffi.ON_TURN
def _c_on_turn(turn, info, data):
    h = _handler(data)
    try:
        h.on_turn(turn, info)
    except BaseException as e:
        _report(e)
        api.actor_turn_done(turn, 500, None, 0, False)


@_ffi.ON_DEACTIVATE
def _c_on_deactivate(type_, id_, data):
    h = _handler(data)
    try:
        h.on_deactivate(_s(type_), _s(id_))
    except BaseException as e:
        _report(e)


class _ActorType:
    def __init__(self, rt, type_, cls):
        self.rt, self.type, self.cls = rt, type_, cls
        self.instances = {}

    def instance(self, id_):
        a = self.instances.get(id_)
        if a is None:
            a = self.instances[id_] = self.cls(self.rt, self.type, id_)
        return a

    def on_turn(self, turn, info_p):
        info = info_p.contents
        kind = _TURN_KINDS.get(info.kind, "method")
        id_, name = _s(info.id), _s(info.name)
        body = _bytes(info.body, info.body_len)
        self.rt._pool.submit(self._run, turn, kind, id_, name, body)

    def _run(self, turn, kind, id_, name, body):
        status, out, cancel = 200, b"", False
        try:
            a = self.instance(id_)
            data = json.loads(body) if body else None
            if kind == "method":
                fn = getattr(a, name, None)
                if name.startswith("_") or not callable(fn) or name in dir(Actor):
                    status, out = 404, f"no method {name}".encode()
                else:
                    out = _payload(fn(body))
            elif kind == "reminder":
                cancel = bool(a.on_reminder(name, data))
            else:
                a.on_timer(name, data)
        except Exception as e:
            status, out = 500, f"{type(e).__name__}: {e}".encode()
        buf, n = _buf(out)
        self.rt._post(lambda: api.actor_turn_done(turn, status, buf, n, cancel))

    def on_deactivate(self, type_, id_):
        a = self.instances.pop(id_, None)
        if a is not None:
            a.on_deactivate()


class Runtime:
    """One libdapr runtime on its own loop thread.

    app_id: the app id; options: daprd flags without dashes ({"dapr-http-port":
    "3500"}); components: Component(...) list added before start. Handlers
    (register_invoke_handler, subscribe, register_actor_type) may be set up
    before start(); actor types only before start."""

    def __init__(self, app_id, options=None, components=(), workers=8):
        self._rt = ctypes.c_void_p()
        _check(api.runtime_create(ctypes.byref(self._rt), None))
        self._tokens = []  # handler tokens owned by this runtime
        self._subs = {}
        self._started = False
        self._closed = False
        self._pool = concurrent.futures.ThreadPoolExecutor(workers, "dapr-handler")
        self.set_option("app-id", app_id)
        for k, v in (options or {}).items():
            self.set_option(k, v)
        for c in components:
            self.add_component(c)

    # -- lifecycle --

    def set_option(self, name, value):
        self._before_start()
        rc = api.runtime_set_option(self._rt, _b(name), _b(value))
        if rc != 0:
            raise DaprError(rc, f"{name}: {_s(api.runtime_last_error(self._rt))}")

    def add_component(self, c):
        self._before_start()
        arr, n = _kvs(c.metadata)
        _check(api.runtime_add_component(self._rt, _b(c.type), _b(c.version), _b(c.name), arr, n))

    def start(self, timeout=30):
        """Start the loop thread and the runtime; returns when it runs."""
        self._before_start()
        _check(api.runtime_run_thread(self._rt))
        self._started = True
        f = concurrent.futures.Future()

        def started(rt, status, detail):
            if status == 0:
                f.set_result(None)
            else:
                f.set_exception(DaprError(status, _s(detail)))

        def go():
            t = _new_token(_pending, started)
            rc = api.runtime_start(self._rt, _c_runtime_cb, t)
            if rc != 0:
                _drop(t)
                f.set_exception(DaprError(rc, _s(api.runtime_last_error(self._rt))))
        self._post(go, f)
        f.result(timeout)
        return self

    def stop(self, timeout=30):
        """Graceful stop; waits for the loop thread to end."""
        if not self._started or self._closed:
            return
        f = concurrent.futures.Future()

        def stopped(rt, status, detail):
            f.set_result(status)

        def go():
            t = _new_token(_pending, stopped)
            rc = api.runtime_stop(self._rt, _c_runtime_cb, t)
            if rc != 0:
                _drop(t)
                f.set_result(rc)
        try:
            self._post(go, f)
            f.result(timeout)
        except DaprError:
            pass
        api.runtime_join_thread(self._rt)  # ctypes releases the GIL meanwhile
        self._started = False

    def close(self):
        """Stop if running, destroy the runtime, release the handlers."""
        if self._closed:
            return
        self.stop()
        self._closed = True
        self._pool.shutdown(wait=True)
        api.runtime_destroy(self._rt)
        with _lock:
            for t in self._tokens:
                _handlers.pop(t, None)

    def __enter__(self):
        if not self._started:
            self.start()
        return self

    def __exit__(self, *exc):
        self.close()

    # -- plumbing --

    def _before_start(self):
        if self._started or self._closed:
            raise DaprError(-15, "only before start")

    def _post(self, fn, future=None):
        """Run fn() on the loop thread; its exceptions go to `future`."""
        def run(rt):
            try:
                fn()
            except BaseException as e:
                if future is not None and not future.done():
                    future.set_exception(e)
                else:
                    _report(e)
        t = _new_token(_pending, run)
        rc = api.runtime_post(self._rt, _c_post, t)
        if rc != 0:
            _drop(t)
            raise DaprError(rc, "post")

    def _call(self, start, cb, keep=()):
        """Future of an async C call: start(token) -> rc on the loop thread;
        cb(*c_args) -> value or raises DaprError. `keep`: the ctypes buffers
        the call borrows, referenced until it has run."""
        f = concurrent.futures.Future()
        keep_alive = [keep]

        def done(*args):
            if f.done():
                return
            try:
                f.set_result(cb(*args))
            except BaseException as e:
                f.set_exception(e)

        def go():
            t = _new_token(_pending, done)
            rc = start(t)
            del keep_alive[:]
            if rc != 0:
                _drop(t)
                f.set_exception(DaprError(rc))
        if self._started:
            self._post(go, f)
        else:
            f.set_exception(DaprError(-15, "the runtime is not running"))
        return f

    # -- state --

    def state_get(self, store, key, metadata=None):
        """Future of StateValue, or None when the key does not exist."""
        md, n = _kvs(metadata)
        k = _ffi.StateKey(key=_b(key), metadata=md, n_metadata=n)

        def cb(err, val):
            if err:
                raise DaprError.from_c(err)
            v = val.contents
            if not v.found:
                return None
            return StateValue(key, _bytes(v.data, v.len), _s(v.etag), _s(v.content_type),
                              _kv_dict(v.metadata, v.n_metadata))
        return self._call(lambda t: api.state_get(self._rt, _b(store), ctypes.byref(k),
                                                  _c_state_get, t), cb, (k, md))

    def state_get_bulk(self, store, keys, parallelism=0):
        """Future of {key: StateValue or None}."""
        arr = (ctypes.c_char_p * len(keys))(*[_b(k) for k in keys])

        def cb(err, vals, n):
            if err:
                raise DaprError.from_c(err)
            out = {}
            for i in range(n):
                v = vals[i]
                out[_s(v.key)] = (StateValue(_s(v.key), _bytes(v.data, v.len), _s(v.etag))
                                  if v.found else None)
            return out
        return self._call(lambda t: api.state_get_bulk(self._rt, _b(store), arr, len(keys),
                                                       parallelism, None, 0, _c_state_bulk, t),
                          cb, 3)

    @staticmethod
    def _item(item, key, value, etag=None, concurrency=0, ttl=None, content_type=None, keep=None):
        buf, n = _buf(value)
        keep.append(buf)
        item.key, item.value, item.value_len = _b(key), ctypes.cast(buf, ctypes.c_void_p), n
        item.etag, item.concurrency = _b(etag), concurrency
        item.ttl_seconds = _ffi.TTL_UNSET if ttl is None else ttl
        item.content_type = _b(content_type)

    def state_save(self, store, items, etag=None, first_write=False, ttl=None):
        """items: {key: value} (bytes, str or JSON-able), or a list of dicts
        with key, value and optionally etag, first_write, ttl. Future of None;
        an ETag conflict fails with DaprError code DAPR_EETAG_MISMATCH."""
        if isinstance(items, dict):
            items = [{"key": k, "value": v, "etag": etag, "first_write": first_write, "ttl": ttl}
                     for k, v in items.items()]
        arr, keep = (_ffi.StateItem * len(items))(), []
        for i, it in enumerate(items):
            self._item(arr[i], it["key"], it["value"], it.get("etag"),
                       FIRST_WRITE if it.get("first_write") else 0, it.get("ttl"),
                       it.get("content_type"), keep)

        def cb(err):
            if err:
                raise DaprError.from_c(err)
        return self._call(lambda t: api.state_save(self._rt, _b(store), arr, len(items), _c_done,
                                                   t), cb, (arr, keep))

    def state_delete(self, store, key, etag=None, first_write=False):
        k = _ffi.StateKey(key=_b(key), etag=_b(etag),
                          concurrency=FIRST_WRITE if first_write else 0)

        def cb(err):
            if err:
                raise DaprError.from_c(err)
        return self._call(lambda t: api.state_delete(self._rt, _b(store), ctypes.byref(k),
                                                     _c_done, t), cb, k)

    def state_transact(self, store, upserts=None, deletes=(), metadata=None):
        """Atomically upsert {key: value} and delete [key, ...]. Future of None."""
        ops = list((upserts or {}).items())
        arr, keep = (_ffi.StateOp * (len(ops) + len(deletes)))(), []
        for i, (k, v) in enumerate(ops):
            arr[i].kind = _UPSERT
            self._item(arr[i].item, k, v, keep=keep)
        for j, k in enumerate(deletes):
            arr[len(ops) + j].kind = _DELETE
            self._item(arr[len(ops) + j].item, k, b"", keep=keep)
        md, n = _kvs(metadata)

        def cb(err):
            if err:
                raise DaprError.from_c(err)
        return self._call(lambda t: api.state_transact(self._rt, _b(store), arr, len(arr), md, n,
                                                       _c_done, t), cb, (arr, keep, md))

    # -- service invocation --

    def invoke(self, app_id, method, data=None, verb="POST", content_type=None, query=None,
               headers=()):
        """Call `method` of app_id (this app's own handlers when app_id is
        this runtime's). Future of Response (an app's 4xx/5xx is a Response
        too); a call that got no answer fails with DaprError."""
        buf, n = _buf(data)
        if content_type is None and data is not None and not isinstance(data, (bytes, str)):
            content_type = "application/json"
        hdr, nh = _kvs(headers)
        req = _ffi.InvokeRequest(method=_b(method), verb=_b(verb), query=_b(query),
                                 content_type=_b(content_type), headers=hdr, n_headers=nh,
                                 body=ctypes.cast(buf, ctypes.c_void_p), body_len=n)

        def cb(err, resp):
            if err:
                raise DaprError.from_c(err)
            r = resp.contents
            return Response(r.status, _bytes(r.body, r.body_len), _s(r.content_type),
                            list(_kv_dict(r.headers, r.n_headers).items()))
        return self._call(lambda t: api.invoke(self._rt, _b(app_id), ctypes.byref(req),
                                               _c_invoke, t), cb, (req, buf, hdr))

    def register_invoke_handler(self, method, fn: Callable[[Request], object]):
        """fn(Request) -> Response, bytes, str or a JSON-able value (200), on a
        pool thread. method as dapr_invoke_register: exact, a prefix ending in
        '/', or "" for every method."""
        def on_call(inv, req_p, caller):
            r = req_p.contents
            req = Request(_s(r.method), _s(r.verb) or "POST", _s(r.query), _s(r.content_type),
                          list(_kv_dict(r.headers, r.n_headers).items()),
                          _bytes(r.body, r.body_len), _s(caller))
            self._pool.submit(self._serve, inv, fn, req)
        t = _new_token(_handlers, on_call)
        self._tokens.append(t)
        self._register(lambda: api.invoke_register(self._rt, _b(method), _c_invoke_handler, t))

    def _serve(self, inv, fn, req):
        try:
            out = fn(req)
            resp = out if isinstance(out, Response) else Response(
                200, _payload(out), None if isinstance(out, (bytes, str)) else "application/json")
        except Exception as e:
            resp = Response(500, f"{type(e).__name__}: {e}".encode(), "text/plain")
        buf, n = _buf(resp.body)
        hdr, nh = _kvs(resp.headers)
        c = _ffi.InvokeResponse(status=resp.status, content_type=_b(resp.content_type),
                                headers=hdr, n_headers=nh,
                                body=ctypes.cast(buf, ctypes.c_void_p), body_len=n)
        self._post(lambda: (c, buf, api.invocation_respond(inv, ctypes.byref(c))))

    def _register(self, call):
        """A registration: direct before start (no loop thread yet), posted
        and waited for after."""
        if not self._started:
            _check(call())
            return
        f = concurrent.futures.Future()
        self._post(lambda: f.set_result(call()), f)
        _check(f.result(30))

    # -- pub/sub --

    def publish(self, pubsub, topic, data, content_type=None, metadata=None):
        buf, n = _buf(data)
        if content_type is None and not isinstance(data, (bytes, str)):
            content_type = "application/json"
        md, nm = _kvs(metadata)
        req = _ffi.PublishRequest(pubsub=_b(pubsub), topic=_b(topic),
                                  data=ctypes.cast(buf, ctypes.c_void_p), len=n,
                                  content_type=_b(content_type), metadata=md, n_metadata=nm)

        def cb(err):
            if err:
                raise DaprError.from_c(err)
        return self._call(lambda t: api.publish(self._rt, ctypes.byref(req), _c_done, t), cb,
                          (req, buf, md))

    def subscribe(self, pubsub, topic, fn: Callable[[Message], Optional[int]], rules=(),
                  default_route=None, dead_letter_topic=None, metadata=None):
        """fn(Message) -> SUCCESS (or None), RETRY or DROP, on the loop thread;
        an exception means RETRY. rules: [(CEL match, route path), ...]."""
        def on_message(m_p):
            m = m_p.contents
            event = _bytes(m.event, m.event_len)
            msg = Message(_s(m.pubsub), _s(m.topic), _s(m.route), _s(m.id), _s(m.source),
                          _s(m.type), _s(m.data_content_type), _bytes(m.data, m.len),
                          json.loads(event) if event else {},
                          _kv_dict(m.metadata, m.n_metadata))
            v = fn(msg)
            return SUCCESS if v is None else int(v)
        t = _new_token(_handlers, on_message)
        self._tokens.append(t)
        rr = (_ffi.RouteRule * max(len(rules), 1))()
        for i, (match, path) in enumerate(rules):
            rr[i].match, rr[i].path = _b(match), _b(path)
        md, nm = _kvs(metadata)
        sub = _ffi.Subscription(pubsub=_b(pubsub), topic=_b(topic),
                                rules=rr if rules else None, n_rules=len(rules),
                                default_route=_b(default_route),
                                dead_letter_topic=_b(dead_letter_topic), metadata=md,
                                n_metadata=nm)
        handle = ctypes.c_void_p()
        self._register(lambda: api.subscribe(self._rt, ctypes.byref(sub), _c_message, t,
                                             ctypes.byref(handle)))
        self._subs[(pubsub, topic)] = handle

    def unsubscribe(self, pubsub, topic):
        h = self._subs.pop((pubsub, topic))
        self._register(lambda: api.unsubscribe(h))

    # -- actors --

    def register_actor_type(self, type_, cls, idle_timeout_ms=0, scan_interval_ms=0):
        """Host actor type `type_` implemented by `cls` (an Actor subclass).
        Before start only."""
        self._before_start()
        t = _new_token(_handlers, _ActorType(self, type_, cls))
        self._tokens.append(t)
        cbs = _ffi.ActorCallbacks(_c_on_turn, _c_on_deactivate)
        cfg = _ffi.ActorConfig(idle_timeout_ms=idle_timeout_ms, scan_interval_ms=scan_interval_ms)
        _check(api.actors_register_type(self._rt, _b(type_), ctypes.byref(cbs),
                                        ctypes.byref(cfg), t))

    def actor_invoke(self, type_, id_, method, data=None):
        """Future of the answer body (bytes); an actor's status >= 400 fails
        with DaprError (code DAPR_EBACKEND, error_code "HTTP <status>")."""
        buf, n = _buf(data)

        def cb(err, resp):
            if err:
                raise DaprError.from_c(err)
            r = resp.contents
            body = _bytes(r.body, r.body_len)
            if r.status >= 400:
                raise DaprError(-11, _s(body), f"HTTP {r.status}")
            return body
        return self._call(lambda t: api.actor_invoke(self._rt, _b(type_), _b(id_), _b(method),
                                                     buf, n, _c_actor_invoke, t), cb, buf)

    def actor_state_get(self, type_, id_, key):
        def cb(err, val):
            if err:
                raise DaprError.from_c(err)
            v = val.contents
            return StateValue(key, _bytes(v.data, v.len), _s(v.etag)) if v.found else None
        return self._call(lambda t: api.actor_state_get(self._rt, _b(type_), _b(id_), _b(key),
                                                        _c_state_get, t), cb)

    def actor_state_transact(self, type_, id_, upserts=None, deletes=()):
        """upserts {key: JSON-able value} (stored as JSON text), deletes [key]."""
        ops = list((upserts or {}).items())
        arr, keep = (_ffi.ActorStateOp * (len(ops) + len(deletes)))(), []
        for i, (k, v) in enumerate(ops):
            buf, n = _buf(json.dumps(v))
            keep.append(buf)
            arr[i] = _ffi.ActorStateOp(_UPSERT, _b(k), ctypes.cast(buf, ctypes.c_void_p), n,
                                       _ffi.TTL_UNSET)
        for j, k in enumerate(deletes):
            arr[len(ops) + j] = _ffi.ActorStateOp(_DELETE, _b(k), None, 0, _ffi.TTL_UNSET)

        def cb(err):
            if err:
                raise DaprError.from_c(err)
        return self._call(lambda t: api.actor_state_transact(
            self._rt, _b(type_), _b(id_), arr, len(arr), _c_done, t), cb, (arr, keep))

    def _schedule(self, fn, type_, id_, name, due_time, period, ttl, data):
        s = _ffi.ActorSchedule(_b(type_), _b(id_), _b(name), _b(due_time), _b(period), _b(ttl),
                               None if data is None else _b(json.dumps(data)))

        def cb(err):
            if err:
                raise DaprError.from_c(err)
        return self._call(lambda t: fn(self._rt, ctypes.byref(s), _c_done, t), cb, s)

    def actor_reminder_register(self, type_, id_, name, due_time=None, period=None, ttl=None,
                                data=None):
        return self._schedule(api.actor_reminder_register, type_, id_, name, due_time, period,
                              ttl, data)

    def actor_timer_register(self, type_, id_, name, due_time=None, period=None, ttl=None,
                             data=None):
        return self._schedule(api.actor_timer_register, type_, id_, name, due_time, period, ttl,
                              data)

    def actor_reminder_unregister(self, type_, id_, name):
        def cb(err):
            if err:
                raise DaprError.from_c(err)
        return self._call(lambda t: api.actor_reminder_unregister(
            self._rt, _b(type_), _b(id_), _b(name), _c_done, t), cb)


def _check(rc):
    if rc != 0:
        raise DaprError(rc)
