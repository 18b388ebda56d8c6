/* Bulk subscribe (spec §3.4 "Bulk subscribe delivery", grpc §5.5): routed
 * messages of a subscription with bulkSubscribe.enabled are gathered per
 * path, up to maxMessagesCount or for maxAwaitDurationMs, and sent in one
 * call: HTTP POST <path> (application/json bulk envelope), gRPC
 * AppCallbackAlpha/OnBulkTopicEventAlpha1. Each entry is answered on its
 * own status: SUCCESS acks, DROP acks (dead letter when configured),
 * RETRY / missing / unknown stays for the next attempt of the resiliency
 * policy; what is still pending when the policy gives up is dead-lettered
 * or nacked, entry by entry. HTTP 404 / gRPC UNIMPLEMENTED drop them all. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/pubsub.h"
#include "app_channel.h"
#include "core/alloc.h"
#include "core/json.h"
#include "core/strutil.h"
#include "dapr/proto/runtime/v1/pubsub.pb-c.h"
#include "runtime_int.h"
#include "subscriptions_int.h"

#define ALPHA_BULK "/dapr.proto.runtime.v1.AppCallbackAlpha/OnBulkTopicEventAlpha1"

enum { E_PENDING = 0, E_DONE };

typedef struct dapr__bulk bulk_t;

typedef struct battempt {
    dapr__sub_waiter_t w; /* first */
    bulk_t *b;
    dapr__pool_t pool;
    bool abandoned;
    dapr__grpc_ccall_t *cc;
    uint8_t *msg;
    size_t msg_len;
} battempt_t;

struct dapr__bulk {
    bulk_t *prev, *next; /* in s->batches once sent */
    dapr__subs_t *s;
    sub_t *sub;
    const char *path;
    delivery_t **v;
    uint8_t *state; /* E_* per entry */
    size_t n, cap;
    dapr__resil_op_t *op;
    bool op_running;
    battempt_t *att;
};

static void bulk_free_if_done(bulk_t *b)
{
    if (b->op_running || b->att)
        return;
    if (b->prev)
        b->prev->next = b->next;
    else if (b->s->batches == b)
        b->s->batches = b->next;
    if (b->next)
        b->next->prev = b->prev;
    dapr__free(b->v);
    dapr__free(b->state);
    dapr__free(b);
}

/* An entry leaves the batch: its own outcome from here on. */
static void entry_release(bulk_t *b, size_t i)
{
    b->state[i] = E_DONE;
    b->v[i]->op_running = false;
}

static void entry_success(bulk_t *b, size_t i)
{
    entry_release(b, i);
    dapr__sub_answer(b->v[i], DAPR_OK);
}

static void entry_drop(bulk_t *b, size_t i, bool not_found)
{
    delivery_t *d = b->v[i];
    entry_release(b, i);
    if (not_found) {
        dapr__sub_answer(d, DAPR_OK);
        return;
    }
    dapr__log(&b->s->rt->log, DAPR_LOG_WARN, SCOPE, "DROP status returned from app while "
              "processing pub/sub event %s (bulk)", d->id);
    dapr__sub_give_up(d, DAPR_OK);
}

/* ---- one attempt ----------------------------------------------------------- */

static void attempt_end(battempt_t *a, bool retry)
{
    bulk_t *b = a->b;
    bool abandoned = a->abandoned;
    dapr__sub_slot_give(b->s, &a->w);
    b->att = NULL;
    dapr__pool_destroy(&a->pool);
    dapr__free(a->msg);
    dapr__free(a);
    if (abandoned) {
        bulk_free_if_done(b);
        return;
    }
    dapr__resil_attempt_done(b->op, retry ? DAPR_EBACKEND : 0, retry);
}

/* Apply one entry's status; returns whether it is still pending. */
static bool apply(bulk_t *b, size_t i, const char *status, int pb_status)
{
    if (status) {
        if (!strcasecmp(status, "SUCCESS"))
            pb_status = 0;
        else if (!strcasecmp(status, "DROP"))
            pb_status = 2;
        else
            pb_status = 1;
    }
    if (pb_status == 0)
        entry_success(b, i);
    else if (pb_status == 2)
        entry_drop(b, i, false);
    return pb_status != 0 && pb_status != 2;
}

