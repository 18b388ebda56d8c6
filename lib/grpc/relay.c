/* Server call ⇄ client call relay (see relay.h).
 *
 * Lifetime: the relay lives while the caller's call is unfinished
 * (`call`), the upstream call is open (`cc`), or the owner still owes
 * connect/fail (`waiting`); `busy` pins it while one of its functions runs
 * (a cancel inside may report synchronously through the other side). */
#include "relay.h"

#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/errors.h"
#include "core/pool.h"
#include "dapr/common.h"

typedef struct qmsg {
    struct qmsg *next;
    size_t len;
    uint8_t data[];
} qmsg_t;

typedef struct msgq {
    qmsg_t *head, *tail;
    size_t bytes;
} msgq_t;

struct dapr__grpc_relay {
    dapr__grpc_call_t *call; /* downstream; NULL once finished */
    dapr__grpc_ccall_t *cc;  /* upstream; NULL before connect and after its close */
    msgq_t up;               /* caller → target, not taken yet */
    msgq_t down;             /* target → caller, not taken yet */
    unsigned busy;
    bool waiting;        /* connect/fail still owed */
    bool half_closed;    /* the caller half-closed */
    bool up_half_closed; /* ... and it went upstream */
    bool down_paused;    /* the caller's receiving is paused */
    bool up_paused;      /* the target's receiving is paused */
    bool ended;          /* the target's status waits for `down` to drain */
    int status;
    char *message;
    uint8_t *details;
    size_t details_len;
    dapr__grpc_md_t *trailers;
    size_t n_trailers;
    dapr__pool_t pool; /* the stored status */
};

/* --- queues ---------------------------------------------------------------- */

static int q_push(msgq_t *q, const uint8_t *msg, size_t len)
{
    qmsg_t *m = dapr__malloc(sizeof(*m) + (len ? len : 1));
    if (!m)
        return DAPR_ENOMEM;
    m->next = NULL;
    m->len = len;
    if (len)
        memcpy(m->data, msg, len);
    if (q->tail)
        q->tail->next = m;
    else
        q->head = m;
    q->tail = m;
    q->bytes += len;
    return 0;
}

static void q_pop(msgq_t *q)
{
    qmsg_t *m = q->head;
    q->head = m->next;
    if (!q->head)
        q->tail = NULL;
    q->bytes -= m->len;
    dapr__free(m);
}

static void q_free(msgq_t *q)
{
    while (q->head)
        q_pop(q);
}

/* --- lifetime ---------------------------------------------------------------- */

static void maybe_free(dapr__grpc_relay_t *r)
{
    if (r->busy || r->call || r->cc || r->waiting)
        return;
    q_free(&r->up);
    q_free(&r->down);
    dapr__pool_destroy(&r->pool);
    dapr__free(r);
}

static void hold(dapr__grpc_relay_t *r) { r->busy++; }
static void unhold(dapr__grpc_relay_t *r)
{
    r->busy--;
    maybe_free(r);
}

static void set_down_paused(dapr__grpc_relay_t *r, bool p)
{
    if (r->call && r->down_paused != p) {
        r->down_paused = p;
        dapr__grpc_call_pause_recv(r->call, p);
    }
}

static void set_up_paused(dapr__grpc_relay_t *r, bool p)
{
    if (r->cc && r->up_paused != p) {
        r->up_paused = p;
        dapr__grpc_ccall_pause_recv(r->cc, p);
    }
}

/* Response metadata passed back: no pseudo, reserved or hop-by-hop key. */
static bool resp_md_ok(const char *k)
{
    static const char *const drop[] = {"content-type", "content-length", "connection",
                                       "keep-alive", "proxy-connection", "transfer-encoding",
                                       "upgrade", "te", "trailer"};
    if (!*k || k[0] == ':' || (!strncmp(k, "grpc-", 5) && strcmp(k, "grpc-trace-bin") != 0))
        return false;
    for (size_t i = 0; i < sizeof(drop) / sizeof(drop[0]); i++)
        if (!strcmp(k, drop[i]))
            return false;
    return true;
}

bool dapr__grpc_relay_md_ok(const char *k)
{
    static const char *const drop[] = {"user-agent", "host", "http2-settings", "expect"};
    if (!resp_md_ok(k))
        return false;
    for (const char *p = k; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' ||
              *p == '.'))
            return false;
    for (size_t i = 0; i < sizeof(drop) / sizeof(drop[0]); i++)
        if (!strcmp(k, drop[i]))
            return false;
    return true;
}

