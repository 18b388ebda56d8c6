/* HTTP/1.1 server transport: one connection's socket, timer and lifetime.
 *
 * Input is parsed straight from the server's shared read buffer; what
 * cannot be parsed yet (a request is with the application, or the write
 * queue is over its high-water mark) is kept in conn->pend, bounded, and
 * reading stops beyond that. Responses leave with uv_try_write when the
 * socket takes them, uv_write otherwise. */
#include "server_int.h"

#include <stdint.h>
#include <string.h>

#include "core/alloc.h"

/* Unparsed input kept per connection (pipelined requests waiting for the
 * application, or for the write queue to drain); reading stops beyond it. */
#define PEND_MAX (64 * 1024)
/* Write queue watermarks for read backpressure. */
#define WQ_HIGH (1024 * 1024)
#define WQ_LOW (256 * 1024)
/* After the last response of a connection: how long and how much input to
 * swallow so that closing does not turn into a RST that eats the response. */
#define LINGER_MS 1000
/* (a client still sending a refused body, e.g. 413 for a 5 MB upload, reads
 * the answer only once its writes are taken: a close with its bytes unread
 * is a RST that throws the answer away on its side) */
#define LINGER_MAX_BYTES (16 * 1024 * 1024)
/* A spare write request keeps its head buffer up to this size. */
#define WSPARE_MAX_CAP (32 * 1024)


static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf);
#define update_reading dapr__http_conn_update_reading

/* ---------------------------------------------------------------------
 * Creation
 * ------------------------------------------------------------------- */

dapr__http_conn_t *dapr__http_conn_new(dapr__http_server_t *s)
{
    dapr__http_conn_t *c = dapr__calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->s = s;
    c->state = DAPR__HC_IDLE;
    llhttp_init(&c->parser, HTTP_REQUEST, &dapr__http_parser_settings);
    c->parser.data = c;
    dapr__pool_init(&c->req.pool, 8192);
    c->req.conn = c;
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    return c;
}

static void peer_name(dapr__http_conn_t *c)
{
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len))
        return;
    if (ss.ss_family == AF_INET6)
        uv_ip6_name((struct sockaddr_in6 *)&ss, c->remote_ip, sizeof(c->remote_ip));
    else
        uv_ip4_name((struct sockaddr_in *)&ss, c->remote_ip, sizeof(c->remote_ip));
}

static void on_handle_close(uv_handle_t *h)
{
    dapr__http_conn_t *c = h->data;
    c->closes_pending--;
    dapr__http_conn_maybe_free(c);
}

