/* The public actors API (include/dapr/actors.h). Hosting: actor types of
 * the program are announced through the in-process app's GET dapr/config
 * and their turns arrive as its PUT/DELETE actors/... calls
 * (runtime/app_inproc.h), so the actor runtime hosts them exactly as it
 * hosts an HTTP app's. Calling: the protocol-neutral api/actors.h, as the
 * HTTP and gRPC adapters do. */
#include "dapr/actors.h"

#include <string.h>

#include "api/actors.h"
#include "core/alloc.h"
#include "core/strutil.h"
#include "public.h"
#include "runtime/app_inproc.h"
#include "runtime/runtime_int.h"

/* ---------------------------------------------------------------------
 * Hosting
 * ------------------------------------------------------------------- */

int dapr_actors_register_type(dapr_runtime_t *rt, const char *type,
                              const dapr_actor_callbacks_t *cbs, const dapr_actor_config_t *config,
                              void *data)
{
    if (!rt || !type || !*type || !cbs || !cbs->on_turn || strchr(type, '/') ||
        strstr(type, "||"))
        return DAPR_EINVAL;
    if (rt->state != DAPR__RT_CREATED)
        return DAPR_ESTATE;
    dapr__inproc_t *ip = dapr__inproc_get(rt);
    if (!ip)
        return DAPR_ENOMEM;
    for (size_t i = 0; i < ip->n_types; i++)
        if (!strcmp(ip->types[i].type, type))
            return DAPR_EEXIST;
    dapr__ip_actor_type_t *nv = dapr__realloc(ip->types, (ip->n_types + 1) * sizeof(*nv));
    if (!nv)
        return DAPR_ENOMEM;
    ip->types = nv;
    dapr__ip_actor_type_t t = {.type = dapr__strdup(type), .cbs = *cbs, .data = data};
    if (!t.type)
        return DAPR_ENOMEM;
    if (config)
        t.cfg = *config;
    ip->types[ip->n_types++] = t;
    return 0;
}

int dapr_actor_turn_done(dapr_actor_turn_t *turn, int status, const uint8_t *body,
                         size_t body_len, bool cancel_reminder)
{
    if (!turn || (!body && body_len))
        return DAPR_EINVAL;
    static const dapr_kv_t cancel[] = {{"X-DaprReminderCancel", "true"}};
    bool rem = turn->c.turn.kind == DAPR_ACTOR_REMINDER && cancel_reminder;
    return dapr__inproc_answer(&turn->c, status, NULL, rem ? cancel : NULL, rem ? 1 : 0, body,
                               body_len);
}

/* ---------------------------------------------------------------------
 * Calls, state, timers, reminders
 * ------------------------------------------------------------------- */


static const char *cp(dapr__pcall_t *c, const char *s, bool *oom)
{
    if (!s)
        return NULL;
    char *d = dapr__pool_strdup(&c->pool, s);
    if (!d)
        *oom = true;
    return d;
}

static void invoked(const dapr__apierr_t *err, const dapr__invoke_resp_t *r, void *ud)
{
    dapr__pcall_t *c = ud;
    dapr_actor_invoke_cb cb = (dapr_actor_invoke_cb)c->cb;
    if (err || !r) {
        dapr_error_t e;
        dapr__public_error(err, &e);
        cb(&e, NULL, c->data);
    } else {
        dapr_actor_response_t resp = {r->http_status, r->body ? r->body : (const uint8_t *)"",
                                      r->body_len};
        cb(NULL, &resp, c->data);
    }
    dapr__pcall_free(c);
}

int dapr_actor_invoke(dapr_runtime_t *rt, const char *type, const char *id, const char *method,
                      const uint8_t *body, size_t body_len, dapr_actor_invoke_cb cb, void *data)
{
    if (!rt || !type || !id || !method || !cb || (!body && body_len))
        return DAPR_EINVAL;
    dapr__pcall_t *c;
    int rc = dapr__pcall_begin(rt, (void *)cb, data, &c);
    if (rc)
        return rc;
    /* the call may wait for placement's table: it keeps its own copies */
    bool oom = false;
    uint8_t *b = dapr__pool_alloc(&c->pool, body_len + 1);
    dapr__actor_call_t call = {.type = cp(c, type, &oom), .id = cp(c, id, &oom),
                               .method = cp(c, method, &oom), .body = b, .body_len = body_len,
                               .content_type = body_len ? "application/json" : NULL};
    if (oom || !b) {
        dapr__pcall_free(c);
        return DAPR_ENOMEM;
    }
    if (body_len)
        memcpy(b, body, body_len);
    dapr__actor_invoke(rt, &c->pool, &call, invoked, c);
    return 0;
}

int dapr_actor_state_get(dapr_runtime_t *rt, const char *type, const char *id, const char *key,
                         dapr_state_get_cb cb, void *data)
{
    if (!rt || !type || !id || !key || !cb)
        return DAPR_EINVAL;
    dapr__pcall_t *c;
    int rc = dapr__pcall_begin(rt, (void *)cb, data, &c);
    if (rc)
        return rc;
    bool oom = false;
    const char *t = cp(c, type, &oom), *i = cp(c, id, &oom), *k = cp(c, key, &oom);
    if (oom) {
        dapr__pcall_free(c);
        return DAPR_ENOMEM;
    }
    dapr__actor_state_get(rt, &c->pool, t, i, k, dapr__pcall_got, c);
    return 0;
}


