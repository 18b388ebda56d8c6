/* The Dapr gRPC service table: every RPC of dapr.proto.runtime.v1.Dapr and
 * TaskHubSidecarService is served; those whose building block exists call
 * lib/api, the others answer UNIMPLEMENTED naming the RPC. Unknown paths go
 * to the gRPC proxy (runtime/proxy.c), as in Dapr. */
#include "api.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "dapr/proto/runtime/v1/dapr.pb-c.h"
#include "durabletask/orchestrator_service.pb-c.h"
#include "relay.h"
#include "runtime/proxy.h"
#include "runtime/runtime_int.h"

/* ---------------------------------------------------------------------
 * protobuf-c allocations through our allocator
 * ------------------------------------------------------------------- */

static void *pb_alloc(void *ud, size_t n) { return dapr__malloc(n); }
static void pb_free(void *ud, void *p) { dapr__free(p); }
static ProtobufCAllocator pb_allocator = {pb_alloc, pb_free, NULL};

/* ---------------------------------------------------------------------
 * Context and finishing
 * ------------------------------------------------------------------- */

static void gctx_free(dapr__gctx_t *g)
{
    if (g->req)
        protobuf_c_message_free_unpacked(g->req, &pb_allocator);
    dapr__pool_destroy(&g->pool);
    dapr__free(g);
}

static void finish(dapr__gctx_t *g, int code, const char *msg, const void *det, size_t dlen)
{
    dapr__grpc_call_set_user(g->call, NULL);
    dapr__grpc_call_finish(g->call, code, msg, det, dlen);
    gctx_free(g);
}

void dapr__gapi_reply(dapr__gctx_t *g, const ProtobufCMessage *resp)
{
    size_t n = protobuf_c_message_get_packed_size(resp);
    uint8_t stack[512];
    uint8_t *buf = n <= sizeof(stack) ? stack : dapr__malloc(n);
    if (!buf) {
        finish(g, DAPR_GRPC_RESOURCE_EXHAUSTED, "out of memory", NULL, 0);
        return;
    }
    protobuf_c_message_pack(resp, buf);
    int rc = g->cancelled ? 0 : dapr__grpc_call_send(g->call, buf, n);
    if (buf != stack)
        dapr__free(buf);
    if (rc && !g->cancelled)
        finish(g, DAPR_GRPC_INTERNAL, "failed to send the response", NULL, 0);
    else
        finish(g, DAPR_GRPC_OK, NULL, NULL, 0);
}

void dapr__gapi_fail(dapr__gctx_t *g, const dapr__apierr_t *err)
{
    if (!err) {
        finish(g, DAPR_GRPC_INTERNAL, "out of memory", NULL, 0);
        return;
    }
    const dapr__errdef_t *d = dapr__errdef(err->id);
    dapr__buf_t det = DAPR__BUF_INIT;
    if (d->reason)
        dapr__apierr_status_pb(err, &det);
    finish(g, d->grpc, err->message, det.oom ? NULL : det.data, det.oom ? 0 : det.len);
    dapr__buf_free(&det);
}

void dapr__gapi_status(dapr__gctx_t *g, int code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    finish(g, code, msg, NULL, 0);
}

/* Every generated map entry type is laid out as {base, key, value}. */
typedef struct pb_kv {
    ProtobufCMessage base;
    char *key;
    char *value;
} pb_kv_t;

dapr_kv_t *dapr__gapi_md(dapr__pool_t *pool, size_t n, void *const *entries)
{
    dapr_kv_t *kv = dapr__pool_alloc(pool, (n ? n : 1) * sizeof(*kv));
    for (size_t i = 0; kv && i < n; i++) {
        const pb_kv_t *e = entries[i];
        kv[i] = (dapr_kv_t){e->key ? e->key : "", e->value ? e->value : ""};
    }
    return kv;
}

/* ---------------------------------------------------------------------
 * Entry points
 * ------------------------------------------------------------------- */

static bool token_ok(dapr__grpc_call_t *call, dapr_runtime_t *rt, int *code, const char **msg)
{
    if (!rt->api_token || !*rt->api_token)
        return true;
    const char *t = dapr__grpc_call_md_get(call, "dapr-api-token");
    *code = DAPR_GRPC_UNAUTHENTICATED;
    if (!t) {
        *msg = "missing api token in request metadata";
        return false;
    }
    size_t tl = strlen(t), wl = strlen(rt->api_token);
    unsigned char d = tl != wl;
    for (size_t i = 0; i < wl; i++)
        d |= (unsigned char)(rt->api_token[i] ^ (i < tl ? t[i] : 0));
    *msg = "authentication error: api token mismatch";
    return d == 0;
}

int dapr__gapi_check_token(dapr__grpc_call_t *call, const char **msg)
{
    int code = 0;
    return token_ok(call, dapr__grpc_call_server_ud(call), &code, msg) ? 0 : code;
}

