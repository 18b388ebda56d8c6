/* The HTTP API's route table and dispatch (spec §0.1, §0.2): token check on
 * the cleaned path, path parameters unescaped, unknown routes falling back to
 * service invocation. */
#include "router.h"

#include <stdarg.h>
#include <strings.h>
#include <string.h>

#include "api/invoke.h"
#include "core/alloc.h"
#include "core/strutil.h"
#include "runtime/runtime_int.h"

enum {
    M_GET = 1 << 0,
    M_POST = 1 << 1,
    M_PUT = 1 << 2,
    M_DELETE = 1 << 3,
    M_ANY = 0xff
};

typedef void (*handler_fn)(dapr_runtime_t *rt, dapr__http_req_t *req);

typedef struct route {
    unsigned methods;
    const char *pattern; /* literal segments; "*" = one parameter */
    handler_fn fn;
    const char *unimplemented; /* building block not implemented yet */
} route_t;

static void unimplemented(dapr_runtime_t *rt, dapr__http_req_t *req);
static void invoke_route(dapr_runtime_t *rt, dapr__http_req_t *req);

/* Order matters only between a literal and a parameter at the same depth:
 * the first match wins, so literals come first. */
static const route_t routes[] = {
    /* the hottest route first; nothing else starts with /v1.0/invoke/ */
    {M_ANY, "/v1.0/invoke/**", invoke_route, NULL},
    {M_POST | M_PUT, "/v1.0/state/*/bulk", dapr__http_state_bulk, NULL},
    {M_POST | M_PUT, "/v1.0/state/*/transaction", dapr__http_state_transaction, NULL},
    {M_POST | M_PUT, "/v1.0/state/*", dapr__http_state_save, NULL},
    {M_GET, "/v1.0/state/*/*", dapr__http_state_get, NULL},
    {M_DELETE, "/v1.0/state/*/*", dapr__http_state_delete, NULL},
    {M_POST | M_PUT, "/v1.0-alpha1/state/*/query", dapr__http_state_query, NULL},
    {M_GET, "/v1.0/metadata", dapr__http_metadata_get, NULL},
    {M_PUT, "/v1.0/metadata/*", dapr__http_metadata_put, NULL},
    {M_GET, "/v1.0/healthz", dapr__http_healthz, NULL},
    {M_GET, "/v1.0/healthz/outbound", dapr__http_healthz_outbound, NULL},
    {M_POST, "/v1.0/shutdown", dapr__http_shutdown, NULL},
    /* Building blocks that arrive with later issues: a clear 501 rather
     * than a misleading invocation fallback. */
    {M_POST | M_PUT, "/v1.0/publish/**", dapr__http_publish, NULL},
    {M_POST | M_PUT, "/v1.0-alpha1/publish/bulk/**", dapr__http_publish_bulk, NULL},
    {M_ANY, "/v1.0/bindings/**", unimplemented, "bindings"},
    {M_ANY, "/v1.0/secrets/**", unimplemented, "secrets"},
    {M_GET | M_POST | M_PUT | M_DELETE, "/v1.0/actors/*/*/method/*", dapr__http_actor_invoke, NULL},
    {M_POST | M_PUT, "/v1.0/actors/*/*/state", dapr__http_actor_state_tx, NULL},
    {M_GET, "/v1.0/actors/*/*/state/*", dapr__http_actor_state_get, NULL},
    {M_POST | M_PUT | M_DELETE, "/v1.0/actors/*/*/timers/*", dapr__http_actor_timer, NULL},
    {M_POST | M_PUT | M_GET | M_DELETE, "/v1.0/actors/*/*/reminders/*", dapr__http_actor_reminder,
     NULL},
    {M_ANY, "/v1.0/actors/**", unimplemented, "actors"},
    {M_ANY, "/v1.0/configuration/**", unimplemented, "configuration"},
    {M_ANY, "/v1.0-alpha1/configuration/**", unimplemented, "configuration"},
    {M_ANY, "/v1.0-alpha1/lock/**", unimplemented, "distributed lock"},
    {M_ANY, "/v1.0-alpha1/unlock/**", unimplemented, "distributed lock"},
    {M_ANY, "/v1.0/workflows/**", unimplemented, "workflows"},
    {M_ANY, "/v1.0-alpha1/workflows/**", unimplemented, "workflows"},
    {M_ANY, "/v1.0-beta1/workflows/**", unimplemented, "workflows"},
    {M_ANY, "/v1.0-alpha1/jobs/**", unimplemented, "jobs"},
    {M_ANY, "/v1.0-alpha1/crypto/**", unimplemented, "cryptography"},
    {M_ANY, "/v1.0-alpha1/subtlecrypto/**", unimplemented, "cryptography"},
    {M_ANY, "/v1.0-alpha1/conversation/**", unimplemented, "conversation"},
    {M_ANY, "/v1.0-alpha2/conversation/**", unimplemented, "conversation"},
};

