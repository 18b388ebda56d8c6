/* The subscriptions router (see subscriptions.h). */
#include "subscriptions.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/pubsub.h"
#include "app_channel.h"
#include "core/alloc.h"
#include "core/cel.h"
#include "core/jscan.h"
#include "core/json.h"
#include "core/strutil.h"
#include "dapr/proto/runtime/v1/pubsub.pb-c.h"
#include "grpc/grpc.h"
#include "resiliency.h"
#include "runtime_int.h"
#include "subscriptions_int.h"


/* ---------------------------------------------------------------------
 * Subscriptions
 * ------------------------------------------------------------------- */

static void sub_free(sub_t *u)
{
    if (!u)
        return;
    dapr__free(u->name);
    dapr__free(u->pubsub);
    dapr__free(u->topic);
    dapr__free(u->dead_letter);
    for (size_t i = 0; i < u->n_md; i++) {
        dapr__free((char *)u->md[i].key);
        dapr__free((char *)u->md[i].value);
    }
    dapr__free(u->md);
    for (size_t i = 0; i < u->n_rules; i++) {
        dapr__free(u->rules[i].match);
        dapr__free(u->rules[i].path);
        dapr__cel_free(u->rules[i].cel);
    }
    dapr__free(u->rules);
    dapr__free(u);
}


static void add_rule(sub_t *u, const char *match, const char *path, bool *oom)
{
    rule_t *r = &u->rules[u->n_rules++];
    r->match = match && *match ? dapr__strdup(match) : NULL;
    r->path = dapr__strdup(path);
    if ((match && *match && !r->match) || !r->path)
        *oom = true;
}

/* Add a subscription; a bad one is logged and skipped (0). */
int dapr__sub_add(dapr__subs_t *s, const sub_src_t *src, sub_t **out)
{
    if (out)
        *out = NULL;
    dapr_runtime_t *rt = s->rt;
    const char *label = src->name && *src->name ? src->name : src->topic;
    if (!src->pubsub || !*src->pubsub || !src->topic || !*src->topic) {
        dapr__log(&rt->log, DAPR_LOG_WARN, SCOPE, "subscription %s skipped: pubsubname and "
                  "topic are required", label ? label : "(unnamed)");
        return 0;
    }
    for (size_t i = 0; i < s->n; i++)
        if (!s->v[i]->gone && !strcmp(s->v[i]->pubsub, src->pubsub) &&
            !strcmp(s->v[i]->topic, src->topic)) {
            dapr__log(&rt->log, DAPR_LOG_WARN, SCOPE, "subscription %s skipped: topic %s of "
                      "pubsub %s is already subscribed (%s)", label, src->topic, src->pubsub,
                      s->v[i]->type);
            return out ? DAPR_EEXIST : 0;
        }
    size_t nr = src->n_rules + (src->default_path && *src->default_path ? 1 : 0);
    if (!nr) {
        dapr__log(&rt->log, DAPR_LOG_WARN, SCOPE, "subscription %s to topic %s of pubsub %s "
                  "skipped: it has no route", label, src->topic, src->pubsub);
        return 0;
    }
    sub_t *u = dapr__calloc(1, sizeof(*u));
    sub_t **nv = u ? dapr__realloc(s->v, (s->n + 1) * sizeof(*nv)) : NULL;
    if (!nv) {
        dapr__free(u);
        return DAPR_ENOMEM;
    }
    s->v = nv;
    u->s = s;
    u->type = src->type;
    u->bulk = src->bulk;
    u->bulk_max_count = src->bulk_max_count > 0 ? src->bulk_max_count : 100;
    u->bulk_max_await_ms = src->bulk_max_await_ms > 0 ? src->bulk_max_await_ms : 1000;
    bool oom = false;
    u->name = dapr__strdup(label);
    u->pubsub = dapr__strdup(src->pubsub);
    u->topic = dapr__strdup(src->topic);
    u->dead_letter = src->dead_letter && *src->dead_letter ? dapr__strdup(src->dead_letter) : NULL;
    u->md = dapr__calloc(src->n_md ? src->n_md : 1, sizeof(*u->md));
    u->rules = dapr__calloc(nr, sizeof(*u->rules));
    oom = !u->name || !u->pubsub || !u->topic || !u->md || !u->rules ||
          (src->dead_letter && *src->dead_letter && !u->dead_letter);
    for (size_t i = 0; !oom && i < src->n_md; i++) {
        u->md[i].key = dapr__strdup(src->md_keys[i]);
        u->md[i].value = dapr__strdup(src->md_vals[i]);
        u->n_md = i + 1;
        oom = !u->md[i].key || !u->md[i].value;
        if (!oom && !dapr__strcasecmp(src->md_keys[i], "rawPayload") &&
            dapr__parse_bool(src->md_vals[i], &u->raw))
            dapr__log(&rt->log, DAPR_LOG_WARN, SCOPE, "subscription %s: metadata rawPayload "
                      "\"%s\" is not a boolean; taken as false", label, src->md_vals[i]);
    }
    for (size_t i = 0; !oom && i < src->n_rules; i++)
        add_rule(u, src->match[i], src->path[i], &oom);
    if (!oom && src->default_path && *src->default_path)
        add_rule(u, NULL, src->default_path, &oom);
    if (oom) {
        sub_free(u);
        return DAPR_ENOMEM;
    }
    for (size_t i = 0; i < u->n_rules; i++) {
        char err[256] = "";
        if (!u->rules[i].match)
            continue;
        u->rules[i].cel = dapr__cel_compile(u->rules[i].match, err, sizeof(err));
        if (!u->rules[i].cel) {
            dapr__log(&rt->log, DAPR_LOG_ERROR, SCOPE, "subscription %s (topic %s, pubsub %s) "
                      "skipped: routing rule \"%s\" does not compile: %s", label, src->topic,
                      src->pubsub, u->rules[i].match, err);
            sub_free(u);
            return 0;
        }
    }
    s->v[s->n++] = u;
    if (out)
        *out = u;
    dapr__log(&rt->log, DAPR_LOG_INFO, SCOPE, "subscription (%s) to topic %s on pubsub %s: %zu "
              "route(s)%s%s%s", u->type, u->topic, u->pubsub, u->n_rules,
              u->dead_letter ? ", dead letter topic " : "", u->dead_letter ? u->dead_letter : "",
              u->bulk ? ", bulk" : "");
    return 0;
}

