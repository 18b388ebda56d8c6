/* Actor timers (in memory, per activation) and reminders (durable, in the
 * actor state store under Dapr's key "actors||<type>": a JSON array of
 * {registeredTime, period, actorID, actorType, name, dueTime, data,
 * expirationTime}, as Dapr's reminders with partitionCount 0). One uv timer
 * is armed at the earliest due firing; a firing is a turn of its actor, so
 * it never overlaps a method call. */
#include <string.h>

#include "actors_int.h"
#include "core/alloc.h"
#include "core/json.h"
#include "core/strutil.h"
#include "runtime_int.h"

#define SCOPE "dapr.runtime.actor"
#define NS_MS 1000000LL

static void sched_free(sched_t *s)
{
    if (!s)
        return;
    dapr__free(s->type);
    dapr__free(s->id);
    dapr__free(s->name);
    dapr__free(s->callback);
    dapr__free(s->data);
    dapr__free(s->due);
    dapr__free(s->period);
    dapr__free(s->ttl);
    dapr__free(s);
}

static char *dup_or_null(const char *s) { return s && *s ? dapr__strdup(s) : NULL; }

static sched_t *sched_find(dapr__actors_t *a, bool reminder, const char *type, const char *id,
                           const char *name)
{
    for (sched_t *s = a->scheds; s; s = s->next)
        if (!s->dead && s->reminder == reminder && !strcmp(s->type, type) &&
            !strcmp(s->id, id) && !strcmp(s->name, name))
            return s;
    return NULL;
}

/* Unlink and free dead entries that are not firing. */
static void sweep(dapr__actors_t *a)
{
    for (sched_t **pp = &a->scheds; *pp;) {
        sched_t *s = *pp;
        if (s->dead && !s->firing) {
            *pp = s->next;
            sched_free(s);
        } else {
            pp = &s->next;
        }
    }
}

void dapr__actors_sched_free_all(dapr__actors_t *a)
{
    while (a->scheds) {
        sched_t *n = a->scheds->next;
        sched_free(a->scheds);
        a->scheds = n;
    }
}

void dapr__actors_sched_arm(dapr__actors_t *a)
{
    if (a->closing)
        return;
    sweep(a);
    int64_t min = 0;
    for (sched_t *s = a->scheds; s; s = s->next)
        if (!s->firing && (!min || s->next_ns < min))
            min = s->next_ns;
    if (!min) {
        uv_timer_stop(&a->tick);
        return;
    }
    int64_t wait = (min - dapr__now_unix_ns()) / NS_MS;
    uv_timer_start(&a->tick, dapr__actors_sched_fire, wait > 0 ? (uint64_t)wait : 0, 0);
}

void dapr__actors_sched_drop_actor(dapr__actors_t *a, const char *type, const char *id)
{
    for (sched_t *s = a->scheds; s; s = s->next)
        if (!s->reminder && !strcmp(s->type, type) && !strcmp(s->id, id))
            s->dead = true;
    dapr__actors_sched_arm(a);
}

/* ---------------------------------------------------------------------
 * The actor state store and reminder persistence
 * ------------------------------------------------------------------- */

dapr_component_t *dapr__actors_store(dapr__actors_t *a)
{
    for (size_t i = 0; i < a->rt->n_components; i++) {
        dapr_component_t *c = a->rt->components[i];
        if (c->state_vt && c->actor_state_store && c->initialised)
            return c;
    }
    return NULL;
}

static type_cfg_t *type_cfg(dapr__actors_t *a, const char *type)
{
    for (size_t i = 0; i < a->n_types; i++)
        if (!strcmp(a->types[i].type, type))
            return &a->types[i];
    return NULL;
}

