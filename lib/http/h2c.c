/* Cleartext HTTP/2 (h2c) on the HTTP API port, as Dapr's HTTP server
 * accepts it: a connection that opens with the HTTP/2 client preface (prior
 * knowledge) is handed to the HTTP/2 engine of lib/grpc, running in its
 * plain-request mode, and each stream becomes a dapr__http_req_t for the
 * same on_request callback (the router) that HTTP/1.1 requests reach.
 *
 * The socket changes hands without being shut down: the HTTP/1 connection
 * stops reading, its descriptor is dup()ed into a fresh uv_tcp_t that the
 * engine adopts together with the bytes read so far, and the old handle is
 * closed (closing one descriptor of a dup pair sends nothing to the peer).
 *
 * Requests: the whole body is collected first (bounded by the body limit:
 * 413), then handed over; the answer goes out as HEADERS (+ DATA). A stream
 * the client resets while the handler works stays valid until the handler
 * answers; that answer then only frees. CORS follows the HTTP/1.1 rules
 * (preflights answered here, Access-Control-Allow-Origin added).
 *
 * Streamed responses (dapr__http_respond_start ...) are gathered here and
 * sent whole at _end; an abort after the start resets the stream
 * (RST_STREAM INTERNAL_ERROR), so the client never takes a part for all.
 * Requests are never streamed (dapr__http_req_read: DAPR_ESTATE).
 *
 * HTTP/1.1 "Upgrade: h2c" (RFC 7540 3.2): a complete request with nothing
 * pipelined behind it switches the same way; the request becomes stream 1. */
#include <errno.h>
#include <fcntl.h>
#include <llhttp.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/log.h"
#include "dapr/common.h"
#include "grpc/grpc.h"
#include "grpc/grpc_int.h"
#include "http/server_int.h"

typedef struct h2req {
    dapr__http_req_t req; /* first */
    dapr__grpc_call_t *call;
    dapr__http_server_t *s;
    const char *cors_origin; /* Access-Control-Allow-Origin to add, or NULL */
    /* streamed response, gathered */
    bool started, bodyless;
    int status;
    dapr__http_hdr_t *hdrs; /* in the request pool */
    size_t n_hdrs;
    int64_t left; /* -1: unknown */
    dapr__buf_t body;
} h2req_t;

static void h2_release(h2req_t *h);

static int method_id(const char *m)
{
    for (int i = 0; i <= 45; i++) {
        const char *n = llhttp_method_name((llhttp_method_t)i);
        if (n && strcmp(n, m) == 0)
            return i;
    }
    return -1;
}

static void on_plain_cancel(dapr__grpc_call_t *call)
{
    /* Nothing to stop: the router's work answers through the request,
     * and that answer is a no-op on the wire now. */
    (void)call;
}

static void on_plain_request(dapr__grpc_call_t *call, const uint8_t *body, size_t len)
{
    dapr__http_server_t *s = dapr__grpc_call_server_ud(call);
    static const char oom[] = "out of memory\n";
    static const char *const oom_h[] = {"content-type", "text/plain"};
    h2req_t *h = dapr__calloc(1, sizeof(*h));
    if (!h) {
        dapr__grpc_call_respond_plain(call, 500, oom_h, 1, oom, sizeof(oom) - 1);
        return;
    }
    dapr__http_req_t *r = &h->req;
    dapr__pool_init(&r->pool, 4096);
    h->call = call;
    h->s = s;
    r->h2 = h;
    const dapr__grpc_md_t *md;
    size_t n_md = dapr__grpc_call_md(call, &md);
    const char *path = dapr__grpc_call_path(call);
    const char *q = strchr(path, '?');
    r->method = dapr__pool_strdup(&r->pool, dapr__grpc_call_http_method(call));
    r->url = path;
    r->path = q ? dapr__pool_strndup(&r->pool, path, (size_t)(q - path)) : path;
    r->query = q ? q + 1 : "";
    r->headers = dapr__pool_alloc(&r->pool, (n_md ? n_md : 1) * sizeof(*r->headers));
    if (!r->method || !r->path || !r->headers) {
        dapr__grpc_call_respond_plain(call, 500, oom_h, 1, oom, sizeof(oom) - 1);
        dapr__pool_destroy(&r->pool);
        dapr__free(h);
        return;
    }
    r->method_id = method_id(r->method);
    for (size_t i = 0; i < n_md; i++) {
        r->headers[i].name = md[i].key;
        r->headers[i].value = (const char *)md[i].value; /* NUL-terminated */
    }
    r->n_headers = n_md;
    r->body = body; /* NUL-terminated; lives with the call until the answer */
    r->body_len = len;
    r->http_major = 2;
    r->http_minor = 0;
    r->keep_alive = true;
    dapr__grpc_call_peer(call, r->remote_ip, sizeof(r->remote_ip));
    s->inflight++;
    if (s->cors_on) {
        dapr__http_hdr_t ph[5];
        size_t pn;
        if (dapr__http_cors_preflight(s, r, ph, &pn)) {
            dapr__http_h2_respond(r, 204, ph, pn, NULL, 0);
            return;
        }
        const char *origin = dapr__http_req_header(r, "Origin");
        if (origin && dapr__http_cors_allowed(s, origin))
            h->cors_origin = s->cors_any ? "*" : origin;
    }
    s->on_request(r, s->ud);
}

