/* HTTP adapter of the metadata API (spec §9). */
#include <string.h>

#include "api/metadata.h"
#include "router.h"
#include "runtime/runtime_int.h"

static void jstr(dapr__buf_t *b, const char *s) { dapr__buf_json_str(b, s, strlen(s), 1); }

static void jkey(dapr__buf_t *b, const char *k, bool comma)
{
    if (comma)
        dapr__buf_putc(b, ',');
    jstr(b, k);
    dapr__buf_putc(b, ':');
}

static void components_json(dapr__buf_t *b, const dapr__metadata_t *m)
{
    jkey(b, "components", true);
    dapr__buf_putc(b, '[');
    for (size_t i = 0; i < m->n_components; i++) {
        const dapr__metadata_component_t *c = &m->components[i];
        if (i)
            dapr__buf_putc(b, ',');
        dapr__buf_putc(b, '{');
        jkey(b, "name", false);
        jstr(b, c->name);
        jkey(b, "type", true);
        jstr(b, c->type);
        jkey(b, "version", true);
        jstr(b, c->version);
        jkey(b, "capabilities", true);
        dapr__buf_putc(b, '[');
        for (size_t k = 0; k < c->n_caps; k++) {
            if (k)
                dapr__buf_putc(b, ',');
            jstr(b, c->caps[k]);
        }
        dapr__buf_puts(b, "]}");
    }
    dapr__buf_putc(b, ']');
}

/* spec §9.1: pubsubname, topic, deadLetterTopic and type always present */
static void subscriptions_json(dapr__buf_t *b, const dapr__metadata_t *m)
{
    if (!m->n_subscriptions)
        return;
    jkey(b, "subscriptions", true);
    dapr__buf_putc(b, '[');
    for (size_t i = 0; i < m->n_subscriptions; i++) {
        const dapr__sub_info_t *s = &m->subscriptions[i];
        dapr__buf_puts(b, i ? ",{" : "{");
        jkey(b, "pubsubname", false);
        jstr(b, s->pubsubname);
        jkey(b, "topic", true);
        jstr(b, s->topic);
        if (s->n_md) {
            jkey(b, "metadata", true);
            dapr__buf_putc(b, '{');
            for (size_t k = 0; k < s->n_md; k++) {
                jkey(b, s->md[k].key, k > 0);
                jstr(b, s->md[k].value);
            }
            dapr__buf_putc(b, '}');
        }
        if (s->n_rules) {
            jkey(b, "rules", true);
            dapr__buf_putc(b, '[');
            for (size_t k = 0; k < s->n_rules; k++) {
                dapr__buf_puts(b, k ? ",{" : "{");
                if (s->match[k]) {
                    jkey(b, "match", false);
                    jstr(b, s->match[k]);
                }
                jkey(b, "path", s->match[k] != NULL);
                jstr(b, s->path[k]);
                dapr__buf_putc(b, '}');
            }
            dapr__buf_putc(b, ']');
        }
        jkey(b, "deadLetterTopic", true);
        jstr(b, s->dead_letter);
        jkey(b, "type", true);
        jstr(b, s->type);
        dapr__buf_putc(b, '}');
    }
    dapr__buf_putc(b, ']');
}

static void app_props_json(dapr__buf_t *b, const dapr__metadata_t *m)
{
    jkey(b, "appConnectionProperties", true);
    dapr__buf_putc(b, '{');
    bool comma = false;
    if (m->app_port > 0) {
        dapr__buf_printf(b, "\"port\":%d", m->app_port);
        comma = true;
    }
    jkey(b, "protocol", comma);
    jstr(b, m->app_protocol);
    jkey(b, "channelAddress", true);
    jstr(b, m->app_channel_address);
    if (m->app_max_concurrency > 0)
        dapr__buf_printf(b, ",\"maxConcurrency\":%lld", (long long)m->app_max_concurrency);
    dapr__buf_putc(b, '}');
}

static void active_json(dapr__buf_t *b, const dapr__metadata_t *m)
{
    dapr__buf_putc(b, '[');
    for (size_t i = 0; i < m->n_active; i++) {
        dapr__buf_puts(b, i ? ",{\"type\":" : "{\"type\":");
        jstr(b, m->active[i].type);
        dapr__buf_printf(b, ",\"count\":%zu}", m->active[i].count);
    }
    dapr__buf_putc(b, ']');
}

void dapr__http_metadata_get(dapr_runtime_t *rt, dapr__http_req_t *req)
{
    dapr__metadata_t m;
    if (dapr__metadata_get(rt, &req->pool, &m)) {
        dapr__http_send_error(req, NULL);
        return;
    }
    dapr__buf_t b = DAPR__BUF_INIT;
    dapr__buf_puts(&b, "{\"id\":");
    jstr(&b, m.id);
    jkey(&b, "runtimeVersion", true);
    jstr(&b, m.runtime_version);
    if (m.n_features) {
        jkey(&b, "enabledFeatures", true);
        dapr__buf_putc(&b, '[');
        for (size_t i = 0; i < m.n_features; i++) {
            if (i)
                dapr__buf_putc(&b, ',');
            jstr(&b, m.features[i]);
        }
        dapr__buf_putc(&b, ']');
    }
    components_json(&b, &m);
    if (m.n_http_endpoints) {
        jkey(&b, "httpEndpoints", true);
        dapr__buf_putc(&b, '[');
        for (size_t i = 0; i < m.n_http_endpoints; i++) {
            dapr__buf_puts(&b, i ? ",{\"name\":" : "{\"name\":");
            jstr(&b, m.http_endpoints[i]);
            dapr__buf_putc(&b, '}');
        }
        dapr__buf_putc(&b, ']');
    }
    subscriptions_json(&b, &m);
    jkey(&b, "extended", true);
    dapr__buf_putc(&b, '{');
    for (size_t i = 0; i < m.n_extended; i++) {
        jkey(&b, m.extended[i].key, i > 0);
        jstr(&b, m.extended[i].value);
    }
    dapr__buf_putc(&b, '}');
    app_props_json(&b, &m);
    if (m.n_active) {
        jkey(&b, "actors", true);
        active_json(&b, &m);
    }
    jkey(&b, "actorRuntime", true);
    dapr__buf_puts(&b, "{\"runtimeStatus\":");
    jstr(&b, m.actor_status);
    if (m.n_active) {
        dapr__buf_puts(&b, ",\"activeActors\":");
        active_json(&b, &m);
    }
    dapr__buf_printf(&b, ",\"hostReady\":%s", m.actor_host_ready ? "true" : "false");
    if (*m.placement) {
        jkey(&b, "placement", true);
        jstr(&b, m.placement);
    }
    dapr__buf_puts(&b, "}}");
    dapr__http_send_json(req, 200, &b);
}

void dapr__http_metadata_put(dapr_runtime_t *rt, dapr__http_req_t *req)
{
    int rc = dapr__metadata_set(rt, req->params[0], req->body, req->body_len);
    if (rc) {
        dapr__http_send_errorf(req, DAPR_ERR_INTERNAL, "failed setting metadata: %s",
                               dapr_strerror(rc));
        return;
    }
    dapr__http_send_empty(req, 204);
}
