/* pubsub.redis subscriptions: a consumer group per consumerID, a blocking
 * XREADGROUP loop on a dedicated connection, a bounded local queue, at most
 * `concurrency` deliveries with the runtime at a time, XACK on DAPR_OK, and
 * XAUTOCLAIM of entries left pending longer than processingTimeout (ours
 * after a nack, or a crashed instance's).
 *
 * Consumer names are unique per subscription of a component instance
 * ("<consumerID>-<random>-<sub id>"): instances of one app share the group
 * and so the work, and nothing a live instance holds is read again by
 * another; what a dead instance held comes back through XAUTOCLAIM. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <uv.h>

#include "core/alloc.h"
#include "core/json.h"
#include "core/strutil.h"
#include "redis_int.h"

#define RETRY_MS 1000
#define BLOCK_DEFAULT_MS 3000

static void maybe_read(psr_sub_t *b);
static void pump(psr_sub_t *b);
static void claim_next(psr_sub_t *b);

/* ---------------------------------------------------------------------
 * References and lists
 * ------------------------------------------------------------------- */

static void sub_free(psr_sub_t *b)
{
    psr_t *s = b->s;
    if (b->prev)
        b->prev->next = b->next;
    else
        s->subs = b->next;
    if (b->next)
        b->next->prev = b->prev;
    dapr__free(b->topic);
    dapr__free(b->group);
    dapr__free(b->consumer);
    dapr__free(b);
}

static void sub_ref(psr_sub_t *b) { b->refs++; }

static void sub_unref(psr_sub_t *b)
{
    if (--b->refs == 0)
        sub_free(b);
}

static void dl_push(psr_dlist_t *l, psr_delivery_t *d)
{
    d->next = NULL;
    d->prev = l->tail;
    if (l->tail)
        l->tail->next = d;
    else
        l->head = d;
    l->tail = d;
    l->n++;
}

static void dl_remove(psr_dlist_t *l, psr_delivery_t *d)
{
    if (d->prev)
        d->prev->next = d->next;
    else
        l->head = d->next;
    if (d->next)
        d->next->prev = d->prev;
    else
        l->tail = d->prev;
    d->prev = d->next = NULL;
    l->n--;
}

static void delivery_free(psr_delivery_t *d)
{
    psr_sub_t *b = d->sub;
    dapr__free(d->md);
    dapr__free(d);
    sub_unref(b);
}

static bool list_holds(const psr_dlist_t *l, const char *id)
{
    for (const psr_delivery_t *d = l->head; d; d = d->next)
        if (!strcmp(d->id, id))
            return true;
    return false;
}

/* Some subscription of this component (same stream and group) holds the
 * entry: queued, or with the runtime, or answered and its ack parked. */
static bool held(const psr_t *s, const psr_sub_t *b, const char *id)
{
    if (dapr__psr_ack_parked(s, b->topic, b->group, id))
        return true; /* answered; its XACK waits for the connection */
    for (const psr_sub_t *o = s->subs; o; o = o->next)
        if (!strcmp(o->topic, b->topic) && !strcmp(o->group, b->group) &&
            (list_holds(&o->queue, id) || list_holds(&o->inflight, id)))
            return true;
    return false;
}

/* ---------------------------------------------------------------------
 * Entries from replies
 * ------------------------------------------------------------------- */

static const redisReply *field(const redisReply *f, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i + 1 < f->elements; i += 2) {
        const redisReply *k = f->element[i];
        if (k->type == REDIS_REPLY_STRING && k->len == n && !memcmp(k->str, name, n))
            return f->element[i + 1]->type == REDIS_REPLY_STRING ? f->element[i + 1] : NULL;
    }
    return NULL;
}

/* Queue one [id, [field, value...]] entry; an entry whose fields are nil was
 * deleted from the stream (trimmed) while pending: acknowledge it away. */
