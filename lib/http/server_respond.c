/* HTTP/1.1 server transport: responses.
 *
 * A response is one status line + header block built into the connection's
 * spare write request, followed by the body: small borrowed bodies are
 * appended to the head (one buffer), larger ones go as a second iovec
 * (owned ones without a copy, borrowed ones copied only if the socket cannot
 * take them at once). The server owns the framing headers: Content-Length,
 * Transfer-Encoding, Connection and Keep-Alive given by the application are
 * dropped, and so are headers with CR/LF in them (response splitting).
 *
 * Streamed responses (dapr__http_respond_start/_write/_end/_abort): the head
 * is held until the first write, the end or the next loop turn, so that a
 * short response still leaves in one writev; body pieces are framed
 * (Content-Length, chunked, or close-delimited for HTTP/1.0) and queued on
 * the socket; past RS_HIGH queued bytes _write refuses (DAPR_EAGAIN) and
 * on_writable follows once the queue drained (server_conn.c). */
#include "server_int.h"

#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/strutil.h"

/* Borrowed bodies up to this size are copied next to the head. */
#define SMALL_BODY (16 * 1024)
/* Streamed responses: _write refuses at or above this many queued bytes. */
#define RS_HIGH (256 * 1024)
/* build_head framing other than a Content-Length */
#define FRAME_CHUNKED (-1)
#define FRAME_NONE (-2)

const char *dapr__http_status_text(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 203: return "Non-Authoritative Information";
    case 204: return "No Content";
    case 205: return "Reset Content";
    case 206: return "Partial Content";
    case 207: return "Multi-Status";
    case 300: return "Multiple Choices";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 402: return "Payment Required";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Request Entity Too Large";
    case 414: return "Request URI Too Long";
    case 415: return "Unsupported Media Type";
    case 416: return "Requested Range Not Satisfiable";
    case 417: return "Expectation Failed";
    case 418: return "I'm a teapot";
    case 421: return "Misdirected Request";
    case 422: return "Unprocessable Entity";
    case 423: return "Locked";
    case 424: return "Failed Dependency";
    case 425: return "Too Early";
    case 426: return "Upgrade Required";
    case 428: return "Precondition Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 451: return "Unavailable For Legal Reasons";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    case 507: return "Insufficient Storage";
    case 508: return "Loop Detected";
    case 511: return "Network Authentication Required";
    default: return "Unknown";
    }
}

/* "Date: ..." is formatted once per second (RFC 9110 §5.6.7 IMF-fixdate,
 * written by hand: strftime's names follow the locale). */
static void date_refresh(dapr__http_server_t *s)
{
    static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t now = time(NULL);
    if (now == s->date_sec && s->date_len)
        return;
    struct tm tm;
    gmtime_r(&now, &tm);
    int n = snprintf(s->date, sizeof(s->date), "Date: %s, %02d %s %04d %02d:%02d:%02d GMT\r\n",
                     days[tm.tm_wday % 7], tm.tm_mday, months[tm.tm_mon % 12], tm.tm_year + 1900,
                     tm.tm_hour, tm.tm_min, tm.tm_sec);
    s->date_len = n > 0 && (size_t)n < sizeof(s->date) ? (size_t)n : 0;
    s->date_sec = now;
}

static bool framing_header(const char *name)
{
    return !dapr__strcasecmp(name, "Content-Length") ||
           !dapr__strcasecmp(name, "Transfer-Encoding") ||
           !dapr__strcasecmp(name, "Connection") || !dapr__strcasecmp(name, "Keep-Alive");
}

static bool header_ok(const dapr__http_hdr_t *h)
{
    return h->name && h->value && *h->name && !h->name[strcspn(h->name, "\r\n:")] &&
           !h->value[strcspn(h->value, "\r\n")];
}

static void put(dapr__buf_t *b, const char *s, size_t n) { dapr__buf_append(b, s, n); }
#define PUT_LIT(b, lit) put((b), (lit), sizeof(lit) - 1)

static void put_str(dapr__buf_t *b, const char *s) { put(b, s, strlen(s)); }