/* End the caller's call. Trailers: the target's (details taken out). */
static void finish_down(dapr__grpc_relay_t *r, int status, const char *msg,
                        const dapr__grpc_md_t *tr, size_t n)
{
    dapr__grpc_call_t *call = r->call;
    if (!call)
        return;
    const uint8_t *det = NULL;
    size_t dlen = 0;
    for (size_t i = 0; i < n; i++) {
        if (!strcmp(tr[i].key, "grpc-status-details-bin")) {
            if (!det) {
                det = tr[i].value;
                dlen = tr[i].len;
            }
        } else if (resp_md_ok(tr[i].key)) {
            dapr__grpc_call_add_trailer(call, tr[i].key, tr[i].value, tr[i].len);
        }
    }
    set_down_paused(r, false); /* whatever still comes is discarded */
    r->call = NULL;
    q_free(&r->up);
    q_free(&r->down);
    dapr__grpc_call_set_user(call, NULL);
    dapr__grpc_call_finish(call, status, msg && *msg ? msg : NULL, det, dlen);
}

/* The upstream call failed locally (OOM): cancel it, fail the caller. */
static void abort_both(dapr__grpc_relay_t *r, int status, const char *msg)
{
    if (r->cc) {
        dapr__grpc_ccall_t *cc = r->cc;
        r->cc = NULL; /* its on_close must not finish the caller first */
        dapr__grpc_ccall_cancel(cc);
    }
    finish_down(r, status, msg, NULL, 0);
}

/* --- caller → target ------------------------------------------------------ */

static void pump_up(dapr__grpc_relay_t *r)
{
    while (r->cc && r->up.head) {
        int rc = dapr__grpc_ccall_send(r->cc, r->up.head->data, r->up.head->len);
        if (rc == DAPR_EAGAIN)
            break; /* on_writable follows */
        if (rc == DAPR_ENOMEM) {
            abort_both(r, DAPR_GRPC_RESOURCE_EXHAUSTED, "out of memory");
            return;
        }
        if (rc) { /* the upstream call is ending: its on_close reports */
            q_free(&r->up);
            break;
        }
        q_pop(&r->up);
    }
    if (r->cc && !r->up.head && r->half_closed && !r->up_half_closed) {
        r->up_half_closed = true;
        dapr__grpc_ccall_half_close(r->cc);
    }
    set_down_paused(r, r->waiting || r->up.head != NULL);
}

void dapr__grpc_relay_on_message(dapr__grpc_call_t *call, const uint8_t *msg, size_t len)
{
    dapr__grpc_relay_t *r = dapr__grpc_call_user(call);
    if (!r || (!r->cc && !r->waiting))
        return; /* the target is gone: its status is on the way */
    hold(r);
    if (q_push(&r->up, msg, len))
        abort_both(r, DAPR_GRPC_RESOURCE_EXHAUSTED, "out of memory");
    else
        pump_up(r);
    unhold(r);
}

void dapr__grpc_relay_on_half_close(dapr__grpc_call_t *call)
{
    dapr__grpc_relay_t *r = dapr__grpc_call_user(call);
    if (!r)
        return;
    hold(r);
    r->half_closed = true;
    pump_up(r);
    unhold(r);
}

void dapr__grpc_relay_on_cancel(dapr__grpc_call_t *call)
{
    dapr__grpc_relay_t *r = dapr__grpc_call_user(call);
    if (!r) {
        dapr__grpc_call_finish(call, DAPR_GRPC_CANCELLED, "canceled", NULL, 0);
        return;
    }
    hold(r);
    r->call = NULL;
    q_free(&r->up);
    q_free(&r->down);
    dapr__grpc_call_set_user(call, NULL);
    if (r->cc)
        dapr__grpc_ccall_cancel(r->cc); /* on_close clears r->cc */
    dapr__grpc_call_finish(call, DAPR_GRPC_CANCELLED, "canceled", NULL, 0); /* wire no-op */
    unhold(r);
}

/* --- target → caller ------------------------------------------------------ */

static void finish_stored(dapr__grpc_relay_t *r)
{
    r->ended = false;
    finish_down(r, r->status, r->message, r->trailers, r->n_trailers);
}

static void pump_down(dapr__grpc_relay_t *r)
{
    while (r->call && r->down.head) {
        int rc = dapr__grpc_call_send(r->call, r->down.head->data, r->down.head->len);
        if (rc == DAPR_EAGAIN)
            return; /* on_writable follows */
        if (rc == DAPR_ENOMEM) {
            abort_both(r, DAPR_GRPC_RESOURCE_EXHAUSTED, "out of memory");
            return;
        }
        if (rc) { /* the caller is going away: on_cancel follows */
            q_free(&r->down);
            return;
        }
        q_pop(&r->down);
    }
    if (!r->call)
        return;
    if (r->ended)
        finish_stored(r);
    else
        set_up_paused(r, false);
}

void dapr__grpc_relay_on_writable(dapr__grpc_call_t *call)
{
    dapr__grpc_relay_t *r = dapr__grpc_call_user(call);
    if (!r)
        return;
    hold(r);
    pump_down(r);
    unhold(r);
}

