/* Actor calls across sidecars: dapr.proto.internals.v1.ServiceInvocation/
 * CallActor, both sides (actors.h).
 *
 * Caller: every method call looks the owner up in the placement tables; a
 * local owner runs the call in the actor's turn (actors.c), a remote one
 * gets an InternalInvokeRequest{actor, message{method, data, content_type,
 * PUT}, metadata (the caller's headers, Dapr-Reentrancy-Id included)} on the
 * owner's internal gRPC server, over the channel pool of remote.c. The
 * app's answer comes back as is (status, headers, body).
 *
 * Callee: the owner looks the actor up again in its own tables. When the
 * tables moved the actor elsewhere (or it is being handed over), it answers
 * FAILED_PRECONDITION with the trailer dapr-error-code:
 * ERR_ACTOR_INSTANCE_MISSING, and the caller tries again once its own
 * tables have changed: at most MAX_ATTEMPTS tries, RETRY_MS apart (a little
 * more each time), also after UNAVAILABLE (the owner is gone and placement
 * has not dropped it yet). Other errors of the owner's runtime travel with
 * their catalogue code in the same trailer, so the caller answers the same
 * Dapr error (ERR_ACTOR_STACK_DEPTH, ...). */
#include <stdio.h>
#include <string.h>

#include "actors_int.h"
#include "core/alloc.h"
#include "core/errors.h"
#include "core/strutil.h"
#include "dapr/proto/internals/v1/service_invocation.pb-c.h"
#include "grpc/grpc.h"
#include "remote.h"
#include "resiliency.h"
#include "runtime_int.h"

#define SCOPE "dapr.runtime.actor"
#define CALL_ACTOR "/dapr.proto.internals.v1.ServiceInvocation/CallActor"
#define ERR_MD "dapr-error-code"
#define MAX_ATTEMPTS 8
#define RETRY_MS 250
#define READY_WAIT_MS 10000 /* for placement tables before a call fails */

typedef Dapr__Proto__Internals__V1__InternalInvokeRequest ireq_t;
typedef Dapr__Proto__Internals__V1__InternalInvokeResponse iresp_t;
typedef Dapr__Proto__Internals__V1__InternalInvokeRequest__MetadataEntry ireq_md_t;

static dapr__errid_t errid_named(const char *code, size_t len)
{
    for (int i = 0; i < DAPR_ERR__COUNT; i++) {
        const char *c = dapr__errdef((dapr__errid_t)i)->code;
        if (c && strlen(c) == len && !memcmp(c, code, len))
            return (dapr__errid_t)i;
    }
    return DAPR_ERR_ACTOR_INVOKE_METHOD;
}

/* ---------------------------------------------------------------------
 * Caller
 * ------------------------------------------------------------------- */

typedef struct acall {
    dapr__actors_t *a;
    dapr__pool_t *pool;
    dapr__actor_call_t call; /* strings borrowed from the caller until cb */
    dapr__invoke_cb cb;
    void *data;
    int attempt;
    bool answered;      /* cb ran */
    bool waiting;       /* a placement when_ready is outstanding */
    bool timer_on;      /* the uv timer is initialised (closed before free) */
    bool retry_timer;   /* the timer is a retry delay, not the ready bound */
    uv_timer_t timer;
    uint8_t *msg;
    size_t msg_len;
    char addr[256];
} acall_t;

static void attempt(acall_t *c);

static void acall_closed(uv_handle_t *h)
{
    acall_t *c = h->data;
    dapr__actors_t *a = c->a;
    dapr__free(c);
    a->pending--;
    dapr__actors_maybe_done(a);
}

static void acall_maybe_free(acall_t *c)
{
    if (!c->answered || c->waiting)
        return;
    dapr__free(c->msg);
    c->msg = NULL;
    if (c->timer_on) {
        if (!uv_is_closing((uv_handle_t *)&c->timer))
            uv_close((uv_handle_t *)&c->timer, acall_closed);
        return;
    }
    dapr__actors_t *a = c->a;
    dapr__free(c);
    a->pending--;
    dapr__actors_maybe_done(a);
}

