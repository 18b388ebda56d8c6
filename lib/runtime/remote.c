/* Sidecar to sidecar (see remote.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "app_channel.h"
#include "components/registry.h"
#include "core/alloc.h"
#include "core/errors.h"
#include "core/log.h"
#include "core/map.h"
#include "dapr/common.h"
#include "dapr/proto/internals/v1/service_invocation.pb-c.h"
#include "grpc/grpc.h"
#include "grpc/relay.h"
#include "proxy.h"
#include "remote.h"
#include "runtime_int.h"

#define SCOPE "dapr.runtime.direct_messaging"
#define CALL_LOCAL "/dapr.proto.internals.v1.ServiceInvocation/CallLocal"

typedef Dapr__Proto__Internals__V1__InternalInvokeRequest ireq_t;
typedef Dapr__Proto__Internals__V1__InternalInvokeResponse iresp_t;
typedef Dapr__Proto__Internals__V1__ListStringValue lsv_t;
typedef Dapr__Proto__Internals__V1__InternalInvokeRequest__MetadataEntry ireq_md_t;
typedef Dapr__Proto__Internals__V1__InternalInvokeResponse__HeadersEntry iresp_hdr_t;

struct dapr__remote {
    dapr_runtime_t *rt;
    dapr__grpc_server_t *srv;
    int port;
    dapr_component_t *nr; /* the name resolver */
    bool nr_ready, nr_init_pending, nr_close_after_init;
    dapr__map_t chans; /* "host:port" → dapr__grpc_channel_t* */
    unsigned pending;  /* handles and closes still to report */
    void (*done)(void *);
    void *done_ud;
    bool closing;
};

/* ---------------------------------------------------------------------
 * Server: CallLocal → the app channel
 * ------------------------------------------------------------------- */

typedef struct local_call {
    dapr__grpc_call_t *call;
    dapr__remote_t *r;
    dapr__pool_t pool;
    ireq_t *req;
    bool cancelled;
} local_call_t;

static void local_free(local_call_t *l)
{
    if (l->req)
        dapr__proto__internals__v1__internal_invoke_request__free_unpacked(l->req, NULL);
    dapr__pool_destroy(&l->pool);
    dapr__free(l);
}

static void local_done(const dapr__apierr_t *err, const dapr__invoke_resp_t *resp, void *data)
{
    local_call_t *l = data;
    dapr__grpc_call_t *call = l->call;
    if (l->cancelled) {
        dapr__grpc_call_finish(call, DAPR_GRPC_CANCELLED, "canceled", NULL, 0);
        local_free(l);
        return;
    }
    if (err) {
        dapr__grpc_call_finish(call, dapr__errdef(err->id)->grpc, err->message, NULL, 0);
        local_free(l);
        return;
    }
    iresp_t out = DAPR__PROTO__INTERNALS__V1__INTERNAL_INVOKE_RESPONSE__INIT;
    Dapr__Proto__Internals__V1__Status st = DAPR__PROTO__INTERNALS__V1__STATUS__INIT;
    Dapr__Proto__Common__V1__InvokeResponse msg = DAPR__PROTO__COMMON__V1__INVOKE_RESPONSE__INIT;
    Google__Protobuf__Any any = GOOGLE__PROTOBUF__ANY__INIT;
    st.code = resp->grpc_app ? resp->grpc_status : resp->http_status;
    st.message = (char *)(resp->grpc_message ? resp->grpc_message : "");
    any.value.data = (uint8_t *)resp->body;
    any.value.len = resp->body_len;
    msg.data = &any;
    msg.content_type = (char *)(resp->content_type ? resp->content_type : "");
    out.status = &st;
    out.message = &msg;
    size_t n = resp->n_headers;
    iresp_hdr_t *hs = dapr__pool_alloc(&l->pool, (n ? n : 1) * sizeof(*hs));
    iresp_hdr_t **hp = dapr__pool_alloc(&l->pool, (n ? n : 1) * sizeof(*hp));
    lsv_t *lv = dapr__pool_alloc(&l->pool, (n ? n : 1) * sizeof(*lv));
    char **vals = dapr__pool_alloc(&l->pool, (n ? n : 1) * sizeof(*vals));
    if (hs && hp && lv && vals) {
        for (size_t i = 0; i < n; i++) {
            dapr__proto__internals__v1__internal_invoke_response__headers_entry__init(&hs[i]);
            dapr__proto__internals__v1__list_string_value__init(&lv[i]);
            vals[i] = (char *)resp->headers[i].value;
            lv[i].values = &vals[i];
            lv[i].n_values = 1;
            hs[i].key = (char *)resp->headers[i].key;
            hs[i].value = &lv[i];
            hp[i] = &hs[i];
        }
        out.headers = hp;
        out.n_headers = n;
    }
    size_t len = protobuf_c_message_get_packed_size(&out.base);
    uint8_t *buf = dapr__malloc(len ? len : 1);
    if (!buf) {
        dapr__grpc_call_finish(call, DAPR_GRPC_RESOURCE_EXHAUSTED, "out of memory", NULL, 0);
    } else {
        protobuf_c_message_pack(&out.base, buf);
        int rc = dapr__grpc_call_send(call, buf, len);
        dapr__grpc_call_finish(call, rc ? DAPR_GRPC_INTERNAL : DAPR_GRPC_OK,
                               rc ? dapr_strerror(rc) : NULL, NULL, 0);
        dapr__free(buf);
    }
    local_free(l);
}

