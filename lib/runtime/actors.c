/* The actor runtime: activations, turn-based concurrency, reentrancy, idle
 * deactivation (actors.h). An activation is a table entry: the app learns
 * of it from the first call, as with Dapr (no activation callback). Calls of
 * one actor id wait in a FIFO and reach the app one at a time; a call that
 * carries the running chain's Dapr-Reentrancy-Id (reentrancy enabled) goes
 * in at once, up to maxStackDepth. Deactivation is itself a turn, so it
 * never overlaps a call. */
#include "actors_int.h"

#include <string.h>

#include "api/invoke.h"
#include "app_channel.h"
#include "core/alloc.h"
#include "core/json.h"
#include "core/strutil.h"
#include "remote.h"
#include "resiliency.h"
#include "runtime_int.h"

#define SCOPE "dapr.runtime.actor"
#define DEFAULT_IDLE_MS (60ull * 60 * 1000)
#define DEFAULT_SCAN_MS (30ull * 1000)
#define DEFAULT_DRAIN_MS (60ull * 1000)
#define DRAIN_TICK_MS 100
#define RELOAD_MS 1000 /* reminders registered through other hosts show up within this */
#define REENT_HDR "Dapr-Reentrancy-Id"

static void turn_start(dapr__actors_t *a, actor_t *act, turn_t *t);

/* ---------------------------------------------------------------------
 * Activations
 * ------------------------------------------------------------------- */

static char *actor_key(const char *type, const char *id, size_t *len)
{
    dapr__buf_t b = DAPR__BUF_INIT;
    dapr__buf_printf(&b, "%s||%s", type, id);
    return b.oom ? NULL : dapr__buf_steal(&b, len);
}

actor_t *dapr__actors_find(dapr__actors_t *a, const char *type, const char *id)
{
    size_t n;
    char *k = actor_key(type, id, &n);
    actor_t *act = k ? dapr__map_get(&a->actors, k, n) : NULL;
    dapr__free(k);
    return act;
}

static actor_t *activate(dapr__actors_t *a, const char *type, const char *id)
{
    actor_t *act = dapr__actors_find(a, type, id);
    if (act)
        return act;
    act = dapr__calloc(1, sizeof(*act));
    size_t n = 0;
    if (act) {
        act->key = actor_key(type, id, &n);
        act->type = dapr__strdup(type);
        act->id = dapr__strdup(id);
    }
    if (!act || !act->key || !act->type || !act->id ||
        dapr__map_put(&a->actors, act->key, n, act, NULL)) {
        if (act) {
            dapr__free(act->key);
            dapr__free(act->type);
            dapr__free(act->id);
        }
        dapr__free(act);
        return NULL;
    }
    act->last_used_ms = uv_now(a->rt->loop);
    dapr__log(&a->rt->log, DAPR_LOG_DEBUG, SCOPE, "activated actor %s", act->key);
    return act;
}

static void actor_free(dapr__actors_t *a, actor_t *act)
{
    dapr__map_del(&a->actors, act->key, strlen(act->key));
    dapr__actors_sched_drop_actor(a, act->type, act->id);
    dapr__free(act->key);
    dapr__free(act->type);
    dapr__free(act->id);
    dapr__free(act);
}

/* ---------------------------------------------------------------------
 * Turns
 * ------------------------------------------------------------------- */

turn_t *dapr__actors_turn_new(void)
{
    turn_t *t = dapr__calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    dapr__pool_init(&t->own_pool, 1024);
    t->owns_pool = true;
    t->pool = &t->own_pool;
    return t;
}

void dapr__actors_turn_release(turn_t *t)
{
    if (!t || !t->owns_pool)
        return;
    dapr__pool_destroy(&t->own_pool);
    dapr__free(t);
}

static void turn_fail(turn_t *t, dapr__errid_t id, const char *msg)
{
    dapr__apierr_t *e = dapr__apierr_new(id, "%s", msg);
    bool owns = t->owns_pool; /* a caller's pool (and t in it) may go in cb */
    t->cb(e, NULL, t->data);
    dapr__apierr_free(e);
    if (owns)
        dapr__actors_turn_release(t);
}

