/* HTTP/1.1 client: one connection's socket — resolving, connecting (every
 * address in turn, each under the connect timeout), reading, writing, its
 * timer, the idle pool, and its lifetime.
 *
 * TLS: every byte leaving goes through dapr__hc_conn_send and every byte
 * arriving through dapr__hc_conn_input; for a TLS client the engine of
 * client_tls.c sits between those and the socket (raw_send, on_read),
 * nowhere else.
 *
 * A write error does not fail the request by itself: the connection stops
 * writing and the read side decides, because a server that refuses the
 * rest of a body has usually sent its answer (413, 400) already, and a
 * dead pooled connection shows up there as EOF/reset, which may be
 * retried. */
#include "client_int.h"

#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/strutil.h"

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf);
static void try_addr(dapr__http_cconn_t *conn);

typedef struct wblk {
    uv_write_t w;
    dapr__http_cconn_t *conn;
    char data[]; /* copied bytes, when the caller's do not outlive the write */
} wblk_t;

/* ---------------------------------------------------------------------
 * Addresses
 * ------------------------------------------------------------------- */

unsigned dapr__hc_literal_addrs(const char *host, int port, struct sockaddr_storage *out,
                                unsigned max)
{
    if (!max)
        return 0;
    if (!dapr__strcasecmp(host, "localhost")) {
        /* RFC 6761 §6.3: loopback, without asking a resolver */
        uv_ip4_addr("127.0.0.1", port, (struct sockaddr_in *)&out[0]);
        if (max < 2)
            return 1;
        uv_ip6_addr("::1", port, (struct sockaddr_in6 *)&out[1]);
        return 2;
    }
    if (uv_ip4_addr(host, port, (struct sockaddr_in *)&out[0]) == 0 ||
        uv_ip6_addr(host, port, (struct sockaddr_in6 *)&out[0]) == 0)
        return 1;
    return 0;
}

void dapr__hc_addr_text(const struct sockaddr_storage *ss, char *out, size_t len)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
        uv_ip6_name(a, ip, sizeof(ip));
        snprintf(out, len, "[%s]:%d", ip, ntohs(a->sin6_port));
    } else {
        const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
        uv_ip4_name(a, ip, sizeof(ip));
        snprintf(out, len, "%s:%d", ip, ntohs(a->sin_port));
    }
}

/* ---------------------------------------------------------------------
 * Lifetime
 * ------------------------------------------------------------------- */

static void idle_unlink(dapr__http_cconn_t *conn)
{
    dapr__http_client_t *c = conn->c;
    if (!conn->in_idle)
        return;
    if (conn->iprev)
        conn->iprev->inext = conn->inext;
    else
        c->idle = conn->inext;
    if (conn->inext)
        conn->inext->iprev = conn->iprev;
    conn->iprev = conn->inext = NULL;
    conn->in_idle = false;
    c->n_idle--;
}

static void conn_release(dapr__http_cconn_t *conn)
{
    dapr__http_client_t *c = conn->c;
    if (conn->prev)
        conn->prev->next = conn->next;
    else
        c->conns = conn->next;
    if (conn->next)
        conn->next->prev = conn->prev;
    c->n_conns--;
    if (conn->in_kick) {
        dapr__http_cconn_t **pp = &c->kick_conns;
        while (*pp != conn)
            pp = &(*pp)->knext;
        *pp = conn->knext;
    }
    dapr__tls_conn_free(conn->tls); /* whatever state the session is in */
    dapr__buf_free(&conn->pend);
    dapr__buf_free(&conn->head);
    dapr__free(conn->hoff);
    dapr__free(conn->hdrs);
    dapr__free(conn);
    dapr__hc_check_done(c);
}

static void maybe_free(dapr__http_cconn_t *conn)
{
    if (conn->closed && !conn->handles && !conn->gai_pending)
        conn_release(conn);
}

static void on_tcp_closed(uv_handle_t *h)
{
    dapr__http_cconn_t *conn = h->data;
    conn->handles--;
    if (conn->closed)
        maybe_free(conn);
    else
        try_addr(conn); /* closed to try the next address */
}

