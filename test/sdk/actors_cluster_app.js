// One app of actors_cluster.test.js, in its own process (the SDK's
// ActorRuntime is a per-process singleton): a DaprServer (HTTP) hosting
// ClusterActor next to its daprd. Every event goes to stdout as one JSON line
// {ev, host, id, t, ...} with t in fractional ms of the wall clock, so the
// test can order events of all hosts.
// Env: APP_PORT, DAPR_HTTP_PORT, HOST_NAME.
"use strict";
const { DaprServer, CommunicationProtocolEnum, AbstractActor, Temporal } = require("@dapr/dapr");
const { performance } = require("node:perf_hooks");

const HOST = process.env.HOST_NAME;
const now = () => performance.timeOrigin + performance.now();
const emit = (ev, id, extra = {}) =>
  process.stdout.write(JSON.stringify({ ev, host: HOST, id, t: now(), ...extra }) + "\n");
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

class ClusterActor extends AbstractActor {
  async onActivate() { emit("activate", this.getActorId().getId()); }
  async onDeactivate() { emit("deactivate", this.getActorId().getId()); }
  async whoami() { return HOST; }
  async slow(ms) {
    const id = this.getActorId().getId();
    emit("enter", id);
    await sleep(ms);
    emit("exit", id);
    return HOST;
  }
  async add(n) {
    const cur = (await this.getStateManager().tryGetState("count"))[1] || 0;
    await this.getStateManager().setState("count", cur + n);
    await this.getStateManager().saveState();
    return cur + n;
  }
  async startTimer(name) {
    await this.registerActorTimer(name, "onTimer", Temporal.Duration.from({ milliseconds: 100 }),
      Temporal.Duration.from({ milliseconds: 300 }), undefined, name);
    return HOST;
  }
  async stopTimer(name) { await this.unregisterActorTimer(name); }
  async onTimer(data) { emit("timer", this.getActorId().getId(), { data }); }
  async receiveReminder(data) { emit("reminder", this.getActorId().getId(), { data }); }
}

(async () => {
  const server = new DaprServer({
    serverHost: "127.0.0.1", serverPort: process.env.APP_PORT,
    communicationProtocol: CommunicationProtocolEnum.HTTP,
    clientOptions: { daprHost: "127.0.0.1", daprPort: process.env.DAPR_HTTP_PORT,
      communicationProtocol: CommunicationProtocolEnum.HTTP,
      actor: { actorIdleTimeout: "1h", drainOngoingCallTimeout: "5s", drainRebalancedActors: true } },
    logger: { level: 0 },
  });
  await server.actor.init();
  await server.actor.registerActor(ClusterActor);
  await server.start();
  emit("ready", "");
})().catch((e) => { process.stderr.write(`app ${HOST}: ${e.stack}\n`); process.exit(1); });