void dapr__http_conn_accept(dapr__http_conn_t *c, uv_stream_t *ls)
{
    uv_tcp_init(c->s->loop, &c->tcp);
    uv_timer_init(c->s->loop, &c->timer);
    c->tcp.data = c;
    c->timer.data = c;
    if (uv_accept(ls, (uv_stream_t *)&c->tcp)) {
        dapr__http_conn_close(c);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    peer_name(c);
    /* A connection that never sends a head is a slow client too. */
    dapr__http_conn_set_deadline(c, c->s->header_to);
    update_reading(c);
}

/* ---------------------------------------------------------------------
 * Connection lifetime
 * ------------------------------------------------------------------- */

static void conn_release(dapr__http_conn_t *c)
{
    dapr__http_server_t *s = c->s;
    if (s) {
        if (c->prev)
            c->prev->next = c->next;
        else
            s->conns = c->next;
        if (c->next)
            c->next->prev = c->prev;
        if (!c->detached)
            s->n_net_conns--;
        dapr__http_defer_drop(s, c);
    }
    dapr__pool_destroy(&c->req.pool);
    dapr__buf_free(&c->head);
    dapr__buf_free(&c->pend);
    dapr__free(c->hoff);
    dapr__free(c->body);
    if (c->wspare) {
        dapr__buf_free(&c->wspare->head);
        dapr__free(c->wspare);
    }
    dapr__free(c);
    if (s)
        dapr__http_server_check_done(s);
}

void dapr__http_conn_maybe_free(dapr__http_conn_t *c)
{
    if (c->in_app || c->writes_pending || c->busy)
        return;
    if (c->detached ? c->owner_gone : (c->closed && !c->closes_pending))
        conn_release(c);
}

void dapr__http_conn_close(dapr__http_conn_t *c)
{
    if (c->closed)
        return;
    c->closed = true;
    c->dead = c->in_app;
    /* a handler reading the body or waiting to write hears of it (later) */
    if (c->state == DAPR__HC_STREAM && c->in_app && !c->sb_err)
        c->sb_err = DAPR_ECLOSED;
    c->state = DAPR__HC_CLOSING;
    if (c->in_app && ((c->sb_err && !c->sb_notified) || c->rs_want))
        dapr__http_conn_defer(c);
    if (c->detached)
        return;
    c->reading = false;
    c->closes_pending = 2;
    uv_close((uv_handle_t *)&c->tcp, on_handle_close);
    uv_close((uv_handle_t *)&c->timer, on_handle_close);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    dapr__http_conn_t *c = req->data;
    if (c->closed)
        return;
    /* Nothing more to wait for if the peer is gone or the server stops. */
    if (status < 0 || c->peer_eof || !c->s || c->s->shutting)
        dapr__http_conn_close(c);
}

/* All responses are written: send FIN, then swallow input for a moment so
 * that the peer reads our last response before the socket closes. */
static void start_linger(dapr__http_conn_t *c)
{
    c->lingering = true;
    c->shut.data = c;
    if (uv_shutdown(&c->shut, (uv_stream_t *)&c->tcp, on_shutdown)) {
        dapr__http_conn_close(c);
        return;
    }
    dapr__http_conn_set_deadline(c, LINGER_MS);
    update_reading(c);
}

void dapr__http_conn_finish(dapr__http_conn_t *c)
{
    if (c->closed || (c->state == DAPR__HC_CLOSING && c->detached))
        return;
    bool was_closing = c->state == DAPR__HC_CLOSING;
    c->state = DAPR__HC_CLOSING;
    c->pend.len = c->pend_off = 0;
    if (c->detached || was_closing)
        return;
    if (c->writes_pending) {
        dapr__http_conn_set_deadline(c, c->s ? c->s->body_to : LINGER_MS); /* flush deadline */
        update_reading(c);
    } else {
        start_linger(c);
    }
}

/* ---------------------------------------------------------------------
 * Timers: one deadline per connection, re-armed lazily so that body
 * progress costs a store, not a timer-heap operation.
 * ------------------------------------------------------------------- */

static void on_timer(uv_timer_t *t);

static void arm(dapr__http_conn_t *c, uint64_t ms)
{
    uv_timer_start(&c->timer, on_timer, ms, 0);
    c->timer_armed = true;
    c->timer_due = uv_now(c->timer.loop) + ms;
}

void dapr__http_conn_set_deadline(dapr__http_conn_t *c, uint64_t ms)
{
    if (c->detached || c->closed)
        return;
    if (!ms) {
        c->deadline = 0; /* an armed timer stays: it finds no deadline */
        return;
    }
    c->deadline = uv_now(c->timer.loop) + ms;
    if (!c->timer_armed || c->timer_due > c->deadline)
        arm(c, ms);
}

void dapr__http_conn_touch(dapr__http_conn_t *c)
{
    if (!c->detached && c->deadline && c->s)
        c->deadline = uv_now(c->timer.loop) + c->s->body_to;
}

/* A response still leaving is activity too: a big one to a slow reader
 * must not hit the idle (or flush) deadline while the peer keeps reading. */
static bool writes_progressing(dapr__http_conn_t *c)
{
    if (!c->writes_pending)
        return false;
    size_t q = uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp);
    bool moved = q < c->wq_mark;
    c->wq_mark = q;
    return moved;
}