int dapr__subs_create(dapr_runtime_t *rt, const dapr__resources_t *res, dapr__subs_t **out)
{
    dapr__subs_t *s = dapr__calloc(1, sizeof(*s));
    if (!s)
        return DAPR_ENOMEM;
    s->rt = rt;
    *out = s;
    for (size_t i = 0; i < res->n_subscriptions; i++) {
        const dapr__res_subscription_t *r = &res->subscriptions[i];
        if (!dapr__res_in_scope(r->scopes, r->n_scopes, rt->opt.app_id))
            continue;
        const char *match[64], *path[64];
        size_t n = r->n_rules < 64 ? r->n_rules : 64;
        for (size_t k = 0; k < n; k++) {
            match[k] = r->rules[k].match;
            path[k] = r->rules[k].path;
        }
        sub_src_t src = {.type = "DECLARATIVE", .name = r->name, .pubsub = r->pubsubname,
                         .topic = r->topic, .dead_letter = r->dead_letter,
                         .default_path = r->default_path,
                         .md_keys = (const char *const *)r->md_keys,
                         .md_vals = (const char *const *)r->md_vals, .n_md = r->n_md,
                         .match = match, .path = path, .n_rules = n};
        src.bulk = r->bulk_enabled;
        src.bulk_max_count = r->bulk_max_count;
        src.bulk_max_await_ms = r->bulk_max_await_ms;
        int rc = dapr__sub_add(s, &src, NULL);
        if (rc)
            return rc;
    }
    return 0;
}

/* ---------------------------------------------------------------------
 * Deliveries: lifetime
 * ------------------------------------------------------------------- */

void dapr__sub_maybe_free(delivery_t *d)
{
    if (!d->acked || d->op_running || d->att || d->dlq_pending)
        return;
    if (d->prev)
        d->prev->next = d->next;
    else
        d->s->live = d->next;
    if (d->next)
        d->next->prev = d->prev;
    for (size_t i = 0; i < d->n_md; i++) {
        dapr__free((char *)d->md[i].key);
        dapr__free((char *)d->md[i].value);
    }
    dapr__free(d->md);
    if (d->body != (char *)d->data)
        dapr__free(d->body);
    dapr__free(d->data);
    dapr__free(d->ct);
    dapr__free(d->fields);
    dapr__free(d->id);
    json_decref(d->ce);
    dapr__free(d);
}

void dapr__sub_answer(delivery_t *d, int status)
{
    if (!d->acked) {
        d->acked = true;
        d->ack(d->ack_ctx, status);
    }
    dapr__sub_maybe_free(d);
}

/* Republish the broker's bytes to the dead-letter topic, then ack. */
static void dlq_done(const dapr_error_t *err, void *data)
{
    delivery_t *d = data;
    d->dlq_pending = false;
    dapr_runtime_t *rt = d->s->rt;
    if (err)
        dapr__log(&rt->log, DAPR_LOG_ERROR, SCOPE, "failed to send event %s to dead letter "
                  "topic %s: %s", d->id, d->sub->dead_letter, err->message);
    else
        dapr__log(&rt->log, DAPR_LOG_INFO, SCOPE, "event %s sent to dead letter topic %s", d->id,
                  d->sub->dead_letter);
    dapr__sub_answer(d, err ? DAPR_EBACKEND : DAPR_OK);
}

/* Dead-letter when configured; else ack with `status`. */
void dapr__sub_give_up(delivery_t *d, int status)
{
    sub_t *u = d->sub;
    if (!u->dead_letter || d->s->stopped) {
        dapr__sub_answer(d, d->s->stopped ? DAPR_ECANCELED : status);
        return;
    }
    dapr_pubsub_msg_t m = {.topic = u->dead_letter, .data = d->data, .len = d->len,
                           .content_type = d->ct, .metadata = d->md, .n_metadata = d->n_md};
    d->dlq_pending = true;
    int rc = u->comp->ps_vt->publish(u->comp, &m, dlq_done, d);
    if (rc) {
        dapr_error_t e = {rc, dapr_strerror(rc)};
        dlq_done(&e, d);
    }
}

/* ---------------------------------------------------------------------
 * Sending one attempt to the app
 * ------------------------------------------------------------------- */

static size_t slot_limit(dapr__subs_t *s)
{
    dapr_runtime_t *rt = s->rt;
    if (!rt->appch || !dapr__appch_grpc_channel(rt->appch) || rt->opt.app_max_concurrency <= 0)
        return 0;
    return (size_t)rt->opt.app_max_concurrency;
}

static void slot_pump(dapr__subs_t *s)
{
    size_t lim = slot_limit(s);
    if (s->wq_pumping)
        return;
    s->wq_pumping = true;
    while (s->wq_head && (!lim || s->app_inflight < lim)) {
        dapr__sub_waiter_t *w = s->wq_head;
        s->wq_head = w->next;
        if (!s->wq_head)
            s->wq_tail = NULL;
        w->queued = false;
        w->holds = true;
        s->app_inflight++;
        w->start(w);
    }
    s->wq_pumping = false;
}

void dapr__sub_slot_take(dapr__subs_t *s, dapr__sub_waiter_t *w)
{
    size_t lim = slot_limit(s);
    w->next = NULL;
    if (!lim || (s->app_inflight < lim && !s->wq_head)) {
        w->holds = lim != 0;
        s->app_inflight += lim != 0;
        w->start(w);
        return;
    }
    w->queued = true;
    if (s->wq_tail)
        s->wq_tail->next = w;
    else
        s->wq_head = w;
    s->wq_tail = w;
}

void dapr__sub_slot_give(dapr__subs_t *s, dapr__sub_waiter_t *w)
{
    if (w->queued) {
        dapr__sub_waiter_t *prev = NULL;
        for (dapr__sub_waiter_t *x = s->wq_head; x; prev = x, x = x->next)
            if (x == w) {
                if (prev)
                    prev->next = w->next;
                else
                    s->wq_head = w->next;
                if (s->wq_tail == w)
                    s->wq_tail = prev;
                break;
            }
        w->queued = false;
        return;
    }
    if (w->holds) {
        w->holds = false;
        s->app_inflight--;
        slot_pump(s);
    }
}

static void attempt_end(attempt_t *a, int verdict, bool retry)
{
    delivery_t *d = a->d;
    bool abandoned = a->abandoned;
    dapr__sub_slot_give(d->s, &a->w);
    d->att = NULL;
    dapr__pool_destroy(&a->pool);
    dapr__free(a->msg);
    dapr__free(a);
    if (abandoned) {
        dapr__sub_maybe_free(d);
        return;
    }
    d->verdict = verdict;
    dapr__resil_attempt_done(d->op, retry ? DAPR_EBACKEND : 0, retry);
}

