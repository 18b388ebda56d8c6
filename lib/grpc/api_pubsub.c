/* gRPC adapter of pub/sub publishing: PublishEvent, BulkPublishEvent and its
 * Alpha1 alias → lib/api/pubsub.c. */
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "api/pubsub.h"
#include "core/alloc.h"
#include "dapr/proto/runtime/v1/dapr.pb-c.h"
#include "runtime/runtime_int.h"
#include "runtime/subscriptions.h"

#define MD(pool, msg) dapr__gapi_md((pool), (msg)->n_metadata, (void *const *)(msg)->metadata)

static void oom(dapr__gctx_t *g) { dapr__gapi_status(g, DAPR_GRPC_RESOURCE_EXHAUSTED, "out of memory"); }

static void publish_done(dapr__apierr_t *err, void *data)
{
    dapr__gctx_t *g = data;
    if (err) {
        dapr__gapi_fail(g, err);
        return;
    }
    Google__Protobuf__Empty e = GOOGLE__PROTOBUF__EMPTY__INIT;
    dapr__gapi_reply(g, &e.base);
}

static void trace(dapr__gctx_t *g, dapr__pubsub_pub_req_t *r)
{
    r->traceparent = dapr__grpc_call_md_get(g->call, "traceparent");
    r->tracestate = dapr__grpc_call_md_get(g->call, "tracestate");
}

void dapr__gapi_publish_event(dapr__gctx_t *g, const ProtobufCMessage *req)
{
    const Dapr__Proto__Runtime__V1__PublishEventRequest *q = (const void *)req;
    dapr__pubsub_pub_req_t r = {.pubsub = q->pubsub_name, .topic = q->topic,
                                .data = q->data.data, .len = q->data.len,
                                .content_type = q->data_content_type};
    dapr_kv_t *md = MD(&g->pool, q);
    if (!md) {
        oom(g);
        return;
    }
    r.md = (dapr__md_t){md, q->n_metadata};
    trace(g, &r);
    dapr__pubsub_publish(g->rt, &g->pool, &r, publish_done, g);
}

static void bulk_done(dapr__apierr_t *err, const dapr__pubsub_bulk_failed_t *f, size_t n,
                      void *data)
{
    dapr__gctx_t *g = data;
    if (err) {
        dapr__gapi_fail(g, err);
        return;
    }
    Dapr__Proto__Runtime__V1__BulkPublishResponse r =
        DAPR__PROTO__RUNTIME__V1__BULK_PUBLISH_RESPONSE__INIT;
    Dapr__Proto__Runtime__V1__BulkPublishResponseFailedEntry *fe =
        dapr__pool_alloc(&g->pool, (n ? n : 1) * sizeof(*fe));
    Dapr__Proto__Runtime__V1__BulkPublishResponseFailedEntry **fp =
        dapr__pool_alloc(&g->pool, (n ? n : 1) * sizeof(*fp));
    if (!fe || !fp) {
        oom(g);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        dapr__proto__runtime__v1__bulk_publish_response_failed_entry__init(&fe[i]);
        fe[i].entry_id = (char *)f[i].entry_id;
        fe[i].error = (char *)(f[i].error ? f[i].error : "");
        fp[i] = &fe[i];
    }
    r.failedentries = fp;
    r.n_failedentries = n;
    dapr__gapi_reply(g, &r.base);
}

void dapr__gapi_bulk_publish(dapr__gctx_t *g, const ProtobufCMessage *req)
{
    const Dapr__Proto__Runtime__V1__BulkPublishRequest *q = (const void *)req;
    dapr__pubsub_pub_req_t r = {.pubsub = q->pubsub_name, .topic = q->topic};
    dapr_kv_t *md = MD(&g->pool, q);
    size_t n = q->n_entries;
    dapr__pubsub_bulk_entry_t *en = dapr__pool_calloc(&g->pool, (n ? n : 1) * sizeof(*en));
    if (!md || !en) {
        oom(g);
        return;
    }
    r.md = (dapr__md_t){md, q->n_metadata};
    trace(g, &r);
    for (size_t i = 0; i < n; i++) {
        const Dapr__Proto__Runtime__V1__BulkPublishRequestEntry *e = q->entries[i];
        en[i].entry_id = e->entry_id;
        en[i].data = e->event.data;
        en[i].len = e->event.len;
        en[i].content_type = e->content_type;
        en[i].md.kv = MD(&g->pool, e);
        en[i].md.n = e->n_metadata;
        if (!en[i].md.kv) {
            oom(g);
            return;
        }
    }
    dapr__pubsub_bulk_publish(g->rt, &g->pool, &r, en, n, bulk_done, g);
}

