/* Client calls: request submission, the response (headers, messages,
 * trailers) and the mapping of transport events to gRPC statuses.
 *
 * A call is freed right after its on_close returns, unless engine code is
 * still delivering to it (`busy`); then when that unwinds. Its stream's
 * user data is cleared at close, so late frames for it are only consumed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/errors.h"
#include "core/log.h"
#include "dapr/common.h"
#include "grpc_int.h"

#define NV_STATIC (NGHTTP2_NV_FLAG_NO_COPY_NAME | NGHTTP2_NV_FLAG_NO_COPY_VALUE)
#define MAX_PENDING 1024 /* calls waiting for a connection */
#define container_of(p, T, m) ((T *)((char *)(p) - offsetof(T, m)))

static nghttp2_nv nv(const char *name, const char *value, size_t vlen, uint8_t flags)
{
    nghttp2_nv r = {(uint8_t *)name, (uint8_t *)value, strlen(name), vlen, flags};
    return r;
}

#define NV_LIT(n, v) nv((n), (v), sizeof(v) - 1, NV_STATIC)

/* --- lifetime ------------------------------------------------------------- */

static void ccall_free(dapr__grpc_ccall_t *cc)
{
    dapr__grpc_deframer_free(&cc->rx);
    dapr__grpc_outq_free(&cc->tx);
    dapr__pool_t pool = cc->pool; /* the call lives in its pool */
    dapr__pool_destroy(&pool);
}

void dapr__grpc_ccall_unbusy(dapr__grpc_ccall_t *cc)
{
    if (--cc->busy == 0 && cc->closed)
        ccall_free(cc);
}

static void unlink_call(dapr__grpc_ccall_t *cc)
{
    dapr__grpc_cconn_t *conn = cc->conn;
    if (!conn)
        return;
    if (cc->prev)
        cc->prev->next = cc->next;
    else
        conn->calls = cc->next;
    if (cc->next)
        cc->next->prev = cc->prev;
    cc->prev = cc->next = NULL;
    conn->n_calls--;
    if (cc->writable_pending)
        conn->n_writable--;
    cc->writable_pending = false;
    cc->conn = NULL;
    if (conn->n_calls == 0 && conn->state == DAPR__CC_DRAINING)
        dapr__h2io_close(&conn->io, 0); /* GOAWAY received and nothing left */
}

/* Detach from the stream; reset it when it is still open on our side or
 * when we abandon it (`cancel`). */
static void release_stream(dapr__grpc_ccall_t *cc, bool cancel)
{
    dapr__grpc_cconn_t *conn = cc->conn;
    if (!conn || !conn->io.h2 || cc->stream_id <= 0)
        return;
    nghttp2_session *h2 = conn->io.h2;
    nghttp2_session_set_stream_user_data(h2, cc->stream_id, NULL);
    int local_closed = nghttp2_session_get_stream_local_close(h2, cc->stream_id);
    /* No stream yet: the request HEADERS still wait in nghttp2's queue
     * (connecting, or over the peer's MAX_CONCURRENT_STREAMS) and still
     * point at this call. RST_STREAM cancels them there. */
    if (local_closed < 0 || cancel || local_closed == 0) {
        nghttp2_submit_rst_stream(h2, NGHTTP2_FLAG_NONE, cc->stream_id,
                                  cancel ? NGHTTP2_CANCEL : NGHTTP2_NO_ERROR);
        dapr__h2io_mark_dirty(&conn->io);
    }
}

static void close_call(dapr__grpc_ccall_t *cc, int status, const char *msg, bool cancel)
{
    if (cc->closed)
        return;
    cc->closed = true;
    dapr__grpc_dlheap_del(&cc->ch->dl, &cc->dl);
    release_stream(cc, cancel);
    unlink_call(cc);
    cc->busy++;
    cc->cbs.on_close(cc, status, msg ? msg : "", cc->tmd.v, cc->tmd.n, cc->ud);
    dapr__grpc_ccall_unbusy(cc);
}