static unsigned method_bit(const char *m)
{
    if (!strcmp(m, "GET"))
        return M_GET;
    if (!strcmp(m, "POST"))
        return M_POST;
    if (!strcmp(m, "PUT"))
        return M_PUT;
    if (!strcmp(m, "DELETE"))
        return M_DELETE;
    return 1 << 7;
}

/* Match a cleaned path against a pattern; "*" takes one segment into
 * req->params (unescaped), a trailing "**" takes the rest. Returns 1 on a
 * match, 0 on none, -1 on a bad escape in a parameter. */
static int match(const char *pat, const char *path, dapr__http_req_t *req)
{
    req->n_params = 0;
    while (*pat && *path) {
        if (pat[0] == '*' && pat[1] == '*')
            return 1;
        if (*pat == '*') {
            const char *e = strchr(path, '/');
            size_t len = e ? (size_t)(e - path) : strlen(path);
            if (!len || req->n_params == DAPR__HTTP_MAX_PARAMS)
                return 0;
            char *p = dapr__pool_alloc(&req->pool, len + 1);
            long ul = p ? dapr__url_unescape(path, len, p, false) : -1;
            /* %00 would cut the parameter short: "a%00b" must not mean "a" */
            if (ul < 0 || memchr(p, 0, (size_t)ul))
                return -1;
            req->params[req->n_params++] = p;
            pat++;
            path += len;
            continue;
        }
        if (*pat != *path)
            return 0;
        pat++;
        path++;
    }
    return !*pat && !*path;
}

/* ---------------------------------------------------------------------
 * Shared response helpers
 * ------------------------------------------------------------------- */

static const dapr__http_hdr_t json_hdr[] = {{"Content-Type", "application/json"}};

void dapr__http_send_json(dapr__http_req_t *req, int status, dapr__buf_t *body)
{
    if (body->oom) {
        dapr__buf_free(body);
        static const char m[] = "{\"errorCode\":\"ERR_INTERNAL\",\"message\":\"out of memory\"}";
        dapr__http_respond(req, 500, json_hdr, 1, m, sizeof(m) - 1);
        return;
    }
    dapr__http_respond_buf(req, status, json_hdr, 1, body);
}

void dapr__http_send_empty(dapr__http_req_t *req, int status)
{
    dapr__http_respond(req, status, NULL, 0, NULL, 0);
}

void dapr__http_send_error(dapr__http_req_t *req, const dapr__apierr_t *err)
{
    dapr__buf_t b = DAPR__BUF_INIT;
    if (!err) {
        static const char m[] = "{\"errorCode\":\"ERR_INTERNAL\",\"message\":\"out of memory\"}";
        dapr__http_respond(req, 500, json_hdr, 1, m, sizeof(m) - 1);
        return;
    }
    dapr__apierr_json(err, &b);
    dapr__http_send_json(req, dapr__errdef(err->id)->http, &b);
}