/* The "status" string of the app's JSON answer (case-insensitive field,
 * as Go decodes), or NULL. Small answers are read with the scanner; when
 * that is not conclusive (escapes, several candidates, long values) the
 * answer goes through jansson and *tree holds it. */
static const char *app_status(const dapr__invoke_resp_t *r, char sbuf[64], json_t **tree)
{
    const char *s = (const char *)r->body;
    dapr__jiter_t it;
    dapr__jspan_t k, v, found = {0};
    int n = 0, rc = 0;
    *tree = NULL;
    if (!r->body_len)
        return NULL;
    if (dapr__jiter_begin(&it, s, r->body_len, 0, true))
        goto slow; /* not an object: jansson says what it is */
    bool nul = false;
    while ((rc = dapr__jiter_next(&it, &k, &v)) == 1) {
        nul |= v.nul;
        if (k.esc)
            goto slow;
        if (k.n == 8 && dapr__strieq_n(k.p + 1, 6, "status")) {
            found = v;
            n++;
        }
    }
    size_t end = it.pos;
    int last = rc ? -1 : dapr__jscan_peek(s, r->body_len, &end);
    if (last == 0)
        goto slow; /* NUL bytes after it: jansson decides */
    if (rc == DAPR__JS_BAD || last > 0 || (rc == 0 && nul))
        return NULL; /* not JSON (for jansson without JSON_ALLOW_NUL): no status */
    if (rc || n > 1 || (n == 1 && found.type == DAPR__JT_STRING && found.n > 63))
        goto slow;
    if (!n || found.type != DAPR__JT_STRING)
        return NULL;
    dapr__jspan_unescape(&found, sbuf);
    return sbuf;
slow:;
    json_error_t je;
    *tree = json_loadb(s, r->body_len, 0, &je);
    json_t *st = *tree && json_is_object(*tree) ? dapr__json_get(*tree, "status") : NULL;
    return st && json_is_string(st) ? json_string_value(st) : NULL;
}

/* HTTP app: the answer's status and body (spec §3.4). */
static void http_done(const dapr__apierr_t *err, const dapr__invoke_resp_t *r, void *data)
{
    attempt_t *a = data;
    dapr_runtime_t *rt = a->d->s->rt;
    if (err) {
        if (!a->abandoned)
            dapr__log(&rt->log, DAPR_LOG_WARN, SCOPE, "error delivering event %s to the app: %s",
                      a->d->id, err->message);
        attempt_end(a, V_SUCCESS, true);
        return;
    }
    if (r->http_status == 404) {
        attempt_end(a, V_NOTFOUND, false);
        return;
    }
    if (r->http_status < 200 || r->http_status > 299) {
        dapr__log(&rt->log, DAPR_LOG_WARN, SCOPE, "retriable error returned from app while "
                  "processing pub/sub event %s, topic: %s, status code: %d", a->d->id,
                  a->d->sub->topic, r->http_status);
        attempt_end(a, V_SUCCESS, true);
        return;
    }
    char sbuf[64];
    json_t *j = NULL;
    const char *v = app_status(r, sbuf, &j);
    int verdict = V_SUCCESS;
    bool retry = false;
    if (v) {
        if (!*v || !strcasecmp(v, "SUCCESS"))
            verdict = V_SUCCESS;
        else if (!strcasecmp(v, "DROP"))
            verdict = V_DROP;
        else {
            if (strcasecmp(v, "RETRY"))
                dapr__log(&rt->log, DAPR_LOG_WARN, SCOPE, "unknown status \"%s\" returned "
                          "from app while processing pub/sub event %s: retrying", v, a->d->id);
            retry = true;
        }
    }
    json_decref(j);
    attempt_end(a, verdict, retry);
}

bool dapr__sub_header_ok(const char *k)
{
    if (!*k)
        return false;
    for (const char *p = k; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              strchr("-_.", *p)))
            return false;
    return true;
}

const char *dapr__sub_ce_str(const json_t *ce, const char *k)
{
    json_t *v = json_object_get(ce, k);
    return v && json_is_string(v) ? json_string_value(v) : NULL;
}

static void send_http(attempt_t *a)
{
    delivery_t *d = a->d;
    dapr_runtime_t *rt = d->s->rt;
    dapr_kv_t *h = dapr__pool_alloc(&a->pool, (d->n_md + 4) * sizeof(*h));
    if (!h) {
        attempt_end(a, V_SUCCESS, true);
        return;
    }
    size_t n = 0;
    for (size_t i = 0; i < d->n_md; i++)
        if (dapr__sub_header_ok(d->md[i].key))
            h[n++] = d->md[i];
    h[n++] = (dapr_kv_t){"pubsubname", d->sub->pubsub};
    const char *tp = d->traceparent, *ts = d->tracestate;
    if (tp && *tp)
        h[n++] = (dapr_kv_t){"traceparent", tp};
    if (ts && *ts)
        h[n++] = (dapr_kv_t){"tracestate", ts};
    const char *path = d->path;
    while (*path == '/')
        path++;
    dapr__invoke_req_t req = {.app_id = rt->opt.app_id, .method = path, .verb = "POST",
                              .content_type = "application/cloudevents+json", .headers = h,
                              .n_headers = n, .body = (const uint8_t *)d->body,
                              .body_len = d->body_len};
    dapr__appch_invoke(rt->appch, &a->pool, &req, rt->opt.app_id, http_done, a);
}

/* gRPC app: AppCallback/OnTopicEvent. */
static void g_message(dapr__grpc_ccall_t *cc, const uint8_t *msg, size_t len, void *ud)
{
    attempt_t *a = ud;
    (void)cc;
    dapr__grpc_keep_first(&a->msg, &a->msg_len, msg, len);
}