void dapr__grpc_ccall_close(dapr__grpc_ccall_t *cc, int status, const char *msg)
{
    close_call(cc, status, msg, true);
}

void dapr__grpc_ccall_deadline(dapr__grpc_dlheap_t *h, dapr__grpc_dl_t *d)
{
    dapr__grpc_ccall_t *cc = container_of(d, dapr__grpc_ccall_t, dl);
    dapr__grpc_cconn_t *conn = cc->conn;
    if (conn)
        dapr__h2io_hold(&conn->io);
    close_call(cc, DAPR_GRPC_DEADLINE_EXCEEDED, "deadline exceeded", true);
    if (conn)
        dapr__h2io_unhold(&conn->io);
}

/* --- request ----------------------------------------------------------------- */

static bool valid_key(const char *k)
{
    if (!*k || (k[0] == 'g' && strncmp(k, "grpc-", 5) == 0 && strcmp(k, "grpc-trace-bin") != 0))
        return false;
    for (; *k; k++)
        if (!((*k >= 'a' && *k <= 'z') || (*k >= '0' && *k <= '9') || *k == '-' || *k == '_' ||
              *k == '.'))
            return false;
    return true;
}

static int md_nv(dapr__grpc_ccall_t *cc, const dapr__grpc_md_t *m, nghttp2_nv *out)
{
    size_t kl = strlen(m->key);
    char *k = dapr__pool_strndup(&cc->pool, m->key, kl);
    bool bin = kl > 4 && strcmp(m->key + kl - 4, "-bin") == 0;
    char *v = dapr__pool_alloc(&cc->pool, bin ? 4 * ((m->len + 2) / 3) + 1 : m->len + 1);
    if (!k || !v)
        return DAPR_ENOMEM;
    size_t vl = m->len;
    if (bin)
        vl = dapr__grpc_b64_encode(m->value, m->len, v, false);
    else if (m->len)
        memcpy(v, m->value, m->len);
    *out = nv(k, v, vl, NGHTTP2_NV_FLAG_NO_COPY_NAME);
    out->namelen = kl;
    return 0;
}

static ssize_t read_cb(nghttp2_session *s, int32_t sid, uint8_t *buf, size_t len, uint32_t *flags,
                       nghttp2_data_source *src, void *ud)
{
    dapr__grpc_ccall_t *cc = nghttp2_session_get_stream_user_data(s, sid);
    if (!cc)
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    size_t avail = dapr__grpc_outq_len(&cc->tx);
    if (avail == 0 && !cc->half_close) {
        cc->deferred = true;
        return NGHTTP2_ERR_DEFERRED;
    }
    size_t n = avail < len ? avail : len;
    if (n > 0)
        *flags |= NGHTTP2_DATA_FLAG_NO_COPY;
    if (n == avail && cc->half_close)
        *flags |= NGHTTP2_DATA_FLAG_EOF; /* END_STREAM on this frame */
    return (ssize_t)n;
}

int dapr__grpc_ccall_submit(dapr__grpc_ccall_t *cc, const char *path, const dapr__grpc_md_t *md,
                            size_t n_md, uint64_t timeout_ms)
{
    dapr__grpc_channel_t *ch = cc->ch;
    nghttp2_nv *v = dapr__pool_alloc(&cc->pool, (8 + n_md) * sizeof(*v));
    char *tmo = dapr__pool_alloc(&cc->pool, 16);
    if (!v || !tmo)
        return DAPR_ENOMEM;
    size_t n = 0;
    v[n++] = NV_LIT(":method", "POST");
    v[n++] = NV_LIT(":scheme", "http");
    v[n++] = nv(":path", path, strlen(path), NGHTTP2_NV_FLAG_NO_COPY_NAME);
    v[n++] = nv(":authority", ch->authority, strlen(ch->authority), NGHTTP2_NV_FLAG_NO_COPY_NAME);
    v[n++] = NV_LIT("content-type", "application/grpc");
    v[n++] = NV_LIT("te", "trailers");
    v[n++] = NV_LIT("user-agent", DAPR__GRPC_USER_AGENT);
    if (timeout_ms) {
        size_t tl = dapr__grpc_timeout_format(timeout_ms, tmo);
        v[n++] = nv("grpc-timeout", tmo, tl, NGHTTP2_NV_FLAG_NO_COPY_NAME);
    }
    for (size_t i = 0; i < n_md; i++)
        if (md_nv(cc, &md[i], &v[n++]) != 0)
            return DAPR_ENOMEM;
    nghttp2_data_provider prd;
    prd.source.ptr = cc;
    prd.read_callback = read_cb;
    int32_t sid = nghttp2_submit_request(cc->conn->io.h2, NULL, v, n, &prd, cc);
    if (sid < 0)
        return sid == NGHTTP2_ERR_NOMEM ? DAPR_ENOMEM : DAPR_EUNAVAIL;
    cc->stream_id = sid;
    return 0;
}