static bool all_drop(bulk_t *b)
{
    dapr__log(&b->s->rt->log, DAPR_LOG_ERROR, SCOPE, "non-retriable error returned from app "
              "while processing bulk pub/sub event: no handler for %s (dropped)", b->path);
    for (size_t i = 0; i < b->n; i++)
        if (b->state[i] == E_PENDING)
            entry_drop(b, i, true);
    return false;
}

static void http_done(const dapr__apierr_t *err, const dapr__invoke_resp_t *r, void *data)
{
    battempt_t *a = data;
    bulk_t *b = a->b;
    if (a->abandoned || err || r->http_status < 200 || r->http_status > 299) {
        if (!a->abandoned && !err && r->http_status == 404) {
            all_drop(b);
            attempt_end(a, false);
            return;
        }
        attempt_end(a, true);
        return;
    }
    json_error_t je;
    json_t *j = r->body_len ? json_loadb((const char *)r->body, r->body_len, 0, &je) : NULL;
    json_t *st = json_is_object(j) ? dapr__json_get(j, "statuses") : NULL;
    bool pending = false;
    for (size_t i = 0; i < b->n; i++) {
        if (b->state[i] != E_PENDING)
            continue;
        const char *status = "RETRY";
        for (size_t k = 0; json_is_array(st) && k < json_array_size(st); k++) {
            json_t *e = json_array_get(st, k);
            json_t *id = json_is_object(e) ? dapr__json_get(e, "entryId") : NULL;
            json_t *sv = json_is_object(e) ? dapr__json_get(e, "status") : NULL;
            if (json_is_string(id) && !strcmp(json_string_value(id), b->v[i]->entry_id) &&
                json_is_string(sv))
                status = json_string_value(sv);
        }
        pending |= apply(b, i, status, 1);
    }
    json_decref(j);
    attempt_end(a, pending);
}

static void send_http(battempt_t *a)
{
    bulk_t *b = a->b;
    dapr_runtime_t *rt = b->s->rt;
    sub_t *u = b->sub;
    char id[37];
    dapr__uuid4(id);
    json_t *env = json_pack("{s:s,s:s,s:s,s:s,s:{},s:[]}", "id", id, "type",
                            "com.dapr.event.sent.bulk", "topic", u->topic, "pubsubname",
                            u->pubsub, "metadata", "entries");
    json_t *entries = env ? json_object_get(env, "entries") : NULL;
    for (size_t i = 0; entries && i < b->n; i++) {
        delivery_t *d = b->v[i];
        if (b->state[i] != E_PENDING)
            continue;
        json_t *md = json_object();
        for (size_t k = 0; md && k < d->n_md; k++)
            json_object_set_new(md, d->md[k].key, json_string(d->md[k].value));
        json_t *ev;
        const char *ct;
        if (u->raw) {
            ev = json_incref(json_object_get(d->ce, "data_base64"));
            ct = "application/octet-stream";
        } else {
            ev = json_incref(d->ce);
            ct = "application/cloudevents+json";
        }
        json_array_append_new(entries, json_pack("{s:s,s:o,s:s,s:o}", "entryId", d->entry_id,
                                                 "event", ev ? ev : json_null(), "contentType",
                                                 ct, "metadata", md ? md : json_object()));
    }
    dapr__buf_t body = DAPR__BUF_INIT;
    if (!entries || dapr__json_go_encode(env, &body) || body.oom) {
        json_decref(env);
        dapr__buf_free(&body);
        attempt_end(a, true);
        return;
    }
    json_decref(env);
    char *bytes = dapr__pool_strndup(&a->pool, body.data, body.len);
    size_t len = body.len;
    dapr__buf_free(&body);
    if (!bytes) {
        attempt_end(a, true);
        return;
    }
    const char *path = b->path;
    while (*path == '/')
        path++;
    dapr_kv_t h[] = {{"pubsubname", u->pubsub}};
    dapr__invoke_req_t req = {.app_id = rt->opt.app_id, .method = path, .verb = "POST",
                              .content_type = "application/json", .headers = h, .n_headers = 1,
                              .body = (const uint8_t *)bytes, .body_len = len};
    dapr__appch_invoke(rt->appch, &a->pool, &req, rt->opt.app_id, http_done, a);
}

