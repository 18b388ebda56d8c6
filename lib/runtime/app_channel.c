/* The app channel (see app_channel.h). gRPC apps: AppCallback/OnInvoke;
 * HTTP apps: the HTTP/1.1 client of lib/http (keep-alive pool,
 * --app-max-concurrency as its in-flight bound). */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "app_channel.h"
#include "app_inproc.h"
#include "core/alloc.h"
#include "core/log.h"
#include "core/strutil.h"
#include "dapr/common.h"
#include "dapr/proto/common/v1/common.pb-c.h"
#include "grpc/grpc.h"
#include "http/client.h"
#include "runtime_int.h"

#define SCOPE "dapr.runtime.channel"
#define ON_INVOKE "/dapr.proto.runtime.v1.AppCallback/OnInvoke"

struct dapr__appch {
    dapr_runtime_t *rt;
    dapr__grpc_channel_t *grpc;
    dapr__http_client_t *http;
    dapr__inproc_t *inproc; /* the embedding program is the app (app_inproc.h) */
    /* HTTP endpoints: the base path of spec.baseUrl and its headers */
    char *base_path;
    char *app_token; /* APP_API_TOKEN (read once), NULL when unset or empty */
    dapr_kv_t *extra;
    size_t n_extra;
    void (*done)(void *);
    void *done_ud;
};

typedef struct gcall {
    dapr__appch_t *ch;
    dapr__pool_t *pool;
    dapr__invoke_cb cb;
    void *data;
    uint8_t *msg; /* the response message (first one), malloc'd */
    size_t msg_len;
    bool have_msg;
    dapr_kv_t *hdrs;
    size_t n_hdrs;
} gcall_t;

/* APP_API_TOKEN goes to the app with every call: read it once. */
static int read_app_token(dapr__appch_t *ch)
{
    const char *tok = getenv("APP_API_TOKEN");
    if (!tok || !*tok)
        return 0;
    ch->app_token = dapr__strdup(tok);
    return ch->app_token ? 0 : DAPR_ENOMEM;
}

int dapr__appch_create(dapr_runtime_t *rt, dapr__appch_t **out)
{
    const char *proto = rt->opt.app_protocol ? rt->opt.app_protocol : "http";
    bool grpc = !strcmp(proto, "grpc");
    if (!grpc && strcmp(proto, "http") != 0)
        return DAPR_ENOTSUP;
    dapr__appch_t *ch = dapr__calloc(1, sizeof(*ch));
    if (!ch)
        return DAPR_ENOMEM;
    ch->rt = rt;
    const char *host = rt->opt.app_channel_address && *rt->opt.app_channel_address
                           ? rt->opt.app_channel_address
                           : "127.0.0.1";
    if (!grpc) {
        dapr__http_client_config_t cfg = {
            .loop = rt->loop,
            .log = &rt->log,
            .host = host,
            .port = rt->opt.app_port,
            .max_concurrency =
                rt->opt.app_max_concurrency > 0 ? (unsigned)rt->opt.app_max_concurrency : 0,
        };
        int rc = read_app_token(ch);
        if (!rc)
            rc = dapr__http_client_create(&ch->http, &cfg);
        if (rc) {
            dapr__free(ch->app_token);
            dapr__free(ch);
            return rc;
        }
        *out = ch;
        return 0;
    }
    int rc = dapr__grpc_channel_create(&ch->grpc, rt->loop, host, rt->opt.app_port, &rt->log);
    if (rc) {
        dapr__free(ch);
        return rc;
    }
    dapr__grpc_channel_set_max_recv_msg(ch->grpc, (size_t)rt->opt.max_body_size);
    *out = ch;
    return 0;
}

static void g_headers(dapr__grpc_ccall_t *cc, const dapr__grpc_md_t *md, size_t n, void *ud)
{
    gcall_t *g = ud;
    (void)cc;
    g->hdrs = dapr__pool_alloc(g->pool, (n ? n : 1) * sizeof(*g->hdrs));
    if (!g->hdrs)
        return;
    for (size_t i = 0; i < n; i++) {
        g->hdrs[g->n_hdrs].key = dapr__pool_strdup(g->pool, md[i].key);
        g->hdrs[g->n_hdrs].value = dapr__pool_strndup(g->pool, (const char *)md[i].value,
                                                      md[i].len);
        if (g->hdrs[g->n_hdrs].key && g->hdrs[g->n_hdrs].value &&
            !strchr(md[i].key, ':') && strcmp(md[i].key, "content-type") != 0)
            g->n_hdrs++;
    }
}