static dapr__grpc_ccall_t *ccall_new(dapr__grpc_channel_t *ch, dapr__grpc_cconn_t *conn,
                                     const dapr__grpc_ccall_cbs_t *cbs, void *ud)
{
    dapr__pool_t pool;
    dapr__pool_init(&pool, DAPR__GRPC_CALL_POOL);
    dapr__grpc_ccall_t *cc = dapr__pool_calloc(&pool, sizeof(*cc));
    if (!cc) {
        dapr__pool_destroy(&pool);
        return NULL;
    }
    cc->pool = pool;
    cc->ch = ch;
    cc->conn = conn;
    cc->cbs = *cbs;
    cc->ud = ud;
    cc->grpc_status = -1;
    return cc;
}

static void link_call(dapr__grpc_cconn_t *conn, dapr__grpc_ccall_t *cc)
{
    cc->next = conn->calls;
    if (conn->calls)
        conn->calls->prev = cc;
    conn->calls = cc;
    conn->n_calls++;
}

static int check_start(dapr__grpc_channel_t *ch, const char *path, const dapr__grpc_md_t *md,
                       size_t n_md, const dapr__grpc_ccall_cbs_t *cbs)
{
    if (!ch || !path || path[0] != '/' || !cbs || !cbs->on_close || (n_md && !md))
        return DAPR_EINVAL;
    for (size_t i = 0; i < n_md; i++)
        if (!md[i].key || !valid_key(md[i].key) || (md[i].len && !md[i].value))
            return DAPR_EINVAL;
    return ch->closing ? DAPR_ECLOSED : 0;
}

int dapr__grpc_call_start(dapr__grpc_channel_t *ch, const char *path, const dapr__grpc_md_t *md,
                          size_t n_md, uint64_t timeout_ms, const dapr__grpc_ccall_cbs_t *cbs,
                          void *ud, dapr__grpc_ccall_t **out)
{
    int rv = check_start(ch, path, md, n_md, cbs);
    if (rv != 0)
        return rv;
    dapr__grpc_cconn_t *conn = dapr__grpc_channel_conn(ch);
    if (!conn)
        return DAPR_ENOMEM;
    if (conn->state != DAPR__CC_READY && conn->n_calls >= MAX_PENDING)
        return DAPR_EAGAIN;
    dapr__grpc_ccall_t *cc = ccall_new(ch, conn, cbs, ud);
    if (!cc)
        return DAPR_ENOMEM;
    if (timeout_ms &&
        dapr__grpc_dlheap_add(&ch->dl, &cc->dl, uv_now(ch->loop) + timeout_ms) != 0) {
        ccall_free(cc);
        return DAPR_ENOMEM;
    }
    if ((rv = dapr__grpc_ccall_submit(cc, path, md, n_md, timeout_ms)) != 0) {
        dapr__grpc_dlheap_del(&ch->dl, &cc->dl);
        ccall_free(cc);
        return rv;
    }
    link_call(conn, cc);
    dapr__h2io_mark_dirty(&conn->io);
    if (out)
        *out = cc;
    return 0;
}

