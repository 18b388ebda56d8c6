/* gRPC adapter of the actors API (runtime.v1 InvokeActor, GetActorState,
 * ExecuteActorStateTransaction, Register/UnregisterActorTimer,
 * Register/UnregisterActorReminder, GetActorReminder, ListActorReminders,
 * UnregisterActorRemindersByType): protobuf → lib/api/actors.c. */
#include <stdlib.h>
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

/* ---- reminders read from the store (GetActorReminder, ListActorReminders)
 * and UnregisterActorRemindersByType, as Dapr 1.17 answers them --------- */

typedef Dapr__Proto__Runtime__V1__ActorReminder reminder_pb_t;

/* google.protobuf.BytesValue{value = bytes} in an Any, as Dapr carries a
 * reminder's data (the JSON text of it). */
static Google__Protobuf__Any *data_any(dapr__pool_t *pool, const char *json)
{
    size_t n = strlen(json), hl = 1;
    for (size_t v = n; v >= 0x80; v >>= 7)
        hl++;
    Google__Protobuf__Any *any = dapr__pool_alloc(pool, sizeof(*any));
    uint8_t *b = dapr__pool_alloc(pool, 1 + hl + n);
    if (!any || !b)
        return NULL;
    google__protobuf__any__init(any);
    size_t k = 0;
    b[k++] = 0x0a; /* field 1, length-delimited */
    for (size_t v = n; ; v >>= 7) {
        b[k++] = (uint8_t)((v & 0x7f) | (v >= 0x80 ? 0x80 : 0));
        if (v < 0x80)
            break;
    }
    memcpy(b + k, json, n);
    any->type_url = (char *)"type.googleapis.com/google.protobuf.BytesValue";
    any->value.data = b;
    any->value.len = k + n;
    return any;
}

static char *jdup(dapr__pool_t *pool, const json_t *o, const char *k)
{
    json_t *v = dapr__json_get(o, k);
    return json_is_string(v) && *json_string_value(v) ? dapr__pool_strdup(pool,
                                                                         json_string_value(v))
                                                      : NULL;
}

/* A stored reminder object into the fields ActorReminder and
 * GetActorReminderResponse share (same layout, see actors.proto). */
static void fill_reminder(dapr__pool_t *pool, const json_t *o, reminder_pb_t *r, bool with_ttl)
{
    char *s;
    if ((s = jdup(pool, o, "actorType")))
        r->actor_type = s;
    if ((s = jdup(pool, o, "actorID")))
        r->actor_id = s;
    if ((s = jdup(pool, o, "dueTime"))) {
        r->_due_time_case = DAPR__PROTO__RUNTIME__V1__ACTOR_REMINDER___DUE_TIME_DUE_TIME;
        r->due_time = s;
    }
    if ((s = jdup(pool, o, "period"))) {
        r->_period_case = DAPR__PROTO__RUNTIME__V1__ACTOR_REMINDER___PERIOD_PERIOD;
        r->period = s;
    }
    if (with_ttl && (s = jdup(pool, o, "expirationTime"))) {
        r->_ttl_case = DAPR__PROTO__RUNTIME__V1__ACTOR_REMINDER___TTL_TTL;
        r->ttl = s;
    }
    json_t *d = dapr__json_get(o, "data");
    if (d && !json_is_null(d)) {
        char *t = json_dumps(d, JSON_COMPACT | JSON_ENCODE_ANY);
        r->data = t ? data_any(pool, t) : NULL;
        free(t); /* jansson allocated it */
    }
}

static void reminder_read(dapr__apierr_t *err, const char *json, void *data)
{
    dapr__gctx_t *g = data;
    const Dapr__Proto__Runtime__V1__GetActorReminderRequest *q = (const void *)g->req;
    if (err) {
        dapr__gapi_fail(g, err);
        return;
    }
    if (!json) {
        dapr__gapi_status(g, DAPR_GRPC_NOT_FOUND, "actor reminder not found: %s", q->name);
        return;
    }
    json_error_t je;
    json_t *o = json_loads(json, 0, &je);
    Dapr__Proto__Runtime__V1__GetActorReminderResponse resp =
        DAPR__PROTO__RUNTIME__V1__GET_ACTOR_REMINDER_RESPONSE__INIT;
    reminder_pb_t r = DAPR__PROTO__RUNTIME__V1__ACTOR_REMINDER__INIT;
    if (o)
        fill_reminder(&g->pool, o, &r, true);
    json_decref(o);
    /* the two messages share their layout past the header */
    _Static_assert(sizeof(resp) == sizeof(r), "GetActorReminderResponse is an ActorReminder");
    memcpy((char *)&resp + sizeof(resp.base), (char *)&r + sizeof(r.base),
           sizeof(resp) - sizeof(resp.base));
    dapr__gapi_reply(g, &resp.base);
}

