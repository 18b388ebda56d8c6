"""ctypes declarations of libdapr's public C API (include/dapr/*.h).

Only the standard library is used. The library is found through the
DAPR_LIBRARY environment variable (a path to libdapr.so), else as
libdapr.so.0 on the dynamic loader's search path (LD_LIBRARY_PATH, the
system directories of an installed package).
"""
import ctypes
import os
from ctypes import (CFUNCTYPE, POINTER, Structure, c_bool, c_char_p, c_int, c_int64, c_size_t,
                    c_uint64, c_void_p)


def _load():
    path = os.environ.get("DAPR_LIBRARY")
    for name in ([path] if path else []) + ["libdapr.so.0", "libdapr.so"]:
        try:
            return ctypes.CDLL(name)
        except OSError as e:
            err = e
    raise OSError(f"libdapr not found (set DAPR_LIBRARY or LD_LIBRARY_PATH): {err}")


lib = _load()

# ---- common.h -------------------------------------------------------------


class Error(Structure):
    _fields_ = [("code", c_int), ("message", c_char_p), ("error_code", c_char_p)]


class KV(Structure):
    _fields_ = [("key", c_char_p), ("value", c_char_p)]


DONE_CB = CFUNCTYPE(None, POINTER(Error), c_void_p)

# ---- runtime.h ------------------------------------------------------------

RUNTIME_CB = CFUNCTYPE(None, c_void_p, c_int, c_char_p, c_void_p)
RUNTIME_FN = CFUNCTYPE(None, c_void_p, c_void_p)

# ---- state.h --------------------------------------------------------------

TTL_UNSET = -(2 ** 63)


class StateItem(Structure):
    _fields_ = [("key", c_char_p), ("value", c_void_p), ("value_len", c_size_t),
                ("etag", c_char_p), ("concurrency", c_int), ("consistency", c_int),
                ("ttl_seconds", c_int64), ("content_type", c_char_p),
                ("metadata", POINTER(KV)), ("n_metadata", c_size_t)]


class StateKey(Structure):
    _fields_ = [("key", c_char_p), ("etag", c_char_p), ("concurrency", c_int),
                ("consistency", c_int), ("metadata", POINTER(KV)), ("n_metadata", c_size_t)]


class StateValue(Structure):
    _fields_ = [("found", c_bool), ("data", c_void_p), ("len", c_size_t), ("etag", c_char_p),
                ("content_type", c_char_p), ("metadata", POINTER(KV)), ("n_metadata", c_size_t)]


class StateOp(Structure):
    _fields_ = [("kind", c_int), ("item", StateItem)]


class StateBulkValue(Structure):
    _fields_ = [("key", c_char_p), ("found", c_bool), ("data", c_void_p), ("len", c_size_t),
                ("etag", c_char_p), ("error", c_char_p), ("metadata", POINTER(KV)),
                ("n_metadata", c_size_t)]


STATE_GET_CB = CFUNCTYPE(None, POINTER(Error), POINTER(StateValue), c_void_p)
STATE_BULK_CB = CFUNCTYPE(None, POINTER(Error), POINTER(StateBulkValue), c_size_t, c_void_p)

# ---- invoke.h -------------------------------------------------------------


class InvokeRequest(Structure):
    _fields_ = [("method", c_char_p), ("verb", c_char_p), ("query", c_char_p),
                ("content_type", c_char_p), ("headers", POINTER(KV)), ("n_headers", c_size_t),
                ("body", c_void_p), ("body_len", c_size_t)]


class InvokeResponse(Structure):
    _fields_ = [("status", c_int), ("content_type", c_char_p), ("headers", POINTER(KV)),
                ("n_headers", c_size_t), ("body", c_void_p), ("body_len", c_size_t)]


INVOKE_CB = CFUNCTYPE(None, POINTER(Error), POINTER(InvokeResponse), c_void_p)
INVOKE_HANDLER = CFUNCTYPE(None, c_void_p, POINTER(InvokeRequest), c_char_p, c_void_p)

