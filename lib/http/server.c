/* HTTP/1.1 server transport: the server object, listeners, accepting, and
 * the sans-I/O entry.
 *
 * Connections and their I/O live in server_conn.c, parsing and dispatch in
 * server_parse.c, response heads in server_respond.c (server_int.h has the
 * rule that decides when a connection is freed). */
#include "server_int.h"

#include <string.h>

#include "core/alloc.h"

/* ---------------------------------------------------------------------
 * Server life
 * ------------------------------------------------------------------- */

static int parse_origins(dapr__http_server_t *s, const char *list)
{
    if (!list || !*list)
        return 0;
    size_t n = 1;
    for (const char *p = list; *p; p++)
        n += *p == ',';
    s->origins_mem = dapr__strdup(list);
    s->origins = dapr__calloc(n, sizeof(char *));
    if (!s->origins_mem || !s->origins)
        return DAPR_ENOMEM;
    char *save = NULL;
    for (char *t = strtok_r(s->origins_mem, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        while (*t == ' ' || *t == '\t')
            t++;
        size_t len = strlen(t);
        while (len && (t[len - 1] == ' ' || t[len - 1] == '\t'))
            t[--len] = '\0';
        if (!len)
            continue;
        if (!strcmp(t, "*"))
            s->cors_any = true;
        s->origins[s->n_origins++] = t;
    }
    s->cors_on = s->n_origins > 0;
    return 0;
}

static void server_release(dapr__http_server_t *s)
{
    dapr__free(s->origins_mem);
    dapr__free(s->origins);
    dapr__free(s->rbuf);
    dapr__free(s);
}

int dapr__http_server_create(dapr__http_server_t **out, const dapr__http_server_config_t *cfg)
{
    *out = NULL;
    if (!cfg || !cfg->on_request)
        return DAPR_EINVAL;
    dapr__http_server_t *s = dapr__calloc(1, sizeof(*s));
    if (!s)
        return DAPR_ENOMEM;
    s->loop = cfg->loop;
    dapr__logger_init(&s->own_log);
    s->own_log.level = DAPR_LOG_WARN;
    s->log = cfg->log ? cfg->log : &s->own_log;
    s->max_body = cfg->max_body_bytes ? cfg->max_body_bytes : 4 * 1024 * 1024;
    s->max_header = cfg->max_header_bytes ? cfg->max_header_bytes : 4 * 1024;
    s->header_to = cfg->header_timeout_ms ? cfg->header_timeout_ms : 10000;
    s->idle_to = cfg->idle_timeout_ms ? cfg->idle_timeout_ms : 120000;
    s->body_to = cfg->body_timeout_ms ? cfg->body_timeout_ms : 30000;
    s->on_request = cfg->on_request;
    s->stream_body = cfg->stream_body;
    s->ud = cfg->ud;
    s->rbuf = dapr__malloc(DAPR__HTTP_RBUF_SIZE);
    if (!s->rbuf || parse_origins(s, cfg->allowed_origins)) {
        server_release(s);
        return DAPR_ENOMEM;
    }
    *out = s;
    return 0;
}

size_t dapr__http_server_inflight(const dapr__http_server_t *s) { return s ? s->inflight : 0; }

void dapr__http_server_check_done(dapr__http_server_t *s)
{
    if (!s->shutting || s->done_fired || s->kick_pending || s->n_listeners || s->n_net_conns ||
        s->reject_busy || s->h2_open)
        return;
    dapr__http_defer_close(s); /* nothing left to defer work for */
    s->done_fired = true;
    if (s->done)
        s->done(s->done_ud);
}

static void on_kick_close(uv_handle_t *h)
{
    dapr__http_server_t *s = h->data;
    s->kick_pending = false;
    dapr__http_server_check_done(s);
}

static void on_listener_close(uv_handle_t *h)
{
    dapr__http_listener_t *l = h->data;
    dapr__http_server_t *s = l->s;
    if (s) {
        dapr__http_listener_t **pp = &s->listeners;
        while (*pp != l)
            pp = &(*pp)->next;
        *pp = l->next;
        s->n_listeners--;
    }
    dapr__free(l);
    if (s)
        dapr__http_server_check_done(s);
}

static void close_listener(dapr__http_listener_t *l)
{
    if (l->closing)
        return;
    l->closing = true;
    uv_close((uv_handle_t *)&l->tcp, on_listener_close);
}

void dapr__http_server_shutdown(dapr__http_server_t *s, void (*done)(void *ud), void *ud)
{
    if (!s || s->shutting)
        return;
    s->shutting = true;
    s->done = done;
    s->done_ud = ud;
    for (dapr__http_listener_t *l = s->listeners; l; l = l->next)
        close_listener(l);
    dapr__http_h2c_shutdown(s); /* GOAWAY; streams in flight finish */
    /* Idle connections go now; the others finish their current request
     * (its response carries Connection: close). Closing never frees
     * synchronously, so walking the list is safe. */
    for (dapr__http_conn_t *c = s->conns; c; c = c->next) {
        if (c->detached || c->closed)
            continue;
        if (c->lingering) {
            dapr__http_conn_close(c); /* its responses are out already */
            continue;
        }
        if (c->state != DAPR__HC_IDLE || dapr__http_conn_pending_input(c))
            continue;
        if (c->writes_pending)
            dapr__http_conn_finish(c);
        else
            dapr__http_conn_close(c);
    }
    if (s->loop) {
        /* `done` must not run inside this call: a handle whose close
         * callback comes on the next loop turn holds it back. */
        uv_timer_init(s->loop, &s->kick);
        s->kick.data = s;
        s->kick_pending = true;
        uv_close((uv_handle_t *)&s->kick, on_kick_close);
    } else {
        dapr__http_server_check_done(s);
    }
}

void dapr__http_server_free(dapr__http_server_t *s)
{
    if (!s)
        return;
    /* Normally nothing is left. If the loop stopped early (a request never
     * answered), orphan what remains: it frees itself without the server. */
    for (dapr__http_conn_t *c = s->conns; c; c = c->next) {
        c->s = NULL;
        c->kicked = false; /* the list goes with the server */
        c->kick_next = NULL;
        if (!c->detached)
            dapr__http_conn_close(c);
    }
    for (dapr__http_listener_t *l = s->listeners; l; l = l->next) {
        l->s = NULL;
        close_listener(l);
    }
    s->deferred = NULL;
    dapr__http_defer_close(s);
    dapr__http_h2c_free(s);
    server_release(s);
}

/* ---------------------------------------------------------------------
 * Deferred work: what must not run inside the caller's call (streamed
 * bodies: held bytes after dapr__http_req_read, resume, body errors of a
 * closed connection, on_writable, a held response head) runs from an idle
 * handle. Each connection is on the list at most once.
 * ------------------------------------------------------------------- */

/* Per idle callback: what a handler re-arms goes to the next turn. */
#define DEFER_BATCH 64

static void free_handle(uv_handle_t *h) { dapr__free(h); }

static void on_defer(uv_idle_t *h)
{
    dapr__http_server_t *s = h->data;
    for (int i = 0; i < DEFER_BATCH && s->deferred; i++) {
        dapr__http_conn_t *c = s->deferred;
        s->deferred = c->kick_next;
        c->kick_next = NULL;
        c->kicked = false;
        dapr__http_conn_service(c);
    }
    if (!s->deferred && s->defer)
        uv_idle_stop(s->defer);
}

void dapr__http_conn_defer(dapr__http_conn_t *c)
{
    dapr__http_server_t *s = c->s;
    if (c->kicked || !s)
        return;
    if (c->detached) {
        c->kicked = true; /* the next feed runs it */
        return;
    }
    if (!s->defer) {
        uv_idle_t *h = dapr__malloc(sizeof(*h));
        if (!h)
            return; /* the next read or write event moves things on */
        uv_idle_init(s->loop, h);
        h->data = s;
        s->defer = h;
    }
    if (!s->deferred)
        uv_idle_start(s->defer, on_defer);
    c->kicked = true;
    c->kick_next = s->deferred;
    s->deferred = c;
}

/* A connection being freed leaves the list. */
void dapr__http_defer_drop(dapr__http_server_t *s, dapr__http_conn_t *c)
{
    if (!c->kicked || c->detached)
        return;
    dapr__http_conn_t **pp = &s->deferred;
    while (*pp && *pp != c)
        pp = &(*pp)->kick_next;
    if (*pp)
        *pp = c->kick_next;
    c->kicked = false;
}

void dapr__http_defer_close(dapr__http_server_t *s)
{
    if (!s->defer)
        return;
    uv_close((uv_handle_t *)s->defer, free_handle);
    s->defer = NULL;
}

/* ---------------------------------------------------------------------
 * Listening and accepting
 * ------------------------------------------------------------------- */

static int parse_addr(const char *addr, int port, struct sockaddr_storage *ss, bool *v6)
{
    char host[64];
    size_t len = strlen(addr);
    if (len >= 2 && addr[0] == '[' && addr[len - 1] == ']') {
        addr++;
        len -= 2;
    }
    if (len >= sizeof(host))
        return UV_EINVAL;
    memcpy(host, addr, len);
    host[len] = '\0';
    if (!strcmp(host, "localhost"))
        strcpy(host, "127.0.0.1");
    *v6 = false;
    if (!uv_ip4_addr(host, port, (struct sockaddr_in *)ss))
        return 0;
    *v6 = true;
    return uv_ip6_addr(host, port, (struct sockaddr_in6 *)ss) ? UV_EINVAL : 0;
}

static int local_port(uv_tcp_t *t)
{
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    if (uv_tcp_getsockname(t, (struct sockaddr *)&ss, &len))
        return 0;
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static void on_connection(uv_stream_t *ls, int status);

int dapr__http_server_listen(dapr__http_server_t *s, const char *addr, int port, int *bound_port)
{
    if (!s || !s->loop || !addr || s->shutting || port < 0 || port > 65535)
        return UV_EINVAL;
    struct sockaddr_storage ss;
    bool v6;
    int r = parse_addr(addr, port, &ss, &v6);
    if (r)
        return r;
    dapr__http_listener_t *l = dapr__calloc(1, sizeof(*l));
    if (!l)
        return UV_ENOMEM;
    if ((r = uv_tcp_init(s->loop, &l->tcp))) {
        dapr__free(l);
        return r;
    }
    l->tcp.data = l;
    l->s = s;
    l->next = s->listeners;
    s->listeners = l;
    s->n_listeners++;
    /* IPV6ONLY so that "::" and "0.0.0.0" can share a port. */
    r = uv_tcp_bind(&l->tcp, (struct sockaddr *)&ss, v6 ? UV_TCP_IPV6ONLY : 0);
    if (!r)
        r = uv_listen((uv_stream_t *)&l->tcp, 511, on_connection);
    if (r) {
        close_listener(l);
        return r;
    }
    if (bound_port)
        *bound_port = local_port(&l->tcp);
    return 0;
}

static void on_reject_close(uv_handle_t *h)
{
    dapr__http_server_t *s = h->data;
    s->reject_busy = false;
    dapr__http_listener_t *l = s->accept_stalled;
    s->accept_stalled = NULL;
    if (l && !l->closing)
        on_connection((uv_stream_t *)&l->tcp, 0); /* the one libuv is holding back */
    dapr__http_server_check_done(s);
}

/* No memory for a connection: accept it into a spare handle and close it,
 * otherwise libuv would stop accepting on this listener altogether. */
static void reject(dapr__http_server_t *s, dapr__http_listener_t *l)
{
    if (s->reject_busy) {
        s->accept_stalled = l;
        return;
    }
    uv_tcp_init(s->loop, &s->reject);
    s->reject.data = s;
    s->reject_busy = true;
    uv_accept((uv_stream_t *)&l->tcp, (uv_stream_t *)&s->reject);
    uv_close((uv_handle_t *)&s->reject, on_reject_close);
}

static void on_connection(uv_stream_t *ls, int status)
{
    dapr__http_listener_t *l = ls->data;
    dapr__http_server_t *s = l->s;
    if (!s)
        return;
    if (status < 0) {
        DAPR_LOG(s->log, DAPR_LOG_WARN, DAPR__HTTP_LOG_SCOPE, "accept failed: %s",
                 uv_strerror(status));
        return;
    }
    dapr__http_conn_t *c = dapr__http_conn_new(s);
    if (!c) {
        DAPR_LOG(s->log, DAPR_LOG_ERROR, DAPR__HTTP_LOG_SCOPE,
                 "out of memory accepting a connection");
        reject(s, l);
        return;
    }
    s->n_net_conns++;
    dapr__http_conn_accept(c, ls);
}

/* ---------------------------------------------------------------------
 * Sans-I/O connections
 * ------------------------------------------------------------------- */

dapr__http_conn_t *dapr__http_conn_detached(dapr__http_server_t *s, dapr__http_write_fn fn,
                                            void *ud)
{
    if (!s)
        return NULL;
    dapr__http_conn_t *c = dapr__http_conn_new(s);
    if (!c)
        return NULL;
    c->detached = true;
    c->wfn = fn;
    c->wud = ud;
    c->seen_bytes = true;
    return c;
}

int dapr__http_conn_feed(dapr__http_conn_t *c, const void *data, size_t len)
{
    if (!c || c->owner_gone || !c->s)
        return -1;
    if (c->kicked) {
        /* the deferred work of a detached connection: this is its loop */
        c->kicked = false;
        dapr__http_conn_service(c);
    }
    if (c->closed || c->state == DAPR__HC_CLOSING)
        return -1;
    if (len)
        dapr__http_conn_input(c, data, len);
    return c->closed || c->state == DAPR__HC_CLOSING ? -1 : 0;
}

/* If a request is still with the application, the connection stays
 * allocated (marked dead) and the eventual respond frees it. */
void dapr__http_conn_detached_free(dapr__http_conn_t *c)
{
    if (!c)
        return;
    bool streaming = c->state == DAPR__HC_STREAM && c->in_app;
    c->owner_gone = true;
    c->closed = true;
    c->dead = c->in_app;
    c->wfn = NULL;
    c->kicked = false;
    if (streaming) {
        /* the client went away mid-body; the owner's call is our loop */
        c->state = DAPR__HC_CLOSING;
        c->busy++;
        dapr__http_stream_fail(c, DAPR_ECLOSED);
        if (c->rs_want) {
            c->rs_want = false;
            if (c->in_app && c->rs_writable)
                c->rs_writable(&c->req, c->rs_ud);
        }
        c->busy--;
    }
    dapr__http_conn_maybe_free(c);
}
