// Encodes representative Dapr messages with the pinned JavaScript SDK's own
// generated code and writes them as hex to a JSON vector file, which
// test_proto.c decodes with our protobuf-c descriptors.
//
// The SDK mixes two code generators:
//   - protoc-gen-es (@bufbuild/protobuf) schemas in common_pb.js,
//     appcallback_pb.js and dapr_pb.js: what its gRPC client/server use;
//   - google-protobuf (jspb) classes for actors (1.17 layout), internals,
//     placement and durabletask (@dapr/durabletask-js, used by the SDK's
//     workflow client).
// The expected values below are repeated by hand in test_proto.c: keep both
// files in step.
//
// usage: node gen_vectors.js <sdk node_modules dir> <output.json>
'use strict';
const fs = require('fs');
const path = require('path');
const { createRequire } = require('module');

const NM = path.resolve(process.argv[2]);
const OUT = process.argv[3];
if (!OUT) {
  console.error('usage: gen_vectors.js <node_modules> <out.json>');
  process.exit(2);
}
// Resolve modules exactly as the SDK itself does.
const sdk = createRequire(path.join(NM, '@dapr/dapr/package.json'));
const dt = createRequire(path.join(NM, '@dapr/durabletask-js/package.json'));

const { create, toBinary } = sdk('@bufbuild/protobuf');
const { AnySchema, DurationSchema, TimestampSchema } = sdk('@bufbuild/protobuf/wkt');
const { BinaryWriter } = sdk('@bufbuild/protobuf/wire');
const P = './proto/dapr/proto/';
const common = sdk(P + 'common/v1/common_pb.js');
const appcb = sdk(P + 'runtime/v1/appcallback_pb.js');
const dapr = sdk(P + 'runtime/v1/dapr_pb.js');
const actorsJ = sdk(P + 'runtime/v1/actors_pb.js');
const internalsJ = sdk(P + 'internals/v1/service_invocation_pb.js');
const statusJ = sdk(P + 'internals/v1/status_pb.js');
const placementJ = sdk(P + 'placement/v1/placement_pb.js');
const dtpb = dt('./proto/orchestrator_service_pb.js');
const wrappers = dt('google-protobuf/google/protobuf/wrappers_pb.js');
const tsJ = dt('google-protobuf/google/protobuf/timestamp_pb.js');
const anyJ = sdk('google-protobuf/google/protobuf/any_pb.js');

const vectors = [];
const utf8 = s => new TextEncoder().encode(s);
const hex = u8 => Buffer.from(u8).toString('hex');
function addBuf(name, type, schema, init) {
  vectors.push({ name, type, hex: hex(toBinary(schema, create(schema, init))) });
}
function addJspb(name, type, msg) {
  vectors.push({ name, type, hex: hex(msg.serializeBinary()) });
}
const sv = s => { const v = new wrappers.StringValue(); v.setValue(s); return v; };
const tsj = (sec, ns) => { const t = new tsJ.Timestamp(); t.setSeconds(sec); t.setNanos(ns); return t; };
const anyOfString = s => {   // Any holding a google.protobuf.StringValue
  const w = new BinaryWriter(); w.tag(1, 2).string(s);
  return create(AnySchema, { typeUrl: 'type.googleapis.com/google.protobuf.StringValue', value: w.finish() });
};

// 1. GetStateRequest with a metadata map
addBuf('get_state_request', 'dapr.proto.runtime.v1.GetStateRequest', dapr.GetStateRequestSchema, {
  storeName: 'statestore', key: 'order-1',
  consistency: common.StateOptions_StateConsistency.CONSISTENCY_STRONG,
  metadata: { contentType: 'application/json', partitionKey: 'p1' },
});

// 2. SaveStateRequest: StateItem with Etag, metadata and StateOptions
addBuf('save_state_request', 'dapr.proto.runtime.v1.SaveStateRequest', dapr.SaveStateRequestSchema, {
  storeName: 'statestore',
  states: [
    { key: 'k1', value: utf8('hello'), etag: { value: '7' }, metadata: { ttlInSeconds: '60' },
      options: { concurrency: common.StateOptions_StateConcurrency.CONCURRENCY_FIRST_WRITE,
                 consistency: common.StateOptions_StateConsistency.CONSISTENCY_STRONG } },
    { key: 'k2', value: new Uint8Array([0x00, 0xff, 0x10]) },
  ],
});

