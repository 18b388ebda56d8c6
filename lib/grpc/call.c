/* Server calls: lifetime, the response side (headers, messages, trailers)
 * and the handler-facing API of grpc.h.
 *
 * Lifetime. A call is released when both (a) its stream is gone (closed by
 * nghttp2 or the connection died: `stream_closed`) and (b) nobody owes a
 * finish (`finished`: the handler called dapr__grpc_call_finish, or no
 * handler callback ever ran). `busy` pins it while the engine runs a handler
 * callback that could finish it. So finish-before-close, close-before-finish
 * and cancel-then-finish-later all end in exactly one release.
 *
 * Response. HEADERS go out lazily with the first message (submitted with a
 * data provider over the call's queue) or, if the call ends before any
 * message, as one trailers-only HEADERS with END_STREAM. Trailers are
 * submitted from the data provider once the queue is empty. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"
#include "core/errors.h"
#include "core/log.h"
#include "dapr/common.h"
#include "grpc_int.h"

#define NV_STATIC (NGHTTP2_NV_FLAG_NO_COPY_NAME | NGHTTP2_NV_FLAG_NO_COPY_VALUE)
#define container_of(p, T, m) ((T *)((char *)(p) - offsetof(T, m)))

static nghttp2_nv nv(const char *name, const char *value, size_t vlen, uint8_t flags)
{
    nghttp2_nv r = {(uint8_t *)name, (uint8_t *)value, strlen(name), vlen, flags};
    return r;
}

#define NV_LIT(n, v) nv((n), (v), sizeof(v) - 1, NV_STATIC)

/* --- lifetime ------------------------------------------------------------ */

dapr__grpc_call_t *dapr__grpc_call_new(dapr__grpc_conn_t *conn, int32_t stream_id)
{
    /* The call lives in the first chunk of its own arena: one allocation
     * for the call, its path and metadata in the common case. */
    dapr__pool_t pool;
    dapr__pool_init(&pool, DAPR__GRPC_CALL_POOL);
    dapr__grpc_call_t *c = dapr__pool_calloc(&pool, sizeof(*c));
    if (!c) {
        dapr__pool_destroy(&pool);
        return NULL;
    }
    c->pool = pool;
    c->conn = conn;
    c->stream_id = stream_id;
    c->server_ud = conn->srv->cfg.ud;
    c->max_recv = conn->srv->cfg.max_recv_msg;
    c->next = conn->calls;
    if (conn->calls)
        conn->calls->prev = c;
    conn->calls = c;
    conn->n_calls++;
    return c;
}

static void call_free(dapr__grpc_call_t *c)
{
    dapr__grpc_deframer_free(&c->rx);
    dapr__grpc_outq_free(&c->tx);
    dapr__buf_free(&c->body);
    dapr__free(c->req_owned);
    dapr__pool_t pool = c->pool; /* the call itself lives in the pool */
    dapr__pool_destroy(&pool);
}

void dapr__grpc_call_maybe_free(dapr__grpc_call_t *c)
{
    if (c->busy == 0 && c->finished && c->stream_closed)
        call_free(c);
}

/* Unlink from the connection: no frame will be submitted for it anymore. */
static void detach(dapr__grpc_call_t *c)
{
    dapr__grpc_conn_t *conn = c->conn;
    if (!conn)
        return;
    if (c->prev)
        c->prev->next = c->next;
    else
        conn->calls = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
    conn->n_calls--;
    if (c->writable_pending)
        conn->n_writable--;
    c->writable_pending = false;
    dapr__grpc_dlheap_del(&conn->srv->dl, &c->dl);
    if (conn->io.h2)
        nghttp2_session_set_stream_user_data(conn->io.h2, c->stream_id, NULL);
    c->conn = NULL;
    c->stream_closed = true;
    c->accepting = false;
}

