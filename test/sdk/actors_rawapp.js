// A raw Node http actor app for the actor tests that need exact control of
// the app side (actors_grpc.test.js, actors_resiliency.test.js): it answers
// GET /dapr/config with the given config, logs every call with timestamps,
// and runs a few methods:
//   slow   body = ms: enter, wait, exit (the log shows overlaps)
//   fail   500 "boom" every time
//   flip   500 for the first N calls of an id (N from the body, default 2), then 200
//   echo   200 with the request's Dapr-Reentrancy-Id header (or null)
//   outer  calls inner on the same actor through daprd (port from the body),
//          with its own Dapr-Reentrancy-Id, waits at most 1500 ms: {reentered}
//   inner  200 "in"
//   other method names: 404
// Reminders/timers (method/remind/<n>, method/timer/<n>) and DELETE
// (deactivation) are logged and answered 200.
"use strict";
const http = require("node:http");
const { freePort } = require("./harness");

async function startActorApp(config) {
  const port = await freePort();
  const log = []; // {ev, type, id, m, t}
  const flips = new Map();
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", async () => {
      const body = Buffer.concat(chunks).toString();
      const url = decodeURIComponent(req.url);
      const send = (status, obj) => {
        const b = typeof obj === "string" ? obj : JSON.stringify(obj);
        res.writeHead(status, { "Content-Type": "application/json" });
        res.end(b);
      };
      if (req.method === "GET" && url === "/dapr/config") return send(200, config);
      let m = /^\/actors\/([^/]+)\/([^/]+)$/.exec(url);
      if (m && req.method === "DELETE") {
        log.push({ ev: "deactivate", type: m[1], id: m[2], t: Date.now() });
        return send(200, "");
      }
      m = /^\/actors\/([^/]+)\/([^/]+)\/method\/(.+)$/.exec(url);
      if (!m) return send(404, "");
      const [, type, id, method] = m;
      const e = { ev: "call", type, id, m: method, t: Date.now(),
        rid: req.headers["dapr-reentrancy-id"] || null };
      log.push(e);
      if (method.startsWith("remind/") || method.startsWith("timer/")) return send(200, "");
      switch (method) {
        case "slow": {
          const ms = Number(body) || 100;
          log.push({ ev: "enter", type, id, t: Date.now() });
          await new Promise((r) => setTimeout(r, ms));
          log.push({ ev: "exit", type, id, t: Date.now() });
          return send(200, { id });
        }
        case "fail": return send(500, "boom");
        case "flip": {
          const k = `${type}/${id}`;
          const n = (flips.get(k) || 0) + 1;
          flips.set(k, n);
          return n <= (Number(body) || 2) ? send(500, `flip ${n}`) : send(200, { n });
        }
        case "echo": return send(200, { rid: e.rid });
        case "inner": return send(200, "in");
        case "outer": {
          const port = Number(body);
          const ctl = new AbortController();
          const t = setTimeout(() => ctl.abort(), 1500);
          let reentered = false;
          try {
            const headers = e.rid ? { "Dapr-Reentrancy-Id": e.rid } : {};
            const r = await fetch(`http://127.0.0.1:${port}/v1.0/actors/${type}/${id}/method/inner`,
              { method: "PUT", headers, signal: ctl.signal });
            reentered = r.status === 200;
          } catch { reentered = false; }
          clearTimeout(t);
          return send(200, { reentered });
        }
        default: return send(404, "no such method");
      }
    });
  });
  await new Promise((r) => server.listen(port, "127.0.0.1", r));
  return {
    port, log,
    calls: (type, id, method) => log.filter((e) => e.ev === "call" && e.type === type &&
      (id === undefined || e.id === id) && (method === undefined || e.m === method)),
    stop: () => new Promise((r) => { server.closeAllConnections(); server.close(r); }),
  };
}

// Per id, enter/exit strictly alternate.
function overlaps(log) {
  const open = new Map();
  for (const e of log) {
    if (e.ev !== "enter" && e.ev !== "exit") continue;
    const k = `${e.type}/${e.id}`;
    if (e.ev === "enter") { if (open.get(k)) return k; open.set(k, true); } else open.set(k, false);
  }
  return null;
}

module.exports = { startActorApp, overlaps };