static dapr__gctx_t *gctx_new(dapr__grpc_call_t *call)
{
    dapr__gctx_t *g = dapr__calloc(1, sizeof(*g));
    if (!g)
        return NULL;
    g->call = call;
    g->rt = dapr__grpc_call_server_ud(call);
    dapr__pool_init(&g->pool, 2048);
    dapr__grpc_call_set_user(call, g);
    return g;
}

static void on_request(dapr__grpc_call_t *call, const uint8_t *msg, size_t len)
{
    const dapr__gapi_method_t *m = dapr__grpc_call_method(call)->user;
    dapr_runtime_t *rt = dapr__grpc_call_server_ud(call);
    int code;
    const char *why;
    if (!token_ok(call, rt, &code, &why)) {
        dapr__grpc_call_finish(call, code, why, NULL, 0);
        return;
    }
    dapr__gctx_t *g = gctx_new(call);
    if (!g) {
        dapr__grpc_call_finish(call, DAPR_GRPC_RESOURCE_EXHAUSTED, "out of memory", NULL, 0);
        return;
    }
    g->req = protobuf_c_message_unpack(m->in, &pb_allocator, len, msg);
    if (!g->req) {
        dapr__gapi_status(g, DAPR_GRPC_INTERNAL,
                          "grpc: error unmarshalling request: cannot parse %s", m->in->name);
        return;
    }
    switch (dapr__grpc_pb_check(m->in, msg, len)) {
    case DAPR__PB_BAD_UTF8:
        dapr__gapi_status(g, DAPR_GRPC_INTERNAL,
                          "grpc: error unmarshalling request: string field contains invalid UTF-8");
        return;
    case DAPR__PB_NUL:
        dapr__gapi_status(g, DAPR_GRPC_INVALID_ARGUMENT,
                          "string field contains a NUL byte, which libdapr does not accept");
        return;
    }
    m->fn(g, g->req);
}

static void on_cancel(dapr__grpc_call_t *call)
{
    dapr__gctx_t *g = dapr__grpc_call_user(call);
    if (g)
        g->cancelled = true; /* the pending API callback finishes and frees */
    else
        dapr__grpc_call_finish(call, DAPR_GRPC_CANCELLED, "canceled", NULL, 0);
}

/* Unimplemented RPCs answer at the first sign of life: a request message
 * or the client's half-close. */
static void answer_now(dapr__grpc_call_t *call)
{
    if (dapr__grpc_call_user(call))
        return; /* answered already */
    dapr__grpc_call_set_user(call, (void *)1);
    dapr_runtime_t *rt = dapr__grpc_call_server_ud(call);
    int code;
    const char *why;
    char msg[256];
    if (!token_ok(call, rt, &code, &why)) {
        dapr__grpc_call_finish(call, code, why, NULL, 0);
        return;
    }
    const char *path = dapr__grpc_call_path(call);
    const char *name = strrchr(path, '/');
    snprintf(msg, sizeof(msg), "%s is not implemented yet in libdapr %s", name ? name + 1 : path,
             dapr_version());
    dapr__grpc_call_finish(call, DAPR_GRPC_UNIMPLEMENTED, msg, NULL, 0);
}

static void unimpl_msg(dapr__grpc_call_t *c, const uint8_t *m, size_t n) { answer_now(c); }
static void unimpl_hc(dapr__grpc_call_t *c) { answer_now(c); }

/* Any other path: gRPC proxying (runtime/proxy.c) once the token is good.
 * It starts with the request headers, so a stream the target speaks first
 * on works. */
static void proxy_start(dapr__grpc_call_t *call)
{
    dapr_runtime_t *rt = dapr__grpc_call_server_ud(call);
    int code;
    const char *why;
    if (!token_ok(call, rt, &code, &why)) {
        dapr__grpc_call_finish(call, code, why, NULL, 0);
        return;
    }
    dapr__proxy_start(rt, call, false);
}
static void plain_cancel(dapr__grpc_call_t *c)
{
    if (!dapr__grpc_call_user(c)) {
        dapr__grpc_call_set_user(c, (void *)1);
        dapr__grpc_call_finish(c, DAPR_GRPC_CANCELLED, "canceled", NULL, 0);
    }
}

/* ---------------------------------------------------------------------
 * The table
 * ------------------------------------------------------------------- */

typedef struct impl {
    const char *name;
    dapr__gapi_fn fn;
} impl_t;

