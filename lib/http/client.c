/* HTTP/1.1 client: the client object, the wait queue (max concurrency),
 * request lifetime and final callbacks, and the decisions about a
 * connection at the end of a request (pool, close, retry).
 *
 * Submitting and the request-side API are in client_req.c, sockets in
 * client_conn.c, response parsing in client_parse.c; the rules about who
 * may free what are at the top of client_int.h. */
#include "client_int.h"

#include <stdio.h>
#include <string.h>

#include "core/alloc.h"

#define DEFAULT_MAX_IDLE 64
#define DEFAULT_IDLE_TO 90000
#define DEFAULT_CONNECT_TO 10000
#define DEFAULT_MAX_HEADER (64 * 1024)

/* ---------------------------------------------------------------------
 * Lists: the wait queue (FIFO) and the requests holding a slot
 * ------------------------------------------------------------------- */

static void q_push(dapr__http_client_t *c, dapr__http_creq_t *r)
{
    r->next = NULL;
    r->prev = c->q_tail;
    if (c->q_tail)
        c->q_tail->next = r;
    else
        c->q_head = r;
    c->q_tail = r;
    c->n_queued++;
}

static void q_unlink(dapr__http_client_t *c, dapr__http_creq_t *r)
{
    if (r->prev)
        r->prev->next = r->next;
    else
        c->q_head = r->next;
    if (r->next)
        r->next->prev = r->prev;
    else
        c->q_tail = r->prev;
    r->prev = r->next = NULL;
    c->n_queued--;
}

void dapr__hc_req_enqueue(dapr__http_creq_t *r)
{
    dapr__http_client_t *c = r->c;
    r->seq = ++c->seq;
    r->state = DAPR__RQ_QUEUED;
    q_push(c, r);
    dapr__hc_kick(c);
}

static void active_push(dapr__http_client_t *c, dapr__http_creq_t *r)
{
    r->prev = NULL;
    r->next = c->active;
    if (c->active)
        c->active->prev = r;
    c->active = r;
    c->in_flight++;
}

static void active_unlink(dapr__http_client_t *c, dapr__http_creq_t *r)
{
    if (r->prev)
        r->prev->next = r->next;
    else
        c->active = r->next;
    if (r->next)
        r->next->prev = r->prev;
    r->prev = r->next = NULL;
    c->in_flight--;
}

/* ---------------------------------------------------------------------
 * Request lifetime
 * ------------------------------------------------------------------- */

void dapr__hc_req_free(dapr__http_creq_t *r)
{
    dapr__buf_free(&r->head);
    dapr__buf_free(&r->early);
    dapr__free(r);
}

void dapr__hc_req_hold(dapr__http_creq_t *r) { r->busy++; }

void dapr__hc_req_unhold(dapr__http_creq_t *r)
{
    if (--r->busy == 0 && r->state == DAPR__RQ_DONE)
        dapr__hc_req_free(r);
}

static dapr__http_cconn_t *detach(dapr__http_creq_t *r)
{
    dapr__http_cconn_t *conn = r->conn;
    if (conn)
        conn->req = NULL;
    r->conn = NULL;
    r->attached = false;
    return conn;
}

/* Leave the queue or give back the slot; the kick starts the next one. */
static void req_leave(dapr__http_creq_t *r)
{
    dapr__http_client_t *c = r->c;
    if (r->state == DAPR__RQ_QUEUED)
        q_unlink(c, r);
    else if (r->state == DAPR__RQ_ACTIVE)
        active_unlink(c, r);
    r->state = DAPR__RQ_DONE;
    if (c->q_head || c->closing) /* a waiting request may go, or the close finish */
        dapr__hc_kick(c);
}

void dapr__hc_req_fail(dapr__http_creq_t *r, int code, const char *msg)
{
    if (r->state == DAPR__RQ_DONE)
        return;
    dapr__http_cconn_t *conn = detach(r);
    if (conn)
        dapr__hc_conn_close(conn); /* closes the fd now: no more reads of r's buffers */
    req_leave(r);
    DAPR_LOG(r->c->log, DAPR_LOG_DEBUG, DAPR__HC_LOG_SCOPE, "request to %s failed: %s (%s)",
             r->c->authority, msg, dapr_err_name(code));
    dapr_error_t e = {code, msg};
    dapr__hc_req_hold(r);
    r->cbs.on_error(r, &e, r->ud);
    dapr__hc_req_unhold(r);
}