static void resume(dapr__grpc_ccall_t *cc)
{
    if (cc->deferred && cc->conn && cc->conn->io.h2) {
        cc->deferred = false;
        nghttp2_session_resume_data(cc->conn->io.h2, cc->stream_id);
    }
    if (cc->conn)
        dapr__h2io_mark_dirty(&cc->conn->io);
}

int dapr__grpc_ccall_send(dapr__grpc_ccall_t *cc, const void *msg, size_t len)
{
    if (cc->closed || cc->half_close || !cc->conn)
        return DAPR_ECLOSED;
    if (dapr__grpc_outq_len(&cc->tx) > DAPR__GRPC_OUTQ_HIGH) {
        cc->want_writable = true;
        return DAPR_EAGAIN;
    }
    int rv = dapr__grpc_outq_push(&cc->tx, msg, len);
    if (rv != 0)
        return rv;
    resume(cc);
    return 0;
}

int dapr__grpc_ccall_half_close(dapr__grpc_ccall_t *cc)
{
    if (cc->closed || !cc->conn)
        return DAPR_ECLOSED;
    if (!cc->half_close) {
        cc->half_close = true;
        resume(cc);
    }
    return 0;
}

void dapr__grpc_ccall_pause_recv(dapr__grpc_ccall_t *cc, bool pause)
{
    if (cc->closed)
        return;
    cc->rx_paused = pause;
    if (pause || !cc->rx_held)
        return;
    size_t n = cc->rx_held;
    cc->rx_held = 0;
    if (cc->conn && cc->conn->io.h2 && cc->stream_id > 0) {
        nghttp2_session_consume_stream(cc->conn->io.h2, cc->stream_id, n);
        dapr__h2io_mark_dirty(&cc->conn->io);
    }
}

void dapr__grpc_ccall_cancel(dapr__grpc_ccall_t *cc)
{
    close_call(cc, DAPR_GRPC_CANCELLED, "call cancelled by the client", true);
}

/* --- response ---------------------------------------------------------------- */

static int mdv_push(dapr__pool_t *p, dapr__grpc_mdv_t *m, const char *key, const uint8_t *val,
                    size_t len)
{
    if (m->n == m->cap) {
        size_t ncap = m->cap ? m->cap * 2 : 8;
        dapr__grpc_md_t *nv2 = dapr__pool_alloc(p, ncap * sizeof(*nv2));
        if (!nv2)
            return DAPR_ENOMEM;
        if (m->n)
            memcpy(nv2, m->v, m->n * sizeof(*nv2));
        m->v = nv2;
        m->cap = ncap;
    }
    m->v[m->n].key = key;
    m->v[m->n].value = val;
    m->v[m->n].len = len;
    m->n++;
    return 0;
}

static void resp_md(dapr__grpc_ccall_t *cc, dapr__grpc_mdv_t *m, const uint8_t *name, size_t nlen,
                    const uint8_t *value, size_t vlen)
{
    char *key = dapr__pool_strndup(&cc->pool, (const char *)name, nlen);
    uint8_t *val = dapr__pool_alloc(&cc->pool, vlen + 1);
    if (!key || !val)
        return; /* metadata is best effort under OOM; the status is not */
    long dl = -1;
    if (nlen > 4 && memcmp(name + nlen - 4, "-bin", 4) == 0)
        dl = dapr__grpc_b64_decode((const char *)value, vlen, val);
    if (dl < 0) { /* not binary, or not valid base64: keep the text */
        memcpy(val, value, vlen);
        dl = (long)vlen;
    }
    val[dl] = '\0';
    mdv_push(&cc->pool, m, key, val, (size_t)dl);
}

static bool is(const uint8_t *name, size_t nlen, const char *lit)
{
    return strlen(lit) == nlen && memcmp(name, lit, nlen) == 0;
}