static void call_local(dapr__grpc_call_t *call, const uint8_t *msg, size_t len)
{
    dapr__remote_t *r = dapr__grpc_call_server_ud(call);
    dapr_runtime_t *rt = r->rt;
    local_call_t *l = dapr__calloc(1, sizeof(*l));
    if (!l) {
        dapr__grpc_call_finish(call, DAPR_GRPC_RESOURCE_EXHAUSTED, "out of memory", NULL, 0);
        return;
    }
    l->call = call;
    l->r = r;
    dapr__pool_init(&l->pool, 2048);
    dapr__grpc_call_set_user(call, l);
    if (dapr__grpc_pb_check(&dapr__proto__internals__v1__internal_invoke_request__descriptor,
                            msg, len) != DAPR__PB_OK ||
        !(l->req = dapr__proto__internals__v1__internal_invoke_request__unpack(NULL, len, msg)) ||
        !l->req->message) {
        dapr__grpc_call_finish(call, DAPR_GRPC_INTERNAL,
                               "grpc: error unmarshalling request: bad InternalInvokeRequest",
                               NULL, 0);
        local_free(l);
        return;
    }
    if (!rt->appch) {
        dapr__grpc_call_finish(call, DAPR_GRPC_INTERNAL, "app channel is not initialized",
                               NULL, 0);
        local_free(l);
        return;
    }
    const ireq_t *q = l->req;
    const Dapr__Proto__Common__V1__InvokeRequest *m = q->message;
    size_t nh = 0;
    for (size_t i = 0; i < q->n_metadata; i++)
        nh += q->metadata[i]->value ? q->metadata[i]->value->n_values : 0;
    dapr_kv_t *h = dapr__pool_alloc(&l->pool, (nh ? nh : 1) * sizeof(*h));
    if (!h) {
        dapr__grpc_call_finish(call, DAPR_GRPC_RESOURCE_EXHAUSTED, "out of memory", NULL, 0);
        local_free(l);
        return;
    }
    size_t n = 0;
    const char *caller = "";
    for (size_t i = 0; i < q->n_metadata; i++) {
        const ireq_md_t *e = q->metadata[i];
        for (size_t j = 0; e->value && j < e->value->n_values; j++) {
            if (!strcasecmp(e->key, "dapr-caller-app-id"))
                caller = e->value->values[j];
            h[n++] = (dapr_kv_t){e->key, e->value->values[j]};
        }
    }
    const Dapr__Proto__Common__V1__HTTPExtension *ext = m->http_extension;
    dapr__invoke_req_t req = {
        .app_id = rt->opt.app_id,
        .method = dapr__invoke_clean_method(&l->pool, m->method ? m->method : ""),
        .verb = ext ? dapr__invoke_verb_name(ext->verb) : NULL,
        .query = ext && ext->querystring && *ext->querystring ? ext->querystring : NULL,
        .content_type = m->content_type && *m->content_type ? m->content_type : NULL,
        .headers = h,
        .n_headers = n,
        .body = m->data ? m->data->value.data : NULL,
        .body_len = m->data ? m->data->value.len : 0,
    };
    if (!req.method) {
        dapr__grpc_call_finish(call, DAPR_GRPC_RESOURCE_EXHAUSTED, "out of memory", NULL, 0);
        local_free(l);
        return;
    }
    dapr__appch_invoke(rt->appch, &l->pool, &req, caller, local_done, l);
}