/* ---- SubscribeTopicEventsAlpha1 (grpc §5.4) ---------------------------------
 * The first client message must be initial_request; the subscription is
 * then the runtime's (runtime/subscriptions.h) and this side only moves
 * messages: events down, event_processed up. */

typedef Dapr__Proto__Runtime__V1__SubscribeTopicEventsRequestAlpha1 pb_sreq_t;

typedef struct stream_ctx {
    dapr__grpc_call_t *call;
    dapr_runtime_t *rt;
    dapr__sub_stream_t *st;
    bool finished;
} stream_ctx_t;

static void stream_finish(stream_ctx_t *c, int code, const char *msg, const dapr__apierr_t *err)
{
    if (c->finished)
        return;
    c->finished = true;
    dapr__subs_stream_close(c->st);
    c->st = NULL;
    if (err) {
        const dapr__errdef_t *d = dapr__errdef(err->id);
        dapr__buf_t det = DAPR__BUF_INIT;
        if (d->reason)
            dapr__apierr_status_pb(err, &det);
        dapr__grpc_call_finish(c->call, d->grpc, err->message, det.oom ? NULL : det.data,
                               det.oom ? 0 : det.len);
        dapr__buf_free(&det);
    } else {
        dapr__grpc_call_finish(c->call, code, msg, NULL, 0);
    }
    /* the context stays as the call's user until the engine forgets the call */
    dapr__grpc_call_set_user(c->call, (void *)1);
    dapr__free(c);
}

static int stream_send(void *ud, const uint8_t *msg, size_t len)
{
    stream_ctx_t *c = ud;
    return dapr__grpc_call_send(c->call, msg, len);
}

static void stream_end(void *ud)
{
    stream_finish(ud, DAPR_GRPC_OK, NULL, NULL);
}

static const dapr__sub_stream_cbs_t stream_cbs = {stream_send, stream_end};

static void stream_initial(stream_ctx_t *c, const pb_sreq_t *q)
{
    const Dapr__Proto__Runtime__V1__SubscribeTopicEventsRequestInitialAlpha1 *in =
        q->initial_request;
    dapr__apierr_t *err = NULL;
    if (!in->pubsub_name || !*in->pubsub_name || !in->topic || !*in->topic) {
        stream_finish(c, DAPR_GRPC_INVALID_ARGUMENT, !in->topic || !*in->topic
                      ? "topic is required" : "pubsubName is required", NULL);
        return;
    }
    if (!dapr__pubsub_find(c->rt, in->pubsub_name, &err)) {
        stream_finish(c, 0, NULL, err);
        dapr__apierr_free(err);
        return;
    }
    dapr_kv_t kv[64];
    size_t n = in->n_metadata < 64 ? in->n_metadata : 64;
    for (size_t i = 0; i < n; i++)
        kv[i] = (dapr_kv_t){in->metadata[i]->key, in->metadata[i]->value};
    const char *dl = in->_dead_letter_topic_case ? in->dead_letter_topic : NULL;
    dapr__sub_stream_t *st = NULL;
    int rc = dapr__subs_stream_open(c->rt->subs, in->pubsub_name, in->topic, kv, n, dl,
                                    &stream_cbs, c, &st);
    if (rc) {
        char m[256];
        snprintf(m, sizeof(m), rc == DAPR_EEXIST ? "topic %s of pubsub %s is already subscribed"
                 : rc == DAPR_EDENIED ? "topic %s is not allowed for this app on pubsub %s"
                 : "cannot subscribe to topic %s of pubsub %s", in->topic, in->pubsub_name);
        stream_finish(c, rc == DAPR_EEXIST ? DAPR_GRPC_ALREADY_EXISTS
                      : rc == DAPR_EDENIED ? DAPR_GRPC_PERMISSION_DENIED : DAPR_GRPC_INTERNAL, m,
                      NULL);
        return;
    }
    c->st = st;
    Dapr__Proto__Runtime__V1__SubscribeTopicEventsResponseInitialAlpha1 ir =
        DAPR__PROTO__RUNTIME__V1__SUBSCRIBE_TOPIC_EVENTS_RESPONSE_INITIAL_ALPHA1__INIT;
    Dapr__Proto__Runtime__V1__SubscribeTopicEventsResponseAlpha1 r =
        DAPR__PROTO__RUNTIME__V1__SUBSCRIBE_TOPIC_EVENTS_RESPONSE_ALPHA1__INIT;
    r.subscribe_topic_events_response_type_case =
        DAPR__PROTO__RUNTIME__V1__SUBSCRIBE_TOPIC_EVENTS_RESPONSE_ALPHA1__SUBSCRIBE_TOPIC_EVENTS_RESPONSE_TYPE_INITIAL_RESPONSE;
    r.initial_response = &ir;
    uint8_t buf[16];
    size_t len = dapr__proto__runtime__v1__subscribe_topic_events_response_alpha1__pack(&r, buf);
    if (dapr__grpc_call_send(c->call, buf, len))
        stream_finish(c, DAPR_GRPC_INTERNAL, "failed to send the initial response", NULL);
}