static void g_headers(dapr__grpc_ccall_t *cc, const dapr__grpc_md_t *md, size_t n, void *ud) {}

static void g_message(dapr__grpc_ccall_t *cc, const uint8_t *msg, size_t len, void *ud)
{
    battempt_t *a = ud;
    dapr__grpc_keep_first(&a->msg, &a->msg_len, msg, len);
}

static void g_close(dapr__grpc_ccall_t *cc, int status, const char *message,
                    const dapr__grpc_md_t *trailers, size_t n, void *ud)
{
    battempt_t *a = ud;
    bulk_t *b = a->b;
    a->cc = NULL;
    if (a->abandoned) {
        attempt_end(a, true);
        return;
    }
    if (status == DAPR_GRPC_UNIMPLEMENTED) {
        all_drop(b);
        attempt_end(a, false);
        return;
    }
    Dapr__Proto__Runtime__V1__TopicEventBulkResponse *r =
        !status && a->msg ? dapr__proto__runtime__v1__topic_event_bulk_response__unpack(
                                NULL, a->msg_len, a->msg)
                          : NULL;
    if (!r) {
        if (status)
            dapr__log(&b->s->rt->log, DAPR_LOG_WARN, SCOPE, "error from app while processing "
                      "bulk pub/sub event: code %d: %s", status, message ? message : "");
        attempt_end(a, true);
        return;
    }
    bool pending = false;
    for (size_t i = 0; i < b->n; i++) {
        if (b->state[i] != E_PENDING)
            continue;
        int st = 1;
        for (size_t k = 0; k < r->n_statuses; k++)
            if (r->statuses[k]->entry_id && !strcmp(r->statuses[k]->entry_id, b->v[i]->entry_id))
                st = (int)r->statuses[k]->status;
        pending |= apply(b, i, NULL, st);
    }
    dapr__proto__runtime__v1__topic_event_bulk_response__free_unpacked(r, NULL);
    attempt_end(a, pending);
}

static const dapr__grpc_ccall_cbs_t bulk_cbs = {
    .on_headers = g_headers, .on_message = g_message, .on_close = g_close};

typedef Dapr__Proto__Runtime__V1__TopicEventBulkRequestEntry pb_entry_t;
typedef Dapr__Proto__Runtime__V1__TopicEventCERequest pb_ce_t;