static void invoke_cancel(dapr__grpc_call_t *c)
{
    if (c->finished || c->cancelled)
        return;
    if (!c->involved) {
        c->finished = true; /* no handler knows the call: nobody owes finish */
        return;
    }
    c->cancelled = true;
    c->busy++;
    if (c->method->on_cancel)
        c->method->on_cancel(c);
    c->busy--;
}

void dapr__grpc_call_on_stream_close(dapr__grpc_call_t *c, uint32_t error_code)
{
    c->busy++;
    detach(c);
    invoke_cancel(c); /* no-op when the handler already finished */
    c->busy--;
    dapr__grpc_call_maybe_free(c);
}

void dapr__grpc_call_teardown_all(dapr__grpc_conn_t *conn)
{
    /* Pin every call first: a handler's on_cancel may finish any of them. */
    dapr__grpc_call_t *list = conn->calls, *c, *next;
    for (c = list; c; c = c->next) {
        c->busy++;
        dapr__grpc_dlheap_del(&conn->srv->dl, &c->dl);
        c->conn = NULL; /* from now on sends return DAPR_ECLOSED */
        c->stream_closed = true;
        c->accepting = false;
        c->writable_pending = false;
    }
    for (c = list; c; c = c->next)
        invoke_cancel(c);
    for (c = list; c; c = next) {
        next = c->next;
        c->prev = c->next = NULL;
        c->busy--;
        dapr__grpc_call_maybe_free(c);
    }
    conn->calls = NULL;
    conn->n_calls = 0;
    conn->n_writable = 0;
}

/* --- response ------------------------------------------------------------ */

static void mark_dirty(dapr__grpc_call_t *c)
{
    if (c->conn)
        dapr__h2io_mark_dirty(&c->conn->io);
}

static size_t head_nv(dapr__grpc_call_t *c, nghttp2_nv *out)
{
    size_t n = 0;
    out[n++] = NV_LIT(":status", "200");
    out[n++] = NV_LIT("content-type", "application/grpc");
    for (size_t i = 0; i < c->hdrs.n; i++)
        out[n++] = c->hdrs.v[i];
    return n;
}

static int start_response(dapr__grpc_call_t *c)
{
    nghttp2_nv *v = dapr__pool_alloc(&c->pool, (2 + c->hdrs.n) * sizeof(*v));
    if (!v)
        return DAPR_ENOMEM;
    size_t n = head_nv(c, v);
    nghttp2_data_provider prd;
    prd.source.ptr = c;
    prd.read_callback = dapr__grpc_call_read_cb;
    int rv = nghttp2_submit_response(c->conn->io.h2, c->stream_id, v, n, &prd);
    if (rv != 0)
        return rv == NGHTTP2_ERR_NOMEM ? DAPR_ENOMEM : DAPR_ECLOSED;
    c->resp_started = true;
    return 0;
}

/* grpc-status, grpc-message, grpc-status-details-bin into v; strings in the
 * call's pool. Returns the count or 0 on OOM. */
static size_t status_nv(dapr__grpc_call_t *c, nghttp2_nv *v, int status, const char *msg,
                        const void *details, size_t dlen)
{
    size_t n = 0;
    char *code = dapr__pool_printf(&c->pool, "%d", status);
    if (!code)
        return 0;
    v[n++] = nv("grpc-status", code, strlen(code), NGHTTP2_NV_FLAG_NO_COPY_NAME);
    if (msg && *msg) {
        size_t ml = strlen(msg);
        char *enc = dapr__pool_alloc(&c->pool, ml * 3 + 1);
        if (!enc)
            return 0;
        size_t el = dapr__grpc_pct_encode(msg, ml, enc);
        v[n++] = nv("grpc-message", enc, el, NGHTTP2_NV_FLAG_NO_COPY_NAME);
    }
    if (details && dlen) {
        char *b = dapr__pool_alloc(&c->pool, 4 * ((dlen + 2) / 3) + 1);
        if (!b)
            return 0;
        size_t bl = dapr__grpc_b64_encode(details, dlen, b, false);
        v[n++] = nv("grpc-status-details-bin", b, bl, NGHTTP2_NV_FLAG_NO_COPY_NAME);
    }
    return n;
}