static const dapr__grpc_method_t plain_row = {
    .path = "*",
    .kind = DAPR__GRPC_UNARY,
    .on_request = on_plain_request,
    .on_cancel = on_plain_cancel,
};

void dapr__http_h2_respond(dapr__http_req_t *req, int status, const dapr__http_hdr_t *hdrs,
                           size_t n_hdrs, const void *body, size_t body_len)
{
    h2req_t *h = req->h2;
    const char *stack[2 * 18] = {0};
    const char **pairs = stack;
    size_t extra = h->cors_origin ? 2 : 0;
    if (n_hdrs + extra > 18 && !(pairs = dapr__malloc(2 * (n_hdrs + extra) * sizeof(*pairs)))) {
        static const char *const oom_h[] = {"content-type", "text/plain"};
        dapr__grpc_call_respond_plain(h->call, 500, oom_h, 1, "out of memory\n", 14);
    } else {
        for (size_t i = 0; i < n_hdrs; i++) {
            pairs[2 * i] = hdrs[i].name;
            pairs[2 * i + 1] = hdrs[i].value ? hdrs[i].value : "";
        }
        size_t n = n_hdrs;
        if (h->cors_origin) {
            pairs[2 * n] = "access-control-allow-origin";
            pairs[2 * n++ + 1] = h->cors_origin;
            if (strcmp(h->cors_origin, "*") != 0) {
                pairs[2 * n] = "vary";
                pairs[2 * n++ + 1] = "Origin";
            }
        }
        dapr__grpc_call_respond_plain(h->call, status, pairs, n, body, body ? body_len : 0);
        if (pairs != stack)
            dapr__free(pairs);
    }
    h2_release(h);
}

/* The handler is done with the request. */
static void h2_release(h2req_t *h)
{
    dapr__http_server_t *s = h->s;
    s->inflight--;
    dapr__buf_free(&h->body);
    dapr__pool_destroy(&h->req.pool);
    dapr__free(h);
    dapr__http_server_check_done(s);
}

int dapr__http_h2_start(dapr__http_req_t *req, int status, const dapr__http_hdr_t *hdrs,
                        size_t n_hdrs, int64_t content_length)
{
    h2req_t *h = req->h2;
    if (h->started)
        return DAPR_ESTATE;
    dapr__http_hdr_t *copy = dapr__pool_alloc(&req->pool, (n_hdrs ? n_hdrs : 1) * sizeof(*copy));
    if (!copy)
        return DAPR_ENOMEM;
    for (size_t i = 0; i < n_hdrs; i++) {
        copy[i].name = dapr__pool_strdup(&req->pool, hdrs[i].name ? hdrs[i].name : "");
        copy[i].value = dapr__pool_strdup(&req->pool, hdrs[i].value ? hdrs[i].value : "");
        if (!copy[i].name || !copy[i].value)
            return DAPR_ENOMEM;
    }
    h->started = true;
    h->status = status;
    h->hdrs = copy;
    h->n_hdrs = n_hdrs;
    h->left = content_length >= 0 ? content_length : -1;
    h->bodyless = status < 200 || status == 204 || status == 304 || req->method_id == HTTP_HEAD;
    return 0;
}

