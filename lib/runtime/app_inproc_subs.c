/* The in-process app's subscriptions (app_inproc.h): what GET
 * dapr/subscribe answers, the deliveries to the program's callbacks, and
 * subscriptions made or ended while the runtime runs (straight into the
 * subscriptions router, with the same internal route paths). */
#include "app_inproc.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/pubsub.h"
#include "core/alloc.h"
#include "core/json.h"
#include "core/strutil.h"
#include "runtime_int.h"
#include "subscriptions_int.h" /* defines SCOPE: the pub/sub processor's */

void dapr__inproc_sub_free(struct dapr_subscription_handle *h)
{
    if (!h)
        return;
    dapr__free(h->pubsub);
    dapr__free(h->topic);
    dapr__free(h->dead_letter);
    dapr__free(h->default_route);
    for (size_t i = 0; i < h->n_rules; i++) {
        dapr__free(h->match ? h->match[i] : NULL);
        dapr__free(h->path ? h->path[i] : NULL);
    }
    dapr__free(h->match);
    dapr__free(h->path);
    for (size_t i = 0; i < h->n_md; i++) {
        dapr__free((char *)h->md[i].key);
        dapr__free((char *)h->md[i].value);
    }
    dapr__free(h->md);
    dapr__free(h);
}

static bool has_default(const struct dapr_subscription_handle *h)
{
    return h->default_route || !h->n_rules;
}

/* "/__dapr_inproc/sub/<id>/<k>" */
static char *route_path(dapr__pool_t *p, const struct dapr_subscription_handle *h, size_t k)
{
    if (k == h->n_rules)
        return dapr__pool_printf(p, "/" DAPR__INPROC_SUB "%llu/d", (unsigned long long)h->id);
    return dapr__pool_printf(p, "/" DAPR__INPROC_SUB "%llu/%zu", (unsigned long long)h->id, k);
}

/* ---------------------------------------------------------------------
 * GET dapr/subscribe
 * ------------------------------------------------------------------- */

static json_t *sub_json(dapr__pool_t *p, const struct dapr_subscription_handle *h)
{
    json_t *rules = json_array(), *md = json_object();
    json_t *it = json_pack("{s:s,s:s}", "pubsubname", h->pubsub, "topic", h->topic);
    bool ok = rules && md && it;
    for (size_t k = 0; ok && k < h->n_rules; k++) {
        char *path = route_path(p, h, k);
        ok = path && !json_array_append_new(rules, json_pack("{s:s,s:s}", "match",
                                                               h->match[k] ? h->match[k] : "",
                                                               "path", path));
    }
    json_t *routes = ok ? json_pack("{s:O}", "rules", rules) : NULL;
    if (routes && has_default(h)) {
        char *path = route_path(p, h, h->n_rules);
        if (!path || json_object_set_new(routes, "default", json_string(path)))
            ok = false;
    }
    for (size_t i = 0; ok && i < h->n_md; i++)
        json_object_set_new(md, h->md[i].key, json_string(h->md[i].value));
    if (ok && routes) {
        json_object_set_new(it, "routes", routes);
        routes = NULL;
        json_object_set(it, "metadata", md);
        if (h->dead_letter)
            json_object_set_new(it, "deadLetterTopic", json_string(h->dead_letter));
        if (h->bulk)
            json_object_set_new(it, "bulkSubscribe",
                                json_pack("{s:b,s:I,s:I}", "enabled", 1, "maxMessagesCount",
                                          (json_int_t)h->bulk_max_count, "maxAwaitDurationMs",
                                          (json_int_t)h->bulk_max_await_ms));
    } else {
        json_decref(it);
        it = NULL;
    }
    json_decref(routes);
    json_decref(rules);
    json_decref(md);
    return it;
}

int dapr__inproc_subs_json(dapr__inproc_t *ip, dapr__buf_t *out)
{
    dapr__pool_t p;
    dapr__pool_init(&p, 1024);
    json_t *arr = json_array();
    int rc = arr ? 0 : DAPR_ENOMEM;
    for (struct dapr_subscription_handle *h = ip->subs; !rc && h; h = h->next) {
        if (h->routed)
            continue;
        json_t *it = sub_json(&p, h);
        if (!it || json_array_append_new(arr, it))
            rc = DAPR_ENOMEM;
        else
            h->routed = true;
    }
    if (!rc && dapr__json_go_encode(arr, out))
        rc = DAPR_ENOMEM;
    json_decref(arr);
    dapr__pool_destroy(&p);
    return rc;
}

/* ---------------------------------------------------------------------
 * Deliveries
 * ------------------------------------------------------------------- */

static struct dapr_subscription_handle *find_sub(dapr__inproc_t *ip, uint64_t id)
{
    for (struct dapr_subscription_handle *h = ip->subs; h; h = h->next)
        if (h->id == id)
            return h;
    return NULL;
}

static const char *verdict_name(dapr_delivery_status_t v)
{
    switch (v) {
    case DAPR_DELIVERY_SUCCESS: return "SUCCESS";
    case DAPR_DELIVERY_DROP: return "DROP";
    default: return "RETRY";
    }
}