static void run_next(dapr__actors_t *a, actor_t *act)
{
    while (!act->running && act->head) {
        turn_t *t = act->head;
        act->head = t->next;
        if (!act->head)
            act->tail = NULL;
        turn_start(a, act, t);
    }
}

/* ---------------------------------------------------------------------
 * The actor policy's timeout (Dapr's post-lock policy): it runs while the
 * app executes the call, not while the call waits for its turn. When it
 * fires the caller gets an error at once, but the turn stays taken until
 * the app answers (that answer is dropped), so a call after a timeout
 * still never overlaps the one the app is finishing. Such turns own their
 * pool: the caller's may be gone by then.
 * ------------------------------------------------------------------- */

struct turn_tmo {
    uv_timer_t h;
    turn_t *t; /* NULL once the turn is over */
    dapr__actors_t *a;
};

static void tmo_closed(uv_handle_t *h)
{
    turn_tmo_t *m = h->data;
    dapr__actors_t *a = m->a;
    dapr__free(m);
    a->open_handles--;
    dapr__actors_maybe_done(a);
}

static void tmo_stop(turn_t *t)
{
    if (!t->tmo)
        return;
    t->tmo->t = NULL;
    uv_close((uv_handle_t *)&t->tmo->h, tmo_closed);
    t->tmo = NULL;
}

static void tmo_fire(uv_timer_t *h)
{
    turn_tmo_t *m = h->data;
    turn_t *t = m->t;
    if (!t)
        return;
    tmo_stop(t);
    t->timed_out = true;
    dapr__log(&t->a->rt->log, DAPR_LOG_DEBUG, SCOPE, "actor %s: call timed out after %llums; "
              "the turn ends when the app answers", t->act->key,
              (unsigned long long)t->timeout_ms);
    dapr__apierr_t *e = dapr__apierr_new(DAPR_ERR_ACTOR_INVOKE_METHOD, "error invoke actor "
                                         "method: context deadline exceeded (timeout %llums)",
                                         (unsigned long long)t->timeout_ms);
    t->cb(e, NULL, t->data);
    dapr__apierr_free(e);
}

static void tmo_start(dapr__actors_t *a, turn_t *t)
{
    turn_tmo_t *m = t->timeout_ms && t->owns_pool ? dapr__calloc(1, sizeof(*m)) : NULL;
    if (!m)
        return; /* no timeout rather than no call */
    m->t = t;
    m->a = a;
    uv_timer_init(a->rt->loop, &m->h);
    m->h.data = m;
    a->open_handles++;
    t->tmo = m;
    uv_timer_start(&m->h, tmo_fire, t->timeout_ms, 0);
}

static void turn_done(const dapr__apierr_t *err, const dapr__invoke_resp_t *r, void *data)
{
    turn_t *t = data;
    dapr__actors_t *a = t->a;
    actor_t *act = t->act;
    bool deact = t->deactivate, owns = t->owns_pool;
    tmo_stop(t);
    if (!t->timed_out)
        t->cb(err, r, t->data); /* may free the caller's pool, and t in it */
    if (owns)
        dapr__actors_turn_release(t);
    a->inflight--;
    act->running--;
    act->last_used_ms = uv_now(a->rt->loop);
    if (!act->running)
        act->reent_id[0] = 0;
    if (deact) {
        act->deactivating = false;
        act->moving = false; /* kept (more calls came): it is ours again */
        if (!act->head && !act->running) {
            dapr__log(&a->rt->log, DAPR_LOG_DEBUG, SCOPE, "deactivated actor %s", act->key);
            actor_free(a, act);
            dapr__actors_maybe_done(a);
            return;
        }
    }
    if (a->closing) {
        /* queued turns were failed at close; nothing new starts */
        dapr__actors_maybe_done(a);
        return;
    }
    run_next(a, act);
}