void dapr__http_send_errorf(dapr__http_req_t *req, dapr__errid_t id, const char *fmt, ...)
{
    dapr__buf_t m = DAPR__BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    dapr__buf_vprintf(&m, fmt, ap);
    va_end(ap);
    dapr__apierr_t *e = m.oom ? NULL : dapr__apierr_new(id, "%s", m.data ? m.data : "");
    dapr__buf_free(&m);
    dapr__http_send_error(req, e);
    dapr__apierr_free(e);
}

/* ---------------------------------------------------------------------
 * Query string
 * ------------------------------------------------------------------- */

typedef void (*query_fn)(void *ud, const char *k, size_t kl, const char *v, size_t vl);

static void query_each(const char *q, query_fn fn, void *ud)
{
    while (*q) {
        const char *amp = strchr(q, '&');
        size_t len = amp ? (size_t)(amp - q) : strlen(q);
        const char *eq = memchr(q, '=', len);
        size_t kl = eq ? (size_t)(eq - q) : len;
        if (kl)
            fn(ud, q, kl, eq ? eq + 1 : q + len, eq ? len - kl - 1 : 0);
        q += len + (amp ? 1 : 0);
    }
}

static char *unescape_query(dapr__pool_t *pool, const char *s, size_t n)
{
    char *o = dapr__pool_alloc(pool, n + 1);
    if (o && dapr__url_unescape(s, n, o, true) < 0)
        return NULL;
    return o;
}

typedef struct md_acc {
    dapr__http_req_t *req;
    dapr_kv_t *kv;
    size_t n, cap;
} md_acc_t;

static void md_collect(void *ud, const char *k, size_t kl, const char *v, size_t vl)
{
    md_acc_t *a = ud;
    char *key = unescape_query(&a->req->pool, k, kl);
    if (!key || strncmp(key, "metadata.", 9) || !key[9])
        return;
    for (size_t i = 0; i < a->n; i++)
        if (!strcmp(a->kv[i].key, key + 9))
            return; /* first value only, as Go's url.Values.Get */
    char *val = unescape_query(&a->req->pool, v, vl);
    if (!val)
        return;
    if (a->n == a->cap) {
        size_t nc = a->cap ? a->cap * 2 : 8;
        dapr_kv_t *nk = dapr__pool_alloc(&a->req->pool, nc * sizeof(*nk));
        if (!nk)
            return;
        if (a->n)
            memcpy(nk, a->kv, a->n * sizeof(*nk));
        a->kv = nk;
        a->cap = nc;
    }
    a->kv[a->n++] = (dapr_kv_t){key + 9, val};
}

dapr__md_t dapr__http_query_md(dapr__http_req_t *req)
{
    md_acc_t a = {req, NULL, 0, 0};
    query_each(req->query, md_collect, &a);
    return (dapr__md_t){a.kv, a.n};
}

typedef struct q_get {
    dapr__http_req_t *req;
    const char *name;
    const char *val;
} q_get_t;

static void q_find(void *ud, const char *k, size_t kl, const char *v, size_t vl)
{
    q_get_t *g = ud;
    if (g->val)
        return;
    char *key = unescape_query(&g->req->pool, k, kl);
    if (key && !strcmp(key, g->name))
        g->val = unescape_query(&g->req->pool, v, vl);
}

const char *dapr__http_query_get(dapr__http_req_t *req, const char *name)
{
    q_get_t g = {req, name, NULL};
    query_each(req->query, q_find, &g);
    return g.val;
}

/* ---------------------------------------------------------------------
 * Dispatch
 * ------------------------------------------------------------------- */

static void unimplemented(dapr_runtime_t *rt, dapr__http_req_t *req)
{
    const route_t *r = req->route;
    dapr__http_send_errorf(req, DAPR_ERR_API_UNIMPLEMENTED,
                           "the %s API is not implemented yet in libdapr %s", r->unimplemented,
                           dapr_version());
}

/* ---------------------------------------------------------------------
 * Streamed invocation bodies: the request body as a dapr__istream_t read
 * from the server, and a streamed answer written back with backpressure.
 * Both live in the request's pool (gone once the response ended).
 * ------------------------------------------------------------------- */