// 3. ExecuteStateTransactionRequest
addBuf('execute_state_transaction_request', 'dapr.proto.runtime.v1.ExecuteStateTransactionRequest',
  dapr.ExecuteStateTransactionRequestSchema, {
    storeName: 'statestore',
    operations: [
      { operationType: 'upsert', request: { key: 'a', value: utf8('1') } },
      { operationType: 'delete', request: { key: 'b', etag: { value: '3' } } },
    ],
    metadata: { txn: 'yes' },
  });

// 4. GetMetadataResponse with components, subscriptions, app connection, actor runtime
addBuf('get_metadata_response', 'dapr.proto.runtime.v1.GetMetadataResponse', dapr.GetMetadataResponseSchema, {
  id: 'myapp',
  activeActorsCount: [{ type: 'Cart', count: 3 }],
  registeredComponents: [{ name: 'statestore', type: 'state.redis', version: 'v1',
                           capabilities: ['ETAG', 'TRANSACTIONAL', 'ACTOR'] }],
  extendedMetadata: { daprRuntimeVersion: '1.18.3' },
  subscriptions: [{ pubsubName: 'pubsub', topic: 'orders', metadata: { rawPayload: 'true' },
                    rules: { rules: [{ match: 'event.type == "a"', path: '/a' }] },
                    deadLetterTopic: 'dlq', type: dapr.PubsubSubscriptionType.PROGRAMMATIC }],
  httpEndpoints: [{ name: 'ep1' }],
  appConnectionProperties: { port: 3000, protocol: 'grpc', channelAddress: '127.0.0.1', maxConcurrency: 10,
    health: { healthCheckPath: '/healthz', healthProbeInterval: '5s', healthProbeTimeout: '500ms',
              healthThreshold: 3 } },
  runtimeVersion: '1.18.3',
  enabledFeatures: ['SchedulerReminders'],
  actorRuntime: { runtimeStatus: dapr.ActorRuntime_ActorRuntimeStatus.RUNNING,
                  activeActors: [{ type: 'Cart', count: 3 }], hostReady: true,
                  placement: 'placement: connected' },
  scheduler: { connectedAddresses: ['127.0.0.1:50006'] },
  workflows: { connectedWorkers: 2 },
});

// 5. PublishEventRequest
addBuf('publish_event_request', 'dapr.proto.runtime.v1.PublishEventRequest', dapr.PublishEventRequestSchema, {
  pubsubName: 'pubsub', topic: 'orders', data: utf8('{"id":1}'), dataContentType: 'application/json',
  metadata: { ttlInSeconds: '30', rawPayload: 'false' },
});

// 6. TopicEventRequest with extensions Struct (field 7 is declared before 6)
addBuf('topic_event_request', 'dapr.proto.runtime.v1.TopicEventRequest', appcb.TopicEventRequestSchema, {
  id: 'evt-1', source: 'checkout', type: 'com.dapr.event.sent', specVersion: '1.0',
  dataContentType: 'application/json', data: utf8('{"a":1}'), topic: 'orders', pubsubName: 'pubsub',
  path: '/orders', extensions: { traceid: 'abc', priority: 5 },
});

// 7. SubscribeTopicEventsRequestAlpha1, initial request with the optional dead_letter_topic
addBuf('subscribe_topic_events_initial', 'dapr.proto.runtime.v1.SubscribeTopicEventsRequestAlpha1',
  dapr.SubscribeTopicEventsRequestAlpha1Schema, {
    subscribeTopicEventsRequestType: { case: 'initialRequest', value: {
      pubsubName: 'pubsub', topic: 'orders', metadata: { k: 'v' }, deadLetterTopic: 'orders-dead' } },
  });

// 8. SubscribeTopicEventsRequestAlpha1, event ack
addBuf('subscribe_topic_events_processed', 'dapr.proto.runtime.v1.SubscribeTopicEventsRequestAlpha1',
  dapr.SubscribeTopicEventsRequestAlpha1Schema, {
    subscribeTopicEventsRequestType: { case: 'eventProcessed', value: {
      id: 'evt-1', status: { status: appcb.TopicEventResponse_TopicEventResponseStatus.RETRY } } },
  });