static void g_close(dapr__grpc_ccall_t *cc, int status, const char *message,
                    const dapr__grpc_md_t *trailers, size_t n, void *ud)
{
    attempt_t *a = ud;
    dapr_runtime_t *rt = a->d->s->rt;
    (void)cc, (void)trailers, (void)n;
    a->cc = NULL;
    if (status == DAPR_GRPC_UNIMPLEMENTED) {
        attempt_end(a, V_NOTFOUND, false);
        return;
    }
    if (status) {
        if (!a->abandoned)
            dapr__log(&rt->log, DAPR_LOG_WARN, SCOPE, "error from app while processing pub/sub "
                      "event %s: code %d: %s", a->d->id, status, message ? message : "");
        attempt_end(a, V_SUCCESS, true);
        return;
    }
    Dapr__Proto__Runtime__V1__TopicEventResponse *r =
        a->msg ? dapr__proto__runtime__v1__topic_event_response__unpack(NULL, a->msg_len, a->msg)
               : NULL;
    int st = r ? (int)r->status : 0;
    if (r)
        dapr__proto__runtime__v1__topic_event_response__free_unpacked(r, NULL);
    switch (st) {
    case DAPR__PROTO__RUNTIME__V1__TOPIC_EVENT_RESPONSE__TOPIC_EVENT_RESPONSE_STATUS__SUCCESS:
        attempt_end(a, V_SUCCESS, false);
        break;
    case DAPR__PROTO__RUNTIME__V1__TOPIC_EVENT_RESPONSE__TOPIC_EVENT_RESPONSE_STATUS__DROP:
        attempt_end(a, V_DROP, false);
        break;
    default:
        attempt_end(a, V_SUCCESS, true);
    }
}

static void g_headers(dapr__grpc_ccall_t *cc, const dapr__grpc_md_t *md, size_t n, void *ud) {}

static const dapr__grpc_ccall_cbs_t topic_cbs = {
    .on_headers = g_headers, .on_message = g_message, .on_close = g_close};

/* The event's data as bytes (grpc §5.5): data_base64 decoded, a string as
 * is, other JSON re-marshalled. */
int dapr__sub_event_data(dapr__pool_t *pool, const json_t *ce, ProtobufCBinaryData *out)
{
    const char *b64 = dapr__sub_ce_str(ce, "data_base64");
    json_t *dj = json_object_get(ce, "data");
    out->data = NULL;
    out->len = 0;
    if (b64) {
        size_t n = strlen(b64);
        uint8_t *buf = dapr__pool_alloc(pool, 3 * ((n + 3) / 4) + 1);
        long l = buf ? dapr__b64_decode(b64, n, buf) : -1;
        if (l < 0)
            return -1;
        out->data = buf;
        out->len = (size_t)l;
        return 0;
    }
    if (!dj || json_is_null(dj))
        return 0;
    if (json_is_string(dj)) {
        out->data = (uint8_t *)json_string_value(dj);
        out->len = json_string_length(dj);
        return 0;
    }
    dapr__buf_t b = DAPR__BUF_INIT;
    if (dapr__json_go_encode(dj, &b) || b.oom) {
        dapr__buf_free(&b);
        return -1;
    }
    out->data = dapr__pool_alloc(pool, b.len + 1);
    if (out->data)
        memcpy(out->data, b.data, b.len);
    out->len = b.len;
    dapr__buf_free(&b);
    return out->data ? 0 : -1;
}

int dapr__sub_topic_event(dapr__pool_t *pool, delivery_t *d,
                          Dapr__Proto__Runtime__V1__TopicEventRequest *out)
{
    const json_t *ce = d->ce;
    Dapr__Proto__Runtime__V1__TopicEventRequest q = DAPR__PROTO__RUNTIME__V1__TOPIC_EVENT_REQUEST__INIT;
#define S(f, k)                                                                                \
    do {                                                                                       \
        const char *v_ = dapr__sub_ce_str(ce, k);                                                        \
        if (v_)                                                                                \
            q.f = (char *)v_;                                                                  \
    } while (0)
    S(id, "id");
    S(source, "source");
    S(type, "type");
    S(spec_version, "specversion");
    S(data_content_type, "datacontenttype");
#undef S
    q.topic = d->sub->topic;
    q.pubsub_name = d->sub->pubsub;
    q.path = (char *)(d->path ? d->path : "");
    int rc = dapr__sub_event_data(pool, ce, &q.data);
    *out = q;
    return rc;
}

static void send_grpc(attempt_t *a, dapr__grpc_channel_t *ch)
{
    delivery_t *d = a->d;
    Dapr__Proto__Runtime__V1__TopicEventRequest q;
    if (dapr__sub_topic_event(&a->pool, d, &q)) {
        attempt_end(a, V_SUCCESS, true);
        return;
    }
    size_t len = dapr__proto__runtime__v1__topic_event_request__get_packed_size(&q);
    uint8_t *buf = dapr__pool_alloc(&a->pool, len ? len : 1);
    dapr__grpc_md_t *md = dapr__pool_alloc(&a->pool, (d->n_md + 1) * sizeof(*md));
    if (!buf || !md) {
        attempt_end(a, V_SUCCESS, true);
        return;
    }
    dapr__proto__runtime__v1__topic_event_request__pack(&q, buf);
    size_t n = 0;
    for (size_t i = 0; i < d->n_md; i++) {
        char *k = dapr__pool_strdup(&a->pool, d->md[i].key);
        if (!k || !dapr__sub_header_ok(k) || !strcasecmp(k, "content-type") ||
            !strcasecmp(k, "content-length"))
            continue;
        for (char *p = k; *p; p++)
            if (*p >= 'A' && *p <= 'Z')
                *p = (char)(*p - 'A' + 'a');
        md[n++] = (dapr__grpc_md_t){k, (const uint8_t *)d->md[i].value, strlen(d->md[i].value)};
    }
    const char *tok = getenv("APP_API_TOKEN");
    if (tok && *tok)
        md[n++] = (dapr__grpc_md_t){"dapr-api-token", (const uint8_t *)tok, strlen(tok)};
    int rc = dapr__grpc_call_start(ch, CB_PREFIX "OnTopicEvent", md, n, 0, &topic_cbs, a, &a->cc);
    if (rc) {
        a->cc = NULL;
        attempt_end(a, V_SUCCESS, true);
        return;
    }
    dapr__grpc_ccall_send(a->cc, buf, len);
    dapr__grpc_ccall_half_close(a->cc);
}

static void attempt_go(dapr__sub_waiter_t *w)
{
    attempt_t *a = (attempt_t *)w;
    dapr_runtime_t *rt = a->d->s->rt;
    dapr__grpc_channel_t *ch = rt->appch ? dapr__appch_grpc_channel(rt->appch) : NULL;
    if (!rt->appch || a->d->s->stopped)
        attempt_end(a, V_SUCCESS, true);
    else if (ch)
        send_grpc(a, ch);
    else
        send_http(a);
}

