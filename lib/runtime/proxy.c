/* gRPC proxying (see proxy.h). */
#include "proxy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/invoke.h"
#include "app_channel.h"
#include "core/alloc.h"
#include "core/errors.h"
#include "core/log.h"
#include "core/pool.h"
#include "grpc/relay.h"
#include "remote.h"
#include "runtime_int.h"

#define SCOPE "dapr.runtime.grpc.proxy"
#define NO_TARGET                                                                              \
    "failed to proxy request: required metadata dapr-app-id or dapr-callee-app-id not found"

/* What a call waiting for name resolution needs, copied out of it (the
 * caller may go away meanwhile). */
typedef struct pending {
    dapr_runtime_t *rt;
    dapr__grpc_relay_t *relay;
    dapr__pool_t pool;
    const char *path;
    const char *target;
    dapr__grpc_md_t *md;
    size_t n_md;
    uint64_t deadline; /* uv_now() ms; 0: none */
} pending_t;

/* "id" or "id.namespace" naming this very app? */
static bool is_self(const dapr_runtime_t *rt, const char *id)
{
    const char *me = rt->opt.app_id ? rt->opt.app_id : "";
    size_t ml = strlen(me);
    if (strncmp(id, me, ml) != 0)
        return false;
    if (id[ml] == '\0')
        return true;
    const char *ns = rt->namespace_ && *rt->namespace_ ? rt->namespace_ : "default";
    return id[ml] == '.' && strcmp(id + ml + 1, ns) == 0;
}

static bool md_is(const char *k, const char *lit) { return strcmp(k, lit) == 0; }

/* The metadata for the target, in `pool`. `caller` NULL: keep the
 * dapr-caller-app-id received (internal server). */
static size_t build_md(dapr_runtime_t *rt, dapr__grpc_call_t *call, dapr__pool_t *pool,
                       const char *caller, const char *callee, bool to_app,
                       dapr__grpc_md_t **out)
{
    const dapr__grpc_md_t *in;
    size_t n_in = dapr__grpc_call_md(call, &in), n = 0;
    dapr__grpc_md_t *md = dapr__pool_alloc(pool, (n_in + 4) * sizeof(*md));
    if (!md)
        return (size_t)-1;
    for (size_t i = 0; i < n_in; i++) {
        const char *k = in[i].key;
        if (!dapr__grpc_relay_md_ok(k) || dapr__invoke_header_dropped(k) ||
            md_is(k, "dapr-api-token") || md_is(k, "dapr-app-id") ||
            md_is(k, "dapr-callee-app-id") ||
            (caller && (md_is(k, "dapr-caller-app-id") || md_is(k, "dapr-caller-namespace"))))
            continue;
        char *key = dapr__pool_strdup(pool, k);
        uint8_t *val = dapr__pool_alloc(pool, in[i].len + 1);
        if (!key || !val)
            return (size_t)-1;
        memcpy(val, in[i].value, in[i].len);
        val[in[i].len] = '\0';
        md[n++] = (dapr__grpc_md_t){key, val, in[i].len};
    }
    if (caller) {
        md[n++] = (dapr__grpc_md_t){"dapr-caller-app-id", (const uint8_t *)caller, strlen(caller)};
        if (rt->namespace_ && *rt->namespace_)
            md[n++] = (dapr__grpc_md_t){"dapr-caller-namespace", (const uint8_t *)rt->namespace_,
                                        strlen(rt->namespace_)};
    }
    md[n++] = (dapr__grpc_md_t){"dapr-callee-app-id", (const uint8_t *)callee, strlen(callee)};
    const char *tok = to_app ? getenv("APP_API_TOKEN") : NULL;
    if (tok && *tok) {
        char *t = dapr__pool_strdup(pool, tok);
        if (!t)
            return (size_t)-1;
        md[n++] = (dapr__grpc_md_t){"dapr-api-token", (const uint8_t *)t, strlen(t)};
    }
    *out = md;
    return n;
}

static void fail_now(dapr__grpc_call_t *call, int code, const char *fmt, const char *a,
                     const char *b)
{
    char msg[512];
    snprintf(msg, sizeof(msg), fmt, a ? a : "", b ? b : "");
    dapr__grpc_call_finish(call, code, msg, NULL, 0);
}

/* To this sidecar's app: `caller` as proxy.h says. */
static void to_app(dapr_runtime_t *rt, dapr__grpc_call_t *call, const char *caller)
{
    const char *me = rt->opt.app_id ? rt->opt.app_id : "";
    if (!rt->appch) {
        fail_now(call, DAPR_GRPC_UNAVAILABLE, "failed to proxy request to app %s: app channel "
                 "is not initialized (daprd runs without --app-port)", me, NULL);
        return;
    }
    dapr__grpc_channel_t *ch = dapr__appch_grpc_channel(rt->appch);
    if (!ch) {
        fail_now(call, DAPR_GRPC_INTERNAL, "failed to proxy request to app %s: the app speaks "
                 "%s; gRPC proxying needs --app-protocol grpc", me,
                 rt->opt.app_protocol ? rt->opt.app_protocol : "http");
        return;
    }
    dapr__pool_t pool;
    dapr__pool_init(&pool, 1024);
    dapr__grpc_md_t *md = NULL;
    size_t n = build_md(rt, call, &pool, caller, me, true, &md);
    dapr__grpc_relay_t *relay = n == (size_t)-1 ? NULL : dapr__grpc_relay_new(call);
    if (!relay) {
        dapr__grpc_call_finish(call, DAPR_GRPC_RESOURCE_EXHAUSTED, "out of memory", NULL, 0);
    } else {
        dapr__log(&rt->log, DAPR_LOG_DEBUG, SCOPE, "proxying %s to the app",
                  dapr__grpc_call_path(call));
        dapr__grpc_relay_connect(relay, ch, dapr__grpc_call_path(call), md, n,
                                 dapr__grpc_call_timeout_left(call));
    }
    dapr__pool_destroy(&pool); /* the client call copied what it needs */
}

