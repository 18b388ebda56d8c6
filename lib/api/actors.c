/* The actors building block's rules (api/actors.h). */
#include "actors.h"

#include <string.h>

#include "core/alloc.h"
#include "core/strutil.h"
#include "runtime/runtime_int.h"

static void fail(dapr__state_done_cb cb, void *data, dapr__apierr_t *e)
{
    cb(e, data);
    dapr__apierr_free(e);
}

/* No runtime: no --placement-host-address. */
static dapr__apierr_t *no_runtime(void)
{
    return dapr__apierr_new(DAPR_ERR_ACTOR_RUNTIME_NOT_FOUND,
                            "actor runtime is not configured: set --placement-host-address");
}

/* Names end up in URLs and storage keys: refuse empty ones, "||" and '/'. */
static dapr__apierr_t *bad_names(const char *type, const char *id, const char *name)
{
    const char *v[] = {type, id, name};
    const char *what[] = {"actor type", "actor id", "name"};
    for (int i = 0; i < 3; i++) {
        if (i == 2 && !name)
            break;
        if (!v[i] || !*v[i])
            return dapr__apierr_new(DAPR_ERR_BAD_REQUEST, "%s is required", what[i]);
        if (strstr(v[i], "||") || strchr(v[i], '/'))
            return dapr__apierr_new(DAPR_ERR_BAD_REQUEST, "%s %s is not valid", what[i], v[i]);
    }
    return NULL;
}

/* ---- invoke ------------------------------------------------------------ */

typedef struct inv {
    dapr__invoke_cb cb;
    void *data;
} inv_t;

static void invoked(const dapr__apierr_t *err, const dapr__invoke_resp_t *r, void *ud)
{
    inv_t *c = ud;
    if (err || r->http_status == 200) {
        c->cb(err, r, c->data);
        return;
    }
    dapr__apierr_t *e =
        r->http_status == 404
            ? dapr__apierr_new(DAPR_ERR_ACTOR_INVOKE_METHOD, "error invoke actor method: actor "
                               "method not found")
            : dapr__apierr_new(DAPR_ERR_ACTOR_INVOKE_METHOD,
                               "error invoke actor method: error from actor service: (%d) %.*s",
                               r->http_status, (int)(r->body_len > 4096 ? 4096 : r->body_len),
                               r->body ? (const char *)r->body : "");
    c->cb(e, NULL, c->data);
    dapr__apierr_free(e);
}

void dapr__actor_invoke(dapr_runtime_t *rt, dapr__pool_t *pool, const dapr__actor_call_t *call,
                        dapr__invoke_cb cb, void *data)
{
    dapr__apierr_t *e = !rt->actors ? no_runtime() : bad_names(call->type, call->id, call->method);
    inv_t *c = e ? NULL : dapr__pool_alloc(pool, sizeof(*c));
    if (e || !c) {
        if (!e)
            e = dapr__apierr_new(DAPR_ERR_INTERNAL, "out of memory");
        cb(e, NULL, data);
        dapr__apierr_free(e);
        return;
    }
    *c = (inv_t){cb, data};
    dapr__actors_invoke(rt->actors, pool, call, invoked, c);
}

/* ---- state --------------------------------------------------------------- */

static dapr_component_t *actor_store(dapr_runtime_t *rt, dapr__apierr_t **e)
{
    *e = NULL;
    if (!rt->actors) {
        *e = no_runtime();
        return NULL;
    }
    for (size_t i = 0; i < rt->n_components; i++) {
        dapr_component_t *c = rt->components[i];
        if (c->state_vt && c->actor_state_store && c->initialised)
            return c;
    }
    *e = dapr__apierr_new(DAPR_ERR_ACTOR_RUNTIME_NOT_FOUND,
                          "actors: state store does not exist or incorrectly configured");
    return NULL;
}

static char *state_key(dapr_runtime_t *rt, dapr__pool_t *pool, const char *type, const char *id,
                       const char *key)
{
    return dapr__pool_printf(pool, "%s||%s||%s||%s", rt->opt.app_id ? rt->opt.app_id : "",
                             type, id, key);
}

typedef struct get_ctx {
    dapr__state_get_done_cb cb;
    void *data;
} get_ctx_t;