static void attempt_fn(dapr__resil_op_t *op, void *ud)
{
    delivery_t *d = ud;
    dapr_runtime_t *rt = d->s->rt;
    if (d->s->stopped || !rt->appch) {
        dapr__resil_attempt_done(op, DAPR_ECANCELED, false);
        return;
    }
    attempt_t *a = dapr__calloc(1, sizeof(*a));
    if (!a) {
        dapr__resil_attempt_done(op, DAPR_ENOMEM, true);
        return;
    }
    a->d = d;
    dapr__pool_init(&a->pool, 1024);
    d->att = a;
    a->w.start = attempt_go;
    dapr__sub_slot_take(d->s, &a->w);
}

static void cancel_fn(dapr__resil_op_t *op, int reason, void *ud)
{
    delivery_t *d = ud;
    (void)op, (void)reason;
    if (!d->att)
        return;
    d->att->abandoned = true;
    if (d->att->w.queued) {
        attempt_end(d->att, V_SUCCESS, true); /* never started */
        return;
    }
    if (d->att->cc)
        dapr__grpc_ccall_cancel(d->att->cc); /* its on_close frees the attempt */
}

static void op_done(int status, unsigned attempts, void *ud)
{
    delivery_t *d = ud;
    dapr_runtime_t *rt = d->s->rt;
    d->op = NULL;
    d->op_running = false;
    if (status) {
        if (!d->s->stopped)
            dapr__log(&rt->log, DAPR_LOG_ERROR, SCOPE, "delivery of event %s (topic %s, pubsub "
                      "%s) failed after %u attempt(s): %s", d->id, d->sub->topic,
                      d->sub->pubsub, attempts, dapr__resil_strerror(status));
        dapr__sub_give_up(d, DAPR_EBACKEND);
        return;
    }
    switch (d->verdict) {
    case V_DROP:
        dapr__log(&rt->log, DAPR_LOG_WARN, SCOPE, "DROP status returned from app while "
                  "processing pub/sub event %s", d->id);
        dapr__sub_give_up(d, DAPR_OK);
        break;
    case V_NOTFOUND:
        dapr__log(&rt->log, DAPR_LOG_ERROR, SCOPE, "non-retriable error returned from app while "
                  "processing pub/sub event %s: the app has no handler for %s (dropped)", d->id,
                  d->path);
        dapr__sub_answer(d, DAPR_OK);
        break;
    default:
        dapr__sub_answer(d, DAPR_OK);
    }
}

/* ---------------------------------------------------------------------
 * A message from the broker
 * ------------------------------------------------------------------- */

static int copy_msg(delivery_t *d, const dapr_pubsub_msg_t *m)
{
    d->data = dapr__malloc(m->len ? m->len : 1);
    d->len = m->len;
    d->ct = m->content_type ? dapr__strdup(m->content_type) : NULL;
    d->md = dapr__calloc(m->n_metadata ? m->n_metadata : 1, sizeof(*d->md));
    if (!d->data || !d->md || (m->content_type && !d->ct))
        return DAPR_ENOMEM;
    if (m->len)
        memcpy(d->data, m->data, m->len);
    for (size_t i = 0; i < m->n_metadata; i++) {
        d->md[i].key = dapr__strdup(m->metadata[i].key);
        d->md[i].value = dapr__strdup(m->metadata[i].value ? m->metadata[i].value : "");
        d->n_md = i + 1;
        if (!d->md[i].key || !d->md[i].value)
            return DAPR_ENOMEM;
    }
    return 0;
}

bool dapr__sub_need_tree(const sub_t *u)
{
    dapr_runtime_t *rt = u->s->rt;
    if (u->raw || u->bulk || u->stream || (rt->appch && dapr__appch_grpc_channel(rt->appch)))
        return true;
    for (size_t i = 0; i < u->n_rules; i++)
        if (u->rules[i].cel)
            return true;
    return false;
}

/* The event's top-level fields the router reads, without a tree: the last
 * occurrence of each wins, as in jansson. DAPR_EPARSE when the bytes are
 * not a JSON object; DAPR__JS_UNSURE: ask jansson. */
enum { F_ID, F_TP, F_TS, F_EXP, F_N };
static int scan_event(delivery_t *d, const char **id)
{
    static const char *const names[F_N] = {"id", "traceparent", "tracestate", "expiration"};
    const char *s = (const char *)d->data;
    dapr__jiter_t it;
    dapr__jspan_t k, v, f[F_N];
    bool have[F_N] = {0};
    char kb[16];
    int rc;
    if (!d->len)
        return DAPR_EPARSE;
    if ((rc = dapr__jiter_begin(&it, s, d->len, 0, true)))
        return rc == DAPR__JS_UNSURE ? rc : DAPR_EPARSE;
    while ((rc = dapr__jiter_next(&it, &k, &v)) == 1) {
        if (k.n > sizeof(kb))
            continue; /* longer than any name we want */
        dapr__jspan_unescape(&k, kb);
        for (int i = 0; i < F_N; i++)
            if (!strcmp(kb, names[i])) {
                have[i] = v.type == DAPR__JT_STRING;
                f[i] = v;
            }
    }
    size_t end = it.pos;
    int last = rc ? -1 : dapr__jscan_peek(s, d->len, &end);
    if (rc == DAPR__JS_UNSURE || last == 0)
        return DAPR__JS_UNSURE; /* NUL bytes after it: jansson decides */
    if (rc || last > 0)
        return DAPR_EPARSE;
    size_t total = 0;
    for (int i = 0; i < F_N; i++)
        total += have[i] ? f[i].n : 0;
    if (total && !(d->fields = dapr__malloc(total)))
        return DAPR_ENOMEM;
    const char *out[F_N] = {0};
    char *w = d->fields;
    for (int i = 0; i < F_N; i++)
        if (have[i]) {
            out[i] = w;
            w += dapr__jspan_unescape(&f[i], w) + 1;
        }
    *id = out[F_ID];
    d->traceparent = out[F_TP];
    d->tracestate = out[F_TS];
    d->expiration = out[F_EXP];
    return 0;
}

/* The event the app sees: the CloudEvent as published (its bytes as they
 * are), or (raw subscriptions) one built around the bytes (spec §3.4).
 * *id: the event's id, borrowed. */