/* Bodies up to this size are read whole before dispatch (cheaper). */
#define STREAM_MIN (64 * 1024)

typedef struct hbody {
    dapr__istream_t s;
    dapr__http_req_t *req;
    const dapr__istream_sink_t *sink;
    void *sud;
    int err; /* how the body failed, if it did */
} hbody_t;

static void hb_data(dapr__http_req_t *req, const void *data, size_t len, void *ud)
{
    hbody_t *b = ud;
    (void)req;
    if (b->sink)
        b->sink->on_data(b->sud, data, len);
}

static void hb_end(dapr__http_req_t *req, void *ud)
{
    hbody_t *b = ud;
    (void)req;
    const dapr__istream_sink_t *sink = b->sink;
    b->sink = NULL;
    if (sink)
        sink->on_end(b->sud);
}

static void hb_error(dapr__http_req_t *req, int code, void *ud)
{
    hbody_t *b = ud;
    (void)req;
    b->err = code;
    const dapr__istream_sink_t *sink = b->sink;
    b->sink = NULL;
    if (sink)
        sink->on_error(b->sud, code);
}

static const dapr__http_body_cbs_t hb_cbs = {hb_data, hb_end, hb_error};

static void hb_read(dapr__istream_t *s, const dapr__istream_sink_t *sink, void *ud)
{
    hbody_t *b = (hbody_t *)s;
    b->sink = sink;
    b->sud = ud;
    dapr__http_req_read(b->req, &hb_cbs, b);
}

static void hb_pause(dapr__istream_t *s) { dapr__http_req_pause(((hbody_t *)s)->req); }
static void hb_resume(dapr__istream_t *s) { dapr__http_req_resume(((hbody_t *)s)->req); }
static void hb_cancel(dapr__istream_t *s) { ((hbody_t *)s)->sink = NULL; }

static hbody_t *hbody_new(dapr__http_req_t *req)
{
    hbody_t *b = dapr__pool_alloc(&req->pool, sizeof(*b));
    if (!b)
        return NULL;
    const char *cl = dapr__http_req_header(req, "Content-Length");
    int64_t len = -1;
    if (cl && dapr__parse_int(cl, &len))
        len = -1;
    *b = (hbody_t){.s = {.length = len, .read = hb_read, .pause = hb_pause,
                         .resume = hb_resume, .cancel = hb_cancel},
                   .req = req};
    return b;
}

bool dapr__http_stream_wanted(const dapr__http_req_t *req, void *ud)
{
    (void)ud;
    const char *cl = dapr__http_req_header(req, "Content-Length");
    int64_t len;
    if (cl && !dapr__parse_int(cl, &len) && len <= STREAM_MIN)
        return false;
    /* invocation only; another route that gets one reads it whole first */
    return !strncmp(req->path, "/v1.0/invoke/", 13) || dapr__http_req_header(req, "dapr-app-id");
}

/* A streamed request that reached a handler needing the body whole. */
typedef struct whole {
    dapr_runtime_t *rt;
    dapr__http_req_t *req;
    handler_fn fn;
} whole_t;

static void whole_read(int status, uint8_t *data, size_t len, void *ud)
{
    whole_t *w = ud;
    dapr__http_req_t *req = w->req;
    if (status) {
        dapr__free(data);
        if (status == DAPR_ETOOBIG)
            dapr__http_send_errorf(req, DAPR_ERR_BODY_TOO_LARGE, "request body too large");
        else
            dapr__http_respond(req, 400, NULL, 0, "bad request body\n", 17);
        return;
    }
    uint8_t *copy = dapr__pool_alloc(&req->pool, len + 1);
    if (!copy) {
        dapr__free(data);
        dapr__http_send_error(req, NULL);
        return;
    }
    memcpy(copy, data, len + 1);
    dapr__free(data);
    req->body = copy;
    req->body_len = len;
    req->streamed = false;
    w->fn(w->rt, req);
}