static void send_grpc(battempt_t *a, dapr__grpc_channel_t *ch)
{
    bulk_t *b = a->b;
    sub_t *u = b->sub;
    dapr__pool_t *p = &a->pool;
    Dapr__Proto__Runtime__V1__TopicEventBulkRequest q =
        DAPR__PROTO__RUNTIME__V1__TOPIC_EVENT_BULK_REQUEST__INIT;
    pb_entry_t *e = dapr__pool_alloc(p, b->n * sizeof(*e));
    pb_entry_t **ep = dapr__pool_alloc(p, b->n * sizeof(*ep));
    pb_ce_t *ce = dapr__pool_alloc(p, b->n * sizeof(*ce));
    char id[37];
    dapr__uuid4(id);
    if (!e || !ep || !ce) {
        attempt_end(a, true);
        return;
    }
    for (size_t i = 0; i < b->n; i++) {
        delivery_t *d = b->v[i];
        if (b->state[i] != E_PENDING)
            continue;
        pb_entry_t *x = &e[q.n_entries];
        dapr__proto__runtime__v1__topic_event_bulk_request_entry__init(x);
        x->entry_id = d->entry_id;
        if (u->raw) {
            x->event_case = DAPR__PROTO__RUNTIME__V1__TOPIC_EVENT_BULK_REQUEST_ENTRY__EVENT_BYTES;
            x->bytes.data = d->data;
            x->bytes.len = d->len;
            x->content_type = (char *)"application/octet-stream";
        } else {
            pb_ce_t *c = &ce[q.n_entries];
            dapr__proto__runtime__v1__topic_event_cerequest__init(c);
            const char *v;
            if ((v = dapr__sub_ce_str(d->ce, "id")))
                c->id = (char *)v;
            if ((v = dapr__sub_ce_str(d->ce, "source")))
                c->source = (char *)v;
            if ((v = dapr__sub_ce_str(d->ce, "type")))
                c->type = (char *)v;
            if ((v = dapr__sub_ce_str(d->ce, "specversion")))
                c->spec_version = (char *)v;
            if ((v = dapr__sub_ce_str(d->ce, "datacontenttype")))
                c->data_content_type = (char *)v;
            if (dapr__sub_event_data(p, d->ce, &c->data)) {
                attempt_end(a, true);
                return;
            }
            x->event_case =
                DAPR__PROTO__RUNTIME__V1__TOPIC_EVENT_BULK_REQUEST_ENTRY__EVENT_CLOUD_EVENT;
            x->cloud_event = c;
            x->content_type = (char *)"application/cloudevents+json";
        }
        ep[q.n_entries++] = x;
    }
    q.id = id;
    q.entries = ep;
    q.topic = u->topic;
    q.pubsub_name = u->pubsub;
    q.type = (char *)"com.dapr.event.sent.bulk";
    q.path = (char *)b->path;
    size_t len = dapr__proto__runtime__v1__topic_event_bulk_request__get_packed_size(&q);
    uint8_t *buf = dapr__pool_alloc(p, len ? len : 1);
    if (!buf) {
        attempt_end(a, true);
        return;
    }
    dapr__proto__runtime__v1__topic_event_bulk_request__pack(&q, buf);
    const char *tok = getenv("APP_API_TOKEN");
    dapr__grpc_md_t md = {"dapr-api-token", (const uint8_t *)(tok ? tok : ""),
                          tok ? strlen(tok) : 0};
    if (dapr__grpc_call_start(ch, ALPHA_BULK, &md, tok && *tok ? 1 : 0, 0, &bulk_cbs, a,
                              &a->cc)) {
        a->cc = NULL;
        attempt_end(a, true);
        return;
    }
    dapr__grpc_ccall_send(a->cc, buf, len);
    dapr__grpc_ccall_half_close(a->cc);
}

static void attempt_go(dapr__sub_waiter_t *w)
{
    battempt_t *a = (battempt_t *)w;
    dapr_runtime_t *rt = a->b->s->rt;
    dapr__grpc_channel_t *ch = rt->appch ? dapr__appch_grpc_channel(rt->appch) : NULL;
    if (!rt->appch || a->b->s->stopped)
        attempt_end(a, true);
    else if (ch)
        send_grpc(a, ch);
    else
        send_http(a);
}

static void attempt_fn(dapr__resil_op_t *op, void *ud)
{
    bulk_t *b = ud;
    dapr_runtime_t *rt = b->s->rt;
    if (b->s->stopped || !rt->appch) {
        dapr__resil_attempt_done(op, DAPR_ECANCELED, false);
        return;
    }
    battempt_t *a = dapr__calloc(1, sizeof(*a));
    if (!a) {
        dapr__resil_attempt_done(op, DAPR_ENOMEM, true);
        return;
    }
    a->b = b;
    dapr__pool_init(&a->pool, 4096);
    b->att = a;
    size_t pending = 0;
    for (size_t i = 0; i < b->n; i++)
        pending += b->state[i] == E_PENDING;
    dapr__log(&rt->log, DAPR_LOG_DEBUG, SCOPE, "sending %zu event(s) of topic %s to %s in one "
              "bulk call", pending, b->sub->topic, b->path);
    a->w.start = attempt_go;
    dapr__sub_slot_take(b->s, &a->w);
}

static void cancel_fn(dapr__resil_op_t *op, int reason, void *ud)
{
    bulk_t *b = ud;
    if (!b->att)
        return;
    b->att->abandoned = true;
    if (b->att->w.queued) {
        attempt_end(b->att, true);
        return;
    }
    if (b->att->cc)
        dapr__grpc_ccall_cancel(b->att->cc);
}