static void answer(acall_t *c, const dapr__apierr_t *err, const dapr__invoke_resp_t *r)
{
    if (c->answered)
        return;
    c->answered = true;
    if (c->timer_on)
        uv_timer_stop(&c->timer);
    c->cb(err, r, c->data);
}

static void fail(acall_t *c, dapr__errid_t id, const char *fmt, const char *x, const char *y)
{
    char why[512];
    snprintf(why, sizeof(why), fmt, x ? x : "", y ? y : "");
    dapr__apierr_t *e = dapr__apierr_new(id, "%s", why);
    answer(c, e, NULL);
    dapr__apierr_free(e);
    acall_maybe_free(c);
}

static void on_timer(uv_timer_t *t)
{
    acall_t *c = t->data;
    if (c->answered)
        return;
    if (c->retry_timer) {
        attempt(c);
        return;
    }
    /* the tables did not come in time; the waiter is still registered and
     * frees the call when it runs */
    fail(c, DAPR_ERR_ACTOR_NO_ADDRESS, "did not find address for actor %s/%s: placement "
         "tables are not ready", c->call.type, c->call.id);
}

static int timer_start(acall_t *c, uint64_t ms, bool retry)
{
    if (!c->timer_on) {
        int rc = uv_timer_init(c->a->rt->loop, &c->timer);
        if (rc)
            return rc;
        c->timer.data = c;
        c->timer_on = true;
    }
    c->retry_timer = retry;
    return uv_timer_start(&c->timer, on_timer, ms, 0);
}

/* Another try after a moved actor or an unreachable owner, if any is left. */
static bool retry(acall_t *c)
{
    if (c->a->closing || ++c->attempt >= MAX_ATTEMPTS)
        return false;
    uint64_t ms = RETRY_MS * (uint64_t)(c->attempt < 4 ? c->attempt : 4);
    dapr__log(&c->a->rt->log, DAPR_LOG_DEBUG, SCOPE, "actor %s/%s: trying again in %llu ms "
              "(attempt %d)", c->call.type, c->call.id, (unsigned long long)ms, c->attempt + 1);
    return timer_start(c, ms, true) == 0;
}

static void ready(bool closed, void *ud)
{
    acall_t *c = ud;
    c->waiting = false;
    if (c->answered) {
        acall_maybe_free(c);
        return;
    }
    if (closed) {
        fail(c, DAPR_ERR_ACTOR_RUNTIME_CLOSED, "actor runtime is closed%s%s", NULL, NULL);
        return;
    }
    if (c->timer_on)
        uv_timer_stop(&c->timer);
    attempt(c);
}

static void local_done(const dapr__apierr_t *err, const dapr__invoke_resp_t *r, void *data)
{
    acall_t *c = data;
    if (err && err->id == DAPR_ERR_ACTOR_INSTANCE_MISSING && retry(c))
        return; /* being handed over to its new owner */
    answer(c, err, r);
    acall_maybe_free(c);
}

static void r_message(dapr__grpc_ccall_t *cc, const uint8_t *msg, size_t len, void *ud)
{
    acall_t *c = ud;
    (void)cc;
    dapr__grpc_keep_first(&c->msg, &c->msg_len, msg, len);
}

static void r_close(dapr__grpc_ccall_t *cc, int status, const char *message,
                    const dapr__grpc_md_t *trailers, size_t n, void *ud)
{
    acall_t *c = ud;
    (void)cc;
    if (status) {
        const dapr__grpc_md_t *code = NULL;
        for (size_t i = 0; i < n; i++)
            if (!strcmp(trailers[i].key, ERR_MD))
                code = &trailers[i];
        dapr__errid_t id = code ? errid_named((const char *)code->value, code->len)
                                : DAPR_ERR_ACTOR_INVOKE_METHOD;
        bool moved = code ? id == DAPR_ERR_ACTOR_INSTANCE_MISSING ||
                                id == DAPR_ERR_ACTOR_RUNTIME_CLOSED
                          : status == DAPR_GRPC_UNAVAILABLE;
        dapr__free(c->msg);
        c->msg = NULL;
        if (moved && retry(c))
            return;
        if (code)
            fail(c, id, "%s%s", message, NULL);
        else
            fail(c, id, "error invoke actor method: rpc error: code = %s desc = %s",
                 status == DAPR_GRPC_UNAVAILABLE ? "Unavailable" : "Unknown", message);
        return;
    }
    iresp_t *ir = c->msg ? dapr__proto__internals__v1__internal_invoke_response__unpack(
                               NULL, c->msg_len, c->msg)
                         : NULL;
    if (!ir) {
        fail(c, DAPR_ERR_ACTOR_INVOKE_METHOD, "error invoke actor method: bad response from "
             "the actor host %s%s", c->addr, NULL);
        return;
    }
    dapr__invoke_resp_t resp;
    dapr__remote_response_of(c->pool, ir, &resp);
    answer(c, NULL, &resp);
    dapr__proto__internals__v1__internal_invoke_response__free_unpacked(ir, NULL);
    acall_maybe_free(c);
}