void dapr__gapi_get_actor_reminder(dapr__gctx_t *g, const ProtobufCMessage *req)
{
    const Dapr__Proto__Runtime__V1__GetActorReminderRequest *q = (const void *)req;
    dapr__actor_reminder_read(g->rt, &g->pool, q->actor_type, q->actor_id, q->name,
                              reminder_read, g);
}

static void reminders_listed(dapr__apierr_t *err, const char *json, void *data)
{
    dapr__gctx_t *g = data;
    if (err) {
        dapr__gapi_fail(g, err);
        return;
    }
    json_error_t je;
    json_t *arr = json ? json_loads(json, 0, &je) : NULL, *o;
    size_t n = json_array_size(arr), i, k = 0;
    Dapr__Proto__Runtime__V1__ListActorRemindersResponse resp =
        DAPR__PROTO__RUNTIME__V1__LIST_ACTOR_REMINDERS_RESPONSE__INIT;
    Dapr__Proto__Runtime__V1__NamedActorReminder *named =
        dapr__pool_alloc(&g->pool, (n ? n : 1) * sizeof(*named));
    Dapr__Proto__Runtime__V1__NamedActorReminder **ptrs =
        dapr__pool_alloc(&g->pool, (n ? n : 1) * sizeof(*ptrs));
    reminder_pb_t *rs = dapr__pool_alloc(&g->pool, (n ? n : 1) * sizeof(*rs));
    if (!named || !ptrs || !rs) {
        json_decref(arr);
        dapr__gapi_status(g, DAPR_GRPC_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    json_array_foreach(arr, i, o)
    {
        dapr__proto__runtime__v1__named_actor_reminder__init(&named[k]);
        dapr__proto__runtime__v1__actor_reminder__init(&rs[k]);
        char *name = jdup(&g->pool, o, "name");
        if (name)
            named[k].name = name;
        fill_reminder(&g->pool, o, &rs[k], false);
        named[k].reminder = &rs[k];
        ptrs[k] = &named[k];
        k++;
    }
    json_decref(arr);
    resp.reminders = ptrs;
    resp.n_reminders = k;
    dapr__gapi_reply(g, &resp.base);
}

void dapr__gapi_list_actor_reminders(dapr__gctx_t *g, const ProtobufCMessage *req)
{
    const Dapr__Proto__Runtime__V1__ListActorRemindersRequest *q = (const void *)req;
    bool one = q->_actor_id_case == DAPR__PROTO__RUNTIME__V1__LIST_ACTOR_REMINDERS_REQUEST___ACTOR_ID_ACTOR_ID;
    dapr__actor_reminder_list(g->rt, &g->pool, q->actor_type, one ? q->actor_id : NULL,
                              reminders_listed, g);
}

static void removed_by_type(dapr__apierr_t *err, void *data)
{
    dapr__gctx_t *g = data;
    if (err) {
        dapr__gapi_fail(g, err);
        return;
    }
    Dapr__Proto__Runtime__V1__UnregisterActorRemindersByTypeResponse r =
        DAPR__PROTO__RUNTIME__V1__UNREGISTER_ACTOR_REMINDERS_BY_TYPE_RESPONSE__INIT;
    dapr__gapi_reply(g, &r.base);
}

void dapr__gapi_unregister_actor_reminders_by_type(dapr__gctx_t *g, const ProtobufCMessage *req)
{
    const Dapr__Proto__Runtime__V1__UnregisterActorRemindersByTypeRequest *q = (const void *)req;
    bool one = q->_actor_id_case ==
               DAPR__PROTO__RUNTIME__V1__UNREGISTER_ACTOR_REMINDERS_BY_TYPE_REQUEST___ACTOR_ID_ACTOR_ID;
    dapr__actor_reminder_delete_all(g->rt, &g->pool, q->actor_type, one ? q->actor_id : NULL,
                                    removed_by_type, g);
}
