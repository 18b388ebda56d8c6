/* The gRPC server object: listeners, accepted/adopted/detached connections,
 * graceful shutdown and teardown. Per-stream work is in session.c and
 * call.c; bytes in and out in h2io.c. */
#include <string.h>

#include "core/alloc.h"
#include "core/log.h"
#include "dapr/common.h"
#include "grpc_int.h"

#define NOTICE_TO_GOAWAY_MS 100
#define DEFAULT_GRACE_MS 5000


static void conn_teardown(dapr__h2io_t *io, int err);
static void conn_release(dapr__h2io_t *io);

static const dapr__h2io_vt_t conn_vt = {dapr__grpc_conn_after_send, conn_teardown, conn_release};

static void check_done(dapr__grpc_server_t *s);

/* --- create / free --------------------------------------------------------- */

static int build_routes(dapr__grpc_server_t *s)
{
    dapr__map_init(&s->routes);
    for (size_t i = 0; i < s->cfg.n_methods; i++) {
        const dapr__grpc_method_t *m = &s->cfg.methods[i];
        void *old = NULL;
        if (!m->path)
            return DAPR_EINVAL;
        if (!strcmp(m->path, "*")) { /* the table's own fallback row */
            if (s->cfg.fallback && s->cfg.fallback != m)
                return DAPR_EINVAL;
            s->cfg.fallback = m;
            continue;
        }
        if (dapr__map_put(&s->routes, m->path, strlen(m->path), (void *)m, &old))
            return DAPR_ENOMEM;
        if (old)
            return DAPR_EINVAL;
    }
    return 0;
}

static int make_nghttp2(dapr__grpc_server_t *s)
{
    if (nghttp2_session_callbacks_new(&s->cbs) || nghttp2_option_new(&s->opt))
        return DAPR_ENOMEM;
    dapr__grpc_server_callbacks(s->cbs);
    /* window updates follow delivery to handlers (nghttp2_session_consume) */
    nghttp2_option_set_no_auto_window_update(s->opt, 1);
    /* no stream priorities: keeping closed streams for them only costs
     * memory (about 270 KB per busy connection otherwise) */
    nghttp2_option_set_no_closed_streams(s->opt, 1);
    return 0;
}

static void destroy(dapr__grpc_server_t *s)
{
    dapr__map_free(&s->routes);
    if (s->cbs)
        nghttp2_session_callbacks_del(s->cbs);
    if (s->opt)
        nghttp2_option_del(s->opt);
    dapr__grpc_dlheap_free(&s->dl);
    dapr__free(s->listeners);
    dapr__free(s);
}

int dapr__grpc_server_create(dapr__grpc_server_t **out, const dapr__grpc_server_config_t *cfg)
{
    *out = NULL;
    if (!cfg || !cfg->loop || !cfg->log || (cfg->n_methods && !cfg->methods))
        return DAPR_EINVAL;
    dapr__grpc_server_t *s = dapr__calloc(1, sizeof(*s));
    if (!s)
        return DAPR_ENOMEM;
    s->cfg = *cfg;
    s->loop = cfg->loop;
    s->log = cfg->log;
    if (!s->cfg.max_recv_msg)
        s->cfg.max_recv_msg = DAPR__GRPC_DEFAULT_MAX_MSG;
    if (!s->cfg.max_header_list)
        s->cfg.max_header_list = (size_t)4 << 20;
    if (!s->cfg.shutdown_grace_ms)
        s->cfg.shutdown_grace_ms = DEFAULT_GRACE_MS;
    int rv = build_routes(s);
    if (rv == 0)
        rv = make_nghttp2(s);
    if (rv == 0)
        rv = dapr__h2sched_init(&s->sched, s->loop, s->log);
    if (rv != 0) {
        dapr__free(s->sched.rbuf);
        destroy(s);
        return rv;
    }
    dapr__grpc_dlheap_init(&s->dl, s->loop, dapr__grpc_call_deadline, s);
    uv_timer_init(s->loop, &s->shut_timer);
    s->shut_timer.data = s;
    s->n_handles = 3; /* prepare, deadline timer, shutdown timer */
    *out = s;
    return 0;
}

static void handle_gone(dapr__grpc_server_t *s)
{
    if (--s->n_handles > 0)
        return;
    void (*done)(void *) = s->done;
    s->done = NULL;
    bool freeing = s->freeing;
    if (done)
        done(s->done_ud); /* may call dapr__grpc_server_free: then destroys */
    if (freeing)
        destroy(s);
}

