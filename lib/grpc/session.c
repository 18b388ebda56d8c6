/* Server side of the HTTP/2 session: nghttp2 callbacks that turn streams
 * into gRPC calls (headers → metadata and routing, DATA → messages,
 * END_STREAM → half-close, RST_STREAM → cancel). */
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/errors.h"
#include "core/log.h"
#include "dapr/common.h"
#include "grpc_int.h"

static bool is_unary_req(const dapr__grpc_call_t *c)
{
    return c->method->kind == DAPR__GRPC_UNARY || c->method->kind == DAPR__GRPC_SERVER_STREAM;
}

static void reject(dapr__grpc_call_t *c, int status, const char *msg)
{
    if (!c->reject_status) {
        c->reject_status = status;
        c->reject_msg = msg ? msg : "";
    }
}

/* --- request headers ------------------------------------------------------ */

static bool ct_is_grpc(const uint8_t *v, size_t n)
{
    static const char pfx[] = "application/grpc";
    size_t pl = sizeof(pfx) - 1;
    if (n < pl || memcmp(v, pfx, pl) != 0)
        return false;
    if (n == pl || v[pl] == ';')
        return true;
    return n >= pl + 6 && memcmp(v + pl, "+proto", 6) == 0 && (n == pl + 6 || v[pl + 6] == ';');
}

static int md_push(dapr__grpc_call_t *c, const char *key, const uint8_t *val, size_t len)
{
    if (c->n_md == c->cap_md) {
        size_t ncap = c->cap_md ? c->cap_md * 2 : 8;
        dapr__grpc_md_t *nm = dapr__pool_alloc(&c->pool, ncap * sizeof(*nm));
        if (!nm)
            return DAPR_ENOMEM;
        if (c->n_md)
            memcpy(nm, c->md, c->n_md * sizeof(*nm));
        c->md = nm;
        c->cap_md = ncap;
    }
    c->md[c->n_md].key = key;
    c->md[c->n_md].value = val;
    c->md[c->n_md].len = len;
    c->n_md++;
    return 0;
}

/* "-bin" values: each comma-separated part is base64 (padded or not). */
static int md_add_bin(dapr__grpc_call_t *c, const char *key, const uint8_t *v, size_t n)
{
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && v[i] != ',')
            continue;
        const char *part = (const char *)v + start;
        size_t pl = i - start;
        while (pl && *part == ' ') {
            part++;
            pl--;
        }
        uint8_t *out = dapr__pool_alloc(&c->pool, 3 * ((pl + 3) / 4) + 1);
        if (!out)
            return DAPR_ENOMEM;
        long dl = dapr__grpc_b64_decode(part, pl, out);
        if (dl < 0)
            return DAPR_EPARSE;
        out[dl] = '\0'; /* so dapr__grpc_call_md_get can return it */
        if (md_push(c, key, out, (size_t)dl))
            return DAPR_ENOMEM;
        start = i + 1;
    }
    return 0;
}

