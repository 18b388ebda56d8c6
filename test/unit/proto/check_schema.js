// Cross-checks libdapr's own .proto files (proto/) against the schemas the
// pinned JavaScript SDK really uses on the wire:
//   - @dapr/dapr's protoc-gen-es descriptors (common_pb.js, appcallback_pb.js,
//     dapr_pb.js: the SDK's gRPC client and server are built on these);
//   - the .proto files @dapr/dapr ships next to them (runtime, internals,
//     placement; its jspb classes were generated from those);
//   - the google-protobuf (jspb) classes @dapr/dapr ships for the other
//     runtime files, internals, placement and, under workflow/, durabletask
//     (what the SDK's workflow client uses), read from their
//     serializeBinaryToWriter functions;
//   - @dapr/durabletask-js' orchestrator_service.proto.
// Every SDK field must exist in ours with the same number, type, label,
// map key type and explicit presence; every SDK RPC must have the same
// request/response types and streaming kinds. Additions on our side (newer
// Dapr releases) are listed as info only.
//
// usage: node check_schema.js <repo root> [--verbose]
'use strict';
const fs = require('fs');
const path = require('path');

const repo = path.resolve(process.argv[2] || path.join(__dirname, '../../..'));
const verbose = process.argv.includes('--verbose');
const NM = path.join(repo, 'test/sdk/node_modules');
const protobuf = require(path.join(NM, 'protobufjs'));
const SDK_PROTO = path.join(NM, '@dapr/dapr/proto');
const DT_PROTO = path.join(NM, '@dapr/durabletask-js/proto/orchestrator_service.proto');

// durabletask-js predates Dapr's fork, which renamed Orchestration* types to
// Workflow* (same numbers). Map SDK names to ours before comparing.
const RENAMED = {
  OrchestrationInstance: 'WorkflowInstance', OrchestratorRequest: 'WorkflowRequest',
  OrchestratorResponse: 'WorkflowResponse', OrchestratorAction: 'WorkflowAction',
  OrchestrationState: 'WorkflowState',
  SubOrchestrationInstanceCreatedEvent: 'ChildWorkflowInstanceCreatedEvent',
  SubOrchestrationInstanceCompletedEvent: 'ChildWorkflowInstanceCompletedEvent',
  SubOrchestrationInstanceFailedEvent: 'ChildWorkflowInstanceFailedEvent',
  CreateSubOrchestrationAction: 'CreateChildWorkflowAction',
  CompleteOrchestrationAction: 'CompleteWorkflowAction',
  TerminateOrchestrationAction: 'TerminateWorkflowAction',
  OrchestratorStartedEvent: 'WorkflowStartedEvent',
  OrchestratorCompletedEvent: 'WorkflowCompletedEvent',
};
const ren = n => RENAMED[n] || n;

// Model: { msgs: {name: {fields: {num: {name, sig}}}}, enums: {name: {VAL: n}},
//          svcs: {name: {Method: sig}} }, names without leading dot.
const newModel = () => ({ msgs: {}, enums: {}, svcs: {} });

// ---- protobufjs (.proto text) ----
function pbjsModel(roots, files, rename) {
  const root = new protobuf.Root();
  root.resolvePath = (origin, target) => {
    if (target.startsWith('google/protobuf/')) return target;  // protobufjs built-ins
    for (const r of roots) {
      const p = path.join(r, target);
      if (fs.existsSync(p)) return p;
    }
    return target;
  };
  root.loadSync(files, { keepCase: true });
  root.resolveAll();
  const nm = o => { const n = o.fullName.replace(/^\./, ''); return rename ? ren(n) : n; };
  const m = newModel();
  (function walk(ns) {
    for (const o of ns.nestedArray || []) {
      if (o instanceof protobuf.Type) {
        const fields = {};
        for (const f of o.fieldsArray) {
          const t = f.resolvedType ? nm(f.resolvedType) : f.type;
          const synthetic = f.partOf && f.partOf.oneof.length === 1 && f.partOf.name.startsWith('_');
          let sig = f.map ? `map<${f.keyType},${t}>` : (f.repeated ? 'repeated ' : '') + t;
          if (synthetic || (f.options && f.options.proto3_optional)) sig += ' [optional]';
          if (f.partOf && !synthetic) sig += ' [oneof]';
          fields[f.id] = { name: f.name, sig };
        }
        m.msgs[nm(o)] = { fields };
      } else if (o instanceof protobuf.Enum) {
        m.enums[nm(o)] = Object.assign({}, o.values);
      } else if (o instanceof protobuf.Service) {
        const meths = {};
        for (const x of o.methodsArray)
          meths[x.name] = `${x.requestStream ? 'stream ' : ''}${nm(x.resolvedRequestType)} -> ` +
                          `${x.responseStream ? 'stream ' : ''}${nm(x.resolvedResponseType)}`;
        m.svcs[nm(o)] = meths;
      }
      if (o.nestedArray) walk(o);
    }
  })(root);
  return m;
}