static void call_whole(dapr_runtime_t *rt, dapr__http_req_t *req, handler_fn fn)
{
    hbody_t *b = hbody_new(req);
    whole_t *w = dapr__pool_alloc(&req->pool, sizeof(*w));
    if (!b || !w) {
        dapr__http_send_error(req, NULL);
        return;
    }
    *w = (whole_t){rt, req, fn};
    int rc = dapr__istream_collect(&b->s, (size_t)rt->opt.max_body_size, whole_read, w);
    if (rc == DAPR_ETOOBIG)
        dapr__http_send_errorf(req, DAPR_ERR_BODY_TOO_LARGE, "request body too large");
    else if (rc)
        dapr__http_send_error(req, NULL);
}

typedef struct hout {
    dapr__http_req_t *req;
    dapr__istream_t *src;
    dapr__buf_t held;
    bool paused, ended;
} hout_t;

static void ho_abort(hout_t *o)
{
    dapr__buf_free(&o->held);
    dapr__http_respond_abort(o->req);
}

static void ho_data(void *ud, const void *data, size_t len)
{
    hout_t *o = ud;
    if (o->held.len) {
        dapr__buf_append(&o->held, data, len);
        return;
    }
    int rc = dapr__http_respond_write(o->req, data, len);
    if (rc == DAPR_EAGAIN) {
        dapr__buf_append(&o->held, data, len);
        if (!o->paused) {
            o->paused = true;
            o->src->pause(o->src);
        }
    } else if (rc) {
        o->src->cancel(o->src);
        ho_abort(o);
    }
}

static void ho_end(void *ud)
{
    hout_t *o = ud;
    if (o->held.len) {
        o->ended = true; /* finished from ho_writable */
        return;
    }
    dapr__buf_free(&o->held);
    dapr__http_respond_end(o->req);
}

static void ho_error(void *ud, int code)
{
    (void)code;
    ho_abort(ud);
}

static const dapr__istream_sink_t ho_sink = {ho_data, ho_end, ho_error};

static void ho_writable(dapr__http_req_t *req, void *ud)
{
    hout_t *o = ud;
    if (o->held.len) {
        int rc = dapr__http_respond_write(req, o->held.data, o->held.len);
        if (rc == DAPR_EAGAIN)
            return;
        dapr__buf_reset(&o->held);
        if (rc) {
            if (!o->ended)
                o->src->cancel(o->src);
            ho_abort(o);
            return;
        }
    }
    if (o->ended) {
        dapr__buf_free(&o->held);
        dapr__http_respond_end(req);
    } else if (o->paused) {
        o->paused = false;
        o->src->resume(o->src);
    }
}

/* The app's answer, passed through: status, content type, headers, body. */
static void invoke_done(const dapr__apierr_t *err, const dapr__invoke_resp_t *r, void *data)
{
    dapr__http_req_t *req = data;
    if (err) {
        if (r && r->body_stream)
            r->body_stream->cancel(r->body_stream);
        /* the call failed because our body went over the limit: say so */
        const hbody_t *b = req->streamed ? req->user : NULL;
        if (b && b->err == DAPR_ETOOBIG)
            dapr__http_send_errorf(req, DAPR_ERR_BODY_TOO_LARGE, "request body too large");
        else
            dapr__http_send_error(req, err);
        return;
    }
    dapr__http_hdr_t *h = dapr__pool_alloc(&req->pool, (r->n_headers + 1) * sizeof(*h));
    if (!h) {
        if (r->body_stream)
            r->body_stream->cancel(r->body_stream);
        dapr__http_send_error(req, NULL);
        return;
    }
    size_t n = 0;
    if (r->content_type)
        h[n++] = (dapr__http_hdr_t){"Content-Type", r->content_type};
    for (size_t i = 0; i < r->n_headers; i++) {
        const char *k = r->headers[i].key;
        if (dapr__invoke_header_dropped(k) || !strcasecmp(k, "content-type") ||
            !strcasecmp(k, "date") || !strncasecmp(k, "grpc-", 5))
            continue;
        h[n++] = (dapr__http_hdr_t){k, r->headers[i].value};
    }
    if (r->grpc_status) {
        /* a gRPC app's error: its status as JSON, as Dapr renders it */
        dapr__buf_t b = DAPR__BUF_INIT;
        dapr__buf_printf(&b, "{\"code\":%d,\"message\":", r->grpc_status);
        const char *m = r->grpc_message ? r->grpc_message : "";
        dapr__buf_json_str(&b, m, strlen(m), 0);
        dapr__buf_puts(&b, ",\"details\":[]}");
        h[0] = (dapr__http_hdr_t){"Content-Type", "application/json"};
        dapr__http_respond_buf(req, r->http_status, h, 1, &b);
        return;
    }
    if (r->body_stream) {
        hout_t *o = dapr__pool_alloc(&req->pool, sizeof(*o));
        if (o)
            *o = (hout_t){.req = req, .src = r->body_stream, .held = DAPR__BUF_INIT};
        if (!o || dapr__http_respond_start(req, r->http_status, h, n, r->body_stream->length,
                                           ho_writable, o)) {
            r->body_stream->cancel(r->body_stream);
            dapr__http_send_error(req, NULL);
            return;
        }
        r->body_stream->read(r->body_stream, &ho_sink, o);
        return;
    }
    dapr__http_respond(req, r->http_status, h, n, r->body, r->body_len);
}

