/* The in-process app (app_inproc.h): the channel, its call queue, and the
 * dispatch of GET dapr/config, invoke handlers and actor turns. */
#include "app_inproc.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "app_channel.h"
#include "core/alloc.h"
#include "core/json.h"
#include "core/strutil.h"
#include "runtime_int.h"

#define SCOPE "dapr.runtime.channel"
/* calls handed to the program per loop iteration, so a flood of calls
 * cannot starve the loop's I/O */
#define BATCH 256

/* ---------------------------------------------------------------------
 * Registry
 * ------------------------------------------------------------------- */

dapr__inproc_t *dapr__inproc_get(dapr_runtime_t *rt)
{
    if (!rt->inproc) {
        rt->inproc = dapr__calloc(1, sizeof(*rt->inproc));
        if (rt->inproc)
            rt->inproc->rt = rt;
    }
    return rt->inproc;
}

static void list_push(dapr__ip_list_t *l, struct dapr_invocation *c)
{
    c->list = l;
    c->next = NULL;
    c->prev = l->tail;
    if (l->tail)
        l->tail->next = c;
    else
        l->head = c;
    l->tail = c;
}

static void list_remove(struct dapr_invocation *c)
{
    dapr__ip_list_t *l = c->list;
    if (!l)
        return;
    if (c->prev)
        c->prev->next = c->next;
    else
        l->head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    else
        l->tail = c->prev;
    c->prev = c->next = NULL;
    c->list = NULL;
}

static void call_free(struct dapr_invocation *c)
{
    list_remove(c);
    dapr__pool_destroy(&c->pool);
    dapr__buf_free(&c->body);
    dapr__free(c->caller);
    dapr__free(c);
}

void dapr__inproc_free(dapr__inproc_t *ip)
{
    if (!ip)
        return;
    while (ip->orphans.head) /* never answered by the program */
        call_free(ip->orphans.head);
    for (size_t i = 0; i < ip->n_handlers; i++)
        dapr__free(ip->handlers[i].method);
    dapr__free(ip->handlers);
    for (size_t i = 0; i < ip->n_types; i++)
        dapr__free(ip->types[i].type);
    dapr__free(ip->types);
    while (ip->subs) {
        struct dapr_subscription_handle *h = ip->subs;
        ip->subs = h->next;
        dapr__inproc_sub_free(h);
    }
    dapr__free(ip);
}

/* ---------------------------------------------------------------------
 * Answers
 * ------------------------------------------------------------------- */

static void respond(struct dapr_invocation *c, int status, const char *ctype,
                    const dapr_kv_t *hdrs, size_t n, const uint8_t *body, size_t len)
{
    dapr__invoke_resp_t r = {.http_status = status, .content_type = ctype, .headers = hdrs,
                             .n_headers = n, .body = body ? body : (const uint8_t *)"",
                             .body_len = len};
    list_remove(c);
    c->cb(NULL, &r, c->data);
}

static void fail(struct dapr_invocation *c, dapr__errid_t id, const char *why)
{
    dapr_runtime_t *rt = c->ip->rt;
    dapr__apierr_t *e = dapr__apierr_new(id, "failed to invoke, id: %s, err: %s",
                                         rt->opt.app_id ? rt->opt.app_id : "", why);
    list_remove(c);
    c->cb(e, NULL, c->data);
    dapr__apierr_free(e);
    call_free(c);
}

static void answer_json(struct dapr_invocation *c, int status, const dapr__buf_t *b)
{
    if (b->oom) {
        fail(c, DAPR_ERR_DIRECT_INVOKE, "out of memory");
        return;
    }
    respond(c, status, "application/json", NULL, 0, (const uint8_t *)b->data, b->len);
    call_free(c);
}

