/* gRPC adapter of metadata and shutdown. */
#include <string.h>

#include "api.h"
#include "api/metadata.h"
#include "dapr/proto/runtime/v1/dapr.pb-c.h"
#include "runtime/runtime_int.h"

typedef Dapr__Proto__Runtime__V1__RegisteredComponents pb_comp_t;
typedef Dapr__Proto__Runtime__V1__GetMetadataResponse__ExtendedMetadataEntry pb_ext_t;

static void oom(dapr__gctx_t *g)
{
    dapr__gapi_status(g, DAPR_GRPC_RESOURCE_EXHAUSTED, "out of memory");
}

void dapr__gapi_get_metadata(dapr__gctx_t *g, const ProtobufCMessage *req)
{
    dapr__metadata_t m;
    if (dapr__metadata_get(g->rt, &g->pool, &m)) {
        oom(g);
        return;
    }
    Dapr__Proto__Runtime__V1__GetMetadataResponse r =
        DAPR__PROTO__RUNTIME__V1__GET_METADATA_RESPONSE__INIT;
    r.id = (char *)m.id;
    r.runtime_version = (char *)m.runtime_version;
    size_t nc = m.n_components, ne = m.n_extended;
    pb_comp_t *comps = dapr__pool_alloc(&g->pool, (nc ? nc : 1) * sizeof(*comps));
    pb_comp_t **cp = dapr__pool_alloc(&g->pool, (nc ? nc : 1) * sizeof(*cp));
    pb_ext_t *ext = dapr__pool_alloc(&g->pool, (ne ? ne : 1) * sizeof(*ext));
    pb_ext_t **ep = dapr__pool_alloc(&g->pool, (ne ? ne : 1) * sizeof(*ep));
    if (!comps || !cp || !ext || !ep) {
        oom(g);
        return;
    }
    for (size_t i = 0; i < nc; i++) {
        dapr__proto__runtime__v1__registered_components__init(&comps[i]);
        comps[i].name = (char *)m.components[i].name;
        comps[i].type = (char *)m.components[i].type;
        comps[i].version = (char *)m.components[i].version;
        comps[i].capabilities = (char **)m.components[i].caps;
        comps[i].n_capabilities = m.components[i].n_caps;
        cp[i] = &comps[i];
    }
    r.registered_components = cp;
    r.n_registered_components = nc;
    size_t nh = m.n_http_endpoints;
    Dapr__Proto__Runtime__V1__MetadataHTTPEndpoint *he =
        dapr__pool_alloc(&g->pool, (nh ? nh : 1) * sizeof(*he));
    Dapr__Proto__Runtime__V1__MetadataHTTPEndpoint **hp =
        dapr__pool_alloc(&g->pool, (nh ? nh : 1) * sizeof(*hp));
    if (!he || !hp) {
        oom(g);
        return;
    }
    for (size_t i = 0; i < nh; i++) {
        dapr__proto__runtime__v1__metadata_httpendpoint__init(&he[i]);
        he[i].name = (char *)m.http_endpoints[i];
        hp[i] = &he[i];
    }
    r.http_endpoints = hp;
    r.n_http_endpoints = nh;
    for (size_t i = 0; i < ne; i++) {
        dapr__proto__runtime__v1__get_metadata_response__extended_metadata_entry__init(&ext[i]);
        ext[i].key = (char *)m.extended[i].key;
        ext[i].value = (char *)m.extended[i].value;
        ep[i] = &ext[i];
    }
    r.extended_metadata = ep;
    r.n_extended_metadata = ne;
    r.enabled_features = (char **)m.features;
    r.n_enabled_features = m.n_features;
    Dapr__Proto__Runtime__V1__AppConnectionProperties app =
        DAPR__PROTO__RUNTIME__V1__APP_CONNECTION_PROPERTIES__INIT;
    app.port = m.app_port > 0 ? m.app_port : 0;
    app.protocol = (char *)m.app_protocol;
    app.channel_address = (char *)m.app_channel_address;
    app.max_concurrency = m.app_max_concurrency > 0 ? (int32_t)m.app_max_concurrency : 0;
    r.app_connection_properties = &app;
    Dapr__Proto__Runtime__V1__ActorRuntime actors = DAPR__PROTO__RUNTIME__V1__ACTOR_RUNTIME__INIT;
    actors.runtime_status = !strcmp(m.actor_status, "RUNNING")
        ? DAPR__PROTO__RUNTIME__V1__ACTOR_RUNTIME__ACTOR_RUNTIME_STATUS__RUNNING
        : !strcmp(m.actor_status, "INITIALIZING")
        ? DAPR__PROTO__RUNTIME__V1__ACTOR_RUNTIME__ACTOR_RUNTIME_STATUS__INITIALIZING
        : DAPR__PROTO__RUNTIME__V1__ACTOR_RUNTIME__ACTOR_RUNTIME_STATUS__DISABLED;
    actors.host_ready = m.actor_host_ready;
    actors.placement = (char *)m.placement;
    r.actor_runtime = &actors;
    dapr__gapi_reply(g, &r.base);
}

void dapr__gapi_set_metadata(dapr__gctx_t *g, const ProtobufCMessage *req)
{
    const Dapr__Proto__Runtime__V1__SetMetadataRequest *q = (const void *)req;
    int rc = dapr__metadata_set(g->rt, q->key, q->value, strlen(q->value));
    if (rc) {
        dapr__gapi_status(g, rc == DAPR_EINVAL ? DAPR_GRPC_INVALID_ARGUMENT : DAPR_GRPC_INTERNAL,
                          "failed setting metadata: %s", dapr_strerror(rc));
        return;
    }
    Google__Protobuf__Empty e = GOOGLE__PROTOBUF__EMPTY__INIT;
    dapr__gapi_reply(g, &e.base);
}

void dapr__gapi_shutdown(dapr__gctx_t *g, const ProtobufCMessage *req)
{
    dapr_runtime_t *rt = g->rt;
    Google__Protobuf__Empty e = GOOGLE__PROTOBUF__EMPTY__INIT;
    dapr__gapi_reply(g, &e.base);
    dapr__runtime_request_shutdown(rt);
}
