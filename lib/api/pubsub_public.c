/* The public pub/sub API (include/dapr/pubsub.h): dapr_publish through the
 * same dapr__pubsub_publish as /v1.0/publish (api/pubsub.h); dapr_subscribe
 * makes the program a subscriber through the in-process app
 * (runtime/app_inproc.h), so deliveries keep the HTTP path's semantics. */
#include "dapr/pubsub.h"

#include <stdlib.h>
#include <string.h>

#include "api/pubsub.h"
#include "core/alloc.h"
#include "core/cel.h"
#include "core/strutil.h"
#include "public.h"
#include "runtime/app_channel.h"
#include "runtime/app_inproc.h"
#include "runtime/runtime_int.h"

/* ---------------------------------------------------------------------
 * Publish
 * ------------------------------------------------------------------- */


int dapr_publish(dapr_runtime_t *rt, const dapr_publish_request_t *req, dapr_done_cb cb,
                 void *data)
{
    if (!rt || !req || !cb || (!req->data && req->len) || (!req->metadata && req->n_metadata))
        return DAPR_EINVAL;
    dapr__pcall_t *c;
    int rc = dapr__pcall_begin(rt, (void *)cb, data, &c);
    if (rc)
        return rc;
    /* NULL names reach the API's own checks (ERR_PUBSUB_EMPTY, ...) */
    dapr__pubsub_pub_req_t q = {.pubsub = req->pubsub ? req->pubsub : "",
                                .topic = req->topic ? req->topic : "",
                                .data = req->data ? req->data : (const uint8_t *)"",
                                .len = req->len,
                                .content_type = req->content_type,
                                .md = {req->metadata, req->n_metadata}};
    dapr__pubsub_publish(rt, &c->pool, &q, dapr__pcall_done, c);
    return 0;
}

/* ---------------------------------------------------------------------
 * Subscribe
 * ------------------------------------------------------------------- */

static bool md_true(const dapr_kv_t *md, size_t n, const char *k)
{
    for (size_t i = 0; i < n; i++)
        if (!dapr__strcasecmp(md[i].key, k) && md[i].value &&
            (!dapr__strcasecmp(md[i].value, "true") || !strcmp(md[i].value, "1")))
            return true;
    return false;
}

static int64_t md_int(const dapr_kv_t *md, size_t n, const char *k)
{
    for (size_t i = 0; i < n; i++)
        if (!dapr__strcasecmp(md[i].key, k) && md[i].value)
            return strtoll(md[i].value, NULL, 10);
    return 0;
}

static int check(const dapr_subscription_t *sub)
{
    if (!sub->pubsub || !*sub->pubsub || !sub->topic || !*sub->topic ||
        (!sub->rules && sub->n_rules) || (!sub->metadata && sub->n_metadata))
        return DAPR_EINVAL;
    for (size_t i = 0; i < sub->n_metadata; i++)
        if (!sub->metadata[i].key || !sub->metadata[i].value)
            return DAPR_EINVAL;
    for (size_t i = 0; i < sub->n_rules; i++) {
        if (!sub->rules[i].path)
            return DAPR_EINVAL;
        const char *m = sub->rules[i].match;
        if (!m || !*m)
            continue;
        char err[256];
        dapr__cel_t *cel = dapr__cel_compile(m, err, sizeof(err));
        if (!cel)
            return DAPR_EINVAL;
        dapr__cel_free(cel);
    }
    return 0;
}

static char *dup_or_null(const char *s, bool *oom)
{
    if (!s)
        return NULL;
    char *d = dapr__strdup(s);
    if (!d)
        *oom = true;
    return d;
}