static void on_timeout(dapr__http_conn_t *c)
{
    switch (c->state) {
    case DAPR__HC_HEAD:
        dapr__http_conn_error(c, 408, "request header timeout\n");
        break;
    case DAPR__HC_APP:
        break; /* handlers keep their own deadlines */
    case DAPR__HC_IDLE:
        if (c->s && writes_progressing(c))
            dapr__http_conn_set_deadline(c, c->s->idle_to);
        else
            dapr__http_conn_close(c);
        break;
    case DAPR__HC_CLOSING:
        if (c->s && !c->lingering && writes_progressing(c))
            dapr__http_conn_set_deadline(c, c->s->body_to);
        else
            dapr__http_conn_close(c);
        break;
    case DAPR__HC_BODY:
        dapr__http_conn_close(c);
        break;
    case DAPR__HC_STREAM:
        /* the deadline runs only while the handler reads */
        if (c->in_app && c->sb_reading && !c->sb_paused && !c->sb_err)
            dapr__http_stream_fail(c, DAPR_ETIMEDOUT);
        break;
    }
}

static void on_timer(uv_timer_t *t)
{
    dapr__http_conn_t *c = t->data;
    c->timer_armed = false;
    if (!c->deadline || c->closed)
        return;
    uint64_t now = uv_now(t->loop);
    if (now < c->deadline) {
        arm(c, c->deadline - now);
        return;
    }
    c->deadline = 0;
    on_timeout(c);
}

/* ---------------------------------------------------------------------
 * Reading
 * ------------------------------------------------------------------- */

bool dapr__http_conn_pending_input(const dapr__http_conn_t *c) { return c->pend.len > c->pend_off; }

#define can_parse dapr__http_conn_parsable

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    dapr__http_conn_t *c = h->data;
    buf->base = c->s->rbuf;
    buf->len = DAPR__HTTP_RBUF_SIZE;
}

void dapr__http_conn_update_reading(dapr__http_conn_t *c)
{
    if (c->detached || c->closed)
        return;
    /* a streamed body: not while its handler paused or after it failed */
    bool want = !c->peer_eof && c->s &&
                (c->state == DAPR__HC_CLOSING ||
                 (!c->wblocked && c->pend.len - c->pend_off < PEND_MAX &&
                  (c->state != DAPR__HC_STREAM || (!c->sb_paused && !c->sb_err))));
    if (want && !c->reading) {
        if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read)) {
            dapr__http_conn_close(c);
            return;
        }
        c->reading = true;
    } else if (!want && c->reading) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = false;
    }
}

static int pend_append(dapr__http_conn_t *c, const char *data, size_t len)
{
    if (c->pend_off) {
        size_t left = c->pend.len - c->pend_off;
        memmove(c->pend.data, c->pend.data + c->pend_off, left);
        c->pend.len = left;
        c->pend_off = 0;
    }
    return dapr__buf_append(&c->pend, data, len);
}

/* Input ended with nothing left to parse. */
static void at_eof(dapr__http_conn_t *c)
{
    switch (c->state) {
    case DAPR__HC_IDLE:
        dapr__http_conn_finish(c);
        break;
    case DAPR__HC_HEAD:
    case DAPR__HC_BODY:
    case DAPR__HC_STREAM: /* (the handler hears DAPR_ECLOSED) */
        dapr__http_conn_close(c); /* half a request: nobody to answer */
        break;
    case DAPR__HC_APP:
        break; /* the response finishes the connection */
    case DAPR__HC_CLOSING:
        if (c->lingering)
            dapr__http_conn_close(c);
        break;
    }
}

/* ---- h2c --------------------------------------------------------------
 * Prior-knowledge HTTP/2 (h2c) opens with the 24-byte client preface of
 * RFC 9113 §3.4 ("PRI * HTTP/2.0..."). On a match of what has arrived so far
 * the connection changes hands (h2c.c); otherwise llhttp sees the bytes and
 * rejects a bad preface like any malformed request (400, close). */
static const char h2_preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

static bool h2c_takeover(dapr__http_conn_t *c, const char *data, size_t len)
{
    size_t n = len < sizeof(h2_preface) - 1 ? len : sizeof(h2_preface) - 1;
    if (n < 3 || memcmp(data, h2_preface, n))
        return false;
    /* the engine checks the rest of the preface (a partial one included) */
    return dapr__http_h2c_adopt(c, data, len) == 0;
}