// 9. InvokeServiceRequest with HTTPExtension
addBuf('invoke_service_request', 'dapr.proto.runtime.v1.InvokeServiceRequest', dapr.InvokeServiceRequestSchema, {
  id: 'target-app',
  message: { method: 'doThing', data: anyOfString('hi'), contentType: 'text/plain',
             httpExtension: { verb: common.HTTPExtension_Verb.POST, querystring: 'a=1&b=2' } },
});

// 10. InternalInvokeRequest. The SDK's jspb internals refer to common.v1
// types that are protoc-gen-es now, so field 3 (common.v1.InvokeRequest) is
// encoded with protoc-gen-es and spliced in between jspb fields 1-2 and 4.
{
  const head = new internalsJ.InternalInvokeRequest();
  head.setVer(internalsJ.APIVersion.V1);
  const ct = new internalsJ.ListStringValue(); ct.setValuesList(['application/json']);
  const multi = new internalsJ.ListStringValue(); multi.setValuesList(['a', 'b']);
  head.getMetadataMap().set('content-type', ct);
  head.getMetadataMap().set('x-multi', multi);
  const tail = new internalsJ.InternalInvokeRequest();
  const actor = new internalsJ.Actor(); actor.setActorType('Cart'); actor.setActorId('42');
  tail.setActor(actor);
  const msg = toBinary(common.InvokeRequestSchema, create(common.InvokeRequestSchema, {
    method: 'm', data: create(AnySchema, { value: utf8('abc') }), contentType: 'application/json',
    httpExtension: { verb: common.HTTPExtension_Verb.GET } }));
  const w = new BinaryWriter(); w.tag(3, 2).bytes(msg);
  vectors.push({ name: 'internal_invoke_request', type: 'dapr.proto.internals.v1.InternalInvokeRequest',
    hex: hex(head.serializeBinary()) + hex(w.finish()) + hex(tail.serializeBinary()) });
}

// 11. placement Host (operation + optional uint64 version)
const mkHost = (name, entities) => {
  const h = new placementJ.Host();
  h.setName(name); h.setEntitiesList(entities); h.setId('myapp');
  return h;
};
{
  const h = mkHost('10.0.0.5:50002', ['Cart', 'User']);
  h.setPort(50002); h.setLoad(7); h.setPod('pod-1'); h.setApiLevel(20); h.setNamespace('default');
  h.setOperation(placementJ.HostOperation.UPDATE); h.setVersion(12345678901);
  addJspb('placement_host', 'dapr.proto.placement.v1.Host', h);
}

// 12. PlacementOrder with nested maps (entries -> load_map -> Host)
{
  const t = new placementJ.PlacementTable();
  t.getHostsMap().set(1, 'h1');
  t.setSortedSetList([1, 2]);
  t.getLoadMapMap().set('10.0.0.5:50002', mkHost('10.0.0.5:50002', ['Cart']));
  t.setTotalLoad(4);
  const tables = new placementJ.PlacementTables();
  tables.getEntriesMap().set('Cart', t);
  tables.setVersion('9'); tables.setApiLevel(20); tables.setReplicationFactor(100);
  const o = new placementJ.PlacementOrder();
  o.setTables(tables); o.setOperation('update'); o.setVersion(9);
  addJspb('placement_order', 'dapr.proto.placement.v1.PlacementOrder', o);
}

// 13. RegisterActorReminderRequest (1.17 layout: optional overwrite set to false)
{
  const r = new actorsJ.RegisterActorReminderRequest();
  r.setActorType('Cart'); r.setActorId('42'); r.setName('r1'); r.setDueTime('10s');
  r.setPeriod('R5/PT10S'); r.setData(utf8('rem')); r.setTtl('1h'); r.setOverwrite(false);
  addJspb('register_actor_reminder_request', 'dapr.proto.runtime.v1.RegisterActorReminderRequest', r);
}

// 14. ScheduleJobRequest with a Job using every optional field
addBuf('schedule_job_request', 'dapr.proto.runtime.v1.ScheduleJobRequest', dapr.ScheduleJobRequestSchema, {
  job: { name: 'job1', schedule: '@every 5s', repeats: 3, dueTime: '10s', ttl: '1h',
         data: anyOfString('payload'),
         failurePolicy: { policy: { case: 'constant', value: {
           interval: create(DurationSchema, { seconds: 2n, nanos: 500000000 }), maxRetries: 0 } } } },
  overwrite: true,
});