# ---- pubsub.h -------------------------------------------------------------


class PublishRequest(Structure):
    _fields_ = [("pubsub", c_char_p), ("topic", c_char_p), ("data", c_void_p), ("len", c_size_t),
                ("content_type", c_char_p), ("metadata", POINTER(KV)), ("n_metadata", c_size_t)]


class Message(Structure):
    _fields_ = [("pubsub", c_char_p), ("topic", c_char_p), ("route", c_char_p), ("id", c_char_p),
                ("source", c_char_p), ("type", c_char_p), ("specversion", c_char_p),
                ("data_content_type", c_char_p), ("data", c_void_p), ("len", c_size_t),
                ("event", c_void_p), ("event_len", c_size_t), ("metadata", POINTER(KV)),
                ("n_metadata", c_size_t)]


class RouteRule(Structure):
    _fields_ = [("match", c_char_p), ("path", c_char_p)]


class Subscription(Structure):
    _fields_ = [("pubsub", c_char_p), ("topic", c_char_p), ("rules", POINTER(RouteRule)),
                ("n_rules", c_size_t), ("default_route", c_char_p),
                ("dead_letter_topic", c_char_p), ("metadata", POINTER(KV)),
                ("n_metadata", c_size_t)]


MESSAGE_CB = CFUNCTYPE(c_int, POINTER(Message), c_void_p)

# ---- actors.h -------------------------------------------------------------


class ActorTurnInfo(Structure):
    _fields_ = [("kind", c_int), ("type", c_char_p), ("id", c_char_p), ("name", c_char_p),
                ("body", c_void_p), ("body_len", c_size_t), ("content_type", c_char_p)]


ON_TURN = CFUNCTYPE(None, c_void_p, POINTER(ActorTurnInfo), c_void_p)
ON_DEACTIVATE = CFUNCTYPE(None, c_char_p, c_char_p, c_void_p)


class ActorCallbacks(Structure):
    _fields_ = [("on_turn", ON_TURN), ("on_deactivate", ON_DEACTIVATE)]


class ActorConfig(Structure):
    _fields_ = [("idle_timeout_ms", c_uint64), ("scan_interval_ms", c_uint64),
                ("drain_timeout_ms", c_uint64), ("no_drain_rebalanced", c_bool),
                ("reentrancy", c_bool), ("max_stack_depth", c_int)]


class ActorResponse(Structure):
    _fields_ = [("status", c_int), ("body", c_void_p), ("body_len", c_size_t)]


class ActorStateOp(Structure):
    _fields_ = [("kind", c_int), ("key", c_char_p), ("value", c_void_p),
                ("value_len", c_size_t), ("ttl_seconds", c_int64)]


class ActorSchedule(Structure):
    _fields_ = [("type", c_char_p), ("id", c_char_p), ("name", c_char_p),
                ("due_time", c_char_p), ("period", c_char_p), ("ttl", c_char_p),
                ("data", c_char_p)]


ACTOR_INVOKE_CB = CFUNCTYPE(None, POINTER(Error), POINTER(ActorResponse), c_void_p)

# ---- prototypes -----------------------------------------------------------
# Functions a partial build of the library lacks are left out (calling one
# raises AttributeError naming it), so the rest stays usable.

