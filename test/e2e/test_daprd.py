"""daprd end to end: the HTTP state API (every error of spec §2/§15), metadata,
health, API token, shutdown, start-up logs and failures, against the in-memory
store and a real redis-server (Dapr's Redis layout checked with redis-cli)."""
import json
import os
import signal
import socket
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from daprd_util import Daprd, Redis, component, run_daprd  # noqa: E402


class StateApi:
    """Shared state API checks; subclasses provide self.d (daprd)."""

    def test_save_get_delete(self):
        d = self.d
        st, _, _ = d.request("POST", "/v1.0/state/store", [
            {"key": "k1", "value": {"b": 2, "a": "<x>"}}, {"key": "k2", "value": "text"}])
        self.assertEqual(st, 204)
        st, h, body = d.request("GET", "/v1.0/state/store/k1")
        self.assertEqual(st, 200)
        self.assertEqual(h["content-type"], "application/json")
        self.assertTrue(h.get("etag"))
        # stored as Go's json.Marshal writes it: sorted keys, HTML-escaped
        self.assertEqual(body, b'{"a":"\\u003cx\\u003e","b":2}')
        st, _, body = d.request("GET", "/v1.0/state/store/k2")
        self.assertEqual(body, b'"text"')
        st, _, body = d.request("GET", "/v1.0/state/store/missing")
        self.assertEqual((st, body), (204, b""))
        st, _, _ = d.request("DELETE", "/v1.0/state/store/k2")
        self.assertEqual(st, 204)
        self.assertEqual(d.request("GET", "/v1.0/state/store/k2")[0], 204)
        # PUT saves too; an empty array is fine
        self.assertEqual(d.request("PUT", "/v1.0/state/store", [{"key": "p", "value": 1}])[0], 204)
        self.assertEqual(d.request("POST", "/v1.0/state/store", [])[0], 204)
        # keys are URL-unescaped; trailing slash tolerated
        self.assertEqual(d.request("POST", "/v1.0/state/store", [{"key": "a/b c", "value": 3}])[0], 204)
        st, _, body = d.request("GET", "/v1.0/state/store/a%2Fb%20c/")
        self.assertEqual((st, body), (200, b"3"))

    def test_etags(self):
        d = self.d
        d.request("POST", "/v1.0/state/store", [{"key": "e", "value": 1}])
        etag = d.request("GET", "/v1.0/state/store/e")[1]["etag"]
        st, err = d.json("POST", "/v1.0/state/store", [{"key": "e", "value": 2, "etag": etag}])
        self.assertEqual(st, 204)
        st, err = d.json("POST", "/v1.0/state/store", [{"key": "e", "value": 3, "etag": etag}])
        self.assertEqual(st, 409)
        self.assertEqual(err["errorCode"], "ERR_STATE_SAVE")
        self.assertIn("failed saving state in state store store", err["message"])
        # a foreign ETag: Dapr's Redis store calls it invalid (400), its in-memory
        # store compares opaque strings and calls it a mismatch (409)
        st, err = d.json("POST", "/v1.0/state/store", [{"key": "e", "value": 3, "etag": "xyz"}])
        self.assertEqual((st, err["errorCode"]), (self.foreign_etag_status, "ERR_STATE_SAVE"))
        st, err = d.json("DELETE", "/v1.0/state/store/e", headers={"If-Match": etag})
        self.assertEqual((st, err["errorCode"]), (409, "ERR_STATE_DELETE"))
        cur = d.request("GET", "/v1.0/state/store/e")[1]["etag"]
        self.assertEqual(d.request("DELETE", "/v1.0/state/store/e", headers={"If-Match": cur})[0], 204)
        # first-write
        fw = {"concurrency": "first-write"}
        self.assertEqual(d.request("POST", "/v1.0/state/store", [{"key": "fw", "value": 1, "options": fw}])[0], 204)
        self.assertEqual(d.request("POST", "/v1.0/state/store", [{"key": "fw", "value": 2, "options": fw}])[0], 409)

    def test_bulk(self):
        d = self.d
        d.request("POST", "/v1.0/state/store", [{"key": "x1", "value": {"n": 1}}, {"key": "x2", "value": "two"}])
        st, items = d.json("POST", "/v1.0/state/store/bulk", {"keys": ["x2", "nope", "x1"], "parallelism": 2})
        self.assertEqual(st, 200)
        self.assertEqual([i["key"] for i in items], ["x2", "nope", "x1"])
        self.assertEqual(items[0]["data"], "two")
        self.assertEqual(items[2]["data"], {"n": 1})
        self.assertIn("etag", items[0])
        self.assertNotIn("data", items[1])
        st, items = d.json("POST", "/v1.0/state/store/bulk", {"keys": []})
        self.assertEqual((st, items), (200, []))

    def test_transaction(self):
        d = self.d
        d.request("POST", "/v1.0/state/store", [{"key": "t-old", "value": 0}])
        body = {"operations": [
            {"operation": "upsert", "request": {"key": "t-a", "value": "A"}},
            {"operation": "delete", "request": {"key": "t-old"}}]}
        self.assertEqual(d.request("POST", "/v1.0/state/store/transaction", body)[0], 204)
        self.assertEqual(d.request("GET", "/v1.0/state/store/t-a")[2], b'"A"')
        self.assertEqual(d.request("GET", "/v1.0/state/store/t-old")[0], 204)
        bad = {"operations": [
            {"operation": "upsert", "request": {"key": "t-b", "value": "B"}},
            {"operation": "upsert", "request": {"key": "t-a", "value": "Z", "etag": "424242"}}]}
        st, err = d.json("POST", "/v1.0/state/store/transaction", bad)
        self.assertEqual((st, err["errorCode"]), (500, "ERR_STATE_TRANSACTION"))
        self.assertEqual(d.request("GET", "/v1.0/state/store/t-b")[0], 204, "all or nothing")
        st, err = d.json("POST", "/v1.0/state/store/transaction",
                         {"operations": [{"operation": "merge", "request": {"key": "k"}}]})
        self.assertEqual((st, err["errorCode"]), (400, "ERR_NOT_SUPPORTED_STATE_OPERATION"))
        self.assertEqual(err["message"], "operation type merge not supported")

    def test_errors(self):
        d = self.d
        st, err = d.json("GET", "/v1.0/state/nostore/k")
        self.assertEqual((st, err["errorCode"]), (400, "ERR_STATE_STORE_NOT_FOUND"))
        self.assertEqual(err["message"], "state store nostore is not found")
        self.assertEqual(err["details"][0]["reason"], "DAPR_STATE_NOT_FOUND")
        st, _, body = d.request("POST", "/v1.0/state/store", "{not json",
                                headers={"Content-Type": "application/json"})
        err = json.loads(body)
        self.assertEqual((st, err["errorCode"]), (400, "ERR_MALFORMED_REQUEST"))
        self.assertTrue(err["message"].startswith("failed deserializing HTTP body"))
        st, err = d.json("POST", "/v1.0/state/store", {"key": "not-an-array"})
        self.assertEqual((st, err["errorCode"]), (400, "ERR_MALFORMED_REQUEST"))
        st, err = d.json("POST", "/v1.0/state/store", [{"value": 1}])
        self.assertEqual((st, err["errorCode"]), (400, "ERR_MALFORMED_REQUEST"))
        self.assertEqual(err["message"], '"key" is a required field')
        st, err = d.json("POST", "/v1.0/state/store", [{"key": "a||b", "value": 1}])
        self.assertEqual((st, err["errorCode"]), (400, "ERR_MALFORMED_REQUEST"))
        self.assertEqual(err["details"][0]["@type"], "type.googleapis.com/google.rpc.ResourceInfo")
        self.assertEqual(err["details"][1]["reason"], "DAPR_STATE_ILLEGAL_KEY")
        st, err = d.json("POST", "/v1.0/state/store", [{"key": "k", "value": 1, "metadata": {"a": 5}}])
        self.assertEqual((st, err["errorCode"]), (400, "ERR_MALFORMED_REQUEST"))
        # a NUL would cut a key short ("nul\0x" aliasing "nul"): refused, "nul" untouched
        d.request("POST", "/v1.0/state/store", [{"key": "nul", "value": "orig"}])
        st, err = d.json("POST", "/v1.0/state/store", [{"key": "nul\u0000x", "value": "evil"}])
        self.assertEqual((st, err["errorCode"]), (400, "ERR_MALFORMED_REQUEST"))
        st, err = d.json("POST", "/v1.0/state/store/bulk", {"keys": ["nul\u0000x"]})
        self.assertEqual((st, err["errorCode"]), (400, "ERR_MALFORMED_REQUEST"))
        self.assertEqual(d.request("GET", "/v1.0/state/store/nul%00x")[0], 400)
        self.assertEqual(d.request("GET", "/v1.0/state/store/nul")[2], b'"orig"')
        st, err = d.json("POST", "/v1.0-alpha1/state/store/query", {"filter": {}})
        self.assertEqual((st, err["errorCode"]), (500, "ERR_STATE_STORE_NOT_SUPPORTED"))
        # no app id on an unknown route → invocation fallback error
        st, err = d.json("GET", "/v1.0/nothing/here")
        self.assertEqual((st, err["errorCode"]), (404, "ERR_DIRECT_INVOKE"))
        # building blocks not implemented yet say so
        st, err = d.json("POST", "/v1.0/bindings/b", {"operation": "create"})
        self.assertEqual((st, err["errorCode"]), (501, "ERR_API_UNIMPLEMENTED"))

    def test_ttl_and_query_metadata(self):
        d = self.d
        st, _, _ = d.request("POST", "/v1.0/state/store?metadata.ttlInSeconds=1", [{"key": "ttl", "value": 1}])
        self.assertEqual(st, 204)
        st, h, _ = d.request("GET", "/v1.0/state/store/ttl")
        self.assertEqual(st, 200)
        self.assertIn("metadata.ttlexpiretime", h)
        time.sleep(2.2)
        self.assertEqual(d.request("GET", "/v1.0/state/store/ttl")[0], 204)
        st, err = d.json("POST", "/v1.0/state/store", [{"key": "t", "value": 1, "metadata": {"ttlInSeconds": "abc"}}])
        self.assertEqual((st, err["errorCode"]), (500, "ERR_STATE_SAVE"))

    def test_metadata_and_health(self):
        d = self.d
        st, md = d.json("GET", "/v1.0/metadata")
        self.assertEqual(st, 200)
        self.assertEqual(md["id"], "e2e")
        self.assertTrue(md["runtimeVersion"].startswith("1.16"))
        self.assertIn("daprRuntimeVersion", md["extended"])
        self.assertEqual(md["actorRuntime"]["runtimeStatus"], "DISABLED")
        self.assertIn("appConnectionProperties", md)
        comp = [c for c in md["components"] if c["name"] == "store"][0]
        self.assertEqual(comp["type"], self.store_type)
        self.assertEqual(comp["version"], "v1")
        for cap in ("ETAG", "TRANSACTIONAL", "ACTOR"):
            self.assertIn(cap, comp["capabilities"])
        self.assertEqual(d.request("PUT", "/v1.0/metadata/color", "green",
                                   headers={"Content-Type": "text/plain"})[0], 204)
        self.assertEqual(d.json("GET", "/v1.0/metadata")[1]["extended"]["color"], "green")
        self.assertEqual(d.request("GET", "/v1.0/healthz")[0], 204)
        self.assertEqual(d.request("GET", "/v1.0/healthz?appid=e2e")[0], 204)
        st, err = d.json("GET", "/v1.0/healthz?appid=other")
        self.assertEqual((st, err["errorCode"]), (500, "ERR_HEALTH_APPID_NOT_MATCH"))


