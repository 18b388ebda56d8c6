// embedded_app_peer — the Node.js side of examples/embedded_app.c: an app
// written with the official Dapr SDK (@dapr/dapr) behind its own daprd.
//
// Run (after starting ./embedded_app --peer node-peer ...):
//     daprd --app-id node-peer --app-port 3000 --dapr-http-port 3600 --dapr-grpc-port 50601 &
//     APP_PORT=3000 DAPR_HTTP_PORT=3600 node embedded_app_peer.js [embedded-app]
// It serves method "echo" (the C program calls it back) and invokes the C
// program's "hello" through its own daprd, by app id: the sidecar finds the
// embedded runtime by name resolution, exactly as it would find another daprd.
// It exits 0 once both directions worked (bounded: 60 s), 1 otherwise.
"use strict";
const { DaprClient, DaprServer, HttpMethod } = require("@dapr/dapr");

const target = process.argv[2] || "embedded-app";
const appPort = process.env.APP_PORT || "3000";
const daprPort = process.env.DAPR_HTTP_PORT || "3500";
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function main() {
  let echoed = 0;
  const server = new DaprServer({
    serverHost: "127.0.0.1", serverPort: appPort,
    clientOptions: { daprHost: "127.0.0.1", daprPort }, logger: { level: 0 },
  });
  await server.invoker.listen("echo", async (req) => {
    echoed++;
    console.log(`echo called with ${JSON.stringify(req.body)}`);
    return { echo: req.body, from: "node-peer" };
  }, { method: HttpMethod.POST });
  await server.start();

  const client = new DaprClient({ daprHost: "127.0.0.1", daprPort, logger: { level: 0 } });
  const end = Date.now() + 60000;
  let answer = null;
  while (!answer && Date.now() < end) {
    try {
      answer = await client.invoker.invoke(target, "hello", HttpMethod.POST, { name: "node" });
    } catch (e) {
      await sleep(300); // the embedded app may not be resolvable yet
    }
  }
  while (answer && echoed === 0 && Date.now() < end) await sleep(100);
  console.log(`${target} answered: ${JSON.stringify(answer)}`);
  await client.stop();
  await server.stop();
  const ok = answer && answer.greeting === "hello from C" && echoed > 0;
  process.exit(ok ? 0 : 1);
}

main().catch((e) => { console.error(e); process.exit(1); });