static bool no_content(int status) { return status < 200 || status == 204 || status == 304; }

static int build_head(dapr__http_conn_t *c, dapr__buf_t *b, int status,
                      const dapr__http_hdr_t *hdrs, size_t n, int64_t body_len, bool close)
{
    char line[16] = "HTTP/1.1 000 ";
    line[9] = (char)('0' + status / 100);
    line[10] = (char)('0' + status / 10 % 10);
    line[11] = (char)('0' + status % 10);
    put(b, line, 13);
    put_str(b, dapr__http_status_text(status));
    PUT_LIT(b, "\r\n");
    bool have_date = false;
    for (size_t i = 0; i < n; i++) {
        const dapr__http_hdr_t *h = &hdrs[i];
        if (!header_ok(h) || framing_header(h->name))
            continue;
        have_date |= !dapr__strcasecmp(h->name, "Date");
        put_str(b, h->name);
        PUT_LIT(b, ": ");
        put_str(b, h->value);
        PUT_LIT(b, "\r\n");
    }
    if (!have_date) {
        date_refresh(c->s);
        put(b, c->s->date, c->s->date_len);
    }
    if (c->cors) {
        PUT_LIT(b, "Access-Control-Allow-Origin: ");
        put_str(b, c->cors == 1 ? "*" : c->cors_origin);
        PUT_LIT(b, "\r\n");
        if (c->cors == 2)
            PUT_LIT(b, "Vary: Origin\r\n");
    }
    if (!no_content(status) && body_len >= 0) {
        PUT_LIT(b, "Content-Length: ");
        dapr__buf_put_u64(b, (uint64_t)body_len);
        PUT_LIT(b, "\r\n");
    } else if (!no_content(status) && body_len == FRAME_CHUNKED) {
        PUT_LIT(b, "Transfer-Encoding: chunked\r\n");
    }
    if (close)
        PUT_LIT(b, "Connection: close\r\n");
    else if (c->req.http_minor == 0)
        PUT_LIT(b, "Connection: keep-alive\r\n");
    PUT_LIT(b, "\r\n");
    return b->oom ? -1 : 0;
}

/* Send (once per connection) a plain-text error and close after it. */
void dapr__http_conn_error(dapr__http_conn_t *c, int status, const char *text)
{
    if (c->closed || c->err_sent || !c->s) {
        dapr__http_conn_finish(c);
        return;
    }
    c->err_sent = true;
    date_refresh(c->s);
    int n = snprintf(c->errbuf, sizeof(c->errbuf),
                     "HTTP/1.1 %d %s\r\n%.*sContent-Type: text/plain; charset=utf-8\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                     status, dapr__http_status_text(status), (int)c->s->date_len, c->s->date,
                     strlen(text), text);
    if (n > 0 && (size_t)n < sizeof(c->errbuf))
        dapr__http_conn_send_raw(c, c->errbuf, (size_t)n);
    dapr__http_conn_finish(c);
}

/* The request is answered (or abandoned): recycle it and go on. */
static void request_done(dapr__http_conn_t *c, bool close)
{
    if (c->in_app) {
        c->in_app = false;
        if (c->s)
            c->s->inflight--;
    }
    dapr__http_conn_reset_request(c);
    if (c->closed || c->owner_gone) {
        dapr__http_conn_maybe_free(c);
        return;
    }
    if (close) {
        dapr__http_conn_finish(c);
        return;
    }
    if (c->state == DAPR__HC_CLOSING)
        return;
    c->state = DAPR__HC_IDLE;
    dapr__http_conn_set_deadline(c, c->s->idle_to);
    /* Inside the parse loop (the handler answered synchronously) the loop
     * itself goes on with the next pipelined request. */
    if (!c->in_parse)
        dapr__http_conn_resume(c);
}