static void on_handle_closed(uv_handle_t *h) { handle_gone(h->data); }

static void on_listener_closed(uv_handle_t *h)
{
    dapr__grpc_server_t *s = h->data;
    dapr__free(h);
    s->n_listen_open--;
    check_done(s);
    handle_gone(s);
}

/* Everything closed but the server's own handles: close those. */
static void check_done(dapr__grpc_server_t *s)
{
    if (!(s->shutting_down || s->freeing) || s->core_closing || s->n_conns || s->n_listen_open)
        return;
    s->core_closing = true;
    /* detached connections need the prepare handle and the timer too */
    for (dapr__grpc_conn_t *c = s->conns, *next; c; c = next) {
        next = c->next;
        dapr__h2io_close(&c->io, 0);
    }
    uv_timer_stop(&s->shut_timer);
    s->sched.prep.data = s;
    s->dl.timer.data = s;
    dapr__h2sched_close(&s->sched, on_handle_closed);
    uv_close((uv_handle_t *)&s->dl.timer, on_handle_closed);
    uv_close((uv_handle_t *)&s->shut_timer, on_handle_closed);
}

static void close_listeners(dapr__grpc_server_t *s)
{
    for (size_t i = 0; i < s->n_listeners; i++) {
        uv_tcp_t *l = s->listeners[i];
        s->listeners[i] = NULL;
        if (l)
            uv_close((uv_handle_t *)l, on_listener_closed);
    }
}

static void close_conns(dapr__grpc_server_t *s)
{
    dapr__grpc_conn_t *c = s->conns, *next;
    for (; c; c = next) {
        next = c->next;
        dapr__h2io_close(&c->io, 0);
    }
}

void dapr__grpc_server_free(dapr__grpc_server_t *s)
{
    if (!s)
        return;
    if (s->n_handles == 0) {
        destroy(s);
        return;
    }
    s->freeing = true;
    close_listeners(s);
    close_conns(s);
    check_done(s);
}

/* --- connections ------------------------------------------------------------ */

static void conn_unlink(dapr__grpc_conn_t *c)
{
    dapr__grpc_server_t *s = c->srv;
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
    c->srv = NULL;
}

static dapr__grpc_conn_t *conn_new(dapr__grpc_server_t *s, bool detached)
{
    dapr__grpc_conn_t *c = dapr__calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    dapr__h2io_init(&c->io, &conn_vt, &s->sched);
    c->srv = s;
    c->detached = detached;
    if (dapr__grpc_conn_session_new(c) != 0) {
        dapr__free(c);
        return NULL;
    }
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    if (!detached)
        s->n_conns++;
    return c;
}

static void conn_teardown(dapr__h2io_t *io, int err)
{
    dapr__grpc_conn_t *c = (dapr__grpc_conn_t *)io;
    if (err && c->srv)
        DAPR_LOG(c->srv->log, DAPR_LOG_DEBUG, DAPR__GRPC_SCOPE, "connection closed: %s",
                 dapr__h2io_strerror(err));
    dapr__grpc_call_teardown_all(c);
}

static void conn_release(dapr__h2io_t *io)
{
    dapr__grpc_conn_t *c = (dapr__grpc_conn_t *)io;
    dapr__grpc_server_t *s = c->srv;
    if (c->detached) {
        /* its owner frees it with dapr__grpc_conn_detached_free */
        if (s)
            conn_unlink(c);
        return;
    }
    conn_unlink(c);
    s->n_conns--;
    dapr__free(c);
    check_done(s);
    handle_gone(s); /* the connection's socket */
}

/* Take an open socket into a new connection and send our SETTINGS. */
static int conn_attach(dapr__grpc_conn_t *c, uv_tcp_t *tcp, bool owned)
{
    c->io.tcp = tcp;
    c->io.tcp_owned = owned;
    c->io.tcp_state = DAPR__TCP_OPEN;
    tcp->data = &c->io;
    c->srv->n_handles++;
    uv_tcp_nodelay(tcp, 1);
    int rv = dapr__h2io_start(&c->io);
    if (rv != 0)
        dapr__h2io_close(&c->io, rv);
    return rv;
}