static const char *header_of(const dapr__invoke_req_t *r, const char *name)
{
    for (size_t i = 0; i < r->n_headers; i++)
        if (!dapr__strcasecmp(r->headers[i].key, name))
            return r->headers[i].value;
    return NULL;
}

static void turn_start(dapr__actors_t *a, actor_t *act, turn_t *t)
{
    if (!a->rt->appch) {
        turn_fail(t, DAPR_ERR_ACTOR_NO_APP_CHANNEL, "app channel for actors is not initialized");
        return;
    }
    act->running++;
    a->inflight++;
    type_cfg_t *tc = dapr__actors_type_cfg(a, act->type);
    if ((tc ? tc->reentrancy : a->reentrancy) && !act->reent_id[0]) {
        const char *rid = header_of(&t->req, REENT_HDR);
        snprintf(act->reent_id, sizeof(act->reent_id), "%s", rid ? rid : "");
    }
    if (t->timeout_ms)
        tmo_start(a, t);
    dapr__appch_invoke(a->rt->appch, t->pool, &t->req, a->rt->opt.app_id, turn_done, t);
}

void dapr__actors_enqueue(dapr__actors_t *a, const char *type, const char *id, turn_t *t)
{
    t->a = a;
    if (a->closing) {
        turn_fail(t, DAPR_ERR_ACTOR_RUNTIME_CLOSED, "actor runtime is closed");
        return;
    }
    actor_t *act = activate(a, type, id);
    if (!act) {
        turn_fail(t, DAPR_ERR_INTERNAL, "out of memory");
        return;
    }
    t->a = a;
    t->act = act;
    act->last_used_ms = uv_now(a->rt->loop);
    if (act->moving && !t->deactivate && !t->reentrant) {
        /* handed over to its new owner: the caller looks it up again */
        turn_fail(t, DAPR_ERR_ACTOR_INSTANCE_MISSING, "actor is moving to another host");
        return;
    }
    type_cfg_t *tc = dapr__actors_type_cfg(a, type);
    if (t->reentrant) {
        if ((int)act->running >= (tc ? tc->max_depth : a->max_depth)) {
            turn_fail(t, DAPR_ERR_ACTOR_STACK_DEPTH, "maximum stack depth exceeded");
            return;
        }
        turn_start(a, act, t);
        return;
    }
    t->next = NULL;
    if (act->tail)
        act->tail->next = t;
    else
        act->head = t;
    act->tail = t;
    run_next(a, act);
}

/* ---------------------------------------------------------------------
 * Method calls
 * ------------------------------------------------------------------- */

/* Path segment escaping for the app's URL: ids may hold any character. */
static char *seg(dapr__pool_t *pool, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = strlen(s);
    char *o = dapr__pool_alloc(pool, n * 3 + 1), *p = o;
    for (size_t i = 0; o && i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            strchr("-._~:@!$&'()*+,;=", c) || c == 0) {
            *p++ = (char)c;
        } else {
            *p++ = '%';
            *p++ = hex[c >> 4];
            *p++ = hex[c & 15];
        }
    }
    if (o)
        *p = 0;
    return o;
}

char *dapr__actors_app_path(dapr__pool_t *pool, const char *type, const char *id,
                            const char *tail)
{
    char *t = seg(pool, type), *i = seg(pool, id);
    if (!t || !i)
        return NULL;
    return tail ? dapr__pool_printf(pool, "actors/%s/%s/%s", t, i, tail)
                : dapr__pool_printf(pool, "actors/%s/%s", t, i);
}

/* The actor policy's timeout for calls of (type, id); 0 = none. */
static uint64_t call_timeout_ms(dapr__actors_t *a, const char *type, const char *id)
{
    dapr__resil_policy_info_t pi;
    dapr__resil_policy_info(dapr__resil_policy_for_actor(a->rt->resil, type, id), &pi);
    return pi.timeout_ms > 0 ? (uint64_t)pi.timeout_ms : 0;
}

static const char *pdup(dapr__pool_t *p, const char *s, bool copy)
{
    return s && copy ? dapr__pool_strdup(p, s) : s;
}