static void pending_free(pending_t *p)
{
    dapr__pool_t pool = p->pool; /* p lives in its pool */
    dapr__pool_destroy(&pool);
}

static void sidecar_found(dapr__grpc_channel_t *ch, const char *err, void *ud)
{
    pending_t *p = ud;
    if (!dapr__grpc_relay_alive(p->relay)) {
        dapr__grpc_relay_fail(p->relay, DAPR_GRPC_CANCELLED, NULL); /* releases it */
    } else if (!ch) {
        char msg[640];
        snprintf(msg, sizeof(msg), "failed to proxy request to app %s: %s", p->target,
                 err ? err : "not found");
        dapr__grpc_relay_fail(p->relay, DAPR_GRPC_UNAVAILABLE, msg);
    } else {
        uint64_t left = 0;
        if (p->deadline) {
            uint64_t now = uv_now(p->rt->loop);
            left = p->deadline > now ? p->deadline - now : 1;
        }
        dapr__log(&p->rt->log, DAPR_LOG_DEBUG, SCOPE, "proxying %s to app %s", p->path,
                  p->target);
        dapr__grpc_relay_connect(p->relay, ch, p->path, p->md, p->n_md, left);
    }
    pending_free(p);
}

/* Through name resolution to the target's sidecar. */
static void to_sidecar(dapr_runtime_t *rt, dapr__grpc_call_t *call, const char *target)
{
    if (!rt->remote) {
        fail_now(call, DAPR_GRPC_UNAVAILABLE, "failed to proxy request to app %s: name "
                 "resolution is not running", target, NULL);
        return;
    }
    dapr__pool_t pool;
    dapr__pool_init(&pool, 2048);
    pending_t *p = dapr__pool_calloc(&pool, sizeof(*p));
    char *callee = p ? dapr__pool_strdup(&pool, target) : NULL;
    char *dot = callee ? strrchr(callee, '.') : NULL;
    if (dot)
        *dot = '\0'; /* the callee is the bare app id */
    size_t n = (size_t)-1;
    if (p && callee) {
        p->rt = rt;
        p->path = dapr__pool_strdup(&pool, dapr__grpc_call_path(call));
        p->target = dapr__pool_strdup(&pool, target);
        n = build_md(rt, call, &pool, rt->opt.app_id ? rt->opt.app_id : "", callee, false,
                     &p->md);
    }
    if (n == (size_t)-1 || !p->path || !p->target ||
        !(p->relay = dapr__grpc_relay_new(call))) {
        dapr__pool_destroy(&pool);
        dapr__grpc_call_finish(call, DAPR_GRPC_RESOURCE_EXHAUSTED, "out of memory", NULL, 0);
        return;
    }
    p->n_md = n;
    p->pool = pool;
    uint64_t left = dapr__grpc_call_timeout_left(call);
    p->deadline = left ? uv_now(rt->loop) + left : 0;
    dapr__remote_proxy_channel(rt->remote, target, sidecar_found, p);
}

void dapr__proxy_start(dapr_runtime_t *rt, dapr__grpc_call_t *call, bool internal)
{
    const char *me = rt->opt.app_id ? rt->opt.app_id : "";
    if (internal) {
        const char *callee = dapr__grpc_call_md_get(call, "dapr-callee-app-id");
        if (!callee) {
            dapr__grpc_call_finish(call, DAPR_GRPC_UNKNOWN, NO_TARGET, NULL, 0);
        } else if (!is_self(rt, callee)) {
            fail_now(call, DAPR_GRPC_UNAVAILABLE, "failed to proxy request to app %s: this "
                     "sidecar serves app %s", callee, me);
        } else {
            to_app(rt, call, NULL); /* dapr-caller-app-id as the caller's sidecar set it */
        }
        return;
    }
    /* the sidecar-set key wins, as in Dapr */
    const char *target = dapr__grpc_call_md_get(call, "dapr-callee-app-id");
    if (!target || !*target)
        target = dapr__grpc_call_md_get(call, "dapr-app-id");
    if (!target || !*target) {
        dapr__grpc_call_finish(call, DAPR_GRPC_UNKNOWN, NO_TARGET, NULL, 0);
        return;
    }
    if (is_self(rt, target))
        to_app(rt, call, me);
    else
        to_sidecar(rt, call, target);
}