static void call_local_cancel(dapr__grpc_call_t *call)
{
    local_call_t *l = dapr__grpc_call_user(call);
    if (l)
        l->cancelled = true; /* local_done finishes and frees */
    else
        dapr__grpc_call_finish(call, DAPR_GRPC_CANCELLED, "canceled", NULL, 0);
}

/* Any other path: a call proxied by the caller's sidecar, for our app's own
 * gRPC service (spec grpc-api.md §3; lib/runtime/proxy.c). */
static void proxy_start(dapr__grpc_call_t *call)
{
    dapr__remote_t *r = dapr__grpc_call_server_ud(call);
    dapr__proxy_start(r->rt, call, true);
}

static const dapr__grpc_method_t internal_methods[] = {
    {.path = CALL_LOCAL, .kind = DAPR__GRPC_UNARY, .on_request = call_local,
     .on_cancel = call_local_cancel},
    {.path = "*", .kind = DAPR__GRPC_BIDI, .on_start = proxy_start,
     .on_message = dapr__grpc_relay_on_message, .on_half_close = dapr__grpc_relay_on_half_close,
     .on_cancel = dapr__grpc_relay_on_cancel, .on_writable = dapr__grpc_relay_on_writable},
};

/* ---------------------------------------------------------------------
 * Client: resolve, then CallLocal on the target's sidecar
 * ------------------------------------------------------------------- */

typedef struct rcall {
    dapr__remote_t *r;
    dapr__pool_t *pool;
    dapr__invoke_req_t req; /* strings borrowed from the caller until cb */
    dapr__invoke_cb cb;
    void *data;
    uint8_t *msg;
    size_t msg_len;
} rcall_t;

static void rfail(rcall_t *c, const char *fmt, const char *a, const char *b)
{
    char why[512];
    snprintf(why, sizeof(why), fmt, a ? a : "", b ? b : "");
    dapr__apierr_t *e = dapr__apierr_new(DAPR_ERR_DIRECT_INVOKE, "failed to invoke, id: %s, "
                                         "err: %s", c->req.app_id, why);
    c->cb(e, NULL, c->data);
    dapr__apierr_free(e);
    dapr__free(c->msg);
    dapr__free(c);
}

static void r_message(dapr__grpc_ccall_t *cc, const uint8_t *msg, size_t len, void *ud)
{
    rcall_t *c = ud;
    (void)cc;
    if (c->msg)
        return;
    c->msg = dapr__malloc(len ? len : 1);
    if (c->msg && len)
        memcpy(c->msg, msg, len);
    c->msg_len = len;
}

static const char *code_name(int code)
{
    static const char *const n[] = {"OK", "Canceled", "Unknown", "InvalidArgument",
                                    "DeadlineExceeded", "NotFound", "AlreadyExists",
                                    "PermissionDenied", "ResourceExhausted", "FailedPrecondition",
                                    "Aborted", "OutOfRange", "Unimplemented", "Internal",
                                    "Unavailable", "DataLoss", "Unauthenticated"};
    return code >= 0 && code <= 16 ? n[code] : "Unknown";
}

