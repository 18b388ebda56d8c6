/* kind: Subscription documents (see resources.h). v2alpha1 carries
 * spec.routes {rules, default}, the deprecated v1alpha1 spec.route; both are
 * accepted whatever the apiVersion says, as one shape. The CEL of the rules
 * is compiled by the subscriptions router, which names the subscription when
 * a rule does not compile. */
#include <string.h>

#include "core/alloc.h"
#include "core/strutil.h"
#include "resources_int.h"

static void free_sub(dapr__res_subscription_t *s)
{
    dapr__free(s->file);
    dapr__free(s->name);
    dapr__free(s->pubsubname);
    dapr__free(s->topic);
    for (size_t i = 0; i < s->n_md; i++) {
        dapr__free(s->md_keys[i]);
        dapr__free(s->md_vals[i]);
    }
    dapr__free(s->md_keys);
    dapr__free(s->md_vals);
    for (size_t i = 0; i < s->n_rules; i++) {
        dapr__free(s->rules[i].match);
        dapr__free(s->rules[i].path);
    }
    dapr__free(s->rules);
    dapr__free(s->default_path);
    dapr__free(s->dead_letter);
    for (size_t i = 0; i < s->n_scopes; i++)
        dapr__free(s->scopes[i]);
    dapr__free(s->scopes);
    memset(s, 0, sizeof(*s));
}

void dapr__res_free_subscriptions(dapr__resources_t *r)
{
    for (size_t i = 0; i < r->n_subscriptions; i++)
        free_sub(&r->subscriptions[i]);
    dapr__free(r->subscriptions);
    r->subscriptions = NULL;
    r->n_subscriptions = 0;
}

/* spec.metadata: a map of strings. */
static int parse_md(dapr__res_ctx_t *c, const dapr__yaml_node_t *spec,
                    dapr__res_subscription_t *s)
{
    const dapr__yaml_node_t *m = NULL;
    int kl;
    int rc = dapr__res_get_map(c, spec, "metadata", &m, &kl);
    if (rc || !m || !m->n)
        return rc;
    s->md_keys = dapr__calloc(m->n, sizeof(char *));
    s->md_vals = dapr__calloc(m->n, sizeof(char *));
    if (!s->md_keys || !s->md_vals)
        return dapr__res_nomem(c);
    for (size_t i = 0; i < m->n; i++) {
        const dapr__yaml_pair_t *p = &m->pairs[i];
        if (p->value->kind != DAPR__YAML_SCALAR)
            return dapr__res_fail(c, p->value->line, "spec.metadata.%s must be a string",
                                  p->key->text);
        s->n_md = i + 1;
        if ((rc = dapr__res_dup(c, p->key->text, &s->md_keys[i])) ||
            (rc = dapr__res_dup(c, dapr__yaml_is_null(p->value) ? "" : p->value->text,
                                &s->md_vals[i])))
            return rc;
    }
    return 0;
}

static int parse_routes(dapr__res_ctx_t *c, const dapr__yaml_node_t *spec,
                        dapr__res_subscription_t *s)
{
    const char *route = NULL, *def = NULL;
    const dapr__yaml_node_t *routes = NULL, *rules = NULL;
    int kl;
    int rc = dapr__res_get_text(c, spec, "route", "spec.route", &route, NULL);
    if (!rc)
        rc = dapr__res_get_map(c, spec, "routes", &routes, &kl);
    if (!rc && routes)
        rc = dapr__res_get_text(c, routes, "default", "spec.routes.default", &def, NULL);
    if (!rc && routes)
        rc = dapr__res_get_seq(c, routes, "rules", "spec.routes.rules", &rules);
    if (rc)
        return rc;
    if ((rc = dapr__res_dup(c, def && *def ? def : route && *route ? route : NULL,
                            &s->default_path)))
        return rc;
    if (!rules || !rules->n)
        return 0;
    s->rules = dapr__calloc(rules->n, sizeof(*s->rules));
    if (!s->rules)
        return dapr__res_nomem(c);
    for (size_t i = 0; i < rules->n; i++) {
        const dapr__yaml_node_t *it = rules->items[i];
        const char *match = NULL, *path = NULL;
        if (it->kind != DAPR__YAML_MAP)
            return dapr__res_fail(c, it->line, "spec.routes.rules[%zu] must be a mapping", i);
        if ((rc = dapr__res_get_text(c, it, "match", "match", &match, NULL)) ||
            (rc = dapr__res_get_text(c, it, "path", "path", &path, NULL)))
            return rc;
        if (!path || !*path)
            return dapr__res_fail(c, it->line, "spec.routes.rules[%zu]: path is required", i);
        dapr__res_sub_rule_t *r = &s->rules[s->n_rules++];
        r->line = it->line;
        if ((rc = dapr__res_dup(c, match && *match ? match : NULL, &r->match)) ||
            (rc = dapr__res_dup(c, path, &r->path)))
            return rc;
    }
    return 0;
}