_PROTOS = {
    "dapr_strerror": (c_char_p, [c_int]),
    "dapr_err_name": (c_char_p, [c_int]),
    "dapr_version": (c_char_p, []),
    "dapr_runtime_version": (c_char_p, []),
    "dapr_runtime_create": (c_int, [POINTER(c_void_p), c_void_p]),
    "dapr_runtime_destroy": (None, [c_void_p]),
    "dapr_runtime_set_option": (c_int, [c_void_p, c_char_p, c_char_p]),
    "dapr_runtime_last_error": (c_char_p, [c_void_p]),
    "dapr_runtime_add_component": (c_int, [c_void_p, c_char_p, c_char_p, c_char_p,
                                           POINTER(KV), c_size_t]),
    "dapr_runtime_start": (c_int, [c_void_p, RUNTIME_CB, c_void_p]),
    "dapr_runtime_stop": (c_int, [c_void_p, RUNTIME_CB, c_void_p]),
    "dapr_runtime_run_thread": (c_int, [c_void_p]),
    "dapr_runtime_post": (c_int, [c_void_p, RUNTIME_FN, c_void_p]),
    "dapr_runtime_join_thread": (c_int, [c_void_p]),
    "dapr_state_get": (c_int, [c_void_p, c_char_p, POINTER(StateKey), STATE_GET_CB, c_void_p]),
    "dapr_state_save": (c_int, [c_void_p, c_char_p, POINTER(StateItem), c_size_t, DONE_CB,
                                c_void_p]),
    "dapr_state_delete": (c_int, [c_void_p, c_char_p, POINTER(StateKey), DONE_CB, c_void_p]),
    "dapr_state_get_bulk": (c_int, [c_void_p, c_char_p, POINTER(c_char_p), c_size_t, c_int,
                                    POINTER(KV), c_size_t, STATE_BULK_CB, c_void_p]),
    "dapr_state_transact": (c_int, [c_void_p, c_char_p, POINTER(StateOp), c_size_t,
                                    POINTER(KV), c_size_t, DONE_CB, c_void_p]),
    "dapr_invoke": (c_int, [c_void_p, c_char_p, POINTER(InvokeRequest), INVOKE_CB, c_void_p]),
    "dapr_invoke_register": (c_int, [c_void_p, c_char_p, INVOKE_HANDLER, c_void_p]),
    "dapr_invoke_unregister": (c_int, [c_void_p, c_char_p]),
    "dapr_invocation_respond": (c_int, [c_void_p, POINTER(InvokeResponse)]),
    "dapr_publish": (c_int, [c_void_p, POINTER(PublishRequest), DONE_CB, c_void_p]),
    "dapr_subscribe": (c_int, [c_void_p, POINTER(Subscription), MESSAGE_CB, c_void_p,
                               POINTER(c_void_p)]),
    "dapr_unsubscribe": (c_int, [c_void_p]),
    "dapr_actors_register_type": (c_int, [c_void_p, c_char_p, POINTER(ActorCallbacks),
                                          POINTER(ActorConfig), c_void_p]),
    "dapr_actor_turn_done": (c_int, [c_void_p, c_int, c_void_p, c_size_t, c_bool]),
    "dapr_actor_invoke": (c_int, [c_void_p, c_char_p, c_char_p, c_char_p, c_void_p, c_size_t,
                                  ACTOR_INVOKE_CB, c_void_p]),
    "dapr_actor_state_get": (c_int, [c_void_p, c_char_p, c_char_p, c_char_p, STATE_GET_CB,
                                     c_void_p]),
    "dapr_actor_state_transact": (c_int, [c_void_p, c_char_p, c_char_p, POINTER(ActorStateOp),
                                          c_size_t, DONE_CB, c_void_p]),
    "dapr_actor_timer_register": (c_int, [c_void_p, POINTER(ActorSchedule), DONE_CB, c_void_p]),
    "dapr_actor_timer_unregister": (c_int, [c_void_p, c_char_p, c_char_p, c_char_p, DONE_CB,
                                            c_void_p]),
    "dapr_actor_reminder_register": (c_int, [c_void_p, POINTER(ActorSchedule), DONE_CB,
                                             c_void_p]),
    "dapr_actor_reminder_unregister": (c_int, [c_void_p, c_char_p, c_char_p, c_char_p, DONE_CB,
                                               c_void_p]),
}


class _Api:
    pass


api = _Api()
missing = []
for _name, (_res, _args) in _PROTOS.items():
    try:
        _f = getattr(lib, _name)
    except AttributeError:
        missing.append(_name)
        continue
    _f.restype = _res
    _f.argtypes = _args
    setattr(api, _name[len("dapr_"):], _f)