static void g_message(dapr__grpc_ccall_t *cc, const uint8_t *msg, size_t len, void *ud)
{
    gcall_t *g = ud;
    (void)cc;
    /* OnInvoke is unary: a second message is ignored */
    dapr__grpc_keep_first(&g->msg, &g->msg_len, msg, len);
    g->have_msg = g->msg != NULL;
}

static void g_close(dapr__grpc_ccall_t *cc, int status, const char *message,
                    const dapr__grpc_md_t *trailers, size_t n, void *ud)
{
    gcall_t *g = ud;
    (void)cc, (void)trailers, (void)n;
    dapr__invoke_resp_t r = {.http_status = 200, .grpc_app = true, .headers = g->hdrs,
                             .n_headers = g->n_hdrs};
    Dapr__Proto__Common__V1__InvokeResponse *ir = NULL;
    dapr__apierr_t *err = NULL;
    if (status == DAPR_GRPC_UNAVAILABLE && !g->have_msg) {
        err = dapr__apierr_new(DAPR_ERR_DIRECT_INVOKE,
                               "failed to invoke, id: %s, err: rpc error: code = Unavailable "
                               "desc = %s", g->ch->rt->opt.app_id, message ? message : "");
    } else if (status != 0) {
        r.grpc_status = status;
        r.grpc_message = message ? message : "";
        r.http_status = dapr__invoke_http_status(status);
    } else if (g->have_msg) {
        ir = dapr__proto__common__v1__invoke_response__unpack(NULL, g->msg_len, g->msg);
        if (!ir) {
            err = dapr__apierr_new(DAPR_ERR_DIRECT_INVOKE,
                                   "failed to invoke, id: %s, err: cannot parse the app's "
                                   "InvokeResponse", g->ch->rt->opt.app_id);
        } else {
            if (ir->data) {
                r.body = ir->data->value.data;
                r.body_len = ir->data->value.len;
            }
            r.content_type = ir->content_type && *ir->content_type ? ir->content_type : NULL;
        }
    }
    g->cb(err, err ? NULL : &r, g->data);
    dapr__apierr_free(err);
    if (ir)
        dapr__proto__common__v1__invoke_response__free_unpacked(ir, NULL);
    dapr__free(g->msg);
    dapr__free(g);
}

static const dapr__grpc_ccall_cbs_t g_cbs = {
    .on_headers = g_headers, .on_message = g_message, .on_close = g_close};

static void fail(dapr__invoke_cb cb, void *data, dapr_runtime_t *rt, const char *why)
{
    dapr__apierr_t *e = dapr__apierr_new(DAPR_ERR_DIRECT_INVOKE,
                                         "failed to invoke, id: %s, err: %s", rt->opt.app_id, why);
    cb(e, NULL, data);
    dapr__apierr_free(e);
}

/* --- HTTP apps ------------------------------------------------------------ */

/* Bodies at most this large (or a request of this size) are buffered; larger
 * ones, and those of unknown length, stream through. */
#define STREAM_MIN (64 * 1024)

typedef struct hcall {
    dapr__appch_t *ch;
    dapr__pool_t *pool;
    dapr__invoke_cb cb;
    void *data;
    dapr__http_creq_t *creq;
    int status;
    dapr_kv_t *hdrs;
    size_t n_hdrs;
    const char *ctype;
    dapr__buf_t body;
    bool too_big;
    /* a streamed request body: the caller's stream, our end of it */
    dapr__istream_t *in;
    bool in_done;   /* ended, failed or cancelled: not to be touched */
    bool in_paused;
    dapr__buf_t held; /* bytes the client could not take yet */
    /* a streamed response body */
    bool answered;  /* cb ran */
    dapr__istream_t out;
    const dapr__istream_sink_t *sink;
    void *sink_ud;
    bool out_cancelled;
} hcall_t;