void dapr__hc_req_complete(dapr__http_creq_t *r, const dapr__http_hdr_t *trailers, size_t n,
                           bool keep)
{
    dapr__http_client_t *c = r->c;
    dapr__http_cconn_t *conn = detach(r);
    /* Reusable only once the whole request is out (a server may answer
     * before reading our body) and nothing unasked-for came after the
     * response. */
    bool reuse = keep && r->ended && !r->short_body && !c->closing && !c->no_keepalive &&
                 c->n_idle < c->max_idle && !conn->wdead && !conn->peer_eof && !conn->extra &&
                 dapr__hc_conn_queued(conn) == 0;
    if (reuse)
        dapr__hc_conn_to_idle(conn);
    else
        dapr__hc_conn_close(conn);
    req_leave(r);
    dapr__hc_req_hold(r);
    r->cbs.on_end(r, trailers, n, r->ud);
    dapr__hc_req_unhold(r);
}

void dapr__hc_req_response(dapr__http_creq_t *r, const dapr__http_cresp_t *resp)
{
    r->got_response = true;
    dapr__hc_req_hold(r);
    r->cbs.on_response(r, resp, r->ud);
    dapr__hc_req_unhold(r);
}

void dapr__hc_req_body(dapr__http_creq_t *r, const char *data, size_t len)
{
    if (!r->cbs.on_body || !len)
        return;
    dapr__hc_req_hold(r);
    r->cbs.on_body(r, data, len, r->ud);
    dapr__hc_req_unhold(r);
}

void dapr__hc_req_writable(dapr__http_creq_t *r)
{
    if (!r->want_writable || r->state != DAPR__RQ_ACTIVE)
        return;
    r->want_writable = false;
    if (!r->cbs.on_writable)
        return;
    dapr__hc_req_hold(r);
    r->cbs.on_writable(r, r->ud);
    dapr__hc_req_unhold(r);
}

/* ---------------------------------------------------------------------
 * Starting requests, retrying, the kick
 * ------------------------------------------------------------------- */

/* A streamed body cannot be sent again, so a pooled connection the server
 * closes just as it is reused would fail the call (servers time idle
 * connections out much sooner than we do: Node after 5 s). Streamed
 * requests take only a connection that has been idle briefly. */
#define STREAM_REUSE_MS 1000

static bool reusable_for(const dapr__http_client_t *c, const dapr__http_creq_t *r)
{
    if (r->kind != DAPR__HTTP_BODY_STREAM || !c->idle)
        return true;
    uint64_t deadline = c->idle->deadline; /* idle since + idle_to */
    return deadline && deadline + STREAM_REUSE_MS > uv_now(c->loop) + c->idle_to;
}

static void req_start(dapr__http_creq_t *r)
{
    dapr__http_client_t *c = r->c;
    if (r->short_body) { /* ended short while it waited: no need to connect */
        dapr__hc_req_fail(r, DAPR_EINVAL, "request body shorter than its Content-Length");
        return;
    }
    dapr__http_cconn_t *conn = r->fresh_only || !reusable_for(c, r) ? NULL
                                                                    : dapr__hc_conn_take_idle(c);
    if (conn) {
        c->n_reused++;
        dapr__hc_conn_attach(conn, r);
        return;
    }
    if (!dapr__hc_conn_open(c, r))
        dapr__hc_req_fail(r, DAPR_ENOMEM, "out of memory");
}

bool dapr__hc_req_start_now(dapr__http_creq_t *r)
{
    dapr__http_client_t *c = r->c;
    if (r->kind == DAPR__HTTP_BODY_STREAM || c->tls || c->q_head || !c->idle ||
        c->idle->in_kick || (c->max_conc && c->in_flight >= c->max_conc))
        return false;
    r->seq = ++c->seq;
    r->state = DAPR__RQ_ACTIVE;
    active_push(c, r);
    req_start(r);
    return true;
}