int dapr__inproc_answer(struct dapr_invocation *c, int status, const char *content_type,
                        const dapr_kv_t *headers, size_t n_headers, const uint8_t *body,
                        size_t len)
{
    if (!c->ip) {
        call_free(c); /* answered with 500 when the channel closed */
        return DAPR_ECLOSED;
    }
    respond(c, status > 0 ? status : 200, content_type, headers, n_headers, body, len);
    call_free(c);
    return 0;
}

/* ---------------------------------------------------------------------
 * GET dapr/config: the actor types, as an app's /dapr/config
 * ------------------------------------------------------------------- */

static void put_ms(json_t *o, const char *k, uint64_t ms)
{
    char v[32];
    if (!ms)
        return;
    snprintf(v, sizeof(v), "%llums", (unsigned long long)ms);
    json_object_set_new(o, k, json_string(v));
}

static json_t *type_settings(const dapr_actor_config_t *cfg)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    put_ms(o, "actorIdleTimeout", cfg->idle_timeout_ms);
    put_ms(o, "actorScanInterval", cfg->scan_interval_ms);
    put_ms(o, "drainOngoingCallTimeout", cfg->drain_timeout_ms);
    json_object_set_new(o, "drainRebalancedActors", json_boolean(!cfg->no_drain_rebalanced));
    json_t *re = json_object();
    if (re) {
        json_object_set_new(re, "enabled", json_boolean(cfg->reentrancy));
        if (cfg->max_stack_depth > 0)
            json_object_set_new(re, "maxStackDepth", json_integer(cfg->max_stack_depth));
        json_object_set_new(o, "reentrancy", re);
    }
    return o;
}

static void answer_config(struct dapr_invocation *c)
{
    dapr__inproc_t *ip = c->ip;
    if (!ip->n_types) {
        respond(c, 404, NULL, NULL, 0, NULL, 0);
        call_free(c);
        return;
    }
    /* the first type's settings are the app's; each type also gets its own
     * entitiesConfig entry, as a multi-type app declares them */
    json_t *cfg = type_settings(&ip->types[0].cfg);
    json_t *ents = json_array(), *per = json_array();
    for (size_t i = 0; cfg && ents && per && i < ip->n_types; i++) {
        json_array_append_new(ents, json_string(ip->types[i].type));
        json_t *t = type_settings(&ip->types[i].cfg);
        if (t) {
            json_object_set_new(t, "entities", json_pack("[s]", ip->types[i].type));
            json_array_append_new(per, t);
        }
    }
    dapr__buf_t b = DAPR__BUF_INIT;
    if (cfg && ents && per) {
        json_object_set_new(cfg, "entities", ents);
        json_object_set_new(cfg, "entitiesConfig", per);
        ents = per = NULL;
        if (dapr__json_go_encode(cfg, &b))
            b.oom = true;
    } else {
        b.oom = true;
    }
    json_decref(ents);
    json_decref(per);
    json_decref(cfg);
    answer_json(c, 200, &b);
    dapr__buf_free(&b);
}

/* ---------------------------------------------------------------------
 * Invoke handlers
 * ------------------------------------------------------------------- */

static const dapr__ip_handler_t *find_handler(const dapr__inproc_t *ip, const char *m)
{
    const dapr__ip_handler_t *best = NULL;
    size_t best_len = 0;
    for (size_t i = 0; i < ip->n_handlers; i++) {
        const dapr__ip_handler_t *h = &ip->handlers[i];
        size_t l = strlen(h->method);
        if (!h->prefix) {
            if (!strcmp(h->method, m))
                return h; /* the whole path: nothing matches longer */
            continue;
        }
        if (!strncmp(m, h->method, l) && (!best || l > best_len)) {
            best = h;
            best_len = l;
        }
    }
    return best;
}

/* The request as the program sees it: copies in c->pool, so a call
 * orphaned by a closing channel still points at live memory. */