static void reset_stream(dapr__grpc_call_t *c)
{
    nghttp2_submit_rst_stream(c->conn->io.h2, NGHTTP2_FLAG_NONE, c->stream_id,
                              NGHTTP2_INTERNAL_ERROR);
}

/* Decide the end of the response: trailers-only, or trailers after the
 * queued messages. */
static void submit_status(dapr__grpc_call_t *c, int status, const char *msg, const void *details,
                          size_t dlen)
{
    c->wire_done = true;
    c->accepting = false;
    mark_dirty(c);
    size_t max = 2 + c->hdrs.n + 3 + c->tr.n;
    nghttp2_nv *v = dapr__pool_alloc(&c->pool, max * sizeof(*v));
    size_t n = c->resp_started || !v ? 0 : head_nv(c, v);
    size_t ns = v ? status_nv(c, v + n, status, msg, details, dlen) : 0;
    if (ns == 0) {
        reset_stream(c);
        return;
    }
    for (size_t i = 0; i < c->tr.n; i++)
        v[n + ns++] = c->tr.v[i];
    if (!c->resp_started) {
        if (nghttp2_submit_response(c->conn->io.h2, c->stream_id, v, n + ns, NULL) != 0)
            reset_stream(c);
        return;
    }
    c->trailers = v;
    c->n_trailers = ns;
    if (c->deferred) {
        c->deferred = false;
        nghttp2_session_resume_data(c->conn->io.h2, c->stream_id);
    }
}

void dapr__grpc_call_fail(dapr__grpc_call_t *c, int status, const char *msg)
{
    DAPR_LOG(c->conn->srv->log, DAPR_LOG_DEBUG, DAPR__GRPC_SCOPE, "call %s ended: %d %s",
             c->path ? c->path : "?", status, msg);
    c->accepting = false;
    invoke_cancel(c);
    if (c->conn && !c->wire_done) {
        dapr__grpc_outq_drop_unsent(&c->tx);
        submit_status(c, status, msg, NULL, 0);
    }
}

void dapr__grpc_call_http_error(dapr__grpc_call_t *c, int http_status)
{
    char *code = dapr__pool_printf(&c->pool, "%d", http_status);
    nghttp2_nv v[2];
    c->wire_done = true;
    c->accepting = false;
    c->finished = true; /* no handler is involved */
    mark_dirty(c);
    if (!code) {
        reset_stream(c);
        return;
    }
    v[0] = nv(":status", code, strlen(code), NGHTTP2_NV_FLAG_NO_COPY_NAME);
    v[1] = NV_LIT("content-type", "text/plain");
    if (nghttp2_submit_response(c->conn->io.h2, c->stream_id, v, 2, NULL) != 0)
        reset_stream(c);
}

void dapr__grpc_call_deadline(dapr__grpc_dlheap_t *h, dapr__grpc_dl_t *d)
{
    dapr__grpc_call_t *c = container_of(d, dapr__grpc_call_t, dl);
    dapr__grpc_conn_t *conn = c->conn;
    if (!conn)
        return;
    dapr__h2io_hold(&conn->io);
    dapr__grpc_call_fail(c, DAPR_GRPC_DEADLINE_EXCEEDED, "deadline exceeded");
    dapr__h2io_unhold(&conn->io);
}

/* --- nghttp2 data provider ----------------------------------------------- */

ssize_t dapr__grpc_call_read_cb(nghttp2_session *s, int32_t sid, uint8_t *buf, size_t len,
                                uint32_t *flags, nghttp2_data_source *src, void *ud)
{
    dapr__grpc_call_t *c = nghttp2_session_get_stream_user_data(s, sid);
    if (!c)
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    size_t avail = dapr__grpc_outq_len(&c->tx);
    if (avail == 0 && !c->trailers && !c->plain) {
        c->deferred = true;
        return NGHTTP2_ERR_DEFERRED;
    }
    size_t n = avail < len ? avail : len;
    if (n > 0)
        *flags |= NGHTTP2_DATA_FLAG_NO_COPY;
    if (c->plain) {
        if (n == avail)
            *flags |= NGHTTP2_DATA_FLAG_EOF; /* the whole body was queued at once */
        return (ssize_t)n;
    }
    if (n == avail && c->trailers) {
        *flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
        if (nghttp2_submit_trailer(s, sid, c->trailers, c->n_trailers) != 0)
            return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
        c->trailers = NULL;
    }
    return (ssize_t)n;
}