/* A pooled connection the server had already given up on fails at the
 * first write or read; the request never reached the application, so an
 * idempotent one whose body can be replayed is sent again (RFC 9110 §9.2.2;
 * Go's net/http does the same). Only once, and on a new connection. */
static bool can_retry(const dapr__http_cconn_t *conn, const dapr__http_creq_t *r)
{
    return conn->nreq > 1 && !conn->got_bytes && r->idempotent && !r->retried &&
           !r->got_response && !r->short_body &&
           (r->kind != DAPR__HTTP_BODY_STREAM || r->written == 0);
}

void dapr__hc_conn_lost(dapr__http_cconn_t *conn, int code, const char *msg)
{
    dapr__http_creq_t *r = conn->req;
    if (!r) {
        dapr__hc_conn_close(conn);
        return;
    }
    if (!can_retry(conn, r)) {
        dapr__hc_req_fail(r, code, msg);
        return;
    }
    dapr__http_client_t *c = r->c;
    DAPR_LOG(c->log, DAPR_LOG_DEBUG, DAPR__HC_LOG_SCOPE,
             "pooled connection to %s is gone (%s); retrying on a new one", c->authority, msg);
    detach(r);
    dapr__hc_conn_close(conn);
    r->retried = r->fresh_only = true;
    c->n_retries++;
    if (r->kind == DAPR__HTTP_BODY_STREAM) {
        /* written == 0: at most the last-chunk was sent */
        dapr__buf_reset(&r->early);
        if (r->ended && r->cl < 0 && dapr__buf_append(&r->early, dapr__hc_last_chunk, 5)) {
            dapr__hc_req_fail(r, DAPR_ENOMEM, "out of memory");
            return;
        }
    }
    req_start(r);
}

static void dispatch(dapr__http_client_t *c)
{
    while (c->q_head && (!c->max_conc || c->in_flight < c->max_conc)) {
        dapr__http_creq_t *r = c->q_head;
        q_unlink(c, r);
        r->state = DAPR__RQ_ACTIVE;
        active_push(c, r);
        req_start(r);
    }
}

static void on_kick(uv_timer_t *t)
{
    dapr__http_client_t *c = t->data;
    c->kick_armed = false;
    dapr__http_cconn_t *conn;
    while ((conn = c->kick_conns)) {
        c->kick_conns = conn->knext;
        conn->knext = NULL;
        conn->in_kick = false;
        dapr__hc_conn_process(conn);
    }
    dispatch(c);
    dapr__hc_check_done(c);
}

void dapr__hc_kick(dapr__http_client_t *c)
{
    if (c->kick_armed || c->kick_closing)
        return;
    c->kick_armed = true;
    uv_timer_start(&c->kick, on_kick, 0, 0);
}

/* ---------------------------------------------------------------------
 * The client
 * ------------------------------------------------------------------- */

static bool host_char_ok(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '.' || ch == '-' || ch == '_' || ch == ':' || ch == '%';
}

/* "[::1]" → "::1" into out (256 bytes); false for anything that is not a
 * plain host name or address. */
static bool normalize_host(const char *h, char out[256])
{
    size_t len = strlen(h);
    if (len >= 2 && h[0] == '[' && h[len - 1] == ']') {
        h++;
        len -= 2;
    }
    if (!len || len > 255)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!host_char_ok(h[i]))
            return false;
    memcpy(out, h, len);
    out[len] = '\0';
    return true;
}

static void client_free(dapr__http_client_t *c)
{
    dapr__tls_ctx_free(c->tls);
    dapr__free(c->rbuf);
    dapr__free(c->host);
    dapr__free(c->authority);
    dapr__free(c);
}