void dapr__http_reply(dapr__http_conn_t *c, int status, const dapr__http_hdr_t *hdrs,
                      size_t n_hdrs, const void *body, size_t body_len, char *owned)
{
    if (status < 100 || status > 999)
        status = 500;
    /* (a streamed body still arriving is not drained: close after) */
    bool close = !c->req.keep_alive || c->s->shutting ||
                 (c->peer_eof && !dapr__http_conn_pending_input(c)) ||
                 c->state == DAPR__HC_STREAM;
    bool bodyless = no_content(status) || c->req.method_id == HTTP_HEAD;
    dapr__http_wreq_t *w = dapr__http_wreq_get(c);
    if (!w || build_head(c, &w->head, status, hdrs, n_hdrs, (int64_t)body_len, close))
        goto oom;
    uv_buf_t iov[2];
    unsigned niov = 1;
    bool borrowed = false;
    if (!bodyless && body_len) {
        if (owned) {
            w->body = owned;
            owned = NULL;
            iov[1] = uv_buf_init(w->body, (unsigned)body_len);
            niov = 2;
        } else if (body_len <= SMALL_BODY) {
            if (dapr__buf_append(&w->head, body, body_len))
                goto oom;
        } else {
            iov[1] = uv_buf_init((char *)body, (unsigned)body_len);
            niov = 2;
            borrowed = true;
        }
    }
    dapr__free(owned);
    iov[0] = uv_buf_init(w->head.data, (unsigned)w->head.len);
    /* before request_done: hdrs and body may live in the request pool */
    dapr__http_conn_send(c, w, iov, niov, borrowed);
    request_done(c, close);
    return;
oom:
    dapr__free(owned);
    if (w)
        dapr__http_wreq_put(c, w);
    dapr__http_conn_error(c, 500, "out of memory\n");
    request_done(c, true);
}

/* A request the application may answer: given to on_request, not yet
 * answered (nor started streaming). Anything else is a caller bug, ignored
 * rather than crashing. */
static bool answerable(const dapr__http_req_t *req)
{
    return req && req->conn && req->conn->in_app && !req->conn->rs_on;
}

void dapr__http_respond(dapr__http_req_t *req, int status, const dapr__http_hdr_t *hdrs,
                        size_t n_hdrs, const void *body, size_t body_len)
{
    if (req && req->h2) {
        dapr__http_h2_respond(req, status, hdrs, n_hdrs, body, body_len);
        return;
    }
    if (!answerable(req))
        return;
    dapr__http_conn_t *c = req->conn;
    if (c->dead || c->closed || !c->s) {
        request_done(c, true); /* the client is gone: only free */
        return;
    }
    if (!body)
        body_len = 0;
    dapr__http_reply(c, status, hdrs, n_hdrs, body, body_len, NULL);
}

void dapr__http_respond_buf(dapr__http_req_t *req, int status, const dapr__http_hdr_t *hdrs,
                            size_t n_hdrs, dapr__buf_t *body)
{
    size_t len = 0;
    bool oom = body && body->oom;
    char *owned = body ? dapr__buf_steal(body, &len) : NULL;
    if (req && req->h2) {
        if (oom) {
            static const dapr__http_hdr_t th = {"Content-Type", "text/plain"};
            dapr__http_h2_respond(req, 500, &th, 1, "out of memory\n", 14);
        } else {
            dapr__http_h2_respond(req, status, hdrs, n_hdrs, owned, owned ? len : 0);
        }
        dapr__free(owned);
        return;
    }
    if (!answerable(req)) {
        dapr__free(owned);
        return;
    }
    dapr__http_conn_t *c = req->conn;
    if (c->dead || c->closed || !c->s) {
        dapr__free(owned);
        request_done(c, true);
        return;
    }
    if (oom) {
        /* the body is incomplete: better an error than a truncated reply */
        dapr__free(owned);
        static const char m[] = "out of memory\n";
        dapr__http_reply(c, 500, NULL, 0, m, sizeof(m) - 1, NULL);
        return;
    }
    if (!owned)
        len = 0;
    dapr__http_reply(c, status, hdrs, n_hdrs, NULL, len, owned);
}

/* ---------------------------------------------------------------------
 * Streamed responses
 * ------------------------------------------------------------------- */