class InMemory(StateApi, unittest.TestCase):
    foreign_etag_status = 409
    store_type = "state.in-memory"

    @classmethod
    def setUpClass(cls):
        cls.d = Daprd([component("store", "state.in-memory", {"actorStateStore": "true"})])

    @classmethod
    def tearDownClass(cls):
        rc = cls.d.stop()
        assert rc == 0, f"daprd exit {rc}:\n{cls.d.logs()}"


class OnRedis(StateApi, unittest.TestCase):
    foreign_etag_status = 400
    store_type = "state.redis"

    @classmethod
    def setUpClass(cls):
        cls.redis = Redis()
        cls.d = Daprd([component("store", "state.redis", {
            "redisHost": f"127.0.0.1:{cls.redis.port}", "actorStateStore": "true"})])

    @classmethod
    def tearDownClass(cls):
        rc = cls.d.stop()
        cls.redis.stop()
        assert rc == 0, f"daprd exit {rc}:\n{cls.d.logs()}"

    def test_dapr_layout(self):
        d, r = self.d, self.redis
        d.request("POST", "/v1.0/state/store", [{"key": "layout", "value": {"v": 1}}])
        d.request("POST", "/v1.0/state/store", [{"key": "layout", "value": {"v": 2}}])
        self.assertEqual(r.cli("TYPE", "e2e||layout").strip(), "hash")
        fields = r.cli("HGETALL", "e2e||layout").split("\n")
        kv = dict(zip(fields[0::2], fields[1::2]))
        self.assertEqual(kv["data"], '{"v":2}')
        self.assertEqual(kv["version"], "2")
        # a value written the way Dapr writes it reads back through us
        r.cli("HSET", "e2e||from-dapr", "data", '{"hello":"world"}', "version", "7")
        st, h, body = d.request("GET", "/v1.0/state/store/from-dapr")
        self.assertEqual((st, h["etag"], body), (200, "7", b'{"hello":"world"}'))
        self.assertEqual(d.request("POST", "/v1.0/state/store",
                                   [{"key": "from-dapr", "value": 1, "etag": "7"}])[0], 204)
        self.assertEqual(r.cli("HGET", "e2e||from-dapr", "version").strip(), "8")