static void op_done(int status, unsigned attempts, void *ud)
{
    bulk_t *b = ud;
    b->op = NULL;
    b->op_running = false;
    if (status && !b->s->stopped)
        dapr__log(&b->s->rt->log, DAPR_LOG_ERROR, SCOPE, "bulk delivery to %s (topic %s) "
                  "failed after %u attempt(s): %s", b->path, b->sub->topic, attempts,
                  dapr__resil_strerror(status));
    for (size_t i = 0; i < b->n; i++)
        if (b->state[i] == E_PENDING) {
            entry_release(b, i);
            dapr__sub_give_up(b->v[i], DAPR_EBACKEND);
        }
    bulk_free_if_done(b);
}

/* ---- batching -------------------------------------------------------------- */

static void flush(sub_t *u)
{
    bulk_t *b = u->batch;
    if (!b)
        return;
    u->batch = NULL;
    if (u->bulk_timer)
        uv_timer_stop(u->bulk_timer);
    dapr__subs_t *s = b->s;
    b->next = s->batches;
    if (s->batches)
        s->batches->prev = b;
    s->batches = b;
    dapr_runtime_t *rt = s->rt;
    dapr__resil_policy_t *p =
        dapr__resil_policy_for_component(rt->resil, u->pubsub, u->comp->type, DAPR__RESIL_INBOUND);
    b->op_running = true;
    if (dapr__resil_run(rt->loop, p, attempt_fn, cancel_fn, op_done, b, &b->op))
        op_done(DAPR_ENOMEM, 0, b);
}

static void timer_cb(uv_timer_t *t) { flush(t->data); }

static void timer_free(uv_handle_t *h) { dapr__free(h); }

void dapr__sub_bulk_add(delivery_t *d)
{
    sub_t *u = d->sub;
    dapr__subs_t *s = d->s;
    if (u->batch && strcmp(u->batch->path, d->path))
        flush(u); /* one path per batch */
    if (!u->batch) {
        bulk_t *b = dapr__calloc(1, sizeof(*b));
        size_t cap = (size_t)u->bulk_max_count;
        if (b) {
            b->v = dapr__calloc(cap, sizeof(*b->v));
            b->state = dapr__calloc(cap, 1);
        }
        if (!b || !b->v || !b->state) {
            if (b) {
                dapr__free(b->v);
                dapr__free(b->state);
            }
            dapr__free(b);
            dapr__sub_answer(d, DAPR_ENOMEM);
            return;
        }
        *b = (bulk_t){.s = s, .sub = u, .path = d->path, .v = b->v, .state = b->state,
                      .cap = cap};
        u->batch = b;
        if (!u->bulk_timer && (u->bulk_timer = dapr__malloc(sizeof(*u->bulk_timer)))) {
            uv_timer_init(s->rt->loop, u->bulk_timer);
            u->bulk_timer->data = u;
        }
        if (u->bulk_timer)
            uv_timer_start(u->bulk_timer, timer_cb, (uint64_t)u->bulk_max_await_ms, 0);
    }
    bulk_t *b = u->batch;
    dapr__uuid4(d->entry_id);
    d->op_running = true; /* the batch holds it */
    b->v[b->n] = d;
    b->state[b->n++] = E_PENDING;
    if (b->n == b->cap || !u->bulk_timer)
        flush(u);
}

void dapr__sub_bulk_stop(dapr__subs_t *s)
{
    for (size_t i = 0; i < s->n; i++) {
        sub_t *u = s->v[i];
        bulk_t *b = u->batch;
        u->batch = NULL;
        if (u->bulk_timer) {
            uv_timer_stop(u->bulk_timer);
            uv_close((uv_handle_t *)u->bulk_timer, timer_free);
            u->bulk_timer = NULL;
        }
        if (!b)
            continue;
        for (size_t k = 0; k < b->n; k++) {
            entry_release(b, k);
            dapr__sub_answer(b->v[k], DAPR_ECANCELED);
        }
        dapr__free(b->v);
        dapr__free(b->state);
        dapr__free(b);
    }
    for (bulk_t *b = s->batches, *nx; b; b = nx) {
        nx = b->next;
        if (b->op)
            dapr__resil_cancel(b->op); /* op_done answers the pending entries */
    }
}
