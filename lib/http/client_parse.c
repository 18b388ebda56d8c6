/* HTTP/1.1 client: llhttp glue for responses.
 *
 * llhttp (response mode) is paused at three events so that user callbacks
 * never run inside llhttp: the head is complete (limits, CRLF check, 1xx
 * skipping, on_response), a piece of body was decoded (on_body; the caller
 * may pause there, and the unparsed rest waits in conn->pend), and the
 * message is complete (on_end with trailers). Head bytes (status line and
 * headers) are counted exactly against max_header_bytes as the server does;
 * trailers and chunk extensions together get their own max_header_bytes.
 *
 * Bodies llhttp 8.1.0 would get wrong are cut off here: a response to HEAD,
 * and 1xx/204/304 responses, have no body whatever their Content-Length says
 * (RFC 9112 §6.3; llhttp 8.1 reads a 204's Content-Length body). */
#include "client_int.h"

#include <stdio.h>
#include <string.h>

#include "core/alloc.h"

/* A head buffer larger than this is not kept for the next response. */
#define HEAD_KEEP_MAX (16 * 1024)

static dapr__http_cconn_t *conn_of(llhttp_t *p) { return p->data; }

/* Remember why parsing must stop; the first reason wins. */
static int fail(dapr__http_cconn_t *conn, int code, const char *text)
{
    if (!conn->err_code) {
        conn->err_code = code;
        conn->err_text = text;
    }
    return HPE_USER;
}

/* ---------------------------------------------------------------------
 * Head and trailers
 * ------------------------------------------------------------------- */

static bool head_over(const dapr__http_cconn_t *conn, const char *end)
{
    return conn->head_bytes + (size_t)(end - conn->head_mark) > conn->c->max_header;
}

static int add(dapr__http_cconn_t *conn, const char *at, size_t len)
{
    if (conn->hp == DAPR__HP_HEAD) {
        if (!conn->head_mark)
            conn->head_mark = at;
        if (head_over(conn, at + len))
            return fail(conn, DAPR_ETOOBIG, "response head too large");
    } else {
        conn->extra_bytes += len;
        if (conn->extra_bytes > conn->c->max_header)
            return fail(conn, DAPR_ETOOBIG, "response trailers too large");
    }
    return dapr__buf_append(&conn->head, at, len) ? fail(conn, DAPR_ENOMEM, "out of memory") : 0;
}

static int nul(dapr__http_cconn_t *conn)
{
    return dapr__buf_append(&conn->head, "", 1) ? fail(conn, DAPR_ENOMEM, "out of memory") : 0;
}

static int on_message_begin(llhttp_t *p)
{
    dapr__http_cconn_t *conn = conn_of(p);
    conn->hp = DAPR__HP_HEAD;
    conn->head.len = 0;
    conn->head.oom = 0;
    conn->n_hoff = 0;
    conn->in_field = false;
    conn->head_bytes = 0;
    conn->reason_len = 0;
    conn->extra_bytes = 0;
    return 0;
}

static int on_status(llhttp_t *p, const char *at, size_t len) { return add(conn_of(p), at, len); }

static int on_status_complete(llhttp_t *p)
{
    dapr__http_cconn_t *conn = conn_of(p);
    conn->reason_len = conn->head.len;
    return nul(conn);
}

static int on_header_field(llhttp_t *p, const char *at, size_t len)
{
    dapr__http_cconn_t *conn = conn_of(p);
    if (conn->hp == DAPR__HP_BODY) {
        /* the first trailer field: the head's storage is free again */
        conn->hp = DAPR__HP_TRAILERS;
        conn->head.len = 0;
        conn->n_hoff = 0;
        conn->in_field = false;
    }
    if (!conn->in_field) {
        conn->in_field = true;
        conn->field_start = conn->head.len;
    }
    return add(conn, at, len);
}

