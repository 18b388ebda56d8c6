/* Resiliency policy engine (see resiliency.h): merge of the Resiliency
 * documents in scope, Dapr's lookup order, breaker caches, and the retry /
 * timeout / breaker state machine of one operation on libuv timers.
 */
#include "runtime/resiliency.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/map.h"
#include "dapr/common.h"

#define SCOPE "dapr.runtime.resiliency"

/* Breaker cache sizes: Dapr's defaults (apps 100 per app, actors 5000 per
 * type, 100 for the default actor policy); components are few, so one
 * bounded cache per direction. Caches made for targets without a named
 * policy (any app id a caller names) are themselves bounded. */
#define APP_CACHE_DEFAULT 100
#define ACTOR_CACHE_DEFAULT 5000
#define DEFAULT_ACTOR_CACHE 100
#define COMPONENT_CACHE 1024
#define MAX_DYNAMIC_CACHES 256
#define DEFAULT_BREAKER_TIMEOUT_MS 60000

/* ---- error texts ----------------------------------------------------------- */

const char *dapr__resil_strerror(int code)
{
    if (code == DAPR__ERESIL_BREAKER_OPEN)
        return "circuit breaker is open";
    if (code == DAPR__ERESIL_TOO_MANY_REQUESTS)
        return "too many requests";
    return dapr_strerror(code);
}

bool dapr__resil_is_breaker_error(int code)
{
    return code == DAPR__ERESIL_BREAKER_OPEN || code == DAPR__ERESIL_TOO_MANY_REQUESTS;
}

/* ---- types ------------------------------------------------------------------ */

typedef struct tmo {
    char *name;
    int64_t ms;
} tmo_t;

/* A resolved set of policies: what a named target or a default level
 * resolves to. Pointers into the engine's policy maps. */
typedef struct def {
    const tmo_t *timeout;
    const dapr__res_retry_t *retry;
    const dapr__res_breaker_t *breaker;
    size_t cache_size;
    dapr__res_cb_scope_t scope;
    char *label;                  /* "app appB", "default app policies", ... */
    dapr__resil_policy_t *shared; /* the breaker-less policy, made on first use */
} def_t;

typedef struct target {
    char *name;
    def_t p;       /* apps, actors */
    def_t out, in; /* components */
} target_t;

/* Default levels of components: index by type keyword, then direction. */
static const char *const comp_types[] = {"",        "Statestore",    "Pubsub", "Binding",
                                         "Secretstore", "Configuration", "Lock",   "Crypto"};
#define N_CTYPES (sizeof(comp_types) / sizeof(comp_types[0]))
static const char *const dir_names[] = {"Outbound", "Inbound"};

static const char *const builtin_names[] = {
    "DaprBuiltInServiceRetries", "DaprBuiltInActorRetries", "DaprBuiltInActorReminderRetries",
    "DaprBuiltInInitializationRetries", "DaprBuiltInActorNotFoundRetries"};
#define N_BUILTINS (sizeof(builtin_names) / sizeof(builtin_names[0]))
#define PROTECTED_BUILTIN "DaprBuiltInActorNotFoundRetries"

typedef struct breaker {
    const dapr__res_breaker_t *cfg;
    bool started; /* first generation begins at first use (needs a clock) */
    dapr__resil_cb_state_t state;
    uint64_t gen;
    dapr__trip_counts_t counts;
    uint64_t expiry; /* loop ms; 0 = none */
} breaker_t;

typedef struct group group_t;

struct dapr__resil_policy {
    dapr__resil_t *r;
    unsigned refs; /* the cache's (or def's) one + one per operation */
    const def_t *def;
    char *name; /* for logs */
    bool has_cb;
    breaker_t cb;
    /* breaker cache membership (NULL group: shared or evicted) */
    group_t *group;
    char *key;
    const char *inst_key; /* points into key */
    dapr__resil_policy_t *prev, *next;
};

/* One breaker cache: an LRU list of policy instances. */
struct group {
    char *key;
    size_t cap, n;
    dapr__resil_policy_t *head, *tail; /* most recently used first */
    bool dynamic;                      /* made for a default policy: evictable */
    group_t *gprev, *gnext;            /* LRU of dynamic groups */
};

struct dapr__resil {
    const dapr__logger_t *lg;
    dapr__map_t timeouts; /* name → tmo_t */
    dapr__map_t retries;  /* name → dapr__res_retry_t (engine copies) */
    dapr__map_t breakers; /* name → dapr__res_breaker_t (engine copies) */
    dapr__map_t apps, actors, components; /* name → target_t */
    def_t def_app, def_actor;
    def_t def_comp[N_CTYPES][2];
    def_t builtins[N_BUILTINS];
    dapr__map_t groups; /* key → group_t */
    dapr__map_t insts;  /* "<len>:<group key>\x1f<instance key>" → policy */
    group_t *dyn_head, *dyn_tail;
    size_t n_dyn;
    uint64_t rng;
    size_t live_ops;
};

typedef enum op_state { OP_IN_FLIGHT = 1, OP_WAITING, OP_CANCELLING, OP_DONE } op_state_t;

struct dapr__resil_op {
    uv_timer_t timer; /* attempt timeout, then backoff delay */
    bool timer_init, released, cancel_requested, admitted;
    bool no_timeout; /* DAPR__RESIL_RUN_NO_TIMEOUT */
    uv_loop_t *loop;
    dapr__resil_policy_t *p;
    dapr__resil_attempt_fn attempt;
    dapr__resil_cancel_fn cancel;
    dapr__resil_done_cb done;
    void *ud;
    op_state_t state;
    unsigned attempts;
    unsigned busy; /* user callbacks on the stack: free only at zero */
    uint64_t start_ms;
    uint64_t gen; /* breaker generation of the admitted attempt */
    double interval_ms; /* exponential: the current interval */
};

/* ---- logging ------------------------------------------------------------------ */