static int build_event(delivery_t *d, const char **id)
{
    sub_t *u = d->sub;
    *id = NULL;
    if (!u->raw) {
        d->body = (char *)d->data;
        d->body_len = d->len;
        int rc = dapr__sub_need_tree(u) ? DAPR__JS_UNSURE : scan_event(d, id);
        if (rc != DAPR__JS_UNSURE)
            return rc;
        json_error_t je;
        d->ce = d->len ? json_loadb((const char *)d->data, d->len, JSON_ALLOW_NUL, &je) : NULL;
        if (!d->ce || !json_is_object(d->ce))
            return DAPR_EPARSE;
        *id = dapr__sub_ce_str(d->ce, "id");
        d->traceparent = dapr__sub_ce_str(d->ce, "traceparent");
        d->tracestate = dapr__sub_ce_str(d->ce, "tracestate");
        d->expiration = dapr__sub_ce_str(d->ce, "expiration");
        return 0;
    }
    char uuid[37];
    dapr__uuid4(uuid);
    json_t *ce = json_object();
    dapr__buf_t b64 = DAPR__BUF_INIT;
    dapr__b64_encode(&b64, d->data, d->len);
    dapr__buf_cstr(&b64);
    if (!ce || b64.oom) {
        json_decref(ce);
        dapr__buf_free(&b64);
        return DAPR_ENOMEM;
    }
    json_object_set_new(ce, "id", json_string(uuid));
    json_object_set_new(ce, "specversion", json_string("1.0"));
    json_object_set_new(ce, "datacontenttype", json_string("application/octet-stream"));
    json_object_set_new(ce, "source", json_string("Dapr"));
    json_object_set_new(ce, "type", json_string("com.dapr.event.sent"));
    json_object_set_new(ce, "topic", json_string(u->topic));
    json_object_set_new(ce, "pubsubname", json_string(u->pubsub));
    json_object_set_new(ce, "data_base64", json_string(b64.data ? b64.data : ""));
    dapr__buf_free(&b64);
    d->ce = ce;
    dapr__buf_t b = DAPR__BUF_INIT;
    if (dapr__json_go_encode(ce, &b) || b.oom) {
        dapr__buf_free(&b);
        return DAPR_ENOMEM;
    }
    d->body = dapr__buf_steal(&b, &d->body_len);
    *id = dapr__sub_ce_str(ce, "id");
    return d->body ? 0 : DAPR_ENOMEM;
}

/* The first rule that matches, or NULL. */
static const char *route(delivery_t *d)
{
    sub_t *u = d->sub;
    json_t *vars = NULL;
    const char *path = NULL;
    for (size_t i = 0; i < u->n_rules && !path; i++) {
        if (!u->rules[i].cel) {
            path = u->rules[i].path;
            break;
        }
        /* rules with CEL imply the tree (dapr__sub_need_tree) */
        if (!vars && !(vars = d->ce ? json_pack("{sO}", "event", d->ce) : NULL))
            break;
        char err[256] = "";
        int r = dapr__cel_eval(u->rules[i].cel, vars, err, sizeof(err));
        if (r == 1)
            path = u->rules[i].path;
        else if (r < 0)
            dapr__log(&d->s->rt->log, DAPR_LOG_DEBUG, SCOPE, "subscription %s: rule \"%s\" on "
                      "event %s: %s", u->name, u->rules[i].match, d->id, err);
    }
    json_decref(vars);
    return path;
}

static void on_message(const dapr_pubsub_msg_t *m, dapr_pubsub_ack_fn ack, void *ack_ctx,
                       void *hdata)
{
    sub_t *u = hdata;
    dapr__subs_t *s = u->s;
    dapr_runtime_t *rt = s->rt;
    if (s->stopped) {
        ack(ack_ctx, DAPR_ECANCELED);
        return;
    }
    if (!rt->app_healthy) {
        ack(ack_ctx, DAPR_EUNAVAIL); /* the broker keeps it until the app is back */
        return;
    }
    delivery_t *d = dapr__calloc(1, sizeof(*d));
    if (!d) {
        ack(ack_ctx, DAPR_ENOMEM);
        return;
    }
    *d = (delivery_t){.s = s, .sub = u, .ack = ack, .ack_ctx = ack_ctx, .next = s->live};
    if (s->live)
        s->live->prev = d;
    s->live = d;
    const char *id = NULL;
    int rc = copy_msg(d, m);
    if (!rc)
        rc = build_event(d, &id);
    d->id = dapr__strdup(id ? id : "(no id)");
    if (!d->id) {
        dapr__sub_answer(d, DAPR_ENOMEM);
        return;
    }
    if (rc == DAPR_EPARSE) {
        dapr__log(&rt->log, DAPR_LOG_ERROR, SCOPE, "subscription %s: the message on topic %s is "
                  "not a CloudEvent JSON object (a raw payload needs metadata rawPayload=true)",
                  u->name, u->topic);
        dapr__sub_give_up(d, DAPR_EPARSE);
        return;
    }
    if (rc || !d->id) {
        dapr__sub_answer(d, DAPR_ENOMEM);
        return;
    }
    const char *exp = d->expiration;
    if (exp) {
        int64_t t = dapr__pubsub_parse_time(exp);
        if (t >= 0 && t * 1000000000LL < dapr__now_unix_ns()) {
            dapr__log(&rt->log, DAPR_LOG_WARN, SCOPE, "dropping expired pub/sub event %s as of "
                      "%s", d->id, exp);
            dapr__sub_give_up(d, DAPR_OK);
            return;
        }
    }
    if (u->stream) {
        dapr__sub_stream_deliver(d);
        return;
    }
    d->path = route(d);
    if (!d->path) {
        dapr__log(&rt->log, DAPR_LOG_DEBUG, SCOPE, "no routing rule of subscription %s matches "
                  "event %s: dropped", u->name, d->id);
        dapr__sub_give_up(d, DAPR_OK);
        return;
    }
    if (u->bulk) {
        dapr__sub_bulk_add(d);
        return;
    }
    dapr__resil_policy_t *p =
        dapr__resil_policy_for_component(rt->resil, u->pubsub, u->comp->type, DAPR__RESIL_INBOUND);
    d->op_running = true;
    if (dapr__resil_run(rt->loop, p, attempt_fn, cancel_fn, op_done, d, &d->op)) {
        d->op_running = false;
        dapr__sub_answer(d, DAPR_ENOMEM);
    }
}

/* ---------------------------------------------------------------------
 * Subscribing
 * ------------------------------------------------------------------- */