static void on_connection(uv_stream_t *ls, int status)
{
    dapr__grpc_server_t *s = ls->data;
    if (status < 0) {
        DAPR_LOG(s->log, DAPR_LOG_WARN, DAPR__GRPC_SCOPE, "accept failed: %s",
                 uv_strerror(status));
        return;
    }
    dapr__grpc_conn_t *c = conn_new(s, false);
    if (!c)
        return; /* libuv retries the pending connection on the next accept */
    uv_tcp_init(s->loop, &c->tcp_storage);
    int rv = uv_accept(ls, (uv_stream_t *)&c->tcp_storage);
    c->io.tcp = &c->tcp_storage;
    c->io.tcp_state = DAPR__TCP_OPEN;
    c->tcp_storage.data = &c->io;
    if (rv != 0) {
        s->n_handles++;
        dapr__h2io_close(&c->io, rv);
        return;
    }
    if (conn_attach(c, &c->tcp_storage, false) == 0)
        dapr__h2io_flush(&c->io);
}

static void free_foreign_tcp(uv_handle_t *h) { dapr__free(h); }

int dapr__grpc_server_adopt(dapr__grpc_server_t *s, uv_tcp_t *tcp, const void *first,
                            size_t first_len)
{
    dapr__grpc_conn_t *c = s->shutting_down || s->freeing ? NULL : conn_new(s, false);
    if (!c) {
        uv_close((uv_handle_t *)tcp, free_foreign_tcp);
        return s->shutting_down || s->freeing ? DAPR_ESTATE : DAPR_ENOMEM;
    }
    int rv = conn_attach(c, tcp, true);
    if (rv != 0)
        return rv;
    if (first_len)
        dapr__h2io_feed(&c->io, first, first_len);
    else
        dapr__h2io_flush(&c->io);
    return 0;
}

int dapr__grpc_server_adopt_upgrade(dapr__grpc_server_t *s, uv_tcp_t *tcp,
                                    const dapr__grpc_upgrade_t *u)
{
    dapr__grpc_conn_t *c = s->shutting_down || s->freeing || !s->cfg.plain ? NULL
                                                                           : conn_new(s, false);
    if (!c) {
        uv_close((uv_handle_t *)tcp, free_foreign_tcp);
        return s->shutting_down || s->freeing || !s->cfg.plain ? DAPR_ESTATE : DAPR_ENOMEM;
    }
    dapr__grpc_call_t *call = NULL;
    int rv = dapr__buf_append(&c->io.out, u->prefix, u->prefix_len);
    if (rv == 0)
        rv = dapr__grpc_conn_upgrade(c, u, &call);
    if (rv != 0) {
        /* the socket still speaks HTTP/1.1: a plain error, then close */
        static const char bad[] = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n"
                                  "Connection: close\r\n\r\n";
        c->io.out.len = 0;
        if (conn_attach(c, tcp, true) == 0)
            dapr__h2io_write_raw_and_close(&c->io, bad, sizeof(bad) - 1);
        return rv;
    }
    rv = conn_attach(c, tcp, true);
    if (rv != 0)
        return rv;
    dapr__h2io_hold(&c->io);
    dapr__grpc_plain_dispatch(call);
    dapr__h2io_unhold(&c->io);
    dapr__h2io_flush(&c->io);
    return 0;
}

/* --- listening ---------------------------------------------------------------- */

static int parse_addr(const char *addr, int port, struct sockaddr_storage *ss)
{
    if (!addr || !*addr)
        addr = "0.0.0.0";
    if (addr[0] == '[') { /* "[::1]", as daprd's listen addresses write IPv6 */
        char ip[64];
        size_t n = strcspn(addr + 1, "]");
        if (addr[1 + n] != ']' || addr[2 + n] != '\0' || n >= sizeof(ip))
            return UV_EINVAL;
        memcpy(ip, addr + 1, n);
        ip[n] = '\0';
        return uv_ip6_addr(ip, port, (struct sockaddr_in6 *)ss);
    }
    if (strchr(addr, ':'))
        return uv_ip6_addr(addr, port, (struct sockaddr_in6 *)ss);
    return uv_ip4_addr(addr, port, (struct sockaddr_in *)ss);
}

