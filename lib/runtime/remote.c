/* Sidecar to sidecar (see remote.h). */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "actors.h"
#include "app_channel.h"
#include "components/registry.h"
#include "core/alloc.h"
#include "core/errors.h"
#include "core/log.h"
#include "core/map.h"
#include "core/strutil.h"
#include "dapr/common.h"
#include "dapr/proto/internals/v1/service_invocation.pb-c.h"
#include "grpc/grpc.h"
#include "grpc/relay.h"
#include "proxy.h"
#include "remote.h"
#include "runtime_int.h"

#define SCOPE "dapr.runtime.direct_messaging"
#define CALL_LOCAL "/dapr.proto.internals.v1.ServiceInvocation/CallLocal"
#define CALL_LOCAL_STREAM "/dapr.proto.internals.v1.ServiceInvocation/CallLocalStream"
#define CALL_ACTOR "/dapr.proto.internals.v1.ServiceInvocation/CallActor"
/* CallLocalStream: the request body's length when the caller knows it, as
 * metadata of the first message (a ':' name never reaches the app). */
#define BODY_LENGTH_MD ":body-length"
/* ... and in the answer's first message when that message holds the whole
 * body (the caller can answer with a Content-Length). */
#define BODY_COMPLETE_MD ":body-complete"
/* Payload messages carry at most this much. */
#define CHUNK_MAX (256 * 1024)

typedef Dapr__Proto__Internals__V1__InternalInvokeRequest ireq_t;
typedef Dapr__Proto__Internals__V1__InternalInvokeResponse iresp_t;
typedef Dapr__Proto__Internals__V1__ListStringValue lsv_t;
typedef Dapr__Proto__Internals__V1__InternalInvokeRequest__MetadataEntry ireq_md_t;
typedef Dapr__Proto__Internals__V1__InternalInvokeResponse__HeadersEntry iresp_hdr_t;
typedef Dapr__Proto__Internals__V1__InternalInvokeRequestStream ireqs_t;
typedef Dapr__Proto__Internals__V1__InternalInvokeResponseStream iresps_t;
typedef Dapr__Proto__Common__V1__StreamPayload payload_t;

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

/* The answer as an InternalInvokeResponse, packed into the pool; for
 * CallLocalStream wrapped in the first InternalInvokeResponseStream, with
 * the body (if any, and not streamed) as its payload. */
static uint8_t *pack_response(dapr__pool_t *pool, const dapr__invoke_resp_t *resp, bool stream,
                              size_t *len)
{
    iresp_t out = DAPR__PROTO__INTERNALS__V1__INTERNAL_INVOKE_RESPONSE__INIT;
    Dapr__Proto__Internals__V1__Status st = DAPR__PROTO__INTERNALS__V1__STATUS__INIT;
    Dapr__Proto__Common__V1__InvokeResponse msg = DAPR__PROTO__COMMON__V1__INVOKE_RESPONSE__INIT;
    Google__Protobuf__Any any = GOOGLE__PROTOBUF__ANY__INIT;
    Dapr__Proto__Internals__V1__InternalInvokeResponseStream sm =
        DAPR__PROTO__INTERNALS__V1__INTERNAL_INVOKE_RESPONSE_STREAM__INIT;
    Dapr__Proto__Common__V1__StreamPayload pl = DAPR__PROTO__COMMON__V1__STREAM_PAYLOAD__INIT;
    st.code = resp->grpc_app ? resp->grpc_status : resp->http_status;
    st.message = (char *)(resp->grpc_message ? resp->grpc_message : "");
    if (!stream) {
        any.value.data = (uint8_t *)resp->body;
        any.value.len = resp->body_len;
        msg.data = &any;
    }
    msg.content_type = (char *)(resp->content_type ? resp->content_type : "");
    out.status = &st;
    out.message = &msg;
    size_t n = resp->n_headers;
    iresp_hdr_t *hs = dapr__pool_alloc(pool, (n ? n : 1) * sizeof(*hs));
    iresp_hdr_t **hp = dapr__pool_alloc(pool, (n ? n : 1) * sizeof(*hp));
    lsv_t *lv = dapr__pool_alloc(pool, (n ? n : 1) * sizeof(*lv));
    char **vals = dapr__pool_alloc(pool, (n ? n : 1) * sizeof(*vals));
    if (!hs || !hp || !lv || !vals)
        return NULL;
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
    if (stream && !resp->body_stream) {
        /* the whole body is in this message: the caller answers with a
         * Content-Length instead of a stream */
        static char one[] = "1";
        static char *onev[] = {one};
        static lsv_t lone = {PROTOBUF_C_MESSAGE_INIT(&dapr__proto__internals__v1__list_string_value__descriptor), 1, onev};
        iresp_hdr_t *e = dapr__pool_alloc(pool, sizeof(*e));
        iresp_hdr_t **hp2 = dapr__pool_alloc(pool, (n + 1) * sizeof(*hp2));
        if (!e || !hp2)
            return NULL;
        dapr__proto__internals__v1__internal_invoke_response__headers_entry__init(e);
        e->key = BODY_COMPLETE_MD;
        e->value = &lone;
        memcpy(hp2, hp, n * sizeof(*hp2));
        hp2[n] = e;
        out.headers = hp2;
        out.n_headers = n + 1;
    }
    const ProtobufCMessage *m = &out.base;
    if (stream) {
        sm.response = &out;
        if (resp->body_len && !resp->body_stream) {
            pl.data.data = (uint8_t *)resp->body;
            pl.data.len = resp->body_len;
            sm.payload = &pl;
        }
        m = &sm.base;
    }
    *len = protobuf_c_message_get_packed_size(m);
    uint8_t *buf = dapr__pool_alloc(pool, *len ? *len : 1);
    if (buf)
        protobuf_c_message_pack(m, buf);
    return buf;
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
    size_t len = 0;
    uint8_t *buf = pack_response(&l->pool, resp, false, &len);
    if (!buf) {
        dapr__grpc_call_finish(call, DAPR_GRPC_RESOURCE_EXHAUSTED, "out of memory", NULL, 0);
    } else {
        int rc = dapr__grpc_call_send(call, buf, len);
        dapr__grpc_call_finish(call, rc ? DAPR_GRPC_INTERNAL : DAPR_GRPC_OK,
                               rc ? dapr_strerror(rc) : NULL, NULL, 0);
    }
    local_free(l);
}