static void up_headers(dapr__grpc_ccall_t *cc, const dapr__grpc_md_t *md, size_t n, void *ud)
{
    dapr__grpc_relay_t *r = ud;
    (void)cc;
    if (!r->call)
        return;
    for (size_t i = 0; i < n; i++)
        if (resp_md_ok(md[i].key))
            dapr__grpc_call_add_header(r->call, md[i].key, md[i].value, md[i].len);
    dapr__grpc_call_send_headers(r->call); /* the caller sees them now */
}

static void up_message(dapr__grpc_ccall_t *cc, const uint8_t *msg, size_t len, void *ud)
{
    dapr__grpc_relay_t *r = ud;
    (void)cc;
    if (!r->call)
        return;
    hold(r);
    if (!r->down.head) {
        int rc = dapr__grpc_call_send(r->call, msg, len);
        if (rc == 0 || (rc != DAPR_EAGAIN && rc != DAPR_ENOMEM)) {
            unhold(r); /* sent, or the caller is going away */
            return;
        }
        if (rc == DAPR_ENOMEM) {
            abort_both(r, DAPR_GRPC_RESOURCE_EXHAUSTED, "out of memory");
            unhold(r);
            return;
        }
    }
    if (q_push(&r->down, msg, len))
        abort_both(r, DAPR_GRPC_RESOURCE_EXHAUSTED, "out of memory");
    else
        set_up_paused(r, true);
    unhold(r);
}

static void up_close(dapr__grpc_ccall_t *cc, int status, const char *message,
                     const dapr__grpc_md_t *trailers, size_t n, void *ud)
{
    dapr__grpc_relay_t *r = ud;
    (void)cc;
    if (!r->cc) /* cancelled by us: nothing to report */
        return;
    r->cc = NULL;
    r->up_paused = false;
    hold(r);
    q_free(&r->up);
    set_down_paused(r, false);
    if (r->call && !r->down.head) {
        finish_down(r, status, message, trailers, n);
    } else if (r->call) { /* the caller still has messages to take first */
        r->status = status;
        r->message = dapr__pool_strdup(&r->pool, message ? message : "");
        r->trailers = dapr__pool_alloc(&r->pool, (n ? n : 1) * sizeof(*r->trailers));
        for (size_t i = 0; r->trailers && i < n; i++) {
            char *k = dapr__pool_strdup(&r->pool, trailers[i].key);
            uint8_t *v = dapr__pool_alloc(&r->pool, trailers[i].len + 1);
            if (!k || !v)
                break;
            memcpy(v, trailers[i].value, trailers[i].len);
            v[trailers[i].len] = '\0';
            r->trailers[r->n_trailers++] = (dapr__grpc_md_t){k, v, trailers[i].len};
        }
        r->ended = true;
    }
    unhold(r);
}

static void up_writable(dapr__grpc_ccall_t *cc, void *ud)
{
    dapr__grpc_relay_t *r = ud;
    (void)cc;
    hold(r);
    pump_up(r);
    unhold(r);
}

static const dapr__grpc_ccall_cbs_t up_cbs = {
    .on_headers = up_headers, .on_message = up_message, .on_close = up_close,
    .on_writable = up_writable};

/* --- owner side -------------------------------------------------------------- */

dapr__grpc_relay_t *dapr__grpc_relay_new(dapr__grpc_call_t *call)
{
    dapr__grpc_relay_t *r = dapr__calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->call = call;
    r->waiting = true;
    dapr__pool_init(&r->pool, 1024);
    dapr__grpc_call_set_user(call, r);
    set_down_paused(r, true);
    return r;
}

bool dapr__grpc_relay_alive(const dapr__grpc_relay_t *r) { return r->call != NULL; }

void dapr__grpc_relay_connect(dapr__grpc_relay_t *r, dapr__grpc_channel_t *ch, const char *path,
                              const dapr__grpc_md_t *md, size_t n_md, uint64_t timeout_ms)
{
    hold(r);
    r->waiting = false;
    if (r->call) {
        dapr__grpc_ccall_t *cc = NULL;
        int rc = dapr__grpc_call_start(ch, path, md, n_md, timeout_ms, &up_cbs, r, &cc);
        if (rc) {
            char msg[160];
            snprintf(msg, sizeof(msg), "failed to proxy request: cannot start the call: %s",
                     rc == DAPR_EAGAIN ? "too many calls waiting for the connection"
                                       : dapr_strerror(rc));
            finish_down(r, rc == DAPR_ENOMEM ? DAPR_GRPC_RESOURCE_EXHAUSTED
                                             : DAPR_GRPC_UNAVAILABLE, msg, NULL, 0);
        } else {
            r->cc = cc;
            pump_up(r);
        }
    }
    unhold(r);
}

void dapr__grpc_relay_fail(dapr__grpc_relay_t *r, int status, const char *message)
{
    hold(r);
    r->waiting = false;
    finish_down(r, status, message, NULL, 0);
    unhold(r);
}
