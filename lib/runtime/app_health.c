/* App health checks: see app_health.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app_health.h"
#include "core/alloc.h"
#include "core/log.h"
#include "dapr/common.h"
#include "grpc/grpc.h"
#include "http/client.h"

#define SCOPE "dapr.runtime.apphealth"
#define HEALTH_METHOD "/dapr.proto.runtime.v1.AppCallbackHealthCheck/HealthCheck"

struct dapr__app_health {
    dapr_runtime_t *rt;
    dapr__http_client_t *http; /* HTTP apps */
    dapr__grpc_channel_t *grpc; /* gRPC apps */
    char *path;                 /* HTTP probe target */
    uint64_t interval_ms, timeout_ms;
    int64_t threshold;
    int64_t fails; /* consecutive failures */
    uv_timer_t tick, deadline;
    dapr__http_creq_t *creq; /* probe in flight (HTTP) */
    dapr__grpc_ccall_t *ccall; /* probe in flight (gRPC) */
    int status; /* HTTP status of the probe in flight, 0 before the head */
    bool timed_out;
    bool closing;
    int open; /* handles and clients not closed yet */
    void (*done)(void *ud);
    void *done_ud;
};

static void record(dapr__app_health_t *h, bool ok, const char *why)
{
    dapr_runtime_t *rt = h->rt;
    uv_timer_stop(&h->deadline);
    if (h->closing)
        return; /* cancelled by close: not a verdict on the app */
    if (ok) {
        h->fails = 0;
        if (!rt->app_healthy) {
            rt->app_healthy = true;
            dapr__log(&rt->log, DAPR_LOG_INFO, SCOPE, "App entered a healthy state");
        }
        return;
    }
    h->fails++;
    dapr__log(&rt->log, DAPR_LOG_DEBUG, SCOPE, "App health probe failed (%lld/%lld): %s",
              (long long)h->fails, (long long)h->threshold, why);
    if (rt->app_healthy && h->fails >= h->threshold) {
        rt->app_healthy = false;
        /* TODO(pubsub, bindings): Dapr stops subscriptions and input bindings
         * here; libdapr has neither yet, so the state is only recorded. */
        dapr__log(&rt->log, DAPR_LOG_WARN, SCOPE, "App entered an unhealthy state");
    }
}

/* --- HTTP probe ----------------------------------------------------------- */

static void h_response(dapr__http_creq_t *r, const dapr__http_cresp_t *resp, void *ud)
{
    (void)r;
    ((dapr__app_health_t *)ud)->status = resp->status;
}

static void h_end(dapr__http_creq_t *r, const dapr__http_hdr_t *tr, size_t n, void *ud)
{
    dapr__app_health_t *h = ud;
    (void)r, (void)tr, (void)n;
    h->creq = NULL;
    char why[64];
    snprintf(why, sizeof(why), "status code %d", h->status);
    record(h, h->status >= 200 && h->status < 300, why);
}

static void h_error(dapr__http_creq_t *r, const dapr_error_t *err, void *ud)
{
    dapr__app_health_t *h = ud;
    (void)r;
    h->creq = NULL;
    record(h, false, h->timed_out ? "timed out"
                                  : (err && err->message ? err->message
                                                         : dapr_strerror(err ? err->code : 0)));
}

static void probe_http(dapr__app_health_t *h)
{
    const char *tok = getenv("APP_API_TOKEN");
    dapr__http_hdr_t hdr[1];
    size_t n = 0;
    if (tok && *tok) {
        hdr[0].name = "dapr-api-token";
        hdr[0].value = tok;
        n = 1;
    }
    dapr__http_creq_opts_t o = {
        .method = "GET",
        .target = h->path,
        .headers = n ? hdr : NULL,
        .n_headers = n,
        .body_kind = DAPR__HTTP_BODY_NONE,
        .cbs = {.on_response = h_response, .on_end = h_end, .on_error = h_error},
        .ud = h,
    };
    h->status = 0;
    int rc = dapr__http_client_request(h->http, &o, &h->creq);
    if (rc) {
        h->creq = NULL;
        record(h, false, dapr_strerror(rc));
    }
}

/* --- gRPC probe ----------------------------------------------------------- */

static void g_close(dapr__grpc_ccall_t *cc, int status, const char *message,
                    const dapr__grpc_md_t *tr, size_t n, void *ud)
{
    dapr__app_health_t *h = ud;
    (void)cc, (void)tr, (void)n;
    h->ccall = NULL;
    char why[256];
    snprintf(why, sizeof(why), "%s", h->timed_out ? "timed out"
                                     : message && *message ? message : "gRPC error");
    record(h, status == 0, why);
}

static void probe_grpc(dapr__app_health_t *h)
{
    static const dapr__grpc_ccall_cbs_t cbs = {.on_close = g_close};
    const char *tok = getenv("APP_API_TOKEN");
    dapr__grpc_md_t md[1];
    size_t n = 0;
    if (tok && *tok)
        md[n++] = (dapr__grpc_md_t){"dapr-api-token", (const uint8_t *)tok, strlen(tok)};
    dapr__grpc_ccall_t *cc = NULL;
    int rc = dapr__grpc_call_start(h->grpc, HEALTH_METHOD, n ? md : NULL, n, h->timeout_ms, &cbs,
                                   h, &cc);
    if (rc) {
        record(h, false, dapr_strerror(rc));
        return;
    }
    h->ccall = cc;
    /* google.protobuf.Empty: a zero-length message */
    rc = dapr__grpc_ccall_send(cc, "", 0);
    if (!rc)
        rc = dapr__grpc_ccall_half_close(cc);
    if (rc)
        dapr__grpc_ccall_cancel(cc); /* g_close records the failure */
}