/* The request stream is done with (before any final event, see invoke.h). */
static void in_release(hcall_t *h)
{
    if (h->in && !h->in_done) {
        h->in_done = true;
        h->in->cancel(h->in);
    }
    dapr__buf_free(&h->held);
}

static void h_free(hcall_t *h)
{
    dapr__buf_free(&h->body);
    dapr__buf_free(&h->held);
    dapr__free(h);
}

/* --- the response body as a stream (dapr__istream_t) --- */

static void out_read(dapr__istream_t *s, const dapr__istream_sink_t *sink, void *ud)
{
    hcall_t *h = (hcall_t *)((char *)s - offsetof(hcall_t, out));
    h->sink = sink;
    h->sink_ud = ud;
}

static void out_pause(dapr__istream_t *s)
{
    hcall_t *h = (hcall_t *)((char *)s - offsetof(hcall_t, out));
    if (h->creq)
        dapr__http_creq_pause(h->creq);
}

static void out_resume(dapr__istream_t *s)
{
    hcall_t *h = (hcall_t *)((char *)s - offsetof(hcall_t, out));
    if (h->creq)
        dapr__http_creq_resume(h->creq);
}

static void out_cancel(dapr__istream_t *s)
{
    hcall_t *h = (hcall_t *)((char *)s - offsetof(hcall_t, out));
    h->out_cancelled = true;
    h->sink = NULL;
    if (h->creq)
        dapr__http_creq_cancel(h->creq); /* its on_error frees h, later */
}

static void h_response(dapr__http_creq_t *r, const dapr__http_cresp_t *resp, void *ud)
{
    hcall_t *h = ud;
    h->status = resp->status;
    /* names and values die with this callback: one copy of them all */
    size_t n = resp->n_headers, bytes = 0;
    for (size_t i = 0; i < n; i++)
        bytes += strlen(resp->headers[i].name) + strlen(resp->headers[i].value) + 2;
    h->hdrs = dapr__pool_alloc(h->pool, (n ? n : 1) * sizeof(*h->hdrs) + bytes);
    char *p = h->hdrs ? (char *)(h->hdrs + (n ? n : 1)) : NULL;
    for (size_t i = 0; p && i < n; i++) {
        size_t kl = strlen(resp->headers[i].name), vl = strlen(resp->headers[i].value);
        char *k = p, *v = p + kl + 1;
        memcpy(k, resp->headers[i].name, kl + 1);
        memcpy(v, resp->headers[i].value, vl + 1);
        p = v + vl + 1;
        if (kl == 12 && dapr__strieq_n(k, kl, "content-type"))
            h->ctype = v;
        else
            h->hdrs[h->n_hdrs++] = (dapr_kv_t){k, v};
    }
    bool small = resp->content_length >= 0 && resp->content_length <= STREAM_MIN;
    if (small && resp->content_length > 0 &&
        resp->content_length <= h->ch->rt->opt.max_body_size)
        dapr__buf_reserve(&h->body, (size_t)resp->content_length); /* one allocation */
    if (!h->out.read || !h->hdrs || small)
        return; /* small: buffered */
    /* hand the head over now, the body follows as a stream */
    h->out.length = resp->content_length;
    dapr__invoke_resp_t ir = {.http_status = h->status, .content_type = h->ctype,
                              .headers = h->hdrs, .n_headers = h->n_hdrs,
                              .body = (const uint8_t *)"", .body_stream = &h->out};
    h->answered = true;
    h->cb(NULL, &ir, h->data);
    if (!h->sink && !h->out_cancelled)
        out_cancel(&h->out); /* the caller broke the contract: do not leak */
    (void)r;
}

static void h_body(dapr__http_creq_t *r, const void *data, size_t len, void *ud)
{
    hcall_t *h = ud;
    if (h->answered) {
        if (h->sink)
            h->sink->on_data(h->sink_ud, data, len);
        return;
    }
    if (h->too_big)
        return;
    if (h->body.len + len > (size_t)h->ch->rt->opt.max_body_size) {
        h->too_big = true;
        dapr__http_creq_cancel(r); /* on_error follows */
        return;
    }
    dapr__buf_append(&h->body, data, len);
}