// ---- @bufbuild/protobuf v2 descriptors (what the SDK's gRPC code uses) ----
const SCALAR = { 1: 'double', 2: 'float', 3: 'int64', 4: 'uint64', 5: 'int32', 6: 'fixed64',
  7: 'fixed32', 8: 'bool', 9: 'string', 12: 'bytes', 13: 'uint32', 15: 'sfixed32',
  16: 'sfixed64', 17: 'sint32', 18: 'sint64' };
function bufModel(files) {
  const m = newModel();
  const val = (kind, f) => kind === 'scalar' ? SCALAR[f.scalar] :
    kind === 'enum' ? f.enum.typeName : f.message.typeName;
  const addMsg = d => {
    const fields = {};
    for (const f of d.fields) {
      let sig;
      if (f.fieldKind === 'map') sig = `map<${SCALAR[f.mapKey]},${val(f.mapKind, f)}>`;
      else if (f.fieldKind === 'list') sig = 'repeated ' + val(f.listKind, f);
      else sig = val(f.fieldKind, f);
      if (f.proto.proto3Optional) sig += ' [optional]';
      else if (f.oneof) sig += ' [oneof]';
      fields[f.number] = { name: f.name, sig };
    }
    m.msgs[d.typeName] = { fields };
    for (const e of d.nestedEnums) addEnum(e);
    for (const n of d.nestedMessages) if (!n.proto.options || !n.proto.options.mapEntry) addMsg(n);
  };
  const addEnum = e => { m.enums[e.typeName] = {}; for (const v of e.values) m.enums[e.typeName][v.name] = v.number; };
  for (const file of files) {
    for (const d of file.messages) addMsg(d);
    for (const e of file.enums) addEnum(e);
    for (const s of file.services) {
      const meths = {};
      for (const x of s.methods) {
        const cs = x.methodKind === 'client_streaming' || x.methodKind === 'bidi_streaming';
        const ss = x.methodKind === 'server_streaming' || x.methodKind === 'bidi_streaming';
        meths[x.name] = `${cs ? 'stream ' : ''}${x.input.typeName} -> ${ss ? 'stream ' : ''}${x.output.typeName}`;
      }
      m.svcs[s.typeName] = meths;
    }
  }
  return m;
}

function listProtos(dir, skip) {
  const out = [];
  (function rec(d) {
    for (const f of fs.readdirSync(d).sort()) {
      const p = path.join(d, f);
      if (fs.statSync(p).isDirectory()) rec(p);
      else if (f.endsWith('.proto') && !(skip && skip(p))) out.push(p);
    }
  })(dir);
  return out;
}


// ---- google-protobuf (jspb) generated code ----
// Field numbers, wire types and labels come from each message's
// serializeBinaryToWriter. jspb does not name enum types there, and it marks
// explicit presence (proto3 optional or oneof) only for scalar fields.
const JSPB_W = { String: 'string', Bytes: 'bytes', Int32: 'int32', Int64: 'int64', Uint32: 'uint32',
  Uint64: 'uint64', Bool: 'bool', Double: 'double', Float: 'float', Enum: 'enum', Sint32: 'sint32',
  Sint64: 'sint64', Fixed32: 'fixed32', Fixed64: 'fixed64', Sfixed32: 'sfixed32', Sfixed64: 'sfixed64' };