static const dapr__grpc_ccall_cbs_t r_cbs = {.on_message = r_message, .on_close = r_close};

/* The caller's headers as InternalInvokeRequest metadata (one value each),
 * plus dapr-caller-app-id. */
static ireq_md_t **metadata(acall_t *c, size_t *n_out)
{
    const dapr__actor_call_t *q = &c->call;
    dapr__remote_md_t md;
    if (dapr__remote_md_init(&md, c->pool, q->n_headers + 1))
        return NULL;
    for (size_t i = 0; i < q->n_headers; i++) {
        const char *k = q->headers[i].key;
        if (dapr__invoke_header_passed(k) || !dapr__strcasecmp(k, "Dapr-Reentrancy-Id"))
            dapr__remote_md_add(&md, k, q->headers[i].value ? q->headers[i].value : "");
    }
    dapr__remote_md_add(&md, "dapr-caller-app-id",
                        c->a->rt->opt.app_id ? c->a->rt->opt.app_id : "");
    *n_out = md.n;
    return md.ep;
}

static void send_remote(acall_t *c)
{
    dapr__grpc_channel_t *ch = dapr__remote_channel(c->a->rt->remote, c->addr);
    if (!ch) {
        if (!retry(c))
            fail(c, DAPR_ERR_ACTOR_INVOKE_METHOD, "error invoke actor method: cannot reach "
                 "the actor host %s%s", c->addr, NULL);
        return;
    }
    const dapr__actor_call_t *q = &c->call;
    ireq_t ir = DAPR__PROTO__INTERNALS__V1__INTERNAL_INVOKE_REQUEST__INIT;
    Dapr__Proto__Internals__V1__Actor actor = DAPR__PROTO__INTERNALS__V1__ACTOR__INIT;
    Dapr__Proto__Common__V1__InvokeRequest m = DAPR__PROTO__COMMON__V1__INVOKE_REQUEST__INIT;
    Dapr__Proto__Common__V1__HTTPExtension ext = DAPR__PROTO__COMMON__V1__HTTPEXTENSION__INIT;
    Google__Protobuf__Any any = GOOGLE__PROTOBUF__ANY__INIT;
    actor.actor_type = (char *)q->type;
    actor.actor_id = (char *)q->id;
    ir.ver = DAPR__PROTO__INTERNALS__V1__APIVERSION__V1;
    ir.actor = &actor;
    ir.metadata = metadata(c, &ir.n_metadata);
    m.method = (char *)q->method;
    any.value.data = (uint8_t *)q->body;
    any.value.len = q->body_len;
    m.data = &any;
    m.content_type = (char *)(q->content_type ? q->content_type : "");
    ext.verb = DAPR__PROTO__COMMON__V1__HTTPEXTENSION__VERB__PUT;
    ext.querystring = (char *)"";
    m.http_extension = &ext;
    ir.message = &m;
    size_t len = protobuf_c_message_get_packed_size(&ir.base);
    uint8_t *buf = ir.metadata ? dapr__pool_alloc(c->pool, len ? len : 1) : NULL;
    if (!buf) {
        fail(c, DAPR_ERR_INTERNAL, "out of memory%s%s", NULL, NULL);
        return;
    }
    protobuf_c_message_pack(&ir.base, buf);
    dapr__grpc_ccall_t *cc = NULL;
    int rc = dapr__grpc_call_start(ch, CALL_ACTOR, NULL, 0, 0, &r_cbs, c, &cc);
    if (!rc)
        rc = dapr__grpc_ccall_send(cc, buf, len);
    if (!rc)
        rc = dapr__grpc_ccall_half_close(cc);
    if (rc && cc) {
        dapr__grpc_ccall_cancel(cc); /* r_close reports */
        return;
    }
    if (rc && !retry(c))
        fail(c, DAPR_ERR_ACTOR_INVOKE_METHOD, "error invoke actor method: %s%s",
             dapr_strerror(rc), NULL);
}