static void on_timer_closed(uv_handle_t *h)
{
    dapr__http_cconn_t *conn = h->data;
    conn->handles--;
    maybe_free(conn);
}

void dapr__hc_conn_close(dapr__http_cconn_t *conn)
{
    if (conn->closed)
        return;
    conn->closed = true;
    idle_unlink(conn);
    if (conn->req) { /* callers detach first; be safe */
        conn->req->conn = NULL;
        conn->req->attached = false;
        conn->req = NULL;
    }
    conn->reading = false;
    if (conn->tcp_open) {
        conn->tcp_open = false;
        uv_close((uv_handle_t *)&conn->tcp, on_tcp_closed); /* the fd closes now */
    }
    uv_close((uv_handle_t *)&conn->timer, on_timer_closed);
    if (conn->gai_pending)
        uv_cancel((uv_req_t *)&conn->gai); /* its callback frees, if it comes later */
}

/* ---------------------------------------------------------------------
 * Timer: connect deadline (per address), response-head deadline, idle
 * ------------------------------------------------------------------- */

static void on_timer(uv_timer_t *t);

/* One deadline per connection, re-armed lazily: a pooled connection that
 * goes active and back costs stores, not timer-heap operations. The timer
 * may fire early or for nothing; on_timer looks at the deadline. */
static void timer_start(dapr__http_cconn_t *conn, uint64_t ms)
{
    uv_timer_start(&conn->timer, on_timer, ms, 0);
    conn->timer_armed = true;
    conn->timer_due = uv_now(conn->c->loop) + ms;
}

static void timer_stop(dapr__http_cconn_t *conn)
{
    uv_timer_stop(&conn->timer);
    conn->timer_armed = false;
    conn->deadline = 0;
}

void dapr__hc_conn_arm(dapr__http_cconn_t *conn, uint64_t ms)
{
    if (conn->closed)
        return;
    if (!ms) {
        conn->deadline = 0;
        return;
    }
    conn->deadline = uv_now(conn->c->loop) + ms;
    if (!conn->timer_armed || conn->timer_due > conn->deadline)
        timer_start(conn, ms);
}

static void close_tcp_next(dapr__http_cconn_t *conn, int err);

static void on_timer(uv_timer_t *t)
{
    dapr__http_cconn_t *conn = t->data;
    dapr__http_client_t *c = conn->c;
    char msg[160];
    conn->timer_armed = false;
    if (!conn->deadline || conn->closed)
        return;
    uint64_t now = uv_now(c->loop);
    if (now < conn->deadline) {
        timer_start(conn, conn->deadline - now);
        return;
    }
    conn->deadline = 0;
    switch (conn->state) {
    case DAPR__CC_RESOLVING:
        snprintf(msg, sizeof(msg), "resolving %s: timed out after %llu ms", c->host,
                 (unsigned long long)c->connect_to);
        dapr__hc_conn_lost(conn, DAPR_ETIMEDOUT, msg);
        break;
    case DAPR__CC_CONNECTING:
        close_tcp_next(conn, UV_ETIMEDOUT);
        break;
    case DAPR__CC_HANDSHAKE:
        snprintf(msg, sizeof(msg), "TLS handshake with %s: timed out after %llu ms",
                 conn->addr_text, (unsigned long long)c->connect_to);
        dapr__hc_conn_lost(conn, DAPR_ETIMEDOUT, msg);
        break;
    case DAPR__CC_ACTIVE:
        if (conn->req && !conn->req->got_response) {
            snprintf(msg, sizeof(msg), "no response head from %s within %llu ms", c->authority,
                     (unsigned long long)c->header_to);
            dapr__hc_req_fail(conn->req, DAPR_ETIMEDOUT, msg);
        }
        break;
    case DAPR__CC_IDLE:
        dapr__hc_conn_close(conn);
        break;
    }
}

/* ---------------------------------------------------------------------
 * Resolving and connecting
 * ------------------------------------------------------------------- */