void dapr__actors_local_call(dapr__actors_t *a, dapr__pool_t *pool, const dapr__actor_call_t *c,
                             dapr__invoke_cb cb, void *data)
{
    /* under a timeout the turn may outlive the caller: its own pool, copies */
    uint64_t tmo = call_timeout_ms(a, c->type, c->id);
    turn_t *own = tmo ? dapr__actors_turn_new() : NULL;
    dapr__pool_t *tp = own ? own->pool : pool;
    bool copy = own != NULL;
    turn_t *t = own ? own : dapr__pool_calloc(pool, sizeof(*t));
    dapr_kv_t *h = dapr__pool_alloc(tp, (c->n_headers + 1) * sizeof(*h));
    char *m = seg(tp, c->method);
    char *tail = m ? dapr__pool_printf(tp, "method/%s", m) : NULL;
    char *path = tail ? dapr__actors_app_path(tp, c->type, c->id, tail) : NULL;
    uint8_t *body = copy && c->body_len ? dapr__pool_alloc(tp, c->body_len) : NULL;
    if (!t || !h || !path || (copy && c->body_len && !body)) {
        dapr__actors_turn_release(own);
        dapr__apierr_t *e = dapr__apierr_new(DAPR_ERR_INTERNAL, "out of memory");
        cb(e, NULL, data);
        dapr__apierr_free(e);
        return;
    }
    if (body)
        memcpy(body, c->body, c->body_len);
    size_t n = 0;
    const char *rid = NULL;
    for (size_t i = 0; i < c->n_headers; i++) {
        if (!dapr__strcasecmp(c->headers[i].key, REENT_HDR)) {
            rid = pdup(tp, c->headers[i].value, copy);
            continue;
        }
        if (dapr__invoke_header_passed(c->headers[i].key))
            h[n++] = (dapr_kv_t){pdup(tp, c->headers[i].key, copy),
                                 pdup(tp, c->headers[i].value, copy)};
    }
    actor_t *act = dapr__actors_find(a, c->type, c->id);
    type_cfg_t *tc = dapr__actors_type_cfg(a, c->type);
    if (tc ? tc->reentrancy : a->reentrancy) {
        if (rid && act && act->running && !strcmp(act->reent_id, rid))
            t->reentrant = true;
        if (!rid) {
            char *u = dapr__pool_alloc(tp, 37);
            if (u)
                dapr__uuid4(u);
            rid = u;
        }
        if (rid)
            h[n++] = (dapr_kv_t){REENT_HDR, rid};
    }
    if (!own)
        t->pool = pool;
    t->cb = cb;
    t->data = data;
    t->timeout_ms = tmo;
    t->req = (dapr__invoke_req_t){.app_id = a->rt->opt.app_id, .method = path, .verb = "PUT",
                                  .content_type = pdup(tp, c->content_type, copy),
                                  .headers = h, .n_headers = n,
                                  .body = copy ? body : c->body, .body_len = c->body_len};
    dapr__actors_enqueue(a, c->type, c->id, t);
}

void dapr__actors_invoke(dapr__actors_t *a, dapr__pool_t *pool, const dapr__actor_call_t *call,
                         dapr__invoke_cb cb, void *data)
{
    if (a->closing) {
        dapr__apierr_t *e = dapr__apierr_new(DAPR_ERR_ACTOR_RUNTIME_CLOSED,
                                              "actor runtime is closed");
        cb(e, NULL, data);
        dapr__apierr_free(e);
        return;
    }
    dapr__actors_route(a, pool, call, cb, data); /* actors_remote.c */
}

bool dapr__actors_owned_here(dapr__actors_t *a, const char *type, const char *id, bool *known)
{
    bool local = false;
    int rc = dapr__placement_lookup(a->placement, type, id, NULL, 0, &local);
    if (known)
        *known = rc != DAPR_EAGAIN;
    return !rc && local;
}

/* ---------------------------------------------------------------------
 * Idle deactivation
 * ------------------------------------------------------------------- */