void dapr__http_conn_input(dapr__http_conn_t *c, const char *data, size_t len)
{
    if (c->state == DAPR__HC_CLOSING) {
        c->linger_bytes += len; /* discarded */
        if (c->linger_bytes > LINGER_MAX_BYTES)
            dapr__http_conn_close(c);
        return;
    }
    if (!c->seen_bytes) {
        c->seen_bytes = true;
        if (h2c_takeover(c, data, len))
            return;
    }
    size_t used = 0;
    if (!dapr__http_conn_pending_input(c) && can_parse(c))
        used = dapr__http_conn_parse(c, data, len);
    if (used < len && !c->closed && c->state != DAPR__HC_CLOSING &&
        pend_append(c, data + used, len - used)) {
        /* No memory to hold the input: an error reply unless a request
         * is with the application (its response must come first). */
        if (c->state == DAPR__HC_APP || c->state == DAPR__HC_STREAM)
            dapr__http_conn_close(c);
        else
            dapr__http_conn_error(c, 500, "out of memory\n");
    }
    update_reading(c);
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    dapr__http_conn_t *c = st->data;
    if (nread > 0) {
        dapr__http_conn_input(c, buf->base, (size_t)nread);
    } else if (nread == UV_EOF) {
        c->peer_eof = true;
        uv_read_stop(st);
        c->reading = false;
        if (!dapr__http_conn_pending_input(c))
            at_eof(c);
    } else if (nread < 0) {
        dapr__http_conn_close(c);
    }
}

void dapr__http_conn_resume(dapr__http_conn_t *c)
{
    if (c->closed)
        return;
    if (dapr__http_conn_pending_input(c) && can_parse(c)) {
        size_t used =
            dapr__http_conn_parse(c, c->pend.data + c->pend_off, c->pend.len - c->pend_off);
        c->pend_off += used;
        if (c->pend_off >= c->pend.len)
            c->pend.len = c->pend_off = 0;
    }
    if (c->closed)
        return;
    if (c->peer_eof && !dapr__http_conn_pending_input(c))
        at_eof(c);
    update_reading(c);
}

/* ---------------------------------------------------------------------
 * Writing
 * ------------------------------------------------------------------- */

dapr__http_wreq_t *dapr__http_wreq_get(dapr__http_conn_t *c)
{
    dapr__http_wreq_t *w = c->wspare;
    if (w)
        c->wspare = NULL;
    else if (!(w = dapr__calloc(1, sizeof(*w))))
        return NULL;
    w->conn = c;
    w->req.data = w;
    w->head.len = 0;
    w->head.oom = 0;
    w->body = NULL;
    return w;
}

void dapr__http_wreq_put(dapr__http_conn_t *c, dapr__http_wreq_t *w)
{
    dapr__free(w->body);
    w->body = NULL;
    if (!c->wspare && !c->closed && w->head.cap <= WSPARE_MAX_CAP) {
        c->wspare = w;
        return;
    }
    dapr__buf_free(&w->head);
    dapr__free(w);
}

static void after_write(dapr__http_conn_t *c, int status)
{
    if (c->closed) {
        dapr__http_conn_maybe_free(c);
        return;
    }
    if (status < 0) {
        dapr__http_conn_close(c);
        return;
    }
    if (c->state == DAPR__HC_CLOSING) {
        if (!c->writes_pending && !c->lingering)
            start_linger(c);
        return;
    }
    if (c->wblocked && uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) <= WQ_LOW) {
        c->wblocked = false;
        dapr__http_conn_resume(c);
    }
    if (c->rs_want && !c->closed && dapr__http_conn_queued(c) < DAPR__HTTP_RS_LOW)
        dapr__http_conn_defer(c);
}

size_t dapr__http_conn_queued(const dapr__http_conn_t *c)
{
    if (c->detached || c->closed)
        return 0;
    return uv_stream_get_write_queue_size((const uv_stream_t *)&c->tcp);
}