int dapr__http_h2_write(dapr__http_req_t *req, const void *data, size_t len)
{
    h2req_t *h = req->h2;
    if (!h->started)
        return DAPR_ESTATE;
    if (dapr__grpc_call_cancelled(h->call))
        return DAPR_EIO;
    if (h->left >= 0 && (uint64_t)len > (uint64_t)h->left)
        return DAPR_EINVAL;
    if (h->left >= 0)
        h->left -= (int64_t)len;
    if (h->bodyless || !len)
        return 0;
    return dapr__buf_append(&h->body, data, len) ? DAPR_EIO : 0;
}

/* RST_STREAM: what the engine does when it cannot answer (its own
 * reset_stream); the call counts as finished. */
static void h2_reset(dapr__grpc_call_t *call)
{
    if (!call->finished) {
        call->finished = true;
        call->accepting = false;
        if (call->conn && !call->cancelled && !call->wire_done) {
            call->wire_done = true;
            nghttp2_submit_rst_stream(call->conn->io.h2, NGHTTP2_FLAG_NONE, call->stream_id,
                                      NGHTTP2_INTERNAL_ERROR);
            dapr__h2io_mark_dirty(&call->conn->io);
        }
    }
    dapr__grpc_call_maybe_free(call);
}

void dapr__http_h2_abort(dapr__http_req_t *req)
{
    h2req_t *h = req->h2;
    if (!h->started) {
        static const dapr__http_hdr_t th = {"content-type", "text/plain; charset=utf-8"};
        dapr__http_h2_respond(req, 502, &th, 1, "bad gateway\n", 12);
        return;
    }
    h2_reset(h->call);
    h2_release(h);
}

void dapr__http_h2_end(dapr__http_req_t *req)
{
    h2req_t *h = req->h2;
    if (!h->started || h->body.oom || (!h->bodyless && h->left > 0)) {
        dapr__http_h2_abort(req);
        return;
    }
    dapr__http_h2_respond(req, h->status, h->hdrs, h->n_hdrs, h->body.data, h->body.len);
}

static int ensure_engine(dapr__http_server_t *s)
{
    if (s->h2)
        return 0;
    dapr__grpc_server_config_t cfg = {
        .loop = s->loop,
        .log = s->log,
        .max_recv_msg = s->max_body,
        /* HTTP/2 counts 32 bytes per header on top of name and value */
        .max_header_list = s->max_header + 2048,
        .plain = &plain_row,
        .ud = s,
    };
    return dapr__grpc_server_create(&s->h2, &cfg);
}

static void free_handle(uv_handle_t *h) { dapr__free(h); }

/* A fresh handle on a dup of the connection's socket; the HTTP/1 side stops
 * reading (the caller closes it once the engine has the new handle). */
static int move_socket(dapr__http_conn_t *c, uv_tcp_t **out)
{
    dapr__http_server_t *s = c->s;
    if (!s || s->shutting || c->detached || ensure_engine(s))
        return DAPR_ESTATE;
    uv_os_fd_t fd;
    if (uv_fileno((uv_handle_t *)&c->tcp, &fd) != 0)
        return DAPR_EIO;
    int nfd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (nfd < 0)
        return DAPR_EIO;
    uv_tcp_t *t = dapr__malloc(sizeof(*t));
    if (!t) {
        close(nfd);
        return DAPR_ENOMEM;
    }
    if (uv_tcp_init(s->loop, t) != 0) {
        close(nfd);
        dapr__free(t);
        return DAPR_EIO;
    }
    if (uv_tcp_open(t, nfd) != 0) {
        close(nfd);
        uv_close((uv_handle_t *)t, free_handle);
        return DAPR_EIO;
    }
    uv_read_stop((uv_stream_t *)&c->tcp);
    c->reading = false;
    *out = t;
    return 0;
}

int dapr__http_h2c_adopt(dapr__http_conn_t *c, const char *data, size_t len)
{
    uv_tcp_t *t;
    int rc = move_socket(c, &t);
    if (rc)
        return rc;
    DAPR_LOG(c->s->log, DAPR_LOG_DEBUG, DAPR__HTTP_LOG_SCOPE, "h2c connection from %s",
             c->remote_ip);
    /* from here on the engine owns the socket, even when adopt fails */
    dapr__grpc_server_adopt(c->s->h2, t, data, len);
    dapr__http_conn_close(c);
    return 0;
}

