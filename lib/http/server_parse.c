/* HTTP/1.1 server transport: llhttp glue.
 *
 * llhttp is paused twice per request: when the head is complete (to enforce
 * the header limit on the exact byte count and to decide about the body --
 * 413, 417, 100 Continue -- before a byte of it is read) and when the
 * message is complete (to hand it to the application; parsing of pipelined
 * input resumes once the response is queued). Data callbacks arrive in
 * pieces and are accumulated in conn->head (url, names, values) and
 * conn->body; the request is built in its pool when the head is complete.
 *
 * Streamed bodies (config.stream_body): the request goes to the application
 * at the end of the head (state STREAM) and its body is parsed only while
 * the handler reads: each on_body span pauses llhttp and goes to on_data
 * from the parse loop, outside llhttp; input not parsed waits in
 * conn->pend (bounded, reading stops). The last span of a Content-Length
 * body goes with message-complete, so that a handler answering inside that
 * on_data finds the body complete and the connection kept alive. */
#include "server_int.h"

#include <string.h>
#include <strings.h>

#include "core/alloc.h"
#include "core/strutil.h"

#define CORS_METHODS "HEAD,GET,POST,PUT,PATCH,DELETE"
#define CORS_MAX_AGE "300"
/* A body buffer larger than this is not kept for the next request. */
#define BODY_KEEP_MAX (16 * 1024)

static dapr__http_conn_t *conn_of(llhttp_t *p) { return p->data; }

/* Remember why parsing must stop; the first reason wins. */
static int fail(dapr__http_conn_t *c, int status, const char *text)
{
    if (!c->err_status) {
        c->err_status = status;
        c->err_text = text;
    }
    return HPE_USER;
}

/* ---------------------------------------------------------------------
 * Head
 * ------------------------------------------------------------------- */

static bool head_over(const dapr__http_conn_t *c, const char *end)
{
    return c->head_bytes + (size_t)(end - c->head_mark) > c->s->max_header;
}

static int head_add(dapr__http_conn_t *c, const char *at, size_t len)
{
    if (!c->head_mark)
        c->head_mark = at;
    if (head_over(c, at + len))
        return fail(c, 431, "request header fields too large\n");
    if (dapr__buf_append(&c->head, at, len))
        return fail(c, 500, "out of memory\n");
    return 0;
}

static int head_nul(dapr__http_conn_t *c)
{
    return dapr__buf_append(&c->head, "", 1) ? fail(c, 500, "out of memory\n") : 0;
}

/* Trailer fields and chunk extensions are counted against the header limit
 * and dropped: they must not be a way to stream bytes forever. */
static int trailer(dapr__http_conn_t *c, size_t len)
{
    c->trailer_bytes += len;
    return c->trailer_bytes > c->s->max_header
               ? fail(c, 431, "request header fields too large\n")
               : 0;
}

static int on_message_begin(llhttp_t *p)
{
    dapr__http_conn_t *c = conn_of(p);
    c->state = DAPR__HC_HEAD;
    c->nreq++;
    c->head.len = 0;
    c->head.oom = 0;
    c->n_hoff = 0;
    c->url_len = 0;
    c->in_field = false;
    c->head_bytes = 0;
    c->head_mark = NULL;
    c->trailer_bytes = 0;
    c->body_len = 0;
    dapr__http_conn_set_deadline(c, c->s->header_to);
    return 0;
}

static int on_method(llhttp_t *p, const char *at, size_t len)
{
    dapr__http_conn_t *c = conn_of(p);
    if (!c->head_mark)
        c->head_mark = at;
    return head_over(c, at + len) ? fail(c, 431, "request header fields too large\n") : 0;
}

static int on_url(llhttp_t *p, const char *at, size_t len) { return head_add(conn_of(p), at, len); }

static int on_url_complete(llhttp_t *p)
{
    dapr__http_conn_t *c = conn_of(p);
    c->url_len = c->head.len;
    return head_nul(c);
}