static void reminder_json(const sched_t *s, dapr__buf_t *b, bool get_form)
{
    char reg[64], exp[64];
    dapr__format_time_rfc3339(reg, sizeof(reg), s->registered_ns, false);
    dapr__buf_putc(b, '{');
    if (get_form) {
        dapr__buf_puts(b, "\"actorID\":");
        dapr__buf_json_str(b, s->id, strlen(s->id), 0);
        dapr__buf_puts(b, ",\"actorType\":");
        dapr__buf_json_str(b, s->type, strlen(s->type), 0);
    } else {
        dapr__buf_puts(b, "\"actorID\":");
        dapr__buf_json_str(b, s->id, strlen(s->id), 0);
        dapr__buf_puts(b, ",\"actorType\":");
        dapr__buf_json_str(b, s->type, strlen(s->type), 0);
    }
    dapr__buf_puts(b, ",\"name\":");
    dapr__buf_json_str(b, s->name, strlen(s->name), 0);
    if (s->data)
        dapr__buf_printf(b, ",\"data\":%s", s->data);
    if (s->period) {
        dapr__buf_puts(b, ",\"period\":");
        dapr__buf_json_str(b, s->period, strlen(s->period), 0);
    }
    dapr__buf_printf(b, ",\"registeredTime\":\"%s\"", reg);
    if (s->due) {
        dapr__buf_puts(b, ",\"dueTime\":");
        dapr__buf_json_str(b, s->due, strlen(s->due), 0);
    }
    if (s->s.expire_ns) {
        dapr__format_time_rfc3339(exp, sizeof(exp), s->s.expire_ns, false);
        dapr__buf_printf(b, ",\"expirationTime\":\"%s\"", exp);
    }
    dapr__buf_putc(b, '}');
}

typedef struct save_op {
    dapr__actors_t *a;
    type_cfg_t *tc;
    dapr__actors_done_cb cb;
    void *data;
} save_op_t;

static void save_type(dapr__actors_t *a, type_cfg_t *tc, dapr__actors_done_cb cb, void *data);

static void saved(const dapr_error_t *err, void *ud)
{
    save_op_t *op = ud;
    dapr__actors_t *a = op->a;
    type_cfg_t *tc = op->tc;
    a->pending--;
    tc->saving = false;
    if (err)
        dapr__log(&a->rt->log, DAPR_LOG_WARN, SCOPE, "error saving reminders of %s: %s",
                  tc->type, err->message ? err->message : "store error");
    if (op->cb)
        op->cb(err ? DAPR_EIO : 0, err ? err->message : NULL, op->data);
    dapr__free(op);
    if (tc->dirty && !a->closing) {
        tc->dirty = false;
        save_type(a, tc, NULL, NULL);
    }
    dapr__actors_maybe_done(a);
}

static void save_type(dapr__actors_t *a, type_cfg_t *tc, dapr__actors_done_cb cb, void *data)
{
    dapr_component_t *c = dapr__actors_store(a);
    save_op_t *op = dapr__calloc(1, sizeof(*op));
    if (!c || !op) {
        dapr__free(op);
        if (cb)
            cb(c ? DAPR_ENOMEM : DAPR_ESTATE, "actor state store not configured", data);
        return;
    }
    if (tc->saving) {
        /* one write per type at a time; the next one carries this change */
        tc->dirty = true;
        dapr__free(op);
        if (cb)
            cb(0, NULL, data);
        return;
    }
    *op = (save_op_t){a, tc, cb, data};
    dapr__buf_t b = DAPR__BUF_INIT;
    dapr__buf_putc(&b, '[');
    bool first = true;
    for (sched_t *s = a->scheds; s; s = s->next) {
        if (!s->reminder || s->dead || strcmp(s->type, tc->type))
            continue;
        if (!first)
            dapr__buf_putc(&b, ',');
        first = false;
        reminder_json(s, &b, false);
    }
    dapr__buf_putc(&b, ']');
    char *key = dapr__malloc(strlen(tc->type) + 9);
    if (key)
        sprintf(key, "actors||%s", tc->type);
    dapr_state_item_t it = {.key = key, .value = (const uint8_t *)b.data, .value_len = b.len,
                            .ttl_seconds = DAPR_TTL_UNSET};
    tc->saving = true;
    a->pending++;
    int rc = b.oom || !key ? DAPR_ENOMEM : c->state_vt->set(c, &it, saved, op);
    dapr__free(key);
    dapr__buf_free(&b);
    if (rc) {
        dapr_error_t e = {0};
        e.message = "cannot write reminders";
        saved(&e, op);
    }
}