static int make_public(struct dapr_invocation *c, const char *method)
{
    dapr__pool_t *p = &c->pool;
    const dapr__invoke_req_t *q = &c->req;
    dapr_kv_t *h = dapr__pool_alloc(p, (q->n_headers ? q->n_headers : 1) * sizeof(*h));
    if (!h)
        return DAPR_ENOMEM;
    size_t n = 0;
    for (size_t i = 0; i < q->n_headers; i++) {
        if (!q->headers[i].key || !dapr__invoke_header_passed(q->headers[i].key))
            continue;
        h[n].key = dapr__pool_strdup(p, q->headers[i].key);
        h[n].value = dapr__pool_strdup(p, q->headers[i].value ? q->headers[i].value : "");
        if (!h[n].key || !h[n].value)
            return DAPR_ENOMEM;
        n++;
    }
    const uint8_t *body = c->body_read ? (const uint8_t *)c->body.data : q->body;
    size_t len = c->body_read ? c->body.len : q->body_len;
    uint8_t *b = dapr__pool_alloc(p, len + 1);
    if (!b)
        return DAPR_ENOMEM;
    if (len)
        memcpy(b, body, len);
    b[len] = 0;
    c->pub = (dapr_invoke_request_t){
        .method = dapr__pool_strdup(p, method),
        .verb = dapr__pool_strdup(p, q->verb && *q->verb ? q->verb : "POST"),
        .query = q->query && *q->query ? dapr__pool_strdup(p, q->query) : NULL,
        .content_type = q->content_type ? dapr__pool_strdup(p, q->content_type) : NULL,
        .headers = h, .n_headers = n, .body = b, .body_len = len};
    if (!c->pub.method || !c->pub.verb || (q->query && *q->query && !c->pub.query) ||
        (q->content_type && !c->pub.content_type))
        return DAPR_ENOMEM;
    return 0;
}

static void call_handler(struct dapr_invocation *c, const char *m)
{
    const dapr__ip_handler_t *h = find_handler(c->ip, m);
    if (!h) {
        /* as an app without the route */
        respond(c, 404, NULL, NULL, 0, NULL, 0);
        call_free(c);
        return;
    }
    if (make_public(c, m)) {
        fail(c, DAPR_ERR_DIRECT_INVOKE, "out of memory");
        return;
    }
    dapr_invoke_handler fn = h->fn;
    void *data = h->data;
    list_push(&c->ip->held, c);
    /* the handler may answer (and free c) before it returns */
    fn(c, &c->pub, c->caller, data);
}

/* ---------------------------------------------------------------------
 * Actor turns
 * ------------------------------------------------------------------- */

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* One percent-encoded path segment (up to '/' or the end), decoded. */
static char *segment(dapr__pool_t *p, const char **s)
{
    const char *b = *s, *e = strchr(b, '/');
    size_t n = e ? (size_t)(e - b) : strlen(b);
    char *o = dapr__pool_alloc(p, n + 1);
    if (!o)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (b[i] == '%' && i + 2 < n && hexval(b[i + 1]) >= 0 && hexval(b[i + 2]) >= 0) {
            o[k++] = (char)(hexval(b[i + 1]) * 16 + hexval(b[i + 2]));
            i += 2;
        } else {
            o[k++] = b[i];
        }
    }
    o[k] = 0;
    *s = e ? e + 1 : b + n;
    return o;
}

static const dapr__ip_actor_type_t *find_type(const dapr__inproc_t *ip, const char *type)
{
    for (size_t i = 0; i < ip->n_types; i++)
        if (!strcmp(ip->types[i].type, type))
            return &ip->types[i];
    return NULL;
}

/* A timer's or reminder's body: {"data":..., "dueTime":..., "period":...};
 * the turn gets `data` as JSON text (empty when null or absent). */