static dapr__http_conn_t *started_conn(dapr__http_req_t *req)
{
    if (!req || !req->conn || !req->conn->in_app || !req->conn->rs_on)
        return NULL;
    return req->conn;
}

static bool gone(const dapr__http_conn_t *c) { return c->rs_gone || c->dead || c->closed || !c->s; }

static void send_head(dapr__http_conn_t *c)
{
    dapr__http_wreq_t *w = c->rs_head;
    c->rs_head = NULL;
    uv_buf_t b = uv_buf_init(w->head.data, (unsigned)w->head.len);
    dapr__http_conn_send(c, w, &b, 1, false);
}

int dapr__http_respond_start(dapr__http_req_t *req, int status, const dapr__http_hdr_t *hdrs,
                             size_t n_hdrs, int64_t content_length,
                             dapr__http_writable_cb on_writable, void *ud)
{
    if (req && req->h2)
        return dapr__http_h2_start(req, status, hdrs, n_hdrs, content_length);
    if (!answerable(req))
        return DAPR_ESTATE;
    dapr__http_conn_t *c = req->conn;
    if (status < 100 || status > 999)
        status = 500;
    c->rs_writable = on_writable;
    c->rs_ud = ud;
    c->rs_any = c->rs_want = false;
    if (gone(c)) {
        c->rs_on = c->rs_gone = true; /* writes fail; _end or _abort frees */
        return 0;
    }
    c->rs_bodyless = no_content(status) || req->method_id == HTTP_HEAD;
    int64_t framing = content_length >= 0 ? content_length
                      : req->http_minor >= 1 ? FRAME_CHUNKED : FRAME_NONE;
    c->rs_chunked = framing == FRAME_CHUNKED && !c->rs_bodyless;
    c->rs_left = content_length >= 0 ? content_length : -1;
    c->rs_close = !req->keep_alive || c->s->shutting ||
                  (c->peer_eof && !dapr__http_conn_pending_input(c)) ||
                  c->state == DAPR__HC_STREAM || (framing == FRAME_NONE && !c->rs_bodyless);
    dapr__http_wreq_t *w = dapr__http_wreq_get(c);
    if (!w || build_head(c, &w->head, status, hdrs, n_hdrs, framing, c->rs_close)) {
        if (w)
            dapr__http_wreq_put(c, w);
        return DAPR_ENOMEM;
    }
    c->rs_on = true;
    c->rs_head = w;
    if (c->detached)
        send_head(c); /* no loop turn to wait for */
    else
        dapr__http_conn_defer(c);
    return 0;
}

/* The chunk-size line; a CRLF first ends the previous chunk, so that the
 * caller's bytes are always the last buffer of a write. */
static void put_chunk_line(dapr__http_conn_t *c, dapr__buf_t *b, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    char tmp[24];
    size_t i = sizeof(tmp);
    tmp[--i] = '\n';
    tmp[--i] = '\r';
    do
        tmp[--i] = hex[len & 15];
    while ((len >>= 4));
    if (c->rs_any) {
        tmp[--i] = '\n';
        tmp[--i] = '\r';
    }
    put(b, tmp + i, sizeof(tmp) - i);
}