static int on_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name, size_t nlen,
                     const uint8_t *value, size_t vlen, uint8_t flags, void *ud)
{
    if (f->hd.type != NGHTTP2_HEADERS)
        return 0;
    dapr__grpc_ccall_t *cc = nghttp2_session_get_stream_user_data(s, f->hd.stream_id);
    if (!cc || cc->closed)
        return 0;
    bool trailers = f->headers.cat != NGHTTP2_HCAT_RESPONSE ||
                    (f->hd.flags & NGHTTP2_FLAG_END_STREAM);
    if (is(name, nlen, ":status")) {
        cc->http_status = atoi((const char *)value);
    } else if (nlen > 0 && name[0] == ':') {
        /* other pseudo-headers are not metadata */
    } else if (trailers && is(name, nlen, "grpc-status")) {
        cc->grpc_status = atoi((const char *)value);
    } else if (trailers && is(name, nlen, "grpc-message")) {
        cc->grpc_message = dapr__pool_alloc(&cc->pool, vlen + 1);
        if (cc->grpc_message)
            dapr__grpc_pct_decode((const char *)value, vlen, cc->grpc_message);
    } else if (!is(name, nlen, "content-type")) {
        resp_md(cc, trailers ? &cc->tmd : &cc->hmd, name, nlen, value, vlen);
    }
    return 0;
}

static void end_from_server(dapr__grpc_ccall_t *cc)
{
    char buf[96];
    if (cc->http_status != 200) {
        snprintf(buf, sizeof(buf), "unexpected HTTP status code received from server: %d",
                 cc->http_status);
        close_call(cc, dapr__grpc_code_from_http(cc->http_status), buf, false);
    } else if (cc->grpc_status < 0) {
        close_call(cc, DAPR_GRPC_INTERNAL, "server closed the stream without sending trailers",
                   false);
    } else {
        close_call(cc, cc->grpc_status, cc->grpc_message, false);
    }
}

static void got_headers(dapr__grpc_ccall_t *cc)
{
    if (cc->http_status != 200) {
        end_from_server(cc); /* resets the stream: we do not read the body */
        return;
    }
    cc->headers_seen = true;
    if (cc->cbs.on_headers) {
        cc->busy++;
        cc->cbs.on_headers(cc, cc->hmd.v, cc->hmd.n, cc->ud);
        dapr__grpc_ccall_unbusy(cc);
    }
}

static int on_frame_recv(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
    if (f->hd.type == NGHTTP2_GOAWAY) {
        dapr__grpc_cconn_lost(ud); /* no new calls on this connection */
        return 0;
    }
    if (f->hd.type != NGHTTP2_HEADERS && f->hd.type != NGHTTP2_DATA)
        return 0;
    dapr__grpc_ccall_t *cc = nghttp2_session_get_stream_user_data(s, f->hd.stream_id);
    if (!cc || cc->closed)
        return 0;
    bool end = f->hd.flags & NGHTTP2_FLAG_END_STREAM;
    if (f->hd.type == NGHTTP2_HEADERS && f->headers.cat == NGHTTP2_HCAT_RESPONSE && !end)
        got_headers(cc);
    else if (end)
        end_from_server(cc);
    return 0;
}

static int on_msg(void *ud, const uint8_t *msg, size_t len)
{
    dapr__grpc_ccall_t *cc = ud;
    if (cc->cbs.on_message)
        cc->cbs.on_message(cc, msg, len, cc->ud);
    return cc->closed ? 1 : 0;
}

static void deframe_error(dapr__grpc_ccall_t *cc, int rv)
{
    char buf[96];
    if (rv == DAPR__GRPC_DF_TOO_BIG) {
        snprintf(buf, sizeof(buf), "grpc: received message larger than max (%u vs. %zu)",
                 (unsigned)cc->rx.len, cc->ch->max_recv);
        close_call(cc, DAPR_GRPC_RESOURCE_EXHAUSTED, buf, true);
    } else if (rv == DAPR__GRPC_DF_COMPRESSED) {
        close_call(cc, DAPR_GRPC_INTERNAL,
                   "grpc: compressed flag set with identity or empty encoding", true);
    } else if (rv == DAPR__GRPC_DF_BAD_FLAG) {
        close_call(cc, DAPR_GRPC_INTERNAL, "grpc: received unexpected payload format", true);
    } else {
        close_call(cc, DAPR_GRPC_RESOURCE_EXHAUSTED, "out of memory", true);
    }
}