function jspbType(ref) {
  let m;
  if ((m = /^google_protobuf_\w+_pb\.(\w+)$/.exec(ref))) return 'google.protobuf.' + m[1];
  if ((m = /^dapr_proto_(\w+?)_v1_\w+_pb\.(\w+)$/.exec(ref))) return `dapr.proto.${m[1]}.v1.${m[2]}`;
  return ref.replace(/^proto\./, '');
}
function jspbModel(files, rename) {
  const m = newModel();
  for (const file of files) {
    const src = fs.readFileSync(file, 'utf8');
    const re = /^proto\.([\w.]+)\.serializeBinaryToWriter = function\(message, writer\) \{\n([\s\S]*?)^\};/gm;
    let x;
    while ((x = re.exec(src))) {
      const fields = {};
      for (const chunk of x[2].split(/\n  f = /).slice(1)) {
        let mm = /serializeBinary\((\d+), writer, jspb\.BinaryWriter\.prototype\.write(\w+), jspb\.BinaryWriter\.prototype\.write(\w+)(?:, ([\w.]+)\.serializeBinaryToWriter)?/.exec(chunk);
        if (mm) {
          const v = mm[3] === 'Message' ? jspbType(mm[4]) : JSPB_W[mm[3]];
          fields[mm[1]] = { name: '?', sig: `map<${JSPB_W[mm[2]]},${rename ? ren(v) : v}>` };
          continue;
        }
        mm = /writer\.write(Repeated|Packed)?(\w+?)\(\s*(\d+),\s*f(?:,\s*([\w.]+)\.serializeBinaryToWriter)?/.exec(chunk);
        if (!mm) throw new Error(`cannot read jspb writer of ${x[1]} in ${file}`);
        const t = mm[2] === 'Message' ? jspbType(mm[4]) : JSPB_W[mm[2]];
        let sig = (mm[1] ? 'repeated ' : '') + (rename ? ren(t) : t);
        if (!mm[1] && mm[2] !== 'Message' && /getField\(message, \d+\)/.test(chunk)) sig += ' [presence]';
        const getter = /^message\.get(\w+)\(/.exec(chunk);
        fields[mm[3]] = { name: getter ? getter[1].toLowerCase() : '?', sig };
      }
      m.msgs[rename ? ren(x[1]) : x[1]] = { fields };
    }
  }
  return m;
}
// Reduce one of our signatures to what jspb can express.
function coarse(model) {
  const out = newModel();
  const isEnum = t => !!model.enums[t];
  for (const [n, t] of Object.entries(model.msgs)) {
    const fields = {};
    for (const [num, f] of Object.entries(t.fields)) {
      let sig = f.sig;
      const pres = / \[(optional|oneof)\]$/.test(sig);
      sig = sig.replace(/ \[(optional|oneof)\]$/, '');
      sig = sig.replace(/^(repeated |map<\w+,)?([\w.]+)/, (all, pre, ty) => (pre || '') + (isEnum(ty) ? 'enum' : ty));
      const base = sig.replace(/^repeated /, '').replace(/^map<.*>$/, 'map');
      const scalar = !!JSPB_W[base.charAt(0).toUpperCase() + base.slice(1)] || base === 'enum';
      if (pres && scalar && !sig.startsWith('repeated ')) sig += ' [presence]';
      fields[num] = { name: f.name.toLowerCase().replace(/_/g, ''), sig };
    }
    out.msgs[n] = { fields };
  }
  return out;
}

// ---- compare ----
// Reviewed differences: the exact DIFF text and why it is acceptable. Any
// other difference fails the check.
const KNOWN = {
  // Field 1 is a string in both StringValue and TraceContext, so the SDK and
  // daprd read each other's bytes; the spec's TraceContext keeps traceState.
  "sdk jspb durabletask: ExecutionStartedEvent.7: sdk 'google.protobuf.StringValue correlationdata' ours 'TraceContext parenttracecontext'": 1,
  // The SDK's bundled .proto and its generated code disagree; the code (what
  // runs) wins. daprd never sends GenericEvent.
  "durabletask-js .proto: GenericEvent.1: sdk 'google.protobuf.StringValue data' ours 'string data'": 1,
};
let diffs = 0;
const infos = [];
const report = line => {
  if (KNOWN[line]) { infos.push('known difference: ' + line); KNOWN[line] = 2; return; }
  diffs++;
  console.log('DIFF ' + line);
};
function compare(label, sdk, ours) {
  for (const [n, t] of Object.entries(sdk.msgs)) {
    if (n.startsWith('google.')) continue;
    const o = ours.msgs[n];
    if (!o) { infos.push(`${label}: message ${n} not declared by us`); continue; }
    for (const [num, f] of Object.entries(t.fields)) {
      const g = o.fields[num];
      if (!g) { report(`${label}: ${n} field ${num} (${f.sig} ${f.name}) missing`); continue; }
      if (g.sig !== f.sig) report(`${label}: ${n}.${num}: sdk '${f.sig} ${f.name}' ours '${g.sig} ${g.name}'`);
      else if (g.name !== f.name) infos.push(`${label}: ${n}.${num} named ${f.name} by the SDK, ${g.name} by us`);
    }
    for (const num of Object.keys(o.fields)) if (!t.fields[num])
      infos.push(`${label}: ours adds ${n}.${o.fields[num].name} = ${num}`);
  }
  for (const [n, e] of Object.entries(sdk.enums)) {
    if (n.startsWith('google.')) continue;
    const o = ours.enums[n];
    if (!o) { infos.push(`${label}: enum ${n} not declared by us`); continue; }
    for (const [k, v] of Object.entries(e))
      if (o[k] !== v) report(`${label}: enum ${n}.${k} = ${v}, ours ${o[k]}`);
  }
  for (const [n, s] of Object.entries(sdk.svcs)) {
    const o = ours.svcs[n];
    if (!o) { report(`${label}: service ${n} missing`); continue; }
    for (const [meth, sig] of Object.entries(s)) {
      if (!o[meth]) infos.push(`${label}: rpc ${n}/${meth} not declared by us`);
      else if (o[meth] !== sig) report(`${label}: rpc ${n}/${meth}: sdk '${sig}' ours '${o[meth]}'`);
    }
  }
}

const PROTO = path.join(repo, 'proto');
const ours = pbjsModel([PROTO], listProtos(PROTO, p => p.includes('/google/protobuf/')), false);

const P = path.join(SDK_PROTO, 'dapr/proto');
const buf = bufModel([
  require(path.join(P, 'common/v1/common_pb.js')).file_dapr_proto_common_v1_common,
  require(path.join(P, 'runtime/v1/appcallback_pb.js')).file_dapr_proto_runtime_v1_appcallback,
  require(path.join(P, 'runtime/v1/dapr_pb.js')).file_dapr_proto_runtime_v1_dapr,
]);
compare('sdk protoc-gen-es', buf, ours);

// internals/v1/jobs.proto needs scheduler.v1, which we do not declare.
const sdkFiles = ['common', 'runtime', 'internals', 'placement'].flatMap(d =>
  listProtos(path.join(P, d, 'v1'), p => p.endsWith('internals/v1/jobs.proto')));
compare('sdk .proto', pbjsModel([SDK_PROTO], sdkFiles, false), ours);
compare('durabletask-js .proto', pbjsModel([], [DT_PROTO], true), ours);

// jspb classes: every runtime file that is not protoc-gen-es, plus internals,
// placement and the SDK's own durabletask copy.
const jspbFiles = ['runtime', 'internals', 'placement'].flatMap(d =>
  fs.readdirSync(path.join(P, d, 'v1')).filter(f => f.endsWith('_pb.js') && !f.endsWith('_grpc_pb.js'))
    .map(f => path.join(P, d, 'v1', f)))
  .filter(f => !/(appcallback|dapr|internals\/v1\/jobs)_pb\.js$/.test(f) &&
               !fs.readFileSync(f, 'utf8').includes('@bufbuild/protobuf'));
const oursCoarse = coarse(ours);
compare('sdk jspb', jspbModel(jspbFiles, false), oursCoarse);
compare('sdk jspb durabletask',
  jspbModel([path.join(NM, '@dapr/dapr/workflow/internal/durabletask/proto/orchestrator_service_pb.js')], true),
  oursCoarse);

// A stale allow-list entry means something changed: look at it again.
for (const [line, seen] of Object.entries(KNOWN))
  if (seen !== 2) { diffs++; console.log('STALE known difference no longer seen: ' + line); }
if (verbose) for (const i of infos) console.log('info ' + i);
console.log(`schema check: ${diffs} difference(s), ${infos.length} info note(s)` +
            (verbose ? '' : ' (--verbose lists them)'));
process.exit(diffs ? 1 : 0);