static void take_entry(psr_sub_t *b, const redisReply *e)
{
    if (e->type != REDIS_REPLY_ARRAY || e->elements < 2 ||
        e->element[0]->type != REDIS_REPLY_STRING || e->element[0]->len >= PSR_ID_MAX)
        return;
    const char *id = e->element[0]->str;
    const redisReply *f = e->element[1];
    if (f->type != REDIS_REPLY_ARRAY) {
        dapr__psr_xack(b->s, b->topic, b->group, id);
        return;
    }
    if (held(b->s, b, id))
        return;
    const redisReply *data = field(f, "data"), *md = field(f, "metadata");
    size_t len = data ? data->len : 0;
    psr_delivery_t *d = dapr__calloc(1, sizeof(*d) + len + 1);
    if (!d || (md && !(d->md = dapr__strndup(md->str, md->len)))) {
        /* stays pending: the reclaim brings it back */
        dapr__free(d);
        return;
    }
    d->md_len = md ? md->len : 0;
    memcpy(d->id, id, e->element[0]->len + 1);
    d->len = len;
    if (len)
        memcpy(d->data, data->str, len);
    d->sub = b;
    d->state = PSR_D_QUEUED;
    sub_ref(b);
    dl_push(&b->queue, d);
}

/* ---------------------------------------------------------------------
 * Delivery and acks
 * ------------------------------------------------------------------- */

static void on_ack(void *ctx, int status)
{
    psr_delivery_t *d = ctx;
    if (!d || d->state != PSR_D_INFLIGHT)
        return; /* defensive: a second ack */
    psr_sub_t *b = d->sub;
    sub_ref(b);
    d->state = PSR_D_DONE;
    dl_remove(&b->inflight, d);
    /* any other status leaves the entry pending: reclaimed after
     * processingTimeout */
    if (status == DAPR_OK)
        dapr__psr_xack(b->s, b->topic, b->group, d->id);
    if (!d->in_handler)
        delivery_free(d);
    if (b->active)
        pump(b);
    sub_unref(b);
}

/* The "metadata" field as key/value pairs (string values only). */
static dapr_kv_t *md_pairs(psr_sub_t *b, psr_delivery_t *d, json_t **root, size_t *n)
{
    *n = 0;
    *root = NULL;
    if (!d->md)
        return NULL;
    json_error_t jerr;
    json_t *o = dapr__json_decode(d->md, d->md_len, &jerr);
    if (!json_is_object(o)) {
        dapr_component_log(b->s->self, DAPR_LOG_WARN,
                           "could not extract metadata for message %s", d->id);
        json_decref(o);
        return NULL;
    }
    dapr_kv_t *kv = dapr__calloc(json_object_size(o) + 1, sizeof(*kv));
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v) {
        if (kv && json_is_string(v))
            kv[(*n)++] = (dapr_kv_t){k, json_string_value(v)};
    }
    *root = o;
    return kv;
}

static void deliver(psr_sub_t *b, psr_delivery_t *d)
{
    json_t *root;
    size_t n_md;
    dapr_kv_t *md = md_pairs(b, d, &root, &n_md);
    dapr_pubsub_msg_t m = {
        .topic = b->topic,
        .data = d->data,
        .len = d->len,
        .metadata = md,
        .n_metadata = n_md,
    };
    d->in_handler = true;
    b->handler(&m, on_ack, d, b->hdata);
    d->in_handler = false;
    if (d->state == PSR_D_DONE)
        delivery_free(d); /* acked from inside the handler */
    dapr__free(md);
    json_decref(root);
}

/* Hand queued entries to the runtime while fewer than `concurrency` are
 * with it. Re-entrant calls (an ack or unsubscribe from inside the handler)
 * only ask the running loop to go round again. */
static void pump(psr_sub_t *b)
{
    if (b->pumping) {
        b->repump = true;
        return;
    }
    b->pumping = true;
    sub_ref(b);
    size_t limit = (size_t)b->s->concurrency;
    do {
        b->repump = false;
        while (b->active && b->queue.head && b->inflight.n < limit) {
            psr_delivery_t *d = b->queue.head;
            dl_remove(&b->queue, d);
            d->state = PSR_D_INFLIGHT;
            dl_push(&b->inflight, d);
            deliver(b, d);
        }
    } while (b->repump && b->active);
    b->pumping = false;
    maybe_read(b);
    if (b->queue.n <= (size_t)b->s->queue_depth / 2)
        claim_next(b);
    sub_unref(b);
}

