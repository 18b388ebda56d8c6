/* Service invocation, protocol-neutral (see invoke.h). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/invoke.h"
#include "core/errors.h"
#include "core/strutil.h"
#include "runtime/app_channel.h"
#include "runtime/remote.h"
#include "runtime/runtime_int.h"

bool dapr__invoke_header_dropped(const char *name)
{
    static const char *const drop[] = {
        "connection", "keep-alive", "proxy-connection", "proxy-authenticate",
        "proxy-authorization", "te", "trailer", "trailers", "transfer-encoding", "upgrade",
        "host", "content-length", "dapr-api-token", "grpc-timeout", "grpc-encoding",
        "grpc-accept-encoding", "http2-settings", "expect"};
    if (!name || !*name || name[0] == ':')
        return true;
    for (size_t i = 0; i < sizeof(drop) / sizeof(drop[0]); i++)
        if (!strcasecmp(name, drop[i]))
            return true;
    return false;
}

int dapr__invoke_http_status(int code)
{
    /* google.golang.org/grpc-gateway's mapping, which Dapr uses */
    switch (code) {
    case DAPR_GRPC_OK: return 200;
    case DAPR_GRPC_CANCELLED: return 499;
    case DAPR_GRPC_INVALID_ARGUMENT:
    case DAPR_GRPC_FAILED_PRECONDITION:
    case DAPR_GRPC_OUT_OF_RANGE: return 400;
    case DAPR_GRPC_DEADLINE_EXCEEDED: return 504;
    case DAPR_GRPC_NOT_FOUND: return 404;
    case DAPR_GRPC_ALREADY_EXISTS:
    case DAPR_GRPC_ABORTED: return 409;
    case DAPR_GRPC_PERMISSION_DENIED: return 403;
    case DAPR_GRPC_UNAUTHENTICATED: return 401;
    case DAPR_GRPC_RESOURCE_EXHAUSTED: return 429;
    case DAPR_GRPC_UNIMPLEMENTED: return 501;
    case DAPR_GRPC_UNAVAILABLE: return 503;
    default: return 500;
    }
}

char *dapr__invoke_clean_method(dapr__pool_t *pool, const char *method)
{
    /* Decode what could smuggle a path step past a router ('.', '/', '\\'
     * escaped once or twice), then clean dot segments (CVE-2026-41491). */
    size_t n = strlen(method);
    char *a = dapr__pool_alloc(pool, n + 1), *b = dapr__pool_alloc(pool, n + 3);
    if (!a || !b)
        return NULL;
    memcpy(a, method, n + 1);
    for (int round = 0; round < 3; round++) {
        size_t o = 0;
        bool changed = false;
        for (size_t i = 0; a[i]; i++) {
            char c = a[i];
            if (c == '%' && a[i + 1] && a[i + 2]) {
                char h[3] = {a[i + 1], a[i + 2], 0};
                long v = strtol(h, NULL, 16);
                bool hex = strspn(h, "0123456789abcdefABCDEF") == 2;
                if (hex && (v == '.' || v == '/' || v == '\\' || v == '%')) {
                    c = (char)v;
                    i += 2;
                    changed = true;
                }
            }
            a[o++] = c == '\\' ? '/' : c;
        }
        a[o] = '\0';
        if (!changed)
            break;
    }
    size_t l = dapr__path_clean(a, strlen(a), b);
    return l > 0 ? b + 1 : b; /* without the leading '/' */
}

/* "id" or "id.namespace" naming this very app? */
static bool is_self(dapr_runtime_t *rt, const char *id)
{
    const char *me = rt->opt.app_id ? rt->opt.app_id : "";
    size_t ml = strlen(me);
    if (strncmp(id, me, ml) != 0)
        return false;
    if (id[ml] == '\0')
        return true;
    const char *ns = rt->namespace_ ? rt->namespace_ : "default";
    return id[ml] == '.' && strcmp(id + ml + 1, ns) == 0;
}

void dapr__invoke(dapr_runtime_t *rt, dapr__pool_t *pool, const dapr__invoke_req_t *req,
                  dapr__invoke_cb cb, void *data)
{
    dapr__apierr_t *e = NULL;
    if (!req->app_id || !*req->app_id) {
        e = dapr__apierr_new(DAPR_ERR_DIRECT_INVOKE_NO_APPID, "failed getting app id either "
                             "from the URL path or the header dapr-app-id");
    } else if (!is_self(rt, req->app_id)) {
        dapr__invoke_req_t remote = *req;
        if (!(remote.method = dapr__invoke_clean_method(pool, req->method ? req->method : ""))) {
            e = dapr__apierr_new(DAPR_ERR_DIRECT_INVOKE, "failed to invoke, id: %s, err: out "
                                 "of memory", req->app_id);
        } else if (rt->remote) {
            dapr__remote_invoke(rt->remote, pool, &remote, cb, data);
            return;
        } else {
            e = dapr__apierr_new(DAPR_ERR_DIRECT_INVOKE, "failed to invoke, id: %s, err: "
                                 "failed to resolve address for '%s': name resolution is not "
                                 "running", req->app_id, req->app_id);
        }
    } else if (!rt->appch) {
        e = dapr__apierr_new(DAPR_ERR_DIRECT_INVOKE,
                             "failed to invoke, id: %s, err: app channel is not initialized",
                             req->app_id);
    }
    dapr__invoke_req_t clean = *req;
    if (!e && !(clean.method = dapr__invoke_clean_method(pool, req->method ? req->method : "")))
        e = dapr__apierr_new(DAPR_ERR_DIRECT_INVOKE, "failed to invoke, id: %s, err: out of "
                             "memory", req->app_id);
    if (e) {
        cb(e, NULL, data);
        dapr__apierr_free(e);
        return;
    }
    dapr__appch_invoke(rt->appch, pool, &clean, rt->opt.app_id, cb, data);
}