static void connect_failed(dapr__http_cconn_t *conn, int err)
{
    dapr__http_client_t *c = conn->c;
    char msg[200];
    if (err == UV_ETIMEDOUT)
        snprintf(msg, sizeof(msg), "connect to %s: timed out after %llu ms", conn->addr_text,
                 (unsigned long long)c->connect_to);
    else
        snprintf(msg, sizeof(msg), "connect to %s: %s", conn->addr_text, uv_strerror(err));
    dapr__hc_conn_lost(conn, err == UV_ETIMEDOUT ? DAPR_ETIMEDOUT : DAPR_EUNAVAIL, msg);
}

/* This address failed: close the socket; its close callback tries the
 * next one (the handle is embedded, so it is reused only once closed). */
static void close_tcp_next(dapr__http_cconn_t *conn, int err)
{
    DAPR_LOG(conn->c->log, DAPR_LOG_DEBUG, DAPR__HC_LOG_SCOPE, "connect to %s: %s",
             conn->addr_text, uv_strerror(err));
    conn->last_err = err;
    timer_stop(conn);
    if (!conn->tcp_open)
        return;
    conn->tcp_open = false;
    uv_close((uv_handle_t *)&conn->tcp, on_tcp_closed);
}

static void on_connect(uv_connect_t *req, int status)
{
    dapr__http_cconn_t *conn = req->data;
    if (!conn->tcp_open)
        return; /* we closed it (timeout, cancel): ECANCELED */
    if (status < 0) {
        close_tcp_next(conn, status);
        return;
    }
    dapr__http_client_t *c = conn->c;
    timer_stop(conn);
    uv_tcp_nodelay(&conn->tcp, 1);
    if (!conn->req) {
        dapr__hc_conn_close(conn);
        return;
    }
    if (c->tls) {
        dapr__hc_tls_start(conn); /* attaches the request once the handshake is done */
        return;
    }
    dapr__hc_conn_ready(conn);
}

void dapr__hc_conn_ready(dapr__http_cconn_t *conn)
{
    timer_stop(conn);
    conn->c->n_connects++;
    conn->state = DAPR__CC_ACTIVE;
    if (!conn->req) {
        dapr__hc_conn_close(conn);
        return;
    }
    dapr__hc_conn_attach(conn, conn->req);
}

static void try_addr(dapr__http_cconn_t *conn)
{
    dapr__http_client_t *c = conn->c;
    while (conn->next_addr < conn->n_addrs) {
        const struct sockaddr_storage *ss = &conn->addrs[conn->next_addr++];
        dapr__hc_addr_text(ss, conn->addr_text, sizeof(conn->addr_text));
        conn->state = DAPR__CC_CONNECTING;
        int rv = uv_tcp_init(c->loop, &conn->tcp);
        if (rv) {
            conn->last_err = rv;
            continue;
        }
        conn->tcp.data = conn;
        conn->handles++;
        conn->tcp_open = true;
        conn->creq.data = conn;
        rv = uv_tcp_connect(&conn->creq, &conn->tcp, (const struct sockaddr *)ss, on_connect);
        if (rv == 0) {
            dapr__hc_conn_arm(conn, c->connect_to);
            return;
        }
        close_tcp_next(conn, rv); /* the close callback comes back here */
        return;
    }
    connect_failed(conn, conn->last_err ? conn->last_err : UV_EADDRNOTAVAIL);
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    dapr__http_cconn_t *conn = req->data;
    conn->gai_pending = false;
    if (conn->closed) {
        uv_freeaddrinfo(res);
        maybe_free(conn);
        return;
    }
    timer_stop(conn);
    if (status < 0) {
        char msg[320];
        snprintf(msg, sizeof(msg), "resolving %s: %s", conn->c->host, uv_strerror(status));
        dapr__hc_conn_lost(conn, DAPR_EUNAVAIL, msg);
        return;
    }
    for (struct addrinfo *ai = res; ai && conn->n_addrs < DAPR__HC_MAX_ADDRS; ai = ai->ai_next)
        if ((ai->ai_family == AF_INET || ai->ai_family == AF_INET6) &&
            ai->ai_addrlen <= sizeof(struct sockaddr_storage))
            memcpy(&conn->addrs[conn->n_addrs++], ai->ai_addr, ai->ai_addrlen);
    uv_freeaddrinfo(res);
    try_addr(conn);
}