/* ---------------------------------------------------------------------
 * Group creation
 * ------------------------------------------------------------------- */

static void on_group(const redisReply *r, int status, const char *err, void *data)
{
    psr_sub_t *b = data;
    if (status == DAPR_EBACKEND && strncmp(err, "BUSYGROUP", 9) && b->active)
        dapr_component_log(b->s->self, DAPR_LOG_ERROR,
                           "cannot create group %s on stream %s: %s", b->group,
                           b->topic, err);
    sub_unref(b);
}

/* XGROUP CREATE <topic> <group> 0 MKSTREAM; BUSYGROUP (exists) is fine. A
 * new group starts at the beginning of the stream, as Dapr's component
 * creates it: a consumer group that subscribes late still gets what was
 * published before (and kept: maxLenApprox, streamTTL). */
static void create_group(psr_sub_t *b, dapr__redis_conn_t *conn)
{
    if (!conn)
        return;
    const char *argv[6] = {"XGROUP", "CREATE", b->topic, b->group, "0", "MKSTREAM"};
    if (!dapr__redis_cmd(conn, on_group, b, 6, argv, NULL))
        sub_ref(b);
}

/* ---------------------------------------------------------------------
 * Reading: first our own pending entries (id cursor), then '>' blocking.
 * ------------------------------------------------------------------- */

static void on_retry(uv_timer_t *t)
{
    psr_sub_t *b = t->data;
    b->retry_wait = false;
    if (!b->active || !b->rconn || !dapr__redis_conn_ready(b->rconn))
        return;
    create_group(b, b->rconn);
    maybe_read(b);
}

static void retry_later(psr_sub_t *b)
{
    if (!b->active || b->retry_wait)
        return;
    b->retry_wait = true;
    uv_timer_start(&b->retry_timer, on_retry, RETRY_MS, 0);
}

static size_t take_stream_reply(psr_sub_t *b, const redisReply *r)
{
    size_t n = 0;
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
        const redisReply *st = r->element[i];
        if (st->type != REDIS_REPLY_ARRAY || st->elements < 2 ||
            st->element[1]->type != REDIS_REPLY_ARRAY)
            continue;
        const redisReply *es = st->element[1];
        for (size_t j = 0; j < es->elements; j++, n++) {
            take_entry(b, es->element[j]);
            const redisReply *e = es->element[j];
            if (b->own_pending && e->type == REDIS_REPLY_ARRAY && e->elements &&
                e->element[0]->type == REDIS_REPLY_STRING && e->element[0]->len < PSR_ID_MAX)
                memcpy(b->pel_cursor, e->element[0]->str, e->element[0]->len + 1);
        }
    }
    return n;
}

static void on_read(const redisReply *r, int status, const char *err, void *data)
{
    psr_sub_t *b = data;
    b->reading = false;
    if (!b->active || status == DAPR_ECLOSED) {
        sub_unref(b);
        return;
    }
    if (status == DAPR_EBACKEND) {
        /* NOGROUP: the stream or group went away (a server without
         * persistence restarted, or someone deleted the key): recreate */
        dapr_component_log(b->s->self, DAPR_LOG_ERROR,
                           "error reading from stream %s: %s", b->topic, err);
        retry_later(b);
    } else if (status) {
        /* connection lost or timed out: the READY event of the connection
         * (dedicated, or shared through dapr__psr_kick) restarts reading */
    } else {
        size_t n = take_stream_reply(b, r);
        if (b->own_pending && n < b->read_count)
            b->own_pending = false; /* our pending list is read: now new entries */
        pump(b);                    /* reads again */
    }
    sub_unref(b);
}

/* Our own pending entries are read (without BLOCK) on the shared connection,
 * behind the XACKs sent there: an entry the app answered is never read back
 * (after a reconnect the acks parked during the outage go first, see
 * dapr__psr_kick). New entries ('>', blocking) come on the dedicated one. */