/* ---------------------------------------------------------------------
 * Deferred work (streamed bodies and responses)
 * ------------------------------------------------------------------- */

void dapr__http_conn_service(dapr__http_conn_t *c)
{
    c->busy++;
    if (c->in_app)
        dapr__http_respond_service(c); /* held head, on_writable */
    if (c->in_app && c->sb_err && !c->sb_notified)
        dapr__http_stream_notify(c);
    else if (!c->closed && c->s)
        dapr__http_conn_resume(c); /* held body bytes, or the next request */
    c->busy--;
    dapr__http_conn_maybe_free(c);
}

static void on_write(uv_write_t *req, int status)
{
    dapr__http_wreq_t *w = req->data;
    dapr__http_conn_t *c = w->conn;
    c->writes_pending--;
    dapr__http_wreq_put(c, w);
    after_write(c, status);
}

/* Drop the first k bytes of iov[0..n); returns the new count. */
static unsigned iov_skip(uv_buf_t *iov, unsigned n, size_t k)
{
    unsigned i = 0;
    while (i < n && k >= iov[i].len)
        k -= iov[i++].len;
    if (i < n) {
        iov[i].base += k;
        iov[i].len -= k;
    }
    memmove(iov, iov + i, (n - i) * sizeof(*iov));
    return n - i;
}

static void send_detached(dapr__http_conn_t *c, dapr__http_wreq_t *w, uv_buf_t *iov, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        if (c->wfn && iov[i].len)
            c->wfn(c->wud, iov[i].base, iov[i].len);
    dapr__http_wreq_put(c, w);
}

void dapr__http_conn_send(dapr__http_conn_t *c, dapr__http_wreq_t *w, uv_buf_t *iov, unsigned n,
                          bool borrowed)
{
    if (c->detached) {
        send_detached(c, w, iov, n);
        return;
    }
    uv_stream_t *st = (uv_stream_t *)&c->tcp;
    if (c->closed) {
        dapr__http_wreq_put(c, w);
        return;
    }

    /* Most responses leave in this one writev, with nothing to keep. */
    int r = uv_try_write(st, iov, n);
    if (r < 0 && r != UV_EAGAIN) {
        dapr__http_wreq_put(c, w);
        dapr__http_conn_close(c);
        return;
    }
    if (r > 0)
        n = iov_skip(iov, n, (size_t)r);
    if (!n) {
        dapr__http_wreq_put(c, w);
        return;
    }
    if (borrowed) {
        /* the rest of the caller's body must outlive this call */
        uv_buf_t *b = &iov[n - 1];
        if (!(w->body = dapr__malloc(b->len))) {
            dapr__http_wreq_put(c, w);
            dapr__http_conn_close(c);
            return;
        }
        memcpy(w->body, b->base, b->len);
        b->base = w->body;
    }
    if (uv_write(&w->req, st, iov, n, on_write)) {
        dapr__http_wreq_put(c, w);
        dapr__http_conn_close(c);
        return;
    }
    c->writes_pending++;
    c->wq_mark = SIZE_MAX; /* a new response is progress */
    if (uv_stream_get_write_queue_size(st) > WQ_HIGH) {
        c->wblocked = true;
        update_reading(c);
    }
}

static void on_err_write(uv_write_t *req, int status)
{
    dapr__http_conn_t *c = req->data;
    c->writes_pending--;
    after_write(c, status);
}

/* The connection's single transport error reply, from c->errbuf. */
void dapr__http_conn_send_raw(dapr__http_conn_t *c, const char *data, size_t len)
{
    if (c->detached) {
        if (c->wfn)
            c->wfn(c->wud, data, len);
        return;
    }
    if (c->closed)
        return;
    uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
    c->errw.data = c;
    if (uv_write(&c->errw, (uv_stream_t *)&c->tcp, &b, 1, on_err_write)) {
        dapr__http_conn_close(c);
        return;
    }
    c->writes_pending++;
}