static void r_close(dapr__grpc_ccall_t *cc, int status, const char *message,
                    const dapr__grpc_md_t *trailers, size_t n, void *ud)
{
    rcall_t *c = ud;
    (void)cc, (void)trailers, (void)n;
    if (status != 0) {
        char code[64];
        snprintf(code, sizeof(code), "%s", code_name(status));
        rfail(c, "rpc error: code = %s desc = %s", code, message);
        return;
    }
    iresp_t *ir = c->msg ? dapr__proto__internals__v1__internal_invoke_response__unpack(
                               NULL, c->msg_len, c->msg)
                         : NULL;
    if (!ir) {
        rfail(c, "%s%s", "bad response from the target's sidecar", "");
        return;
    }
    size_t nh = 0;
    for (size_t i = 0; i < ir->n_headers; i++)
        nh += ir->headers[i]->value ? ir->headers[i]->value->n_values : 0;
    dapr_kv_t *h = dapr__pool_alloc(c->pool, (nh ? nh : 1) * sizeof(*h));
    size_t k = 0;
    for (size_t i = 0; h && i < ir->n_headers; i++)
        for (size_t j = 0; ir->headers[i]->value && j < ir->headers[i]->value->n_values; j++)
            h[k++] = (dapr_kv_t){ir->headers[i]->key, ir->headers[i]->value->values[j]};
    int code = ir->status ? ir->status->code : 200;
    dapr__invoke_resp_t resp = {.headers = h, .n_headers = k};
    if (code >= 100) { /* an HTTP app: its status code */
        resp.http_status = code;
    } else {            /* a gRPC app: its gRPC code */
        resp.grpc_app = true;
        resp.grpc_status = code;
        resp.grpc_message = ir->status && ir->status->message ? ir->status->message : "";
        resp.http_status = dapr__invoke_http_status(code);
    }
    if (ir->message) {
        if (ir->message->data) {
            resp.body = ir->message->data->value.data;
            resp.body_len = ir->message->data->value.len;
        }
        if (ir->message->content_type && *ir->message->content_type)
            resp.content_type = ir->message->content_type;
    }
    c->cb(NULL, &resp, c->data);
    dapr__proto__internals__v1__internal_invoke_response__free_unpacked(ir, NULL);
    dapr__free(c->msg);
    dapr__free(c);
}

static const dapr__grpc_ccall_cbs_t r_cbs = {.on_message = r_message, .on_close = r_close};

static dapr__grpc_channel_t *channel_for(dapr__remote_t *r, const char *addr)
{
    dapr__grpc_channel_t *ch = dapr__map_get(&r->chans, addr, strlen(addr));
    if (ch)
        return ch;
    /* "host:port" or "[v6]:port" */
    const char *colon = strrchr(addr, ':');
    if (!colon)
        return NULL;
    char host[128];
    size_t hl = (size_t)(colon - addr);
    if (hl >= sizeof(host))
        return NULL;
    memcpy(host, addr, hl);
    host[hl] = '\0';
    char *h = host;
    if (h[0] == '[' && hl > 1 && h[hl - 1] == ']') {
        h[hl - 1] = '\0';
        h++;
    }
    int port = atoi(colon + 1);
    if (port <= 0 || dapr__grpc_channel_create(&ch, r->rt->loop, h, port, &r->rt->log))
        return NULL;
    dapr__grpc_channel_set_max_recv_msg(ch, (size_t)r->rt->opt.max_body_size + 4096);
    if (dapr__map_put(&r->chans, addr, strlen(addr), ch, NULL)) {
        dapr__grpc_channel_close(ch, NULL, NULL);
        return NULL;
    }
    return ch;
}