/* Pairs of a JSON object of strings (a bulk entry's metadata). */
static size_t md_of(dapr__pool_t *p, const json_t *o, dapr_kv_t **out)
{
    size_t n = json_is_object(o) ? json_object_size(o) : 0, k = 0;
    dapr_kv_t *kv = dapr__pool_alloc(p, (n ? n : 1) * sizeof(*kv));
    const char *key;
    json_t *v;
    if (kv && n)
        json_object_foreach((json_t *)o, key, v)
        {
            if (json_is_string(v))
                kv[k++] = (dapr_kv_t){key, json_string_value(v)};
        }
    *out = kv;
    return kv ? k : 0;
}

/* One message to the program: ce is the CloudEvent (or, raw bulk entries,
 * a JSON string of base64), text its JSON. The callback may end the
 * subscription: h is not touched after it. */
static dapr_delivery_status_t deliver_one(struct dapr_subscription_handle *h, const char *route,
                                          const json_t *ce, const char *text, size_t text_len,
                                          const dapr_kv_t *md, size_t n_md)
{
    dapr__pool_t p;
    dapr__pool_init(&p, 1024);
    ProtobufCBinaryData bin = {0};
    json_t *wrapped = NULL;
    if (json_is_string(ce)) { /* a raw entry: data_base64 */
        wrapped = json_pack("{s:O}", "data_base64", (json_t *)ce);
        ce = wrapped;
    }
    dapr_delivery_status_t v = DAPR_DELIVERY_RETRY;
    if (ce && !dapr__sub_event_data(&p, ce, &bin)) {
#define CE(k) dapr__sub_ce_str(ce, k)
        dapr_message_t m = {.pubsub = h->pubsub, .topic = h->topic, .route = route,
                            .id = CE("id"), .source = CE("source"), .type = CE("type"),
                            .specversion = CE("specversion"),
                            .data_content_type = CE("datacontenttype"),
                            .data = bin.data ? bin.data : (const uint8_t *)"", .len = bin.len,
                            .event = text, .event_len = text_len, .metadata = md,
                            .n_metadata = n_md};
#undef CE
        v = h->cb(&m, h->data);
    }
    json_decref(wrapped);
    dapr__pool_destroy(&p);
    return v;
}

/* A bulk envelope: {"entries":[{entryId, event, contentType, metadata}]}
 * answered {"statuses":[{entryId, status}]}. */