static int on_header_field(llhttp_t *p, const char *at, size_t len)
{
    dapr__http_conn_t *c = conn_of(p);
    if (c->state != DAPR__HC_HEAD)
        return trailer(c, len);
    if (!c->in_field) {
        c->in_field = true;
        c->field_start = c->head.len;
    }
    return head_add(c, at, len);
}

static int on_header_field_complete(llhttp_t *p)
{
    dapr__http_conn_t *c = conn_of(p);
    if (c->state != DAPR__HC_HEAD)
        return 0;
    c->in_field = false;
    if (c->n_hoff == c->cap_hoff) {
        size_t cap = c->cap_hoff ? c->cap_hoff * 2 : 16;
        void *n = dapr__realloc(c->hoff, cap * sizeof(*c->hoff));
        if (!n)
            return fail(c, 500, "out of memory\n");
        c->hoff = n;
        c->cap_hoff = cap;
    }
    c->hoff[c->n_hoff].name = c->field_start;
    c->hoff[c->n_hoff].name_len = c->head.len - c->field_start;
    int r = head_nul(c);
    c->value_start = c->head.len;
    return r;
}

static int on_header_value(llhttp_t *p, const char *at, size_t len)
{
    dapr__http_conn_t *c = conn_of(p);
    return c->state != DAPR__HC_HEAD ? trailer(c, len) : head_add(c, at, len);
}

static int on_header_value_complete(llhttp_t *p)
{
    dapr__http_conn_t *c = conn_of(p);
    if (c->state != DAPR__HC_HEAD || c->n_hoff == c->cap_hoff)
        return 0;
    c->hoff[c->n_hoff].value = c->value_start;
    c->hoff[c->n_hoff].value_len = c->head.len - c->value_start;
    c->n_hoff++;
    return head_nul(c);
}

static int on_headers_complete(llhttp_t *p)
{
    conn_of(p)->ev = DAPR__HEV_HEADERS;
    return HPE_PAUSED;
}

/* ---------------------------------------------------------------------
 * Body
 * ------------------------------------------------------------------- */

/* Grow to hold `need` bytes, never past the body limit (+1 for the NUL). */
static int body_reserve(dapr__http_conn_t *c, size_t need)
{
    if (need <= c->body_cap)
        return 0;
    size_t cap = c->body_cap ? c->body_cap * 2 : 1024;
    size_t lim = c->s->max_body + 1;
    if (cap > lim)
        cap = lim;
    if (cap < need)
        cap = need;
    char *b = dapr__realloc(c->body, cap);
    if (!b)
        return -1;
    c->body = b;
    c->body_cap = cap;
    return 0;
}

static int on_chunk_extension(llhttp_t *p, const char *at, size_t len)
{
    return trailer(conn_of(p), len);
}

static int on_chunk_header(llhttp_t *p)
{
    dapr__http_conn_t *c = conn_of(p);
    /* refuse a chunk that cannot fit before reading any of it */
    if (p->content_length > c->s->max_body - c->body_len)
        return fail(c, 413, "request body too large\n");
    return 0;
}

static int on_body_streamed(llhttp_t *p, dapr__http_conn_t *c, const char *at, size_t len)
{
    if (!len)
        return 0; /* an open span ending with empty input */
    c->body_len += len;
    c->piece = at;
    c->piece_len = len;
    dapr__http_conn_touch(c);
    if (!(p->flags & F_CHUNKED) && p->content_length == 0)
        return 0; /* on_message_complete follows at once */
    c->ev = DAPR__HEV_BODY;
    return HPE_PAUSED;
}

static int on_body(llhttp_t *p, const char *at, size_t len)
{
    dapr__http_conn_t *c = conn_of(p);
    if (len > c->s->max_body - c->body_len)
        return fail(c, 413, "request body too large\n");
    if (c->state == DAPR__HC_STREAM)
        return on_body_streamed(p, c, at, len);
    if (body_reserve(c, c->body_len + len + 1))
        return fail(c, 500, "out of memory\n");
    memcpy(c->body + c->body_len, at, len);
    c->body_len += len;
    c->body[c->body_len] = '\0';
    dapr__http_conn_touch(c);
    return 0;
}