static void attempt(acall_t *c)
{
    dapr__actors_t *a = c->a;
    if (a->closing) {
        fail(c, DAPR_ERR_ACTOR_RUNTIME_CLOSED, "actor runtime is closed%s%s", NULL, NULL);
        return;
    }
    bool local = false;
    int rc = dapr__placement_lookup(a->placement, c->call.type, c->call.id, c->addr,
                                    sizeof(c->addr), &local);
    if (rc == DAPR_EAGAIN) {
        if (!c->waiting) {
            if (dapr__placement_when_ready(a->placement, c->call.type, ready, c)) {
                fail(c, DAPR_ERR_ACTOR_RUNTIME_CLOSED, "actor runtime is closed%s%s", NULL,
                     NULL);
                return;
            }
            c->waiting = true;
        }
        if (timer_start(c, READY_WAIT_MS, false)) {
            fail(c, DAPR_ERR_INTERNAL, "cannot start a timer%s%s", NULL, NULL);
        }
        return;
    }
    if (rc) {
        fail(c, DAPR_ERR_ACTOR_NO_ADDRESS, "did not find address for actor %s/%s", c->call.type,
             c->call.id);
        return;
    }
    if (local)
        dapr__actors_local_call(a, c->pool, &c->call, local_done, c);
    else
        send_remote(c);
}

static void route_once(dapr__actors_t *a, dapr__pool_t *pool, const dapr__actor_call_t *call,
                       dapr__invoke_cb cb, void *data)
{
    acall_t *c = dapr__calloc(1, sizeof(*c));
    if (!c) {
        dapr__apierr_t *e = dapr__apierr_new(DAPR_ERR_INTERNAL, "out of memory");
        cb(e, NULL, data);
        dapr__apierr_free(e);
        return;
    }
    *c = (acall_t){.a = a, .pool = pool, .call = *call, .cb = cb, .data = data};
    a->pending++;
    attempt(c);
}

/* ---------------------------------------------------------------------
 * Resiliency (targets.actors.<type>, else the default actor policies), as
 * Dapr's "pre-lock" policy: retries and the circuit breaker wrap the whole
 * call on the caller (lookup, local turn or CallActor); an attempt fails
 * on a runtime error or an answer of the app other than 200 (404 = method
 * not found is not retried, as in Dapr). The policy's timeout is Dapr's
 * "post-lock" one: the actor's host applies it to the app call inside the
 * turn (actors.c), so waiting for the turn never times out. Without a
 * policy a call is one attempt and the app's error answers are never
 * retried.
 * ------------------------------------------------------------------- */

struct rcall {
    struct rcall *next, **pprev; /* a->rcalls */
    dapr__actors_t *a;
    dapr__pool_t *pool;
    dapr__actor_call_t call;
    dapr__invoke_cb cb;
    void *data;
    dapr__resil_op_t *op;
    dapr__apierr_t *err;      /* the last attempt's runtime error */
    dapr__invoke_resp_t resp; /* the last answer of the app (copied into pool) */
    bool have_resp, in_flight, finished;
};

static void rcall_maybe_free(rcall_t *rc)
{
    if (!rc->finished || rc->in_flight)
        return;
    dapr__actors_t *a = rc->a;
    dapr__apierr_free(rc->err);
    dapr__free(rc);
    a->pending--;
    dapr__actors_maybe_done(a);
}