int dapr__grpc_call_send_data_cb(nghttp2_session *s, nghttp2_frame *f, const uint8_t *framehd,
                                 size_t length, nghttp2_data_source *src, void *ud)
{
    dapr__grpc_conn_t *conn = ud;
    dapr__grpc_call_t *c = nghttp2_session_get_stream_user_data(s, f->hd.stream_id);
    if (!c)
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    int rv = dapr__h2io_send_data(&conn->io, framehd, &c->tx, length, f->data.padlen);
    if (rv != 0 && rv != NGHTTP2_ERR_PAUSE)
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    if (c->want_writable && !c->writable_pending &&
        dapr__grpc_outq_len(&c->tx) <= DAPR__GRPC_OUTQ_LOW) {
        /* handlers must not run inside mem_send: notify in after_send */
        c->writable_pending = true;
        conn->n_writable++;
    }
    return rv;
}

void dapr__grpc_conn_after_send(dapr__h2io_t *io)
{
    dapr__grpc_conn_t *conn = (dapr__grpc_conn_t *)io;
    dapr__grpc_call_t *c, *next;
    for (c = conn->calls; c && conn->n_writable > 0; c = next) {
        next = c->next;
        if (!c->writable_pending)
            continue;
        c->writable_pending = false;
        c->want_writable = false;
        conn->n_writable--;
        if (c->finished || c->cancelled || c->wire_done || !c->method->on_writable)
            continue;
        c->busy++;
        c->method->on_writable(c);
        c->busy--;
    }
}

/* --- handler API ----------------------------------------------------------- */

const dapr__grpc_method_t *dapr__grpc_call_method(const dapr__grpc_call_t *c) { return c->method; }
const char *dapr__grpc_call_path(const dapr__grpc_call_t *c) { return c->path ? c->path : ""; }
void *dapr__grpc_call_server_ud(const dapr__grpc_call_t *c) { return c->server_ud; }
void *dapr__grpc_call_alloc(dapr__grpc_call_t *c, size_t n)
{
    return dapr__pool_alloc(&c->pool, n);
}
void dapr__grpc_call_set_user(dapr__grpc_call_t *c, void *user) { c->user = user; }
void *dapr__grpc_call_user(const dapr__grpc_call_t *c) { return c->user; }
bool dapr__grpc_call_cancelled(const dapr__grpc_call_t *c) { return c->cancelled; }
const char *dapr__grpc_call_http_method(const dapr__grpc_call_t *c)
{
    return c->http_method ? c->http_method : "";
}

void dapr__grpc_call_peer(const dapr__grpc_call_t *c, char *out, size_t outlen)
{
    struct sockaddr_storage ss;
    int sl = sizeof(ss);
    out[0] = '\0';
    if (!c->conn || !c->conn->io.tcp ||
        uv_tcp_getpeername(c->conn->io.tcp, (struct sockaddr *)&ss, &sl) != 0)
        return;
    if (ss.ss_family == AF_INET6)
        uv_ip6_name((const struct sockaddr_in6 *)&ss, out, outlen);
    else if (ss.ss_family == AF_INET)
        uv_ip4_name((const struct sockaddr_in *)&ss, out, outlen);
}

/* Headers HTTP/2 forbids in a response (RFC 9113 8.2.2) or that we set. */
static bool plain_skip(const char *n)
{
    static const char *const skip[] = {"connection", "keep-alive", "proxy-connection",
                                       "transfer-encoding", "upgrade", "content-length", "te"};
    for (size_t i = 0; i < sizeof(skip) / sizeof(skip[0]); i++)
        if (strcasecmp(n, skip[i]) == 0)
            return true;
    return false;
}