dapr__http_cconn_t *dapr__hc_conn_open(dapr__http_client_t *c, dapr__http_creq_t *r)
{
    dapr__http_cconn_t *conn = dapr__calloc(1, sizeof(*conn));
    if (!conn)
        return NULL;
    conn->c = c;
    conn->next = c->conns;
    if (c->conns)
        c->conns->prev = conn;
    c->conns = conn;
    c->n_conns++;
    uv_timer_init(c->loop, &conn->timer);
    conn->timer.data = conn;
    conn->handles = 1;
    conn->req = r;
    r->conn = conn;
    conn->n_addrs = dapr__hc_literal_addrs(c->host, c->port, conn->addrs, DAPR__HC_MAX_ADDRS);
    if (conn->n_addrs) {
        try_addr(conn);
        return conn;
    }
    conn->state = DAPR__CC_RESOLVING;
    static const struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    char port[8];
    snprintf(port, sizeof(port), "%d", c->port);
    conn->gai.data = conn;
    int rv = uv_getaddrinfo(c->loop, &conn->gai, on_resolved, c->host, port, &hints);
    if (rv) {
        conn->deferred_err = DAPR_EUNAVAIL; /* reported from the kick */
        dapr__hc_conn_kick(conn);
        return conn;
    }
    conn->gai_pending = true;
    dapr__hc_conn_arm(conn, c->connect_to); /* resolving counts against connecting */
    return conn;
}

/* ---------------------------------------------------------------------
 * The pool
 * ------------------------------------------------------------------- */

dapr__http_cconn_t *dapr__hc_conn_take_idle(dapr__http_client_t *c)
{
    dapr__http_cconn_t *conn = c->idle;
    if (!conn)
        return NULL;
    idle_unlink(conn);
    conn->deadline = 0; /* the idle deadline; the timer stays as it is */
    conn->state = DAPR__CC_ACTIVE;
    return conn;
}

void dapr__hc_conn_to_idle(dapr__http_cconn_t *conn)
{
    dapr__http_client_t *c = conn->c;
    conn->state = DAPR__CC_IDLE;
    conn->in_idle = true;
    conn->iprev = NULL;
    conn->inext = c->idle;
    if (c->idle)
        c->idle->iprev = conn;
    c->idle = conn;
    c->n_idle++;
    dapr__hc_conn_arm(conn, c->idle_to);
    /* keep reading: a server closing an idle connection is noticed at once */
    dapr__hc_conn_update_reading(conn);
}

/* ---------------------------------------------------------------------
 * Reading
 * ------------------------------------------------------------------- */

static bool pending_input(const dapr__http_cconn_t *conn) { return conn->pend.len > conn->pend_off; }

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    dapr__http_cconn_t *conn = h->data;
    buf->base = conn->c->rbuf;
    buf->len = DAPR__HC_RBUF_SIZE;
}

void dapr__hc_conn_update_reading(dapr__http_cconn_t *conn)
{
    if (conn->closed || !conn->tcp_open ||
        (conn->state != DAPR__CC_ACTIVE && conn->state != DAPR__CC_IDLE &&
         conn->state != DAPR__CC_HANDSHAKE))
        return;
    bool want = conn->state == DAPR__CC_HANDSHAKE
                    ? !conn->peer_eof /* a paused request does not hold up the handshake */
                    : !conn->peer_eof && !pending_input(conn) && !(conn->req && conn->req->paused);
    if (want && !conn->reading) {
        if (uv_read_start((uv_stream_t *)&conn->tcp, on_alloc, on_read)) {
            conn->deferred_err = DAPR_EIO;
            dapr__hc_conn_kick(conn);
            return;
        }
        conn->reading = true;
    } else if (!want && conn->reading) {
        uv_read_stop((uv_stream_t *)&conn->tcp);
        conn->reading = false;
    }
}

