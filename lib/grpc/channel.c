/* Client channels: one HTTP/2 (h2c, prior knowledge) connection to
 * host:port, made on the first call, replaced after it failed or the server
 * sent GOAWAY.
 *
 * A connection's nghttp2 session exists from the start, so calls made while
 * resolving/connecting are submitted straight into it (nghttp2 queues them)
 * and leave with the preface once the socket is up; a failed connect fails
 * them with UNAVAILABLE. Names go through uv_getaddrinfo (thread pool, never
 * the loop); numeric addresses skip it. Each resolved address is tried in
 * order ("localhost" → ::1 then 127.0.0.1). */
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/errors.h"
#include "core/log.h"
#include "dapr/common.h"
#include "grpc_int.h"

static void cconn_teardown(dapr__h2io_t *io, int err);
static void cconn_release(dapr__h2io_t *io);
static void cconn_after_send(dapr__h2io_t *io);
static void connect_next(dapr__grpc_cconn_t *cc);
static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res);

const dapr__h2io_vt_t dapr__grpc_cconn_vt = {cconn_after_send, cconn_teardown, cconn_release};

static void check_done(dapr__grpc_channel_t *ch);

/* --- create / close -------------------------------------------------------- */

static char *make_authority(const char *host, int port)
{
    char buf[300];
    bool v6 = strchr(host, ':') != NULL;
    int n = snprintf(buf, sizeof(buf), v6 ? "[%s]:%d" : "%s:%d", host, port);
    return n > 0 && (size_t)n < sizeof(buf) ? dapr__strdup(buf) : NULL;
}

static void channel_destroy(dapr__grpc_channel_t *ch)
{
    if (ch->cbs)
        nghttp2_session_callbacks_del(ch->cbs);
    if (ch->opt)
        nghttp2_option_del(ch->opt);
    dapr__grpc_dlheap_free(&ch->dl);
    dapr__free(ch->sched.rbuf);
    dapr__free(ch->host);
    dapr__free(ch->authority);
    dapr__free(ch);
}

int dapr__grpc_channel_create(dapr__grpc_channel_t **out, uv_loop_t *loop, const char *host,
                              int port, const dapr__logger_t *log)
{
    *out = NULL;
    if (!loop || !log || !host || !*host || strlen(host) > 255 || port <= 0 || port > 65535)
        return DAPR_EINVAL;
    dapr__grpc_channel_t *ch = dapr__calloc(1, sizeof(*ch));
    if (!ch)
        return DAPR_ENOMEM;
    ch->loop = loop;
    ch->log = log;
    ch->port = port;
    ch->max_recv = DAPR__GRPC_DEFAULT_MAX_MSG;
    ch->host = dapr__strdup(host);
    ch->authority = make_authority(host, port);
    if (!ch->host || !ch->authority || nghttp2_session_callbacks_new(&ch->cbs) ||
        nghttp2_option_new(&ch->opt) || dapr__h2sched_init(&ch->sched, loop, log)) {
        channel_destroy(ch);
        return DAPR_ENOMEM;
    }
    dapr__grpc_client_callbacks(ch->cbs);
    nghttp2_option_set_no_auto_window_update(ch->opt, 1);
    dapr__grpc_dlheap_init(&ch->dl, loop, dapr__grpc_ccall_deadline, ch);
    ch->n_handles = 2; /* prepare, deadline timer */
    *out = ch;
    return 0;
}

void dapr__grpc_channel_set_max_recv_msg(dapr__grpc_channel_t *ch, size_t max)
{
    ch->max_recv = max ? max : DAPR__GRPC_DEFAULT_MAX_MSG;
}

static void on_core_closed(uv_handle_t *h)
{
    dapr__grpc_channel_t *ch = h->data;
    if (--ch->n_handles > 0)
        return;
    void (*done)(void *) = ch->done;
    void *ud = ch->done_ud;
    channel_destroy(ch);
    if (done)
        done(ud);
}

static void check_done(dapr__grpc_channel_t *ch)
{
    if (!ch->closing || ch->conns || ch->core_closing)
        return;
    ch->core_closing = true;
    ch->sched.prep.data = ch;
    ch->dl.timer.data = ch;
    uv_close((uv_handle_t *)&ch->sched.prep, on_core_closed);
    uv_close((uv_handle_t *)&ch->dl.timer, on_core_closed);
}

void dapr__grpc_channel_close(dapr__grpc_channel_t *ch, void (*done)(void *ud), void *ud)
{
    if (!ch || ch->closing)
        return;
    ch->closing = true;
    ch->done = done;
    ch->done_ud = ud;
    ch->conn = NULL;
    dapr__grpc_cconn_t *cc = ch->conns, *next;
    for (; cc; cc = next) {
        next = cc->next;
        dapr__h2io_close(&cc->io, UV_ECANCELED);
    }
    check_done(ch);
}