static int on_header_field_complete(llhttp_t *p)
{
    dapr__http_cconn_t *conn = conn_of(p);
    conn->in_field = false;
    if (conn->n_hoff == conn->cap_hoff) {
        size_t cap = conn->cap_hoff ? conn->cap_hoff * 2 : 16;
        void *n = dapr__realloc(conn->hoff, cap * sizeof(*conn->hoff));
        if (!n)
            return fail(conn, DAPR_ENOMEM, "out of memory");
        conn->hoff = n;
        conn->cap_hoff = cap;
    }
    conn->hoff[conn->n_hoff].name = conn->field_start;
    int r = nul(conn);
    conn->value_start = conn->head.len;
    return r;
}

static int on_header_value(llhttp_t *p, const char *at, size_t len)
{
    return add(conn_of(p), at, len);
}

static int on_header_value_complete(llhttp_t *p)
{
    dapr__http_cconn_t *conn = conn_of(p);
    if (conn->n_hoff == conn->cap_hoff)
        return 0;
    conn->hoff[conn->n_hoff].value = conn->value_start;
    conn->hoff[conn->n_hoff].value_len = conn->head.len - conn->value_start;
    conn->n_hoff++;
    return nul(conn);
}

static int on_headers_complete(llhttp_t *p)
{
    conn_of(p)->ev = DAPR__HCEV_HEADERS;
    return HPE_PAUSED;
}

static int on_chunk_extension(llhttp_t *p, const char *at, size_t len)
{
    dapr__http_cconn_t *conn = conn_of(p);
    conn->extra_bytes += len;
    return conn->extra_bytes > conn->c->max_header
               ? fail(conn, DAPR_ETOOBIG, "response chunk extensions too large")
               : 0;
}

static int on_body(llhttp_t *p, const char *at, size_t len)
{
    dapr__http_cconn_t *conn = conn_of(p);
    if (!len)
        return 0;
    conn->body_at = at;
    conn->body_n = len;
    conn->ev = DAPR__HCEV_BODY;
    return HPE_PAUSED;
}

static int on_message_complete(llhttp_t *p)
{
    dapr__http_cconn_t *conn = conn_of(p);
    conn->msg_keep_alive = llhttp_should_keep_alive(p);
    conn->ev = DAPR__HCEV_MESSAGE;
    return HPE_PAUSED;
}