static void invoke_to(dapr_runtime_t *rt, dapr__http_req_t *req, const char *app_id,
                      const char *method)
{
    dapr_kv_t *hk = dapr__pool_alloc(&req->pool, (req->n_headers + 1) * sizeof(*hk));
    if (!hk) {
        dapr__http_send_error(req, NULL);
        return;
    }
    for (size_t i = 0; i < req->n_headers; i++)
        hk[i] = (dapr_kv_t){req->headers[i].name, req->headers[i].value};
    dapr__invoke_req_t r = {
        .app_id = app_id,
        .method = method,
        .verb = req->method,
        .query = req->query && *req->query ? req->query : NULL,
        .content_type = dapr__http_req_header(req, "Content-Type"),
        .headers = hk,
        .n_headers = req->n_headers,
        .body = req->body,
        .body_len = req->body_len,
        .stream_resp_ok = true,
    };
    if (req->streamed) {
        hbody_t *b = hbody_new(req);
        if (!b) {
            dapr__http_send_error(req, NULL);
            return;
        }
        r.body_stream = &b->s;
        req->user = b; /* invoke_done asks how the body ended */
    }
    dapr__invoke(rt, &req->pool, &r, invoke_done, req);
}

static void invoke_route(dapr_runtime_t *rt, dapr__http_req_t *req)
{
    /* /v1.0/invoke/{appId}/method/{method...}: appId up to the first /method/ */
    const char *p = req->path + strlen("/v1.0/invoke/");
    const char *m = strstr(p, "/method/");
    const char *hdr = dapr__http_req_header(req, "dapr-app-id");
    if (hdr && *hdr) {
        invoke_to(rt, req, hdr, req->path + 1);
        return;
    }
    if (!m || m == p) {
        dapr__http_send_errorf(req, DAPR_ERR_DIRECT_INVOKE_NO_APPID,
                               "failed getting app id either from the URL path or the header "
                               "dapr-app-id");
        return;
    }
    char *id = dapr__pool_alloc(&req->pool, (size_t)(m - p) + 1);
    if (!id || dapr__url_unescape(p, (size_t)(m - p), id, false) < 0) {
        dapr__http_respond(req, 400, NULL, 0, "bad escape in path", 18);
        return;
    }
    /* a URL as the app id: path cleaning made "http://h" "http:/h" */
    for (int k = 0; k < 2; k++) {
        const char *scheme = k ? "https:/" : "http:/";
        size_t sl = strlen(scheme);
        if (!strncmp(id, scheme, sl) && id[sl] != '/') {
            char *u = dapr__pool_printf(&req->pool, "%s/%s", scheme, id + sl);
            if (u)
                id = u;
        }
    }
    invoke_to(rt, req, id, m + strlen("/method/"));
}

