/* Actor timers (in memory, per activation) and reminders (durable, in the
 * actor state store under Dapr's key "actors||<type>": a JSON array of
 * {registeredTime, period, actorID, actorType, name, dueTime, data,
 * expirationTime}, as Dapr's reminders with partitionCount 0). One uv timer
 * is armed at the earliest due firing; a firing is a turn of its actor, so
 * it never overlaps a method call.
 *
 * Several hosts share the array. Every change is a read-modify-write with
 * the store's ETag (first-write), tried again on a conflict; every host
 * reads the arrays of its types again after each table change and every
 * RELOAD_MS, and keeps in memory exactly what the store holds (entries it
 * already had keep their schedule). Each host walks every reminder's
 * schedule, but only the actor's owner under the current tables fires it;
 * the owner also removes finished ones from the store. */
#include <stdlib.h>
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
    dapr__free(s->ident);
    dapr__free(s);
}

static char *dup_or_null(const char *s) { return s && *s ? dapr__strdup(s) : NULL; }

static sched_t *sched_find(dapr__actors_t *a, bool reminder, const char *type, const char *id,
                           const char *name)
{
    for (sched_t *s = a->scheds; s; s = s->next)
        if (!s->dead && !s->done && s->reminder == reminder && !strcmp(s->type, type) &&
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
        if (!s->firing && !s->done && (!min || s->next_ns < min))
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

#define REM_PUT 1
#define REM_DEL 2
#define REM_DROP 3
#define REM_DEL_ALL 4 /* every reminder of the type, or of one id (id NULL = all) */
#define REM_GET 5     /* read: the entry (id, name) */
#define REM_LIST 6    /* read: the entries of the type, or of one id */

static void queue_op(dapr__actors_t *a, type_cfg_t *tc, int kind, const sched_t *s,
                     const char *id, const char *name, const char *ident,
                     dapr__actors_done_cb cb, dapr__actors_json_cb jcb, void *data);

/* ---------------------------------------------------------------------
 * Firing
 * ------------------------------------------------------------------- */

/* A reminder is over here: the owner removes exactly this registration
 * from the store (a newer one of the same name stays). */
static void finish_reminder(dapr__actors_t *a, sched_t *s)
{
    type_cfg_t *tc = dapr__actors_type_cfg(a, s->type);
    s->done = true;
    if (tc && s->ident)
        queue_op(a, tc, REM_DROP, NULL, s->id, s->name, s->ident, NULL, NULL, NULL);
}

static void remove_sched(dapr__actors_t *a, sched_t *s)
{
    if (s->reminder)
        finish_reminder(a, s);
    else
        s->dead = true;
}

static bool cancel_answer(const dapr__invoke_resp_t *r)
{
    for (size_t i = 0; r && i < r->n_headers; i++)
        if (!dapr__strcasecmp(r->headers[i].key, "X-DaprReminderCancel") &&
            !dapr__strcasecmp(r->headers[i].value, "true"))
            return true;
    return false;
}

static void advance(sched_t *s, int64_t now)
{
    int64_t next;
    s->next_ns = dapr__schedule_next(&s->s, s->next_ns, &next) ? (next > now ? next : now)
                                                               : 0;
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
    if (s->dead || s->done || a->closing)
        return;
    if (err && err->id == DAPR_ERR_ACTOR_INSTANCE_MISSING) {
        s->next_ns = dapr__now_unix_ns() + 200 * NS_MS; /* handed over meanwhile: look again */
        dapr__actors_sched_arm(a);
        return;
    }
    /* late: fire once now, not a burst */
    if (!cancel_answer(r))
        advance(s, dapr__now_unix_ns());
    if (cancel_answer(r) || !s->next_ns)
        remove_sched(a, s);
    dapr__actors_sched_arm(a);
}

/* A reminder due while another host owns its actor: its owner fires it;
 * the schedule moves on here too, so a new owner goes on from the next due
 * time. One-shot ones wait: only the store says they are done. */
static void skip(sched_t *s, int64_t now)
{
    if (s->s.period_ns) {
        advance(s, now);
        if (s->next_ns)
            return;
    }
    s->next_ns = now + 1000 * NS_MS;
}

static void fire(dapr__actors_t *a, sched_t *s, int64_t now)
{
    if (s->reminder) {
        type_cfg_t *tc = dapr__actors_type_cfg(a, s->type);
        bool known, mine = dapr__actors_owned_here(a, s->type, s->id, &known);
        if (!known || !tc || tc->stale || !tc->reminders_loaded) {
            s->next_ns = now + 100 * NS_MS; /* tables changing: look again shortly */
            return;
        }
        if (!mine) {
            skip(s, now);
            return;
        }
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
        s->next_ns = now + 1000 * NS_MS;
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
        if (s->dead || s->done || s->firing || s->next_ns > now)
            continue;
        if (s->s.expire_ns && now > s->s.expire_ns) {
            remove_sched(a, s);
            continue;
        }
        fire(a, s, now);
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
    bool known, mine = dapr__actors_owned_here(a, req->type, req->id, &known);
    if (!dapr__actors_hosts(a, req->type)) {
        *why = "actor type not registered";
        return DAPR_EINVAL;
    }
    if (!mine && (known || !dapr__actors_find(a, req->type, req->id))) {
        *why = "operations on actor timers are only possible on the host that owns the actor";
        return DAPR_EINVAL;
    }
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
    dapr__actors_json_cb jcb;
    void *data;
    int status;
    const char *why;
} later_t;

static void later_closed(uv_handle_t *h) { dapr__free(h->data); }
static void later_fire(uv_timer_t *h)
{
    later_t *l = h->data;
    if (l->jcb)
        l->jcb(l->status, l->why, NULL, l->data);
    else
        l->cb(l->status, l->why, l->data);
    uv_close((uv_handle_t *)h, later_closed);
}

/* Callbacks never run inside the call that takes them. */
static void answer_later2(dapr__actors_t *a, int status, const char *why, dapr__actors_done_cb cb,
                          dapr__actors_json_cb jcb, void *data)
{
    later_t *l = dapr__calloc(1, sizeof(*l));
    if (!l) { /* no way to defer without memory */
        if (jcb)
            jcb(DAPR_ENOMEM, "out of memory", NULL, data);
        else
            cb(DAPR_ENOMEM, "out of memory", data);
        return;
    }
    *l = (later_t){.cb = cb, .jcb = jcb, .data = data, .status = status, .why = why};
    uv_timer_init(a->rt->loop, &l->h);
    l->h.data = l;
    uv_timer_start(&l->h, later_fire, 0, 0);
}

static void answer_later(dapr__actors_t *a, int status, const char *why, dapr__actors_done_cb cb,
                         void *data)
{
    answer_later2(a, status, why, cb, NULL, data);
}

void dapr__actors_reminder_create(dapr__actors_t *a, const dapr__actor_sched_req_t *req,
                                  dapr__actors_done_cb cb, void *data)
{
    const char *why = NULL;
    type_cfg_t *tc = dapr__actors_type_cfg(a, req->type);
    sched_t *s = tc ? sched_new(req, true, dapr__now_unix_ns(), &why) : NULL;
    if (!s) {
        answer_later(a, tc ? DAPR_EINVAL : DAPR_ENOTFOUND, why, cb, data);
        return;
    }
    /* in memory once the store has it (the merge after the write) */
    queue_op(a, tc, REM_PUT, s, s->id, s->name, NULL, cb, NULL, data);
    sched_free(s);
}

void dapr__actors_reminder_delete(dapr__actors_t *a, const char *type, const char *id,
                                  const char *name, dapr__actors_done_cb cb, void *data)
{
    type_cfg_t *tc = dapr__actors_type_cfg(a, type);
    if (!tc) {
        answer_later(a, DAPR_ENOTFOUND, NULL, cb, data);
        return;
    }
    sched_t *s = sched_find(a, true, type, id, name);
    if (s) /* stops firing now; gone from memory with the merge */
        s->done = true;
    dapr__actors_sched_arm(a);
    queue_op(a, tc, REM_DEL, NULL, id, name, NULL, cb, NULL, data);
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

/* Reads go through the type's cycle like the writes: they see the store as
 * it is (reminders registered through other hosts included) after every
 * change this host queued before them. */
static void read_op(dapr__actors_t *a, int kind, const char *type, const char *id,
                    const char *name, dapr__actors_json_cb cb, void *data)
{
    type_cfg_t *tc = dapr__actors_type_cfg(a, type);
    if (!tc) {
        answer_later2(a, DAPR_ENOTFOUND, NULL, NULL, cb, data);
        return;
    }
    queue_op(a, tc, kind, NULL, id, name, NULL, NULL, cb, data);
}

void dapr__actors_reminder_read(dapr__actors_t *a, const char *type, const char *id,
                                const char *name, dapr__actors_json_cb cb, void *data)
{
    read_op(a, REM_GET, type, id, name, cb, data);
}

void dapr__actors_reminder_list(dapr__actors_t *a, const char *type, const char *id,
                                dapr__actors_json_cb cb, void *data)
{
    read_op(a, REM_LIST, type, id, NULL, cb, data);
}

void dapr__actors_reminder_delete_all(dapr__actors_t *a, const char *type, const char *id,
                                      dapr__actors_done_cb cb, void *data)
{
    type_cfg_t *tc = dapr__actors_type_cfg(a, type);
    if (!tc) {
        answer_later(a, DAPR_ENOTFOUND, NULL, cb, data);
        return;
    }
    for (sched_t *s = a->scheds; s; s = s->next) /* stop firing now */
        if (s->reminder && !s->dead && !strcmp(s->type, type) && (!id || !strcmp(s->id, id)))
            s->done = true;
    dapr__actors_sched_arm(a);
    queue_op(a, tc, REM_DEL_ALL, NULL, id, NULL, NULL, cb, NULL, data);
}

/* ---------------------------------------------------------------------
 * The store: read-modify-write cycles and the merge into memory
 * ------------------------------------------------------------------- */

#define MAX_TRIES 16 /* ETag conflicts in a row before the ops fail */

static const char *jstr(const json_t *o, const char *k)
{
    json_t *v = dapr__json_get(o, k);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static char *ident_of(const json_t *o)
{
    char *j = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    char *d = j ? dapr__strdup(j) : NULL;
    free(j); /* jansson allocated it */
    return d;
}

/* A stored entry as a reminder of this host (schedule from its
 * registration; one missed while nobody ran it fires once now). */
static sched_t *load_one(const json_t *o)
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
        return NULL;
    if (exp && !dapr__rfc3339_parse(exp, &exp_ns))
        s->s.expire_ns = exp_ns;
    if (s->next_ns < now)
        s->next_ns = now;
    if (!(s->ident = ident_of(o))) {
        sched_free(s);
        return NULL;
    }
    return s;
}

/* Memory := the store's array for tc's type. Entries already here (same
 * stored object) keep their schedule and state. */
static size_t merge(dapr__actors_t *a, type_cfg_t *tc, const json_t *arr)
{
    for (sched_t *s = a->scheds; s; s = s->next)
        if (s->reminder && !s->dead && !strcmp(s->type, tc->type))
            s->seen = false;
    size_t i, added = 0;
    json_t *o;
    json_array_foreach(arr, i, o)
    {
        const char *type = jstr(o, "actorType"), *id = jstr(o, "actorID"), *name = jstr(o, "name");
        char *ident = type && id && name && !strcmp(type, tc->type) ? ident_of(o) : NULL;
        if (!ident)
            continue;
        sched_t *cur = NULL;
        for (sched_t *s = a->scheds; s && !cur; s = s->next)
            if (s->reminder && !s->dead && s->ident && !strcmp(s->ident, ident) &&
                !strcmp(s->type, type))
                cur = s;
        dapr__free(ident);
        if (cur) {
            cur->seen = true;
            continue;
        }
        sched_t *s = load_one(o);
        if (!s)
            continue;
        sched_t *old = sched_find(a, true, s->type, s->id, s->name);
        if (old)
            old->dead = true;
        s->seen = true;
        s->next = a->scheds;
        a->scheds = s;
        added++;
    }
    for (sched_t *s = a->scheds; s; s = s->next)
        if (s->reminder && !s->dead && !s->seen && !strcmp(s->type, tc->type))
            s->dead = true;
    tc->stale = false;
    if (!tc->reminders_loaded) {
        tc->reminders_loaded = true;
        dapr__log(&a->rt->log, DAPR_LOG_INFO, SCOPE, "loaded %zu reminder(s) of actor type %s",
                  added, tc->type);
    }
    dapr__actors_sched_arm(a);
    return added;
}

static bool same(const json_t *o, const char *id, const char *name)
{
    const char *i = jstr(o, "actorID"), *n = jstr(o, "name");
    return i && n && !strcmp(i, id) && !strcmp(n, name);
}

static bool id_is(const json_t *o, const char *id)
{
    const char *i = jstr(o, "actorID");
    return !id || (i && !strcmp(i, id));
}

/* A read op's answer from the array as it stands (jansson-allocated text). */
static void read_into(const json_t *arr, rem_op_t *op)
{
    free(op->result); /* a previous try (ETag conflict) */
    op->result = NULL;
    size_t i;
    json_t *o, *list = op->kind == REM_LIST ? json_array() : NULL;
    json_array_foreach(arr, i, o)
    {
        if (op->kind == REM_GET && same(o, op->id, op->name) && !op->result)
            op->result = json_dumps(o, JSON_COMPACT);
        else if (list && id_is(o, op->id))
            json_array_append(list, o);
    }
    if (list)
        op->result = json_dumps(list, JSON_COMPACT);
    json_decref(list);
}

/* Whether op removes the stored entry o. */
static bool removes(const rem_op_t *op, const json_t *o)
{
    if (op->kind == REM_DEL_ALL)
        return id_is(o, op->id);
    if (!same(o, op->id, op->name))
        return false;
    if (op->kind != REM_DROP)
        return true;
    char *ident = ident_of(o);
    bool match = ident && !strcmp(ident, op->ident);
    dapr__free(ident);
    return match;
}

/* Apply the ops to the array in order; whether it changed. */
static bool apply(json_t *arr, rem_op_t *ops)
{
    bool changed = false;
    for (rem_op_t *op = ops; op; op = op->next) {
        if (op->kind == REM_GET || op->kind == REM_LIST) {
            read_into(arr, op);
            continue;
        }
        for (size_t i = json_array_size(arr); i-- > 0;) {
            if (removes(op, json_array_get(arr, i))) {
                json_array_remove(arr, i);
                changed = true;
            }
        }
        if (op->kind == REM_PUT) {
            json_error_t e;
            json_t *n = json_loads(op->json, 0, &e);
            if (n && !json_array_append_new(arr, n))
                changed = true;
        }
    }
    return changed;
}

typedef struct cycle {
    dapr__actors_t *a;
    type_cfg_t *tc;
    json_t *arr; /* as written */
} cycle_t;

static void cycle_start(dapr__actors_t *a, type_cfg_t *tc);

static void ops_done(dapr__actors_t *a, rem_op_t *ops, int status, const char *why)
{
    while (ops) {
        rem_op_t *n = ops->next;
        if (status && !ops->cb && !ops->jcb)
            dapr__log(&a->rt->log, DAPR_LOG_WARN, SCOPE, "error updating reminders: %s",
                      why ? why : dapr_strerror(status));
        if (ops->cb)
            ops->cb(status, why, ops->data);
        if (ops->jcb) {
            int st = status ? status : ops->result ? 0 : DAPR_ENOTFOUND;
            ops->jcb(st, status ? why : NULL, st ? NULL : ops->result, ops->data);
        }
        free(ops->result); /* jansson allocated it */
        dapr__free(ops->json);
        dapr__free(ops->id);
        dapr__free(ops->name);
        dapr__free(ops->ident);
        dapr__free(ops);
        ops = n;
    }
}

static void cycle_end(cycle_t *c, int status, const char *why)
{
    dapr__actors_t *a = c->a;
    type_cfg_t *tc = c->tc;
    json_decref(c->arr);
    dapr__free(c);
    rem_op_t *ops = tc->cur;
    tc->cur = NULL;
    tc->busy = false;
    a->pending--;
    ops_done(a, ops, status, why);
    if (a->closing) {
        rem_op_t *rest = tc->ops;
        tc->ops = NULL;
        tc->ops_tail = &tc->ops;
        ops_done(a, rest, DAPR_ECLOSED, "actor runtime is closed");
    } else {
        cycle_start(a, tc);
    }
    dapr__actors_maybe_done(a);
}

static void read_array(cycle_t *c);

static void written(const dapr_error_t *err, void *ud)
{
    cycle_t *c = ud;
    if (err && (err->code == DAPR_EETAG_MISMATCH) && ++c->tc->tries < MAX_TRIES &&
        !c->a->closing) {
        json_decref(c->arr);
        c->arr = NULL;
        read_array(c); /* someone else wrote first: read and apply again */
        return;
    }
    if (err) {
        dapr__log(&c->a->rt->log, DAPR_LOG_WARN, SCOPE, "error saving reminders of %s: %s",
                  c->tc->type, err->message ? err->message : "store error");
        cycle_end(c, DAPR_EIO, "error saving reminders in the actor state store");
        return;
    }
    if (!c->a->closing)
        merge(c->a, c->tc, c->arr);
    cycle_end(c, 0, NULL);
}

static char *array_key(const char *type)
{
    char *key = dapr__malloc(strlen(type) + 9);
    if (key)
        sprintf(key, "actors||%s", type);
    return key;
}

static void got_array(const dapr_error_t *err, const dapr_state_value_t *val, void *ud)
{
    cycle_t *c = ud;
    dapr__actors_t *a = c->a;
    type_cfg_t *tc = c->tc;
    if (err || a->closing) {
        if (err)
            dapr__log(&a->rt->log, DAPR_LOG_WARN, SCOPE, "error loading reminders of %s: %s",
                      tc->type, err->message ? err->message : "store error");
        cycle_end(c, err ? DAPR_EIO : DAPR_ECLOSED,
                  err ? "error reading reminders from the actor state store" : NULL);
        return;
    }
    json_error_t jerr;
    json_t *arr = val->found ? dapr__json_decode(val->data, val->len, &jerr) : NULL;
    if (!json_is_array(arr)) {
        json_decref(arr);
        arr = json_array();
    }
    c->arr = arr;
    if (!arr) {
        cycle_end(c, DAPR_ENOMEM, "out of memory");
        return;
    }
    if (!apply(arr, tc->cur)) {
        merge(a, tc, arr);
        cycle_end(c, 0, NULL);
        return;
    }
    dapr_component_t *st = dapr__actors_store(a);
    char *text = json_dumps(arr, JSON_COMPACT);
    char *key = array_key(tc->type);
    int rc = !st ? DAPR_ESTATE : !text || !key ? DAPR_ENOMEM : 0;
    if (!rc) {
        /* first-write: with the ETag read, or "must not exist yet" */
        dapr_state_item_t it = {.key = key, .value = (const uint8_t *)text,
                                .value_len = strlen(text),
                                .etag = val->found ? val->etag : NULL,
                                .concurrency = DAPR_CONCURRENCY_FIRST_WRITE,
                                .ttl_seconds = DAPR_TTL_UNSET};
        rc = st->state_vt->set(st, &it, written, c);
    }
    free(text); /* jansson allocated it */
    dapr__free(key);
    if (rc) {
        dapr_error_t e = {.code = rc, .message = "cannot write reminders"};
        written(&e, c);
    }
}

static void read_array(cycle_t *c)
{
    dapr_component_t *st = dapr__actors_store(c->a);
    char *key = st ? array_key(c->tc->type) : NULL;
    dapr_state_key_t k = {.key = key};
    int rc = !st ? DAPR_ESTATE : !key ? DAPR_ENOMEM : st->state_vt->get(st, &k, got_array, c);
    dapr__free(key);
    if (rc)
        cycle_end(c, rc, !st ? "actor state store not configured" : "cannot read reminders");
}

/* One cycle per type at a time: the ops queued so far (or a plain read). */
static void cycle_start(dapr__actors_t *a, type_cfg_t *tc)
{
    if (tc->busy || a->closing || (!tc->ops && !tc->reload))
        return;
    cycle_t *c = dapr__calloc(1, sizeof(*c));
    if (!c)
        return; /* the next tick tries again */
    *c = (cycle_t){a, tc, NULL};
    tc->busy = true;
    tc->reload = false;
    tc->tries = 0;
    tc->cur = tc->ops;
    tc->ops = NULL;
    tc->ops_tail = &tc->ops;
    a->pending++;
    read_array(c);
}

static void queue_op(dapr__actors_t *a, type_cfg_t *tc, int kind, const sched_t *s,
                     const char *id, const char *name, const char *ident,
                     dapr__actors_done_cb cb, dapr__actors_json_cb jcb, void *data)
{
    rem_op_t *op = dapr__calloc(1, sizeof(*op));
    dapr__buf_t b = DAPR__BUF_INIT;
    if (s)
        reminder_json(s, &b, false);
    if (op) {
        *op = (rem_op_t){.kind = kind, .cb = cb, .jcb = jcb, .data = data};
        op->id = id ? dapr__strdup(id) : NULL;
        op->name = name ? dapr__strdup(name) : NULL;
        op->ident = ident ? dapr__strdup(ident) : NULL;
        op->json = s && !b.oom ? dapr__strndup(b.data, b.len) : NULL;
    }
    dapr__buf_free(&b);
    if (!op || (id && !op->id) || (name && !op->name) || (ident && !op->ident) ||
        (s && !op->json)) {
        if (op) {
            op->cb = NULL;
            op->jcb = NULL;
            ops_done(a, op, DAPR_ENOMEM, "out of memory");
        }
        if (cb || jcb)
            answer_later2(a, DAPR_ENOMEM, "out of memory", cb, jcb, data);
        return;
    }
    if (a->closing || !dapr__actors_store(a)) {
        op->cb = NULL;
        op->jcb = NULL;
        ops_done(a, op, 0, NULL);
        if (cb || jcb)
            answer_later2(a, a->closing ? DAPR_ECLOSED : DAPR_ESTATE,
                          a->closing ? "actor runtime is closed"
                                     : "actor state store not configured", cb, jcb, data);
        return;
    }
    *tc->ops_tail = op;
    tc->ops_tail = &op->next;
    cycle_start(a, tc);
}

/* ---------------------------------------------------------------------
 * Reading the arrays: at start-up, after table changes, every RELOAD_MS
 * ------------------------------------------------------------------- */

void dapr__actors_reminders_load(dapr__actors_t *a, type_cfg_t *tc)
{
    tc->reload = true;
    cycle_start(a, tc);
}

void dapr__actors_reminders_reload_all(dapr__actors_t *a)
{
    for (size_t i = 0; i < a->n_types; i++) {
        a->types[i].stale = true;
        dapr__actors_reminders_load(a, &a->types[i]);
    }
}

void dapr__actors_reload_tick(uv_timer_t *t)
{
    dapr__actors_t *a = t->data;
    for (size_t i = 0; i < a->n_types && !a->closing; i++)
        dapr__actors_reminders_load(a, &a->types[i]);
}