/* The caller's request as the app channel takes it. Strings stay in `q`
 * and `pool`. Returns 0 or a gRPC status with *why. */
static int request_of(dapr_runtime_t *rt, dapr__pool_t *pool, const ireq_t *q,
                      dapr__invoke_req_t *req, const char **caller, int64_t *body_len,
                      const char **why)
{
    const Dapr__Proto__Common__V1__InvokeRequest *m = q->message;
    size_t nh = 0;
    for (size_t i = 0; i < q->n_metadata; i++)
        nh += q->metadata[i]->value ? q->metadata[i]->value->n_values : 0;
    dapr_kv_t *h = dapr__pool_alloc(pool, (nh ? nh : 1) * sizeof(*h));
    *why = "out of memory";
    if (!h)
        return DAPR_GRPC_RESOURCE_EXHAUSTED;
    size_t n = 0;
    *caller = "";
    *body_len = -1;
    for (size_t i = 0; i < q->n_metadata; i++) {
        const ireq_md_t *e = q->metadata[i];
        for (size_t j = 0; e->value && j < e->value->n_values; j++) {
            if (!strcasecmp(e->key, "dapr-caller-app-id"))
                *caller = e->value->values[j];
            if (!strcmp(e->key, BODY_LENGTH_MD) && dapr__parse_int(e->value->values[j], body_len))
                *body_len = -1;
            h[n++] = (dapr_kv_t){e->key, e->value->values[j]};
        }
    }
    const Dapr__Proto__Common__V1__HTTPExtension *ext = m->http_extension;
    *req = (dapr__invoke_req_t){
        .app_id = rt->opt.app_id,
        .method = dapr__invoke_clean_method(pool, m->method ? m->method : ""),
        .verb = ext ? dapr__invoke_verb_name(ext->verb) : NULL,
        .query = ext && ext->querystring && *ext->querystring ? ext->querystring : NULL,
        .content_type = m->content_type && *m->content_type ? m->content_type : NULL,
        .headers = h,
        .n_headers = n,
        .body = m->data ? m->data->value.data : NULL,
        .body_len = m->data ? m->data->value.len : 0,
    };
    return req->method ? 0 : DAPR_GRPC_RESOURCE_EXHAUSTED;
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
    dapr__invoke_req_t req;
    const char *caller, *why;
    int64_t blen;
    int st = request_of(rt, &l->pool, l->req, &req, &caller, &blen, &why);
    if (st) {
        dapr__grpc_call_finish(call, st, why, NULL, 0);
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

/* --- CallLocalStream, callee side ----------------------------------------
 *
 * The first message carries the envelope (and maybe the first payload);
 * payloads follow in seq order until the caller half-closes. The body goes
 * to the app as a stream (HTTP apps) or whole (gRPC apps); the answer comes
 * back as an envelope and payloads. The call is freed once it is finished
 * and the invocation has had its final event. */

typedef struct scall {
    dapr__grpc_call_t *call;
    dapr__remote_t *r;
    dapr__pool_t pool;
    ireqs_t *first;
    unsigned busy;       /* re-entrancy guard for freeing */
    bool started, finished, final, cancelled;
    uint64_t in_seq;
    /* the request body (producer) */
    dapr__istream_t in;
    const dapr__istream_sink_t *in_sink;
    void *in_sud;
    bool in_half, in_closed; /* half-closed; no more sink calls */
    dapr__buf_t in_early;    /* payload that came before the app channel read */
    /* the response body (consumer) */
    dapr__istream_t *out;
    uint64_t out_seq;
    dapr__buf_t out_held;
    bool out_paused, out_ended;
} scall_t;

#define SC_OF(s) ((scall_t *)((char *)(s) - offsetof(scall_t, in)))

static void sc_maybe_free(scall_t *sc)
{
    if (sc->busy || !sc->finished || !sc->final)
        return;
    if (sc->first)
        dapr__proto__internals__v1__internal_invoke_request_stream__free_unpacked(sc->first,
                                                                                  NULL);
    dapr__buf_free(&sc->in_early);
    dapr__buf_free(&sc->out_held);
    dapr__pool_destroy(&sc->pool);
    dapr__free(sc);
}

static void sc_finish(scall_t *sc, int status, const char *msg)
{
    if (sc->finished)
        return;
    sc->finished = true;
    dapr__grpc_call_finish(sc->call, status, msg, NULL, 0);
}

static void sc_in_read(dapr__istream_t *s, const dapr__istream_sink_t *sink, void *ud)
{
    scall_t *sc = SC_OF(s);
    sc->in_sink = sink;
    sc->in_sud = ud;
}

static void sc_in_pause(dapr__istream_t *s)
{
    scall_t *sc = SC_OF(s);
    if (!sc->finished)
        dapr__grpc_call_pause_recv(sc->call, true);
}

static void sc_in_resume(dapr__istream_t *s)
{
    scall_t *sc = SC_OF(s);
    if (!sc->finished)
        dapr__grpc_call_pause_recv(sc->call, false);
}

static void sc_in_cancel(dapr__istream_t *s)
{
    scall_t *sc = SC_OF(s);
    sc->in_sink = NULL;
    sc->in_closed = true;
}

/* Hand what came so far to the app channel's sink. */
static void sc_in_flush(scall_t *sc)
{
    if (!sc->in_sink || sc->in_closed)
        return;
    if (sc->in_early.len) {
        dapr__buf_t b = sc->in_early;
        sc->in_early = (dapr__buf_t)DAPR__BUF_INIT;
        sc->in_sink->on_data(sc->in_sud, b.data, b.len);
        dapr__buf_free(&b);
    }
    if (sc->in_half && sc->in_sink && !sc->in_closed) {
        const dapr__istream_sink_t *sink = sc->in_sink;
        sc->in_sink = NULL;
        sc->in_closed = true;
        sink->on_end(sc->in_sud);
    }
}

static void sc_in_fail(scall_t *sc, int code)
{
    if (sc->in_closed)
        return;
    sc->in_closed = true;
    const dapr__istream_sink_t *sink = sc->in_sink;
    sc->in_sink = NULL;
    if (sink)
        sink->on_error(sc->in_sud, code);
}

static void sc_out_send(scall_t *sc, const void *data, size_t len, size_t *taken)
{
    *taken = 0;
    while (*taken < len) {
        size_t n = len - *taken > CHUNK_MAX ? CHUNK_MAX : len - *taken;
        iresps_t m = DAPR__PROTO__INTERNALS__V1__INTERNAL_INVOKE_RESPONSE_STREAM__INIT;
        payload_t pl = DAPR__PROTO__COMMON__V1__STREAM_PAYLOAD__INIT;
        pl.data.data = (uint8_t *)data + *taken;
        pl.data.len = n;
        pl.seq = sc->out_seq;
        m.payload = &pl;
        size_t plen = protobuf_c_message_get_packed_size(&m.base);
        uint8_t *buf = dapr__malloc(plen ? plen : 1);
        if (!buf)
            return;
        protobuf_c_message_pack(&m.base, buf);
        int rc = sc->finished ? DAPR_ECLOSED : dapr__grpc_call_send(sc->call, buf, plen);
        dapr__free(buf);
        if (rc)
            return;
        sc->out_seq++;
        *taken += n;
    }
}

static void sc_out_data(void *ud, const void *data, size_t len)
{
    scall_t *sc = ud;
    if (sc->out_held.len) {
        dapr__buf_append(&sc->out_held, data, len);
        return;
    }
    size_t n;
    sc_out_send(sc, data, len, &n);
    if (n < len) {
        dapr__buf_append(&sc->out_held, (const uint8_t *)data + n, len - n);
        if (!sc->out_paused) {
            sc->out_paused = true;
            sc->out->pause(sc->out);
        }
    }
}

static void sc_out_end(void *ud)
{
    scall_t *sc = ud;
    sc->final = true;
    if (sc->out_held.len) {
        sc->out_ended = true; /* finished from sc_writable */
        return;
    }
    sc_finish(sc, DAPR_GRPC_OK, NULL);
    sc_maybe_free(sc);
}

static void sc_out_error(void *ud, int code)
{
    scall_t *sc = ud;
    sc->final = true;
    sc_finish(sc, DAPR_GRPC_INTERNAL, code == DAPR_ECLOSED ? "the app closed the connection "
                                                             "mid-body"
                                                           : "the app's response body failed");
    sc_maybe_free(sc);
}

static const dapr__istream_sink_t sc_out_sink = {sc_out_data, sc_out_end, sc_out_error};

static void sc_writable(dapr__grpc_call_t *call)
{
    scall_t *sc = dapr__grpc_call_user(call);
    if (!sc || sc->finished)
        return;
    if (sc->out_held.len) {
        size_t n;
        sc_out_send(sc, sc->out_held.data, sc->out_held.len, &n);
        if (n < sc->out_held.len) {
            memmove(sc->out_held.data, sc->out_held.data + n, sc->out_held.len - n);
            sc->out_held.len -= n;
            return;
        }
        sc->out_held.len = 0;
    }
    if (sc->out_ended) {
        sc_finish(sc, DAPR_GRPC_OK, NULL);
        sc_maybe_free(sc);
    } else if (sc->out_paused && sc->out) {
        sc->out_paused = false;
        sc->out->resume(sc->out);
    }
}

static void sc_done(const dapr__apierr_t *err, const dapr__invoke_resp_t *resp, void *data)
{
    scall_t *sc = data;
    sc->busy++;
    if (sc->cancelled || err) {
        if (resp && resp->body_stream)
            resp->body_stream->cancel(resp->body_stream);
        sc->final = true;
        if (err)
            sc_finish(sc, dapr__errdef(err->id)->grpc, err->message);
        else
            sc_finish(sc, DAPR_GRPC_CANCELLED, "canceled");
    } else {
        size_t len = 0;
        uint8_t *buf = pack_response(&sc->pool, resp, true, &len);
        int rc = buf ? dapr__grpc_call_send(sc->call, buf, len) : DAPR_ENOMEM;
        if (rc || !resp->body_stream) {
            if (resp->body_stream)
                resp->body_stream->cancel(resp->body_stream);
            sc->final = true;
            sc_finish(sc, rc ? DAPR_GRPC_INTERNAL : DAPR_GRPC_OK, rc ? dapr_strerror(rc) : NULL);
        } else {
            sc->out = resp->body_stream;
            sc->out->read(sc->out, &sc_out_sink, sc);
        }
    }
    sc->busy--;
    sc_maybe_free(sc);
}

/* A gRPC app takes the body in one message: read it whole first. */
static void sc_whole(int status, uint8_t *data, size_t len, void *ud)
{
    scall_t *sc = ud;
    dapr_runtime_t *rt = sc->r->rt;
    if (status) {
        dapr__free(data);
        sc->final = true;
        sc_finish(sc, status == DAPR_ETOOBIG ? DAPR_GRPC_RESOURCE_EXHAUSTED : DAPR_GRPC_INTERNAL,
                  dapr_strerror(status));
        sc_maybe_free(sc);
        return;
    }
    uint8_t *body = dapr__pool_alloc(&sc->pool, len ? len : 1);
    if (body && len)
        memcpy(body, data, len);
    dapr__free(data);
    dapr__invoke_req_t req;
    const char *caller, *why;
    int64_t blen;
    int st = body ? request_of(rt, &sc->pool, sc->first->request, &req, &caller, &blen, &why)
                  : DAPR_GRPC_RESOURCE_EXHAUSTED;
    if (st) {
        sc->final = true;
        sc_finish(sc, st, "out of memory");
        sc_maybe_free(sc);
        return;
    }
    req.body = body;
    req.body_len = len;
    dapr__appch_invoke(rt->appch, &sc->pool, &req, caller, sc_done, sc);
}

static void sc_start(scall_t *sc)
{
    dapr_runtime_t *rt = sc->r->rt;
    const ireq_t *q = sc->first->request;
    dapr__invoke_req_t req;
    const char *caller, *why = "bad InternalInvokeRequest";
    int64_t blen = -1;
    int st = !rt->appch ? DAPR_GRPC_INTERNAL
                        : request_of(rt, &sc->pool, q, &req, &caller, &blen, &why);
    if (!rt->appch)
        why = "app channel is not initialized";
    if (st) {
        sc->final = true;
        sc_finish(sc, st, why);
        return;
    }
    sc->in = (dapr__istream_t){.length = blen, .read = sc_in_read, .pause = sc_in_pause,
                               .resume = sc_in_resume, .cancel = sc_in_cancel};
    if (dapr__appch_grpc_channel(rt->appch)) {
        int rc = dapr__istream_collect(&sc->in, (size_t)rt->opt.max_body_size, sc_whole, sc);
        if (rc) {
            sc->final = true;
            sc_finish(sc, DAPR_GRPC_RESOURCE_EXHAUSTED, dapr_strerror(rc));
        }
        return;
    }
    if (blen == 0 && sc->in_half && !sc->in_early.len) {
        sc->in_closed = true; /* no body at all: none announced to the app */
    } else {
        req.body_stream = &sc->in;
    }
    req.stream_resp_ok = true;
    dapr__appch_invoke(rt->appch, &sc->pool, &req, caller, sc_done, sc);
}

static void cls_message(dapr__grpc_call_t *call, const uint8_t *msg, size_t len)
{
    scall_t *sc = dapr__grpc_call_user(call);
    if (!sc) {
        sc = dapr__calloc(1, sizeof(*sc));
        if (!sc) {
            dapr__grpc_call_finish(call, DAPR_GRPC_RESOURCE_EXHAUSTED, "out of memory", NULL, 0);
            return;
        }
        sc->call = call;
        sc->r = dapr__grpc_call_server_ud(call);
        dapr__pool_init(&sc->pool, 2048);
        dapr__grpc_call_set_user(call, sc);
    }
    if (sc->finished)
        return;
    sc->busy++;
    ireqs_t *m = NULL;
    bool ok = dapr__grpc_pb_check(
                  &dapr__proto__internals__v1__internal_invoke_request_stream__descriptor, msg,
                  len) == DAPR__PB_OK &&
              (m = dapr__proto__internals__v1__internal_invoke_request_stream__unpack(NULL, len,
                                                                                      msg));
    if (ok && !sc->started)
        ok = m->request && m->request->message;
    else if (ok)
        ok = !m->request && m->payload;
    if (ok && m->payload)
        ok = m->payload->seq == sc->in_seq++;
    if (!ok) {
        if (m)
            dapr__proto__internals__v1__internal_invoke_request_stream__free_unpacked(m, NULL);
        sc_in_fail(sc, DAPR_EPARSE);
        sc->final = sc->final || !sc->started;
        sc_finish(sc, DAPR_GRPC_INTERNAL, "grpc: error unmarshalling request: bad "
                                          "InternalInvokeRequestStream");
        sc->busy--;
        sc_maybe_free(sc);
        return;
    }
    if (m->payload && m->payload->data.len && !sc->in_closed) {
        if (sc->in_sink && !sc->in_early.len)
            sc->in_sink->on_data(sc->in_sud, m->payload->data.data, m->payload->data.len);
        else
            dapr__buf_append(&sc->in_early, m->payload->data.data, m->payload->data.len);
    }
    if (!sc->started) {
        sc->started = true;
        sc->first = m; /* the request's strings live here */
        sc_start(sc);
        sc_in_flush(sc);
    } else {
        dapr__proto__internals__v1__internal_invoke_request_stream__free_unpacked(m, NULL);
    }
    sc->busy--;
    sc_maybe_free(sc);
}

static void cls_half_close(dapr__grpc_call_t *call)
{
    scall_t *sc = dapr__grpc_call_user(call);
    if (!sc) {
        dapr__grpc_call_finish(call, DAPR_GRPC_INTERNAL, "CallLocalStream without a request",
                               NULL, 0);
        return;
    }
    sc->busy++;
    sc->in_half = true;
    sc_in_flush(sc);
    sc->busy--;
    sc_maybe_free(sc);
}

static void cls_cancel(dapr__grpc_call_t *call)
{
    scall_t *sc = dapr__grpc_call_user(call);
    if (!sc) {
        dapr__grpc_call_finish(call, DAPR_GRPC_CANCELLED, "canceled", NULL, 0);
        return;
    }
    sc->busy++;
    sc->cancelled = true;
    sc_in_fail(sc, DAPR_ECLOSED);
    if (sc->out && !sc->final) {
        dapr__istream_t *out = sc->out;
        sc->out = NULL;
        sc->final = true;
        out->cancel(out);
    }
    if (!sc->started)
        sc->final = true;
    sc_finish(sc, DAPR_GRPC_CANCELLED, "canceled");
    sc->busy--;
    sc_maybe_free(sc);
}

/* Any other path: a call proxied by the caller's sidecar, for our app's own
 * gRPC service (spec grpc-api.md §3; lib/runtime/proxy.c). */
static void proxy_start(dapr__grpc_call_t *call)
{
    dapr__remote_t *r = dapr__grpc_call_server_ud(call);
    dapr__proxy_start(r->rt, call, true);
}

/* CallActor: served by the actor runtime (actors_remote.c). */
static void call_actor(dapr__grpc_call_t *call, const uint8_t *msg, size_t len)
{
    dapr__remote_t *r = dapr__grpc_call_server_ud(call);
    dapr__actors_serve(r->rt->actors, call, msg, len);
}

static const dapr__grpc_method_t internal_methods[] = {
    {.path = CALL_ACTOR, .kind = DAPR__GRPC_UNARY, .on_request = call_actor,
     .on_cancel = dapr__actors_serve_cancel},
    {.path = CALL_LOCAL, .kind = DAPR__GRPC_UNARY, .on_request = call_local,
     .on_cancel = call_local_cancel},
    {.path = CALL_LOCAL_STREAM, .kind = DAPR__GRPC_BIDI, .on_message = cls_message,
     .on_half_close = cls_half_close, .on_cancel = cls_cancel, .on_writable = sc_writable},
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
    /* CallLocalStream */
    dapr__grpc_ccall_t *cc;
    uint64_t in_seq;
    bool in_done;      /* the request stream is not to be touched any more */
    bool in_ended;     /* its end came: half-close once `held` is out */
    bool in_paused;
    dapr__buf_t held;  /* request bytes the call could not take yet */
    bool answered;     /* cb ran */
    bool whole;        /* ... with the whole body: nothing more to deliver */
    uint64_t out_seq;
    dapr__istream_t out;
    const dapr__istream_sink_t *sink;
    void *sud;
} rcall_t;

static void rcall_free(rcall_t *c)
{
    dapr__buf_free(&c->held);
    dapr__free(c->msg);
    dapr__free(c);
}

/* Done with the caller's request stream (before any final event). */
static void rin_release(rcall_t *c)
{
    if (c->req.body_stream && !c->in_done) {
        c->in_done = true;
        c->req.body_stream->cancel(c->req.body_stream);
    }
}

static void rfail(rcall_t *c, const char *fmt, const char *a, const char *b)
{
    char why[512];
    snprintf(why, sizeof(why), fmt, a ? a : "", b ? b : "");
    dapr__apierr_t *e = dapr__apierr_new(DAPR_ERR_DIRECT_INVOKE, "failed to invoke, id: %s, "
                                         "err: %s", c->req.app_id, why);
    rin_release(c);
    c->cb(e, NULL, c->data);
    dapr__apierr_free(e);
    rcall_free(c);
}

static void r_message(dapr__grpc_ccall_t *cc, const uint8_t *msg, size_t len, void *ud)
{
    rcall_t *c = ud;
    (void)cc;
    dapr__grpc_keep_first(&c->msg, &c->msg_len, msg, len);
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

/* The target sidecar's InternalInvokeResponse as an invocation answer
 * (strings stay in ir; the header array goes into the pool). */
static void response_of(dapr__pool_t *pool, const iresp_t *ir, dapr__invoke_resp_t *resp)
{
    size_t nh = 0;
    for (size_t i = 0; i < ir->n_headers; i++)
        nh += ir->headers[i]->value ? ir->headers[i]->value->n_values : 0;
    dapr_kv_t *h = dapr__pool_alloc(pool, (nh ? nh : 1) * sizeof(*h));
    size_t k = 0;
    for (size_t i = 0; h && i < ir->n_headers; i++)
        for (size_t j = 0; ir->headers[i]->value && j < ir->headers[i]->value->n_values; j++)
            h[k++] = (dapr_kv_t){ir->headers[i]->key, ir->headers[i]->value->values[j]};
    int code = ir->status ? ir->status->code : 200;
    *resp = (dapr__invoke_resp_t){.headers = h, .n_headers = k};
    if (code >= 100) { /* an HTTP app: its status code */
        resp->http_status = code;
    } else {            /* a gRPC app: its gRPC code */
        resp->grpc_app = true;
        resp->grpc_status = code;
        resp->grpc_message = ir->status && ir->status->message ? ir->status->message : "";
        resp->http_status = dapr__invoke_http_status(code);
    }
    if (ir->message) {
        if (ir->message->data) {
            resp->body = ir->message->data->value.data;
            resp->body_len = ir->message->data->value.len;
        }
        if (ir->message->content_type && *ir->message->content_type)
            resp->content_type = ir->message->content_type;
    }
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
    dapr__invoke_resp_t resp;
    response_of(c->pool, ir, &resp);
    c->cb(NULL, &resp, c->data);
    dapr__proto__internals__v1__internal_invoke_response__free_unpacked(ir, NULL);
    rcall_free(c);
}

static const dapr__grpc_ccall_cbs_t r_cbs = {.on_message = r_message, .on_close = r_close};

/* --- CallLocalStream, caller side --------------------------------------- */

#define RC_OF(s, field) ((rcall_t *)((char *)(s) - offsetof(rcall_t, field)))

static void out_read(dapr__istream_t *s, const dapr__istream_sink_t *sink, void *ud)
{
    rcall_t *c = RC_OF(s, out);
    c->sink = sink;
    c->sud = ud;
}

static void out_pause(dapr__istream_t *s) { dapr__grpc_ccall_pause_recv(RC_OF(s, out)->cc, true); }
static void out_resume(dapr__istream_t *s)
{
    dapr__grpc_ccall_pause_recv(RC_OF(s, out)->cc, false);
}

static void out_cancel(dapr__istream_t *s)
{
    rcall_t *c = RC_OF(s, out);
    c->sink = NULL;
    dapr__grpc_ccall_cancel(c->cc); /* rs_close runs inside and frees c */
}

/* Send request bytes as payload messages; how many were taken. */
static size_t rs_send(rcall_t *c, const uint8_t *data, size_t len)
{
    size_t off = 0;
    while (off < len) {
        size_t n = len - off > CHUNK_MAX ? CHUNK_MAX : len - off;
        ireqs_t m = DAPR__PROTO__INTERNALS__V1__INTERNAL_INVOKE_REQUEST_STREAM__INIT;
        payload_t pl = DAPR__PROTO__COMMON__V1__STREAM_PAYLOAD__INIT;
        pl.data.data = (uint8_t *)data + off;
        pl.data.len = n;
        pl.seq = c->in_seq;
        m.payload = &pl;
        size_t plen = protobuf_c_message_get_packed_size(&m.base);
        uint8_t stackbuf[512], *buf = plen <= sizeof(stackbuf) ? stackbuf : dapr__malloc(plen);
        if (!buf)
            return off;
        protobuf_c_message_pack(&m.base, buf);
        int rc = dapr__grpc_ccall_send(c->cc, buf, plen);
        if (buf != stackbuf)
            dapr__free(buf);
        if (rc)
            return off;
        c->in_seq++;
        off += n;
    }
    return off;
}

static void rs_in_data(void *ud, const void *data, size_t len)
{
    rcall_t *c = ud;
    if (c->held.len) {
        dapr__buf_append(&c->held, data, len);
        return;
    }
    size_t n = rs_send(c, data, len);
    if (n < len) {
        dapr__buf_append(&c->held, (const uint8_t *)data + n, len - n);
        if (!c->in_paused) {
            c->in_paused = true;
            c->req.body_stream->pause(c->req.body_stream);
        }
    }
}

static void rs_in_end(void *ud)
{
    rcall_t *c = ud;
    c->in_done = c->in_ended = true;
    if (!c->held.len)
        dapr__grpc_ccall_half_close(c->cc);
}

static void rs_in_error(void *ud, int code)
{
    rcall_t *c = ud;
    (void)code;
    c->in_done = true;
    dapr__grpc_ccall_cancel(c->cc); /* rs_close reports */
}

static const dapr__istream_sink_t rs_in_sink = {rs_in_data, rs_in_end, rs_in_error};

static void rs_writable(dapr__grpc_ccall_t *cc, void *ud)
{
    rcall_t *c = ud;
    (void)cc;
    if (c->held.len) {
        size_t n = rs_send(c, (const uint8_t *)c->held.data, c->held.len);
        if (n < c->held.len) {
            memmove(c->held.data, c->held.data + n, c->held.len - n);
            c->held.len -= n;
            return;
        }
        c->held.len = 0;
    }
    if (c->in_ended)
        dapr__grpc_ccall_half_close(c->cc);
    else if (c->in_paused && !c->in_done) {
        c->in_paused = false;
        c->req.body_stream->resume(c->req.body_stream);
    }
}

static void rs_message(dapr__grpc_ccall_t *cc, const uint8_t *msg, size_t len, void *ud)
{
    rcall_t *c = ud;
    iresps_t *m = dapr__proto__internals__v1__internal_invoke_response_stream__unpack(NULL, len,
                                                                                      msg);
    if (!m || (!c->answered && !m->response) || (c->answered && m->response) ||
        (m->payload && m->payload->seq != c->out_seq)) {
        if (m)
            dapr__proto__internals__v1__internal_invoke_response_stream__free_unpacked(m, NULL);
        c->sink = NULL;
        if (!c->answered)
            c->msg_len = 1; /* remembered as "bad response" for rs_close */
        dapr__grpc_ccall_cancel(cc);
        return;
    }
    if (!c->answered) {
        dapr__invoke_resp_t resp;
        response_of(c->pool, m->response, &resp);
        bool whole = false;
        for (size_t i = 0; i < m->response->n_headers; i++)
            whole |= !strcmp(m->response->headers[i]->key, BODY_COMPLETE_MD);
        if (whole) {
            resp.body = m->payload ? m->payload->data.data : NULL;
            resp.body_len = m->payload ? m->payload->data.len : 0;
            c->answered = c->whole = true;
            rin_release(c);
            c->cb(NULL, &resp, c->data);
            dapr__proto__internals__v1__internal_invoke_response_stream__free_unpacked(m, NULL);
            return; /* rs_close frees */
        }
        resp.body = NULL;
        resp.body_len = 0;
        resp.body_stream = &c->out;
        c->answered = true;
        c->out = (dapr__istream_t){.length = -1, .read = out_read, .pause = out_pause,
                                   .resume = out_resume, .cancel = out_cancel};
        c->cb(NULL, &resp, c->data);
        /* the caller read or cancelled the stream (cancel freed c) */
        if (!c->sink) {
            dapr__proto__internals__v1__internal_invoke_response_stream__free_unpacked(m, NULL);
            return;
        }
    }
    if (m->payload) {
        c->out_seq++;
        if (c->sink && m->payload->data.len)
            c->sink->on_data(c->sud, m->payload->data.data, m->payload->data.len);
    }
    dapr__proto__internals__v1__internal_invoke_response_stream__free_unpacked(m, NULL);
}

static void rs_close(dapr__grpc_ccall_t *cc, int status, const char *message,
                     const dapr__grpc_md_t *trailers, size_t n, void *ud)
{
    rcall_t *c = ud;
    (void)cc, (void)trailers, (void)n;
    c->cc = NULL;
    if (!c->answered) {
        if (status != 0 && !c->msg_len)
            rfail(c, "rpc error: code = %s desc = %s", code_name(status), message);
        else
            rfail(c, "%s%s", "bad response from the target's sidecar", "");
        return;
    }
    rin_release(c);
    const dapr__istream_sink_t *sink = c->whole ? NULL : c->sink;
    void *sud = c->sud;
    rcall_free(c);
    if (sink && status == 0)
        sink->on_end(sud);
    else if (sink)
        sink->on_error(sud, DAPR_EIO);
}

static const dapr__grpc_ccall_cbs_t rs_cbs = {.on_message = rs_message,
                                              .on_close = rs_close,
                                              .on_writable = rs_writable};

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
    bool stream = q->body_stream || q->stream_resp_ok;
    size_t nh = q->n_headers + 3;
    char lenbuf[24];
    snprintf(lenbuf, sizeof(lenbuf), "%lld",
             (long long)(q->body_stream ? q->body_stream->length : (int64_t)q->body_len));
    dapr__remote_md_t md;
    if (dapr__remote_md_init(&md, p, nh)) {
        rfail(c, "%s%s", "out of memory", "");
        return;
    }
    for (size_t i = 0; i < q->n_headers + 3; i++) {
        const char *k, *v;
        if (i == q->n_headers + 2) {
            if (!stream)
                continue;
            k = BODY_LENGTH_MD;
            v = lenbuf;
        } else if (i < q->n_headers) {
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
        dapr__remote_md_add(&md, k, v);
    }
    ireq_t ir = DAPR__PROTO__INTERNALS__V1__INTERNAL_INVOKE_REQUEST__INIT;
    Dapr__Proto__Common__V1__InvokeRequest m = DAPR__PROTO__COMMON__V1__INVOKE_REQUEST__INIT;
    Dapr__Proto__Common__V1__HTTPExtension ext = DAPR__PROTO__COMMON__V1__HTTPEXTENSION__INIT;
    Google__Protobuf__Any any = GOOGLE__PROTOBUF__ANY__INIT;
    ir.ver = DAPR__PROTO__INTERNALS__V1__APIVERSION__V1;
    ir.metadata = md.ep;
    ir.n_metadata = md.n;
    m.method = (char *)q->method;
    if (!stream) {
        any.value.data = (uint8_t *)q->body;
        any.value.len = q->body_len;
        m.data = &any;
    }
    m.content_type = (char *)(q->content_type ? q->content_type : "");
    ext.verb = (Dapr__Proto__Common__V1__HTTPExtension__Verb)dapr__invoke_verb_number(q->verb);
    ext.querystring = (char *)(q->query ? q->query : "");
    m.http_extension = &ext;
    ir.message = &m;
    ireqs_t sm = DAPR__PROTO__INTERNALS__V1__INTERNAL_INVOKE_REQUEST_STREAM__INIT;
    payload_t pl = DAPR__PROTO__COMMON__V1__STREAM_PAYLOAD__INIT;
    const ProtobufCMessage *first = &ir.base;
    if (stream) {
        sm.request = &ir;
        if (!q->body_stream && q->body_len) { /* a small body rides along */
            pl.data.data = (uint8_t *)q->body;
            pl.data.len = q->body_len;
            sm.payload = &pl;
            c->in_seq = 1;
        }
        first = &sm.base;
    }
    size_t len = protobuf_c_message_get_packed_size(first);
    uint8_t *buf = dapr__pool_alloc(p, len ? len : 1);
    if (!buf) {
        rfail(c, "%s%s", "out of memory", "");
        return;
    }
    protobuf_c_message_pack(first, buf);
    dapr__grpc_ccall_t *cc = NULL;
    int rc = dapr__grpc_call_start(ch, stream ? CALL_LOCAL_STREAM : CALL_LOCAL, NULL, 0, 0,
                                   stream ? &rs_cbs : &r_cbs, c, &cc);
    c->cc = cc;
    if (!rc)
        rc = dapr__grpc_ccall_send(cc, buf, len);
    if (!rc && !q->body_stream)
        rc = dapr__grpc_ccall_half_close(cc);
    if (rc && cc) {
        dapr__grpc_ccall_cancel(cc); /* r_close / rs_close reports */
        return;
    }
    if (rc) {
        rfail(c, "%s%s", dapr_strerror(rc), "");
        return;
    }
    if (q->body_stream)
        q->body_stream->read(q->body_stream, &rs_in_sink, c);
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
 * For the actor runtime's CallActor client (actors_remote.c): the shared
 * channel pool and the InternalInvokeResponse codec above
 * ------------------------------------------------------------------- */

int dapr__remote_md_init(dapr__remote_md_t *m, dapr__pool_t *pool, size_t cap)
{
    cap = cap ? cap : 1;
    m->es = dapr__pool_alloc(pool, cap * sizeof(*m->es));
    m->ep = dapr__pool_alloc(pool, cap * sizeof(*m->ep));
    m->lv = dapr__pool_alloc(pool, cap * sizeof(*m->lv));
    m->vals = dapr__pool_alloc(pool, cap * sizeof(*m->vals));
    m->n = 0;
    return m->es && m->ep && m->lv && m->vals ? 0 : DAPR_ENOMEM;
}

void dapr__remote_md_add(dapr__remote_md_t *m, const char *key, const char *value)
{
    size_t n = m->n++;
    dapr__proto__internals__v1__internal_invoke_request__metadata_entry__init(&m->es[n]);
    dapr__proto__internals__v1__list_string_value__init(&m->lv[n]);
    m->vals[n] = (char *)value;
    m->lv[n].values = &m->vals[n];
    m->lv[n].n_values = 1;
    m->es[n].key = (char *)key;
    m->es[n].value = &m->lv[n];
    m->ep[n] = &m->es[n];
}

dapr__grpc_channel_t *dapr__remote_channel(dapr__remote_t *r, const char *addr)
{
    return r && !r->closing ? channel_for(r, addr) : NULL;
}

uint8_t *dapr__remote_pack_response(dapr__pool_t *pool, const dapr__invoke_resp_t *resp,
                                    size_t *len)
{
    return pack_response(pool, resp, false, len);
}

void dapr__remote_response_of(dapr__pool_t *pool,
                              const Dapr__Proto__Internals__V1__InternalInvokeResponse *ir,
                              dapr__invoke_resp_t *resp)
{
    response_of(pool, ir, resp);
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