/* ---------------------------------------------------------------------
 * Firing
 * ------------------------------------------------------------------- */

static void remove_sched(dapr__actors_t *a, sched_t *s)
{
    s->dead = true;
    if (s->reminder) {
        type_cfg_t *tc = type_cfg(a, s->type);
        if (tc)
            save_type(a, tc, NULL, NULL);
    }
}

static bool cancel_answer(const dapr__invoke_resp_t *r)
{
    for (size_t i = 0; r && i < r->n_headers; i++)
        if (!dapr__strcasecmp(r->headers[i].key, "X-DaprReminderCancel") &&
            !dapr__strcasecmp(r->headers[i].value, "true"))
            return true;
    return false;
}

static void fired(const dapr__apierr_t *err, const dapr__invoke_resp_t *r, void *data)
{
    turn_t *t = data;
    dapr__actors_t *a = t->a;
    sched_t *s = t->user;
    s->firing = false;
    if (err || r->http_status != 200)
        dapr__log(&a->rt->log, DAPR_LOG_WARN, SCOPE, "error firing %s %s of actor %s/%s: %s",
                  s->reminder ? "reminder" : "timer", s->name, s->type, s->id,
                  err ? err->message : "the app answered an error status");
    if (s->dead || a->closing)
        return;
    int64_t next;
    if (cancel_answer(r) || !dapr__schedule_next(&s->s, s->next_ns, &next)) {
        remove_sched(a, s);
    } else {
        int64_t now = dapr__now_unix_ns();
        s->next_ns = next > now ? next : now; /* late: fire once now, not a burst */
    }
    dapr__actors_sched_arm(a);
}

static bool owned_here(dapr__actors_t *a, sched_t *s)
{
    char addr[256];
    bool local = false;
    return !dapr__placement_lookup(a->placement, s->type, s->id, addr, sizeof(addr), &local) &&
           local;
}

static void fire(dapr__actors_t *a, sched_t *s)
{
    if (s->reminder && !owned_here(a, s)) {
        s->next_ns = dapr__now_unix_ns() + 1000 * NS_MS; /* not ours now: look again */
        return;
    }
    turn_t *t = dapr__actors_turn_new();
    char *tail = t ? dapr__pool_printf(t->pool, "method/%s/%s", s->reminder ? "remind" : "timer",
                                       s->name)
                   : NULL;
    char *path = tail ? dapr__actors_app_path(t->pool, s->type, s->id, tail) : NULL;
    dapr__buf_t b = DAPR__BUF_INIT;
    dapr__buf_printf(&b, "{\"data\":%s", s->data ? s->data : "null");
    if (s->callback) {
        dapr__buf_puts(&b, ",\"callback\":");
        dapr__buf_json_str(&b, s->callback, strlen(s->callback), 0);
    }
    dapr__buf_puts(&b, ",\"dueTime\":");
    dapr__buf_json_str(&b, s->due ? s->due : "", s->due ? strlen(s->due) : 0, 0);
    dapr__buf_puts(&b, ",\"period\":");
    dapr__buf_json_str(&b, s->period ? s->period : "", s->period ? strlen(s->period) : 0, 0);
    dapr__buf_putc(&b, '}');
    char *body = path && !b.oom ? dapr__pool_strndup(t->pool, b.data, b.len) : NULL;
    size_t blen = b.len;
    dapr__buf_free(&b);
    if (!body) {
        dapr__actors_turn_release(t);
        s->next_ns = dapr__now_unix_ns() + 1000 * NS_MS;
        return;
    }
    t->req = (dapr__invoke_req_t){.app_id = a->rt->opt.app_id, .method = path, .verb = "PUT",
                                  .content_type = "application/json",
                                  .body = (const uint8_t *)body, .body_len = blen};
    t->cb = fired;
    t->data = t;
    t->user = s;
    s->firing = true;
    dapr__actors_enqueue(a, s->type, s->id, t);
}