static void got(const dapr_error_t *err, const dapr_state_value_t *val, void *ud)
{
    get_ctx_t *c = ud;
    if (err) {
        dapr__apierr_t *e = dapr__apierr_new(DAPR_ERR_ACTOR_STATE_GET,
                                             "error getting actor state: %s", err->message);
        c->cb(e, NULL, c->data);
        dapr__apierr_free(e);
        return;
    }
    c->cb(NULL, val, c->data);
}

void dapr__actor_state_get(dapr_runtime_t *rt, dapr__pool_t *pool, const char *type,
                           const char *id, const char *key, dapr__state_get_done_cb cb,
                           void *data)
{
    dapr__apierr_t *e;
    dapr_component_t *c = actor_store(rt, &e);
    if (!e)
        e = bad_names(type, id, key);
    get_ctx_t *g = e ? NULL : dapr__pool_alloc(pool, sizeof(*g));
    char *k = g ? state_key(rt, pool, type, id, key) : NULL;
    if (!k) {
        if (!e)
            e = dapr__apierr_new(DAPR_ERR_INTERNAL, "out of memory");
        cb(e, NULL, data);
        dapr__apierr_free(e);
        return;
    }
    *g = (get_ctx_t){cb, data};
    dapr_state_key_t sk = {.key = k};
    int rc = c->state_vt->get(c, &sk, got, g);
    if (rc) {
        dapr_error_t de = {rc, dapr_strerror(rc)};
        got(&de, NULL, g);
    }
}

typedef struct tx_ctx {
    dapr__state_done_cb cb;
    void *data;
} tx_ctx_t;

static void txed(const dapr_error_t *err, void *ud)
{
    tx_ctx_t *c = ud;
    if (err) {
        fail(c->cb, c->data, dapr__apierr_new(DAPR_ERR_ACTOR_STATE_TRANSACTION_SAVE,
                                              "error saving actor transaction state: %s",
                                              err->message));
        return;
    }
    c->cb(NULL, c->data);
}

void dapr__actor_state_transact(dapr_runtime_t *rt, dapr__pool_t *pool, const char *type,
                                const char *id, const dapr_state_op_t *ops, size_t n,
                                const char *bad_op, dapr__state_done_cb cb, void *data)
{
    dapr__apierr_t *e;
    dapr_component_t *c = actor_store(rt, &e);
    if (!e)
        e = bad_names(type, id, NULL);
    if (!e && !c->state_vt->multi)
        e = dapr__apierr_new(DAPR_ERR_ACTOR_STATE_TRANSACTION_SAVE,
                             "actors: state store %s does not support transactions", c->name);
    dapr_state_op_t *o = e ? NULL : dapr__pool_alloc(pool, (n ? n : 1) * sizeof(*o));
    tx_ctx_t *t = o ? dapr__pool_alloc(pool, sizeof(*t)) : NULL;
    if (!e && !t)
        e = dapr__apierr_new(DAPR_ERR_INTERNAL, "out of memory");
    for (size_t i = 0; !e && i < n; i++) {
        o[i] = ops[i];
        if (ops[i].kind != DAPR_STATE_OP_UPSERT && ops[i].kind != DAPR_STATE_OP_DELETE)
            e = dapr__apierr_new(DAPR_ERR_ACTOR_STATE_TRANSACTION_SAVE,
                                 "operation type %s not supported", bad_op ? bad_op : "");
        else if (!ops[i].item.key || !*ops[i].item.key || strstr(ops[i].item.key, "||"))
            e = dapr__apierr_new(DAPR_ERR_ACTOR_STATE_TRANSACTION_SAVE,
                                 "missing or invalid key in actor state operation");
        else if (!(o[i].item.key = state_key(rt, pool, type, id, ops[i].item.key)))
            e = dapr__apierr_new(DAPR_ERR_INTERNAL, "out of memory");
        if (!e && o[i].item.ttl_seconds == 0)
            o[i].item.ttl_seconds = DAPR_TTL_UNSET;
        for (size_t m = 0; !e && m < ops[i].item.n_metadata; m++) {
            const dapr_kv_t *kv = &ops[i].item.metadata[m];
            int64_t ttl;
            if (!strcmp(kv->key, "ttlInSeconds") && !dapr__parse_int(kv->value, &ttl))
                o[i].item.ttl_seconds = ttl > 0 ? ttl : DAPR_TTL_NEVER;
        }
    }
    if (e) {
        fail(cb, data, e);
        return;
    }
    if (!n) {
        cb(NULL, data);
        return;
    }
    *t = (tx_ctx_t){cb, data};
    int rc = c->state_vt->multi(c, o, n, NULL, 0, txed, t);
    if (rc) {
        dapr_error_t de = {rc, dapr_strerror(rc)};
        txed(&de, t);
    }
}