/* --- timers --------------------------------------------------------------- */

static void on_deadline(uv_timer_t *t)
{
    dapr__app_health_t *h = t->data;
    h->timed_out = true;
    if (h->creq)
        dapr__http_creq_cancel(h->creq); /* h_error records */
    else if (h->ccall)
        dapr__grpc_ccall_cancel(h->ccall); /* g_close records */
}

static void on_tick(uv_timer_t *t)
{
    dapr__app_health_t *h = t->data;
    if (h->closing || h->creq || h->ccall)
        return; /* the previous probe is still running (its deadline ends it) */
    h->timed_out = false;
    uv_timer_start(&h->deadline, on_deadline, h->timeout_ms, 0);
    if (h->http)
        probe_http(h);
    else
        probe_grpc(h);
}

/* --- life cycle ----------------------------------------------------------- */

int dapr__app_health_start(dapr_runtime_t *rt, dapr__app_health_t **out)
{
    const char *proto = rt->opt.app_protocol ? rt->opt.app_protocol : "http";
    bool grpc = !strcmp(proto, "grpc");
    if (!grpc && strcmp(proto, "http") != 0)
        return DAPR_ENOTSUP;
    if (rt->opt.app_port <= 0)
        return DAPR_EINVAL;
    dapr__app_health_t *h = dapr__calloc(1, sizeof(*h));
    if (!h)
        return DAPR_ENOMEM;
    h->rt = rt;
    h->interval_ms = rt->opt.app_health_probe_interval > 0
                         ? (uint64_t)rt->opt.app_health_probe_interval * 1000
                         : 5000;
    h->timeout_ms = rt->opt.app_health_probe_timeout > 0
                        ? (uint64_t)rt->opt.app_health_probe_timeout
                        : 500;
    h->threshold = rt->opt.app_health_threshold > 0 ? rt->opt.app_health_threshold : 1;
    const char *p = rt->opt.app_health_check_path && *rt->opt.app_health_check_path
                        ? rt->opt.app_health_check_path
                        : "/healthz";
    size_t pl = strlen(p);
    h->path = dapr__malloc(pl + 2);
    if (!h->path) {
        dapr__free(h);
        return DAPR_ENOMEM;
    }
    h->path[0] = '/';
    memcpy(h->path + (p[0] != '/'), p, pl + 1);
    const char *host = rt->opt.app_channel_address && *rt->opt.app_channel_address
                           ? rt->opt.app_channel_address
                           : "127.0.0.1";
    int rc;
    if (grpc) {
        rc = dapr__grpc_channel_create(&h->grpc, rt->loop, host, rt->opt.app_port, &rt->log);
    } else {
        dapr__http_client_config_t cfg = {
            .loop = rt->loop,
            .log = &rt->log,
            .host = host,
            .port = rt->opt.app_port,
            .max_concurrency = 1,
            .max_idle = 1,
            .connect_timeout_ms = h->timeout_ms,
        };
        rc = dapr__http_client_create(&h->http, &cfg);
    }
    if (rc) {
        dapr__free(h->path);
        dapr__free(h);
        return rc;
    }
    uv_timer_init(rt->loop, &h->tick);
    uv_timer_init(rt->loop, &h->deadline);
    h->tick.data = h->deadline.data = h;
    h->open = 3;
    uv_timer_start(&h->tick, on_tick, 0, h->interval_ms);
    dapr__log(&rt->log, DAPR_LOG_INFO, SCOPE,
              "app health checks enabled: %s%s every %llus, timeout %llums, threshold %lld",
              grpc ? "gRPC " : "GET ", grpc ? HEALTH_METHOD : h->path,
              (unsigned long long)(h->interval_ms / 1000), (unsigned long long)h->timeout_ms,
              (long long)h->threshold);
    *out = h;
    return 0;
}

static void one_closed(dapr__app_health_t *h)
{
    if (--h->open)
        return;
    void (*done)(void *) = h->done;
    void *ud = h->done_ud;
    dapr__free(h->path);
    dapr__free(h);
    if (done)
        done(ud);
}

static void timer_closed(uv_handle_t *t) { one_closed(t->data); }
static void client_closed(void *ud) { one_closed(ud); }

void dapr__app_health_close(dapr__app_health_t *h, void (*done)(void *ud), void *ud)
{
    if (!h || h->closing)
        return;
    h->closing = true;
    h->done = done;
    h->done_ud = ud;
    uv_timer_stop(&h->tick);
    uv_timer_stop(&h->deadline);
    if (h->creq)
        dapr__http_creq_cancel(h->creq);
    if (h->ccall)
        dapr__grpc_ccall_cancel(h->ccall);
    uv_close((uv_handle_t *)&h->tick, timer_closed);
    uv_close((uv_handle_t *)&h->deadline, timer_closed);
    if (h->http) {
        dapr__http_client_cancel_all(h->http);
        dapr__http_client_close(h->http, client_closed, h);
    } else {
        dapr__grpc_channel_close(h->grpc, client_closed, h);
    }
}