int dapr__sub_subscribe(sub_t *u)
{
    dapr_runtime_t *rt = u->s->rt;
    dapr_component_t *c = NULL;
    if (u->subscribed || u->gone)
        return 0;
    if (dapr__runtime_pubsub(rt, u->pubsub, &c)) {
        dapr__log(&rt->log, DAPR_LOG_WARN, SCOPE, "subscription %s: pubsub %s is not found; "
                  "topic %s is not subscribed", u->name, u->pubsub, u->topic);
        return DAPR_ENOTFOUND;
    }
    if (!dapr__pubsub_topic_allowed(c, rt->opt.app_id, u->topic, false)) {
        dapr__log(&rt->log, DAPR_LOG_WARN, SCOPE, "subscription %s: topic %s of pubsub %s is not "
                  "allowed for app id %s (allowedTopics/subscriptionScopes)", u->name, u->topic,
                  u->pubsub, rt->opt.app_id);
        u->gone = true; /* as Dapr: filtered out, not listed */
        return DAPR_EDENIED;
    }
    dapr_pubsub_sub_req_t req = {.topic = u->topic, .metadata = u->md, .n_metadata = u->n_md};
    u->comp = c;
    int rc = c->ps_vt->subscribe(c, &req, on_message, u, &u->sub_id);
    if (rc) {
        dapr__log(&rt->log, DAPR_LOG_ERROR, SCOPE, "subscription %s: subscribing to topic %s "
                  "of pubsub %s failed: %s", u->name, u->topic, u->pubsub, dapr_strerror(rc));
        return rc;
    }
    u->subscribed = true;
    dapr__log(&rt->log, DAPR_LOG_INFO, SCOPE, "subscribed to topic %s on pubsub %s", u->topic,
              u->pubsub);
    return 0;
}

static void subscribe_all(dapr__subs_t *s)
{
    for (size_t i = 0; i < s->n && !s->stopped; i++)
        dapr__sub_subscribe(s->v[i]);
}

/* One item of GET /dapr/subscribe (v1 and v2 shapes). */
static int add_json_item(dapr__subs_t *s, const json_t *it)
{
    if (!json_is_object(it))
        return 0;
#define JS(o, k) (json_is_string(dapr__json_get((o), (k))) ? json_string_value(dapr__json_get((o), (k))) : NULL)
    const json_t *routes = dapr__json_get(it, "routes");
    const json_t *rules = routes ? dapr__json_get(routes, "rules") : NULL;
    const json_t *md = dapr__json_get(it, "metadata");
    const char *match[64], *path[64], *mk[64], *mv[64];
    size_t nr = 0, nm = 0;
    for (size_t i = 0; json_is_array(rules) && i < json_array_size(rules) && nr < 64; i++) {
        const json_t *r = json_array_get(rules, i);
        const char *p = json_is_object(r) ? JS(r, "path") : NULL;
        if (!p || !*p)
            continue;
        match[nr] = JS(r, "match");
        path[nr++] = p;
    }
    const char *k;
    json_t *v;
    if (json_is_object(md))
        json_object_foreach((json_t *)md, k, v)
        {
            if (nm < 64 && json_is_string(v)) {
                mk[nm] = k;
                mv[nm++] = json_string_value(v);
            }
        }
    const char *def = routes ? JS(routes, "default") : NULL;
    if (!def || !*def)
        def = JS(it, "route");
    const json_t *bulk = dapr__json_get(it, "bulkSubscribe");
    json_t *bc = json_is_object(bulk) ? dapr__json_get(bulk, "maxMessagesCount") : NULL;
    json_t *ba = json_is_object(bulk) ? dapr__json_get(bulk, "maxAwaitDurationMs") : NULL;
    sub_src_t src = {.type = "PROGRAMMATIC", .pubsub = JS(it, "pubsubname"),
                     .topic = JS(it, "topic"), .dead_letter = JS(it, "deadLetterTopic"),
                     .default_path = def, .md_keys = mk, .md_vals = mv, .n_md = nm,
                     .match = match, .path = path, .n_rules = nr,
                     .bulk = json_is_object(bulk) && json_is_true(dapr__json_get(bulk, "enabled")),
                     .bulk_max_count = json_is_integer(bc) ? json_integer_value(bc) : 0,
                     .bulk_max_await_ms = json_is_integer(ba) ? json_integer_value(ba) : 0};
#undef JS
    return dapr__sub_add(s, &src, NULL);
}

typedef struct read_ctx {
    dapr__subs_t *s;
    dapr__pool_t pool;
    uint8_t *msg;
    size_t msg_len;
} read_ctx_t;

static void http_subs_done(const dapr__apierr_t *err, const dapr__invoke_resp_t *r, void *data)
{
    read_ctx_t *c = data;
    dapr__subs_t *s = c->s;
    dapr_runtime_t *rt = s->rt;
    if (s->stopped) {
        /* nothing to do */
    } else if (err) {
        dapr__log(&rt->log, DAPR_LOG_WARN, SCOPE, "error reading the app's subscriptions: %s",
                  err->message);
    } else if (r->http_status == 200 && r->body_len) {
        json_error_t je;
        json_t *j = json_loadb((const char *)r->body, r->body_len, 0, &je);
        if (!json_is_array(j))
            dapr__log(&rt->log, DAPR_LOG_WARN, SCOPE, "the app's GET /dapr/subscribe answer is "
                      "not a JSON array: %s", j ? "ignored" : je.text);
        for (size_t i = 0; json_is_array(j) && i < json_array_size(j); i++)
            if (add_json_item(s, json_array_get(j, i)))
                break;
        json_decref(j);
    } else if (r->http_status != 200 && r->http_status != 404) {
        dapr__log(&rt->log, DAPR_LOG_WARN, SCOPE, "the app answered GET /dapr/subscribe with %d",
                  r->http_status);
    }
    if (!s->stopped)
        subscribe_all(s);
    dapr__pool_destroy(&c->pool);
    dapr__free(c);
}

static void list_message(dapr__grpc_ccall_t *cc, const uint8_t *msg, size_t len, void *ud)
{
    read_ctx_t *c = ud;
    (void)cc;
    dapr__grpc_keep_first(&c->msg, &c->msg_len, msg, len);
}

static void add_pb_item(dapr__subs_t *s, const Dapr__Proto__Runtime__V1__TopicSubscription *t)
{
    const char *match[64], *path[64], *mk[64], *mv[64];
    size_t nr = 0, nm = 0;
    const Dapr__Proto__Runtime__V1__TopicRoutes *r = t->routes;
    for (size_t i = 0; r && i < r->n_rules && nr < 64; i++) {
        if (!r->rules[i]->path || !*r->rules[i]->path)
            continue;
        match[nr] = r->rules[i]->match;
        path[nr++] = r->rules[i]->path;
    }
    for (size_t i = 0; i < t->n_metadata && nm < 64; i++) {
        mk[nm] = t->metadata[i]->key;
        mv[nm++] = t->metadata[i]->value;
    }
    sub_src_t src = {.type = "PROGRAMMATIC", .pubsub = t->pubsub_name, .topic = t->topic,
                     .dead_letter = t->dead_letter_topic,
                     .default_path = r ? r->default_ : NULL, .md_keys = mk, .md_vals = mv,
                     .n_md = nm, .match = match, .path = path, .n_rules = nr};
    if (t->bulk_subscribe) {
        src.bulk = t->bulk_subscribe->enabled;
        src.bulk_max_count = t->bulk_subscribe->max_messages_count;
        src.bulk_max_await_ms = t->bulk_subscribe->max_await_duration_ms;
    }
    dapr__sub_add(s, &src, NULL);
}