static void resolved(const dapr_error_t *err, const char *address, void *data)
{
    rcall_t *c = data;
    dapr__remote_t *r = c->r;
    if (err || !address) {
        rfail(c, "failed to resolve address for '%s': %s", c->req.app_id,
              err && err->message ? err->message : "not found");
        return;
    }
    dapr__grpc_channel_t *ch = r->closing ? NULL : channel_for(r, address);
    if (!ch) {
        rfail(c, "cannot reach %s%s", address, "");
        return;
    }
    const dapr__invoke_req_t *q = &c->req;
    dapr__pool_t *p = c->pool;
    /* metadata: the caller's headers (filtered), grouped by key as given */
    size_t nh = q->n_headers + 2, n = 0;
    ireq_md_t *es = dapr__pool_alloc(p, nh * sizeof(*es));
    ireq_md_t **ep = dapr__pool_alloc(p, nh * sizeof(*ep));
    lsv_t *lv = dapr__pool_alloc(p, nh * sizeof(*lv));
    char **vals = dapr__pool_alloc(p, nh * sizeof(*vals));
    if (!es || !ep || !lv || !vals) {
        rfail(c, "%s%s", "out of memory", "");
        return;
    }
    for (size_t i = 0; i < q->n_headers + 2; i++) {
        const char *k, *v;
        if (i < q->n_headers) {
            k = q->headers[i].key;
            v = q->headers[i].value ? q->headers[i].value : "";
            if (!dapr__invoke_header_passed(k))
                continue;
        } else if (i == q->n_headers) {
            k = "dapr-caller-app-id";
            v = r->rt->opt.app_id ? r->rt->opt.app_id : "";
        } else {
            k = "dapr-callee-app-id";
            v = q->app_id;
        }
        dapr__proto__internals__v1__internal_invoke_request__metadata_entry__init(&es[n]);
        dapr__proto__internals__v1__list_string_value__init(&lv[n]);
        vals[n] = (char *)v;
        lv[n].values = &vals[n];
        lv[n].n_values = 1;
        es[n].key = (char *)k;
        es[n].value = &lv[n];
        ep[n] = &es[n];
        n++;
    }
    ireq_t ir = DAPR__PROTO__INTERNALS__V1__INTERNAL_INVOKE_REQUEST__INIT;
    Dapr__Proto__Common__V1__InvokeRequest m = DAPR__PROTO__COMMON__V1__INVOKE_REQUEST__INIT;
    Dapr__Proto__Common__V1__HTTPExtension ext = DAPR__PROTO__COMMON__V1__HTTPEXTENSION__INIT;
    Google__Protobuf__Any any = GOOGLE__PROTOBUF__ANY__INIT;
    ir.ver = DAPR__PROTO__INTERNALS__V1__APIVERSION__V1;
    ir.metadata = ep;
    ir.n_metadata = n;
    m.method = (char *)q->method;
    any.value.data = (uint8_t *)q->body;
    any.value.len = q->body_len;
    m.data = &any;
    m.content_type = (char *)(q->content_type ? q->content_type : "");
    ext.verb = (Dapr__Proto__Common__V1__HTTPExtension__Verb)dapr__invoke_verb_number(q->verb);
    ext.querystring = (char *)(q->query ? q->query : "");
    m.http_extension = &ext;
    ir.message = &m;
    size_t len = protobuf_c_message_get_packed_size(&ir.base);
    uint8_t *buf = dapr__pool_alloc(p, len ? len : 1);
    if (!buf) {
        rfail(c, "%s%s", "out of memory", "");
        return;
    }
    protobuf_c_message_pack(&ir.base, buf);
    dapr__grpc_ccall_t *cc = NULL;
    int rc = dapr__grpc_call_start(ch, CALL_LOCAL, NULL, 0, 0, &r_cbs, c, &cc);
    if (!rc)
        rc = dapr__grpc_ccall_send(cc, buf, len);
    if (!rc)
        rc = dapr__grpc_ccall_half_close(cc);
    if (rc && cc) {
        dapr__grpc_ccall_cancel(cc); /* r_close reports */
        return;
    }
    if (rc)
        rfail(c, "%s%s", dapr_strerror(rc), "");
}

void dapr__remote_invoke(dapr__remote_t *r, dapr__pool_t *pool, const dapr__invoke_req_t *req,
                         dapr__invoke_cb cb, void *data)
{
    rcall_t *c = dapr__calloc(1, sizeof(*c));
    if (!c) {
        dapr__apierr_t *e = dapr__apierr_new(DAPR_ERR_DIRECT_INVOKE,
                                             "failed to invoke, id: %s, err: out of memory",
                                             req->app_id);
        cb(e, NULL, data);
        dapr__apierr_free(e);
        return;
    }
    *c = (rcall_t){.r = r, .pool = pool, .req = *req, .cb = cb, .data = data};
    if (!r->nr || !r->nr_ready || r->closing) {
        rfail(c, "failed to resolve address for '%s': %s", req->app_id,
              "name resolution is not ready");
        return;
    }
    /* "id.namespace" */
    char *id = dapr__pool_strdup(pool, req->app_id);
    char *dot = id ? strrchr(id, '.') : NULL;
    if (dot)
        *dot = '\0';
    dapr_name_resolve_req_t rq = {.app_id = id ? id : req->app_id,
                                  .namespace_ = dot ? dot + 1 : r->rt->namespace_};
    int rc = r->nr->nr_vt->resolve(r->nr, &rq, resolved, c);
    if (rc)
        rfail(c, "failed to resolve address for '%s': %s", req->app_id, dapr_strerror(rc));
}

/* ---------------------------------------------------------------------
 * Client: the channel to a sidecar, for the gRPC proxy
 * ------------------------------------------------------------------- */

typedef struct pchan {
    dapr__remote_t *r;
    dapr__remote_chan_cb cb;
    void *ud;
    char id[]; /* the app id as asked for */
} pchan_t;

static void pchan_fail(pchan_t *p, const char *fmt, const char *a)
{
    char why[512];
    snprintf(why, sizeof(why), fmt, p->id, a ? a : "");
    p->cb(NULL, why, p->ud);
    dapr__free(p);
}