static void h_finish(hcall_t *h, dapr__apierr_t *err)
{
    in_release(h);
    dapr__invoke_resp_t r = {.http_status = h->status, .content_type = h->ctype,
                             .headers = h->hdrs, .n_headers = h->n_hdrs,
                             .body = (const uint8_t *)h->body.data, .body_len = h->body.len};
    h->cb(err, err ? NULL : &r, h->data);
    dapr__apierr_free(err);
    h_free(h);
}

static void h_end(dapr__http_creq_t *r, const dapr__http_hdr_t *trailers, size_t n, void *ud)
{
    hcall_t *h = ud;
    (void)r, (void)trailers, (void)n;
    if (h->answered) {
        in_release(h);
        const dapr__istream_sink_t *sink = h->sink;
        void *sud = h->sink_ud;
        h_free(h);
        if (sink)
            sink->on_end(sud);
        return;
    }
    if (h->body.oom) {
        h_finish(h, dapr__apierr_new(DAPR_ERR_DIRECT_INVOKE, "failed to invoke, id: %s, err: "
                                     "out of memory", h->ch->rt->opt.app_id));
        return;
    }
    h_finish(h, NULL);
}

static void h_error(dapr__http_creq_t *r, const dapr_error_t *err, void *ud)
{
    hcall_t *h = ud;
    (void)r;
    if (h->answered) {
        in_release(h);
        const dapr__istream_sink_t *sink = h->sink;
        void *sud = h->sink_ud;
        h_free(h);
        if (sink)
            sink->on_error(sud, err ? err->code : DAPR_EIO);
        return;
    }
    if (h->too_big)
        h_finish(h, dapr__apierr_new(DAPR_ERR_DIRECT_INVOKE, "failed to invoke, id: %s, err: "
                                     "the app's response is larger than the %lld bytes allowed",
                                     h->ch->rt->opt.app_id,
                                     (long long)h->ch->rt->opt.max_body_size));
    else
        h_finish(h, dapr__apierr_new(DAPR_ERR_DIRECT_INVOKE, "failed to invoke, id: %s, err: %s",
                                     h->ch->rt->opt.app_id,
                                     err && err->message[0] ? err->message
                                                            : dapr_strerror(err ? err->code : 0)));
}

/* --- the request body from a stream --- */

static void in_data(void *ud, const void *data, size_t len)
{
    hcall_t *h = ud;
    if (h->held.len) {
        dapr__buf_append(&h->held, data, len);
        return;
    }
    int rc = dapr__http_creq_write(h->creq, data, len);
    if (rc == DAPR_EAGAIN) {
        dapr__buf_append(&h->held, data, len);
        if (!h->in_paused) {
            h->in_paused = true;
            h->in->pause(h->in);
        }
    } else if (rc) {
        in_release(h); /* the client's final callback follows */
    }
}

static void in_end(void *ud)
{
    hcall_t *h = ud;
    h->in_done = true;
    if (!h->held.len)
        dapr__http_creq_end(h->creq);
}

static void in_error(void *ud, int code)
{
    hcall_t *h = ud;
    (void)code;
    h->in_done = true;
    dapr__buf_free(&h->held);
    dapr__http_creq_cancel(h->creq); /* its on_error ends the call */
}

static const dapr__istream_sink_t in_sink = {in_data, in_end, in_error};

static void h_writable(dapr__http_creq_t *r, void *ud)
{
    hcall_t *h = ud;
    if (h->held.len) {
        int rc = dapr__http_creq_write(r, h->held.data, h->held.len);
        if (rc == DAPR_EAGAIN)
            return;
        dapr__buf_reset(&h->held);
        if (rc) {
            in_release(h);
            return;
        }
    }
    if (h->in_done && h->in) {
        if (!h->held.len)
            dapr__http_creq_end(r);
        return;
    }
    if (h->in_paused) {
        h->in_paused = false;
        h->in->resume(h->in);
    }
}

static const dapr__http_creq_cbs_t h_cbs = {.on_response = h_response,
                                            .on_body = h_body,
                                            .on_end = h_end,
                                            .on_error = h_error,
                                            .on_writable = h_writable};

