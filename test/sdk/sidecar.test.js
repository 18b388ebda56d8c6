// The official SDK's DaprClient and the sidecar itself: the API token
// (DAPR_API_TOKEN / daprApiToken) and the shutdown API, over HTTP and gRPC.
"use strict";
const { describe, it } = require("node:test");
const assert = require("node:assert/strict");
const { DaprClient, CommunicationProtocolEnum } = require("@dapr/dapr");
const { startDaprd, waitFor } = require("./harness");

const protocols = (process.env.SDK_PROTOCOLS || "HTTP").split(",");
const mem = { name: "statestore", type: "state.in-memory" };

function clientFor(proto, daprd, extra = {}) {
  return new DaprClient({
    daprHost: "127.0.0.1",
    daprPort: String(proto === "GRPC" ? daprd.grpcPort : daprd.httpPort),
    communicationProtocol: CommunicationProtocolEnum[proto],
    logger: { level: 0 },
    ...extra,
  });
}

for (const proto of protocols) {
  describe(`sidecar via ${proto}`, () => {
    // (A client with a wrong token never gets past the SDK's own start-up
    // probe, as against Dapr; the refusals themselves are tested in e2e and
    // in the grpc_daprd suite.)
    it("works with daprApiToken when DAPR_API_TOKEN is set", async () => {
      const daprd = await startDaprd({ appId: "tokapp", components: [mem],
        env: { DAPR_API_TOKEN: "s3cret" } });
      const good = clientFor(proto, daprd, { daprApiToken: "s3cret" });
      try {
        await good.start();
        await good.state.save("statestore", [{ key: "t", value: "ok" }]);
        assert.equal(await good.state.get("statestore", "t"), "ok");
        assert.equal((await good.metadata.get()).id, "tokapp");
        assert.equal(await good.health.isHealthy(), true);
        const noToken = await fetch(`http://127.0.0.1:${daprd.httpPort}/v1.0/state/statestore/t`);
        assert.equal(noToken.status, 401, "the sidecar really requires the token");
      } finally {
        await good.stop();
        assert.equal((await daprd.stop()).code, 0);
      }
    });

    it("shuts the sidecar down through the shutdown API", async () => {
      const daprd = await startDaprd({ appId: "shutapp", components: [mem] });
      const client = clientFor(proto, daprd);
      try {
        await client.start();
        await client.sidecar.shutdown();
        await waitFor("daprd to exit", async () => daprd.proc.exitCode !== null, 15000);
        assert.equal(daprd.proc.exitCode, 0);
        assert.match(daprd.logs(), /Dapr shut down gracefully/);
      } finally {
        await client.stop();
        await daprd.stop();
      }
    });
  });
}