static int schedule_data(struct dapr_invocation *c, const uint8_t *body, size_t len)
{
    json_error_t je;
    json_t *j = len ? json_loadb((const char *)body, len, 0, &je) : NULL;
    json_t *d = json_is_object(j) ? json_object_get(j, "data") : NULL;
    c->turn.body = (const uint8_t *)"";
    c->turn.body_len = 0;
    if (d && !json_is_null(d)) {
        char *txt = json_dumps(d, JSON_COMPACT | JSON_ENCODE_ANY);
        char *cp = txt ? dapr__pool_strdup(&c->pool, txt) : NULL;
        free(txt); /* jansson's allocator */
        if (!cp) {
            json_decref(j);
            return DAPR_ENOMEM;
        }
        c->turn.body = (const uint8_t *)cp;
        c->turn.body_len = strlen(cp);
    }
    json_decref(j);
    return 0;
}

/* actors/{type}/{id}[/method/...]: true when it was an actor call of a
 * registered type (handled), false to go on to the invoke handlers. */
static bool actor_call(struct dapr_invocation *c, const char *m, const char *verb)
{
    dapr__inproc_t *ip = c->ip;
    bool put = !strcmp(verb, "PUT"), del = !strcmp(verb, "DELETE");
    if (!ip->n_types || strncmp(m, "actors/", 7) || (!put && !del))
        return false;
    const char *s = m + 7;
    char *type = segment(&c->pool, &s);
    char *id = type ? segment(&c->pool, &s) : NULL;
    const dapr__ip_actor_type_t *t = type ? find_type(ip, type) : NULL;
    if (!t || !id)
        return false;
    if (del && !*s) {
        if (t->cbs.on_deactivate)
            t->cbs.on_deactivate(type, id, t->data);
        respond(c, 200, NULL, NULL, 0, NULL, 0);
        call_free(c);
        return true;
    }
    if (!put || strncmp(s, "method/", 7))
        return false;
    s += 7;
    dapr_actor_turn_info_t *info = &c->turn;
    *info = (dapr_actor_turn_info_t){.kind = DAPR_ACTOR_METHOD, .type = type, .id = id};
    const uint8_t *body = c->body_read ? (const uint8_t *)c->body.data : c->req.body;
    size_t len = c->body_read ? c->body.len : c->req.body_len;
    int rc = 0;
    if (!strncmp(s, "timer/", 6) || !strncmp(s, "remind/", 7)) {
        bool timer = s[0] == 't';
        info->kind = timer ? DAPR_ACTOR_TIMER : DAPR_ACTOR_REMINDER;
        info->name = dapr__pool_strdup(&c->pool, s + (timer ? 6 : 7));
        rc = info->name ? schedule_data(c, body, len) : DAPR_ENOMEM;
    } else {
        info->name = segment(&c->pool, &s);
        uint8_t *b = dapr__pool_alloc(&c->pool, len + 1);
        if (b) {
            if (len)
                memcpy(b, body, len);
            b[len] = 0;
        }
        info->body = b;
        info->body_len = len;
        info->content_type =
            c->req.content_type ? dapr__pool_strdup(&c->pool, c->req.content_type) : NULL;
        rc = !info->name || !b || (c->req.content_type && !info->content_type) ? DAPR_ENOMEM : 0;
    }
    if (rc) {
        fail(c, DAPR_ERR_DIRECT_INVOKE, "out of memory");
        return true;
    }
    list_push(&ip->held, c);
    /* on_turn may finish the turn (and free c) before it returns */
    t->cbs.on_turn((dapr_actor_turn_t *)c, info, t->data);
    return true;
}

/* ---------------------------------------------------------------------
 * Dispatch, from the loop
 * ------------------------------------------------------------------- */

static void deliver(struct dapr_invocation *c, const char *rest)
{
    dapr__buf_t b = DAPR__BUF_INIT;
    const uint8_t *body = c->body_read ? (const uint8_t *)c->body.data : c->req.body;
    size_t len = c->body_read ? c->body.len : c->req.body_len;
    int status = dapr__inproc_deliver(c->ip, rest, &c->req, body, len, &b);
    answer_json(c, status, &b);
    dapr__buf_free(&b);
}