/* ---- timers and reminders ---------------------------------------------- */

void dapr__actor_timer_create(dapr_runtime_t *rt, const dapr__actor_sched_req_t *req,
                              dapr__state_done_cb cb, void *data)
{
    dapr__apierr_t *e = !rt->actors ? no_runtime() : bad_names(req->type, req->id, req->name);
    const char *why = NULL;
    if (!e && dapr__actors_timer_create(rt->actors, req, &why))
        e = dapr__apierr_new(DAPR_ERR_ACTOR_TIMER_CREATE, "error creating actor timer: %s",
                             why ? why : "invalid schedule");
    if (e) {
        fail(cb, data, e);
        return;
    }
    cb(NULL, data);
}

void dapr__actor_timer_delete(dapr_runtime_t *rt, const char *type, const char *id,
                              const char *name, dapr__state_done_cb cb, void *data)
{
    dapr__apierr_t *e = !rt->actors ? no_runtime() : bad_names(type, id, name);
    if (e) {
        fail(cb, data, e);
        return;
    }
    dapr__actors_timer_delete(rt->actors, type, id, name);
    cb(NULL, data);
}

typedef struct rem_ctx {
    dapr__state_done_cb cb;
    void *data;
    dapr__errid_t id;
    const char *type;
} rem_ctx_t;

static void rem_done(int status, const char *why, void *ud)
{
    rem_ctx_t *c = ud;
    if (!status) {
        c->cb(NULL, c->data);
        return;
    }
    if (status == DAPR_ENOTFOUND)
        fail(c->cb, c->data, dapr__apierr_new(DAPR_ERR_ACTOR_REMINDER_NON_HOSTED,
                                              "operations on actor reminders are only possible "
                                              "on hosted actor types (%s is not hosted)",
                                              c->type));
    else
        fail(c->cb, c->data, dapr__apierr_new(c->id, "error %s actor reminder: %s",
                                              c->id == DAPR_ERR_ACTOR_REMINDER_CREATE
                                                  ? "creating" : "deleting",
                                              why ? why : dapr_strerror(status)));
}

static rem_ctx_t *rem_begin(dapr_runtime_t *rt, dapr__pool_t *pool, const char *type,
                            const char *id, const char *name, dapr__errid_t eid,
                            dapr__state_done_cb cb, void *data)
{
    dapr__apierr_t *e;
    actor_store(rt, &e);
    if (!e)
        e = bad_names(type, id, name);
    rem_ctx_t *c = e ? NULL : dapr__pool_alloc(pool, sizeof(*c));
    if (!c) {
        fail(cb, data, e ? e : dapr__apierr_new(DAPR_ERR_INTERNAL, "out of memory"));
        return NULL;
    }
    *c = (rem_ctx_t){cb, data, eid, type};
    return c;
}

void dapr__actor_reminder_create(dapr_runtime_t *rt, dapr__pool_t *pool,
                                 const dapr__actor_sched_req_t *req, dapr__state_done_cb cb,
                                 void *data)
{
    rem_ctx_t *c = rem_begin(rt, pool, req->type, req->id, req->name,
                             DAPR_ERR_ACTOR_REMINDER_CREATE, cb, data);
    if (c)
        dapr__actors_reminder_create(rt->actors, req, rem_done, c);
}

void dapr__actor_reminder_delete(dapr_runtime_t *rt, dapr__pool_t *pool, const char *type,
                                 const char *id, const char *name, dapr__state_done_cb cb,
                                 void *data)
{
    rem_ctx_t *c = rem_begin(rt, pool, type, id, name, DAPR_ERR_ACTOR_REMINDER_DELETE, cb, data);
    if (c)
        dapr__actors_reminder_delete(rt->actors, type, id, name, rem_done, c);
}

