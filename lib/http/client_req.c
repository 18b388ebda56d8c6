/* HTTP/1.1 client: submitting a request (validation, the request head),
 * and the request-side API: streamed bodies, pause/resume, cancel, and
 * putting a request on a connection (attach). */
#include "client_int.h"

#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/strutil.h"

const char dapr__hc_last_chunk[] = "0\r\n\r\n";

/* uv_buf_init takes an unsigned int; bodies may be bigger */
static uv_buf_t mkbuf(const void *p, size_t n)
{
    uv_buf_t b;
    b.base = (char *)p;
    b.len = n;
    return b;
}

/* ---------------------------------------------------------------------
 * Submitting a request
 * ------------------------------------------------------------------- */

/* RFC 9110 §5.6.2 tchar, as a table: every header name of every request
 * goes through it. */
static const bool tchars[256] = {
    ['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1, ['*'] = 1, ['+'] = 1,
    ['-'] = 1, ['.'] = 1, ['^'] = 1, ['_'] = 1, ['`'] = 1, ['|'] = 1, ['~'] = 1,
    ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1,
    ['8'] = 1, ['9'] = 1,
    ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1, ['G'] = 1, ['H'] = 1,
    ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1,
    ['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1,
    ['Y'] = 1, ['Z'] = 1,
    ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1, ['g'] = 1, ['h'] = 1,
    ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1,
    ['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1,
    ['y'] = 1, ['z'] = 1,
};

static bool tchar(unsigned char ch) { return tchars[ch]; }

static bool valid_token(const char *s)
{
    if (!s || !*s)
        return false;
    for (; *s; s++)
        if (!tchar((unsigned char)*s))
            return false;
    return true;
}

/* field-value: visible characters, blanks and obs-text; no CR, LF, CTLs
 * (NUL ends the string: it is in the table to stop the loop) */
static const bool value_stop[256] = {
    [0] = 1, [1] = 1, [2] = 1, [3] = 1, [4] = 1, [5] = 1, [6] = 1, [7] = 1, [8] = 1,
    [10] = 1, [11] = 1, [12] = 1, [13] = 1, [14] = 1, [15] = 1, [16] = 1, [17] = 1, [18] = 1,
    [19] = 1, [20] = 1, [21] = 1, [22] = 1, [23] = 1, [24] = 1, [25] = 1, [26] = 1, [27] = 1,
    [28] = 1, [29] = 1, [30] = 1, [31] = 1, [0x7f] = 1,
};

static bool valid_value(const char *s)
{
    if (!s)
        return false;
    while (!value_stop[(unsigned char)*s])
        s++;
    return *s == '\0';
}

static bool valid_target(const char *t)
{
    if (!t || (t[0] != '/' && strcmp(t, "*")))
        return false;
    for (; *t; t++)
        if ((unsigned char)*t <= 0x20 || *t == 0x7f)
            return false;
    return true;
}

/* The client owns framing and the connection: these are never forwarded. */
static bool hop_by_hop(const char *name, size_t len)
{
    static const struct {
        size_t len;
        const char *name;
    } drop[] = {{14, "Content-Length"}, {17, "Transfer-Encoding"}, {10, "Connection"},
                {10, "Keep-Alive"}, {16, "Proxy-Connection"}, {2, "TE"}, {7, "Trailer"},
                {7, "Upgrade"}};
    for (size_t i = 0; i < sizeof(drop) / sizeof(drop[0]); i++)
        if (drop[i].len == len && dapr__strieq_n(name, len, drop[i].name))
            return true;
    return false;
}

static bool idempotent(const char *m)
{
    static const char *const ok[] = {"GET", "HEAD", "PUT", "DELETE", "OPTIONS", "TRACE"};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        if (!strcmp(m, ok[i]))
            return true;
    return false;
}

static int check_opts(const dapr__http_creq_opts_t *o)
{
    if (!o || !valid_token(o->method) || !strcmp(o->method, "CONNECT") ||
        !valid_target(o->target) || (o->n_headers && !o->headers) || !o->cbs.on_response ||
        !o->cbs.on_end || !o->cbs.on_error)
        return DAPR_EINVAL;
    if (!strcmp(o->target, "*") && strcmp(o->method, "OPTIONS"))
        return DAPR_EINVAL;
    for (size_t i = 0; i < o->n_headers; i++)
        if (!valid_token(o->headers[i].name) || !valid_value(o->headers[i].value))
            return DAPR_EINVAL;
    switch (o->body_kind) {
    case DAPR__HTTP_BODY_NONE:
        return 0;
    case DAPR__HTTP_BODY_BUFFER:
        return o->body_len && !o->body ? DAPR_EINVAL : 0;
    case DAPR__HTTP_BODY_STREAM:
        return o->content_length < -1 ? DAPR_EINVAL : 0;
    }
    return DAPR_EINVAL;
}

/* Appends without printf: the head is built for every request. */
static void put(dapr__buf_t *b, const char *s, size_t n)
{
    if (b->len + n < b->cap) { /* reserved up front: the usual case */
        memcpy(b->data + b->len, s, n);
        b->len += n;
        b->data[b->len] = '\0';
    } else {
        dapr__buf_append(b, s, n);
    }
}

static void put_field(dapr__buf_t *b, const char *name, size_t nl, const char *value)
{
    put(b, name, nl);
    put(b, ": ", 2);
    put(b, value, strlen(value));
    put(b, "\r\n", 2);
}

static void put_length(dapr__buf_t *b, uint64_t v)
{
    char d[24];
    size_t i = sizeof(d);
    do
        d[--i] = (char)('0' + v % 10);
    while ((v /= 10));
    put(b, "Content-Length: ", 16);
    put(b, d + i, sizeof(d) - i);
    put(b, "\r\n", 2);
}

static int build_head(dapr__http_client_t *c, dapr__http_creq_t *r,
                      const dapr__http_creq_opts_t *o)
{
    dapr__buf_t *b = &r->head;
    size_t ml = strlen(o->method), tl = strlen(o->target), est = ml + tl + 128;
    bool host = false;
    for (size_t i = 0; i < o->n_headers; i++) {
        est += strlen(o->headers[i].name) + strlen(o->headers[i].value) + 4;
        host = host || !dapr__strcasecmp(o->headers[i].name, "Host");
    }
    if (!host)
        est += strlen(c->authority) + 8;
    if (dapr__buf_reserve(b, est))
        return DAPR_ENOMEM;
    put(b, o->method, ml);
    put(b, " ", 1);
    put(b, o->target, tl);
    put(b, " HTTP/1.1\r\n", 11);
    if (!host)
        put_field(b, "Host", 4, c->authority);
    for (size_t i = 0; i < o->n_headers; i++) {
        size_t nl = strlen(o->headers[i].name);
        if (!hop_by_hop(o->headers[i].name, nl))
            put_field(b, o->headers[i].name, nl, o->headers[i].value);
    }
    switch (o->body_kind) {
    case DAPR__HTTP_BODY_NONE:
        /* as Go: a method that normally has a body says it is empty */
        if (!strcmp(o->method, "POST") || !strcmp(o->method, "PUT") ||
            !strcmp(o->method, "PATCH"))
            put(b, "Content-Length: 0\r\n", 19);
        break;
    case DAPR__HTTP_BODY_BUFFER:
        put_length(b, o->body_len);
        break;
    case DAPR__HTTP_BODY_STREAM:
        if (o->content_length >= 0)
            put_length(b, (uint64_t)o->content_length);
        else
            put(b, "Transfer-Encoding: chunked\r\n", 28);
        break;
    }
    if (c->no_keepalive)
        put(b, "Connection: close\r\n", 19);
    put(b, "\r\n", 2);
    return b->oom ? DAPR_ENOMEM : 0;
}

int dapr__http_client_request(dapr__http_client_t *c, const dapr__http_creq_opts_t *o,
                              dapr__http_creq_t **out)
{
    if (out)
        *out = NULL;
    if (!c)
        return DAPR_EINVAL;
    int rv = check_opts(o);
    if (rv)
        return rv;
    if (c->closing)
        return DAPR_ECLOSED;
    dapr__http_creq_t *r = dapr__calloc(1, sizeof(*r));
    if (!r)
        return DAPR_ENOMEM;
    r->c = c;
    r->cbs = o->cbs;
    r->ud = o->ud;
    r->kind = o->body_kind;
    r->body = o->body;
    r->body_len = o->body_kind == DAPR__HTTP_BODY_BUFFER ? o->body_len : 0;
    r->cl = o->content_length;
    r->ended = o->body_kind != DAPR__HTTP_BODY_STREAM;
    r->is_head = !strcmp(o->method, "HEAD");
    r->idempotent = idempotent(o->method);
    if (build_head(c, r, o)) {
        dapr__hc_req_free(r);
        return DAPR_ENOMEM;
    }
    if (!dapr__hc_req_start_now(r))
        dapr__hc_req_enqueue(r);
    if (out)
        *out = r;
    return 0;
}

/* ---------------------------------------------------------------------
 * Streamed bodies, pause/resume, cancel
 * ------------------------------------------------------------------- */

static size_t req_queued(const dapr__http_creq_t *r)
{
    return r->attached ? dapr__hc_conn_queued(r->conn) : r->early.len;
}

/* The whole request is with the socket: the response-head clock starts. */
static void sent_all(dapr__http_creq_t *r)
{
    if (r->c->header_to && !r->got_response)
        dapr__hc_conn_arm(r->conn, r->c->header_to);
}

int dapr__http_creq_write(dapr__http_creq_t *r, const void *data, size_t len)
{
    if (!r || r->state == DAPR__RQ_DONE)
        return DAPR_ECLOSED;
    if (r->kind != DAPR__HTTP_BODY_STREAM || r->ended)
        return DAPR_ESTATE;
    if (r->cl >= 0 && (uint64_t)len > (uint64_t)r->cl - r->written)
        return DAPR_EINVAL;
    if (!len)
        return 0;
    if (!data)
        return DAPR_EINVAL;
    if (req_queued(r) >= DAPR__HC_WQ_HIGH) {
        r->want_writable = true;
        return DAPR_EAGAIN;
    }
    char sz[24];
    int szn = r->cl < 0 ? snprintf(sz, sizeof(sz), "%zx\r\n", len) : 0;
    if (r->attached) {
        uv_buf_t iov[3];
        unsigned n = 0;
        if (szn)
            iov[n++] = uv_buf_init(sz, (unsigned)szn);
        iov[n++] = mkbuf(data, len);
        if (szn)
            iov[n++] = uv_buf_init("\r\n", 2);
        int rv = dapr__hc_conn_send(r->conn, iov, n, false);
        if (rv)
            return rv;
    } else {
        size_t old = r->early.len;
        dapr__buf_append(&r->early, sz, (size_t)szn);
        dapr__buf_append(&r->early, data, len);
        if (szn)
            dapr__buf_append(&r->early, "\r\n", 2);
        if (r->early.oom) {
            r->early.len = old;
            r->early.oom = 0;
            return DAPR_ENOMEM;
        }
    }
    r->written += len;
    return 0;
}

int dapr__http_creq_end(dapr__http_creq_t *r)
{
    if (!r || r->state == DAPR__RQ_DONE)
        return DAPR_ECLOSED;
    if (r->kind != DAPR__HTTP_BODY_STREAM || r->ended)
        return DAPR_ESTATE;
    r->ended = true;
    if (r->cl >= 0 && r->written < (uint64_t)r->cl) {
        /* fails on the loop: at attach, or from the kick if attached */
        r->short_body = true;
        if (r->attached) {
            r->conn->deferred_err = DAPR_EINVAL;
            dapr__hc_conn_kick(r->conn);
        }
        return 0;
    }
    if (r->cl < 0) {
        if (r->attached) {
            uv_buf_t b = uv_buf_init((char *)dapr__hc_last_chunk, 5);
            dapr__hc_conn_send(r->conn, &b, 1, true); /* a failure shows on the read side */
        } else if (dapr__buf_append(&r->early, dapr__hc_last_chunk, 5)) {
            r->early.oom = 0;
            r->ended = false;
            return DAPR_ENOMEM;
        }
    }
    if (r->attached)
        sent_all(r);
    return 0;
}

void dapr__hc_conn_attach(dapr__http_cconn_t *conn, dapr__http_creq_t *r)
{
    conn->req = r;
    r->conn = conn;
    conn->state = DAPR__CC_ACTIVE;
    conn->nreq++;
    conn->got_bytes = false;
    conn->deferred_err = 0;
    conn->extra = false;
    dapr__hc_parse_reset(conn);
    if (r->short_body) {
        dapr__hc_req_fail(r, DAPR_EINVAL, "request body shorter than its Content-Length");
        return;
    }
    r->attached = true;
    uv_buf_t iov[3];
    unsigned n = 0;
    iov[n++] = mkbuf(r->head.data, r->head.len);
    if (r->early.len)
        iov[n++] = mkbuf(r->early.data, r->early.len);
    if (r->body_len)
        iov[n++] = mkbuf(r->body, r->body_len);
    /* all of it outlives the write; a failure shows on the read side */
    dapr__hc_conn_send(conn, iov, n, true);
    if (r->ended)
        sent_all(r);
    dapr__hc_conn_update_reading(conn);
    if (r->want_writable && dapr__hc_conn_queued(conn) <= DAPR__HC_WQ_LOW)
        dapr__hc_req_writable(r);
}

void dapr__http_creq_pause(dapr__http_creq_t *r)
{
    if (!r || r->state == DAPR__RQ_DONE || r->paused)
        return;
    r->paused = true;
    if (r->conn)
        dapr__hc_conn_update_reading(r->conn);
}

void dapr__http_creq_resume(dapr__http_creq_t *r)
{
    if (!r || r->state == DAPR__RQ_DONE || !r->paused)
        return;
    r->paused = false;
    /* inside the parse loop the loop simply goes on */
    if (r->conn && !r->conn->in_parse)
        dapr__hc_conn_kick(r->conn);
}

void dapr__http_creq_cancel(dapr__http_creq_t *r)
{
    if (r && r->state != DAPR__RQ_DONE)
        dapr__hc_req_fail(r, DAPR_ECANCELED, "canceled");
}

const char *dapr__http_hdr_get(const dapr__http_hdr_t *h, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (!dapr__strcasecmp(h[i].name, name))
            return h[i].value;
    return NULL;
}