static dapr__redis_conn_t *read_conn(psr_sub_t *b)
{
    return b->own_pending ? b->s->conn : b->rconn;
}

static void maybe_read(psr_sub_t *b)
{
    psr_t *s = b->s;
    dapr__redis_conn_t *conn = read_conn(b);
    if (!b->active || b->reading || b->retry_wait || !b->rconn || !conn ||
        !dapr__redis_conn_ready(conn) || b->queue.n >= (size_t)s->queue_depth)
        return;
    char count[24], block[24];
    b->read_count = (size_t)s->queue_depth - b->queue.n;
    snprintf(count, sizeof(count), "%zu", b->read_count);
    int64_t bms = s->conf.read_timeout > 0 ? s->conf.read_timeout : BLOCK_DEFAULT_MS;
    snprintf(block, sizeof(block), "%lld", (long long)bms);
    const char *argv[12] = {"XREADGROUP", "GROUP", b->group, b->consumer, "COUNT", count};
    int n = 6;
    if (!b->own_pending) {
        argv[n++] = "BLOCK";
        argv[n++] = block;
    }
    argv[n++] = "STREAMS";
    argv[n++] = b->topic;
    argv[n++] = b->own_pending ? b->pel_cursor : ">";
    int rc = dapr__redis_cmd(conn, on_read, b, n, argv, NULL);
    if (!rc) {
        b->reading = true;
        sub_ref(b);
    } else if (rc != DAPR_EUNAVAIL && rc != DAPR_ECLOSED) {
        retry_later(b);
    }
}

/* ---------------------------------------------------------------------
 * Reclaim: XAUTOCLAIM <topic> <group> <consumer> <processingTimeout>
 * <cursor> COUNT <room>, every redeliverInterval, on the shared connection.
 * ------------------------------------------------------------------- */

static void on_claim(const redisReply *r, int status, const char *err, void *data)
{
    psr_sub_t *b = data;
    b->claiming = false;
    if (b->active && status == DAPR_EBACKEND && strncmp(err, "NOGROUP", 7))
        dapr_component_log(b->s->self, DAPR_LOG_WARN,
                           "error claiming pending messages on %s: %s", b->topic,
                           err);
    if (b->active && !status && r->type == REDIS_REPLY_ARRAY && r->elements >= 2 &&
        r->element[0]->type == REDIS_REPLY_STRING && r->element[0]->len < PSR_ID_MAX) {
        const redisReply *es = r->element[1];
        for (size_t i = 0; es->type == REDIS_REPLY_ARRAY && i < es->elements; i++)
            take_entry(b, es->element[i]);
        /* the sweep goes on from the cursor while there is room; when the
         * queue fills, pump() resumes it as deliveries finish (not the next
         * tick: that would reclaim at most a queue per redeliverInterval) */
        b->sweep_more = strcmp(r->element[0]->str, "0-0") != 0;
        memcpy(b->claim_cursor, r->element[0]->str, r->element[0]->len + 1);
        pump(b);
        claim_next(b);
    } else {
        b->sweep_more = false; /* the next tick starts over */
    }
    sub_unref(b);
}

static void claim_next(psr_sub_t *b)
{
    psr_t *s = b->s;
    if (!b->active || b->claiming || !b->sweep_more || !s->conn ||
        b->queue.n >= (size_t)s->queue_depth)
        return;
    char idle[24], count[24];
    snprintf(idle, sizeof(idle), "%lld", (long long)s->processing_timeout);
    snprintf(count, sizeof(count), "%zu", (size_t)s->queue_depth - b->queue.n);
    const char *argv[8] = {"XAUTOCLAIM", b->topic, b->group, b->consumer, idle,
                           b->claim_cursor, "COUNT", count};
    if (!dapr__redis_cmd(s->conn, on_claim, b, 8, argv, NULL)) {
        b->claiming = true;
        sub_ref(b);
    } else {
        b->sweep_more = false; /* not connected: the next tick starts over */
    }
}

