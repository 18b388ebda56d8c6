/* gRPC adapter of the actors API (runtime.v1 InvokeActor, GetActorState,
 * ExecuteActorStateTransaction, Register/UnregisterActorTimer,
 * Register/UnregisterActorReminder): protobuf → lib/api/actors.c. */
#include <string.h>

#include "api.h"
#include "api/actors.h"
#include "core/buf.h"
#include "core/json.h"
#include "dapr/proto/runtime/v1/dapr.pb-c.h"
#include "runtime/runtime_int.h"

static void done_empty(dapr__apierr_t *err, void *data)
{
    dapr__gctx_t *g = data;
    if (err) {
        dapr__gapi_fail(g, err);
        return;
    }
    Google__Protobuf__Empty e = GOOGLE__PROTOBUF__EMPTY__INIT;
    dapr__gapi_reply(g, &e.base);
}

static void invoked(const dapr__apierr_t *err, const dapr__invoke_resp_t *r, void *data)
{
    dapr__gctx_t *g = data;
    if (err) {
        dapr__gapi_fail(g, err);
        return;
    }
    Dapr__Proto__Runtime__V1__InvokeActorResponse resp =
        DAPR__PROTO__RUNTIME__V1__INVOKE_ACTOR_RESPONSE__INIT;
    resp.data.data = (uint8_t *)r->body;
    resp.data.len = r->body_len;
    dapr__gapi_reply(g, &resp.base);
}

void dapr__gapi_invoke_actor(dapr__gctx_t *g, const ProtobufCMessage *req)
{
    const Dapr__Proto__Runtime__V1__InvokeActorRequest *q = (const void *)req;
    dapr_kv_t *md = dapr__gapi_md(&g->pool, q->n_metadata, (void *const *)q->metadata);
    dapr__actor_call_t c = {.type = q->actor_type, .id = q->actor_id, .method = q->method,
                            .body = q->data.data, .body_len = q->data.len,
                            .content_type = "application/json", .headers = md,
                            .n_headers = md ? q->n_metadata : 0};
    dapr__actor_invoke(g->rt, &g->pool, &c, invoked, g);
}

static void state_got(dapr__apierr_t *err, const dapr_state_value_t *v, void *data)
{
    dapr__gctx_t *g = data;
    if (err) {
        dapr__gapi_fail(g, err);
        return;
    }
    Dapr__Proto__Runtime__V1__GetActorStateResponse r =
        DAPR__PROTO__RUNTIME__V1__GET_ACTOR_STATE_RESPONSE__INIT;
    if (v->found) {
        r.data.data = (uint8_t *)v->data;
        r.data.len = v->len;
    }
    dapr__gapi_reply(g, &r.base);
}

void dapr__gapi_get_actor_state(dapr__gctx_t *g, const ProtobufCMessage *req)
{
    const Dapr__Proto__Runtime__V1__GetActorStateRequest *q = (const void *)req;
    dapr__actor_state_get(g->rt, &g->pool, q->actor_type, q->actor_id, q->key, state_got, g);
}

void dapr__gapi_actor_state_tx(dapr__gctx_t *g, const ProtobufCMessage *req)
{
    const Dapr__Proto__Runtime__V1__ExecuteActorStateTransactionRequest *q = (const void *)req;
    size_t n = q->n_operations;
    dapr_state_op_t *ops = dapr__pool_calloc(&g->pool, (n ? n : 1) * sizeof(*ops));
    const char *bad = NULL;
    for (size_t i = 0; ops && i < n; i++) {
        const Dapr__Proto__Runtime__V1__TransactionalActorStateOperation *o = q->operations[i];
        const char *t = o->operationtype ? o->operationtype : "";
        ops[i].kind = !strcmp(t, "upsert") ? DAPR_STATE_OP_UPSERT
                      : !strcmp(t, "delete") ? DAPR_STATE_OP_DELETE : 0;
        if (!ops[i].kind && !bad)
            bad = t;
        ops[i].item.key = o->key;
        ops[i].item.ttl_seconds = DAPR_TTL_UNSET;
        if (o->value) { /* Any.value bytes are the stored payload */
            ops[i].item.value = o->value->value.data;
            ops[i].item.value_len = o->value->value.len;
        }
        ops[i].item.metadata = dapr__gapi_md(&g->pool, o->n_metadata, (void *const *)o->metadata);
        ops[i].item.n_metadata = ops[i].item.metadata ? o->n_metadata : 0;
    }
    if (!ops) {
        dapr__gapi_status(g, DAPR_GRPC_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    dapr__actor_state_transact(g->rt, &g->pool, q->actor_type, q->actor_id, ops, n, bad,
                               done_empty, g);
}

/* Data bytes → the JSON the app receives: the bytes when they are JSON,
 * else a JSON string of them. */
static const char *data_json(dapr__gctx_t *g, const ProtobufCBinaryData *d)
{
    if (!d->len)
        return NULL;
    json_error_t e;
    json_t *j = json_loadb((const char *)d->data, d->len, JSON_DECODE_ANY, &e);
    if (j) {
        json_decref(j);
        return dapr__pool_strndup(&g->pool, (const char *)d->data, d->len);
    }
    dapr__buf_t b = DAPR__BUF_INIT;
    dapr__buf_json_str(&b, (const char *)d->data, d->len, 0);
    char *s = b.oom ? NULL : dapr__pool_strndup(&g->pool, b.data, b.len);
    dapr__buf_free(&b);
    return s;
}

void dapr__gapi_register_actor_timer(dapr__gctx_t *g, const ProtobufCMessage *req)
{
    const Dapr__Proto__Runtime__V1__RegisterActorTimerRequest *q = (const void *)req;
    dapr__actor_sched_req_t s = {.type = q->actor_type, .id = q->actor_id, .name = q->name,
                                 .due_time = q->due_time, .period = q->period, .ttl = q->ttl,
                                 .callback = q->callback, .data = data_json(g, &q->data)};
    dapr__actor_timer_create(g->rt, &s, done_empty, g);
}

void dapr__gapi_unregister_actor_timer(dapr__gctx_t *g, const ProtobufCMessage *req)
{
    const Dapr__Proto__Runtime__V1__UnregisterActorTimerRequest *q = (const void *)req;
    dapr__actor_timer_delete(g->rt, q->actor_type, q->actor_id, q->name, done_empty, g);
}

void dapr__gapi_register_actor_reminder(dapr__gctx_t *g, const ProtobufCMessage *req)
{
    const Dapr__Proto__Runtime__V1__RegisterActorReminderRequest *q = (const void *)req;
    dapr__actor_sched_req_t s = {.type = q->actor_type, .id = q->actor_id, .name = q->name,
                                 .due_time = q->due_time, .period = q->period, .ttl = q->ttl,
                                 .data = data_json(g, &q->data)};
    dapr__actor_reminder_create(g->rt, &g->pool, &s, done_empty, g);
}

void dapr__gapi_unregister_actor_reminder(dapr__gctx_t *g, const ProtobufCMessage *req)
{
    const Dapr__Proto__Runtime__V1__UnregisterActorReminderRequest *q = (const void *)req;
    dapr__actor_reminder_delete(g->rt, &g->pool, q->actor_type, q->actor_id, q->name, done_empty,
                                g);
}