static void list_close(dapr__grpc_ccall_t *cc, int status, const char *message,
                       const dapr__grpc_md_t *trailers, size_t n, void *ud)
{
    read_ctx_t *c = ud;
    dapr__subs_t *s = c->s;
    (void)cc, (void)trailers, (void)n;
    if (!s->stopped && status == 0 && c->msg) {
        Dapr__Proto__Runtime__V1__ListTopicSubscriptionsResponse *r =
            dapr__proto__runtime__v1__list_topic_subscriptions_response__unpack(NULL, c->msg_len,
                                                                               c->msg);
        for (size_t i = 0; r && i < r->n_subscriptions; i++)
            add_pb_item(s, r->subscriptions[i]);
        if (r)
            dapr__proto__runtime__v1__list_topic_subscriptions_response__free_unpacked(r, NULL);
    } else if (!s->stopped && status && status != DAPR_GRPC_UNIMPLEMENTED) {
        dapr__log(&s->rt->log, DAPR_LOG_WARN, SCOPE, "error reading the app's subscriptions "
                  "(ListTopicSubscriptions): code %d: %s", status, message ? message : "");
    }
    if (!s->stopped)
        subscribe_all(s);
    dapr__free(c->msg);
    dapr__free(c);
}

static const dapr__grpc_ccall_cbs_t list_cbs = {
    .on_headers = g_headers, .on_message = list_message, .on_close = list_close};

void dapr__subs_app_ready(dapr__subs_t *s)
{
    if (!s || s->ready_called || s->stopped)
        return;
    s->ready_called = true;
    dapr_runtime_t *rt = s->rt;
    /* as Dapr: without a pub/sub component the app is not asked */
    if (!rt->appch || !rt->n_pubsubs)
        return;
    read_ctx_t *c = dapr__calloc(1, sizeof(*c));
    if (!c) {
        subscribe_all(s);
        return;
    }
    c->s = s;
    dapr__grpc_channel_t *ch = dapr__appch_grpc_channel(rt->appch);
    if (ch) {
        const char *tok = getenv("APP_API_TOKEN");
        dapr__grpc_md_t md = {"dapr-api-token", (const uint8_t *)(tok ? tok : ""),
                              tok ? strlen(tok) : 0};
        dapr__grpc_ccall_t *cc = NULL;
        if (dapr__grpc_call_start(ch, CB_PREFIX "ListTopicSubscriptions", &md,
                                  tok && *tok ? 1 : 0, 0, &list_cbs, c, &cc)) {
            dapr__free(c);
            subscribe_all(s);
            return;
        }
        dapr__grpc_ccall_send(cc, "", 0);
        dapr__grpc_ccall_half_close(cc);
        return;
    }
    dapr__pool_init(&c->pool, 1024);
    dapr__invoke_req_t req = {.app_id = rt->opt.app_id, .method = "dapr/subscribe",
                              .verb = "GET", .content_type = "application/json"};
    dapr__appch_invoke(rt->appch, &c->pool, &req, rt->opt.app_id, http_subs_done, c);
}

/* ---------------------------------------------------------------------
 * Stop, free, list
 * ------------------------------------------------------------------- */

void dapr__subs_stop(dapr__subs_t *s)
{
    if (!s || s->stopped)
        return;
    s->stopped = true;
    for (delivery_t *d = s->live, *nx; d; d = nx) {
        nx = d->next;
        if (!d->acked) {
            d->acked = true;
            d->ack(d->ack_ctx, DAPR_ECANCELED);
        }
    }
    /* cancel pending retries; attempts still with the app end later */
    for (delivery_t *d = s->live, *nx; d; d = nx) {
        nx = d->next;
        if (d->op)
            dapr__resil_cancel(d->op); /* may free d */
        else
            dapr__sub_maybe_free(d);
    }
    dapr__sub_bulk_stop(s);
    for (size_t i = 0; i < s->n; i++) {
        sub_t *u = s->v[i];
        if (u->subscribed && u->comp && u->comp->initialised && !u->comp->closing)
            u->comp->ps_vt->unsubscribe(u->comp, u->sub_id);
        u->subscribed = false;
    }
}

void dapr__subs_free(dapr__subs_t *s)
{
    if (!s)
        return;
    dapr__subs_stop(s);
    for (size_t i = 0; i < s->n; i++)
        if (s->v[i]->stream) /* normally closed by the gRPC server already */
            dapr__subs_stream_close(s->v[i]->stream);
    /* the app channel is closed: nothing is left to answer */
    while (s->live) {
        delivery_t *d = s->live;
        d->acked = true;
        d->op_running = false;
        d->dlq_pending = false;
        if (d->att) {
            d->att->d = NULL;
            d->att = NULL;
        }
        dapr__sub_maybe_free(d);
    }
    for (size_t i = 0; i < s->n; i++)
        sub_free(s->v[i]);
    dapr__free(s->v);
    dapr__free(s);
}

size_t dapr__subs_list(dapr__subs_t *s, dapr__pool_t *pool, dapr__sub_info_t **out)
{
    *out = NULL;
    if (!s || !s->n)
        return 0;
    dapr__sub_info_t *v = dapr__pool_calloc(pool, s->n * sizeof(*v));
    if (!v)
        return 0;
    size_t k0 = 0;
    for (size_t i = 0; i < s->n; i++) {
        sub_t *u = s->v[i];
        if (u->gone)
            continue;
        const char **m = dapr__pool_alloc(pool, (u->n_rules + 1) * sizeof(char *));
        const char **p = dapr__pool_alloc(pool, (u->n_rules + 1) * sizeof(char *));
        if (!m || !p)
            return 0;
        for (size_t k = 0; k < u->n_rules; k++) {
            m[k] = u->rules[k].match;
            p[k] = u->rules[k].path;
        }
        v[k0++] = (dapr__sub_info_t){u->pubsub, u->topic, u->md, u->n_md, m, p, u->n_rules,
                                     u->dead_letter ? u->dead_letter : "", u->type};
    }
    *out = v;
    return k0;
}