static void pchan_resolved(const dapr_error_t *err, const char *address, void *data)
{
    pchan_t *p = data;
    dapr__remote_t *r = p->r;
    if (err || !address) {
        pchan_fail(p, "failed to resolve address for '%s': %s",
                   err && err->message ? err->message : "not found");
        return;
    }
    dapr__grpc_channel_t *ch = r->closing ? NULL : channel_for(r, address);
    if (!ch) {
        pchan_fail(p, "cannot reach the sidecar of '%s' at %s", address);
        return;
    }
    p->cb(ch, NULL, p->ud);
    dapr__free(p);
}

void dapr__remote_proxy_channel(dapr__remote_t *r, const char *app_id, dapr__remote_chan_cb cb,
                                void *ud)
{
    size_t n = strlen(app_id);
    pchan_t *p = dapr__malloc(sizeof(*p) + n + 1);
    if (!p) {
        cb(NULL, "out of memory", ud);
        return;
    }
    *p = (pchan_t){.r = r, .cb = cb, .ud = ud};
    memcpy(p->id, app_id, n + 1);
    if (!r->nr || !r->nr_ready || r->closing) {
        pchan_fail(p, "failed to resolve address for '%s': %s", "name resolution is not ready");
        return;
    }
    char id[256];
    if (n >= sizeof(id)) {
        pchan_fail(p, "failed to resolve address for '%s': %s", "the app id is too long");
        return;
    }
    memcpy(id, app_id, n + 1);
    char *dot = strrchr(id, '.'); /* "id.namespace" */
    if (dot)
        *dot = '\0';
    dapr_name_resolve_req_t rq = {.app_id = id, .namespace_ = dot ? dot + 1 : r->rt->namespace_};
    int rc = r->nr->nr_vt->resolve(r->nr, &rq, pchan_resolved, p);
    if (rc)
        pchan_fail(p, "failed to resolve address for '%s': %s", dapr_strerror(rc));
}

/* ---------------------------------------------------------------------
 * Start / close
 * ------------------------------------------------------------------- */

static void registered(const dapr_error_t *err, void *data)
{
    dapr__remote_t *r = data;
    if (err)
        dapr__log(&r->rt->log, DAPR_LOG_WARN, SCOPE, "name resolution: registering %s failed: %s",
                  r->rt->opt.app_id, err->message);
    else
        dapr__log(&r->rt->log, DAPR_LOG_DEBUG, SCOPE, "name resolution: %s announced on port %d",
                  r->rt->opt.app_id, r->port);
}

static void nr_closed(dapr_component_t *c, int status, const char *detail);
static void step_done(dapr__remote_t *r);

static void nr_init_done(dapr_component_t *c, int status, const char *detail)
{
    dapr__remote_t *r = c->user;
    r->nr_init_pending = false;
    if (r->nr_close_after_init) { /* closing already: undo and report */
        if (status == 0) {
            c->initialised = true;
            c->nr_vt->close(c, nr_closed);
        } else {
            step_done(r);
        }
        return;
    }
    if (status) {
        dapr__log(&r->rt->log, DAPR_LOG_ERROR, SCOPE,
                  "name resolution %s failed to initialise: %s; calls to other apps will fail",
                  c->type, detail ? detail : dapr_strerror(status));
        return;
    }
    c->initialised = true;
    r->nr_ready = true;
    dapr__log(&r->rt->log, DAPR_LOG_INFO, SCOPE, "Initialized name resolution to %s", c->name);
    if (r->closing || !c->nr_vt->register_self)
        return;
    dapr_name_instance_t self = {.app_id = r->rt->opt.app_id, .namespace_ = r->rt->namespace_,
                                 .host = "127.0.0.1", .port = (uint16_t)r->port};
    if (c->nr_vt->register_self(c, &self, registered, r))
        dapr__log(&r->rt->log, DAPR_LOG_WARN, SCOPE, "name resolution: cannot register %s",
                  r->rt->opt.app_id);
}

