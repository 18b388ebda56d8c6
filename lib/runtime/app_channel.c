/* The app channel (see app_channel.h). gRPC apps: AppCallback/OnInvoke. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "app_channel.h"
#include "core/alloc.h"
#include "core/log.h"
#include "dapr/common.h"
#include "dapr/proto/common/v1/common.pb-c.h"
#include "grpc/grpc.h"
#include "runtime_int.h"

#define SCOPE "dapr.runtime.channel"
#define ON_INVOKE "/dapr.proto.runtime.v1.AppCallback/OnInvoke"

struct dapr__appch {
    dapr_runtime_t *rt;
    dapr__grpc_channel_t *grpc;
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

static const struct {
    const char *name;
    Dapr__Proto__Common__V1__HTTPExtension__Verb v;
} verbs[] = {
    {"GET", DAPR__PROTO__COMMON__V1__HTTPEXTENSION__VERB__GET},
    {"HEAD", DAPR__PROTO__COMMON__V1__HTTPEXTENSION__VERB__HEAD},
    {"POST", DAPR__PROTO__COMMON__V1__HTTPEXTENSION__VERB__POST},
    {"PUT", DAPR__PROTO__COMMON__V1__HTTPEXTENSION__VERB__PUT},
    {"DELETE", DAPR__PROTO__COMMON__V1__HTTPEXTENSION__VERB__DELETE},
    {"CONNECT", DAPR__PROTO__COMMON__V1__HTTPEXTENSION__VERB__CONNECT},
    {"OPTIONS", DAPR__PROTO__COMMON__V1__HTTPEXTENSION__VERB__OPTIONS},
    {"TRACE", DAPR__PROTO__COMMON__V1__HTTPEXTENSION__VERB__TRACE},
    {"PATCH", DAPR__PROTO__COMMON__V1__HTTPEXTENSION__VERB__PATCH},
};

static Dapr__Proto__Common__V1__HTTPExtension__Verb verb_of(const char *v)
{
    for (size_t i = 0; v && i < sizeof(verbs) / sizeof(verbs[0]); i++)
        if (!strcasecmp(v, verbs[i].name))
            return verbs[i].v;
    return DAPR__PROTO__COMMON__V1__HTTPEXTENSION__VERB__NONE;
}

int dapr__appch_create(dapr_runtime_t *rt, dapr__appch_t **out)
{
    const char *proto = rt->opt.app_protocol ? rt->opt.app_protocol : "http";
    if (strcmp(proto, "grpc") != 0)
        return DAPR_ENOTSUP;
    dapr__appch_t *ch = dapr__calloc(1, sizeof(*ch));
    if (!ch)
        return DAPR_ENOMEM;
    ch->rt = rt;
    const char *host = rt->opt.app_channel_address && *rt->opt.app_channel_address
                           ? rt->opt.app_channel_address
                           : "127.0.0.1";
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
    if (g->have_msg)
        return; /* OnInvoke is unary: a second message is ignored */
    g->msg = dapr__malloc(len ? len : 1);
    if (g->msg && len)
        memcpy(g->msg, msg, len);
    g->msg_len = len;
    g->have_msg = g->msg != NULL;
}

static void g_close(dapr__grpc_ccall_t *cc, int status, const char *message,
                    const dapr__grpc_md_t *trailers, size_t n, void *ud)
{
    gcall_t *g = ud;
    (void)cc, (void)trailers, (void)n;
    dapr__invoke_resp_t r = {.http_status = 200, .headers = g->hdrs, .n_headers = g->n_hdrs};
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

void dapr__appch_invoke(dapr__appch_t *ch, dapr__pool_t *pool, const dapr__invoke_req_t *req,
                        const char *caller, dapr__invoke_cb cb, void *data)
{
    dapr_runtime_t *rt = ch->rt;
    Dapr__Proto__Common__V1__InvokeRequest ir = DAPR__PROTO__COMMON__V1__INVOKE_REQUEST__INIT;
    Dapr__Proto__Common__V1__HTTPExtension ext = DAPR__PROTO__COMMON__V1__HTTPEXTENSION__INIT;
    Google__Protobuf__Any any = GOOGLE__PROTOBUF__ANY__INIT;
    ir.method = (char *)req->method;
    any.value.data = (uint8_t *)req->body;
    any.value.len = req->body_len;
    ir.data = &any;
    ir.content_type = (char *)(req->content_type ? req->content_type : "");
    ext.verb = verb_of(req->verb);
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
        if (dapr__invoke_header_dropped(k) || !strcasecmp(k, "content-type") ||
            !strcasecmp(k, "dapr-caller-app-id") || !strcasecmp(k, "dapr-callee-app-id"))
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

static void closed(void *ud)
{
    dapr__appch_t *ch = ud;
    if (ch->done)
        ch->done(ch->done_ud);
    dapr__free(ch);
}

void dapr__appch_close(dapr__appch_t *ch, void (*done)(void *ud), void *ud)
{
    ch->done = done;
    ch->done_ud = ud;
    dapr__grpc_channel_close(ch->grpc, closed, ch);
}