int dapr__grpc_call_respond_plain(dapr__grpc_call_t *c, int status, const char *const *hdrs,
                                  size_t n_hdrs, const void *body, size_t len)
{
    if (c->finished)
        return 0;
    c->finished = true;
    c->accepting = false;
    int rc = 0;
    if (c->conn && !c->cancelled && !c->wire_done) {
        c->wire_done = true;
        mark_dirty(c);
        bool no_body = status < 200 || status == 204 || status == 304 ||
                       (c->http_method && strcmp(c->http_method, "HEAD") == 0);
        nghttp2_nv *v = dapr__pool_alloc(&c->pool, (n_hdrs + 2) * sizeof(*v));
        char *code = dapr__pool_printf(&c->pool, "%d", status);
        char *clen = dapr__pool_printf(&c->pool, "%zu", len);
        size_t n = 0;
        rc = v && code && clen ? 0 : DAPR_ENOMEM;
        if (!rc) {
            v[n++] = nv(":status", code, strlen(code), NGHTTP2_NV_FLAG_NO_COPY_NAME);
            for (size_t i = 0; i < n_hdrs && !rc; i++) {
                const char *hn = hdrs[2 * i], *hv = hdrs[2 * i + 1];
                if (plain_skip(hn))
                    continue;
                size_t nl = strlen(hn);
                char *lc = dapr__pool_alloc(&c->pool, nl + 1);
                if (!lc) {
                    rc = DAPR_ENOMEM;
                    break;
                }
                for (size_t k = 0; k <= nl; k++)
                    lc[k] = (char)((hn[k] >= 'A' && hn[k] <= 'Z') ? hn[k] + 32 : hn[k]);
                v[n++] = nv(lc, hv, strlen(hv), NGHTTP2_NV_FLAG_NONE);
            }
            if (!rc && status >= 200 && status != 204 && status != 304)
                v[n++] = nv("content-length", clen, strlen(clen), NGHTTP2_NV_FLAG_NO_COPY_NAME);
        }
        if (!rc && !no_body && len)
            rc = dapr__grpc_outq_push_raw(&c->tx, body, len);
        if (!rc) {
            nghttp2_data_provider prd = {.source.ptr = c, .read_callback = dapr__grpc_call_read_cb};
            int rv = nghttp2_submit_response(c->conn->io.h2, c->stream_id, v, n,
                                             !no_body && len ? &prd : NULL);
            if (rv != 0)
                rc = DAPR_ENOMEM;
            else
                c->resp_started = true;
        }
        if (rc)
            reset_stream(c);
    }
    dapr__grpc_call_maybe_free(c);
    return rc;
}

size_t dapr__grpc_call_md(const dapr__grpc_call_t *c, const dapr__grpc_md_t **md)
{
    *md = c->md;
    return c->n_md;
}

const char *dapr__grpc_call_md_get(const dapr__grpc_call_t *c, const char *key)
{
    for (size_t i = 0; i < c->n_md; i++)
        if (strcmp(c->md[i].key, key) == 0)
            return (const char *)c->md[i].value; /* stored NUL-terminated */
    return NULL;
}

static bool valid_key(const char *k)
{
    if (!*k)
        return false;
    for (; *k; k++)
        if (!((*k >= 'a' && *k <= 'z') || (*k >= '0' && *k <= '9') || *k == '-' || *k == '_' ||
              *k == '.'))
            return false;
    return true;
}