static int on_data_chunk(nghttp2_session *s, uint8_t flags, int32_t sid, const uint8_t *data,
                         size_t len, void *ud)
{
    dapr__grpc_ccall_t *cc = nghttp2_session_get_stream_user_data(s, sid);
    bool hold = false;
    if (cc && !cc->closed) {
        cc->busy++; /* on_message may cancel; keep the deframer alive */
        int rv = dapr__grpc_deframe(&cc->rx, data, len, cc->ch->max_recv, on_msg, cc);
        if (rv != 0 && rv != 1 && !cc->closed)
            deframe_error(cc, rv);
        /* paused: the stream's window stays closed, the connection's not */
        if ((hold = cc->rx_paused && !cc->closed))
            cc->rx_held += len;
        dapr__grpc_ccall_unbusy(cc);
    }
    if (hold)
        nghttp2_session_consume_connection(s, len);
    else
        nghttp2_session_consume(s, sid, len);
    return 0;
}

static int code_from_rst(uint32_t err)
{
    switch (err) {
    case NGHTTP2_REFUSED_STREAM: return DAPR_GRPC_UNAVAILABLE;
    case NGHTTP2_CANCEL: return DAPR_GRPC_CANCELLED;
    case NGHTTP2_ENHANCE_YOUR_CALM: return DAPR_GRPC_RESOURCE_EXHAUSTED;
    case NGHTTP2_INADEQUATE_SECURITY: return DAPR_GRPC_PERMISSION_DENIED;
    default: return DAPR_GRPC_INTERNAL;
    }
}

static int on_stream_close(nghttp2_session *s, int32_t sid, uint32_t err, void *ud)
{
    dapr__grpc_ccall_t *cc = nghttp2_session_get_stream_user_data(s, sid);
    if (!cc || cc->closed)
        return 0;
    char buf[80];
    snprintf(buf, sizeof(buf), "stream terminated by RST_STREAM with error code: %u", err);
    cc->stream_id = 0; /* nghttp2 is dropping it: nothing to reset */
    close_call(cc, code_from_rst(err), buf, false);
    return 0;
}

static int send_data_cb(nghttp2_session *s, nghttp2_frame *f, const uint8_t *framehd,
                        size_t length, nghttp2_data_source *src, void *ud)
{
    dapr__grpc_cconn_t *conn = ud;
    dapr__grpc_ccall_t *cc = nghttp2_session_get_stream_user_data(s, f->hd.stream_id);
    if (!cc)
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    int rv = dapr__h2io_send_data(&conn->io, framehd, &cc->tx, length, f->data.padlen);
    if (rv != 0 && rv != NGHTTP2_ERR_PAUSE)
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    if (cc->want_writable && !cc->writable_pending &&
        dapr__grpc_outq_len(&cc->tx) <= DAPR__GRPC_OUTQ_LOW) {
        cc->writable_pending = true; /* delivered after mem_send returns */
        conn->n_writable++;
    }
    return rv;
}

void dapr__grpc_client_callbacks(nghttp2_session_callbacks *cbs)
{
    nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame_recv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data_chunk);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_stream_close);
    nghttp2_session_callbacks_set_send_data_callback(cbs, send_data_cb);
}

void dapr__grpc_keep_first(uint8_t **dst, size_t *dst_len, const uint8_t *msg, size_t len)
{
    if (*dst)
        return;
    *dst = dapr__malloc(len ? len : 1);
    if (*dst && len)
        memcpy(*dst, msg, len);
    *dst_len = len;
}