static void http_invoke(dapr__appch_t *ch, dapr__pool_t *pool, const dapr__invoke_req_t *req,
                        const char *caller, dapr__invoke_cb cb, void *data)
{
    dapr_runtime_t *rt = ch->rt;
    const char *q = req->query && *req->query ? req->query : NULL;
    const char *bp = ch->base_path ? ch->base_path : "", *m = req->method ? req->method : "";
    size_t bl = strlen(bp), mlen = strlen(m), ql = q ? strlen(q) : 0;
    char *target = dapr__pool_alloc(pool, bl + mlen + ql + 3);
    if (target) { /* base path "/" method ["?" query] */
        char *t = target;
        memcpy(t, bp, bl);
        t += bl;
        *t++ = '/';
        memcpy(t, m, mlen);
        t += mlen;
        if (q) {
            *t++ = '?';
            memcpy(t, q, ql);
            t += ql;
        }
        *t = '\0';
    }
    dapr__http_hdr_t *hh =
        dapr__pool_alloc(pool, (req->n_headers + ch->n_extra + 5) * sizeof(*hh));
    hcall_t *h = dapr__calloc(1, sizeof(*h));
    if (!target || !hh || !h) {
        dapr__free(h);
        fail(cb, data, rt, "out of memory");
        return;
    }
    size_t n = 0;
    for (size_t i = 0; i < req->n_headers; i++) {
        const char *k = req->headers[i].key;
        if (!dapr__invoke_header_passed(k))
            continue;
        bool overridden = false; /* an endpoint's own headers replace the caller's */
        for (size_t x = 0; x < ch->n_extra && !overridden; x++)
            overridden = !strcasecmp(k, ch->extra[x].key);
        if (!overridden)
            hh[n++] = (dapr__http_hdr_t){k, req->headers[i].value ? req->headers[i].value : ""};
    }
    if (req->content_type)
        hh[n++] = (dapr__http_hdr_t){"Content-Type", req->content_type};
    for (size_t i = 0; i < ch->n_extra; i++)
        hh[n++] = (dapr__http_hdr_t){ch->extra[i].key, ch->extra[i].value};
    hh[n++] = (dapr__http_hdr_t){"dapr-caller-app-id", caller};
    hh[n++] = (dapr__http_hdr_t){"dapr-callee-app-id", rt->opt.app_id ? rt->opt.app_id : ""};
    if (ch->app_token)
        hh[n++] = (dapr__http_hdr_t){"dapr-api-token", ch->app_token};
    *h = (hcall_t){.ch = ch, .pool = pool, .cb = cb, .data = data, .in = req->body_stream};
    if (req->stream_resp_ok)
        h->out = (dapr__istream_t){.length = -1, .read = out_read, .pause = out_pause,
                                   .resume = out_resume, .cancel = out_cancel};
    dapr__http_creq_opts_t o = {
        .method = req->verb && *req->verb ? req->verb : "POST",
        .target = target,
        .headers = hh,
        .n_headers = n,
        .body_kind = req->body_len ? DAPR__HTTP_BODY_BUFFER : DAPR__HTTP_BODY_NONE,
        .body = req->body,
        .body_len = req->body_len,
        .cbs = h_cbs,
        .ud = h,
    };
    if (h->in) {
        o.body_kind = DAPR__HTTP_BODY_STREAM;
        o.content_length = h->in->length;
    }
    int rc = dapr__http_client_request(ch->http, &o, &h->creq);
    if (rc) {
        dapr__free(h);
        fail(cb, data, rt, rc == DAPR_EINVAL ? "invalid request for the app" : dapr_strerror(rc));
        return;
    }
    if (h->in)
        h->in->read(h->in, &in_sink, h);
}