static int add_md(dapr__grpc_call_t *c, dapr__grpc_respnv_t *h, const char *key,
                  const void *value, size_t len)
{
    if (!valid_key(key))
        return DAPR_EINVAL;
    if (h->n == h->cap) {
        size_t ncap = h->cap ? h->cap * 2 : 4;
        nghttp2_nv *nvv = dapr__pool_alloc(&c->pool, ncap * sizeof(*nvv));
        if (!nvv)
            return DAPR_ENOMEM;
        if (h->n)
            memcpy(nvv, h->v, h->n * sizeof(*nvv));
        h->v = nvv;
        h->cap = ncap;
    }
    size_t kl = strlen(key);
    char *k = dapr__pool_strndup(&c->pool, key, kl);
    bool bin = kl > 4 && strcmp(key + kl - 4, "-bin") == 0;
    char *v = dapr__pool_alloc(&c->pool, bin ? 4 * ((len + 2) / 3) + 1 : len + 1);
    if (!k || !v)
        return DAPR_ENOMEM;
    size_t vl = len;
    if (bin)
        vl = dapr__grpc_b64_encode(value, len, v, false);
    else if (len)
        memcpy(v, value, len);
    h->v[h->n++] = nv(k, v, vl, NGHTTP2_NV_FLAG_NONE);
    h->v[h->n - 1].namelen = kl;
    return 0;
}

int dapr__grpc_call_add_header(dapr__grpc_call_t *c, const char *key, const void *value,
                               size_t len)
{
    if (c->resp_started || c->wire_done || c->finished)
        return DAPR_ESTATE;
    return add_md(c, &c->hdrs, key, value, len);
}

int dapr__grpc_call_add_trailer(dapr__grpc_call_t *c, const char *key, const void *value,
                                size_t len)
{
    if (c->wire_done || c->finished)
        return DAPR_ESTATE;
    if (!strncmp(key, "grpc-", 5) || !strcmp(key, "content-type"))
        return DAPR_EINVAL; /* the status fields are finish's */
    return add_md(c, &c->tr, key, value, len);
}

int dapr__grpc_call_send_headers(dapr__grpc_call_t *c)
{
    if (c->finished || c->cancelled || c->wire_done || !c->conn)
        return DAPR_ECLOSED;
    if (c->resp_started)
        return 0;
    int rv = start_response(c); /* the data provider defers until a message */
    if (rv == 0)
        mark_dirty(c);
    return rv;
}

void dapr__grpc_call_pause_recv(dapr__grpc_call_t *c, bool pause)
{
    c->rx_paused = pause;
    if (pause || !c->rx_held)
        return;
    size_t n = c->rx_held;
    c->rx_held = 0;
    if (c->conn && c->conn->io.h2 && !c->stream_closed) {
        nghttp2_session_consume_stream(c->conn->io.h2, c->stream_id, n);
        mark_dirty(c);
    }
}

uint64_t dapr__grpc_call_timeout_left(const dapr__grpc_call_t *c)
{
    if (!c->has_timeout || !c->conn)
        return 0;
    uint64_t now = uv_now(c->conn->srv->loop);
    return c->dl.at > now ? c->dl.at - now : 1;
}

int dapr__grpc_call_send(dapr__grpc_call_t *c, const void *msg, size_t len)
{
    if (c->finished || c->cancelled || c->wire_done || !c->conn)
        return DAPR_ECLOSED;
    if (dapr__grpc_outq_len(&c->tx) > DAPR__GRPC_OUTQ_HIGH) {
        c->want_writable = true;
        return DAPR_EAGAIN;
    }
    int rv = dapr__grpc_outq_push(&c->tx, msg, len);
    if (rv != 0)
        return rv;
    if (!c->resp_started) {
        if ((rv = start_response(c)) != 0)
            return rv;
    } else if (c->deferred) {
        c->deferred = false;
        nghttp2_session_resume_data(c->conn->io.h2, c->stream_id);
    }
    mark_dirty(c);
    return 0;
}

void dapr__grpc_call_finish(dapr__grpc_call_t *c, int status, const char *message,
                            const void *details, size_t details_len)
{
    if (c->finished)
        return; /* a second finish is a caller bug; ignore it */
    c->finished = true;
    c->accepting = false;
    if (c->conn && !c->cancelled && !c->wire_done)
        submit_status(c, status, message, details, details_len);
    dapr__grpc_call_maybe_free(c);
}