static struct dapr_subscription_handle *copy_sub(const dapr_subscription_t *sub)
{
    struct dapr_subscription_handle *h = dapr__calloc(1, sizeof(*h));
    if (!h)
        return NULL;
    bool oom = false;
    size_t nr = sub->n_rules, nm = sub->n_metadata;
    h->pubsub = dup_or_null(sub->pubsub, &oom);
    h->topic = dup_or_null(sub->topic, &oom);
    h->dead_letter = sub->dead_letter_topic && *sub->dead_letter_topic
                         ? dup_or_null(sub->dead_letter_topic, &oom)
                         : NULL;
    h->default_route = dup_or_null(sub->default_route, &oom);
    h->match = dapr__calloc(nr ? nr : 1, sizeof(char *));
    h->path = dapr__calloc(nr ? nr : 1, sizeof(char *));
    h->md = dapr__calloc(nm ? nm : 1, sizeof(*h->md));
    oom |= !h->match || !h->path || !h->md;
    if (!oom)
        h->n_rules = nr;
    for (size_t i = 0; !oom && i < nr; i++) {
        h->match[i] = sub->rules[i].match && *sub->rules[i].match
                          ? dup_or_null(sub->rules[i].match, &oom)
                          : NULL;
        h->path[i] = dup_or_null(sub->rules[i].path, &oom);
    }
    for (size_t i = 0; !oom && i < nm; i++) {
        h->md[i].key = dup_or_null(sub->metadata[i].key, &oom);
        h->md[i].value = dup_or_null(sub->metadata[i].value, &oom);
        h->n_md = i + 1;
    }
    if (oom) {
        dapr__inproc_sub_free(h);
        return NULL;
    }
    /* bulk subscribe, as metadata (bulkSubscribe[.enabled], .maxMessagesCount,
     * .maxAwaitDurationMs) */
    h->bulk = md_true(sub->metadata, nm, "bulkSubscribe") ||
              md_true(sub->metadata, nm, "bulkSubscribe.enabled");
    h->bulk_max_count = md_int(sub->metadata, nm, "bulkSubscribe.maxMessagesCount");
    h->bulk_max_await_ms = md_int(sub->metadata, nm, "bulkSubscribe.maxAwaitDurationMs");
    if (h->bulk_max_count <= 0)
        h->bulk_max_count = 100;
    if (h->bulk_max_await_ms <= 0)
        h->bulk_max_await_ms = 1000;
    return h;
}

int dapr_subscribe(dapr_runtime_t *rt, const dapr_subscription_t *sub, dapr_message_cb cb,
                   void *data, dapr_subscription_handle_t **out)
{
    if (out)
        *out = NULL;
    if (!rt || !sub || !cb)
        return DAPR_EINVAL;
    int rc = check(sub);
    if (rc)
        return rc;
    bool running = rt->state == DAPR__RT_RUNNING;
    if (!running && rt->state != DAPR__RT_CREATED)
        return DAPR_ESTATE;
    dapr__inproc_t *ip = dapr__inproc_get(rt);
    if (!ip)
        return DAPR_ENOMEM;
    for (struct dapr_subscription_handle *h = ip->subs; h; h = h->next)
        if (!strcmp(h->pubsub, sub->pubsub) && !strcmp(h->topic, sub->topic))
            return DAPR_EEXIST;
    if (running) {
        dapr_component_t *c = NULL;
        if (dapr__runtime_pubsub(rt, sub->pubsub, &c))
            return DAPR_ENOTFOUND;
        if (!rt->appch && rt->opt.app_port <= 0 && (rc = dapr__inproc_open(rt)))
            return rc;
        if (!dapr__appch_is_inproc(rt->appch))
            return DAPR_ESTATE; /* app-port is set: the app is elsewhere */
    }
    struct dapr_subscription_handle *h = copy_sub(sub);
    if (!h)
        return DAPR_ENOMEM;
    h->ip = ip;
    h->id = ++ip->next_sub_id;
    h->cb = cb;
    h->data = data;
    if (running && (rc = dapr__inproc_sub_route(ip, h))) {
        dapr__inproc_sub_free(h);
        return rc;
    }
    h->next = ip->subs;
    ip->subs = h;
    if (out)
        *out = h;
    return 0;
}

int dapr_unsubscribe(dapr_subscription_handle_t *h)
{
    if (!h)
        return DAPR_EINVAL;
    dapr__inproc_t *ip = h->ip;
    for (struct dapr_subscription_handle **pp = &ip->subs; *pp; pp = &(*pp)->next)
        if (*pp == h) {
            *pp = h->next;
            break;
        }
    dapr__inproc_sub_unroute(ip, h);
    dapr__inproc_sub_free(h);
    return 0;
}
