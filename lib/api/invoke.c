/* Service invocation, protocol-neutral (see invoke.h). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/invoke.h"
#include "core/alloc.h"
#include "core/errors.h"
#include "core/strutil.h"
#include "runtime/app_channel.h"
#include "runtime/remote.h"
#include "runtime/resiliency.h"
#include "runtime/runtime_int.h"

/* Header name sets, checked for every header of every call: the length
 * first, then a case-insensitive compare. */
typedef struct hname {
    size_t len;
    const char *name;
} hname_t;

#define HN(s) {sizeof(s) - 1, s}

static bool in_set(const char *name, size_t len, const hname_t *set, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (set[i].len == len && dapr__strieq_n(name, len, set[i].name))
            return true;
    return false;
}

static bool dropped(const char *name, size_t len)
{
    static const hname_t drop[] = {
        HN("connection"), HN("keep-alive"), HN("proxy-connection"), HN("proxy-authenticate"),
        HN("proxy-authorization"), HN("te"), HN("trailer"), HN("trailers"),
        HN("transfer-encoding"), HN("upgrade"), HN("host"), HN("content-length"),
        HN("dapr-api-token"), HN("grpc-timeout"), HN("grpc-encoding"),
        HN("grpc-accept-encoding"), HN("http2-settings"), HN("expect")};
    return name[0] == ':' || in_set(name, len, drop, sizeof(drop) / sizeof(drop[0]));
}

bool dapr__invoke_header_dropped(const char *name)
{
    return !name || !*name || dropped(name, strlen(name));
}

bool dapr__invoke_header_passed(const char *name)
{
    static const hname_t ours[] = {HN("content-type"), HN("dapr-caller-app-id"),
                                   HN("dapr-callee-app-id")};
    if (!name || !*name)
        return false;
    size_t len = strlen(name);
    return !dropped(name, len) && !in_set(name, len, ours, sizeof(ours) / sizeof(ours[0]));
}

static const char *const verb_names[] = {NULL, "GET", "HEAD", "POST", "PUT", "DELETE",
                                         "CONNECT", "OPTIONS", "TRACE", "PATCH"};

const char *dapr__invoke_verb_name(int verb)
{
    return verb > 0 && (size_t)verb < sizeof(verb_names) / sizeof(verb_names[0])
               ? verb_names[verb]
               : NULL;
}