/* --- connections ---------------------------------------------------------- */

static int cconn_session(dapr__grpc_cconn_t *cc)
{
    dapr__grpc_channel_t *ch = cc->ch;
    if (nghttp2_session_client_new3(&cc->io.h2, ch->cbs, cc, ch->opt,
                                    (nghttp2_mem *)&dapr__grpc_nghttp2_mem) != 0)
        return DAPR_ENOMEM;
    nghttp2_settings_entry iv[] = {
        {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, (uint32_t)DAPR__GRPC_STREAM_WINDOW},
    };
    if (nghttp2_submit_settings(cc->io.h2, NGHTTP2_FLAG_NONE, iv, 2) != 0 ||
        nghttp2_session_set_local_window_size(cc->io.h2, NGHTTP2_FLAG_NONE, 0,
                                              DAPR__GRPC_CONN_WINDOW) != 0) {
        nghttp2_session_del(cc->io.h2);
        cc->io.h2 = NULL;
        return DAPR_ENOMEM;
    }
    return 0;
}

static int start_resolve(dapr__grpc_cconn_t *cc)
{
    dapr__grpc_channel_t *ch = cc->ch;
    if (uv_ip4_addr(ch->host, ch->port, (struct sockaddr_in *)&cc->addrs[0]) == 0 ||
        uv_ip6_addr(ch->host, ch->port, (struct sockaddr_in6 *)&cc->addrs[0]) == 0) {
        cc->n_addrs = 1;
        cc->state = DAPR__CC_CONNECTING;
        connect_next(cc);
        return 0;
    }
    static const struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    char port[8];
    snprintf(port, sizeof(port), "%d", ch->port);
    cc->gai.data = cc;
    int rv = uv_getaddrinfo(ch->loop, &cc->gai, on_resolved, ch->host, port, &hints);
    if (rv == 0)
        cc->gai_pending = true;
    return rv;
}

dapr__grpc_cconn_t *dapr__grpc_channel_conn(dapr__grpc_channel_t *ch)
{
    dapr__grpc_cconn_t *cc = ch->conn;
    if (cc && !cc->io.want_close && !cc->io.dead && cc->state != DAPR__CC_DRAINING)
        return cc;
    cc = dapr__calloc(1, sizeof(*cc));
    if (!cc)
        return NULL;
    dapr__h2io_init(&cc->io, &dapr__grpc_cconn_vt, &ch->sched);
    cc->ch = ch;
    if (cconn_session(cc) != 0) {
        dapr__free(cc);
        return NULL;
    }
    cc->next = ch->conns;
    if (ch->conns)
        ch->conns->prev = cc;
    ch->conns = cc;
    ch->conn = cc;
    if (start_resolve(cc) != 0) {
        dapr__h2io_close(&cc->io, UV_ENOMEM); /* no call is on it yet */
        return NULL;
    }
    return cc;
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    dapr__grpc_cconn_t *cc = req->data;
    cc->gai_pending = false;
    if (cc->io.dead) { /* closed while resolving: release was waiting for us */
        uv_freeaddrinfo(res);
        cconn_release(&cc->io);
        return;
    }
    for (struct addrinfo *a = res; a && cc->n_addrs < 8; a = a->ai_next) {
        if ((a->ai_family == AF_INET || a->ai_family == AF_INET6) &&
            a->ai_addrlen <= sizeof(cc->addrs[0]))
            memcpy(&cc->addrs[cc->n_addrs++], a->ai_addr, a->ai_addrlen);
    }
    uv_freeaddrinfo(res);
    cc->last_err = status;
    cc->state = DAPR__CC_CONNECTING;
    connect_next(cc);
}

static void on_retry_closed(uv_handle_t *h)
{
    dapr__grpc_cconn_t *cc = h->data;
    cc->io.tcp_state = DAPR__TCP_NONE;
    if (cc->io.dead) {
        cconn_release(&cc->io);
        return;
    }
    cc->addr_idx++;
    connect_next(cc);
}

/* This address failed: close the socket, then try the next one. */
static void retry_close(dapr__grpc_cconn_t *cc, int err)
{
    cc->last_err = err;
    cc->io.tcp_state = DAPR__TCP_CLOSING;
    cc->tcp.data = cc;
    uv_close((uv_handle_t *)&cc->tcp, on_retry_closed);
}