int dapr_actor_state_transact(dapr_runtime_t *rt, const char *type, const char *id,
                              const dapr_actor_state_op_t *ops, size_t n, dapr_done_cb cb,
                              void *data)
{
    if (!rt || !type || !id || (!ops && n) || !cb)
        return DAPR_EINVAL;
    for (size_t i = 0; i < n; i++)
        if (!ops[i].key || (ops[i].kind != DAPR_STATE_OP_UPSERT &&
                            ops[i].kind != DAPR_STATE_OP_DELETE) ||
            (!ops[i].value && ops[i].value_len))
            return DAPR_EINVAL;
    int rc = dapr__public_ready(rt);
    if (rc)
        return rc;
    dapr__pcall_t *c = dapr__pcall_new((void *)cb, data);
    dapr_state_op_t *o = c ? dapr__pool_calloc(&c->pool, (n ? n : 1) * sizeof(*o)) : NULL;
    if (!o) {
        if (c)
            dapr__pcall_free(c);
        return DAPR_ENOMEM;
    }
    bool oom = false;
    const char *t = cp(c, type, &oom), *i = cp(c, id, &oom);
    for (size_t k = 0; k < n; k++) {
        int64_t ttl = ops[k].ttl_seconds;
        o[k] = (dapr_state_op_t){
            .kind = ops[k].kind,
            .item = {.key = ops[k].key,
                     .value = ops[k].value ? ops[k].value : (const uint8_t *)"",
                     .value_len = ops[k].value_len,
                     .ttl_seconds = ttl > 0 ? ttl : DAPR_TTL_UNSET}};
    }
    if (oom) {
        dapr__pcall_free(c);
        return DAPR_ENOMEM;
    }
    dapr__actor_state_transact(rt, &c->pool, t, i, o, n, NULL, dapr__pcall_done, c);
    return 0;
}

static int sched_copy(dapr__pcall_t *c, const dapr_actor_schedule_t *s, dapr__actor_sched_req_t *out)
{
    bool oom = false;
    *out = (dapr__actor_sched_req_t){.type = cp(c, s->type, &oom),
                                     .id = cp(c, s->id, &oom),
                                     .name = cp(c, s->name, &oom),
                                     .due_time = cp(c, s->due_time, &oom),
                                     .period = cp(c, s->period, &oom),
                                     .ttl = cp(c, s->ttl, &oom),
                                     .data = cp(c, s->data, &oom)};
    return oom ? DAPR_ENOMEM : 0;
}

static int sched_begin(dapr_runtime_t *rt, const dapr_actor_schedule_t *s, dapr_done_cb cb,
                       void *data, dapr__pcall_t **out, dapr__actor_sched_req_t *req)
{
    if (!rt || !s || !s->type || !s->id || !s->name || !cb)
        return DAPR_EINVAL;
    dapr__pcall_t *c;
    int rc = dapr__pcall_begin(rt, (void *)cb, data, &c);
    if (rc)
        return rc;
    if (sched_copy(c, s, req)) {
        dapr__pcall_free(c);
        return DAPR_ENOMEM;
    }
    *out = c;
    return 0;
}

int dapr_actor_timer_register(dapr_runtime_t *rt, const dapr_actor_schedule_t *s, dapr_done_cb cb,
                              void *data)
{
    dapr__pcall_t *c;
    dapr__actor_sched_req_t req;
    int rc = sched_begin(rt, s, cb, data, &c, &req);
    if (rc)
        return rc;
    dapr__actor_timer_create(rt, &req, dapr__pcall_done, c);
    return 0;
}

int dapr_actor_reminder_register(dapr_runtime_t *rt, const dapr_actor_schedule_t *s,
                                 dapr_done_cb cb, void *data)
{
    dapr__pcall_t *c;
    dapr__actor_sched_req_t req;
    int rc = sched_begin(rt, s, cb, data, &c, &req);
    if (rc)
        return rc;
    dapr__actor_reminder_create(rt, &c->pool, &req, dapr__pcall_done, c);
    return 0;
}

static int unreg_begin(dapr_runtime_t *rt, const char *type, const char *id, const char *name,
                       dapr_done_cb cb, void *data, dapr__pcall_t **out, const char *names[3])
{
    if (!rt || !type || !id || !name || !cb)
        return DAPR_EINVAL;
    dapr__pcall_t *c;
    int rc = dapr__pcall_begin(rt, (void *)cb, data, &c);
    if (rc)
        return rc;
    bool oom = false;
    names[0] = cp(c, type, &oom);
    names[1] = cp(c, id, &oom);
    names[2] = cp(c, name, &oom);
    if (oom) {
        dapr__pcall_free(c);
        return DAPR_ENOMEM;
    }
    *out = c;
    return 0;
}

int dapr_actor_timer_unregister(dapr_runtime_t *rt, const char *type, const char *id,
                                const char *name, dapr_done_cb cb, void *data)
{
    dapr__pcall_t *c;
    const char *n[3];
    int rc = unreg_begin(rt, type, id, name, cb, data, &c, n);
    if (rc)
        return rc;
    dapr__actor_timer_delete(rt, n[0], n[1], n[2], dapr__pcall_done, c);
    return 0;
}

int dapr_actor_reminder_unregister(dapr_runtime_t *rt, const char *type, const char *id,
                                   const char *name, dapr_done_cb cb, void *data)
{
    dapr__pcall_t *c;
    const char *n[3];
    int rc = unreg_begin(rt, type, id, name, cb, data, &c, n);
    if (rc)
        return rc;
    dapr__actor_reminder_delete(rt, &c->pool, n[0], n[1], n[2], dapr__pcall_done, c);
    return 0;
}