static void dispatch(struct dapr_invocation *c)
{
    const char *m = c->req.method ? c->req.method : "";
    while (*m == '/')
        m++;
    const char *verb = c->req.verb && *c->req.verb ? c->req.verb : "POST";
    bool get = !strcmp(verb, "GET");
    if (get && !strcmp(m, "dapr/config")) {
        answer_config(c);
        return;
    }
    if (get && !strcmp(m, "dapr/subscribe")) {
        dapr__buf_t b = DAPR__BUF_INIT;
        if (dapr__inproc_subs_json(c->ip, &b))
            b.oom = true;
        answer_json(c, 200, &b);
        dapr__buf_free(&b);
        return;
    }
    size_t sl = strlen(DAPR__INPROC_SUB);
    if (!strcmp(verb, "POST") && !strncmp(m, DAPR__INPROC_SUB, sl)) {
        deliver(c, m + sl);
        return;
    }
    if (actor_call(c, m, verb))
        return;
    call_handler(c, m);
}

static void on_idle(uv_idle_t *h)
{
    dapr__inproc_t *ip = h->data;
    for (int i = 0; i < BATCH && ip->queue.head; i++) {
        struct dapr_invocation *c = ip->queue.head;
        list_remove(c);
        dispatch(c);
    }
    if (!ip->queue.head)
        uv_idle_stop(&ip->idle);
}

static void enqueue(struct dapr_invocation *c)
{
    dapr__inproc_t *ip = c->ip;
    list_push(&ip->queue, c);
    uv_idle_start(&ip->idle, on_idle);
}

/* --- a streamed request body, read whole first --- */

static void in_data(void *ud, const void *data, size_t len)
{
    struct dapr_invocation *c = ud;
    dapr_runtime_t *rt = c->ip->rt;
    if (c->body.len + len > (size_t)rt->opt.max_body_size) {
        dapr__istream_t *in = c->in;
        c->in = NULL;
        in->cancel(in);
        dapr__apierr_t *e = dapr__apierr_new(DAPR_ERR_BODY_TOO_LARGE, "request body too large: "
                                             "over the %lld bytes allowed (--max-body-size)",
                                             (long long)rt->opt.max_body_size);
        list_remove(c);
        c->cb(e, NULL, c->data);
        dapr__apierr_free(e);
        call_free(c);
        return;
    }
    dapr__buf_append(&c->body, data, len);
}

static void in_end(void *ud)
{
    struct dapr_invocation *c = ud;
    c->in = NULL;
    if (c->body.oom) {
        fail(c, DAPR_ERR_DIRECT_INVOKE, "out of memory");
        return;
    }
    c->body_read = true;
    list_remove(c);
    enqueue(c);
}

static void in_error(void *ud, int code)
{
    struct dapr_invocation *c = ud;
    c->in = NULL;
    char why[96];
    snprintf(why, sizeof(why), "reading the request body: %s", dapr_strerror(code));
    fail(c, DAPR_ERR_DIRECT_INVOKE, why);
}

static const dapr__istream_sink_t in_sink = {in_data, in_end, in_error};