static int parse_bulk(dapr__res_ctx_t *c, const dapr__yaml_node_t *spec,
                      dapr__res_subscription_t *s)
{
    const dapr__yaml_node_t *b = NULL;
    int kl;
    int rc = dapr__res_get_map(c, spec, "bulkSubscribe", &b, &kl);
    if (rc || !b)
        return rc;
    const char *en = NULL, *cnt = NULL, *aw = NULL;
    int l1, l2, l3;
    if ((rc = dapr__res_get_text(c, b, "enabled", "bulkSubscribe.enabled", &en, &l1)) ||
        (rc = dapr__res_get_text(c, b, "maxMessagesCount", "bulkSubscribe.maxMessagesCount",
                                 &cnt, &l2)) ||
        (rc = dapr__res_get_text(c, b, "maxAwaitDurationMs",
                                 "bulkSubscribe.maxAwaitDurationMs", &aw, &l3)))
        return rc;
    if (en && dapr__parse_bool(en, &s->bulk_enabled))
        return dapr__res_fail(c, l1, "bulkSubscribe.enabled: invalid value \"%s\"", en);
    if (cnt && (dapr__parse_int(cnt, &s->bulk_max_count) || s->bulk_max_count < 0))
        return dapr__res_fail(c, l2, "bulkSubscribe.maxMessagesCount: invalid value \"%s\"",
                              cnt);
    if (aw && (dapr__parse_int(aw, &s->bulk_max_await_ms) || s->bulk_max_await_ms < 0))
        return dapr__res_fail(c, l3, "bulkSubscribe.maxAwaitDurationMs: invalid value \"%s\"",
                              aw);
    return 0;
}

int dapr__res_add_subscription(dapr__res_ctx_t *c, const dapr__yaml_doc_t *doc,
                               dapr__resources_t *r)
{
    const dapr__yaml_node_t *root = doc->root, *meta = NULL, *spec = NULL;
    dapr__res_subscription_t s = {.line = doc->line};
    const char *name = NULL, *ps = NULL, *topic = NULL, *dl = NULL;
    int kl;
    int rc = dapr__res_get_map(c, root, "metadata", &meta, &kl);
    if (!rc && meta)
        rc = dapr__res_get_text(c, meta, "name", "metadata.name", &name, NULL);
    if (!rc) {
        c->comp = name && *name ? name : "(unnamed)";
        rc = dapr__res_get_map(c, root, "spec", &spec, &kl);
    }
    if (!rc && !spec)
        rc = dapr__res_fail(c, doc->line, "spec is required");
    if (!rc)
        rc = dapr__res_get_text(c, spec, "pubsubname", "spec.pubsubname", &ps, NULL);
    if (!rc)
        rc = dapr__res_get_text(c, spec, "topic", "spec.topic", &topic, NULL);
    if (!rc)
        rc = dapr__res_get_text(c, spec, "deadLetterTopic", "spec.deadLetterTopic", &dl, NULL);
    if (!rc && (!ps || !*ps))
        rc = dapr__res_fail(c, doc->line, "spec.pubsubname is required");
    if (!rc && (!topic || !*topic))
        rc = dapr__res_fail(c, doc->line, "spec.topic is required");
    if (!rc)
        rc = parse_md(c, spec, &s);
    if (!rc)
        rc = parse_routes(c, spec, &s);
    if (!rc)
        rc = parse_bulk(c, spec, &s);
    if (!rc)
        rc = dapr__res_get_scopes(c, root, &s.scopes, &s.n_scopes);
    if (!rc)
        rc = dapr__res_dup(c, c->file, &s.file);
    if (!rc)
        rc = dapr__res_dup(c, name ? name : "", &s.name);
    if (!rc)
        rc = dapr__res_dup(c, ps, &s.pubsubname);
    if (!rc)
        rc = dapr__res_dup(c, topic, &s.topic);
    if (!rc)
        rc = dapr__res_dup(c, dl && *dl ? dl : NULL, &s.dead_letter);
    dapr__res_subscription_t *ns =
        rc ? NULL : dapr__realloc(r->subscriptions, (r->n_subscriptions + 1) * sizeof(*ns));
    if (!rc && !ns)
        rc = dapr__res_nomem(c);
    if (rc) {
        free_sub(&s);
        return rc;
    }
    r->subscriptions = ns;
    r->subscriptions[r->n_subscriptions++] = s;
    return 0;
}