static void on_connect(uv_connect_t *req, int status)
{
    dapr__grpc_cconn_t *cc = req->data;
    if (status == UV_ECANCELED || cc->io.dead)
        return; /* closing: the handle's close callback releases */
    if (status < 0) {
        retry_close(cc, status);
        return;
    }
    DAPR_LOG(cc->ch->log, DAPR_LOG_DEBUG, DAPR__GRPC_SCOPE, "connected to %s",
             cc->ch->authority);
    cc->state = DAPR__CC_READY;
    uv_tcp_nodelay(&cc->tcp, 1);
    int rv = dapr__h2io_start(&cc->io);
    if (rv != 0) {
        dapr__h2io_close(&cc->io, rv);
        return;
    }
    dapr__h2io_flush(&cc->io); /* preface, SETTINGS and the waiting requests */
}

static void connect_next(dapr__grpc_cconn_t *cc)
{
    if (cc->addr_idx >= cc->n_addrs) {
        dapr__h2io_close(&cc->io, cc->last_err ? cc->last_err : UV_EAI_NONAME);
        return;
    }
    uv_tcp_init(cc->ch->loop, &cc->tcp);
    cc->io.tcp = &cc->tcp;
    cc->io.tcp_state = DAPR__TCP_OPEN;
    cc->tcp.data = cc;
    cc->creq.data = cc;
    int rv = uv_tcp_connect(&cc->creq, &cc->tcp,
                            (const struct sockaddr *)&cc->addrs[cc->addr_idx], on_connect);
    if (rv != 0)
        retry_close(cc, rv);
}

void dapr__grpc_cconn_lost(dapr__grpc_cconn_t *cc)
{
    cc->state = DAPR__CC_DRAINING;
    if (cc->ch->conn == cc)
        cc->ch->conn = NULL;
    /* the server said GOAWAY: once our calls are done, let the connection
     * go (a server shutting down gracefully waits for exactly that) */
    if (cc->n_calls == 0)
        dapr__h2io_close(&cc->io, 0);
}

/* --- h2io hooks -------------------------------------------------------------- */

static const char *loss_message(dapr__grpc_cconn_t *cc, int err, char *buf, size_t n)
{
    const char *why = err == 0 ? "closed by peer" : dapr__h2io_strerror(err);
    if (cc->state < DAPR__CC_READY) /* never connected */
        snprintf(buf, n, "failed to connect to %s: %s", cc->ch->authority, why);
    else
        snprintf(buf, n, "connection to %s lost: %s", cc->ch->authority, why);
    return buf;
}

static void cconn_teardown(dapr__h2io_t *io, int err)
{
    dapr__grpc_cconn_t *cc = (dapr__grpc_cconn_t *)io;
    dapr__grpc_channel_t *ch = cc->ch;
    char buf[512];
    bool closing = ch->closing;
    const char *msg = closing ? "channel closed" : loss_message(cc, err, buf, sizeof(buf));
    dapr__grpc_cconn_lost(cc);
    if (cc->calls)
        DAPR_LOG(ch->log, DAPR_LOG_DEBUG, DAPR__GRPC_SCOPE, "%s", msg);
    while (cc->calls)
        dapr__grpc_ccall_close(cc->calls, closing ? DAPR_GRPC_CANCELLED : DAPR_GRPC_UNAVAILABLE,
                               msg);
}

static void cconn_release(dapr__h2io_t *io)
{
    dapr__grpc_cconn_t *cc = (dapr__grpc_cconn_t *)io;
    dapr__grpc_channel_t *ch = cc->ch;
    if (cc->gai_pending) {
        uv_cancel((uv_req_t *)&cc->gai); /* on_resolved runs either way */
        return;
    }
    if (cc->prev)
        cc->prev->next = cc->next;
    else
        ch->conns = cc->next;
    if (cc->next)
        cc->next->prev = cc->prev;
    if (ch->conn == cc)
        ch->conn = NULL;
    dapr__free(cc);
    check_done(ch);
}

static void cconn_after_send(dapr__h2io_t *io)
{
    dapr__grpc_cconn_t *cc = (dapr__grpc_cconn_t *)io;
    dapr__grpc_ccall_t *c;
    /* A handler may cancel (and so free) any call here: rescan from the head
     * after each callback; flags are cleared first so this ends. */
    while (cc->n_writable > 0) {
        for (c = cc->calls; c && !c->writable_pending; c = c->next)
            ;
        if (!c)
            break;
        c->writable_pending = false;
        c->want_writable = false;
        cc->n_writable--;
        if (!c->closed && c->cbs.on_writable) {
            c->busy++;
            c->cbs.on_writable(c, c->ud);
            dapr__grpc_ccall_unbusy(c);
        }
    }
}
