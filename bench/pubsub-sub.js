// bench/pubsub-sub.js: the gRPC subscriber of bench/pubsub.py. A bare @grpc/grpc-js server (from
// test/sdk/node_modules) implementing dapr.proto.runtime.v1.AppCallback's ListTopicSubscriptions
// (one subscription: PUBSUB/TOPIC) and OnTopicEvent (answers SUCCESS, an empty
// TopicEventResponse). Messages stay raw Buffers: no protobuf decoding per event, so the app
// costs as little as the transport allows. Every 100 ms it prints "<unix seconds> <count>" (the
// number of events received so far) on stdout.
//
//   node pubsub-sub.js PORT PUBSUB TOPIC
"use strict";
const grpc = require("@grpc/grpc-js");

const [port, pubsub, topic] = process.argv.slice(2);

function lenField(num, buf) {
  const out = [(num << 3) | 2];
  let n = buf.length;
  while (n > 127) { out.push((n & 0x7f) | 0x80); n >>>= 7; }
  out.push(n);
  return Buffer.concat([Buffer.from(out), buf]);
}
// ListTopicSubscriptionsResponse { repeated TopicSubscription subscriptions = 1 }
// TopicSubscription { string pubsub_name = 1; string topic = 2; TopicRoutes routes = 5 }
// TopicRoutes { string default = 2 } (daprd skips a subscription without a route, as Dapr does)
const subs = lenField(1, Buffer.concat([lenField(1, Buffer.from(pubsub)), lenField(2, Buffer.from(topic)),
  lenField(5, lenField(2, Buffer.from("/sub")))]));
const empty = Buffer.alloc(0);

const raw = (name) => ({
  path: `/dapr.proto.runtime.v1.AppCallback/${name}`, requestStream: false, responseStream: false,
  requestSerialize: (x) => x, requestDeserialize: (b) => b,
  responseSerialize: (x) => x, responseDeserialize: (b) => b,
});
let count = 0;
const server = new grpc.Server();
server.addService({ ListTopicSubscriptions: raw("ListTopicSubscriptions"), OnTopicEvent: raw("OnTopicEvent") }, {
  ListTopicSubscriptions: (call, cb) => cb(null, subs),
  OnTopicEvent: (call, cb) => { count++; cb(null, empty); },
});
server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (err) => {
  if (err) { console.error(err); process.exit(1); }
  setInterval(() => process.stdout.write(`${(Date.now() / 1000).toFixed(3)} ${count}\n`), 100);
});
process.on("SIGTERM", () => process.exit(0));
