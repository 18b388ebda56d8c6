#include "metadata.h"

#include <string.h>

#include "core/alloc.h"
#include "components/resources.h"
#include "core/map.h"
#include "runtime/actors.h"
#include "runtime/runtime_int.h"

static size_t state_caps(const dapr_component_t *c, const char **caps)
{
    static const struct {
        uint32_t bit;
        const char *name;
    } t[] = {{DAPR_STATE_FEATURE_ETAG, "ETAG"},
             {DAPR_STATE_FEATURE_TRANSACTIONAL, "TRANSACTIONAL"},
             {DAPR_STATE_FEATURE_QUERY, "QUERY_API"},
             {DAPR_STATE_FEATURE_TTL, "TTL"},
             {DAPR_STATE_FEATURE_DELETE_WITH_PREFIX, "DELETE_WITH_PREFIX"}};
    size_t n = 0;
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
        if (c->state_vt->features & t[i].bit)
            caps[n++] = t[i].name;
    if (c->actor_state_store)
        caps[n++] = "ACTOR";
    return n;
}

static size_t pubsub_caps(const dapr_component_t *c, const char **caps)
{
    size_t n = 0;
    if (c->ps_vt->features & DAPR_PUBSUB_FEATURE_SUBSCRIBE_WILDCARDS)
        caps[n++] = "SUBSCRIBE_WILDCARDS";
    if (c->ps_vt->features & DAPR_PUBSUB_FEATURE_MESSAGE_TTL)
        caps[n++] = "MESSAGE_TTL";
    if (c->ps_vt->features & DAPR_PUBSUB_FEATURE_BULK_PUBLISH)
        caps[n++] = "BULK_PUBLISH";
    return n;
}

typedef struct act_acc {
    dapr__pool_t *pool;
    dapr__metadata_t *out;
} act_acc_t;

static void count_type(const char *type, size_t count, void *ud)
{
    act_acc_t *a = ud;
    dapr__metadata_actors_t *n =
        dapr__pool_alloc(a->pool, (a->out->n_active + 1) * sizeof(*n));
    if (!n)
        return;
    if (a->out->n_active)
        memcpy(n, a->out->active, a->out->n_active * sizeof(*n));
    n[a->out->n_active++] = (dapr__metadata_actors_t){type, count};
    a->out->active = n;
}

int dapr__metadata_get(dapr_runtime_t *rt, dapr__pool_t *pool, dapr__metadata_t *out)
{
    memset(out, 0, sizeof(*out));
    out->id = rt->opt.app_id ? rt->opt.app_id : "";
    out->runtime_version = dapr_runtime_version();
    out->features = rt->config.enabled; /* the --config file's enabled features */
    out->n_features = rt->config.n_enabled;
    out->http_endpoints = dapr__pool_alloc(pool, (rt->n_endpoints + 1) * sizeof(char *));
    if (!out->http_endpoints)
        return DAPR_ENOMEM;
    out->n_http_endpoints = 0;
    for (size_t i = 0; i < rt->n_endpoints; i++)
        if (dapr__res_in_scope(rt->endpoints[i].scopes, rt->endpoints[i].n_scopes,
                               rt->opt.app_id))
            out->http_endpoints[out->n_http_endpoints++] = rt->endpoints[i].name;
    size_t nc = rt->n_components;
    out->components = dapr__pool_calloc(pool, (nc ? nc : 1) * sizeof(*out->components));
    if (!out->components)
        return DAPR_ENOMEM;
    for (size_t i = 0; i < nc; i++) {
        const dapr_component_t *c = rt->components[i];
        if (!c->initialised)
            continue;
        dapr__metadata_component_t *m = &out->components[out->n_components++];
        m->name = c->name;
        m->type = c->type;
        m->version = c->version;
        if (c->kind == DAPR__KIND_STATE)
            m->n_caps = state_caps(c, m->caps);
        if (c->kind == DAPR__KIND_PUBSUB)
            m->n_caps = pubsub_caps(c, m->caps);
    }
    out->n_subscriptions = dapr__subs_list(rt->subs, pool, &out->subscriptions);
    size_t ne = rt->extended.len + 1;
    out->extended = dapr__pool_alloc(pool, ne * sizeof(*out->extended));
    if (!out->extended)
        return DAPR_ENOMEM;
    out->extended[0] = (dapr_kv_t){"daprRuntimeVersion", dapr_runtime_version()};
    out->n_extended = 1;
    size_t it = 0;
    const char *k;
    void *v;
    while (dapr__map_next(&rt->extended, &it, &k, NULL, &v))
        if (strcmp(k, "daprRuntimeVersion"))
            out->extended[out->n_extended++] = (dapr_kv_t){k, v};
    out->app_port = rt->opt.app_port;
    out->app_protocol = rt->opt.app_protocol;
    out->app_channel_address = rt->opt.app_channel_address;
    out->app_max_concurrency = rt->opt.app_max_concurrency;
    out->actor_status = "DISABLED";
    out->actor_host_ready = false;
    out->placement = "";
    if (rt->actors) {
        act_acc_t acc = {pool, out};
        out->actor_status = "RUNNING";
        out->actor_host_ready = true;
        out->placement = dapr__actors_placement_connected(rt->actors) ? "placement: connected"
                                                                       : "placement: disconnected";
        dapr__actors_each_type(rt->actors, count_type, &acc);
    }
    return 0;
}

int dapr__metadata_set(dapr_runtime_t *rt, const char *key, const void *value, size_t len)
{
    if (!key || !*key)
        return 0; /* as Dapr: setting an empty key does nothing */
    char *v = dapr__strndup(value ? value : "", value ? len : 0);
    if (!v)
        return DAPR_ENOMEM;
    void *old = NULL;
    if (dapr__map_put(&rt->extended, key, strlen(key), v, &old)) {
        dapr__free(v);
        return DAPR_ENOMEM;
    }
    dapr__free(old);
    return 0;
}