/* Does a comma-separated header value hold `tok` (case-insensitive)? */
static bool has_token(const char *v, const char *tok)
{
    size_t tl = strlen(tok);
    while (v && *v) {
        while (*v == ' ' || *v == '\t' || *v == ',')
            v++;
        size_t n = strcspn(v, ",");
        size_t m = n;
        while (m && (v[m - 1] == ' ' || v[m - 1] == '\t'))
            m--;
        if (m == tl && strncasecmp(v, tok, tl) == 0)
            return true;
        v += n;
    }
    return false;
}

static bool hop_header(const char *n)
{
    static const char *const hop[] = {"connection", "upgrade", "http2-settings", "keep-alive",
                                      "proxy-connection", "transfer-encoding", "te",
                                      "content-length", "host", "expect"};
    for (size_t i = 0; i < sizeof(hop) / sizeof(hop[0]); i++)
        if (strcasecmp(n, hop[i]) == 0)
            return true;
    return false;
}

bool dapr__http_h2c_upgrade(dapr__http_conn_t *c)
{
    dapr__http_req_t *r = &c->req;
    const char *up = dapr__http_req_header(r, "Upgrade");
    const char *conn = dapr__http_req_header(r, "Connection");
    const char *hs = dapr__http_req_header(r, "HTTP2-Settings");
    if (!up || !hs || !conn || !has_token(up, "h2c") || !has_token(conn, "upgrade") ||
        r->http_major != 1 || r->http_minor != 1)
        return false;
    size_t hl = strlen(hs);
    uint8_t *settings = dapr__pool_alloc(&r->pool, hl + 4);
    dapr__grpc_md_t *md = dapr__pool_alloc(&r->pool, (r->n_headers + 1) * sizeof(*md));
    if (!settings || !md)
        return false;
    /* base64url (RFC 7540 3.2.1) onto the standard alphabet */
    char *std = dapr__pool_strdup(&r->pool, hs);
    if (!std)
        return false;
    for (char *p = std; *p; p++)
        *p = *p == '-' ? '+' : *p == '_' ? '/' : *p;
    long sl = dapr__grpc_b64_decode(std, hl, settings);
    if (sl < 0 || sl % 6)
        return false; /* not a valid upgrade: served as HTTP/1.1 */
    size_t n = 0;
    for (size_t i = 0; i < r->n_headers; i++) {
        const char *name = r->headers[i].name;
        if (hop_header(name))
            continue;
        size_t nl = strlen(name);
        char *lc = dapr__pool_alloc(&r->pool, nl + 1);
        if (!lc)
            return false;
        for (size_t k = 0; k <= nl; k++)
            lc[k] = (char)((name[k] >= 'A' && name[k] <= 'Z') ? name[k] + 32 : name[k]);
        md[n].key = lc;
        md[n].value = (const uint8_t *)r->headers[i].value;
        md[n].len = strlen(r->headers[i].value);
        n++;
    }
    uv_tcp_t *t;
    if (move_socket(c, &t))
        return false;
    static const char sw[] = "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
                             "Upgrade: h2c\r\n\r\n";
    dapr__grpc_upgrade_t u = {
        .settings = settings, .settings_len = (size_t)sl,
        .method = r->method, .path = r->url,
        .hdrs = md, .n_hdrs = n,
        .body = r->body, .body_len = r->body_len,
        .prefix = sw, .prefix_len = sizeof(sw) - 1,
    };
    DAPR_LOG(c->s->log, DAPR_LOG_DEBUG, DAPR__HTTP_LOG_SCOPE, "h2c upgrade from %s",
             c->remote_ip);
    dapr__grpc_server_adopt_upgrade(c->s->h2, t, &u);
    dapr__http_conn_close(c);
    return true;
}

static void h2_down(void *ud)
{
    dapr__http_server_t *s = ud;
    s->h2_open = false;
    dapr__http_server_check_done(s);
}

void dapr__http_h2c_shutdown(dapr__http_server_t *s)
{
    if (!s->h2)
        return;
    s->h2_open = true;
    dapr__grpc_server_shutdown(s->h2, h2_down, s);
}

void dapr__http_h2c_free(dapr__http_server_t *s)
{
    if (s->h2)
        dapr__grpc_server_free(s->h2);
    s->h2 = NULL;
}