void dapr__gapi_subscribe_on_message(dapr__grpc_call_t *call, const uint8_t *msg, size_t len)
{
    stream_ctx_t *c = dapr__grpc_call_user(call);
    if (c == (void *)1)
        return; /* finished already */
    if (!c) {
        const char *why = NULL;
        int code = dapr__gapi_check_token(call, &why);
        if (code) {
            dapr__grpc_call_set_user(call, (void *)1);
            dapr__grpc_call_finish(call, code, why, NULL, 0);
            return;
        }
        if (!(c = dapr__calloc(1, sizeof(*c)))) {
            dapr__grpc_call_set_user(call, (void *)1);
            dapr__grpc_call_finish(call, DAPR_GRPC_RESOURCE_EXHAUSTED, "out of memory", NULL, 0);
            return;
        }
        c->call = call;
        c->rt = dapr__grpc_call_server_ud(call);
        dapr__grpc_call_set_user(call, c);
    }
    pb_sreq_t *q = dapr__proto__runtime__v1__subscribe_topic_events_request_alpha1__unpack(
        NULL, len, msg);
    if (!q) {
        stream_finish(c, DAPR_GRPC_INTERNAL, "grpc: error unmarshalling request", NULL);
        return;
    }
    int kind = q->subscribe_topic_events_request_type_case;
    if (!c->st) {
        if (kind == DAPR__PROTO__RUNTIME__V1__SUBSCRIBE_TOPIC_EVENTS_REQUEST_ALPHA1__SUBSCRIBE_TOPIC_EVENTS_REQUEST_TYPE_INITIAL_REQUEST)
            stream_initial(c, q);
        else
            stream_finish(c, DAPR_GRPC_INVALID_ARGUMENT, "initial request is required", NULL);
    } else if (kind == DAPR__PROTO__RUNTIME__V1__SUBSCRIBE_TOPIC_EVENTS_REQUEST_ALPHA1__SUBSCRIBE_TOPIC_EVENTS_REQUEST_TYPE_EVENT_PROCESSED &&
               q->event_processed->id) {
        int st = q->event_processed->status ? (int)q->event_processed->status->status : 0;
        dapr__subs_stream_processed(c->st, q->event_processed->id, st);
    }
    dapr__proto__runtime__v1__subscribe_topic_events_request_alpha1__free_unpacked(q, NULL);
}

void dapr__gapi_subscribe_on_half_close(dapr__grpc_call_t *call)
{
    stream_ctx_t *c = dapr__grpc_call_user(call);
    if (c == (void *)1)
        return;
    if (!c) {
        dapr__grpc_call_set_user(call, (void *)1);
        dapr__grpc_call_finish(call, DAPR_GRPC_INVALID_ARGUMENT, "initial request is required",
                               NULL, 0);
        return;
    }
    stream_finish(c, DAPR_GRPC_OK, NULL, NULL);
}

void dapr__gapi_subscribe_on_cancel(dapr__grpc_call_t *call)
{
    stream_ctx_t *c = dapr__grpc_call_user(call);
    if (c == (void *)1)
        return;
    if (!c) {
        dapr__grpc_call_set_user(call, (void *)1);
        dapr__grpc_call_finish(call, DAPR_GRPC_CANCELLED, "canceled", NULL, 0);
        return;
    }
    stream_finish(c, DAPR_GRPC_CANCELLED, "canceled", NULL);
}