static void deactivate_done(const dapr__apierr_t *err, const dapr__invoke_resp_t *r, void *data)
{
    turn_t *t = data;
    if (err || r->http_status >= 300)
        dapr__log(&t->a->rt->log, DAPR_LOG_WARN, SCOPE, "error deactivating actor %s: %s",
                  t->act->key, err ? err->message : "the app answered an error status");
}

static void deactivate(dapr__actors_t *a, actor_t *act)
{
    turn_t *t = dapr__actors_turn_new();
    char *path = t ? dapr__actors_app_path(t->pool, act->type, act->id, NULL) : NULL;
    if (!path) {
        dapr__actors_turn_release(t);
        return;
    }
    t->deactivate = true;
    t->cb = deactivate_done;
    t->data = t;
    t->req = (dapr__invoke_req_t){.app_id = a->rt->opt.app_id, .method = path, .verb = "DELETE"};
    act->deactivating = true;
    dapr__actors_enqueue(a, act->type, act->id, t);
}

static void scan(uv_timer_t *h)
{
    dapr__actors_t *a = h->data;
    uint64_t now = uv_now(a->rt->loop);
    size_t it = 0, n = 0, cap = 0;
    void *v;
    actor_t **idle = NULL;
    /* collect first: a deactivation may finish (and unmap) synchronously */
    while (dapr__map_next(&a->actors, &it, NULL, NULL, &v)) {
        actor_t *act = v;
        type_cfg_t *tc = dapr__actors_type_cfg(a, act->type);
        uint64_t idle_for = tc ? tc->idle_ms : a->idle_ms;
        if (act->running || act->head || act->deactivating || act->moving ||
            now - act->last_used_ms < idle_for)
            continue;
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 16;
            actor_t **g = dapr__realloc(idle, nc * sizeof(*g));
            if (!g)
                break;
            idle = g;
            cap = nc;
        }
        idle[n++] = act;
    }
    for (size_t i = 0; i < n; i++)
        deactivate(a, idle[i]);
    dapr__free(idle);
}

/* ---------------------------------------------------------------------
 * Rebalancing: after new placement tables, local actors another host owns
 * now finish the calls they hold (up to drainOngoingCallTimeout, when
 * drainRebalancedActors) and are deactivated; their timers stop at once.
 * Calls arriving for them meanwhile are sent back to be looked up again
 * (ERR_ACTOR_INSTANCE_MISSING, retried by actors_remote.c).
 * ------------------------------------------------------------------- */

/* Fail the calls waiting in a moving actor's queue (not its deactivation). */
static void fail_queued(actor_t *act)
{
    turn_t *keep = NULL, **kt = &keep, *last = NULL, *fail = NULL, **ft = &fail;
    for (turn_t *t = act->head, *n; t; t = n) {
        n = t->next;
        t->next = NULL;
        if (t->deactivate) {
            *kt = last = t;
            kt = &t->next;
        } else {
            *ft = t;
            ft = &t->next;
        }
    }
    act->head = keep;
    act->tail = last;
    while (fail) {
        turn_t *n = fail->next;
        turn_fail(fail, DAPR_ERR_ACTOR_INSTANCE_MISSING, "actor is moving to another host");
        fail = n;
    }
}

static size_t collect(dapr__actors_t *a, actor_t ***out, bool (*want)(dapr__actors_t *, actor_t *))
{
    size_t it = 0, n = 0, cap = 0;
    void *v;
    actor_t **all = NULL;
    while (dapr__map_next(&a->actors, &it, NULL, NULL, &v)) {
        if (!want(a, v))
            continue;
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 16;
            actor_t **g = dapr__realloc(all, nc * sizeof(*g));
            if (!g)
                break;
            all = g;
            cap = nc;
        }
        all[n++] = v;
    }
    *out = all;
    return n;
}

static bool want_moving(dapr__actors_t *a, actor_t *act) { (void)a; return act->moving; }