class Security(unittest.TestCase):
    def test_api_token(self):
        d = Daprd([component("store", "state.in-memory")], env={"DAPR_API_TOKEN": "s3cret"})
        try:
            st, h, body = d.request("GET", "/v1.0/metadata")
            self.assertEqual((st, body), (401, b"invalid api token\n"))
            self.assertTrue(h["content-type"].startswith("text/plain"))
            self.assertEqual(d.request("GET", "/v1.0/metadata", headers={"dapr-api-token": "s3cret"})[0], 200)
            self.assertEqual(d.request("GET", "/v1.0/metadata", headers={"dapr-api-token": "s3cre"})[0], 401)
            self.assertEqual(d.request("GET", "/v1.0/healthz")[0], 204)
            self.assertEqual(d.request("GET", "/v1.0/healthz/outbound")[0], 204)
            # CVE-2023-37918: "healthz" elsewhere in path or query does not skip the check
            for p in ("/v1.0/state/store/k?x=/v1.0/healthz", "/v1.0/healthz/../state/store/k",
                      "/v1.0/state/store/v1.0/healthz", "/v1.0//healthz/../metadata"):
                self.assertEqual(d.request("GET", p)[0], 401, p)
            self.assertEqual(d.request("POST", "/v1.0/healthz")[0], 401)
        finally:
            self.assertEqual(d.stop(), 0)