static void rlog(const dapr__resil_t *r, dapr_log_level_t lvl, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void rlog(const dapr__resil_t *r, dapr_log_level_t lvl, const char *fmt, ...)
{
    if (!r || !r->lg || !dapr__log_on(r->lg, lvl))
        return;
    va_list ap;
    va_start(ap, fmt);
    dapr__vlog(r->lg, lvl, SCOPE, fmt, ap);
    va_end(ap);
}

static char *printf_dup(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static char *printf_dup(const char *fmt, ...)
{
    dapr__buf_t b = DAPR__BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    dapr__buf_vprintf(&b, fmt, ap);
    va_end(ap);
    if (b.oom || dapr__buf_cstr(&b)) {
        dapr__buf_free(&b);
        return NULL;
    }
    b.data[b.len] = '\0';
    return dapr__buf_steal(&b, NULL);
}

/* ---- policy copies ------------------------------------------------------------ */

static void retry_free(dapr__res_retry_t *rt)
{
    if (!rt)
        return;
    dapr__free(rt->name);
    dapr__free(rt->http_codes);
    dapr__free(rt->grpc_codes);
    dapr__free(rt);
}

static void *mem_dup(const void *p, size_t n)
{
    void *q = n ? dapr__malloc(n) : NULL;
    if (q)
        memcpy(q, p, n);
    return q;
}

static dapr__res_retry_t *retry_copy(const dapr__res_retry_t *src)
{
    dapr__res_retry_t *rt = dapr__malloc(sizeof(*rt));
    if (!rt)
        return NULL;
    *rt = *src;
    rt->name = dapr__strdup(src->name);
    rt->http_codes = mem_dup(src->http_codes, src->n_http_codes * sizeof(*src->http_codes));
    rt->grpc_codes = mem_dup(src->grpc_codes, src->n_grpc_codes * sizeof(*src->grpc_codes));
    if (!rt->name || (src->n_http_codes && !rt->http_codes) ||
        (src->n_grpc_codes && !rt->grpc_codes)) {
        retry_free(rt);
        return NULL;
    }
    return rt;
}

static void breaker_free(dapr__res_breaker_t *cb)
{
    if (!cb)
        return;
    dapr__free(cb->name);
    dapr__free(cb->trip_src);
    dapr__free(cb);
}

static dapr__res_breaker_t *breaker_copy(const dapr__res_breaker_t *src)
{
    dapr__res_breaker_t *cb = dapr__malloc(sizeof(*cb));
    if (!cb)
        return NULL;
    *cb = *src;
    cb->name = dapr__strdup(src->name);
    cb->trip_src = src->trip_src ? dapr__strdup(src->trip_src) : NULL;
    if (!cb->name || (src->trip_src && !cb->trip_src)) {
        breaker_free(cb);
        return NULL;
    }
    return cb;
}

static void tmo_free(tmo_t *t)
{
    if (t)
        dapr__free(t->name);
    dapr__free(t);
}

/* Put value under name, freeing what it replaces. Frees value on OOM. */
static int put_named(dapr__map_t *m, const char *name, void *value, void (*free_fn)(void *))
{
    void *old = NULL;
    if (dapr__map_put(m, name, strlen(name), value, &old)) {
        free_fn(value);
        return DAPR_ENOMEM;
    }
    if (old)
        free_fn(old);
    return 0;
}

static void retry_free_v(void *p) { retry_free(p); }
static void breaker_free_v(void *p) { breaker_free(p); }
static void tmo_free_v(void *p) { tmo_free(p); }

static const void *get_named(const dapr__map_t *m, const char *name)
{
    return name ? dapr__map_get(m, name, strlen(name)) : NULL;
}

/* ---- policy objects and breaker caches ----------------------------------------- */

static void policy_unref(dapr__resil_policy_t *p)
{
    if (!p || --p->refs)
        return;
    dapr__free(p->name);
    dapr__free(p->key);
    dapr__free(p);
}

static void def_clear(def_t *d)
{
    dapr__free(d->label);
    policy_unref(d->shared);
    memset(d, 0, sizeof(*d));
}

static void target_free(void *v)
{
    target_t *t = v;
    if (!t)
        return;
    dapr__free(t->name);
    def_clear(&t->p);
    def_clear(&t->out);
    def_clear(&t->in);
    dapr__free(t);
}

static void group_unlink_policy(group_t *g, dapr__resil_policy_t *p)
{
    if (p->prev)
        p->prev->next = p->next;
    else
        g->head = p->next;
    if (p->next)
        p->next->prev = p->prev;
    else
        g->tail = p->prev;
    p->prev = p->next = NULL;
}

static void group_push_policy(group_t *g, dapr__resil_policy_t *p)
{
    p->prev = NULL;
    p->next = g->head;
    if (g->head)
        g->head->prev = p;
    g->head = p;
    if (!g->tail)
        g->tail = p;
}

/* Drop an instance from its cache; an operation in flight keeps it alive. */
static void evict_policy(dapr__resil_t *r, dapr__resil_policy_t *p)
{
    group_t *g = p->group;
    dapr__map_del(&r->insts, p->key, strlen(p->key));
    group_unlink_policy(g, p);
    g->n--;
    p->group = NULL;
    policy_unref(p);
}

static void dyn_unlink(dapr__resil_t *r, group_t *g)
{
    if (g->gprev)
        g->gprev->gnext = g->gnext;
    else
        r->dyn_head = g->gnext;
    if (g->gnext)
        g->gnext->gprev = g->gprev;
    else
        r->dyn_tail = g->gprev;
    g->gprev = g->gnext = NULL;
}

static void dyn_push(dapr__resil_t *r, group_t *g)
{
    g->gprev = NULL;
    g->gnext = r->dyn_head;
    if (r->dyn_head)
        r->dyn_head->gprev = g;
    r->dyn_head = g;
    if (!r->dyn_tail)
        r->dyn_tail = g;
}

static void group_free(dapr__resil_t *r, group_t *g)
{
    while (g->head)
        evict_policy(r, g->head);
    dapr__map_del(&r->groups, g->key, strlen(g->key));
    if (g->dynamic) {
        dyn_unlink(r, g);
        r->n_dyn--;
    }
    dapr__free(g->key);
    dapr__free(g);
}

static group_t *group_get(dapr__resil_t *r, const char *key, bool dynamic, size_t cap)
{
    group_t *g = dapr__map_get(&r->groups, key, strlen(key));
    if (g) {
        if (g->dynamic && g != r->dyn_head) {
            dyn_unlink(r, g);
            dyn_push(r, g);
        }
        return g;
    }
    if (dynamic && r->n_dyn >= MAX_DYNAMIC_CACHES)
        group_free(r, r->dyn_tail);
    if (!(g = dapr__calloc(1, sizeof(*g))) || !(g->key = dapr__strdup(key)))
        goto oom;
    g->cap = cap ? cap : 1;
    g->dynamic = dynamic;
    if (dapr__map_put(&r->groups, key, strlen(key), g, NULL))
        goto oom;
    if (dynamic) {
        dyn_push(r, g);
        r->n_dyn++;
    }
    return g;
oom:
    if (g)
        dapr__free(g->key);
    dapr__free(g);
    return NULL;
}

static void breaker_init(breaker_t *br, const dapr__res_breaker_t *cfg)
{
    memset(br, 0, sizeof(*br));
    br->cfg = cfg;
    br->state = DAPR__RESIL_CB_CLOSED;
}

static dapr__resil_policy_t *policy_new(dapr__resil_t *r, const def_t *d, const char *name)
{
    dapr__resil_policy_t *p = dapr__calloc(1, sizeof(*p));
    if (!p || !(p->name = dapr__strdup(name))) {
        dapr__free(p);
        return NULL;
    }
    p->r = r;
    p->refs = 1;
    p->def = d;
    if (d->breaker) {
        p->has_cb = true;
        breaker_init(&p->cb, d->breaker);
    }
    return p;
}

static dapr__resil_policy_t *shared_policy(dapr__resil_t *r, def_t *d)
{
    if (!d->shared && !(d->shared = policy_new(r, d, d->label ? d->label : "")))
        rlog(r, DAPR_LOG_ERROR, "resiliency: out of memory, %s runs without its policy",
             d->label ? d->label : "a target");
    return d->shared;
}

/* The instance of def d under (group_key, inst_key), made on first use. */
static dapr__resil_policy_t *instance(dapr__resil_t *r, def_t *d, const char *group_key,
                                      bool dynamic, size_t cap, const char *inst_key,
                                      const char *what)
{
    /* the group key's length first, so no pair of names can collide */
    char *key = printf_dup("%zu:%s\x1f%s", strlen(group_key), group_key, inst_key);
    dapr__resil_policy_t *p = key ? dapr__map_get(&r->insts, key, strlen(key)) : NULL;
    group_t *g = NULL;
    if (p) {
        dapr__free(key);
        g = p->group;
        group_get(r, g->key, g->dynamic, g->cap); /* refresh the group's LRU slot */
        group_unlink_policy(g, p);
        group_push_policy(g, p);
        return p;
    }
    char *name = key ? printf_dup("%s %s", what, inst_key) : NULL;
    if (name && (g = group_get(r, group_key, dynamic, cap)) && g->n >= g->cap)
        evict_policy(r, g->tail);
    if (g && (p = policy_new(r, d, name)) &&
        !dapr__map_put(&r->insts, key, strlen(key), p, NULL)) {
        p->key = key;
        p->inst_key = strchr(key, ':') + 1 + strlen(group_key) + 1;
        p->group = g;
        group_push_policy(g, p);
        g->n++;
        dapr__free(name);
        return p;
    }
    policy_unref(p);
    dapr__free(key);
    dapr__free(name);
    rlog(r, DAPR_LOG_ERROR, "resiliency: out of memory, %s %s runs without its policy", what,
         inst_key);
    return NULL;
}

static bool def_empty(const def_t *d)
{
    return !d->timeout && !d->retry && !d->breaker;
}

/* ---- lookups ------------------------------------------------------------------- */

dapr__resil_policy_t *dapr__resil_policy_for_endpoint(dapr__resil_t *r, const char *app_id,
                                                     const char *endpoint)
{
    if (!r || !app_id)
        return NULL;
    target_t *t = dapr__map_get(&r->apps, app_id, strlen(app_id));
    def_t *d = t ? &t->p : &r->def_app;
    if (def_empty(d))
        return NULL;
    if (!d->breaker)
        return shared_policy(r, d);
    char *gk = printf_dup("app\x1f%s", app_id);
    dapr__resil_policy_t *p = NULL;
    if (gk)
        p = instance(r, d, gk, !t, t ? d->cache_size : APP_CACHE_DEFAULT,
                     endpoint ? endpoint : app_id, "app");
    dapr__free(gk);
    return p;
}

dapr__resil_policy_t *dapr__resil_policy_for_app(dapr__resil_t *r, const char *app_id)
{
    return dapr__resil_policy_for_endpoint(r, app_id, NULL);
}

dapr__resil_policy_t *dapr__resil_policy_for_actor(dapr__resil_t *r, const char *actor_type,
                                                  const char *id)
{
    if (!r || !actor_type)
        return NULL;
    target_t *t = dapr__map_get(&r->actors, actor_type, strlen(actor_type));
    def_t *d = t ? &t->p : &r->def_actor;
    if (def_empty(d))
        return NULL;
    if (!d->breaker)
        return shared_policy(r, d);
    char *gk = printf_dup("actor\x1f%s", actor_type);
    char *ik = NULL;
    if (t && d->scope != DAPR__RES_CB_SCOPE_TYPE && id)
        ik = printf_dup("%s-%s", actor_type, id);
    else
        ik = dapr__strdup(actor_type);
    dapr__resil_policy_t *p = NULL;
    if (gk && ik)
        p = instance(r, d, gk, !t, t ? d->cache_size : DEFAULT_ACTOR_CACHE, ik, "actor");
    dapr__free(gk);
    dapr__free(ik);
    return p;
}

/* "state.redis" → Statestore, ...; 0 ("") when unknown. */
static size_t comp_type_index(const char *type)
{
    static const struct {
        const char *prefix;
        size_t idx;
    } map[] = {{"state.", 1},         {"pubsub.", 2}, {"bindings.", 3}, {"secretstores.", 4},
               {"configuration.", 5}, {"lock.", 6},   {"crypto.", 7}};
    for (size_t i = 0; type && i < sizeof(map) / sizeof(map[0]); i++)
        if (!strncmp(type, map[i].prefix, strlen(map[i].prefix)))
            return map[i].idx;
    return 0;
}

dapr__resil_policy_t *dapr__resil_policy_for_component(dapr__resil_t *r, const char *name,
                                                      const char *type, dapr__resil_dir_t dir)
{
    if (!r || !name)
        return NULL;
    int di = dir == DAPR__RESIL_INBOUND;
    target_t *t = dapr__map_get(&r->components, name, strlen(name));
    def_t *d = t ? (di ? &t->in : &t->out) : &r->def_comp[comp_type_index(type)][di];
    if (def_empty(d))
        return NULL;
    if (!d->breaker)
        return shared_policy(r, d);
    return instance(r, d, di ? "component\x1finbound" : "component\x1foutbound", false,
                    COMPONENT_CACHE, name, di ? "component inbound" : "component outbound");
}

dapr__resil_policy_t *dapr__resil_policy_builtin(dapr__resil_t *r, const char *name)
{
    for (size_t i = 0; r && name && i < N_BUILTINS; i++)
        if (!strcmp(name, builtin_names[i]))
            return def_empty(&r->builtins[i]) ? NULL : shared_policy(r, &r->builtins[i]);
    return NULL;
}

bool dapr__resil_has_target(const dapr__resil_t *r, dapr__resil_target_kind_t kind,
                            const char *name)
{
    if (!r || !name)
        return false;
    const dapr__map_t *m = kind == DAPR__RESIL_APP     ? &r->apps
                           : kind == DAPR__RESIL_ACTOR ? &r->actors
                                                       : &r->components;
    return dapr__map_get(m, name, strlen(name)) != NULL;
}

void dapr__resil_policy_info(const dapr__resil_policy_t *p, dapr__resil_policy_info_t *out)
{
    memset(out, 0, sizeof(*out));
    if (!p)
        return;
    const def_t *d = p->def;
    if (d->timeout) {
        out->timeout_name = d->timeout->name;
        out->timeout_ms = d->timeout->ms;
    }
    out->retry = d->retry;
    out->breaker = d->breaker;
    out->breaker_key = p->inst_key;
}

bool dapr__resil_retry_http_status(const dapr__resil_policy_t *p, int status)
{
    const dapr__res_retry_t *rt = p ? p->def->retry : NULL;
    if (!rt)
        return false;
    for (size_t i = 0; i < rt->n_http_codes; i++)
        if (status >= rt->http_codes[i].lo && status <= rt->http_codes[i].hi)
            return true;
    return rt->n_http_codes == 0;
}

bool dapr__resil_retry_grpc_status(const dapr__resil_policy_t *p, int status)
{
    const dapr__res_retry_t *rt = p ? p->def->retry : NULL;
    if (!rt)
        return false;
    for (size_t i = 0; i < rt->n_grpc_codes; i++)
        if (status >= rt->grpc_codes[i].lo && status <= rt->grpc_codes[i].hi)
            return true;
    return rt->n_grpc_codes == 0;
}

/* ---- building the engine ---------------------------------------------------------- */

/* Dapr's built-in retries (pkg/resiliency addBuiltInPolicies). */
static int add_builtins(dapr__resil_t *r)
{
    for (size_t i = 0; i < N_BUILTINS; i++) {
        dapr__res_retry_t rt;
        dapr__res_retry_defaults(&rt);
        rt.name = (char *)builtin_names[i];
        rt.duration_ms = 1000;
        rt.max_retries = 3;
        if (i == 2 || i == 3) { /* ActorReminder, Initialization */
            rt.policy = DAPR__RES_BACKOFF_EXPONENTIAL;
            rt.initial_interval_ms = 500;
            rt.randomization_factor = 0.5;
            rt.multiplier = 1.5;
            rt.max_interval_ms = i == 2 ? 60000 : 1000;
            rt.max_elapsed_ms = i == 2 ? 15 * 60 * 1000 : 10000;
            rt.max_retries = i == 2 ? -1 : 3;
            rt.duration_ms = i == 2 ? 5000 : 2000;
        } else if (i == 4) {
            rt.max_retries = 5;
        }
        dapr__res_retry_t *copy = retry_copy(&rt);
        if (!copy || put_named(&r->retries, builtin_names[i], copy, retry_free_v))
            return DAPR_ENOMEM;
    }
    return 0;
}

static bool is_builtin(const char *name)
{
    for (size_t i = 0; i < N_BUILTINS; i++)
        if (!strcmp(name, builtin_names[i]))
            return true;
    return false;
}

static int merge_retry(dapr__resil_t *r, const dapr__res_resiliency_t *doc,
                       const dapr__res_retry_t *src)
{
    if (!strcmp(src->name, PROTECTED_BUILTIN)) {
        rlog(r, DAPR_LOG_WARN,
             "%s:%d: resiliency %s: %s cannot be overridden; keeping the built-in policy",
             doc->file, src->line, doc->name, src->name);
        return 0;
    }
    dapr__res_retry_t *rt = retry_copy(src);
    if (!rt)
        return DAPR_ENOMEM;
    if (is_builtin(rt->name) && rt->max_retries >= 0 && rt->max_retries < 3) {
        rlog(r, DAPR_LOG_WARN,
             "%s:%d: resiliency %s: override of %s did not meet the minimum retry count, "
             "resetting to 3",
             doc->file, src->line, doc->name, rt->name);
        rt->max_retries = 3;
    }
    return put_named(&r->retries, rt->name, rt, retry_free_v);
}

static int merge_policies(dapr__resil_t *r, const dapr__res_resiliency_t *doc)
{
    int rc = 0;
    for (size_t i = 0; i < doc->n_timeouts && !rc; i++) {
        tmo_t *t = dapr__calloc(1, sizeof(*t));
        if (!t || !(t->name = dapr__strdup(doc->timeouts[i].name))) {
            tmo_free(t);
            return DAPR_ENOMEM;
        }
        t->ms = doc->timeouts[i].ms;
        rc = put_named(&r->timeouts, t->name, t, tmo_free_v);
    }
    for (size_t i = 0; i < doc->n_retries && !rc; i++)
        rc = merge_retry(r, doc, &doc->retries[i]);
    for (size_t i = 0; i < doc->n_breakers && !rc; i++) {
        dapr__res_breaker_t *cb = breaker_copy(&doc->breakers[i]);
        rc = cb ? put_named(&r->breakers, cb->name, cb, breaker_free_v) : DAPR_ENOMEM;
    }
    return rc;
}

typedef struct build {
    dapr__resil_t *r;
    const dapr__res_resiliency_t *doc;
    char **err;
} build_t;

static int build_fail(const build_t *b, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int build_fail(const build_t *b, int line, const char *fmt, ...)
{
    dapr__buf_t buf = DAPR__BUF_INIT;
    dapr__buf_printf(&buf, "%s:%d: resiliency %s: ", b->doc->file, line,
                     *b->doc->name ? b->doc->name : "(unnamed)");
    va_list ap;
    va_start(ap, fmt);
    dapr__buf_vprintf(&buf, fmt, ap);
    va_end(ap);
    dapr__free(*b->err);
    *b->err = NULL;
    if (buf.oom || dapr__buf_cstr(&buf)) {
        dapr__buf_free(&buf);
        return DAPR_ENOMEM;
    }
    buf.data[buf.len] = '\0';
    *b->err = dapr__buf_steal(&buf, NULL);
    return DAPR_EPARSE;
}

/* Resolve a target's three policy names against the merged maps. */
static int resolve_refs(const build_t *b, const char *what, const dapr__res_policy_refs_t *refs,
                        def_t *d)
{
    const dapr__resil_t *r = b->r;
    if (refs->timeout.name && !(d->timeout = get_named(&r->timeouts, refs->timeout.name)))
        return build_fail(b, refs->timeout.line, "%s.timeout: unknown timeout policy \"%s\"",
                          what, refs->timeout.name);
    if (refs->retry.name && !(d->retry = get_named(&r->retries, refs->retry.name)))
        return build_fail(b, refs->retry.line, "%s.retry: unknown retry policy \"%s\"", what,
                          refs->retry.name);
    if (refs->breaker.name && !(d->breaker = get_named(&r->breakers, refs->breaker.name)))
        return build_fail(b, refs->breaker.line,
                          "%s.circuitBreaker: unknown circuit breaker policy \"%s\"", what,
                          refs->breaker.name);
    return 0;
}

typedef enum tkind { TK_APP, TK_ACTOR, TK_COMPONENT } tkind_t;

static int merge_target(const build_t *b, tkind_t kind, const dapr__res_target_t *src)
{
    static const char *const paths[] = {"spec.targets.apps", "spec.targets.actors",
                                        "spec.targets.components"};
    static const char *const words[] = {"app", "actor", "component"};
    dapr__map_t *maps[] = {&b->r->apps, &b->r->actors, &b->r->components};
    char what[512];
    int rc = 0;
    snprintf(what, sizeof(what), "%s.%s", paths[kind], src->name);
    target_t *t = dapr__calloc(1, sizeof(*t));
    if (!t || !(t->name = dapr__strdup(src->name)))
        rc = DAPR_ENOMEM;
    if (!rc && kind == TK_COMPONENT) {
        char sub[540];
        snprintf(sub, sizeof(sub), "%s.outbound", what);
        rc = resolve_refs(b, sub, &src->outbound, &t->out);
        snprintf(sub, sizeof(sub), "%s.inbound", what);
        if (!rc)
            rc = resolve_refs(b, sub, &src->inbound, &t->in);
        if (!rc && (!(t->out.label = printf_dup("component %s outbound", src->name)) ||
                    !(t->in.label = printf_dup("component %s inbound", src->name))))
            rc = DAPR_ENOMEM;
    } else if (!rc) {
        rc = resolve_refs(b, what, &src->p, &t->p);
        t->p.scope = src->cb_scope;
        t->p.cache_size = src->cb_cache_size ? (size_t)src->cb_cache_size
                          : kind == TK_APP    ? APP_CACHE_DEFAULT
                                              : ACTOR_CACHE_DEFAULT;
        if (!rc && !(t->p.label = printf_dup("%s %s", words[kind], src->name)))
            rc = DAPR_ENOMEM;
    }
    if (!rc)
        return put_named(maps[kind], t->name, t, target_free);
    target_free(t);
    return rc;
}

static int merge_targets(build_t *b)
{
    const dapr__res_resiliency_t *doc = b->doc;
    int rc = 0;
    for (size_t i = 0; i < doc->n_apps && !rc; i++)
        rc = merge_target(b, TK_APP, &doc->apps[i]);
    for (size_t i = 0; i < doc->n_actors && !rc; i++)
        rc = merge_target(b, TK_ACTOR, &doc->actors[i]);
    for (size_t i = 0; i < doc->n_components && !rc; i++)
        rc = merge_target(b, TK_COMPONENT, &doc->components[i]);
    return rc;
}

/* The first of Default<level>XPolicy for each level, then DefaultXPolicy. */
static const void *default_named(const dapr__map_t *m, const char *const *levels, size_t n,
                                 const char *x)
{
    char name[128];
    for (size_t i = 0; i <= n; i++) {
        snprintf(name, sizeof(name), "Default%s%sPolicy", i < n ? levels[i] : "", x);
        const void *v = get_named(m, name);
        if (v)
            return v;
    }
    return NULL;
}

static int resolve_default(dapr__resil_t *r, def_t *d, const char *const *levels, size_t n,
                           const char *label)
{
    d->timeout = default_named(&r->timeouts, levels, n, "Timeout");
    d->retry = default_named(&r->retries, levels, n, "Retry");
    d->breaker = default_named(&r->breakers, levels, n, "CircuitBreaker");
    return (d->label = dapr__strdup(label)) ? 0 : DAPR_ENOMEM;
}

static int resolve_defaults(dapr__resil_t *r)
{
    static const char *const app[] = {"App"}, *const actor[] = {"Actor"};
    char l0[64], l1[64], label[96];
    int rc = resolve_default(r, &r->def_app, app, 1, "app (default policies)");
    if (!rc)
        rc = resolve_default(r, &r->def_actor, actor, 1, "actor (default policies)");
    for (size_t t = 0; t < N_CTYPES && !rc; t++) {
        for (int di = 0; di < 2 && !rc; di++) {
            snprintf(l0, sizeof(l0), "%sComponent%s", comp_types[t], dir_names[di]);
            snprintf(l1, sizeof(l1), "Component%s", dir_names[di]);
            const char *const levels[] = {l0, l1, "Component"};
            snprintf(label, sizeof(label), "component %s%s(default policies)", comp_types[t],
                     *comp_types[t] ? " " : "");
            rc = resolve_default(r, &r->def_comp[t][di], levels, 3, label);
        }
    }
    for (size_t i = 0; i < N_BUILTINS && !rc; i++) {
        r->builtins[i].retry = get_named(&r->retries, builtin_names[i]);
        rc = (r->builtins[i].label = dapr__strdup(builtin_names[i])) ? 0 : DAPR_ENOMEM;
    }
    return rc;
}

static uint64_t seed_from(const void *p)
{
    return uv_hrtime() ^ ((uint64_t)(uintptr_t)p << 17) ^ 0x9e3779b97f4a7c15ULL;
}

int dapr__resil_new(const dapr__resources_t *res, const char *app_id, const dapr__logger_t *lg,
                    dapr__resil_t **out, char **err)
{
    char *local_err = NULL;
    char **e = err ? err : &local_err;
    *e = NULL;
    *out = NULL;
    dapr__resil_t *r = dapr__calloc(1, sizeof(*r));
    if (!r)
        return DAPR_ENOMEM;
    r->lg = lg;
    dapr__resil_seed(r, seed_from(r));
    int rc = add_builtins(r);
    size_t n = res ? res->n_resiliencies : 0;
    for (size_t i = 0; i < n && !rc; i++) {
        const dapr__res_resiliency_t *doc = &res->resiliencies[i];
        if (!dapr__res_in_scope(doc->scopes, doc->n_scopes, app_id))
            continue;
        rlog(r, DAPR_LOG_INFO, "Loading Resiliency configuration: %s",
             *doc->name ? doc->name : doc->file);
        rc = merge_policies(r, doc);
    }
    for (size_t i = 0; i < n && !rc; i++) {
        build_t b = {r, &res->resiliencies[i], e};
        if (dapr__res_in_scope(b.doc->scopes, b.doc->n_scopes, app_id))
            rc = merge_targets(&b);
    }
    if (!rc)
        rc = resolve_defaults(r);
    if (rc == DAPR_ENOMEM && !*e)
        *e = dapr__strdup("resiliency: out of memory");
    if (rc) {
        dapr__resil_free(r);
        dapr__free(local_err);
        return rc;
    }
    *out = r;
    return 0;
}

static void free_map(dapr__map_t *m, void (*free_fn)(void *))
{
    size_t it = 0;
    const char *k;
    size_t kl;
    void *v;
    while (dapr__map_next(m, &it, &k, &kl, &v))
        free_fn(v);
    dapr__map_free(m);
}

void dapr__resil_free(dapr__resil_t *r)
{
    if (!r)
        return;
    assert(r->live_ops == 0 && "free the resiliency engine only once every operation ended");
    size_t it = 0;
    const char *k;
    size_t kl;
    void *v;
    while (dapr__map_next(&r->groups, &it, &k, &kl, &v)) {
        group_t *g = v;
        while (g->head)
            evict_policy(r, g->head);
        dapr__free(g->key);
        dapr__free(g);
    }
    dapr__map_free(&r->groups);
    dapr__map_free(&r->insts);
    free_map(&r->apps, target_free);
    free_map(&r->actors, target_free);
    free_map(&r->components, target_free);
    def_clear(&r->def_app);
    def_clear(&r->def_actor);
    for (size_t t = 0; t < N_CTYPES; t++)
        for (int di = 0; di < 2; di++)
            def_clear(&r->def_comp[t][di]);
    for (size_t i = 0; i < N_BUILTINS; i++)
        def_clear(&r->builtins[i]);
    free_map(&r->timeouts, tmo_free_v);
    free_map(&r->retries, retry_free_v);
    free_map(&r->breakers, breaker_free_v);
    dapr__free(r);
}

/* ---- jitter ------------------------------------------------------------------------ */

void dapr__resil_seed(dapr__resil_t *r, uint64_t seed)
{
    r->rng = seed ? seed : 0x2545f4914f6cdd1dULL; /* xorshift state must not be 0 */
}

/* xorshift64*: a uniform double in [0, 1). */
static double rand01(dapr__resil_t *r)
{
    uint64_t x = r->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    r->rng = x;
    return (double)((x * 0x2545f4914f6cdd1dULL) >> 11) * (1.0 / 9007199254740992.0);
}

/* ---- circuit breaker ------------------------------------------------------------------ */

static const char *cb_state_name(dapr__resil_cb_state_t s)
{
    return s == DAPR__RESIL_CB_OPEN ? "open" : s == DAPR__RESIL_CB_HALF_OPEN ? "half-open"
                                                                           : "closed";
}

static uint32_t cb_max_requests(const breaker_t *br)
{
    return br->cfg->max_requests ? br->cfg->max_requests : 1;
}

static void cb_new_generation(breaker_t *br, uint64_t now)
{
    br->gen++;
    memset(&br->counts, 0, sizeof(br->counts));
    switch (br->state) {
    case DAPR__RESIL_CB_CLOSED:
        br->expiry = br->cfg->interval_ms > 0 ? now + (uint64_t)br->cfg->interval_ms : 0;
        break;
    case DAPR__RESIL_CB_OPEN:
        br->expiry = now + (uint64_t)(br->cfg->timeout_ms > 0 ? br->cfg->timeout_ms
                                                              : DEFAULT_BREAKER_TIMEOUT_MS);
        break;
    default:
        br->expiry = 0;
    }
}

static void cb_set_state(dapr__resil_policy_t *p, dapr__resil_cb_state_t to, uint64_t now)
{
    breaker_t *br = &p->cb;
    if (br->state == to)
        return;
    dapr__resil_cb_state_t from = br->state;
    br->state = to;
    cb_new_generation(br, now);
    rlog(p->r, DAPR_LOG_DEBUG, "Circuit breaker \"%s\" (%s) changed state from %s to %s",
         br->cfg->name, p->name, cb_state_name(from), cb_state_name(to));
}

/* The state as of now: closed counts expire, open turns half-open. */
static dapr__resil_cb_state_t cb_current(dapr__resil_policy_t *p, uint64_t now)
{
    breaker_t *br = &p->cb;
    if (!br->started) {
        br->started = true;
        cb_new_generation(br, now);
    } else if (br->state == DAPR__RESIL_CB_CLOSED && br->expiry && br->expiry <= now) {
        cb_new_generation(br, now);
    }
    if (br->state == DAPR__RESIL_CB_CLOSED)
        return br->state;
    if (br->state == DAPR__RESIL_CB_OPEN && br->expiry <= now)
        cb_set_state(p, DAPR__RESIL_CB_HALF_OPEN, now);
    return br->state;
}

static int cb_admit(dapr__resil_policy_t *p, uint64_t now, uint64_t *gen)
{
    breaker_t *br = &p->cb;
    dapr__resil_cb_state_t st = cb_current(p, now);
    if (st == DAPR__RESIL_CB_OPEN)
        return DAPR__ERESIL_BREAKER_OPEN;
    if (st == DAPR__RESIL_CB_HALF_OPEN && br->counts.requests >= cb_max_requests(br))
        return DAPR__ERESIL_TOO_MANY_REQUESTS;
    br->counts.requests++;
    *gen = br->gen;
    return 0;
}

typedef enum outcome { OUT_SUCCESS, OUT_FAILURE, OUT_NEUTRAL } outcome_t;

static void cb_report(dapr__resil_policy_t *p, uint64_t now, uint64_t gen, outcome_t o)
{
    breaker_t *br = &p->cb;
    dapr__resil_cb_state_t st = cb_current(p, now);
    if (gen != br->gen)
        return; /* admitted under an earlier state: its result no longer counts */
    dapr__trip_counts_t *c = &br->counts;
    if (o == OUT_NEUTRAL) {
        if (c->requests)
            c->requests--;
    } else if (o == OUT_SUCCESS) {
        c->total_successes++;
        c->consecutive_successes++;
        c->consecutive_failures = 0;
        if (st == DAPR__RESIL_CB_HALF_OPEN && c->consecutive_successes >= cb_max_requests(br))
            cb_set_state(p, DAPR__RESIL_CB_CLOSED, now);
    } else {
        c->total_failures++;
        c->consecutive_failures++;
        c->consecutive_successes = 0;
        if (st == DAPR__RESIL_CB_HALF_OPEN ||
            (st == DAPR__RESIL_CB_CLOSED && dapr__trip_eval(&br->cfg->trip, c)))
            cb_set_state(p, DAPR__RESIL_CB_OPEN, now);
    }
}

dapr__resil_cb_state_t dapr__resil_breaker_state(dapr__resil_policy_t *p, uv_loop_t *loop)
{
    if (!p || !p->has_cb)
        return DAPR__RESIL_CB_CLOSED;
    return cb_current(p, uv_now(loop));
}

/* ---- operations -------------------------------------------------------------------------- */

static void op_free_cb(uv_handle_t *h)
{
    dapr__free(h->data);
}

/* Free the op once it is done and no user callback is on the stack. */
static void op_release(dapr__resil_op_t *op)
{
    if (op->state != OP_DONE || op->busy || op->released)
        return;
    op->released = true;
    if (op->timer_init)
        uv_close((uv_handle_t *)&op->timer, op_free_cb);
    else
        dapr__free(op);
}

static void op_report_breaker(dapr__resil_op_t *op, outcome_t o)
{
    if (op->admitted) {
        op->admitted = false;
        cb_report(op->p, uv_now(op->loop), op->gen, o);
    }
}

static void op_timer_start(dapr__resil_op_t *op, uv_timer_cb cb, uint64_t ms)
{
    if (!op->timer_init) {
        uv_timer_init(op->loop, &op->timer);
        op->timer.data = op;
        op->timer_init = true;
    }
    uv_timer_start(&op->timer, cb, ms, 0);
}

static void op_timer_stop(dapr__resil_op_t *op)
{
    if (op->timer_init)
        uv_timer_stop(&op->timer);
}

static void op_finish(dapr__resil_op_t *op, int status)
{
    op_timer_stop(op);
    op_report_breaker(op, OUT_NEUTRAL);
    op->state = OP_DONE;
    dapr__resil_policy_t *p = op->p;
    op->p = NULL;
    if (p) {
        p->r->live_ops--;
        policy_unref(p);
    }
    op->busy++;
    op->done(status, op->attempts, op->ud);
    op->busy--;
    op_release(op);
}

/* The delay before the next attempt in ms, or -1 to stop. */
static int64_t op_next_delay(dapr__resil_op_t *op)
{
    const dapr__res_retry_t *rt = op->p ? op->p->def->retry : NULL;
    if (!rt)
        return -1;
    if (rt->max_retries >= 0 && op->attempts > (uint64_t)rt->max_retries)
        return -1;
    if (rt->policy == DAPR__RES_BACKOFF_CONSTANT)
        return rt->duration_ms;
    double cur = op->interval_ms, delta = rt->randomization_factor * cur;
    double next = cur - delta + rand01(op->p->r) * (2 * delta);
    if (cur >= (double)rt->max_interval_ms / rt->multiplier)
        op->interval_ms = (double)rt->max_interval_ms;
    else
        op->interval_ms = cur * rt->multiplier;
    int64_t delay = (int64_t)(next + 0.5);
    uint64_t elapsed = uv_now(op->loop) - op->start_ms;
    if (rt->max_elapsed_ms > 0 && (int64_t)elapsed + delay > rt->max_elapsed_ms)
        return -1;
    return delay;
}

static void op_start_attempt(dapr__resil_op_t *op);

static void on_backoff(uv_timer_t *t)
{
    dapr__resil_op_t *op = t->data;
    if (op->state == OP_WAITING)
        op_start_attempt(op);
}

/* After a failed attempt: retry later, or end with status. */
static void op_failed(dapr__resil_op_t *op, int status, bool retryable)
{
    int64_t delay = retryable ? op_next_delay(op) : -1;
    if (delay < 0) {
        op_finish(op, status);
        return;
    }
    op->state = OP_WAITING;
    rlog(op->p->r, DAPR_LOG_DEBUG,
         "Error processing operation %s (attempt %u: %s). Retrying in %lld ms",
         op->p->name, op->attempts, dapr__resil_strerror(status), (long long)delay);
    op_timer_start(op, on_backoff, (uint64_t)delay);
}

static void on_attempt_timeout(uv_timer_t *t)
{
    dapr__resil_op_t *op = t->data;
    if (op->state != OP_IN_FLIGHT)
        return;
    op->state = OP_CANCELLING;
    rlog(op->p->r, DAPR_LOG_DEBUG, "Operation %s: attempt %u timed out after %lld ms",
         op->p->name, op->attempts, (long long)op->p->def->timeout->ms);
    op->busy++;
    if (op->cancel)
        op->cancel(op, DAPR_ETIMEDOUT, op->ud);
    op->busy--;
    op_report_breaker(op, OUT_FAILURE);
    if (op->cancel_requested)
        op_finish(op, DAPR_ECANCELED);
    else
        op_failed(op, DAPR_ETIMEDOUT, true);
}

static void op_start_attempt(dapr__resil_op_t *op)
{
    dapr__resil_policy_t *p = op->p;
    if (p && p->has_cb) {
        int rc = cb_admit(p, uv_now(op->loop), &op->gen);
        if (rc) {
            rlog(p->r, DAPR_LOG_DEBUG, "Operation %s rejected: %s", p->name,
                 dapr__resil_strerror(rc));
            op_finish(op, rc);
            return;
        }
        op->admitted = true;
    }
    op->attempts++;
    op->state = OP_IN_FLIGHT;
    if (p && p->def->timeout && p->def->timeout->ms > 0 && !op->no_timeout)
        op_timer_start(op, on_attempt_timeout, (uint64_t)p->def->timeout->ms);
    op->busy++;
    op->attempt(op, op->ud);
    op->busy--;
    op_release(op);
}

int dapr__resil_run(uv_loop_t *loop, dapr__resil_policy_t *p, dapr__resil_attempt_fn attempt,
                    dapr__resil_cancel_fn cancel, dapr__resil_done_cb done, void *ud,
                    dapr__resil_op_t **out)
{
    return dapr__resil_run_flags(loop, p, 0, attempt, cancel, done, ud, out);
}

int dapr__resil_run_flags(uv_loop_t *loop, dapr__resil_policy_t *p, unsigned flags,
                          dapr__resil_attempt_fn attempt, dapr__resil_cancel_fn cancel,
                          dapr__resil_done_cb done, void *ud, dapr__resil_op_t **out)
{
    dapr__resil_op_t *op = dapr__calloc(1, sizeof(*op));
    if (!op)
        return DAPR_ENOMEM;
    op->no_timeout = (flags & DAPR__RESIL_RUN_NO_TIMEOUT) != 0;
    op->loop = loop;
    op->p = p;
    op->attempt = attempt;
    op->cancel = cancel;
    op->done = done;
    op->ud = ud;
    op->start_ms = uv_now(loop);
    if (p) {
        p->refs++;
        p->r->live_ops++;
        if (p->def->retry)
            op->interval_ms = (double)p->def->retry->initial_interval_ms;
    }
    if (out)
        *out = op;
    op_start_attempt(op);
    return 0;
}

void dapr__resil_attempt_done(dapr__resil_op_t *op, int status, bool retryable)
{
    if (!op || op->state != OP_IN_FLIGHT)
        return;
    op_timer_stop(op);
    op_report_breaker(op, status ? OUT_FAILURE : OUT_SUCCESS);
    if (!status)
        op_finish(op, 0);
    else
        op_failed(op, status, retryable);
}

void dapr__resil_cancel(dapr__resil_op_t *op)
{
    if (!op || op->state == OP_DONE)
        return;
    if (op->state == OP_CANCELLING) { /* from inside cancel_fn: end after it returns */
        op->cancel_requested = true;
        return;
    }
    op_timer_stop(op);
    if (op->state == OP_IN_FLIGHT) {
        op->state = OP_CANCELLING;
        op->busy++;
        if (op->cancel)
            op->cancel(op, DAPR_ECANCELED, op->ud);
        op->busy--;
    }
    op_finish(op, DAPR_ECANCELED);
}

unsigned dapr__resil_op_attempt(const dapr__resil_op_t *op)
{
    return op ? op->attempts : 0;
}