int dapr__invoke_verb_number(const char *name)
{
    for (size_t i = 1; name && i < sizeof(verb_names) / sizeof(verb_names[0]); i++)
        if (!strcasecmp(name, verb_names[i]))
            return (int)i;
    return 0;
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

/* Where a call goes: the own app, an external HTTP endpoint, another app. */
typedef struct target {
    bool self;
    dapr__appch_t *ext;
} target_t;

/* One attempt, without policies. */
static void dispatch(dapr_runtime_t *rt, dapr__pool_t *pool, const dapr__invoke_req_t *req,
                     target_t t, dapr__invoke_cb cb, void *data)
{
    if (t.ext)
        dapr__appch_invoke(t.ext, pool, req, rt->opt.app_id, cb, data);
    else if (t.self)
        dapr__appch_invoke(rt->appch, pool, req, rt->opt.app_id, cb, data);
    else
        dapr__remote_invoke(rt->remote, pool, req, cb, data);
}

/* ---------------------------------------------------------------------
 * Under a resiliency policy (timeouts, retries, circuit breaker).
 *
 * The operation owns copies of the request (an attempt may outlive the
 * caller's answer when a timeout abandons it) and of the last attempt's
 * result. It is freed when the caller was answered and no attempt is in
 * flight; an abandoned attempt's late result is dropped.
 * ------------------------------------------------------------------- */

typedef struct rop rop_t;

typedef struct att {
    rop_t *o;
    dapr__pool_t pool;
    bool abandoned;
} att_t;

struct rop {
    dapr_runtime_t *rt;
    unsigned refs;
    target_t t;
    dapr__pool_t pool; /* the request copy */
    dapr__invoke_req_t req;
    dapr__resil_policy_t *policy;
    dapr__resil_op_t *op;
    att_t *cur;
    dapr__invoke_cb cb;
    void *data;
    /* the last attempt's result, copied */
    dapr__pool_t res_pool;
    dapr__apierr_t *err;
    bool have_resp;
    dapr__invoke_resp_t resp;
};

static void rop_unref(rop_t *o)
{
    if (--o->refs)
        return;
    dapr__apierr_free(o->err);
    dapr__pool_destroy(&o->res_pool);
    dapr__pool_destroy(&o->pool);
    dapr__free(o);
}

static const char *pdup(dapr__pool_t *p, const char *s) { return s ? dapr__pool_strdup(p, s) : NULL; }

/* Keep a copy of an attempt's result (the originals die with the callback). */
static void keep_result(rop_t *o, const dapr__apierr_t *err, const dapr__invoke_resp_t *r)
{
    dapr__apierr_free(o->err);
    o->err = NULL;
    o->have_resp = false;
    dapr__pool_destroy(&o->res_pool);
    dapr__pool_init(&o->res_pool, 1024);
    if (err) {
        o->err = dapr__apierr_new(err->id, "%s", err->message);
        return;
    }
    dapr__pool_t *p = &o->res_pool;
    dapr__invoke_resp_t c = *r;
    c.grpc_message = pdup(p, r->grpc_message);
    c.content_type = pdup(p, r->content_type);
    dapr_kv_t *h = dapr__pool_alloc(p, (r->n_headers ? r->n_headers : 1) * sizeof(*h));
    uint8_t *b = dapr__pool_alloc(p, r->body_len ? r->body_len : 1);
    if (!h || !b) {
        o->err = dapr__apierr_new(DAPR_ERR_DIRECT_INVOKE, "failed to invoke, id: %s, err: out "
                                  "of memory", o->req.app_id);
        return;
    }
    for (size_t i = 0; i < r->n_headers; i++)
        h[i] = (dapr_kv_t){pdup(p, r->headers[i].key), pdup(p, r->headers[i].value)};
    if (r->body_len)
        memcpy(b, r->body, r->body_len);
    c.headers = h;
    c.body = b;
    o->resp = c;
    o->have_resp = true;
}

static void attempt_result(const dapr__apierr_t *err, const dapr__invoke_resp_t *r, void *data)
{
    att_t *a = data;
    rop_t *o = a->o;
    if (!a->abandoned) {
        keep_result(o, err, r);
        int status = 0;
        bool retry = true;
        if (err || !r) {
            status = DAPR_EUNAVAIL;
        } else if (r->grpc_app && r->grpc_status) {
            status = DAPR_EIO;
            retry = dapr__resil_retry_grpc_status(o->policy, r->grpc_status);
        } else if (!r->grpc_app && r->http_status >= 500) {
            status = DAPR_EIO;
            retry = dapr__resil_retry_http_status(o->policy, r->http_status);
        }
        o->cur = NULL;
        dapr__resil_attempt_done(o->op, status, retry);
    }
    dapr__pool_destroy(&a->pool);
    dapr__free(a);
    rop_unref(o);
}

static void attempt_start(dapr__resil_op_t *op, void *ud)
{
    rop_t *o = ud;
    att_t *a = dapr__calloc(1, sizeof(*a));
    if (!a) {
        dapr__resil_attempt_done(op, DAPR_ENOMEM, false);
        return;
    }
    a->o = o;
    dapr__pool_init(&a->pool, 2048);
    o->refs++;
    o->cur = a;
    dispatch(o->rt, &a->pool, &o->req, o->t, attempt_result, a);
}

static void attempt_cancel(dapr__resil_op_t *op, int reason, void *ud)
{
    rop_t *o = ud;
    (void)op, (void)reason;
    if (o->cur) {
        o->cur->abandoned = true; /* its result is dropped when it comes */
        o->cur = NULL;
    }
}

static void op_done(int status, unsigned attempts, void *ud)
{
    rop_t *o = ud;
    (void)attempts;
    dapr__apierr_t *e = NULL;
    if (dapr__resil_is_breaker_error(status) || status == DAPR_ETIMEDOUT ||
        status == DAPR_ECANCELED || (status && !o->err && !o->have_resp)) {
        e = dapr__apierr_new(DAPR_ERR_DIRECT_INVOKE, "failed to invoke, id: %s, err: %s",
                             o->req.app_id,
                             status == DAPR_ETIMEDOUT ? "context deadline exceeded"
                                                      : dapr__resil_strerror(status));
        o->cb(e, NULL, o->data);
        dapr__apierr_free(e);
    } else if (o->err) {
        o->cb(o->err, NULL, o->data);
    } else {
        o->cb(NULL, &o->resp, o->data);
    }
    o->op = NULL;
    rop_unref(o);
}

static int copy_req(rop_t *o, const dapr__invoke_req_t *q)
{
    dapr__pool_t *p = &o->pool;
    dapr__invoke_req_t c = *q;
    c.app_id = pdup(p, q->app_id);
    c.method = pdup(p, q->method);
    c.verb = pdup(p, q->verb);
    c.query = pdup(p, q->query);
    c.content_type = pdup(p, q->content_type);
    dapr_kv_t *h = dapr__pool_alloc(p, (q->n_headers ? q->n_headers : 1) * sizeof(*h));
    uint8_t *b = dapr__pool_alloc(p, q->body_len ? q->body_len : 1);
    if (!c.app_id || !c.method || !h || !b)
        return DAPR_ENOMEM;
    for (size_t i = 0; i < q->n_headers; i++)
        h[i] = (dapr_kv_t){pdup(p, q->headers[i].key), pdup(p, q->headers[i].value)};
    if (q->body_len)
        memcpy(b, q->body, q->body_len);
    c.headers = h;
    c.body = b;
    o->req = c;
    return 0;
}

static void run_with_policy(dapr_runtime_t *rt, dapr__resil_policy_t *pol,
                            const dapr__invoke_req_t *req, target_t t, dapr__invoke_cb cb,
                            void *data)
{
    rop_t *o = dapr__calloc(1, sizeof(*o));
    if (o) {
        o->rt = rt;
        o->refs = 1;
        o->t = t;
        o->policy = pol;
        o->cb = cb;
        o->data = data;
        dapr__pool_init(&o->pool, 2048);
        dapr__pool_init(&o->res_pool, 64);
    }
    if (!o || copy_req(o, req) ||
        dapr__resil_run(rt->loop, pol, attempt_start, attempt_cancel, op_done, o, &o->op)) {
        dapr__apierr_t *e = dapr__apierr_new(DAPR_ERR_DIRECT_INVOKE, "failed to invoke, id: %s, "
                                             "err: out of memory", req->app_id);
        cb(e, NULL, data);
        dapr__apierr_free(e);
        if (o)
            rop_unref(o);
    }
}

/* ---------------------------------------------------------------------
 * Streams read whole (targets that need the body in one piece).
 * ------------------------------------------------------------------- */

typedef struct collect {
    dapr__istream_t *s;
    size_t max;
    dapr__buf_t buf;
    dapr__istream_collect_cb done;
    void *ud;
} collect_t;

static void collect_finish(collect_t *c, int status)
{
    uint8_t *data = NULL;
    size_t len = 0;
    if (!status && c->buf.oom)
        status = DAPR_ENOMEM;
    if (!status) {
        if (dapr__buf_append(&c->buf, "", 1)) /* the NUL, not counted */
            status = DAPR_ENOMEM;
        else
            data = (uint8_t *)dapr__buf_steal(&c->buf, &len);
        if (data)
            len--;
    }
    dapr__buf_free(&c->buf);
    dapr__istream_collect_cb done = c->done;
    void *ud = c->ud;
    dapr__free(c);
    done(status, status ? NULL : data, status ? 0 : len, ud);
}

static void collect_data(void *ud, const void *data, size_t len)
{
    collect_t *c = ud;
    if (len > c->max - c->buf.len) {
        c->s->cancel(c->s);
        collect_finish(c, DAPR_ETOOBIG);
        return;
    }
    dapr__buf_append(&c->buf, data, len);
}

static void collect_end(void *ud) { collect_finish(ud, 0); }
static void collect_error(void *ud, int code) { collect_finish(ud, code ? code : DAPR_EIO); }

static const dapr__istream_sink_t collect_sink = {collect_data, collect_end, collect_error};

int dapr__istream_collect(dapr__istream_t *s, size_t max, dapr__istream_collect_cb done, void *ud)
{
    if (s->length > 0 && (uint64_t)s->length > max)
        return DAPR_ETOOBIG;
    collect_t *c = dapr__calloc(1, sizeof(*c));
    if (!c)
        return DAPR_ENOMEM;
    *c = (collect_t){.s = s, .max = max, .buf = DAPR__BUF_INIT, .done = done, .ud = ud};
    if (s->length > 0 && dapr__buf_reserve(&c->buf, (size_t)s->length + 1)) {
        dapr__free(c);
        return DAPR_ENOMEM;
    }
    s->read(s, &collect_sink, c);
    return 0;
}

/* A streamed request body for a target that needs it whole: read it first
 * (at most --max-body-size), then go on as a buffered call. */
typedef struct whole {
    dapr_runtime_t *rt;
    dapr__pool_t *pool;
    dapr__invoke_req_t req;
    dapr__resil_policy_t *pol;
    target_t t;
    dapr__invoke_cb cb;
    void *data;
    uint8_t *body;
} whole_t;

static void whole_answer(const dapr__apierr_t *err, const dapr__invoke_resp_t *r, void *ud)
{
    whole_t *w = ud;
    w->cb(err, r, w->data);
    dapr__free(w->body);
    dapr__free(w);
}

static void whole_read(int status, uint8_t *data, size_t len, void *ud)
{
    whole_t *w = ud;
    if (status) {
        dapr__apierr_t *e =
            status == DAPR_ETOOBIG
                ? dapr__apierr_new(DAPR_ERR_BODY_TOO_LARGE, "request body too large: over "
                                   "the %lld bytes allowed (--max-body-size)",
                                   (long long)w->rt->opt.max_body_size)
                : dapr__apierr_new(DAPR_ERR_DIRECT_INVOKE, "failed to invoke, id: %s, err: "
                                   "reading the request body: %s", w->req.app_id,
                                   dapr_strerror(status));
        whole_answer(e, NULL, w);
        dapr__apierr_free(e);
        return;
    }
    w->body = data;
    w->req.body = data;
    w->req.body_len = len;
    w->req.body_stream = NULL;
    if (w->pol)
        run_with_policy(w->rt, w->pol, &w->req, w->t, whole_answer, w);
    else
        dispatch(w->rt, w->pool, &w->req, w->t, whole_answer, w);
}

static void read_whole(dapr_runtime_t *rt, dapr__pool_t *pool, const dapr__invoke_req_t *req,
                       dapr__resil_policy_t *pol, target_t t, dapr__invoke_cb cb, void *data)
{
    whole_t *w = dapr__calloc(1, sizeof(*w));
    int rc = DAPR_ENOMEM;
    if (w) {
        *w = (whole_t){.rt = rt, .pool = pool, .req = *req, .pol = pol, .t = t, .cb = cb,
                       .data = data};
        w->req.stream_resp_ok = false;
        rc = dapr__istream_collect(req->body_stream, (size_t)rt->opt.max_body_size, whole_read,
                                   w);
        if (!rc)
            return;
    }
    req->body_stream->cancel(req->body_stream);
    dapr__apierr_t *e = rc == DAPR_ETOOBIG
                            ? dapr__apierr_new(DAPR_ERR_BODY_TOO_LARGE, "request body too "
                                               "large: over the %lld bytes allowed "
                                               "(--max-body-size)",
                                               (long long)rt->opt.max_body_size)
                            : dapr__apierr_new(DAPR_ERR_DIRECT_INVOKE, "failed to invoke, id: "
                                               "%s, err: out of memory", req->app_id);
    dapr__free(w);
    cb(e, NULL, data);
    dapr__apierr_free(e);
}

void dapr__invoke(dapr_runtime_t *rt, dapr__pool_t *pool, const dapr__invoke_req_t *req,
                  dapr__invoke_cb cb, void *data)
{
    dapr__apierr_t *e = NULL;
    target_t t = {0};
    char why[256] = "";
    int rc = DAPR_ENOTFOUND;
    if (!req->app_id || !*req->app_id) {
        e = dapr__apierr_new(DAPR_ERR_DIRECT_INVOKE_NO_APPID, "failed getting app id either "
                             "from the URL path or the header dapr-app-id");
    } else if ((rc = dapr__runtime_endpoint(rt, req->app_id, &t.ext, why, sizeof(why))) &&
               rc != DAPR_ENOTFOUND) {
        e = dapr__apierr_new(DAPR_ERR_DIRECT_INVOKE, "failed to invoke, id: %s, err: %s",
                             req->app_id, why[0] ? why : dapr_strerror(rc));
    } else if (!t.ext && !(t.self = is_self(rt, req->app_id)) && !rt->remote) {
        e = dapr__apierr_new(DAPR_ERR_DIRECT_INVOKE, "failed to invoke, id: %s, err: "
                             "failed to resolve address for '%s': name resolution is not "
                             "running", req->app_id, req->app_id);
    } else if (t.self && !rt->appch) {
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
    dapr__resil_policy_t *pol = rt->resil ? dapr__resil_policy_for_app(rt->resil, req->app_id)
                                          : NULL;
    /* Bodies stream through when the call is made once (retries need the
     * body again) to an HTTP app, an HTTP endpoint or another sidecar
     * (CallLocalStream); our own gRPC app takes it in one message. */
    bool streams = !pol && !(t.self && dapr__appch_grpc_channel(rt->appch));
    if (!streams)
        clean.stream_resp_ok = false;
    if (!streams && clean.body_stream) {
        read_whole(rt, pool, &clean, pol, t, cb, data);
        return;
    }
    if (pol)
        run_with_policy(rt, pol, &clean, t, cb, data);
    else
        dispatch(rt, pool, &clean, t, cb, data);
}
