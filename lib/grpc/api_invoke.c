/* gRPC adapter of service invocation: Dapr/InvokeService onto lib/api/invoke. */
#include <string.h>

#include "api.h"
#include "api/invoke.h"
#include "dapr/proto/runtime/v1/dapr.pb-c.h"

static int code_for_http(int st)
{
    switch (st) {
    case 400: return DAPR_GRPC_INVALID_ARGUMENT;
    case 401: return DAPR_GRPC_UNAUTHENTICATED;
    case 403: return DAPR_GRPC_PERMISSION_DENIED;
    case 404: return DAPR_GRPC_NOT_FOUND;
    case 409: return DAPR_GRPC_ABORTED;
    case 429: return DAPR_GRPC_RESOURCE_EXHAUSTED;
    case 501: return DAPR_GRPC_UNIMPLEMENTED;
    case 503: return DAPR_GRPC_UNAVAILABLE;
    case 504: return DAPR_GRPC_DEADLINE_EXCEEDED;
    default: return DAPR_GRPC_UNKNOWN;
    }
}

static void invoke_done(const dapr__apierr_t *err, const dapr__invoke_resp_t *r, void *data)
{
    dapr__gctx_t *g = data;
    if (err) {
        dapr__gapi_fail(g, err);
        return;
    }
    if (r->grpc_status) {
        dapr__gapi_status(g, r->grpc_status, "%s", r->grpc_message ? r->grpc_message : "");
        return;
    }
    if (r->http_status < 200 || r->http_status > 299) {
        dapr__gapi_status(g, code_for_http(r->http_status), "%.*s",
                          (int)(r->body_len > 4096 ? 4096 : r->body_len),
                          r->body ? (const char *)r->body : "");
        return;
    }
    Dapr__Proto__Common__V1__InvokeResponse resp = DAPR__PROTO__COMMON__V1__INVOKE_RESPONSE__INIT;
    Google__Protobuf__Any any = GOOGLE__PROTOBUF__ANY__INIT;
    any.value.data = (uint8_t *)r->body;
    any.value.len = r->body_len;
    resp.data = &any;
    resp.content_type = (char *)(r->content_type ? r->content_type : "");
    dapr__gapi_reply(g, &resp.base);
}

void dapr__gapi_invoke_service(dapr__gctx_t *g, const ProtobufCMessage *req)
{
    const Dapr__Proto__Runtime__V1__InvokeServiceRequest *q = (const void *)req;
    const Dapr__Proto__Common__V1__InvokeRequest *m = q->message;
    if (!m) {
        dapr__gapi_status(g, DAPR_GRPC_INVALID_ARGUMENT, "message is required");
        return;
    }
    /* the caller's metadata goes to the app as headers */
    const dapr__grpc_md_t *md;
    size_t n_md = dapr__grpc_call_md(g->call, &md);
    dapr_kv_t *hdrs = dapr__pool_alloc(&g->pool, (n_md ? n_md : 1) * sizeof(*hdrs));
    if (!hdrs) {
        dapr__gapi_status(g, DAPR_GRPC_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    size_t n = 0;
    for (size_t i = 0; i < n_md; i++) {
        size_t kl = strlen(md[i].key);
        if (kl > 4 && !strcmp(md[i].key + kl - 4, "-bin"))
            continue;
        hdrs[n].key = md[i].key;
        hdrs[n++].value = (const char *)md[i].value; /* NUL-terminated */
    }
    const Dapr__Proto__Common__V1__HTTPExtension *ext = m->http_extension;
    dapr__invoke_req_t r = {
        .app_id = q->id,
        .method = m->method,
        .verb = ext ? dapr__invoke_verb_name(ext->verb) : NULL,
        .query = ext && ext->querystring && *ext->querystring ? ext->querystring : NULL,
        .content_type = m->content_type && *m->content_type ? m->content_type : NULL,
        .headers = hdrs,
        .n_headers = n,
        .body = m->data ? m->data->value.data : NULL,
        .body_len = m->data ? m->data->value.len : 0,
    };
    dapr__invoke(g->rt, &g->pool, &r, invoke_done, g);
}
