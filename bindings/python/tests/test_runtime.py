"""dapr_embed against the real libdapr.so (DAPR_LIBRARY): state, invoke,
pub/sub and actors, each through an embedded runtime on its own loop thread.
Every port is 127.0.0.1; every wait is bounded."""
import json
import os
import socket
import subprocess
import sys
import threading
import time
import unittest
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from dapr_embed import (DROP, RETRY, SUCCESS, Actor, Component, DaprError,  # noqa: E402
                        Response, Runtime)
from dapr_embed import _ffi  # noqa: E402

T = 20  # seconds any single future may take
CLOSED = {"dapr-http-port": "-1", "dapr-grpc-port": "-1", "dapr-internal-grpc-port": "-1",
          "log-level": "warn"}


def needs(*names):
    missing = [n for n in names if n in _ffi.missing]
    return unittest.skipIf(missing, "libdapr lacks " + ", ".join(missing))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(pred, timeout=T):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.02)
    return False


@needs("dapr_runtime_run_thread", "dapr_runtime_post", "dapr_runtime_add_component",
       "dapr_state_get", "dapr_state_save", "dapr_state_delete", "dapr_state_transact")
class StateTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.rt = Runtime("pystate", options=CLOSED,
                         components=[Component("state.in-memory", "store")]).start(T)

    @classmethod
    def tearDownClass(cls):
        cls.rt.close()

    def test_save_get_delete(self):
        rt = self.rt
        self.assertIsNone(rt.state_get("store", "nothing").result(T))
        rt.state_save("store", {"a": {"n": 1}, "b": "text", "c": b"\x00\x01"}).result(T)
        a = rt.state_get("store", "a").result(T)
        self.assertEqual(a.json(), {"n": 1})
        self.assertTrue(a.etag)
        self.assertEqual(rt.state_get("store", "b").result(T).data, b"text")
        self.assertEqual(rt.state_get("store", "c").result(T).data, b"\x00\x01")
        bulk = rt.state_get_bulk("store", ["a", "b", "zz"]).result(T)
        self.assertEqual(bulk["b"].data, b"text")
        self.assertIsNone(bulk["zz"])
        rt.state_delete("store", "a").result(T)
        self.assertIsNone(rt.state_get("store", "a").result(T))

    def test_etag_concurrency(self):
        rt = self.rt
        rt.state_save("store", {"counter": 1}).result(T)
        v = rt.state_get("store", "counter").result(T)
        rt.state_save("store", {"counter": 2}, etag=v.etag, first_write=True).result(T)
        with self.assertRaises(DaprError) as cm:  # v.etag is stale now
            rt.state_save("store", {"counter": 3}, etag=v.etag, first_write=True).result(T)
        self.assertEqual(cm.exception.name, "DAPR_EETAG_MISMATCH")
        self.assertEqual(rt.state_get("store", "counter").result(T).json(), 2)

    def test_transaction(self):
        rt = self.rt
        rt.state_save("store", {"gone": 1}).result(T)
        rt.state_transact("store", upserts={"t1": "x", "t2": [1, 2]}, deletes=["gone"]).result(T)
        self.assertEqual(rt.state_get("store", "t2").result(T).json(), [1, 2])
        self.assertIsNone(rt.state_get("store", "gone").result(T))

    def test_unknown_store(self):
        with self.assertRaises(DaprError) as cm:
            self.rt.state_get("nosuchstore", "k").result(T)
        self.assertEqual(cm.exception.error_code, "ERR_STATE_STORE_NOT_FOUND")

    def test_many_threads(self):
        """Calls from several Python threads at once all complete."""
        errors = []

        def worker(i):
            try:
                for j in range(20):
                    self.rt.state_save("store", {f"w{i}-{j}": j}).result(T)
                    self.assertEqual(self.rt.state_get("store", f"w{i}-{j}").result(T).json(), j)
            except Exception as e:
                errors.append(e)
        ts = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(60)
        self.assertEqual(errors, [])