/* dapr-app-id from the header or from Basic auth "dapr-app-id:<id>". */
static const char *fallback_app_id(dapr__http_req_t *req)
{
    const char *h = dapr__http_req_header(req, "dapr-app-id");
    if (h && *h)
        return h;
    const char *a = dapr__http_req_header(req, "authorization");
    if (!a || strncasecmp(a, "basic ", 6))
        return NULL;
    /* decode base64 of "dapr-app-id:<id>" */
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const char *s = a + 6;
    size_t n = strlen(s);
    char *out = dapr__pool_alloc(&req->pool, n + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    unsigned acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n && s[i] != '='; i++) {
        const char *pos = strchr(tbl, s[i]);
        if (!pos || !s[i])
            return NULL;
        acc = (acc << 6) | (unsigned)(pos - tbl);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (char)((acc >> bits) & 0xff);
        }
    }
    out[o] = 0;
    const char *colon = strchr(out, ':');
    if (!colon || (size_t)(colon - out) != 11 || strncasecmp(out, "dapr-app-id", 11))
        return NULL;
    return colon[1] ? colon + 1 : NULL;
}

static void not_found(dapr_runtime_t *rt, dapr__http_req_t *req)
{
    const char *id = fallback_app_id(req);
    if (id) {
        invoke_to(rt, req, id, req->path + 1);
        return;
    }
    dapr__http_send_errorf(req, DAPR_ERR_DIRECT_INVOKE_NO_APPID,
                           "failed getting app id either from the URL path or the header "
                           "dapr-app-id");
}

/* Constant-time comparison: the token must not leak through timing. */
static bool token_ok(const char *got, const char *want)
{
    if (!got)
        return false;
    size_t gl = strlen(got), wl = strlen(want);
    unsigned char d = gl != wl;
    for (size_t i = 0; i < wl; i++)
        d |= (unsigned char)(want[i] ^ (i < gl ? got[i] : 0));
    return d == 0;
}

static bool token_exempt(const dapr__http_req_t *req)
{
    return !strcmp(req->method, "GET") &&
           (!strcmp(req->path, "/v1.0/healthz") || !strcmp(req->path, "/v1.0/healthz/outbound"));
}

void dapr__http_dispatch(dapr__http_req_t *req, void *ud)
{
    dapr_runtime_t *rt = ud;
    size_t plen = strlen(req->path);
    char *clean = dapr__pool_alloc(&req->pool, plen + 2);
    if (!clean) {
        dapr__http_send_error(req, NULL);
        return;
    }
    dapr__path_clean(req->path, plen, clean);
    req->path = clean;
    if (rt->opt.enable_api_logging)
        DAPR_LOG(&rt->log, DAPR_LOG_INFO, "dapr.runtime.http-info", "HTTP API Called: %s %s",
                 req->method, req->path);
    if (rt->api_token && *rt->api_token && !token_exempt(req) &&
        !token_ok(dapr__http_req_header(req, "dapr-api-token"), rt->api_token)) {
        static const dapr__http_hdr_t h[] = {{"Content-Type", "text/plain; charset=utf-8"},
                                             {"X-Content-Type-Options", "nosniff"}};
        dapr__http_respond(req, 401, h, 2, "invalid api token\n", 18);
        return;
    }
    unsigned mb = method_bit(req->method);
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        if (!(routes[i].methods & mb))
            continue;
        int m = match(routes[i].pattern, req->path, req);
        if (m < 0) {
            static const dapr__http_hdr_t h[] = {{"Content-Type", "text/plain; charset=utf-8"}};
            static const char msg[] = "invalid URL escape in path\n";
            dapr__http_respond(req, 400, h, 1, msg, sizeof(msg) - 1);
            return;
        }
        if (m) {
            req->route = &routes[i];
            if (req->streamed && routes[i].fn != invoke_route)
                call_whole(rt, req, routes[i].fn);
            else
                routes[i].fn(rt, req);
            return;
        }
    }
    not_found(rt, req);
}