void dapr__inproc_invoke(dapr__inproc_t *ip, dapr__pool_t *pool, const dapr__invoke_req_t *req,
                         const char *caller, dapr__invoke_cb cb, void *data)
{
    (void)pool;
    /* this runtime's own calls (dapr_invoke, its API ports) pass its app id
     * itself: the program sees no caller for them (invoke.h) */
    bool local = !caller || caller == ip->rt->opt.app_id;
    struct dapr_invocation *c = dapr__calloc(1, sizeof(*c));
    char *cp = c && !local ? dapr__strdup(caller) : NULL;
    if (!c || (!local && !cp) || !ip->open) {
        dapr__free(c);
        dapr__free(cp);
        if (req->body_stream)
            req->body_stream->cancel(req->body_stream);
        dapr__apierr_t *e = dapr__apierr_new(
            DAPR_ERR_DIRECT_INVOKE, "failed to invoke, id: %s, err: %s",
            ip->rt->opt.app_id ? ip->rt->opt.app_id : "",
            ip->open ? "out of memory" : "the in-process app channel is closed");
        cb(e, NULL, data);
        dapr__apierr_free(e);
        return;
    }
    *c = (struct dapr_invocation){.ip = ip, .cb = cb, .data = data, .req = *req, .caller = cp,
                                  .body = DAPR__BUF_INIT};
    c->req.body_stream = NULL;
    dapr__pool_init(&c->pool, 512);
    const char *m = req->method ? req->method : "";
    while (*m == '/')
        m++;
    if (!req->body_stream && req->verb && !strcmp(req->verb, "GET") &&
        (!strcmp(m, "dapr/config") || !strcmp(m, "dapr/subscribe"))) {
        /* no program code runs for these: answered at once, so the actor
         * types and the subscriptions made before start are in place when
         * the start callback runs */
        dispatch(c);
        return;
    }
    if (req->body_stream) {
        c->in = req->body_stream;
        if (c->in->length > 0)
            dapr__buf_reserve(&c->body, (size_t)c->in->length);
        list_push(&ip->reading, c);
        c->in->read(c->in, &in_sink, c);
        return;
    }
    enqueue(c);
}

/* ---------------------------------------------------------------------
 * Open and close
 * ------------------------------------------------------------------- */

int dapr__inproc_open(dapr_runtime_t *rt)
{
    dapr__inproc_t *ip = dapr__inproc_get(rt);
    if (!ip)
        return DAPR_ENOMEM;
    if (ip->open)
        return 0;
    dapr__appch_t *ch = NULL;
    int rc = dapr__appch_create_inproc(rt, ip, &ch);
    if (rc)
        return rc;
    uv_idle_init(rt->loop, &ip->idle);
    ip->idle.data = ip;
    ip->idle_init = true;
    ip->open = true;
    rt->appch = ch;
    dapr__log(&rt->log, DAPR_LOG_INFO, "dapr.runtime", "app channel created for the in-process "
              "app: %zu invoke handler(s), %zu actor type(s)", ip->n_handlers, ip->n_types);
    return 0;
}

static void idle_closed(uv_handle_t *h)
{
    dapr__inproc_t *ip = h->data;
    void (*done)(void *) = ip->close_done;
    void *ud = ip->close_ud;
    ip->close_done = NULL;
    if (done)
        done(ud);
}

void dapr__inproc_close(dapr__inproc_t *ip, void (*done)(void *ud), void *ud)
{
    ip->open = false;
    ip->close_done = done;
    ip->close_ud = ud;
    while (ip->reading.head) {
        struct dapr_invocation *c = ip->reading.head;
        dapr__istream_t *in = c->in;
        c->in = NULL;
        if (in)
            in->cancel(in);
        fail(c, DAPR_ERR_DIRECT_INVOKE, "the in-process app channel is closed");
    }
    while (ip->queue.head)
        fail(ip->queue.head, DAPR_ERR_DIRECT_INVOKE, "the in-process app channel is closed");
    /* with the program: answered 500 now, freed when the program answers */
    while (ip->held.head) {
        struct dapr_invocation *c = ip->held.head;
        list_remove(c);
        c->ip = NULL;
        list_push(&ip->orphans, c);
        static const char msg[] = "the runtime stopped before the app answered";
        dapr__invoke_resp_t r = {.http_status = 500, .content_type = "text/plain",
                                 .body = (const uint8_t *)msg, .body_len = sizeof(msg) - 1};
        c->cb(NULL, &r, c->data);
    }
    if (ip->idle_init) {
        ip->idle_init = false;
        uv_close((uv_handle_t *)&ip->idle, idle_closed);
        return;
    }
    ip->close_done = NULL;
    if (done)
        done(ud);
}