int dapr__http_respond_write(dapr__http_req_t *req, const void *data, size_t len)
{
    if (req && req->h2)
        return dapr__http_h2_write(req, data, len);
    dapr__http_conn_t *c = started_conn(req);
    if (!c)
        return DAPR_ESTATE;
    if (gone(c))
        return DAPR_EIO;
    if (!len)
        return 0;
    if (c->rs_left >= 0 && (uint64_t)len > (uint64_t)c->rs_left)
        return DAPR_EINVAL;
    if (c->rs_bodyless) {
        if (c->rs_left >= 0)
            c->rs_left -= (int64_t)len;
        return 0; /* HEAD, 204, 304: nothing on the wire */
    }
    if (dapr__http_conn_queued(c) >= RS_HIGH) {
        c->rs_want = true;
        return DAPR_EAGAIN;
    }
    dapr__http_wreq_t *w = c->rs_head ? c->rs_head : dapr__http_wreq_get(c);
    c->rs_head = NULL;
    if (!w) {
        dapr__http_conn_close(c);
        return DAPR_EIO;
    }
    if (c->rs_chunked)
        put_chunk_line(c, &w->head, len);
    uv_buf_t iov[2];
    unsigned n = 1;
    if (len <= SMALL_BODY)
        dapr__buf_append(&w->head, data, len);
    else
        iov[n++] = uv_buf_init((char *)data, (unsigned)len);
    if (w->head.oom) {
        dapr__http_wreq_put(c, w);
        dapr__http_conn_close(c);
        return DAPR_EIO;
    }
    iov[0] = uv_buf_init(w->head.data, (unsigned)w->head.len);
    c->rs_any = true;
    if (c->rs_left >= 0)
        c->rs_left -= (int64_t)len;
    dapr__http_conn_send(c, w, iov, n, n == 2);
    return c->closed ? DAPR_EIO : 0;
}

/* After the head went out: close without completing the body. */
static void abort_started(dapr__http_conn_t *c)
{
    if (c->rs_head) {
        dapr__http_wreq_put(c, c->rs_head);
        c->rs_head = NULL;
    }
    dapr__http_conn_close(c);
    request_done(c, true);
}

void dapr__http_respond_end(dapr__http_req_t *req)
{
    if (req && req->h2) {
        dapr__http_h2_end(req);
        return;
    }
    dapr__http_conn_t *c = started_conn(req);
    if (!c) {
        if (answerable(req))
            dapr__http_respond_abort(req); /* _end without _start */
        return;
    }
    if (gone(c)) {
        request_done(c, true);
        return;
    }
    if (!c->rs_bodyless && c->rs_left > 0) {
        abort_started(c); /* short of Content-Length: must not look whole */
        return;
    }
    if (c->rs_chunked) {
        dapr__http_wreq_t *w = c->rs_head ? c->rs_head : dapr__http_wreq_get(c);
        c->rs_head = NULL;
        const char *last = c->rs_any ? "\r\n0\r\n\r\n" : "0\r\n\r\n";
        if (!w || dapr__buf_append(&w->head, last, strlen(last))) {
            if (w)
                dapr__http_wreq_put(c, w);
            abort_started(c);
            return;
        }
        c->rs_head = w;
    }
    if (c->rs_head)
        send_head(c);
    request_done(c, c->rs_close || c->closed);
}

void dapr__http_respond_abort(dapr__http_req_t *req)
{
    if (req && req->h2) {
        dapr__http_h2_abort(req);
        return;
    }
    dapr__http_conn_t *c = started_conn(req);
    if (c && c->rs_head && !c->rs_any && !gone(c)) {
        /* nothing is on the wire yet: an honest 502 instead */
        dapr__http_wreq_put(c, c->rs_head);
        c->rs_head = NULL;
        c->rs_on = false;
    } else if (c) {
        if (gone(c))
            request_done(c, true);
        else
            abort_started(c);
        return;
    }
    if (!answerable(req))
        return;
    static const dapr__http_hdr_t th = {"Content-Type", "text/plain; charset=utf-8"};
    if (req->conn->sb_err == DAPR_ETOOBIG) {
        static const char m[] = "request body too large\n";
        dapr__http_respond(req, 413, &th, 1, m, sizeof(m) - 1);
    } else {
        static const char m[] = "bad gateway\n";
        dapr__http_respond(req, 502, &th, 1, m, sizeof(m) - 1);
    }
}

void dapr__http_respond_service(dapr__http_conn_t *c)
{
    if (!c->rs_on)
        return;
    if (c->rs_head && !c->closed)
        send_head(c);
    if (c->rs_want && (gone(c) || dapr__http_conn_queued(c) < DAPR__HTTP_RS_LOW)) {
        c->rs_want = false;
        if (c->rs_writable)
            c->rs_writable(&c->req, c->rs_ud);
    }
}