void dapr__appch_invoke(dapr__appch_t *ch, dapr__pool_t *pool, const dapr__invoke_req_t *req,
                        const char *caller, dapr__invoke_cb cb, void *data)
{
    dapr_runtime_t *rt = ch->rt;
    if (ch->inproc) {
        dapr__inproc_invoke(ch->inproc, pool, req, caller, cb, data);
        return;
    }
    if (ch == rt->appch && !rt->app_healthy) {
        /* as Dapr: an unhealthy app gets no work; the call ends here */
        fail(cb, data, rt, "app is not healthy");
        return;
    }
    if (ch->http) {
        http_invoke(ch, pool, req, caller, cb, data);
        return;
    }
    Dapr__Proto__Common__V1__InvokeRequest ir = DAPR__PROTO__COMMON__V1__INVOKE_REQUEST__INIT;
    Dapr__Proto__Common__V1__HTTPExtension ext = DAPR__PROTO__COMMON__V1__HTTPEXTENSION__INIT;
    Google__Protobuf__Any any = GOOGLE__PROTOBUF__ANY__INIT;
    ir.method = (char *)req->method;
    any.value.data = (uint8_t *)req->body;
    any.value.len = req->body_len;
    ir.data = &any;
    ir.content_type = (char *)(req->content_type ? req->content_type : "");
    ext.verb = (Dapr__Proto__Common__V1__HTTPExtension__Verb)dapr__invoke_verb_number(req->verb);
    ext.querystring = (char *)(req->query ? req->query : "");
    if (ext.verb != DAPR__PROTO__COMMON__V1__HTTPEXTENSION__VERB__NONE || *ext.querystring)
        ir.http_extension = &ext;
    size_t len = protobuf_c_message_get_packed_size(&ir.base);
    uint8_t *buf = dapr__pool_alloc(pool, len ? len : 1);
    /* metadata: the caller's headers (filtered), then ours */
    dapr__grpc_md_t *md = dapr__pool_alloc(pool, (req->n_headers + 4) * sizeof(*md));
    gcall_t *g = dapr__calloc(1, sizeof(*g));
    if (!buf || !md || !g) {
        dapr__free(g);
        fail(cb, data, rt, "out of memory");
        return;
    }
    protobuf_c_message_pack(&ir.base, buf);
    size_t n = 0;
    for (size_t i = 0; i < req->n_headers; i++) {
        const char *k = req->headers[i].key;
        if (!dapr__invoke_header_passed(k))
            continue;
        size_t kl = strlen(k);
        char *lk = dapr__pool_alloc(pool, kl + 1);
        if (!lk)
            continue;
        for (size_t j = 0; j <= kl; j++)
            lk[j] = (char)((k[j] >= 'A' && k[j] <= 'Z') ? k[j] + 32 : k[j]);
        if (kl > 4 && !strcmp(lk + kl - 4, "-bin"))
            continue; /* binary metadata needs the raw bytes: not carried */
        const char *v = req->headers[i].value ? req->headers[i].value : "";
        md[n++] = (dapr__grpc_md_t){lk, (const uint8_t *)v, strlen(v)};
    }
    md[n++] = (dapr__grpc_md_t){"dapr-caller-app-id", (const uint8_t *)caller, strlen(caller)};
    const char *callee = rt->opt.app_id ? rt->opt.app_id : "";
    md[n++] = (dapr__grpc_md_t){"dapr-callee-app-id", (const uint8_t *)callee, strlen(callee)};
    const char *tok = getenv("APP_API_TOKEN");
    if (tok && *tok)
        md[n++] = (dapr__grpc_md_t){"dapr-api-token", (const uint8_t *)tok, strlen(tok)};
    *g = (gcall_t){.ch = ch, .pool = pool, .cb = cb, .data = data};
    dapr__grpc_ccall_t *cc = NULL;
    int rc = dapr__grpc_call_start(ch->grpc, ON_INVOKE, md, n, 0, &g_cbs, g, &cc);
    if (!rc)
        rc = dapr__grpc_ccall_send(cc, buf, len);
    if (!rc)
        rc = dapr__grpc_ccall_half_close(cc);
    if (rc && cc) {
        dapr__grpc_ccall_cancel(cc); /* on_close reports and frees */
        return;
    }
    if (rc) {
        dapr__free(g);
        fail(cb, data, rt, dapr_strerror(rc));
    }
}