int dapr__http_client_create(dapr__http_client_t **out, const dapr__http_client_config_t *cfg)
{
    *out = NULL;
    if (!cfg || !cfg->loop || !cfg->host || cfg->port <= 0 || cfg->port > 65535)
        return DAPR_EINVAL;
    char host[256];
    if (!normalize_host(cfg->host, host))
        return DAPR_EINVAL;
    dapr__http_client_t *c = dapr__calloc(1, sizeof(*c));
    if (!c)
        return DAPR_ENOMEM;
    c->host = dapr__strdup(host);
    char auth[300];
    snprintf(auth, sizeof(auth), strchr(host, ':') ? "[%s]:%d" : "%s:%d", host, cfg->port);
    c->authority = dapr__strdup(auth);
    c->rbuf = dapr__malloc(DAPR__HC_RBUF_SIZE);
    if (!c->host || !c->authority || !c->rbuf) {
        client_free(c);
        return DAPR_ENOMEM;
    }
    c->loop = cfg->loop;
    dapr__logger_init(&c->own_log);
    c->own_log.level = DAPR_LOG_WARN;
    c->log = cfg->log ? cfg->log : &c->own_log;
    if (cfg->tls) {
        char err[400] = "";
        int rc = dapr__tls_ctx_create(&c->tls, cfg->tls, err, sizeof(err));
        if (rc) {
            DAPR_LOG(c->log, DAPR_LOG_WARN, DAPR__HC_LOG_SCOPE, "TLS client for %s: %s",
                     c->authority, err);
            client_free(c);
            return rc == DAPR_ENOMEM ? DAPR_ENOMEM : DAPR_EINVAL;
        }
    }
    c->port = cfg->port;
    c->max_conc = cfg->max_concurrency;
    c->max_idle = cfg->max_idle ? cfg->max_idle : DEFAULT_MAX_IDLE;
    c->no_keepalive = cfg->no_keepalive;
    c->idle_to = cfg->idle_timeout_ms ? cfg->idle_timeout_ms : DEFAULT_IDLE_TO;
    c->connect_to = cfg->connect_timeout_ms ? cfg->connect_timeout_ms : DEFAULT_CONNECT_TO;
    c->header_to = cfg->header_timeout_ms;
    c->max_header = cfg->max_header_bytes ? cfg->max_header_bytes : DEFAULT_MAX_HEADER;
    uv_timer_init(c->loop, &c->kick);
    c->kick.data = c;
    *out = c;
    return 0;
}

static void on_kick_closed(uv_handle_t *h)
{
    dapr__http_client_t *c = h->data;
    void (*done)(void *) = c->done;
    void *ud = c->done_ud;
    client_free(c);
    if (done)
        done(ud);
}

void dapr__hc_check_done(dapr__http_client_t *c)
{
    if (!c->closing || c->kick_closing || c->n_conns || c->in_flight || c->n_queued)
        return;
    c->kick_closing = true;
    uv_timer_stop(&c->kick);
    uv_close((uv_handle_t *)&c->kick, on_kick_closed);
}

void dapr__http_client_close(dapr__http_client_t *c, void (*done)(void *ud), void *ud)
{
    if (!c || c->closing)
        return;
    c->closing = true;
    c->done = done;
    c->done_ud = ud;
    while (c->idle)
        dapr__hc_conn_close(c->idle); /* unlinks it from the pool */
    dapr__hc_kick(c);
}

/* The oldest request (queue first, then in flight) not newer than seq. */
static dapr__http_creq_t *find_upto(dapr__http_client_t *c, uint64_t seq)
{
    for (dapr__http_creq_t *r = c->q_head; r; r = r->next)
        if (r->seq <= seq)
            return r;
    for (dapr__http_creq_t *r = c->active; r; r = r->next)
        if (r->seq <= seq)
            return r;
    return NULL;
}

void dapr__http_client_cancel_all(dapr__http_client_t *c)
{
    if (!c)
        return;
    /* requests submitted from the on_error callbacks are not touched */
    uint64_t upto = c->seq;
    dapr__http_creq_t *r;
    while ((r = find_upto(c, upto)))
        dapr__hc_req_fail(r, DAPR_ECANCELED, "client canceled");
}

void dapr__http_client_stats(const dapr__http_client_t *c, dapr__http_client_stats_t *st)
{
    memset(st, 0, sizeof(*st));
    if (!c)
        return;
    st->in_flight = c->in_flight;
    st->queued = c->n_queued;
    st->idle = c->n_idle;
    st->conns = c->n_conns;
    st->connects = c->n_connects;
    st->reused = c->n_reused;
    st->retries = c->n_retries;
}