static void md_add(dapr__grpc_call_t *c, const uint8_t *name, size_t nlen, const uint8_t *value,
                   size_t vlen)
{
    char *key = dapr__pool_strndup(&c->pool, (const char *)name, nlen);
    if (!key) {
        reject(c, DAPR_GRPC_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    int rv;
    if (nlen > 4 && memcmp(name + nlen - 4, "-bin", 4) == 0) {
        rv = md_add_bin(c, key, value, vlen);
        if (rv == DAPR_EPARSE) {
            char *m =
                dapr__pool_printf(&c->pool, "malformed binary metadata in header \"%s\"", key);
            reject(c, DAPR_GRPC_INTERNAL, m ? m : "malformed binary metadata");
            return;
        }
    } else {
        char *val = dapr__pool_strndup(&c->pool, (const char *)value, vlen);
        rv = val ? md_push(c, key, (const uint8_t *)val, vlen) : DAPR_ENOMEM;
    }
    if (rv)
        reject(c, DAPR_GRPC_RESOURCE_EXHAUSTED, "out of memory");
}

static bool name_is(const uint8_t *name, size_t nlen, const char *lit)
{
    return strlen(lit) == nlen && memcmp(name, lit, nlen) == 0;
}

/* Headers the transport consumes; they are not request metadata. */
static bool reserved(const uint8_t *name, size_t nlen)
{
    static const char *const r[] = {"te", "content-length", "grpc-accept-encoding",
                                    "grpc-message-type", "grpc-status", "grpc-message",
                                    "grpc-status-details-bin"};
    for (size_t i = 0; i < sizeof(r) / sizeof(r[0]); i++)
        if (name_is(name, nlen, r[i]))
            return true;
    return false;
}

static void on_grpc_header(dapr__grpc_call_t *c, const uint8_t *name, size_t nlen,
                           const uint8_t *value, size_t vlen)
{
    if (name_is(name, nlen, "grpc-timeout")) {
        if (dapr__grpc_timeout_parse((const char *)value, vlen, &c->timeout_ms) == 0) {
            c->has_timeout = true;
        } else {
            char *m = dapr__pool_printf(&c->pool, "malformed grpc-timeout: %.*s",
                                        (int)(vlen > 64 ? 64 : vlen), (const char *)value);
            reject(c, DAPR_GRPC_INTERNAL, m ? m : "malformed grpc-timeout");
        }
    } else if (name_is(name, nlen, "grpc-encoding")) {
        if (!name_is(value, vlen, "identity")) {
            /* grpc-go's wording; we only speak identity */
            char *m = dapr__pool_printf(&c->pool,
                                        "grpc: Decompressor is not installed for grpc-encoding "
                                        "\"%.*s\"",
                                        (int)(vlen > 64 ? 64 : vlen), (const char *)value);
            reject(c, DAPR_GRPC_UNIMPLEMENTED, m ? m : "unsupported grpc-encoding");
        }
    } else {
        md_add(c, name, nlen, value, vlen);
    }
}

static void on_req_header(dapr__grpc_call_t *c, const uint8_t *name, size_t nlen,
                          const uint8_t *value, size_t vlen)
{
    size_t limit = c->conn->srv->cfg.max_header_list;
    c->hdr_bytes += nlen + vlen + 32; /* RFC 9113 6.5.2 accounting */
    if (nlen > 0 && name[0] == ':') {
        if (name_is(name, nlen, ":method")) {
            c->is_post = name_is(value, vlen, "POST");
            if (!c->http_method)
                c->http_method = dapr__pool_strndup(&c->pool, (const char *)value, vlen);
        }
        else if (name_is(name, nlen, ":path") && !c->path)
            c->path = dapr__pool_strndup(&c->pool, (const char *)value, vlen);
        return;
    }
    if (name_is(name, nlen, "content-type")) {
        c->ct_ok = ct_is_grpc(value, vlen);
        if (!c->content_type)
            c->content_type = dapr__pool_strndup(&c->pool, (const char *)value, vlen);
        return;
    }
    /* past the limit nothing more is stored; the call is answered with an
     * error once the header block is complete */
    if (c->hdr_bytes > limit)
        reject(c, DAPR_GRPC_RESOURCE_EXHAUSTED, "grpc: header list size exceeds the limit");
    else if (reserved(name, nlen))
        return;
    else if (nlen > 5 && memcmp(name, "grpc-", 5) == 0)
        on_grpc_header(c, name, nlen, value, vlen);
    else
        md_add(c, name, nlen, value, vlen);
}

/* --- routing ------------------------------------------------------------- */

static void invoke(dapr__grpc_call_t *c, void (*fn)(dapr__grpc_call_t *))
{
    c->involved = true;
    if (fn)
        fn(c);
}

/* A plain HTTP/2 request for config.plain: headers as metadata, the
 * body collected until the client half-closes. */
static void plain_start(dapr__grpc_call_t *c)
{
    dapr__grpc_server_t *s = c->conn->srv;
    if (c->reject_status) {
        dapr__grpc_call_http_error(c, c->reject_status == DAPR_GRPC_RESOURCE_EXHAUSTED &&
                                              c->hdr_bytes > s->cfg.max_header_list
                                          ? 431
                                          : 400);
        return;
    }
    if (!c->http_method || !c->path || c->path[0] != '/') {
        dapr__grpc_call_http_error(c, 400);
        return;
    }
    if (c->content_type && md_push(c, "content-type", (const uint8_t *)c->content_type,
                                   strlen(c->content_type))) {
        dapr__grpc_call_http_error(c, 500);
        return;
    }
    c->plain = true;
    c->method = s->cfg.plain;
    c->accepting = true;
}

static void headers_done(dapr__grpc_call_t *c)
{
    dapr__grpc_server_t *s = c->conn->srv;
    if (!c->is_post || !c->ct_ok) {
        if (s->cfg.plain)
            plain_start(c);
        else
            dapr__grpc_call_http_error(c, 415);
        return;
    }
    if (c->reject_status) {
        if (c->reject_status == DAPR_GRPC_UNIMPLEMENTED)
            dapr__grpc_call_add_header(c, "grpc-accept-encoding", "identity", 8);
        dapr__grpc_call_fail(c, c->reject_status, c->reject_msg);
        return;
    }
    const char *path = c->path ? c->path : "";
    const dapr__grpc_method_t *m = dapr__map_get(&s->routes, path, strlen(path));
    c->method = m ? m : s->cfg.fallback;
    if (!c->method) {
        char *msg = dapr__pool_printf(&c->pool, "unknown method %s", path);
        dapr__grpc_call_fail(c, DAPR_GRPC_UNIMPLEMENTED, msg ? msg : "unknown method");
        return;
    }
    if (c->has_timeout &&
        dapr__grpc_dlheap_add(&s->dl, &c->dl, uv_now(s->loop) + c->timeout_ms) != 0) {
        dapr__grpc_call_fail(c, DAPR_GRPC_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    c->accepting = true;
    if (c->method->on_start)
        invoke(c, c->method->on_start);
}

/* --- request messages ----------------------------------------------------- */

static int on_msg(void *ud, const uint8_t *msg, size_t len)
{
    dapr__grpc_call_t *c = ud;
    if (!is_unary_req(c)) {
        c->involved = true;
        if (c->method->on_message)
            c->method->on_message(c, msg, len);
        return c->accepting ? 0 : 1;
    }
    if (c->n_req++ > 0) {
        dapr__grpc_call_fail(c, DAPR_GRPC_INTERNAL,
                             "grpc: received more than one request message for a "
                             "non-client-streaming RPC");
        return 1;
    }
    /* kept until the client half-closes; a reassembled one is taken over */
    if (msg == c->rx.buf && len > 0) {
        c->req_owned = dapr__grpc_deframer_steal(&c->rx);
        c->req = c->req_owned;
    } else {
        c->req = dapr__pool_alloc(&c->pool, len ? len : 1);
        if (c->req && len)
            memcpy(c->req, msg, len);
    }
    c->req_len = len;
    if (!c->req) {
        dapr__grpc_call_fail(c, DAPR_GRPC_RESOURCE_EXHAUSTED, "out of memory");
        return 1;
    }
    return 0;
}

static void on_plain_data(dapr__grpc_call_t *c, const uint8_t *data, size_t len)
{
    if (c->body.len + len > c->max_recv) {
        c->accepting = false;
        dapr__grpc_call_http_error(c, 413);
        return;
    }
    if (dapr__buf_append(&c->body, data, len)) {
        c->accepting = false;
        dapr__grpc_call_http_error(c, 500);
    }
}

void dapr__grpc_plain_dispatch(dapr__grpc_call_t *c)
{
    c->accepting = false;
    if (dapr__buf_cstr(&c->body)) {
        dapr__grpc_call_http_error(c, 500);
        return;
    }
    c->involved = true;
    c->busy++;
    c->method->on_request(c, (const uint8_t *)c->body.data, c->body.len);
    c->busy--;
    dapr__grpc_call_maybe_free(c);
}

static void on_data(dapr__grpc_call_t *c, const uint8_t *data, size_t len)
{
    if (c->plain) {
        on_plain_data(c, data, len);
        return;
    }
    int rv = dapr__grpc_deframe(&c->rx, data, len, c->max_recv, on_msg, c);
    if (rv == 0 || rv == 1 || !c->conn || c->wire_done)
        return;
    char *m = NULL;
    switch (rv) {
    case DAPR__GRPC_DF_TOO_BIG:
        m = dapr__pool_printf(&c->pool, "grpc: received message larger than max (%u vs. %zu)",
                              (unsigned)c->rx.len, c->max_recv);
        dapr__grpc_call_fail(c, DAPR_GRPC_RESOURCE_EXHAUSTED, m ? m : "message too large");
        break;
    case DAPR__GRPC_DF_COMPRESSED:
        dapr__grpc_call_fail(c, DAPR_GRPC_INTERNAL,
                             "grpc: compressed flag set with identity or empty encoding");
        break;
    case DAPR__GRPC_DF_BAD_FLAG:
        m = dapr__pool_printf(&c->pool, "grpc: received unexpected payload format %u",
                              (unsigned)c->rx.hdr[0]);
        dapr__grpc_call_fail(c, DAPR_GRPC_INTERNAL, m ? m : "unexpected payload format");
        break;
    default:
        dapr__grpc_call_fail(c, DAPR_GRPC_RESOURCE_EXHAUSTED, "out of memory");
    }
}

static void half_close(dapr__grpc_call_t *c)
{
    c->remote_closed = true;
    if (!c->accepting)
        return;
    if (!dapr__grpc_deframer_idle(&c->rx)) {
        dapr__grpc_call_fail(c, DAPR_GRPC_INTERNAL,
                             "grpc: client half-closed in the middle of a message");
        return;
    }
    c->accepting = false;
    if (c->plain) {
        dapr__grpc_plain_dispatch(c);
        return;
    }
    if (!is_unary_req(c)) {
        invoke(c, c->method->on_half_close);
        return;
    }
    if (c->n_req == 0 || !c->method->on_request) {
        dapr__grpc_call_fail(c, c->n_req ? DAPR_GRPC_UNIMPLEMENTED : DAPR_GRPC_INTERNAL,
                             c->n_req ? "method has no request handler"
                                      : "grpc: received no request message for a "
                                        "non-client-streaming RPC");
        return;
    }
    c->involved = true;
    c->method->on_request(c, c->req, c->req_len);
    /* the message was lent for the callback only */
    dapr__free(c->req_owned);
    c->req_owned = NULL;
    c->req = NULL;
}

/* --- nghttp2 callbacks ---------------------------------------------------- */

static dapr__grpc_call_t *stream_call(nghttp2_session *s, int32_t sid)
{
    return nghttp2_session_get_stream_user_data(s, sid);
}

static int on_begin_headers(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
    if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    dapr__grpc_call_t *c = dapr__grpc_call_new(ud, f->hd.stream_id);
    if (!c)
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    nghttp2_session_set_stream_user_data(s, f->hd.stream_id, c);
    return 0;
}

static int on_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name, size_t nlen,
                     const uint8_t *value, size_t vlen, uint8_t flags, void *ud)
{
    /* request trailers are not part of gRPC; ignore them */
    if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    dapr__grpc_call_t *c = stream_call(s, f->hd.stream_id);
    if (c)
        on_req_header(c, name, nlen, value, vlen);
    return 0;
}

static int on_frame_recv(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
    if (f->hd.type != NGHTTP2_HEADERS && f->hd.type != NGHTTP2_DATA)
        return 0;
    dapr__grpc_call_t *c = stream_call(s, f->hd.stream_id);
    if (!c)
        return 0;
    if (f->hd.type == NGHTTP2_HEADERS && f->headers.cat == NGHTTP2_HCAT_REQUEST)
        headers_done(c);
    if ((f->hd.flags & NGHTTP2_FLAG_END_STREAM) && c->conn)
        half_close(c);
    return 0;
}

static int on_data_chunk(nghttp2_session *s, uint8_t flags, int32_t sid, const uint8_t *data,
                         size_t len, void *ud)
{
    dapr__grpc_call_t *c = stream_call(s, sid);
    if (c && c->accepting)
        on_data(c, data, len);
    /* delivered or bounded-buffered (or discarded): open the window again,
     * except the stream's while its handler paused receiving (the
     * connection's window is returned at once so other streams go on) */
    if (c && c->rx_paused && !c->stream_closed) {
        c->rx_held += len;
        nghttp2_session_consume_connection(s, len);
    } else {
        nghttp2_session_consume(s, sid, len);
    }
    return 0;
}

static int on_stream_close(nghttp2_session *s, int32_t sid, uint32_t error_code, void *ud)
{
    dapr__grpc_call_t *c = stream_call(s, sid);
    if (c)
        dapr__grpc_call_on_stream_close(c, error_code);
    return 0;
}

static int on_frame_send(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
    /* Our END_STREAM went out while the client still sends (an early error,
     * a 415): ask it to stop with RST_STREAM(NO_ERROR), RFC 9113 8.1. */
    if (f->hd.type == NGHTTP2_HEADERS && (f->hd.flags & NGHTTP2_FLAG_END_STREAM) &&
        nghttp2_session_get_stream_remote_close(s, f->hd.stream_id) == 0)
        nghttp2_submit_rst_stream(s, NGHTTP2_FLAG_NONE, f->hd.stream_id, NGHTTP2_NO_ERROR);
    return 0;
}

void dapr__grpc_server_callbacks(nghttp2_session_callbacks *cbs)
{
    nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame_recv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data_chunk);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_stream_close);
    nghttp2_session_callbacks_set_on_frame_send_callback(cbs, on_frame_send);
    nghttp2_session_callbacks_set_send_data_callback(cbs, dapr__grpc_call_send_data_cb);
}

int dapr__grpc_conn_upgrade(dapr__grpc_conn_t *c, const dapr__grpc_upgrade_t *u,
                            dapr__grpc_call_t **out)
{
    bool head = strcmp(u->method, "HEAD") == 0;
    int rv = nghttp2_session_upgrade2(c->io.h2, u->settings, u->settings_len, head, NULL);
    if (rv != 0)
        return rv == NGHTTP2_ERR_NOMEM ? DAPR_ENOMEM : DAPR_EINVAL;
    dapr__grpc_call_t *call = dapr__grpc_call_new(c, 1);
    if (!call)
        return DAPR_ENOMEM;
    nghttp2_session_set_stream_user_data(c->io.h2, 1, call);
    *out = call;
    call->http_method = dapr__pool_strdup(&call->pool, u->method);
    call->path = dapr__pool_strdup(&call->pool, u->path);
    if (!call->http_method || !call->path)
        return DAPR_ENOMEM;
    for (size_t i = 0; i < u->n_hdrs; i++) {
        char *k = dapr__pool_strdup(&call->pool, u->hdrs[i].key);
        char *v = dapr__pool_strndup(&call->pool, (const char *)u->hdrs[i].value, u->hdrs[i].len);
        if (!k || !v || md_push(call, k, (const uint8_t *)v, u->hdrs[i].len))
            return DAPR_ENOMEM;
    }
    if (u->body_len && dapr__buf_append(&call->body, u->body, u->body_len))
        return DAPR_ENOMEM;
    call->plain = true;
    call->method = c->srv->cfg.plain;
    call->remote_closed = true;
    return 0;
}

int dapr__grpc_conn_session_new(dapr__grpc_conn_t *c)
{
    dapr__grpc_server_t *s = c->srv;
    int rv = nghttp2_session_server_new3(&c->io.h2, s->cbs, c, s->opt,
                                         (nghttp2_mem *)&dapr__grpc_nghttp2_mem);
    if (rv != 0)
        return DAPR_ENOMEM;
    size_t hl = s->cfg.max_header_list;
    nghttp2_settings_entry iv[] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, DAPR__GRPC_MAX_STREAMS},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, (uint32_t)DAPR__GRPC_STREAM_WINDOW},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, hl > UINT32_MAX ? UINT32_MAX : (uint32_t)hl},
    };
    rv = nghttp2_submit_settings(c->io.h2, NGHTTP2_FLAG_NONE, iv, sizeof(iv) / sizeof(iv[0]));
    if (rv == 0)
        rv = nghttp2_session_set_local_window_size(c->io.h2, NGHTTP2_FLAG_NONE, 0,
                                                   DAPR__GRPC_CONN_WINDOW);
    if (rv != 0) {
        nghttp2_session_del(c->io.h2);
        c->io.h2 = NULL;
        return DAPR_ENOMEM;
    }
    return 0;
}