// 15. durabletask WorkItem carrying an orchestrator (workflow) request
const hev = (id, sec) => { const e = new dtpb.HistoryEvent(); e.setEventid(id); e.setTimestamp(tsj(sec, 5)); return e; };
const inst = (id, exec) => {
  const i = new dtpb.OrchestrationInstance(); i.setInstanceid(id);
  if (exec) i.setExecutionid(sv(exec));
  return i;
};
{
  const started = hev(-1, 1700000000); started.setOrchestratorstarted(new dtpb.OrchestratorStartedEvent());
  const es = new dtpb.ExecutionStartedEvent();
  es.setName('MyWorkflow'); es.setVersion(sv('v1')); es.setInput(sv('"in"'));
  es.setOrchestrationinstance(inst('wf-1', 'exec-1'));
  const parent = new dtpb.ParentInstanceInfo();
  parent.setTaskscheduledid(4); parent.setName(sv('Parent')); parent.setOrchestrationinstance(inst('parent-1'));
  es.setParentinstance(parent);
  es.setScheduledstarttimestamp(tsj(1700000100, 0));
  // Field 7: StringValue correlationData in the SDK, TraceContext in ours
  // (both carry a string in field 1).
  es.setCorrelationdata(sv('00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'));
  const execStarted = hev(-1, 1700000000); execStarted.setExecutionstarted(es);

  const done = new dtpb.TaskCompletedEvent(); done.setTaskscheduledid(0); done.setResult(sv('42'));
  const e1 = hev(1, 1700000200); e1.setTaskcompleted(done);
  const raised = new dtpb.EventRaisedEvent(); raised.setName('approve'); raised.setInput(sv('true'));
  const e2 = hev(2, 1700000300); e2.setEventraised(raised);
  const fired = new dtpb.TimerFiredEvent(); fired.setFireat(tsj(1700000400, 0)); fired.setTimerid(2);
  const e3 = hev(3, 1700000400); e3.setTimerfired(fired);

  const req = new dtpb.OrchestratorRequest();
  req.setInstanceid('wf-1'); req.setExecutionid(sv('exec-1'));
  req.setPasteventsList([started, execStarted]);
  req.setNeweventsList([e1, e2, e3]);
  const wi = new dtpb.WorkItem(); wi.setOrchestratorrequest(req);
  addJspb('work_item_workflow', 'WorkItem', wi);
}

// 16. durabletask WorkItem carrying an activity request
{
  const a = new dtpb.ActivityRequest();
  a.setName('Act'); a.setVersion(sv('1')); a.setInput(sv('"x"'));
  a.setOrchestrationinstance(inst('wf-1', 'exec-1')); a.setTaskid(7);
  const wi = new dtpb.WorkItem(); wi.setActivityrequest(a);
  addJspb('work_item_activity', 'WorkItem', wi);
}

// 17. durabletask workflow (orchestrator) response with one action of each common kind
{
  const act = (id) => { const x = new dtpb.OrchestratorAction(); x.setId(id); return x; };
  const st = new dtpb.ScheduleTaskAction(); st.setName('Act'); st.setVersion(sv('1')); st.setInput(sv('"x"'));
  const a1 = act(1); a1.setScheduletask(st);
  const ct = new dtpb.CreateTimerAction(); ct.setFireat(tsj(1700000500, 0));
  const a2 = act(2); a2.setCreatetimer(ct);
  const cs = new dtpb.CreateSubOrchestrationAction();
  cs.setInstanceid('child-1'); cs.setName('Child'); cs.setInput(sv('{}'));
  const a3 = act(3); a3.setCreatesuborchestration(cs);
  const se = new dtpb.SendEventAction(); se.setInstance(inst('other')); se.setName('ev'); se.setData(sv('d'));
  const a4 = act(4); a4.setSendevent(se);
  const inner = new dtpb.TaskFailureDetails(); inner.setErrortype('Inner');
  const fd = new dtpb.TaskFailureDetails();
  fd.setErrortype('E'); fd.setErrormessage('m'); fd.setStacktrace(sv('st')); fd.setInnerfailure(inner);
  fd.setIsnonretriable(true);
  const co = new dtpb.CompleteOrchestrationAction();
  co.setOrchestrationstatus(dtpb.OrchestrationStatus.ORCHESTRATION_STATUS_COMPLETED);
  co.setResult(sv('done')); co.setFailuredetails(fd);
  const a5 = act(5); a5.setCompleteorchestration(co);
  const r = new dtpb.OrchestratorResponse();
  r.setInstanceid('wf-1'); r.setActionsList([a1, a2, a3, a4, a5]); r.setCustomstatus(sv('running'));
  addJspb('workflow_response', 'WorkflowResponse', r);
}