static int pend_append(dapr__http_cconn_t *conn, const char *data, size_t len)
{
    if (conn->pend_off) {
        size_t left = conn->pend.len - conn->pend_off;
        memmove(conn->pend.data, conn->pend.data + conn->pend_off, left);
        conn->pend.len = left;
        conn->pend_off = 0;
    }
    return dapr__buf_append(&conn->pend, data, len);
}

void dapr__hc_conn_input(dapr__http_cconn_t *conn, const char *data, size_t len)
{
    dapr__http_creq_t *r = conn->req;
    if (!r) {
        /* bytes nobody asked for on an idle connection: it cannot be reused */
        dapr__hc_conn_close(conn);
        return;
    }
    size_t used = 0;
    if (!pending_input(conn) && !r->paused)
        used = dapr__hc_parse(conn, data, len);
    /* what is left belongs to a paused response; after the end of a
     * response it is unasked-for (the connection was not pooled) */
    if (used < len && !conn->closed && conn->req == r && pend_append(conn, data + used, len - used))
        dapr__hc_req_fail(r, DAPR_ENOMEM, "out of memory");
    dapr__hc_conn_update_reading(conn);
}

static void at_eof(dapr__http_cconn_t *conn)
{
    if (conn->state == DAPR__CC_HANDSHAKE) {
        char msg[160];
        snprintf(msg, sizeof(msg), "TLS handshake with %s: connection closed by the server",
                 conn->addr_text);
        dapr__hc_conn_lost(conn, DAPR_EUNAVAIL, msg);
        return;
    }
    if (!conn->req) {
        dapr__hc_conn_close(conn); /* the server closed an idle connection */
        return;
    }
    if (!conn->got_bytes) {
        dapr__hc_conn_lost(conn, DAPR_ECLOSED, "connection closed by the server before any response");
        return;
    }
    dapr__hc_parse_eof(conn);
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    dapr__http_cconn_t *conn = st->data;
    if (nread > 0) {
        if (conn->tls) {
            dapr__hc_tls_input(conn, buf->base, (size_t)nread); /* got_bytes: plaintext only */
            return;
        }
        if (conn->req)
            conn->got_bytes = true;
        dapr__hc_conn_input(conn, buf->base, (size_t)nread);
        return;
    }
    if (nread == 0)
        return;
    uv_read_stop(st);
    conn->reading = false;
    if (nread == UV_EOF) {
        dapr__hc_conn_eof(conn);
        return;
    }
    char msg[160];
    if (conn->state == DAPR__CC_HANDSHAKE) {
        snprintf(msg, sizeof(msg), "TLS handshake with %s: %s", conn->addr_text,
                 uv_strerror((int)nread));
        dapr__hc_conn_lost(conn, DAPR_EUNAVAIL, msg);
        return;
    }
    snprintf(msg, sizeof(msg), "reading from %s: %s", conn->c->authority, uv_strerror((int)nread));
    dapr__hc_conn_lost(conn, DAPR_EIO, msg);
}

void dapr__hc_conn_eof(dapr__http_cconn_t *conn)
{
    if (conn->reading) {
        uv_read_stop((uv_stream_t *)&conn->tcp);
        conn->reading = false;
    }
    conn->peer_eof = true;
    /* a paused response sees the end when it resumes */
    if (!pending_input(conn) && !(conn->req && conn->req->paused))
        at_eof(conn);
}

