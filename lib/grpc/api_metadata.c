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

typedef Dapr__Proto__Runtime__V1__PubsubSubscription pb_sub_t;
typedef Dapr__Proto__Runtime__V1__PubsubSubscriptionRule pb_rule_t;
typedef Dapr__Proto__Runtime__V1__PubsubSubscription__MetadataEntry pb_smd_t;

static int subscriptions_pb(dapr__gctx_t *g, const dapr__metadata_t *m,
                            Dapr__Proto__Runtime__V1__GetMetadataResponse *r)
{
    size_t n = m->n_subscriptions;
    if (!n)
        return 0;
    pb_sub_t *s = dapr__pool_alloc(&g->pool, n * sizeof(*s));
    pb_sub_t **sp = dapr__pool_alloc(&g->pool, n * sizeof(*sp));
    Dapr__Proto__Runtime__V1__PubsubSubscriptionRules *rs =
        dapr__pool_alloc(&g->pool, n * sizeof(*rs));
    if (!s || !sp || !rs)
        return -1;
    for (size_t i = 0; i < n; i++) {
        const dapr__sub_info_t *in = &m->subscriptions[i];
        dapr__proto__runtime__v1__pubsub_subscription__init(&s[i]);
        s[i].pubsub_name = (char *)in->pubsubname;
        s[i].topic = (char *)in->topic;
        s[i].dead_letter_topic = (char *)in->dead_letter;
        s[i].type = !strcmp(in->type, "DECLARATIVE") ? 1 : !strcmp(in->type, "PROGRAMMATIC") ? 2
                    : !strcmp(in->type, "STREAMING") ? 3 : 0;
        pb_smd_t *md = dapr__pool_alloc(&g->pool, (in->n_md + 1) * sizeof(*md));
        pb_smd_t **mdp = dapr__pool_alloc(&g->pool, (in->n_md + 1) * sizeof(*mdp));
        pb_rule_t *ru = dapr__pool_alloc(&g->pool, (in->n_rules + 1) * sizeof(*ru));
        pb_rule_t **rup = dapr__pool_alloc(&g->pool, (in->n_rules + 1) * sizeof(*rup));
        if (!md || !mdp || !ru || !rup)
            return -1;
        for (size_t k = 0; k < in->n_md; k++) {
            dapr__proto__runtime__v1__pubsub_subscription__metadata_entry__init(&md[k]);
            md[k].key = (char *)in->md[k].key;
            md[k].value = (char *)in->md[k].value;
            mdp[k] = &md[k];
        }
        s[i].metadata = mdp;
        s[i].n_metadata = in->n_md;
        for (size_t k = 0; k < in->n_rules; k++) {
            dapr__proto__runtime__v1__pubsub_subscription_rule__init(&ru[k]);
            if (in->match[k])
                ru[k].match = (char *)in->match[k];
            ru[k].path = (char *)in->path[k];
            rup[k] = &ru[k];
        }
        dapr__proto__runtime__v1__pubsub_subscription_rules__init(&rs[i]);
        rs[i].rules = rup;
        rs[i].n_rules = in->n_rules;
        s[i].rules = &rs[i];
        sp[i] = &s[i];
    }
    r->subscriptions = sp;
    r->n_subscriptions = n;
    return 0;
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
    if (subscriptions_pb(g, &m, &r)) {
        oom(g);
        return;
    }
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
    Dapr__Proto__Runtime__V1__ActiveActorsCount *ac =
        dapr__pool_alloc(&g->pool, (m.n_active + 1) * sizeof(*ac));
    Dapr__Proto__Runtime__V1__ActiveActorsCount **acp =
        dapr__pool_alloc(&g->pool, (m.n_active + 1) * sizeof(*acp));
    for (size_t i = 0; ac && acp && i < m.n_active; i++) {
        dapr__proto__runtime__v1__active_actors_count__init(&ac[i]);
        ac[i].type = (char *)m.active[i].type;
        ac[i].count = (int32_t)m.active[i].count;
        acp[i] = &ac[i];
    }
    if (ac && acp && m.n_active) {
        actors.active_actors = acp;
        actors.n_active_actors = m.n_active;
        r.active_actors_count = acp;
        r.n_active_actors_count = m.n_active;
    }
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