static bool keep_resp(rcall_t *rc, const dapr__invoke_resp_t *r)
{
    dapr__pool_t *p = rc->pool;
    dapr_kv_t *h = dapr__pool_alloc(p, (r->n_headers ? r->n_headers : 1) * sizeof(*h));
    uint8_t *body = dapr__pool_alloc(p, r->body_len ? r->body_len : 1);
    if (!h || !body)
        return false;
    for (size_t i = 0; i < r->n_headers; i++)
        h[i] = (dapr_kv_t){dapr__pool_strdup(p, r->headers[i].key),
                           dapr__pool_strdup(p, r->headers[i].value ? r->headers[i].value : "")};
    if (r->body_len)
        memcpy(body, r->body, r->body_len);
    rc->resp = (dapr__invoke_resp_t){
        .http_status = r->http_status, .grpc_status = r->grpc_status, .grpc_app = r->grpc_app,
        .grpc_message = r->grpc_message ? dapr__pool_strdup(p, r->grpc_message) : NULL,
        .content_type = r->content_type ? dapr__pool_strdup(p, r->content_type) : NULL,
        .headers = h, .n_headers = r->n_headers, .body = body, .body_len = r->body_len};
    rc->have_resp = true;
    return true;
}

static void rc_answered(const dapr__apierr_t *err, const dapr__invoke_resp_t *r, void *data)
{
    rcall_t *rc = data;
    rc->in_flight = false;
    if (rc->finished) { /* cancelled meanwhile (the runtime is closing) */
        rcall_maybe_free(rc);
        return;
    }
    dapr__apierr_free(rc->err);
    rc->err = NULL;
    rc->have_resp = false;
    int status = 0;
    bool retryable = true;
    if (err) {
        rc->err = dapr__apierr_new(err->id, "%s", err->message ? err->message : "");
        status = DAPR_EIO;
        retryable = err->id != DAPR_ERR_ACTOR_RUNTIME_CLOSED && !rc->a->closing;
    } else if (!keep_resp(rc, r)) {
        rc->err = dapr__apierr_new(DAPR_ERR_INTERNAL, "out of memory");
        status = DAPR_ENOMEM;
        retryable = false;
    } else if (r->http_status != 200) {
        status = DAPR_EBACKEND;
        retryable = r->http_status != 404 && !rc->a->closing;
    }
    dapr__resil_attempt_done(rc->op, status, retryable);
}

static void rc_attempt(dapr__resil_op_t *op, void *ud)
{
    rcall_t *rc = ud;
    (void)op;
    rc->in_flight = true;
    route_once(rc->a, rc->pool, &rc->call, rc_answered, rc);
}

/* Only from dapr__resil_cancel (no timeout runs here): the attempt in
 * flight cannot be withdrawn; its answer is dropped (rc_answered). */
static void rc_cancel(dapr__resil_op_t *op, int reason, void *ud)
{
    (void)op;
    (void)reason;
    (void)ud;
}

static void rc_done(int status, unsigned attempts, void *ud)
{
    rcall_t *rc = ud;
    (void)attempts;
    rc->finished = true;
    if (rc->next)
        rc->next->pprev = rc->pprev;
    *rc->pprev = rc->next;
    dapr__apierr_t *e = NULL;
    if (dapr__resil_is_breaker_error(status))
        e = dapr__apierr_new(DAPR_ERR_ACTOR_INVOKE_METHOD, "error invoke actor method: %s",
                             dapr__resil_strerror(status));
    else if (status == DAPR_ECANCELED)
        e = dapr__apierr_new(DAPR_ERR_ACTOR_RUNTIME_CLOSED, "actor runtime is closed");
    else if (!rc->err && !rc->have_resp)
        e = dapr__apierr_new(DAPR_ERR_ACTOR_INVOKE_METHOD, "error invoke actor method: %s",
                             dapr__resil_strerror(status));
    if (e || rc->err)
        rc->cb(e ? e : rc->err, NULL, rc->data);
    else
        rc->cb(NULL, &rc->resp, rc->data); /* 200, or the app's last error answer */
    dapr__apierr_free(e);
    rcall_maybe_free(rc);
}