static void free_extra(dapr__appch_t *ch)
{
    for (size_t i = 0; i < ch->n_extra; i++) {
        dapr__free((char *)ch->extra[i].key);
        dapr__free((char *)ch->extra[i].value);
    }
    dapr__free(ch->extra);
    dapr__free(ch->base_path);
    dapr__free(ch->app_token);
}

dapr__grpc_channel_t *dapr__appch_grpc_channel(const dapr__appch_t *ch)
{
    return ch ? ch->grpc : NULL;
}

static void closed(void *ud)
{
    dapr__appch_t *ch = ud;
    if (ch->done)
        ch->done(ch->done_ud);
    free_extra(ch);
    dapr__free(ch);
}

int dapr__appch_create_endpoint(dapr_runtime_t *rt, const char *url, const dapr_kv_t *hdrs,
                                size_t n_hdrs, const dapr__tls_client_config_t *tls,
                                dapr__appch_t **out)
{
    bool https = !strncmp(url, "https://", 8);
    if (!https && strncmp(url, "http://", 7))
        return DAPR_EINVAL;
    const char *h = url + (https ? 8 : 7), *slash = strchr(h, '/');
    size_t hl = slash ? (size_t)(slash - h) : strlen(h);
    char host[256];
    int port = https ? 443 : 80;
    if (!hl || hl >= sizeof(host))
        return DAPR_EINVAL;
    memcpy(host, h, hl);
    host[hl] = '\0';
    char *colon = host[0] == '[' ? strstr(host, "]:") : strrchr(host, ':');
    if (colon) {
        if (host[0] == '[')
            colon++;
        port = atoi(colon + 1);
        *colon = '\0';
        if (port <= 0 || port > 65535)
            return DAPR_EINVAL;
    }
    dapr__appch_t *ch = dapr__calloc(1, sizeof(*ch));
    if (!ch)
        return DAPR_ENOMEM;
    ch->rt = rt;
    size_t pl = slash ? strlen(slash) : 0;
    while (pl && slash[pl - 1] == '/')
        pl--; /* "http://h/api/" + "/" + method */
    ch->base_path = dapr__strndup(slash ? slash : "", pl);
    ch->extra = dapr__calloc(n_hdrs ? n_hdrs : 1, sizeof(*ch->extra));
    int rc = ch->base_path && ch->extra ? read_app_token(ch) : DAPR_ENOMEM;
    for (size_t i = 0; !rc && i < n_hdrs; i++) {
        ch->extra[i].key = dapr__strdup(hdrs[i].key);
        ch->extra[i].value = dapr__strdup(hdrs[i].value ? hdrs[i].value : "");
        ch->n_extra = i + 1;
        if (!ch->extra[i].key || !ch->extra[i].value)
            rc = DAPR_ENOMEM;
    }
    /* https: the given TLS settings, or the system CAs */
    static const dapr__tls_client_config_t system_cas = {0};
    dapr__http_client_config_t cfg = {.loop = rt->loop, .log = &rt->log, .host = host,
                                      .port = port,
                                      .tls = !https ? NULL : tls ? tls : &system_cas};
    if (!rc)
        rc = dapr__http_client_create(&ch->http, &cfg);
    if (rc) {
        free_extra(ch);
        dapr__free(ch);
        return rc;
    }
    *out = ch;
    return 0;
}

int dapr__appch_create_inproc(dapr_runtime_t *rt, dapr__inproc_t *ip, dapr__appch_t **out)
{
    dapr__appch_t *ch = dapr__calloc(1, sizeof(*ch));
    if (!ch)
        return DAPR_ENOMEM;
    ch->rt = rt;
    ch->inproc = ip;
    *out = ch;
    return 0;
}

bool dapr__appch_is_inproc(const dapr__appch_t *ch) { return ch && ch->inproc; }

void dapr__appch_close(dapr__appch_t *ch, void (*done)(void *ud), void *ud)
{
    ch->done = done;
    ch->done_ud = ud;
    if (ch->inproc) {
        dapr__inproc_close(ch->inproc, closed, ch);
        return;
    }
    if (ch->http) {
        dapr__http_client_cancel_all(ch->http);
        dapr__http_client_close(ch->http, closed, ch);
        return;
    }
    dapr__grpc_channel_close(ch->grpc, closed, ch);
}