int dapr__remote_start(dapr_runtime_t *rt, dapr__remote_t **out)
{
    /* The resolver of the Configuration's spec.nameResolution (none: the
     * standalone default, mdns on loopback). Made before the server so an
     * unknown resolver stops the start with nothing to undo. */
    const dapr__config_t *cf = &rt->config;
    const char *nr_version = cf->nr_version && *cf->nr_version ? cf->nr_version : "v1";
    dapr_component_t *nr = NULL;
    char err[256] = "";
    int rc = dapr__nameres_new(&nr, rt->loop, &rt->log, rt->opt.app_id, rt->namespace_,
                               cf->nr_component, nr_version, cf->nr_md, cf->n_nr_md, err,
                               sizeof(err));
    if (rc == DAPR_ENOTFOUND) {
        snprintf(rt->last_error, sizeof(rt->last_error),
                 "name resolution: %s (spec.nameResolution.component \"%s\" of %s)", err,
                 cf->nr_component ? cf->nr_component : "", cf->file ? cf->file : "--config");
        return rc;
    }
    if (rc == DAPR_ENOMEM)
        return rc;
    if (rc) { /* bad metadata: as Dapr, an error log, and calls to other apps fail */
        dapr__log(&rt->log, DAPR_LOG_ERROR, SCOPE, "name resolution unavailable: %s", err);
        nr = NULL;
    }
    dapr__remote_t *r = dapr__calloc(1, sizeof(*r));
    if (!r) {
        dapr__component_free(nr);
        return DAPR_ENOMEM;
    }
    r->rt = rt;
    dapr__map_init(&r->chans);
    dapr__grpc_server_config_t cfg = {
        .loop = rt->loop,
        .log = &rt->log,
        .max_recv_msg = (size_t)rt->opt.max_body_size + 4096,
        .methods = internal_methods,
        .n_methods = sizeof(internal_methods) / sizeof(internal_methods[0]),
        .ud = r,
    };
    rc = dapr__grpc_server_create(&r->srv, &cfg);
    const char *addr = rt->opt.dapr_internal_grpc_listen_address &&
                               *rt->opt.dapr_internal_grpc_listen_address
                           ? rt->opt.dapr_internal_grpc_listen_address
                           : "127.0.0.1";
    int port = rt->opt.dapr_internal_grpc_port > 0 ? rt->opt.dapr_internal_grpc_port : 0;
    if (!rc)
        rc = dapr__grpc_server_listen(r->srv, addr, port, &r->port);
    if (rc) {
        if (r->srv)
            dapr__grpc_server_free(r->srv);
        dapr__map_free(&r->chans);
        dapr__free(r);
        dapr__component_free(nr);
        return rc;
    }
    dapr__log(&rt->log, DAPR_LOG_INFO, SCOPE, "internal gRPC server is running on %s:%d", addr,
              r->port);
    r->nr = nr;
    if (nr) {
        r->nr->user = r;
        r->nr_init_pending = true;
        rc = r->nr->nr_vt->init(r->nr, nr_init_done);
        if (rc)
            nr_init_done(r->nr, rc, "init failed");
    }
    *out = r;
    return 0;
}

int dapr__remote_port(const dapr__remote_t *r) { return r->port; }

static void step_done(dapr__remote_t *r)
{
    if (--r->pending)
        return;
    if (r->nr)
        dapr__component_free(r->nr);
    dapr__grpc_server_free(r->srv);
    dapr__map_free(&r->chans);
    void (*done)(void *) = r->done;
    void *ud = r->done_ud;
    dapr__free(r);
    if (done)
        done(ud);
}

static void srv_down(void *ud) { step_done(ud); }
static void chan_down(void *ud) { step_done(ud); }
static void nr_closed(dapr_component_t *c, int status, const char *detail)
{
    (void)status, (void)detail;
    step_done(c->user);
}

void dapr__remote_close(dapr__remote_t *r, void (*done)(void *ud), void *ud)
{
    r->closing = true;
    r->done = done;
    r->done_ud = ud;
    r->pending = 1; /* held while starting the closes */
    r->pending++;
    dapr__grpc_server_shutdown(r->srv, srv_down, r);
    size_t it = 0;
    void *v;
    while (dapr__map_next(&r->chans, &it, NULL, NULL, &v)) {
        r->pending++;
        dapr__grpc_channel_close(v, chan_down, r);
    }
    if (r->nr && r->nr_init_pending) {
        r->pending++;
        r->nr_close_after_init = true; /* nr_init_done closes it */
    } else if (r->nr && r->nr->initialised) {
        r->pending++;
        r->nr->nr_vt->close(r->nr, nr_closed);
    }
    step_done(r);
}