static int on_message_complete(llhttp_t *p)
{
    dapr__http_conn_t *c = conn_of(p);
    c->keep_alive = llhttp_should_keep_alive(p);
    c->ev = DAPR__HEV_MESSAGE;
    return HPE_PAUSED;
}

const llhttp_settings_t dapr__http_parser_settings = {
    .on_message_begin = on_message_begin,
    .on_method = on_method,
    .on_url = on_url,
    .on_url_complete = on_url_complete,
    .on_header_field = on_header_field,
    .on_header_field_complete = on_header_field_complete,
    .on_header_value = on_header_value,
    .on_header_value_complete = on_header_value_complete,
    .on_headers_complete = on_headers_complete,
    .on_chunk_extension_name = on_chunk_extension,
    .on_chunk_extension_value = on_chunk_extension,
    .on_chunk_header = on_chunk_header,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

/* ---------------------------------------------------------------------
 * Building the request
 * ------------------------------------------------------------------- */

static char *trim(char *v, size_t len)
{
    while (len && (*v == ' ' || *v == '\t')) {
        v++;
        len--;
    }
    while (len && (v[len - 1] == ' ' || v[len - 1] == '\t'))
        len--;
    v[len] = '\0';
    return v;
}

/* path = target up to '?'; an absolute-form target ("http://h/p") is
 * reduced to its path as RFC 9112 §3.2.2 asks of servers. */
static int split_target(dapr__http_req_t *r, char *url, size_t len)
{
    char *q = memchr(url, '?', len);
    const char *p = url;
    size_t plen = q ? (size_t)(q - url) : len;
    if (plen && url[0] != '/' && url[0] != '*') {
        const char *sep = memmem(url, plen, "://", 3);
        if (sep) {
            const char *auth = sep + 3;
            const char *slash = memchr(auth, '/', (size_t)(url + plen - auth));
            p = slash ? slash : "/";
            plen = slash ? (size_t)(url + plen - slash) : 1;
        }
    }
    r->url = url;
    r->query = q ? q + 1 : "";
    r->path = dapr__pool_strndup(&r->pool, p, plen);
    return r->path ? 0 : -1;
}

static int build_request(dapr__http_conn_t *c)
{
    dapr__http_req_t *r = &c->req;
    char *h = dapr__pool_alloc(&r->pool, c->head.len + 1);
    dapr__http_hdr_t *hs = NULL;
    if (c->n_hoff)
        hs = dapr__pool_alloc(&r->pool, c->n_hoff * sizeof(*hs));
    if (!h || (c->n_hoff && !hs))
        return -1;
    if (c->head.len)
        memcpy(h, c->head.data, c->head.len);
    h[c->head.len] = '\0';
    for (size_t i = 0; i < c->n_hoff; i++) {
        const dapr__http_hdr_off_t *o = &c->hoff[i];
        hs[i].name = h + o->name;
        hs[i].value = trim(h + o->value, o->value_len);
    }
    r->headers = hs;
    r->n_headers = c->n_hoff;
    r->method_id = c->parser.method;
    r->method = llhttp_method_name((llhttp_method_t)c->parser.method);
    r->http_major = c->parser.http_major;
    r->http_minor = c->parser.http_minor;
    r->keep_alive = llhttp_should_keep_alive(&c->parser);
    r->body = (const uint8_t *)"";
    r->body_len = 0;
    r->streamed = false;
    memcpy(r->remote_ip, c->remote_ip, sizeof(r->remote_ip));
    r->route = NULL;
    memset(r->params, 0, sizeof(r->params));
    r->n_params = 0;
    r->user = NULL;
    r->conn = c;
    return split_target(r, h, c->url_len);
}

void dapr__http_conn_reset_request(dapr__http_conn_t *c)
{
    dapr__pool_reset(&c->req.pool);
    c->req.headers = NULL;
    c->req.n_headers = 0;
    c->head.len = 0;
    c->head.oom = 0;
    c->n_hoff = 0;
    c->body_len = 0;
    if (c->body_cap > BODY_KEEP_MAX) {
        dapr__free(c->body);
        c->body = NULL;
        c->body_cap = 0;
    }
    c->cors = 0;
    c->cors_origin = NULL;
    if (c->req.streamed || c->rs_on) {
        c->req.streamed = false;
        c->sb_reading = c->sb_paused = c->sb_notified = false;
        c->sb_err = 0;
        c->piece_len = 0;
        c->rs_on = c->rs_gone = c->rs_any = c->rs_want = false;
        if (c->rs_head) {
            dapr__http_wreq_put(c, c->rs_head);
            c->rs_head = NULL;
        }
        c->rs_writable = NULL;
    }
}

const char *dapr__http_req_header(const dapr__http_req_t *req, const char *name)
{
    for (size_t i = 0; i < req->n_headers; i++)
        if (!dapr__strcasecmp(req->headers[i].name, name))
            return req->headers[i].value;
    return NULL;
}

/* ---------------------------------------------------------------------
 * Head complete: limits, Expect, body set-up
 * ------------------------------------------------------------------- */

static void send_continue(dapr__http_conn_t *c)
{
    static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
    dapr__http_wreq_t *w = dapr__http_wreq_get(c);
    if (!w || dapr__buf_append(&w->head, cont, sizeof(cont) - 1)) {
        if (w)
            dapr__http_wreq_put(c, w);
        dapr__http_conn_error(c, 500, "out of memory\n");
        return;
    }
    uv_buf_t b = uv_buf_init(w->head.data, (unsigned)w->head.len);
    dapr__http_conn_send(c, w, &b, 1, false);
}

/* Expect (RFC 9110 §10.1.1): only 100-continue is known; HTTP/1.0 clients
 * cannot use it, so there it is ignored. Returns false if the request ended. */
static bool handle_expect(dapr__http_conn_t *c, bool has_body)
{
    const char *ex = dapr__http_req_header(&c->req, "Expect");
    if (!ex || c->req.http_minor == 0)
        return true;
    if (dapr__strcasecmp(ex, "100-continue")) {
        dapr__http_conn_error(c, 417, "unsupported expectation\n");
        return false;
    }
    if (has_body)
        send_continue(c);
    return !c->closed && c->state != DAPR__HC_CLOSING;
}

/* llhttp 8.1.0 (Debian 12) ends a head at "\r" followed by any byte
 * (CVE-2023-30589, fixed in 8.1.1): a request-smuggling vector behind a
 * proxy that reads it differently. Insist on CRLF ourselves. `start` is
 * where the current llhttp_execute began; earlier bytes are in c->tail. */
static bool head_ends_crlf(const dapr__http_conn_t *c, const char *start, const char *pos)
{
    size_t have = (size_t)(pos - start);
    char last = have >= 1 ? pos[-1] : c->tail[1];
    char prev = have >= 2 ? pos[-2] : have == 1 ? c->tail[1] : c->tail[0];
    return prev == '\r' && last == '\n';
}

static void remember_tail(dapr__http_conn_t *c, const char *start, const char *end)
{
    if (end - start >= 2) {
        c->tail[0] = end[-2];
        c->tail[1] = end[-1];
    } else if (end - start == 1) {
        c->tail[0] = c->tail[1];
        c->tail[1] = end[-1];
    }
}

static void dispatch(dapr__http_conn_t *c);

static bool asks_h2c(const dapr__http_req_t *r)
{
    return dapr__http_req_header(r, "Upgrade") && dapr__http_req_header(r, "HTTP2-Settings");
}

/* The head of a streamed request is complete: hand it over now. The body
 * timer waits for dapr__http_req_read. */
static void stream_start(dapr__http_conn_t *c)
{
    c->state = DAPR__HC_STREAM;
    c->req.streamed = true;
    c->sb_reading = c->sb_paused = c->sb_notified = false;
    c->sb_err = 0;
    c->piece_len = 0;
    dapr__http_conn_set_deadline(c, 0);
    dispatch(c);
}

static void head_done(dapr__http_conn_t *c, const char *start, const char *pos)
{
    dapr__http_server_t *s = c->s;
    size_t total = c->head_bytes + (c->head_mark ? (size_t)(pos - c->head_mark) : 0);
    c->head_mark = NULL;
    if (total > s->max_header) {
        dapr__http_conn_error(c, 431, "request header fields too large\n");
        return;
    }
    if (!head_ends_crlf(c, start, pos)) {
        dapr__http_conn_error(c, 400, "bad request\n");
        return;
    }
    if (build_request(c)) {
        dapr__http_conn_error(c, 500, "out of memory\n");
        return;
    }
    if (c->req.http_major != 1) {
        dapr__http_conn_error(c, 505, "HTTP version not supported\n");
        return;
    }
    bool chunked = c->parser.flags & F_CHUNKED;
    uint64_t cl = chunked ? 0 : c->parser.content_length;
    if (cl > s->max_body) {
        /* refused before a byte of the body is read */
        dapr__http_conn_error(c, 413, "request body too large\n");
        return;
    }
    bool has_body = chunked || cl > 0;
    if (!handle_expect(c, has_body) || !has_body)
        return;
    if (s->stream_body && c->req.http_minor >= 1 && !asks_h2c(&c->req) &&
        s->stream_body(&c->req, s->ud)) {
        stream_start(c);
        return;
    }
    if (cl && body_reserve(c, (size_t)cl + 1)) {
        dapr__http_conn_error(c, 500, "out of memory\n");
        return;
    }
    c->state = DAPR__HC_BODY;
    dapr__http_conn_set_deadline(c, s->body_to);
}

/* ---------------------------------------------------------------------
 * Message complete: CORS, dispatch
 * ------------------------------------------------------------------- */

static bool origin_match(const char *pat, const char *origin)
{
    const char *star = strchr(pat, '*');
    if (!star)
        return !dapr__strcasecmp(pat, origin);
    /* a single "*" wildcard matches any run of characters (go-chi/cors style) */
    size_t pre = (size_t)(star - pat), suf = strlen(star + 1), olen = strlen(origin);
    return olen >= pre + suf && !strncasecmp(origin, pat, pre) &&
           !dapr__strcasecmp(origin + olen - suf, star + 1);
}

bool dapr__http_cors_allowed(const dapr__http_server_t *s, const char *origin)
{
    if (s->cors_any)
        return true;
    for (size_t i = 0; i < s->n_origins; i++)
        if (origin_match(s->origins[i], origin))
            return true;
    return false;
}

static bool cors_method_ok(const char *m)
{
    static const char *const ok[] = {"HEAD", "GET", "POST", "PUT", "PATCH", "DELETE"};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        if (!dapr__strcasecmp(m, ok[i]))
            return true;
    return false;
}

/* A preflight is answered here and never reaches the application; from a
 * disallowed origin it gets no CORS headers, so the browser refuses. */
bool dapr__http_cors_preflight(const dapr__http_server_t *s, const dapr__http_req_t *r,
                               dapr__http_hdr_t h[5], size_t *out_n)
{
    if (r->method_id != HTTP_OPTIONS)
        return false;
    const char *origin = dapr__http_req_header(r, "Origin");
    const char *method = dapr__http_req_header(r, "Access-Control-Request-Method");
    if (!origin || !method)
        return false;
    size_t n = 0;
    if (dapr__http_cors_allowed(s, origin) && cors_method_ok(method)) {
        const char *hdrs = dapr__http_req_header(r, "Access-Control-Request-Headers");
        h[n++] = (dapr__http_hdr_t){"Access-Control-Allow-Origin", s->cors_any ? "*" : origin};
        h[n++] = (dapr__http_hdr_t){"Access-Control-Allow-Methods", CORS_METHODS};
        if (hdrs && *hdrs)
            h[n++] = (dapr__http_hdr_t){"Access-Control-Allow-Headers", hdrs};
        h[n++] = (dapr__http_hdr_t){"Access-Control-Max-Age", CORS_MAX_AGE};
    }
    if (!s->cors_any)
        h[n++] = (dapr__http_hdr_t){"Vary", "Origin, Access-Control-Request-Method, "
                                            "Access-Control-Request-Headers"};
    *out_n = n;
    return true;
}

static bool cors_preflight(dapr__http_conn_t *c)
{
    dapr__http_hdr_t h[5];
    size_t n;
    if (!dapr__http_cors_preflight(c->s, &c->req, h, &n))
        return false;
    c->cors = 0;
    dapr__http_reply(c, 204, h, n, NULL, 0, NULL);
    return true;
}

static void message_done(dapr__http_conn_t *c)
{
    dapr__http_req_t *r = &c->req;
    r->keep_alive = c->keep_alive;
    if (c->body_len)
        r->body = (const uint8_t *)c->body;
    r->body_len = c->body_len;
    if (asks_h2c(r) && !c->want_h2c) {
        c->want_h2c = true; /* the parse loop decides: only with nothing behind it */
        return;
    }
    c->want_h2c = false;
    dispatch(c);
}

static void dispatch(dapr__http_conn_t *c)
{
    dapr__http_server_t *s = c->s;
    dapr__http_req_t *r = &c->req;
    dapr__http_conn_set_deadline(c, 0); /* the application has its own deadlines */
    if (s->cors_on) {
        if (cors_preflight(c))
            return;
        const char *origin = dapr__http_req_header(r, "Origin");
        if (origin && dapr__http_cors_allowed(s, origin)) {
            c->cors = s->cors_any ? 1 : 2;
            c->cors_origin = origin;
        }
    }
    if (c->state != DAPR__HC_STREAM)
        c->state = DAPR__HC_APP;
    c->in_app = true;
    s->inflight++;
    s->on_request(r, s->ud);
}

/* ---------------------------------------------------------------------
 * Streamed bodies
 * ------------------------------------------------------------------- */

static void stream_piece(dapr__http_conn_t *c)
{
    size_t n = c->piece_len;
    c->piece_len = 0;
    if (n && c->in_app && !c->sb_notified)
        c->sb_cbs.on_data(&c->req, c->piece, n, c->sb_ud);
}

/* The body is complete: the request is an ordinary one with the application
 * now (its response decides about the connection as usual). */
static void stream_complete(dapr__http_conn_t *c)
{
    c->keep_alive = llhttp_should_keep_alive(&c->parser);
    c->req.keep_alive = c->keep_alive;
    c->state = DAPR__HC_APP;
    dapr__http_conn_set_deadline(c, 0);
    stream_piece(c);
    if (c->in_app && !c->sb_notified) {
        c->sb_notified = true;
        c->sb_cbs.on_end(&c->req, c->sb_ud);
    }
}

void dapr__http_stream_notify(dapr__http_conn_t *c)
{
    if (!c->in_app || !c->sb_reading || !c->sb_err || c->sb_notified)
        return;
    c->sb_notified = true;
    c->sb_cbs.on_error(&c->req, c->sb_err, c->sb_ud);
}

void dapr__http_stream_fail(dapr__http_conn_t *c, int code)
{
    if (!c->sb_err)
        c->sb_err = code;
    c->piece_len = 0;
    dapr__http_conn_set_deadline(c, 0);
    dapr__http_conn_update_reading(c);
    dapr__http_stream_notify(c);
}

static dapr__http_conn_t *streamed_conn(dapr__http_req_t *req)
{
    if (!req || req->h2 || !req->streamed || !req->conn || !req->conn->in_app)
        return NULL;
    return req->conn;
}

int dapr__http_req_read(dapr__http_req_t *req, const dapr__http_body_cbs_t *cbs, void *ud)
{
    dapr__http_conn_t *c = streamed_conn(req);
    if (!c || c->sb_reading || !cbs || !cbs->on_data || !cbs->on_end || !cbs->on_error)
        return DAPR_ESTATE;
    c->sb_cbs = *cbs;
    c->sb_ud = ud;
    c->sb_reading = true;
    if (c->state == DAPR__HC_STREAM && !c->sb_paused && !c->sb_err && c->s)
        dapr__http_conn_set_deadline(c, c->s->body_to);
    dapr__http_conn_defer(c); /* what arrived already, or the error */
    return 0;
}

void dapr__http_req_pause(dapr__http_req_t *req)
{
    dapr__http_conn_t *c = streamed_conn(req);
    if (!c || c->sb_paused)
        return;
    c->sb_paused = true;
    if (c->state == DAPR__HC_STREAM) {
        dapr__http_conn_set_deadline(c, 0);
        dapr__http_conn_update_reading(c);
    }
}

void dapr__http_req_resume(dapr__http_req_t *req)
{
    dapr__http_conn_t *c = streamed_conn(req);
    if (!c || !c->sb_paused)
        return;
    c->sb_paused = false;
    if (c->state == DAPR__HC_STREAM && c->sb_reading && !c->sb_err && c->s) {
        dapr__http_conn_set_deadline(c, c->s->body_to);
        dapr__http_conn_defer(c);
    }
}

/* ---------------------------------------------------------------------
 * The parse loop
 * ------------------------------------------------------------------- */

static void parse_error(dapr__http_conn_t *c, llhttp_errno_t e)
{
    if (c->state == DAPR__HC_STREAM) {
        /* the handler answers (413 for DAPR_ETOOBIG); no more parsing */
        dapr__http_stream_fail(c, c->err_status == 413 ? DAPR_ETOOBIG : DAPR_EPARSE);
        return;
    }
    if (c->err_status) {
        dapr__http_conn_error(c, c->err_status, c->err_text);
        return;
    }
    DAPR_LOG(c->s->log, DAPR_LOG_DEBUG, DAPR__HTTP_LOG_SCOPE, "bad request from %s: %s (%s)",
             c->remote_ip, llhttp_errno_name(e), llhttp_get_error_reason(&c->parser));
    dapr__http_conn_error(c, 400, "bad request\n");
}

/* All input so far was consumed in the middle of a head. */
static void head_piece_done(dapr__http_conn_t *c, const char *start, const char *end)
{
    remember_tail(c, start, end);
    if (!c->head_mark)
        return;
    /* also catches runs of blanks that reach no callback */
    c->head_bytes += (size_t)(end - c->head_mark);
    c->head_mark = NULL;
    if (c->head_bytes > c->s->max_header)
        dapr__http_conn_error(c, 431, "request header fields too large\n");
}

#define parsable dapr__http_conn_parsable

size_t dapr__http_conn_parse(dapr__http_conn_t *c, const char *data, size_t len)
{
    size_t off = 0;
    bool again = false; /* llhttp has work left even without input */
    c->in_parse++;
    while ((off < len || again) && parsable(c)) {
        const char *start = data + off;
        c->ev = DAPR__HEV_NONE;
        again = false;
        if (c->state == DAPR__HC_HEAD)
            c->head_mark = start;
        llhttp_errno_t e = llhttp_execute(&c->parser, start, len - off);
        if (e == HPE_OK) {
            off = len;
            if (c->state == DAPR__HC_HEAD)
                head_piece_done(c, start, data + len);
            break;
        }
        if (e != HPE_PAUSED && e != HPE_PAUSED_UPGRADE) {
            parse_error(c, e);
            break;
        }
        off += (size_t)(llhttp_get_error_pos(&c->parser) - start);
        /* An Upgrade/CONNECT request is answered like any other: we speak
         * only HTTP/1.1 here, so parsing simply goes on. */
        if (e == HPE_PAUSED)
            llhttp_resume(&c->parser);
        else
            llhttp_resume_after_upgrade(&c->parser);
        if (c->ev == DAPR__HEV_HEADERS) {
            head_done(c, start, data + off);
            again = true; /* a body-less message completes without more bytes */
        } else if (c->ev == DAPR__HEV_BODY) {
            stream_piece(c);
            again = true; /* the end of a chunked body may need no more bytes */
        } else if (c->ev == DAPR__HEV_MESSAGE && c->state == DAPR__HC_STREAM) {
            stream_complete(c);
        } else if (c->ev == DAPR__HEV_MESSAGE) {
            message_done(c);
            if (c->want_h2c) {
                if (off == len && !dapr__http_conn_pending_input(c) &&
                    dapr__http_h2c_upgrade(c))
                    break; /* the connection now speaks HTTP/2 (h2c.c) */
                message_done(c); /* served as HTTP/1.1 */
            }
        }
    }
    c->in_parse--;
    return off;
}