@needs("dapr_invoke", "dapr_invoke_register", "dapr_invocation_respond")
class InvokeTest(unittest.TestCase):
    def test_register_and_call(self):
        http = free_port()
        opts = dict(CLOSED, **{"dapr-http-port": str(http)})
        rt = Runtime("pyinvoke", options=opts)
        try:
            calls = []

            def hello(req):
                calls.append(req)
                return {"hello": req.json()["name"], "verb": req.verb}
            rt.register_invoke_handler("hello", hello)
            rt.register_invoke_handler("fail", lambda req: Response(418, b"teapot"))
            rt.start(T)
            # a handler that blocks on the runtime: it runs on a pool thread
            rt.register_invoke_handler(
                "lookup", lambda req: rt.invoke("pyinvoke", "hello", {"name": "inner"})
                .result(T).json())
            r = rt.invoke("pyinvoke", "hello", {"name": "py"}).result(T)
            self.assertEqual(r.status, 200)
            self.assertEqual(r.json(), {"hello": "py", "verb": "POST"})
            self.assertEqual(rt.invoke("pyinvoke", "fail").result(T).status, 418)
            self.assertEqual(rt.invoke("pyinvoke", "lookup").result(T).json()["hello"], "inner")
            # the same handler through the runtime's own HTTP API port
            req = urllib.request.Request(
                f"http://127.0.0.1:{http}/v1.0/invoke/pyinvoke/method/hello",
                data=b'{"name":"http"}', headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(req, timeout=T) as resp:
                self.assertEqual(json.loads(resp.read())["hello"], "http")
        finally:
            rt.close()


@needs("dapr_publish", "dapr_subscribe")
class PubSubTest(unittest.TestCase):
    def test_publish_subscribe_verdicts(self):
        rt = Runtime("pypubsub", options=CLOSED,
                     components=[Component("pubsub.in-memory", "ps")])
        try:
            got, seen = [], {}
            lock = threading.Lock()

            def on_order(msg):
                n = msg.json()["n"]
                with lock:
                    seen[n] = seen.get(n, 0) + 1
                    if n == 2 and seen[n] == 1:
                        return RETRY  # delivered again later
                    if n == 3:
                        return DROP
                    got.append((n, msg.route))
                return SUCCESS
            rt.subscribe("ps", "orders", on_order, rules=[("event.data.n > 3", "big")],
                         default_route="small")
            rt.start(T)
            for n in range(1, 6):
                rt.publish("ps", "orders", {"n": n}).result(T)
            self.assertTrue(wait_until(lambda: len(got) == 4), f"got {got}, seen {seen}")
            self.assertEqual(sorted(got), [(1, "small"), (2, "small"), (4, "big"), (5, "big")])
            self.assertGreaterEqual(seen[2], 2)
            time.sleep(0.5)
            self.assertEqual(seen[3], 1)  # a dropped message is not redelivered
            with self.assertRaises(DaprError) as cm:
                rt.publish("nope", "orders", {"n": 0}).result(T)
            self.assertEqual(cm.exception.error_code, "ERR_PUBSUB_NOT_FOUND")
        finally:
            rt.close()


class Account(Actor):
    reminders = []

    def deposit(self, body):
        bal = (self.state_get("balance") or 0) + json.loads(body)
        self.state_set("balance", bal)
        return bal

    def withdraw(self, body):
        bal = self.state_get("balance") or 0
        amount = json.loads(body)
        if amount > bal:
            raise ValueError("insufficient funds")
        self.state_set("balance", bal - amount)
        return bal - amount

    def balance(self, body):
        return self.state_get("balance") or 0

    def on_reminder(self, name, data):
        bal = self.state_get("balance") or 0
        self.state_set("balance", bal + data["bonus"])
        Account.reminders.append((self.id, name))
        return True  # once


@needs("dapr_actors_register_type", "dapr_actor_invoke", "dapr_actor_turn_done",
       "dapr_actor_state_get", "dapr_actor_state_transact", "dapr_actor_reminder_register")
@unittest.skipUnless(os.environ.get("PLACEMENT"), "PLACEMENT (the placement binary) not set")
class ActorTest(unittest.TestCase):
    def setUp(self):
        port = free_port()
        self.placement = subprocess.Popen(
            [os.environ["PLACEMENT"], "--port", str(port), "--healthz-port", str(free_port()),
             "--log-level", "warn"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.assertTrue(wait_until(lambda: _connects(port)), "placement did not start")
        opts = dict(CLOSED, **{"placement-host-address": f"127.0.0.1:{port}",
                               "dapr-internal-grpc-port": str(free_port())})
        self.rt = Runtime("pyactors", options=opts, components=[
            Component("state.in-memory", "actors", {"actorStateStore": "true"})])
        self.rt.register_actor_type("Account", Account)
        self.rt.start(T)

    def tearDown(self):
        self.rt.close()
        self.placement.terminate()
        self.placement.wait(10)

    def call(self, method, arg=None, id_="bob"):
        end = time.monotonic() + T
        while True:  # until placement's table lists this host
            try:
                return json.loads(self.rt.actor_invoke("Account", id_, method, arg).result(T))
            except DaprError as e:
                if e.error_code in ("ERR_ACTOR_INVOKE_METHOD",) or (e.error_code or "").startswith("HTTP") \
                        or time.monotonic() > end:
                    raise
                time.sleep(0.2)

    def test_methods_state_reminder(self):
        self.assertEqual(self.call("deposit", 100), 100)
        self.assertEqual(self.call("withdraw", 40), 60)
        with self.assertRaises(DaprError) as cm:
            self.call("withdraw", 1000)
        self.assertIn("insufficient funds", cm.exception.message)
        self.assertEqual(self.call("balance"), 60)
        v = self.rt.actor_state_get("Account", "bob", "balance").result(T)
        self.assertEqual(v.json(), 60)
        self.rt.actor_reminder_register("Account", "bob", "bonus", due_time="200ms",
                                        period="1s", data={"bonus": 5}).result(T)
        self.assertTrue(wait_until(lambda: Account.reminders), "the reminder did not fire")
        self.assertEqual(Account.reminders, [("bob", "bonus")])
        self.assertEqual(self.call("balance"), 65)
        time.sleep(1.5)  # cancelled by its first turn: no second firing
        self.assertEqual(Account.reminders, [("bob", "bonus")])


def _connects(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


if __name__ == "__main__":
    unittest.main()