void dapr__actors_route(dapr__actors_t *a, dapr__pool_t *pool, const dapr__actor_call_t *call,
                        dapr__invoke_cb cb, void *data)
{
    dapr__resil_policy_t *p = dapr__resil_policy_for_actor(a->rt->resil, call->type, call->id);
    dapr__resil_policy_info_t pi;
    dapr__resil_policy_info(p, &pi);
    rcall_t *rc = p && (pi.retry || pi.breaker) ? dapr__calloc(1, sizeof(*rc)) : NULL;
    if (!rc) { /* no policy (or only a timeout, applied by the host): one attempt */
        route_once(a, pool, call, cb, data);
        return;
    }
    *rc = (rcall_t){.a = a, .pool = pool, .call = *call, .cb = cb, .data = data};
    rc->next = a->rcalls;
    if (rc->next)
        rc->next->pprev = &rc->next;
    rc->pprev = &a->rcalls;
    a->rcalls = rc;
    a->pending++;
    if (dapr__resil_run_flags(a->rt->loop, p, DAPR__RESIL_RUN_NO_TIMEOUT, rc_attempt, rc_cancel,
                              rc_done, rc, &rc->op)) {
        *rc->pprev = rc->next;
        if (rc->next)
            rc->next->pprev = rc->pprev;
        dapr__free(rc);
        a->pending--;
        route_once(a, pool, call, cb, data);
    }
}

/* Closing: calls waiting for a retry end now (ERR_ACTOR_RUNTIME_CLOSED);
 * those with an attempt in flight end with it. */
void dapr__actors_route_close(dapr__actors_t *a)
{
    rcall_t *rc = a->rcalls;
    while (rc) {
        rcall_t *n = rc->next;
        if (!rc->in_flight)
            dapr__resil_cancel(rc->op); /* rc_done unlinks and may free rc */
        rc = n;
    }
}

/* ---------------------------------------------------------------------
 * Callee
 * ------------------------------------------------------------------- */

typedef struct served {
    dapr__grpc_call_t *call;
    dapr__actors_t *a;
    dapr__pool_t pool;
    ireq_t *req;
    dapr__actor_call_t ac;
    bool cancelled, waited;
} served_t;

static void served_free(served_t *s)
{
    if (s->req)
        dapr__proto__internals__v1__internal_invoke_request__free_unpacked(s->req, NULL);
    dapr__pool_destroy(&s->pool);
    dapr__free(s);
}

static void finish_err(dapr__grpc_call_t *call, dapr__errid_t id, const char *msg)
{
    const dapr__errdef_t *d = dapr__errdef(id);
    dapr__grpc_call_add_trailer(call, ERR_MD, d->code, strlen(d->code));
    dapr__grpc_call_finish(call, d->grpc, msg, NULL, 0);
}

static void serve_done(const dapr__apierr_t *err, const dapr__invoke_resp_t *resp, void *data)
{
    served_t *s = data;
    if (s->cancelled) {
        dapr__grpc_call_finish(s->call, DAPR_GRPC_CANCELLED, "canceled", NULL, 0);
    } else if (err) {
        finish_err(s->call, err->id, err->message);
    } else {
        size_t len = 0;
        uint8_t *buf = dapr__remote_pack_response(&s->pool, resp, &len);
        int rc = buf ? dapr__grpc_call_send(s->call, buf, len) : DAPR_ENOMEM;
        dapr__grpc_call_finish(s->call, rc ? DAPR_GRPC_INTERNAL : DAPR_GRPC_OK,
                               rc ? dapr_strerror(rc) : NULL, NULL, 0);
    }
    served_free(s);
}

static void serve_lookup(served_t *s);

static void serve_ready(bool closed, void *ud)
{
    served_t *s = ud;
    if (closed || s->cancelled) {
        if (s->cancelled)
            dapr__grpc_call_finish(s->call, DAPR_GRPC_CANCELLED, "canceled", NULL, 0);
        else
            finish_err(s->call, DAPR_ERR_ACTOR_RUNTIME_CLOSED, "actor runtime is closed");
        served_free(s);
        return;
    }
    serve_lookup(s);
}