static void deliver_bulk(dapr__inproc_t *ip, uint64_t id, const char *route, const json_t *env,
                         dapr__buf_t *out)
{
    json_t *entries = json_object_get(env, "entries"), *e;
    json_t *st = json_array(), *res = st ? json_pack("{s:O}", "statuses", st) : NULL;
    size_t i;
    json_array_foreach(entries, i, e)
    {
        json_t *eid = json_object_get(e, "entryId");
        if (!json_is_string(eid))
            continue;
        struct dapr_subscription_handle *h = find_sub(ip, id); /* it may have ended */
        dapr_delivery_status_t v = DAPR_DELIVERY_RETRY;
        json_t *ev = json_object_get(e, "event");
        char *text = ev ? json_dumps(ev, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
        if (h && text) {
            dapr__pool_t p;
            dapr__pool_init(&p, 256);
            dapr_kv_t *md = NULL;
            size_t n = md_of(&p, json_object_get(e, "metadata"), &md);
            v = deliver_one(h, route, ev, text, strlen(text), md, n);
            dapr__pool_destroy(&p);
        }
        free(text);
        json_array_append_new(st, json_pack("{s:O,s:s}", "entryId", eid, "status",
                                            verdict_name(v)));
    }
    if (!res || dapr__json_go_encode(res, out))
        out->oom = true;
    json_decref(st);
    json_decref(res);
}

int dapr__inproc_deliver(dapr__inproc_t *ip, const char *rest, const dapr__invoke_req_t *req,
                         const uint8_t *body, size_t len, dapr__buf_t *out)
{
    char *end = NULL;
    uint64_t id = strtoull(rest, &end, 10);
    struct dapr_subscription_handle *h = end && *end == '/' ? find_sub(ip, id) : NULL;
    const char *k = h ? end + 1 : NULL;
    const char *route = NULL;
    if (k && !strcmp(k, "d") && has_default(h)) {
        route = h->default_route ? h->default_route : "";
    } else if (k && *k >= '0' && *k <= '9') {
        size_t idx = (size_t)strtoull(k, NULL, 10);
        route = idx < h->n_rules ? h->path[idx] : NULL;
    }
    if (!route) {
        /* an ended subscription: its messages go back to the broker */
        dapr__buf_puts(out, "{\"status\":\"RETRY\"}");
        return 200;
    }
    char *text = dapr__malloc(len + 1);
    json_error_t je;
    json_t *ce = text ? json_loadb((const char *)body, len, 0, &je) : NULL;
    if (text) {
        memcpy(text, body, len);
        text[len] = 0;
    }
    if (json_is_object(ce) && json_is_array(json_object_get(ce, "entries"))) {
        deliver_bulk(ip, id, route, ce, out);
    } else if (json_is_object(ce)) {
        dapr_delivery_status_t v =
            deliver_one(h, route, ce, text, len, req->headers, req->n_headers);
        dapr__buf_printf(out, "{\"status\":\"%s\"}", verdict_name(v));
    } else {
        dapr__log(&ip->rt->log, DAPR_LOG_WARN, SCOPE, "in-process subscription to topic %s: "
                  "the delivery is not a JSON object", h->topic);
        dapr__buf_puts(out, "{\"status\":\"DROP\"}");
    }
    json_decref(ce);
    dapr__free(text);
    return 200;
}

/* ---------------------------------------------------------------------
 * While running: straight into the router
 * ------------------------------------------------------------------- */

int dapr__inproc_sub_route(dapr__inproc_t *ip, struct dapr_subscription_handle *h)
{
    dapr__subs_t *s = ip->rt->subs;
    if (!s || s->stopped)
        return DAPR_ESTATE;
    dapr__pool_t p;
    dapr__pool_init(&p, 1024);
    size_t nr = h->n_rules;
    const char **match = dapr__pool_calloc(&p, (nr + 1) * sizeof(char *));
    const char **path = dapr__pool_calloc(&p, (nr + 1) * sizeof(char *));
    const char **mk = dapr__pool_calloc(&p, (h->n_md + 1) * sizeof(char *));
    const char **mv = dapr__pool_calloc(&p, (h->n_md + 1) * sizeof(char *));
    int rc = match && path && mk && mv ? 0 : DAPR_ENOMEM;
    for (size_t k = 0; !rc && k < nr; k++) {
        match[k] = h->match[k];
        path[k] = route_path(&p, h, k);
        rc = path[k] ? 0 : DAPR_ENOMEM;
    }
    for (size_t i = 0; !rc && i < h->n_md; i++) {
        mk[i] = h->md[i].key;
        mv[i] = h->md[i].value;
    }
    const char *def = !rc && has_default(h) ? route_path(&p, h, nr) : NULL;
    if (!rc && has_default(h) && !def)
        rc = DAPR_ENOMEM;
    sub_t *u = NULL;
    if (!rc) {
        sub_src_t src = {.type = "PROGRAMMATIC", .pubsub = h->pubsub, .topic = h->topic,
                         .dead_letter = h->dead_letter, .default_path = def, .md_keys = mk,
                         .md_vals = mv, .n_md = h->n_md, .match = match, .path = path,
                         .n_rules = nr, .bulk = h->bulk, .bulk_max_count = h->bulk_max_count,
                         .bulk_max_await_ms = h->bulk_max_await_ms};
        rc = dapr__sub_add(s, &src, &u);
        if (!rc && !u)
            rc = DAPR_EINVAL; /* logged by the router */
    }
    dapr__pool_destroy(&p);
    if (!rc) {
        rc = dapr__sub_subscribe(u);
        if (rc)
            u->gone = true; /* kept (deliveries may point at it), never listed */
    }
    if (!rc)
        h->routed = true;
    return rc;
}

/* The router's subscription of h (its rules' paths are h's). */
static sub_t *router_sub(dapr__subs_t *s, const struct dapr_subscription_handle *h)
{
    char prefix[64];
    int pl = snprintf(prefix, sizeof(prefix), "/" DAPR__INPROC_SUB "%llu/",
                      (unsigned long long)h->id);
    for (size_t i = 0; i < s->n; i++) {
        sub_t *u = s->v[i];
        if (!u->gone && !u->stream && u->n_rules && !strncmp(u->rules[0].path, prefix, (size_t)pl))
            return u;
    }
    return NULL;
}

void dapr__inproc_sub_unroute(dapr__inproc_t *ip, struct dapr_subscription_handle *h)
{
    dapr__subs_t *s = ip->rt->subs;
    sub_t *u = s && h->routed ? router_sub(s, h) : NULL;
    if (!u)
        return;
    /* nothing goes to the dead-letter topic from here on: what is pending
     * is nacked, the broker keeps it */
    dapr__free(u->dead_letter);
    u->dead_letter = NULL;
    if (!u->bulk) { /* bulk batches own their deliveries: they end with RETRY */
        for (delivery_t *d = s->live; d; d = d->next)
            if (d->sub == u && !d->acked) {
                d->acked = true;
                d->ack(d->ack_ctx, DAPR_ECANCELED);
            }
        for (delivery_t *d = s->live, *nx; d; d = nx) {
            nx = d->next;
            if (d->sub != u)
                continue;
            if (d->op)
                dapr__resil_cancel(d->op); /* may free d */
            else
                dapr__sub_maybe_free(d);
        }
    }
    if (u->subscribed && u->comp && u->comp->initialised && !u->comp->closing)
        u->comp->ps_vt->unsubscribe(u->comp, u->sub_id);
    u->subscribed = false;
    u->gone = true;
    dapr__log(&ip->rt->log, DAPR_LOG_INFO, SCOPE, "in-process subscription to topic %s on "
              "pubsub %s ended", u->topic, u->pubsub);
}