static void drain_tick(uv_timer_t *h)
{
    dapr__actors_t *a = h->data;
    uint64_t now = uv_now(a->rt->loop);
    actor_t **m;
    size_t n = collect(a, &m, want_moving);
    if (!n)
        uv_timer_stop(&a->drain);
    for (size_t i = 0; i < n; i++) {
        /* collected first: failing a turn never frees an actor */
        if (m[i]->drain_deadline_ms && now >= m[i]->drain_deadline_ms) {
            m[i]->drain_deadline_ms = 0;
            dapr__log(&a->rt->log, DAPR_LOG_WARN, SCOPE, "actor %s: calls still queued after "
                      "the drain timeout; failing them", m[i]->key);
            fail_queued(m[i]);
        }
    }
    dapr__free(m);
}

static bool want_foreign(dapr__actors_t *a, actor_t *act)
{
    bool known;
    return !act->moving && !dapr__actors_owned_here(a, act->type, act->id, &known) && known;
}

static void on_table(void *ud)
{
    dapr__actors_t *a = ud;
    if (a->closing)
        return;
    actor_t **m;
    size_t n = collect(a, &m, want_foreign);
    uint64_t now = uv_now(a->rt->loop);
    for (size_t i = 0; i < n; i++) {
        actor_t *act = m[i];
        type_cfg_t *tc = dapr__actors_type_cfg(a, act->type);
        bool drain = tc ? tc->drain_rebalanced : a->drain_rebalanced;
        uint64_t ms = tc ? tc->drain_ms : a->drain_ms;
        dapr__log(&a->rt->log, DAPR_LOG_DEBUG, SCOPE, "actor %s moved to another host; "
                  "deactivating it here", act->key);
        act->moving = true;
        act->drain_deadline_ms = drain ? now + ms : 0;
        dapr__actors_sched_drop_actor(a, act->type, act->id);
        if (!drain)
            fail_queued(act);
        if (!act->deactivating)
            deactivate(a, act);
    }
    dapr__free(m);
    if (n && !uv_is_active((uv_handle_t *)&a->drain))
        uv_timer_start(&a->drain, drain_tick, DRAIN_TICK_MS, DRAIN_TICK_MS);
    dapr__actors_reminders_reload_all(a);
}

/* ---------------------------------------------------------------------
 * Life cycle
 * ------------------------------------------------------------------- */

static bool has_type(const dapr__actors_t *a, const char *type)
{
    for (size_t i = 0; i < a->n_types; i++)
        if (!strcmp(a->types[i].type, type))
            return true;
    return false;
}

bool dapr__actors_hosts(const dapr__actors_t *a, const char *type)
{
    return a && has_type(a, type);
}

int dapr__actors_start(dapr_runtime_t *rt, dapr__actors_t **out)
{
    dapr__actors_t *a = dapr__calloc(1, sizeof(*a));
    if (!a)
        return DAPR_ENOMEM;
    a->rt = rt;
    a->idle_ms = DEFAULT_IDLE_MS;
    a->scan_ms = DEFAULT_SCAN_MS;
    a->max_depth = 32;
    a->drain_ms = DEFAULT_DRAIN_MS;
    a->drain_rebalanced = true;
    dapr__map_init(&a->actors);
    char self[64];
    snprintf(self, sizeof(self), "127.0.0.1:%d", rt->remote ? dapr__remote_port(rt->remote) : 0);
    dapr__placement_config_t pc = {.addresses = rt->opt.placement_host_address,
                                   .app_id = rt->opt.app_id,
                                   .namespace_ = rt->namespace_,
                                   .self_addr = self,
                                   .on_change = on_table,
                                   .ud = a};
    int rc = dapr__placement_start(rt, &pc, &a->placement);
    if (rc) {
        dapr__map_free(&a->actors);
        dapr__free(a);
        return rc;
    }
    uv_timer_init(rt->loop, &a->scan);
    uv_timer_init(rt->loop, &a->tick);
    uv_timer_init(rt->loop, &a->drain);
    uv_timer_init(rt->loop, &a->reload);
    a->scan.data = a->tick.data = a->drain.data = a->reload.data = a;
    a->open_handles = 4;
    *out = a;
    return 0;
}