static void on_reclaim_timer(uv_timer_t *t)
{
    psr_sub_t *b = t->data;
    if (b->claiming)
        return;
    if (!b->sweep_more) { /* else the last sweep goes on from its cursor */
        snprintf(b->claim_cursor, sizeof(b->claim_cursor), "0-0");
        b->sweep_more = true;
    }
    claim_next(b);
}

/* ---------------------------------------------------------------------
 * The dedicated connection
 * ------------------------------------------------------------------- */

static void on_rconn_event(dapr__redis_conn_t *conn, dapr__redis_event_t ev, const char *detail,
                           void *data)
{
    psr_sub_t *b = data;
    dapr_component_t *c = b->s->self;
    if (!b->active)
        return;
    if (ev == DAPR__REDIS_READY) {
        if (b->was_down)
            dapr_component_log(c, DAPR_LOG_INFO, "reading %s again", b->topic);
        b->was_down = false;
        /* a reply lost with the old connection left entries in our pending
         * list: read it first */
        b->own_pending = true;
        snprintf(b->pel_cursor, sizeof(b->pel_cursor), "0");
        create_group(b, conn);
        maybe_read(b);
    } else {
        if (!b->was_down || ev == DAPR__REDIS_DISCONNECTED)
            dapr_component_log(c, DAPR_LOG_WARN, "subscription to %s: %s",
                               b->topic, detail);
        b->was_down = true;
    }
}

static void res_closed(psr_sub_t *b)
{
    psr_t *s = b->s;
    b->open_res--;
    sub_unref(b);
    dapr__psr_maybe_finish(s);
}

static void on_rconn_closed(void *data) { res_closed(data); }

static void on_timer_closed(uv_handle_t *h) { res_closed(h->data); }

static int open_rconn(psr_sub_t *b)
{
    psr_t *s = b->s;
    int64_t bms = s->conf.read_timeout > 0 ? s->conf.read_timeout : BLOCK_DEFAULT_MS;
    dapr__redis_opts_t o = {.on_event = on_rconn_event, .event_data = b};
    dapr__redis_settings_opts(&s->conf, &o);
    /* the blocking read plus the usual allowance */
    o.cmd_timeout_ms = bms + (s->conf.read_timeout > 0 ? s->conf.read_timeout : 3000);
    char err[256];
    return dapr__redis_conn_new(&b->rconn, dapr_component_loop(s->self), &o, err, sizeof(err));
}

/* ---------------------------------------------------------------------
 * Subscribe / unsubscribe
 * ------------------------------------------------------------------- */

static const char *req_md(const dapr_pubsub_sub_req_t *req, const char *name)
{
    for (size_t i = 0; i < req->n_metadata; i++)
        if (req->metadata[i].key && !dapr__strcasecmp(req->metadata[i].key, name))
            return req->metadata[i].value;
    return NULL;
}

static psr_sub_t *sub_new(psr_t *s, const dapr_pubsub_sub_req_t *req)
{
    psr_sub_t *b = dapr__calloc(1, sizeof(*b));
    if (!b)
        return NULL;
    const char *group = req_md(req, "consumerID");
    if (!group || !*group)
        group = s->consumer_id;
    b->s = s;
    b->id = ++s->next_sub_id;
    b->topic = dapr__strdup(req->topic);
    b->group = dapr__strdup(group);
    b->consumer = dapr__malloc(strlen(group) + 48);
    if (!b->topic || !b->group || !b->consumer) {
        dapr__free(b->topic);
        dapr__free(b->group);
        dapr__free(b->consumer);
        dapr__free(b);
        return NULL;
    }
    sprintf(b->consumer, "%s-%s-%llu", group, s->instance, (unsigned long long)b->id);
    snprintf(b->claim_cursor, sizeof(b->claim_cursor), "0-0");
    b->active = true;
    b->refs = 1;
    b->next = s->subs;
    if (s->subs)
        s->subs->prev = b;
    s->subs = b;
    return b;
}