void dapr__actors_sched_fire(uv_timer_t *h)
{
    dapr__actors_t *a = h->data;
    int64_t now = dapr__now_unix_ns();
    for (sched_t *s = a->scheds; s && !a->closing; s = s->next) {
        if (s->dead || s->firing || s->next_ns > now)
            continue;
        if (s->s.expire_ns && now > s->s.expire_ns) {
            remove_sched(a, s);
            continue;
        }
        fire(a, s);
    }
    dapr__actors_sched_arm(a);
}

/* ---------------------------------------------------------------------
 * Creating and deleting
 * ------------------------------------------------------------------- */

static sched_t *sched_new(const dapr__actor_sched_req_t *q, bool reminder, int64_t now,
                          const char **why)
{
    sched_t *s = dapr__calloc(1, sizeof(*s));
    if (!s) {
        *why = "out of memory";
        return NULL;
    }
    if (dapr__schedule_parse(q->due_time, q->period, q->ttl, now, &s->s, why)) {
        dapr__free(s);
        return NULL;
    }
    s->reminder = reminder;
    s->registered_ns = now;
    s->next_ns = s->s.first_ns;
    s->type = dapr__strdup(q->type);
    s->id = dapr__strdup(q->id);
    s->name = dapr__strdup(q->name);
    s->callback = dup_or_null(q->callback);
    s->data = dup_or_null(q->data);
    s->due = dup_or_null(q->due_time);
    s->period = dup_or_null(q->period);
    s->ttl = dup_or_null(q->ttl);
    if (!s->type || !s->id || !s->name) {
        sched_free(s);
        *why = "out of memory";
        return NULL;
    }
    return s;
}

int dapr__actors_timer_create(dapr__actors_t *a, const dapr__actor_sched_req_t *req,
                              const char **why)
{
    sched_t *s = sched_new(req, false, dapr__now_unix_ns(), why);
    if (!s)
        return DAPR_EINVAL;
    sched_t *old = sched_find(a, false, req->type, req->id, req->name);
    if (old)
        old->dead = true;
    s->next = a->scheds;
    a->scheds = s;
    dapr__actors_sched_arm(a);
    return 0;
}

void dapr__actors_timer_delete(dapr__actors_t *a, const char *type, const char *id,
                               const char *name)
{
    sched_t *s = sched_find(a, false, type, id, name);
    if (s)
        s->dead = true;
    dapr__actors_sched_arm(a);
}

typedef struct later {
    uv_timer_t h;
    dapr__actors_done_cb cb;
    void *data;
    int status;
    const char *why;
} later_t;

static void later_closed(uv_handle_t *h) { dapr__free(h->data); }
static void later_fire(uv_timer_t *h)
{
    later_t *l = h->data;
    l->cb(l->status, l->why, l->data);
    uv_close((uv_handle_t *)h, later_closed);
}

/* Callbacks never run inside the call that takes them. */
static void answer_later(dapr__actors_t *a, int status, const char *why, dapr__actors_done_cb cb,
                         void *data)
{
    later_t *l = dapr__calloc(1, sizeof(*l));
    if (!l) {
        cb(DAPR_ENOMEM, "out of memory", data); /* no way to defer without memory */
        return;
    }
    *l = (later_t){.cb = cb, .data = data, .status = status, .why = why};
    uv_timer_init(a->rt->loop, &l->h);
    l->h.data = l;
    uv_timer_start(&l->h, later_fire, 0, 0);
}

void dapr__actors_reminder_create(dapr__actors_t *a, const dapr__actor_sched_req_t *req,
                                  dapr__actors_done_cb cb, void *data)
{
    const char *why = NULL;
    type_cfg_t *tc = type_cfg(a, req->type);
    sched_t *s = tc ? sched_new(req, true, dapr__now_unix_ns(), &why) : NULL;
    if (!s) {
        answer_later(a, tc ? DAPR_EINVAL : DAPR_ENOTFOUND, why, cb, data);
        return;
    }
    sched_t *old = sched_find(a, true, req->type, req->id, req->name);
    if (old)
        old->dead = true;
    s->next = a->scheds;
    a->scheds = s;
    dapr__actors_sched_arm(a);
    save_type(a, tc, cb, data);
}