static void serve_lookup(served_t *s)
{
    dapr__actors_t *a = s->a;
    bool local = false;
    int rc = a->closing ? DAPR_ECLOSED
                        : dapr__placement_lookup(a->placement, s->ac.type, s->ac.id, NULL, 0,
                                                 &local);
    if (rc == DAPR_EAGAIN && !s->waited) {
        s->waited = true; /* once: a second lock means the caller should look again */
        if (!dapr__placement_when_ready(a->placement, s->ac.type, serve_ready, s))
            return;
        rc = DAPR_ECLOSED;
    }
    if (rc == DAPR_ECLOSED) {
        finish_err(s->call, DAPR_ERR_ACTOR_RUNTIME_CLOSED, "actor runtime is closed");
        served_free(s);
        return;
    }
    if (rc || !local) {
        char msg[512];
        snprintf(msg, sizeof(msg), "actor %s/%s is not hosted by %s (placement tables moved it)",
                 s->ac.type, s->ac.id, a->rt->opt.app_id ? a->rt->opt.app_id : "this sidecar");
        finish_err(s->call, DAPR_ERR_ACTOR_INSTANCE_MISSING, msg);
        served_free(s);
        return;
    }
    dapr__actors_local_call(a, &s->pool, &s->ac, serve_done, s);
}

void dapr__actors_serve(dapr__actors_t *a, struct dapr__grpc_call *call, const uint8_t *msg,
                        size_t len)
{
    if (!a || a->closing) { /* NULL: the runtime is closing (or has no actors) */
        finish_err(call, DAPR_ERR_ACTOR_RUNTIME_CLOSED, "actor runtime is closed");
        return;
    }
    served_t *s = dapr__calloc(1, sizeof(*s));
    if (!s) {
        dapr__grpc_call_finish(call, DAPR_GRPC_RESOURCE_EXHAUSTED, "out of memory", NULL, 0);
        return;
    }
    s->call = call;
    s->a = a;
    dapr__pool_init(&s->pool, 2048);
    dapr__grpc_call_set_user(call, s);
    ireq_t *q = dapr__proto__internals__v1__internal_invoke_request__unpack(NULL, len, msg);
    s->req = q;
    if (!q || !q->actor || !q->message || !q->actor->actor_type || !*q->actor->actor_type ||
        !q->actor->actor_id || !*q->actor->actor_id) {
        dapr__grpc_call_finish(call, DAPR_GRPC_INVALID_ARGUMENT,
                               "bad CallActor request: actor and message are required", NULL, 0);
        served_free(s);
        return;
    }
    size_t nh = 0, n = 0;
    for (size_t i = 0; i < q->n_metadata; i++)
        nh += q->metadata[i]->value ? q->metadata[i]->value->n_values : 0;
    dapr_kv_t *h = dapr__pool_alloc(&s->pool, (nh ? nh : 1) * sizeof(*h));
    if (!h) {
        dapr__grpc_call_finish(call, DAPR_GRPC_RESOURCE_EXHAUSTED, "out of memory", NULL, 0);
        served_free(s);
        return;
    }
    for (size_t i = 0; i < q->n_metadata; i++)
        for (size_t j = 0; q->metadata[i]->value && j < q->metadata[i]->value->n_values; j++)
            h[n++] = (dapr_kv_t){q->metadata[i]->key, q->metadata[i]->value->values[j]};
    const Dapr__Proto__Common__V1__InvokeRequest *m = q->message;
    s->ac = (dapr__actor_call_t){
        .type = q->actor->actor_type,
        .id = q->actor->actor_id,
        .method = m->method ? m->method : "",
        .body = m->data ? m->data->value.data : NULL,
        .body_len = m->data ? m->data->value.len : 0,
        .content_type = m->content_type && *m->content_type ? m->content_type : NULL,
        .headers = h,
        .n_headers = n,
    };
    serve_lookup(s);
}

void dapr__actors_serve_cancel(struct dapr__grpc_call *call)
{
    served_t *s = dapr__grpc_call_user(call);
    if (s)
        s->cancelled = true; /* serve_done or serve_ready finishes and frees */
    else
        dapr__grpc_call_finish(call, DAPR_GRPC_CANCELLED, "canceled", NULL, 0);
}