static uint64_t cfg_ms(const json_t *cfg, const char *name, uint64_t dflt)
{
    json_t *v = dapr__json_get(cfg, name);
    int64_t ns;
    if (json_is_string(v) && !dapr__parse_duration(json_string_value(v), false, &ns) && ns > 0)
        return (uint64_t)(ns / 1000000) ? (uint64_t)(ns / 1000000) : 1;
    return dflt;
}

static void reentrancy_of(const json_t *re, bool *enabled, int *depth)
{
    if (!json_is_object(re))
        return;
    *enabled = json_is_true(dapr__json_get(re, "enabled"));
    json_t *md = dapr__json_get(re, "maxStackDepth");
    if (json_is_integer(md) && json_integer_value(md) > 0)
        *depth = (int)json_integer_value(md);
}

/* The app-wide settings, then entitiesConfig overrides per type. */
static void type_settings(dapr__actors_t *a, const json_t *cfg)
{
    for (size_t i = 0; i < a->n_types; i++) {
        type_cfg_t *tc = &a->types[i];
        tc->idle_ms = a->idle_ms;
        tc->drain_ms = a->drain_ms;
        tc->drain_rebalanced = a->drain_rebalanced;
        tc->reentrancy = a->reentrancy;
        tc->max_depth = a->max_depth;
    }
    json_t *ec = dapr__json_get(cfg, "entitiesConfig"), *e, *t;
    size_t i, j;
    json_array_foreach(ec, i, e)
    {
        json_array_foreach(dapr__json_get(e, "entities"), j, t)
        {
            type_cfg_t *tc = json_is_string(t) ? dapr__actors_type_cfg(a, json_string_value(t))
                                               : NULL;
            if (!tc)
                continue;
            tc->idle_ms = cfg_ms(e, "actorIdleTimeout", tc->idle_ms);
            tc->drain_ms = cfg_ms(e, "drainOngoingCallTimeout", tc->drain_ms);
            json_t *dr = dapr__json_get(e, "drainRebalancedActors");
            if (json_is_boolean(dr))
                tc->drain_rebalanced = json_is_true(dr);
            reentrancy_of(dapr__json_get(e, "reentrancy"), &tc->reentrancy, &tc->max_depth);
        }
    }
}

void dapr__actors_configure(dapr__actors_t *a, const char *app_config, size_t len)
{
    json_error_t jerr;
    json_t *cfg = dapr__json_decode(app_config, len, &jerr);
    if (!json_is_object(cfg)) {
        json_decref(cfg);
        return;
    }
    json_t *ents = dapr__json_get(cfg, "entities"), *e;
    size_t i;
    const char **names = dapr__calloc(json_array_size(ents) + 1, sizeof(*names));
    a->types = dapr__calloc(json_array_size(ents) + 1, sizeof(*a->types));
    json_array_foreach(ents, i, e)
    {
        if (!names || !a->types || !json_is_string(e) || has_type(a, json_string_value(e)))
            continue;
        type_cfg_t *tc = &a->types[a->n_types];
        tc->type = dapr__strdup(json_string_value(e));
        tc->ops_tail = &tc->ops;
        if (tc->type)
            names[a->n_types] = tc->type, a->n_types++;
    }
    a->idle_ms = cfg_ms(cfg, "actorIdleTimeout", DEFAULT_IDLE_MS);
    /* Dapr 1.16 ignores actorScanInterval; we honour it */
    a->scan_ms = cfg_ms(cfg, "actorScanInterval", DEFAULT_SCAN_MS);
    a->drain_ms = cfg_ms(cfg, "drainOngoingCallTimeout", DEFAULT_DRAIN_MS);
    json_t *dr = dapr__json_get(cfg, "drainRebalancedActors");
    a->drain_rebalanced = json_is_boolean(dr) ? json_is_true(dr) : true;
    reentrancy_of(dapr__json_get(cfg, "reentrancy"), &a->reentrancy, &a->max_depth);
    type_settings(a, cfg);
    json_decref(cfg);
    if (a->n_types) {
        dapr__placement_set_types(a->placement, names, a->n_types);
        uv_timer_start(&a->scan, scan, a->scan_ms, a->scan_ms);
        for (i = 0; i < a->n_types; i++)
            dapr__actors_reminders_load(a, &a->types[i]);
        uv_timer_start(&a->reload, dapr__actors_reload_tick, RELOAD_MS, RELOAD_MS);
        dapr__log(&a->rt->log, DAPR_LOG_INFO, SCOPE, "actor runtime hosting %zu type(s); idle "
                  "timeout %llums, scan interval %llums, drain %s (%llums), reentrancy %s",
                  a->n_types, (unsigned long long)a->idle_ms, (unsigned long long)a->scan_ms,
                  a->drain_rebalanced ? "on" : "off", (unsigned long long)a->drain_ms,
                  a->reentrancy ? "enabled" : "disabled");
    }
    dapr__free(names);
}