void dapr__actors_reminder_delete(dapr__actors_t *a, const char *type, const char *id,
                                  const char *name, dapr__actors_done_cb cb, void *data)
{
    type_cfg_t *tc = type_cfg(a, type);
    sched_t *s = sched_find(a, true, type, id, name);
    if (!tc || !s) {
        answer_later(a, tc ? 0 : DAPR_ENOTFOUND, NULL, cb, data);
        return;
    }
    s->dead = true;
    dapr__actors_sched_arm(a);
    save_type(a, tc, cb, data);
}

int dapr__actors_reminder_get(dapr__actors_t *a, const char *type, const char *id,
                              const char *name, dapr__buf_t *out)
{
    sched_t *s = sched_find(a, true, type, id, name);
    if (!s)
        return DAPR_ENOTFOUND;
    reminder_json(s, out, true);
    return out->oom ? DAPR_ENOMEM : 0;
}

/* ---------------------------------------------------------------------
 * Loading at start-up
 * ------------------------------------------------------------------- */

static const char *jstr(const json_t *o, const char *k)
{
    json_t *v = dapr__json_get(o, k);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static void load_one(dapr__actors_t *a, const json_t *o)
{
    const char *reg = jstr(o, "registeredTime"), *exp = jstr(o, "expirationTime");
    int64_t reg_ns = 0, exp_ns = 0, now = dapr__now_unix_ns();
    if (!reg || dapr__rfc3339_parse(reg, &reg_ns))
        reg_ns = now;
    json_t *d = dapr__json_get(o, "data");
    char *data = d ? json_dumps(d, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    dapr__actor_sched_req_t q = {.type = jstr(o, "actorType"), .id = jstr(o, "actorID"),
                                 .name = jstr(o, "name"), .due_time = jstr(o, "dueTime"),
                                 .period = jstr(o, "period"), .data = data};
    const char *why;
    sched_t *s = q.type && q.id && q.name ? sched_new(&q, true, reg_ns, &why) : NULL;
    free(data); /* jansson allocated it */
    if (!s)
        return;
    if (exp && !dapr__rfc3339_parse(exp, &exp_ns))
        s->s.expire_ns = exp_ns;
    if (s->next_ns < now) /* missed while down: fire once now, then on period */
        s->next_ns = now;
    sched_t *old = sched_find(a, true, s->type, s->id, s->name);
    if (old)
        old->dead = true;
    s->next = a->scheds;
    a->scheds = s;
}

typedef struct load_op {
    dapr__actors_t *a;
    type_cfg_t *tc;
} load_op_t;

static void loaded(const dapr_error_t *err, const dapr_state_value_t *val, void *ud)
{
    load_op_t *op = ud;
    dapr__actors_t *a = op->a;
    a->pending--;
    op->tc->reminders_loaded = true;
    if (err) {
        dapr__log(&a->rt->log, DAPR_LOG_WARN, SCOPE, "error loading reminders of %s: %s",
                  op->tc->type, err->message ? err->message : "store error");
    } else if (val->found && !a->closing) {
        json_error_t jerr;
        json_t *arr = dapr__json_decode(val->data, val->len, &jerr), *o;
        size_t i, n = 0;
        json_array_foreach(arr, i, o)
        {
            load_one(a, o);
            n++;
        }
        json_decref(arr);
        dapr__log(&a->rt->log, DAPR_LOG_INFO, SCOPE, "loaded %zu reminder(s) of actor type %s",
                  n, op->tc->type);
        dapr__actors_sched_arm(a);
    }
    dapr__free(op);
    dapr__actors_maybe_done(a);
}

void dapr__actors_reminders_load(dapr__actors_t *a, type_cfg_t *tc)
{
    dapr_component_t *c = dapr__actors_store(a);
    load_op_t *op = c ? dapr__calloc(1, sizeof(*op)) : NULL;
    char *key = op ? dapr__malloc(strlen(tc->type) + 9) : NULL;
    if (!key) {
        dapr__free(op);
        return;
    }
    sprintf(key, "actors||%s", tc->type);
    *op = (load_op_t){a, tc};
    dapr_state_key_t k = {.key = key};
    a->pending++;
    if (c->state_vt->get(c, &k, loaded, op)) {
        a->pending--;
        dapr__free(op);
    }
    dapr__free(key);
}