dapr__apierr_t *dapr__actor_reminder_get(dapr_runtime_t *rt, const char *type, const char *id,
                                         const char *name, dapr__buf_t *out)
{
    dapr__apierr_t *e;
    actor_store(rt, &e);
    if (!e)
        e = bad_names(type, id, name);
    if (e)
        return e;
    if (!dapr__actors_hosts(rt->actors, type))
        return dapr__apierr_new(DAPR_ERR_ACTOR_REMINDER_NON_HOSTED,
                                "operations on actor reminders are only possible on hosted "
                                "actor types (%s is not hosted)", type);
    int rc = dapr__actors_reminder_get(rt->actors, type, id, name, out);
    if (rc == DAPR_ENOTFOUND)
        return dapr__apierr_new(DAPR_ERR_ACTOR_REMINDER_GET, "error getting actor reminder: "
                                "reminder %s not found", name);
    if (rc)
        return dapr__apierr_new(DAPR_ERR_INTERNAL, "out of memory");
    return NULL;
}

/* ---- reminders read from the store; bulk removal ------------------------- */

typedef struct rd_ctx {
    dapr__actor_json_cb cb;
    void *data;
} rd_ctx_t;

static dapr__apierr_t *non_hosted(const char *type)
{
    return dapr__apierr_new(DAPR_ERR_ACTOR_REMINDER_NON_HOSTED, "operations on actor reminders "
                            "are only possible on hosted actor types (%s is not hosted)", type);
}

static void read_done(int status, const char *why, const char *json, void *ud)
{
    rd_ctx_t *c = ud;
    if (!status) {
        c->cb(NULL, json, c->data);
        return;
    }
    if (status == DAPR_ENOTFOUND) { /* the type is hosted (checked first): no such reminder */
        c->cb(NULL, NULL, c->data);
        return;
    }
    dapr__apierr_t *e = dapr__apierr_new(DAPR_ERR_ACTOR_REMINDER_GET,
                                         "error getting actor reminder: %s",
                                         why ? why : dapr_strerror(status));
    c->cb(e, NULL, c->data);
    dapr__apierr_free(e);
}

/* Runtime, store, names (id and name optional) and a hosted type. */
static dapr__apierr_t *rem_check(dapr_runtime_t *rt, const char *type, const char *id,
                                 const char *name)
{
    dapr__apierr_t *e;
    actor_store(rt, &e);
    if (!e)
        e = bad_names(type, id ? id : "-", name);
    if (!e && !dapr__actors_hosts(rt->actors, type))
        e = non_hosted(type);
    return e;
}

static rd_ctx_t *rd_begin(dapr_runtime_t *rt, dapr__pool_t *pool, const char *type,
                          const char *id, const char *name, dapr__actor_json_cb cb, void *data)
{
    dapr__apierr_t *e = rem_check(rt, type, id, name);
    rd_ctx_t *c = e ? NULL : dapr__pool_alloc(pool, sizeof(*c));
    if (!c) {
        if (!e)
            e = dapr__apierr_new(DAPR_ERR_INTERNAL, "out of memory");
        cb(e, NULL, data);
        dapr__apierr_free(e);
        return NULL;
    }
    *c = (rd_ctx_t){cb, data};
    return c;
}

void dapr__actor_reminder_read(dapr_runtime_t *rt, dapr__pool_t *pool, const char *type,
                               const char *id, const char *name, dapr__actor_json_cb cb,
                               void *data)
{
    rd_ctx_t *c = rd_begin(rt, pool, type, id, name, cb, data);
    if (c)
        dapr__actors_reminder_read(rt->actors, type, id, name, read_done, c);
}

void dapr__actor_reminder_list(dapr_runtime_t *rt, dapr__pool_t *pool, const char *type,
                               const char *id, dapr__actor_json_cb cb, void *data)
{
    rd_ctx_t *c = rd_begin(rt, pool, type, id, NULL, cb, data);
    if (c)
        dapr__actors_reminder_list(rt->actors, type, id, read_done, c);
}

void dapr__actor_reminder_delete_all(dapr_runtime_t *rt, dapr__pool_t *pool, const char *type,
                                     const char *id, dapr__state_done_cb cb, void *data)
{
    dapr__apierr_t *e = rem_check(rt, type, id, NULL);
    rem_ctx_t *c = e ? NULL : dapr__pool_alloc(pool, sizeof(*c));
    if (!c) {
        fail(cb, data, e ? e : dapr__apierr_new(DAPR_ERR_INTERNAL, "out of memory"));
        return;
    }
    *c = (rem_ctx_t){cb, data, DAPR_ERR_ACTOR_REMINDER_DELETE, type};
    dapr__actors_reminder_delete_all(rt->actors, type, id, rem_done, c);
}