static const llhttp_settings_t settings = {
    .on_message_begin = on_message_begin,
    .on_status = on_status,
    .on_status_complete = on_status_complete,
    .on_header_field = on_header_field,
    .on_header_field_complete = on_header_field_complete,
    .on_header_value = on_header_value,
    .on_header_value_complete = on_header_value_complete,
    .on_headers_complete = on_headers_complete,
    .on_chunk_extension_name = on_chunk_extension,
    .on_chunk_extension_value = on_chunk_extension,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

void dapr__hc_parse_reset(dapr__http_cconn_t *conn)
{
    llhttp_init(&conn->parser, HTTP_RESPONSE, &settings);
    conn->parser.data = conn;
    conn->hp = DAPR__HP_HEAD;
    conn->ev = DAPR__HCEV_NONE;
    conn->again = conn->interim = conn->in_field = conn->msg_keep_alive = false;
    conn->err_code = 0;
    conn->err_text = NULL;
    conn->n_hoff = 0;
    conn->head_bytes = conn->extra_bytes = 0;
    conn->head_mark = NULL;
    conn->tail[0] = conn->tail[1] = 0;
    conn->head.len = 0;
    conn->head.oom = 0;
    if (conn->head.cap > HEAD_KEEP_MAX)
        dapr__buf_free(&conn->head);
}

/* Headers (or trailers) from the offsets into conn->hdrs; values trimmed. */
static int build_hdrs(dapr__http_cconn_t *conn)
{
    if (conn->n_hoff > conn->cap_hdrs) {
        void *n = dapr__realloc(conn->hdrs, conn->n_hoff * sizeof(*conn->hdrs));
        if (!n)
            return -1;
        conn->hdrs = n;
        conn->cap_hdrs = conn->n_hoff;
    }
    for (size_t i = 0; i < conn->n_hoff; i++) {
        const dapr__hc_hoff_t *o = &conn->hoff[i];
        char *v = conn->head.data + o->value;
        size_t len = o->value_len;
        while (len && (*v == ' ' || *v == '\t')) {
            v++;
            len--;
        }
        while (len && (v[len - 1] == ' ' || v[len - 1] == '\t'))
            len--;
        v[len] = '\0';
        conn->hdrs[i].name = conn->head.data + o->name;
        conn->hdrs[i].value = v;
    }
    return 0;
}

/* ---------------------------------------------------------------------
 * Events
 * ------------------------------------------------------------------- */

/* llhttp 8.1.0 ends a head at "\r" followed by any byte (CVE-2023-30589);
 * insist on CRLF as the server does. `start` is where the current
 * llhttp_execute began; earlier bytes are in conn->tail. */
static bool head_ends_crlf(const dapr__http_cconn_t *conn, const char *start, const char *pos)
{
    size_t have = (size_t)(pos - start);
    char last = have >= 1 ? pos[-1] : conn->tail[1];
    char prev = have >= 2 ? pos[-2] : have == 1 ? conn->tail[1] : conn->tail[0];
    return prev == '\r' && last == '\n';
}

static void remember_tail(dapr__http_cconn_t *conn, const char *start, const char *end)
{
    if (end - start >= 2) {
        conn->tail[0] = end[-2];
        conn->tail[1] = end[-1];
    } else if (end - start == 1) {
        conn->tail[0] = conn->tail[1];
        conn->tail[1] = end[-1];
    }
}

/* All input so far was consumed in the middle of a head. */
static void head_piece_done(dapr__http_cconn_t *conn, const char *start, const char *end)
{
    remember_tail(conn, start, end);
    if (!conn->head_mark)
        return;
    /* also catches runs of bytes that reach no callback */
    conn->head_bytes += (size_t)(end - conn->head_mark);
    conn->head_mark = NULL;
    if (conn->head_bytes > conn->c->max_header)
        dapr__hc_req_fail(conn->req, DAPR_ETOOBIG, "response head too large");
}

static void head_done(dapr__http_cconn_t *conn, const char *start, const char *pos)
{
    dapr__http_creq_t *r = conn->req;
    dapr__http_client_t *c = conn->c;
    llhttp_t *p = &conn->parser;
    size_t total = conn->head_bytes + (conn->head_mark ? (size_t)(pos - conn->head_mark) : 0);
    conn->head_mark = NULL;
    int status = p->status_code;
    if (total > c->max_header) {
        dapr__hc_req_fail(r, DAPR_ETOOBIG, "response head too large");
    } else if (!head_ends_crlf(conn, start, pos)) {
        dapr__hc_req_fail(r, DAPR_EPARSE, "malformed response: head not ended by CRLF CRLF");
    } else if (p->http_major != 1) {
        dapr__hc_req_fail(r, DAPR_EPARSE, "malformed response: HTTP version is not 1.x");
    } else if (status == 101) {
        dapr__hc_req_fail(r, DAPR_EPARSE, "unexpected 101 Switching Protocols");
    } else if (status < 200) {
        conn->interim = true; /* 100 Continue, 102, 103: skipped */
        p->flags |= F_SKIPBODY;
    } else {
        bool skip = r->is_head || status == 204 || status == 304;
        if (skip)
            p->flags |= F_SKIPBODY;
        if (build_hdrs(conn)) {
            dapr__hc_req_fail(r, DAPR_ENOMEM, "out of memory");
            return;
        }
        dapr__hc_conn_arm(conn, 0); /* the response-head deadline is met */
        dapr__http_cresp_t resp = {
            .status = status,
            .reason = conn->reason_len ? conn->head.data : "",
            .http_major = p->http_major,
            .http_minor = p->http_minor,
            .headers = conn->hdrs,
            .n_headers = conn->n_hoff,
            .content_length = !skip && (p->flags & F_CONTENT_LENGTH) && !(p->flags & F_CHUNKED)
                                  ? (int64_t)p->content_length
                                  : -1,
            .keep_alive = llhttp_should_keep_alive(p) && !c->no_keepalive,
        };
        conn->hp = DAPR__HP_BODY;
        dapr__hc_req_response(r, &resp);
    }
}

static void message_done(dapr__http_cconn_t *conn, dapr__http_creq_t *r, bool extra)
{
    if (conn->interim) {
        conn->interim = false;
        conn->hp = DAPR__HP_HEAD; /* the real head follows */
        return;
    }
    const dapr__http_hdr_t *tr = NULL;
    size_t n = 0;
    if (conn->hp == DAPR__HP_TRAILERS) {
        if (build_hdrs(conn)) {
            dapr__hc_req_fail(r, DAPR_ENOMEM, "out of memory");
            return;
        }
        tr = conn->hdrs;
        n = conn->n_hoff;
    }
    conn->extra = extra;
    dapr__hc_req_complete(r, tr, n, conn->msg_keep_alive && !extra);
}

static void parse_error(dapr__http_cconn_t *conn, llhttp_errno_t e)
{
    if (conn->err_code) {
        dapr__hc_req_fail(conn->req, conn->err_code, conn->err_text);
        return;
    }
    char msg[200];
    snprintf(msg, sizeof(msg), "malformed response: %s (%s)", llhttp_errno_name(e),
             llhttp_get_error_reason(&conn->parser));
    dapr__hc_req_fail(conn->req, DAPR_EPARSE, msg);
}

/* ---------------------------------------------------------------------
 * The parse loop
 * ------------------------------------------------------------------- */

static bool parsable(const dapr__http_cconn_t *conn, const dapr__http_creq_t *r)
{
    return !conn->closed && conn->req == r && r->state == DAPR__RQ_ACTIVE && !r->paused;
}

size_t dapr__hc_parse(dapr__http_cconn_t *conn, const char *data, size_t len)
{
    dapr__http_creq_t *r = conn->req;
    if (!r)
        return 0;
    size_t off = 0;
    bool again = conn->again; /* llhttp has work left even without input */
    conn->again = false;
    dapr__hc_req_hold(r);
    conn->in_parse++;
    while ((off < len || again) && parsable(conn, r)) {
        const char *start = data + off;
        conn->ev = DAPR__HCEV_NONE;
        again = false;
        if (conn->hp == DAPR__HP_HEAD)
            conn->head_mark = start;
        llhttp_errno_t e = llhttp_execute(&conn->parser, start, len - off);
        if (e == HPE_OK) {
            off = len;
            if (conn->hp == DAPR__HP_HEAD)
                head_piece_done(conn, start, data + len);
            break;
        }
        if (e != HPE_PAUSED) {
            parse_error(conn, e);
            break;
        }
        off += (size_t)(llhttp_get_error_pos(&conn->parser) - start);
        llhttp_resume(&conn->parser);
        switch (conn->ev) {
        case DAPR__HCEV_HEADERS:
            head_done(conn, start, data + off);
            again = true; /* a body-less message completes without more bytes */
            break;
        case DAPR__HCEV_BODY:
            dapr__hc_req_body(r, conn->body_at, conn->body_n);
            again = true; /* the body's last piece: the message completes next */
            break;
        case DAPR__HCEV_MESSAGE:
            message_done(conn, r, off < len);
            break;
        }
    }
    if (!conn->closed && conn->req == r && r->state == DAPR__RQ_ACTIVE)
        conn->again = again; /* paused with work left: the resume picks it up */
    conn->in_parse--;
    dapr__hc_req_unhold(r);
    return off;
}

void dapr__hc_parse_eof(dapr__http_cconn_t *conn)
{
    dapr__http_creq_t *r = conn->req;
    if (!r || conn->in_parse)
        return;
    conn->ev = DAPR__HCEV_NONE;
    llhttp_finish(&conn->parser);
    if (conn->ev == DAPR__HCEV_MESSAGE && !conn->interim) {
        /* a close-delimited body ends here */
        dapr__hc_req_hold(r);
        message_done(conn, r, false);
        dapr__hc_req_unhold(r);
        return;
    }
    dapr__hc_req_fail(r, DAPR_ECLOSED,
                      conn->hp == DAPR__HP_HEAD
                          ? "connection closed by the server before the response head was complete"
                          : "connection closed by the server before the response body was complete");
}