/* From the kick: a deferred error, or parsing held input after a resume. */
void dapr__hc_conn_process(dapr__http_cconn_t *conn)
{
    if (conn->closed)
        return;
    dapr__http_creq_t *r = conn->req;
    if (conn->deferred_err && r) {
        int code = conn->deferred_err;
        conn->deferred_err = 0;
        dapr__hc_req_fail(r, code,
                          code == DAPR_EINVAL ? "request body shorter than its Content-Length"
                          : code == DAPR_EUNAVAIL ? "cannot resolve the host"
                                                  : "socket error");
        return;
    }
    if (!r || r->paused)
        return;
    if (pending_input(conn) || conn->again) {
        const char *p = conn->pend.data ? conn->pend.data + conn->pend_off : "";
        size_t used = dapr__hc_parse(conn, p, conn->pend.len - conn->pend_off);
        if (conn->closed)
            return;
        conn->pend_off += used;
        if (conn->pend_off >= conn->pend.len)
            conn->pend.len = conn->pend_off = 0;
    }
    if (conn->req == r && !r->paused && conn->peer_eof && !pending_input(conn))
        at_eof(conn);
    if (!conn->closed)
        dapr__hc_conn_update_reading(conn);
}

void dapr__hc_conn_kick(dapr__http_cconn_t *conn)
{
    dapr__http_client_t *c = conn->c;
    if (conn->in_kick || conn->closed)
        return;
    conn->in_kick = true;
    conn->knext = c->kick_conns;
    c->kick_conns = conn;
    dapr__hc_kick(c);
}

/* ---------------------------------------------------------------------
 * Writing
 * ------------------------------------------------------------------- */

size_t dapr__hc_conn_queued(const dapr__http_cconn_t *conn)
{
    return conn->tcp_open ? uv_stream_get_write_queue_size((const uv_stream_t *)&conn->tcp) : 0;
}

static void write_failed(dapr__http_cconn_t *conn, int err)
{
    DAPR_LOG(conn->c->log, DAPR_LOG_DEBUG, DAPR__HC_LOG_SCOPE, "writing to %s: %s",
             conn->c->authority, uv_strerror(err));
    conn->wdead = true;
}

static void on_write(uv_write_t *w, int status)
{
    wblk_t *b = w->data;
    dapr__http_cconn_t *conn = b->conn;
    dapr__free(b);
    if (conn->closed)
        return;
    if (status < 0) {
        write_failed(conn, status);
        return;
    }
    dapr__http_creq_t *r = conn->req;
    if (r && r->want_writable && dapr__hc_conn_queued(conn) <= DAPR__HC_WQ_LOW)
        dapr__hc_req_writable(r);
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

int dapr__hc_conn_send(dapr__http_cconn_t *conn, uv_buf_t *iov, unsigned n, bool stable)
{
    if (conn->closed || !conn->tcp_open || conn->wdead)
        return DAPR_EIO;
    if (conn->tls)
        return dapr__hc_tls_send(conn, iov, n);
    return dapr__hc_conn_raw_send(conn, iov, n, stable);
}

int dapr__hc_conn_raw_send(dapr__http_cconn_t *conn, uv_buf_t *iov, unsigned n, bool stable)
{
    if (conn->closed || !conn->tcp_open || conn->wdead)
        return DAPR_EIO;
    uv_stream_t *st = (uv_stream_t *)&conn->tcp;
    int w = uv_try_write(st, iov, n);
    if (w < 0 && w != UV_EAGAIN) {
        write_failed(conn, w);
        return DAPR_EIO;
    }
    if (w > 0)
        n = iov_skip(iov, n, (size_t)w);
    if (!n)
        return 0;
    size_t rest = 0;
    for (unsigned i = 0; i < n; i++)
        rest += iov[i].len;
    wblk_t *b = dapr__malloc(sizeof(*b) + (stable ? 0 : rest));
    if (!b) {
        write_failed(conn, UV_ENOMEM);
        return DAPR_EIO;
    }
    uv_buf_t one;
    if (!stable) {
        /* the caller's bytes do not outlive this call */
        size_t off = 0;
        for (unsigned i = 0; i < n; i++) {
            memcpy(b->data + off, iov[i].base, iov[i].len);
            off += iov[i].len;
        }
        one.base = b->data;
        one.len = rest;
        iov = &one;
        n = 1;
    }
    b->conn = conn;
    b->w.data = b;
    int rv = uv_write(&b->w, st, iov, n, on_write);
    if (rv) {
        dapr__free(b);
        write_failed(conn, rv);
        return DAPR_EIO;
    }
    return 0;
}