static const impl_t implemented[] = {
    {"GetState", dapr__gapi_get_state},
    {"GetBulkState", dapr__gapi_get_bulk_state},
    {"SaveState", dapr__gapi_save_state},
    {"DeleteState", dapr__gapi_delete_state},
    {"DeleteBulkState", dapr__gapi_delete_bulk_state},
    {"ExecuteStateTransaction", dapr__gapi_transaction},
    {"QueryStateAlpha1", dapr__gapi_query_state},
    {"GetMetadata", dapr__gapi_get_metadata},
    {"SetMetadata", dapr__gapi_set_metadata},
    {"Shutdown", dapr__gapi_shutdown},
    {"InvokeService", dapr__gapi_invoke_service},
    {"PublishEvent", dapr__gapi_publish_event},
    {"BulkPublishEventAlpha1", dapr__gapi_bulk_publish},
    {"BulkPublishEvent", dapr__gapi_bulk_publish},
    {"InvokeActor", dapr__gapi_invoke_actor},
    {"GetActorState", dapr__gapi_get_actor_state},
    {"ExecuteActorStateTransaction", dapr__gapi_actor_state_tx},
    {"RegisterActorTimer", dapr__gapi_register_actor_timer},
    {"UnregisterActorTimer", dapr__gapi_unregister_actor_timer},
    {"RegisterActorReminder", dapr__gapi_register_actor_reminder},
    {"UnregisterActorReminder", dapr__gapi_unregister_actor_reminder},
    {"GetActorReminder", dapr__gapi_get_actor_reminder},
    {"ListActorReminders", dapr__gapi_list_actor_reminders},
    {"UnregisterActorRemindersByType", dapr__gapi_unregister_actor_reminders_by_type},
};

/* protobuf-c's service descriptors do not record streaming; these do. */
static const char *const streaming[] = {
    "SubscribeTopicEventsAlpha1", "SubscribeConfigurationAlpha1", "SubscribeConfiguration",
    "EncryptAlpha1", "DecryptAlpha1", "SubscribeActorEventsAlpha1", "GetWorkItems",
};

static dapr__grpc_method_t *table;
static dapr__gapi_method_t *extra;
static size_t table_n;
static const dapr__grpc_method_t proxy_method = {
    .path = "", .kind = DAPR__GRPC_BIDI, .on_start = proxy_start,
    .on_message = dapr__grpc_relay_on_message, .on_half_close = dapr__grpc_relay_on_half_close,
    .on_cancel = dapr__grpc_relay_on_cancel, .on_writable = dapr__grpc_relay_on_writable};
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static bool is_streaming(const char *name)
{
    for (size_t i = 0; i < sizeof(streaming) / sizeof(streaming[0]); i++)
        if (!strcmp(streaming[i], name))
            return true;
    return false;
}

static void add_service(const ProtobufCServiceDescriptor *svc, const char *prefix)
{
    for (unsigned i = 0; i < svc->n_methods; i++) {
        const ProtobufCMethodDescriptor *md = &svc->methods[i];
        dapr__grpc_method_t *t = &table[table_n];
        dapr__gapi_method_t *x = &extra[table_n++];
        dapr__buf_t p = DAPR__BUF_INIT;
        dapr__buf_printf(&p, "/%s/%s", prefix, md->name);
        t->path = p.oom ? "" : dapr__buf_steal(&p, NULL);
        t->user = x;
        x->in = md->input;
        for (size_t k = 0; k < sizeof(implemented) / sizeof(implemented[0]); k++)
            if (svc == &dapr__proto__runtime__v1__dapr__descriptor &&
                !strcmp(implemented[k].name, md->name))
                x->fn = implemented[k].fn;
        if (svc == &dapr__proto__runtime__v1__dapr__descriptor &&
            !strcmp(md->name, "SubscribeTopicEventsAlpha1")) {
            t->kind = DAPR__GRPC_BIDI;
            t->on_message = dapr__gapi_subscribe_on_message;
            t->on_half_close = dapr__gapi_subscribe_on_half_close;
            t->on_cancel = dapr__gapi_subscribe_on_cancel;
        } else if (x->fn) {
            t->kind = DAPR__GRPC_UNARY;
            t->on_request = on_request;
            t->on_cancel = on_cancel;
        } else {
            t->kind = is_streaming(md->name) ? DAPR__GRPC_BIDI : DAPR__GRPC_UNARY;
            if (t->kind == DAPR__GRPC_UNARY)
                t->on_request = unimpl_msg;
            else
                t->on_message = unimpl_msg;
            t->on_half_close = unimpl_hc;
            t->on_cancel = plain_cancel;
        }
    }
}

static void build_table(void)
{
    const ProtobufCServiceDescriptor *dapr = &dapr__proto__runtime__v1__dapr__descriptor;
    const ProtobufCServiceDescriptor *th = &task_hub_sidecar_service__descriptor;
    table = dapr__calloc(dapr->n_methods + th->n_methods, sizeof(*table));
    extra = dapr__calloc(dapr->n_methods + th->n_methods, sizeof(*extra));
    if (!table || !extra)
        return;
    add_service(dapr, "dapr.proto.runtime.v1.Dapr");
    add_service(th, "TaskHubSidecarService");
}

void dapr__gapi_table(const dapr__grpc_method_t **methods, size_t *n,
                      const dapr__grpc_method_t **fallback)
{
    pthread_once(&table_once, build_table);
    *methods = table;
    *n = table && extra ? table_n : 0;
    *fallback = &proxy_method;
}