// 18. durabletask CreateInstanceRequest
{
  const c = new dtpb.CreateInstanceRequest();
  c.setInstanceid('wf-2'); c.setName('MyWorkflow'); c.setVersion(sv('v2')); c.setInput(sv('{}'));
  c.setScheduledstarttimestamp(tsj(1700000600, 7));
  addJspb('create_instance_request', 'CreateInstanceRequest', c);
}

// 19. google.rpc.Status with ErrorInfo and ResourceInfo details. The SDK has
// no google.rpc classes: the envelope is the SDK's internals.v1.Status
// (same three fields), the details are written with @bufbuild's BinaryWriter.
{
  const ei = new BinaryWriter();
  ei.tag(1, 2).string('DAPR_STATE_NOT_FOUND').tag(2, 2).string('dapr.io');
  ei.tag(3, 2).fork().tag(1, 2).string('appID').tag(2, 2).string('myapp').join();
  const ri = new BinaryWriter();
  ri.tag(1, 2).string('state').tag(2, 2).string('mystore').tag(4, 2).string('state store mystore is not found');
  const d1 = new anyJ.Any(); d1.setTypeUrl('type.googleapis.com/google.rpc.ErrorInfo'); d1.setValue(ei.finish());
  const d2 = new anyJ.Any(); d2.setTypeUrl('type.googleapis.com/google.rpc.ResourceInfo'); d2.setValue(ri.finish());
  const s = new statusJ.Status();
  s.setCode(3); s.setMessage('state store mystore is not found'); s.setDetailsList([d1, d2]);
  addJspb('google_rpc_status', 'google.rpc.Status', s);
}

// 20. TopicEventBulkRequest with both kinds of entry
addBuf('topic_event_bulk_request', 'dapr.proto.runtime.v1.TopicEventBulkRequest', appcb.TopicEventBulkRequestSchema, {
  id: 'bulk-1',
  entries: [
    { entryId: 'e1', event: { case: 'bytes', value: utf8('raw') }, contentType: 'text/plain', metadata: { m: '1' } },
    { entryId: 'e2', event: { case: 'cloudEvent', value: {
        id: 'ce-2', source: 'src', type: 't', specVersion: '1.0', dataContentType: 'application/json',
        data: utf8('{}'), extensions: { flag: true } } }, contentType: 'application/cloudevents+json' },
  ],
  metadata: { bulk: 'true' }, topic: 'orders', pubsubName: 'pubsub', type: 'com.dapr.event.sent', path: '/bulk',
});

// 21. ConversationRequestAlpha2 (fields established from the SDK)
addBuf('conversation_request_alpha2', 'dapr.proto.runtime.v1.ConversationRequestAlpha2',
  dapr.ConversationRequestAlpha2Schema, {
    name: 'llm', contextId: 'ctx-1',
    inputs: [{
      messages: [
        { messageTypes: { case: 'ofUser', value: { name: 'bob', content: [{ text: 'hi' }] } } },
        { messageTypes: { case: 'ofAssistant', value: { content: [{ text: 'hello' }],
          toolCalls: [{ id: 'call-1', toolTypes: { case: 'function', value: { name: 'f', arguments: '{}' } } }] } } },
      ],
      scrubPii: true,
    }],
    parameters: { p: anyOfString('v') },
    metadata: { m: 'v' },
    scrubPii: false,
    temperature: 0.5,
    tools: [{ toolTypes: { case: 'function', value: { name: 'f', description: 'd', parameters: { type: 'object' } } } }],
    toolChoice: 'auto',
  });

// 22. EncryptRequest (fields established from the SDK)
addBuf('encrypt_request', 'dapr.proto.runtime.v1.EncryptRequest', dapr.EncryptRequestSchema, {
  options: { componentName: 'crypto', keyName: 'key1', keyWrapAlgorithm: 'RSA', dataEncryptionCipher: 'aes-gcm',
             omitDecryptionKeyName: true, decryptionKeyName: 'key2' },
  payload: { data: utf8('secret'), seq: 3n },
});

fs.writeFileSync(OUT, JSON.stringify(vectors, null, 1) + '\n');
console.log(`wrote ${vectors.length} vectors to ${OUT}`);