class Lifecycle(unittest.TestCase):
    def test_startup_logs_and_sigterm(self):
        d = Daprd([component("statestore", "state.in-memory")], app_id="demo")
        self.assertEqual(d.stop(signal.SIGTERM), 0)
        logs = d.logs()
        for line in ("starting Dapr Runtime -- version", "component loaded. name: statestore, type: state.in-memory/v1",
                     f"http server is running on port {d.port}", "dapr initialized. Status: Running. Init Elapsed"):
            self.assertIn(line, logs)
        if socket.has_ipv6 and os.path.exists("/proc/net/if_inet6"):
            for what in ("HTTP", "gRPC"):
                self.assertIn(f"{what} server listening on TCP address: [::1]:", logs)
        first = logs.splitlines()[0]
        self.assertRegex(first, r'^time="[^"]+" level=info msg="starting Dapr Runtime.*" app_id=demo instance=\S+ '
                                r'scope=dapr.runtime type=log ver=1.16')

    def test_json_logs(self):
        d = Daprd([], args=["--log-as-json", "--log-level", "debug"])
        self.assertEqual(d.stop(signal.SIGINT), 0)
        lines = [json.loads(l) for l in d.logs().splitlines() if l.startswith("{")]
        self.assertTrue(lines)
        self.assertEqual(set(lines[0]), {"app_id", "instance", "level", "msg", "scope", "time", "type", "ver"})

    def test_shutdown_api(self):
        d = Daprd([component("store", "state.in-memory")])
        self.assertEqual(d.request("POST", "/v1.0/shutdown")[0], 204)
        self.assertEqual(d.wait_exit(10), 0)
        self.assertIn("Dapr shut down gracefully", d.logs())
        d.stop()

    def test_flags(self):
        rc, out = run_daprd(["--no-such-flag"])
        self.assertEqual(rc, 2)
        self.assertIn("unknown flag: --no-such-flag", out)
        self.assertIn("Usage of daprd", out)
        rc, out = run_daprd(["--version"])
        self.assertEqual(rc, 0)
        self.assertTrue(out.startswith("1.16"))
        rc, out = run_daprd(["--dapr-http-port", "notaport"])
        self.assertEqual(rc, 2)
        # deprecated aliases and not-yet-active flags are accepted, and said so
        d = Daprd([component("store", "state.in-memory")],
                  args=["--app-port", "3999", "--dapr-http-max-request-size", "8", "--app-ssl",
                        "--placement-host-address", "127.0.0.1:50005"])
        try:
            logs = d.logs()
            self.assertIn("flag --app-ssl is accepted but not active yet", logs)
            # --app-ssl turns the protocol into https, whose channel is not built yet
            self.assertIn("app channel for --app-protocol https is not implemented yet", logs)
            # --placement-host-address is active now (actors, issue 6)
            self.assertNotIn("flag --placement-host-address is accepted but not active", logs)
            self.assertIn("The request body size parameter is: 8388608 bytes", logs)
        finally:
            self.assertEqual(d.stop(), 0)

    def test_component_failures(self):
        with tempfile.TemporaryDirectory() as res:
            # a refused Redis: daprd exits non-zero naming the component
            with open(os.path.join(res, "bad.yaml"), "w") as f:
                f.write(component("badstore", "state.redis", {"redisHost": "127.0.0.1:1"}))
            rc, out = run_daprd(["--resources-path", res, "--dapr-http-port", "0"])
            self.assertNotEqual(rc, 0)
            self.assertIn("badstore", out)
            self.assertIn("level=fatal", out)
            # ... unless ignoreErrors is set
            with open(os.path.join(res, "bad.yaml"), "w") as f:
                f.write(component("badstore", "state.redis", {"redisHost": "127.0.0.1:1"})
                        .replace("spec:\n", "spec:\n  ignoreErrors: true\n"))
            with open(os.path.join(res, "good.yaml"), "w") as f:
                f.write(component("store", "state.in-memory"))
            d = Daprd([], args=["--resources-path", res])
            try:
                self.assertEqual(d.request("POST", "/v1.0/state/store", [{"key": "k", "value": 1}])[0], 204)
                self.assertEqual(d.json("GET", "/v1.0/state/badstore/k")[0], 400)
            finally:
                self.assertEqual(d.stop(), 0)
            # a malformed YAML file names the file and line
            with open(os.path.join(res, "broken.yaml"), "w") as f:
                f.write("apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: x\n  bad: [unclosed\n")
            rc, out = run_daprd(["--resources-path", res, "--dapr-http-port", "0"])
            self.assertNotEqual(rc, 0)
            self.assertIn("broken.yaml", out)
            # an unknown state store type is fatal, as in Dapr
            os.remove(os.path.join(res, "broken.yaml"))
            with open(os.path.join(res, "bad.yaml"), "w") as f:
                f.write(component("weird", "state.nonexistent"))
            rc, out = run_daprd(["--resources-path", res, "--dapr-http-port", "0"])
            self.assertNotEqual(rc, 0)
            self.assertIn("state.nonexistent", out)

    def test_scopes_and_not_configured(self):
        scoped = component("store", "state.in-memory") + "scopes:\n- someone-else\n"
        d = Daprd([scoped])
        try:
            st, err = d.json("GET", "/v1.0/state/store/k")
            self.assertEqual((st, err["errorCode"]), (500, "ERR_STATE_STORE_NOT_CONFIGURED"))
        finally:
            self.assertEqual(d.stop(), 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