static int bound_port(uv_tcp_t *l)
{
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    if (uv_tcp_getsockname(l, (struct sockaddr *)&ss, &len) != 0)
        return 0;
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

int dapr__grpc_server_listen(dapr__grpc_server_t *s, const char *addr, int port, int *bound)
{
    struct sockaddr_storage ss;
    if (s->shutting_down || s->freeing || port < 0 || port > 65535)
        return UV_EINVAL;
    int rv = parse_addr(addr, port, &ss);
    if (rv != 0)
        return rv;
    uv_tcp_t **nl = dapr__realloc(s->listeners, (s->n_listeners + 1) * sizeof(*nl));
    if (!nl)
        return UV_ENOMEM;
    s->listeners = nl;
    uv_tcp_t *l = dapr__malloc(sizeof(*l));
    if (!l)
        return UV_ENOMEM;
    uv_tcp_init(s->loop, l);
    l->data = s;
    rv = uv_tcp_bind(l, (const struct sockaddr *)&ss, 0);
    if (rv == 0)
        rv = uv_listen((uv_stream_t *)l, 511, on_connection);
    if (rv != 0) {
        uv_close((uv_handle_t *)l, free_foreign_tcp);
        return rv;
    }
    if (bound)
        *bound = bound_port(l);
    s->listeners[s->n_listeners++] = l;
    s->n_listen_open++;
    s->n_handles++;
    return 0;
}

/* --- shutdown ------------------------------------------------------------------ */

static void on_shut_timer(uv_timer_t *t)
{
    dapr__grpc_server_t *s = t->data;
    dapr__grpc_conn_t *c;
    if (s->phase == 1) {
        /* the final GOAWAY: streams above the last one we saw are refused */
        for (c = s->conns; c; c = c->next) {
            if (c->io.dead || c->detached)
                continue;
            nghttp2_session *h2 = c->io.h2;
            nghttp2_submit_goaway(h2, NGHTTP2_FLAG_NONE,
                                  nghttp2_session_get_last_proc_stream_id(h2), NGHTTP2_NO_ERROR,
                                  NULL, 0);
            dapr__h2io_mark_dirty(&c->io);
        }
        s->phase = 2;
        uv_timer_start(&s->shut_timer, on_shut_timer, s->cfg.shutdown_grace_ms, 0);
        return;
    }
    s->phase = 3; /* grace is over: cancel what is left */
    for (c = s->conns; c; c = c->next)
        if (!c->detached)
            dapr__h2io_close(&c->io, 0);
}

void dapr__grpc_server_shutdown(dapr__grpc_server_t *s, void (*done)(void *ud), void *ud)
{
    if (s->shutting_down || s->freeing)
        return;
    s->shutting_down = true;
    s->done = done;
    s->done_ud = ud;
    close_listeners(s);
    for (dapr__grpc_conn_t *c = s->conns; c; c = c->next) {
        if (c->io.dead || c->detached)
            continue;
        nghttp2_submit_shutdown_notice(c->io.h2);
        dapr__h2io_mark_dirty(&c->io);
    }
    s->phase = 1;
    uv_timer_start(&s->shut_timer, on_shut_timer, NOTICE_TO_GOAWAY_MS, 0);
    check_done(s);
}

void dapr__grpc_server_stats(const dapr__grpc_server_t *s, dapr__grpc_server_stats_t *out)
{
    memset(out, 0, sizeof(*out));
    for (const dapr__grpc_conn_t *c = s->conns; c; c = c->next) {
        out->conns++;
        out->calls += c->n_calls;
        out->write_bytes += c->io.wq_bytes + c->io.out.len;
        for (const dapr__grpc_call_t *k = c->calls; k; k = k->next)
            out->queued_bytes += dapr__grpc_outq_len(&k->tx);
    }
}

/* --- detached (sans-I/O) -------------------------------------------------------- */

dapr__grpc_conn_t *dapr__grpc_conn_detached(dapr__grpc_server_t *s, dapr__grpc_write_fn fn,
                                            void *ud)
{
    if (!fn)
        return NULL;
    dapr__grpc_conn_t *c = conn_new(s, true);
    if (!c)
        return NULL;
    c->io.wfn = fn;
    c->io.wud = ud;
    c->io.ready = true;
    dapr__h2io_flush(&c->io); /* our SETTINGS */
    return c;
}

int dapr__grpc_conn_feed(dapr__grpc_conn_t *c, const void *data, size_t len)
{
    return dapr__h2io_feed(&c->io, data, len);
}

void dapr__grpc_conn_detached_free(dapr__grpc_conn_t *c)
{
    if (!c)
        return;
    dapr__h2io_close(&c->io, 0); /* tears down unless already dead */
    if (c->srv)
        conn_unlink(c);
    dapr__free(c);
}