type_cfg_t *dapr__actors_type_cfg(dapr__actors_t *a, const char *type)
{
    for (size_t i = 0; i < a->n_types; i++)
        if (!strcmp(a->types[i].type, type))
            return &a->types[i];
    return NULL;
}

void dapr__actors_each_type(const dapr__actors_t *a,
                            void (*fn)(const char *type, size_t count, void *ud), void *ud)
{
    for (size_t i = 0; a && i < a->n_types; i++) {
        size_t it = 0, count = 0;
        void *v;
        while (dapr__map_next(&a->actors, &it, NULL, NULL, &v))
            count += !strcmp(((actor_t *)v)->type, a->types[i].type);
        fn(a->types[i].type, count, ud);
    }
}

bool dapr__actors_placement_connected(const dapr__actors_t *a)
{
    return a && a->placement && dapr__placement_connected(a->placement);
}

void dapr__actors_maybe_done(dapr__actors_t *a)
{
    if (!a->closing || a->open_handles || a->pending || a->inflight || a->placement)
        return;
    size_t it = 0;
    void *v;
    while (dapr__map_next(&a->actors, &it, NULL, NULL, &v)) {
        actor_t *act = v;
        dapr__free(act->key);
        dapr__free(act->type);
        dapr__free(act->id);
        dapr__free(act);
    }
    dapr__map_free(&a->actors);
    dapr__actors_sched_free_all(a);
    for (size_t i = 0; i < a->n_types; i++)
        dapr__free(a->types[i].type);
    dapr__free(a->types);
    void (*done)(void *) = a->done;
    void *ud = a->done_ud;
    dapr__free(a);
    if (done)
        done(ud);
}

static void handle_closed(uv_handle_t *h)
{
    dapr__actors_t *a = h->data;
    a->open_handles--;
    dapr__actors_maybe_done(a);
}

static void placement_closed(void *ud)
{
    dapr__actors_t *a = ud;
    a->placement = NULL;
    dapr__actors_maybe_done(a);
}

void dapr__actors_close(dapr__actors_t *a, void (*done)(void *ud), void *ud)
{
    if (!a) {
        if (done)
            done(ud);
        return;
    }
    a->closing = true;
    a->done = done;
    a->done_ud = ud;
    dapr__actors_route_close(a);
    /* queued calls end now; calls in the app end with the app channel */
    size_t it = 0;
    void *v;
    while (dapr__map_next(&a->actors, &it, NULL, NULL, &v)) {
        actor_t *act = v;
        turn_t *t = act->head;
        act->head = act->tail = NULL;
        while (t) {
            turn_t *n = t->next;
            turn_fail(t, DAPR_ERR_ACTOR_RUNTIME_CLOSED, "actor runtime is closed");
            t = n;
        }
    }
    uv_close((uv_handle_t *)&a->scan, handle_closed);
    uv_close((uv_handle_t *)&a->tick, handle_closed);
    uv_close((uv_handle_t *)&a->drain, handle_closed);
    uv_close((uv_handle_t *)&a->reload, handle_closed);
    dapr__placement_close(a->placement, placement_closed, a);
}