static void start_timers(psr_sub_t *b)
{
    psr_t *s = b->s;
    uv_loop_t *loop = dapr_component_loop(s->self);
    uv_timer_init(loop, &b->reclaim_timer);
    uv_timer_init(loop, &b->retry_timer);
    b->reclaim_timer.data = b->retry_timer.data = b;
    b->open_res += 2;
    b->refs += 2;
    if (s->processing_timeout > 0 && s->redeliver_interval > 0)
        uv_timer_start(&b->reclaim_timer, on_reclaim_timer, 0, (uint64_t)s->redeliver_interval);
}

int dapr__psr_subscribe(dapr_component_t *c, const dapr_pubsub_sub_req_t *req,
                        dapr_pubsub_handler_fn handler, void *hdata, uint64_t *sub_id)
{
    psr_t *s = dapr_component_priv(c);
    if (!s->conn || s->closing)
        return DAPR_ECLOSED;
    if (!req || !req->topic || !*req->topic || !handler || !sub_id)
        return DAPR_EINVAL;
    psr_sub_t *b = sub_new(s, req);
    if (!b)
        return DAPR_ENOMEM;
    int rc = open_rconn(b);
    if (rc) {
        sub_unref(b);
        return rc == DAPR_EINVAL ? DAPR_EINVAL : DAPR_ENOMEM;
    }
    b->open_res++;
    b->refs++;
    b->handler = handler;
    b->hdata = hdata;
    b->own_pending = true;
    snprintf(b->pel_cursor, sizeof(b->pel_cursor), "0");
    /* now, on the shared connection: our own publishes that follow are
     * ordered after it and so reach the group */
    create_group(b, s->conn);
    start_timers(b);
    *sub_id = b->id;
    return DAPR_OK;
}

/* No handler call after this; entries queued here stay pending in Redis. */
static void sub_stop(psr_sub_t *b)
{
    if (!b->active)
        return;
    b->active = false;
    uv_close((uv_handle_t *)&b->reclaim_timer, on_timer_closed);
    uv_close((uv_handle_t *)&b->retry_timer, on_timer_closed);
    dapr__redis_conn_t *rconn = b->rconn;
    b->rconn = NULL;
    dapr__redis_conn_close(rconn, on_rconn_closed, b);
    while (b->queue.head) {
        psr_delivery_t *d = b->queue.head;
        dl_remove(&b->queue, d);
        delivery_free(d);
    }
    sub_unref(b); /* the subscription's own reference */
}

int dapr__psr_unsubscribe(dapr_component_t *c, uint64_t sub_id)
{
    psr_t *s = dapr_component_priv(c);
    for (psr_sub_t *b = s->subs; b; b = b->next) {
        if (b->id == sub_id && b->active) {
            sub_stop(b);
            return DAPR_OK;
        }
    }
    return DAPR_ENOTFOUND;
}

void dapr__psr_kick(psr_t *s)
{
    for (psr_sub_t *b = s->subs; b; b = b->next)
        if (b->active)
            maybe_read(b);
}

void dapr__psr_stop_all(psr_t *s)
{
    /* a stopped sub stays linked at least until its timers and connection
     * have closed, which never happens synchronously */
    for (psr_sub_t *b = s->subs; b; b = b->next)
        sub_stop(b);
}

bool dapr__psr_subs_idle(const psr_t *s)
{
    for (const psr_sub_t *b = s->subs; b; b = b->next)
        if (b->open_res)
            return false;
    return true;
}

void dapr__psr_free_all(psr_t *s)
{
    while (s->subs) {
        psr_sub_t *b = s->subs;
        if (b->inflight.n)
            dapr_component_log(s->self, DAPR_LOG_WARN,
                               "closed with %zu unanswered deliveries on %s",
                               b->inflight.n, b->topic);
        while (b->inflight.head) {
            psr_delivery_t *d = b->inflight.head;
            dl_remove(&b->inflight, d);
            d->state = PSR_D_DONE;
            dapr__free(d->md);
            dapr__free(d);
        }
        sub_free(b);
    }
}
