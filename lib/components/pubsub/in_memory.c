/* pubsub.in-memory: topics inside one runtime, on its loop. Every
 * subscription of a topic gets its own copy of each message (fan-out).
 * Delivery is asynchronous (a zero timer pumps the queues, never from inside
 * publish); a message stays with the broker until the runtime acks it with
 * DAPR_OK, and a nacked one is delivered again after `redeliveryInterval`.
 * Nothing is persisted: messages published to a topic nobody subscribes to
 * are dropped, as in Dapr's in-memory broker.
 *
 * Bounds: at most `maxQueue` messages held per component (queued, in flight
 * or waiting for redelivery; publish fails once full) and at most
 * `concurrency` deliveries in flight per subscription. */
#include <stdio.h>
#include <string.h>
#include <uv.h>

#include "components/registry.h"
#include "core/alloc.h"
#include "core/strutil.h"
#include "dapr/component.h"

typedef struct msg {
    size_t refs;
    char *topic;
    char *content_type;
    uint8_t *data;
    size_t len;
    dapr_kv_t *md;
    size_t n_md;
} msg_t;

typedef struct sub sub_t;

/* One message for one subscription. */
typedef struct delivery {
    struct delivery *next;
    sub_t *sub;
    msg_t *msg;
    uint64_t due_ms; /* not before (loop time), for redeliveries */
    bool in_flight;
} delivery_t;

struct sub {
    struct sub *next;
    uint64_t id;
    char *topic;
    dapr_pubsub_handler_fn handler;
    void *hdata;
    delivery_t *head, *tail; /* waiting, FIFO */
    size_t in_flight;
    bool gone; /* unsubscribed while deliveries were still out */
};

typedef struct mem_ps {
    int64_t max_queue;
    int64_t concurrency;
    int64_t redelivery_ms;
    dapr_component_t *self;
    sub_t *subs;
    uint64_t next_id;
    size_t held; /* deliveries alive */
    uv_timer_t *timer;
    bool pumping, closed;
    dapr_component_done_cb close_done;
} mem_ps_t;

static const char *positive(const void *f)
{
    return *(const int64_t *)f > 0 ? NULL : "must be greater than 0";
}

static const dapr_md_field_t md_fields[] = {
    {"maxQueue", DAPR_MD_INT, "10000", offsetof(mem_ps_t, max_queue), positive, false},
    {"concurrency", DAPR_MD_INT, "32", offsetof(mem_ps_t, concurrency), positive, false},
    {"redeliveryInterval", DAPR_MD_DURATION, "200ms", offsetof(mem_ps_t, redelivery_ms), NULL,
     false},
};

static void msg_unref(msg_t *m)
{
    if (!m || --m->refs)
        return;
    for (size_t i = 0; i < m->n_md; i++) {
        dapr__free((char *)m->md[i].key);
        dapr__free((char *)m->md[i].value);
    }
    dapr__free(m->md);
    dapr__free(m->topic);
    dapr__free(m->content_type);
    dapr__free(m->data);
    dapr__free(m);
}

static msg_t *msg_copy(const dapr_pubsub_msg_t *in)
{
    msg_t *m = dapr__calloc(1, sizeof(*m));
    if (!m)
        return NULL;
    m->refs = 1;
    m->topic = dapr__strdup(in->topic);
    m->content_type = in->content_type ? dapr__strdup(in->content_type) : NULL;
    m->data = dapr__malloc(in->len ? in->len : 1);
    m->len = in->len;
    m->md = dapr__calloc(in->n_metadata ? in->n_metadata : 1, sizeof(*m->md));
    bool ok = m->topic && m->data && m->md && (!in->content_type || m->content_type);
    if (m->data && in->len)
        memcpy(m->data, in->data, in->len);
    for (size_t i = 0; ok && i < in->n_metadata; i++) {
        m->md[i].key = dapr__strdup(in->metadata[i].key);
        m->md[i].value = dapr__strdup(in->metadata[i].value ? in->metadata[i].value : "");
        m->n_md = i + 1;
        ok = m->md[i].key && m->md[i].value;
    }
    if (!ok) {
        msg_unref(m);
        return NULL;
    }
    return m;
}

static void delivery_free(mem_ps_t *s, delivery_t *d)
{
    msg_unref(d->msg);
    dapr__free(d);
    s->held--;
}

static void sub_free(mem_ps_t *s, sub_t *sub)
{
    while (sub->head) {
        delivery_t *d = sub->head;
        sub->head = d->next;
        delivery_free(s, d);
    }
    dapr__free(sub->topic);
    dapr__free(sub);
}

static void enqueue(sub_t *sub, delivery_t *d)
{
    d->next = NULL;
    if (sub->tail)
        sub->tail->next = d;
    else
        sub->head = d;
    sub->tail = d;
}

static void pump_cb(uv_timer_t *t);

static void arm(mem_ps_t *s, uint64_t delay_ms)
{
    if (s->closed || !s->timer)
        return;
    uint64_t due = uv_now(s->timer->loop) + delay_ms;
    if (uv_is_active((uv_handle_t *)s->timer)) {
        uint64_t cur = uv_now(s->timer->loop) + uv_timer_get_due_in(s->timer);
        if (cur <= due)
            return;
    }
    uv_timer_start(s->timer, pump_cb, delay_ms, 0);
}

/* What the runtime gets as ack_ctx. */
typedef struct ack_ctx {
    mem_ps_t *s;
    delivery_t *d;
} ack_ctx_t;

static void do_ack(mem_ps_t *s, delivery_t *d, int status)
{
    sub_t *sub = d->sub;
    d->in_flight = false;
    sub->in_flight--;
    if (status == DAPR_OK || sub->gone || s->closed) {
        delivery_free(s, d);
    } else {
        d->due_ms = uv_now(s->timer->loop) + (uint64_t)s->redelivery_ms;
        enqueue(sub, d);
        arm(s, (uint64_t)s->redelivery_ms);
    }
    if (sub->gone && !sub->in_flight) {
        /* unlink a subscription that waited for its last ack */
        for (sub_t **pp = &s->subs; *pp; pp = &(*pp)->next)
            if (*pp == sub) {
                *pp = sub->next;
                break;
            }
        sub_free(s, sub);
    } else if (!sub->gone) {
        arm(s, 0);
    }
}

static void ack_cb(void *ctx, int status)
{
    ack_ctx_t *a = ctx;
    mem_ps_t *s = a->s;
    delivery_t *d = a->d;
    dapr__free(a);
    do_ack(s, d, status);
}

/* Deliver what is due, within the concurrency bound of each subscription. */
static void pump(mem_ps_t *s)
{
    if (s->pumping || s->closed)
        return;
    s->pumping = true;
    uint64_t now = uv_now(s->timer->loop), next_due = 0;
    for (sub_t *sub = s->subs; sub; sub = sub->next) {
        if (sub->gone)
            continue;
        delivery_t *prev = NULL, *d = sub->head;
        while (d && sub->in_flight < (size_t)s->concurrency && !sub->gone) {
            delivery_t *nx = d->next;
            if (d->due_ms > now) {
                if (!next_due || d->due_ms < next_due)
                    next_due = d->due_ms;
                prev = d;
                d = nx;
                continue;
            }
            /* unlink d */
            if (prev)
                prev->next = nx;
            else
                sub->head = nx;
            if (sub->tail == d)
                sub->tail = prev;
            ack_ctx_t *a = dapr__malloc(sizeof(*a));
            if (!a) {
                enqueue(sub, d);
                next_due = now + 100;
                break;
            }
            *a = (ack_ctx_t){s, d};
            d->in_flight = true;
            sub->in_flight++;
            dapr_pubsub_msg_t m = {.topic = d->msg->topic, .data = d->msg->data,
                                   .len = d->msg->len, .content_type = d->msg->content_type,
                                   .metadata = d->msg->md, .n_metadata = d->msg->n_md};
            sub->handler(&m, ack_cb, a, sub->hdata);
            d = nx;
        }
    }
    s->pumping = false;
    if (next_due)
        arm(s, next_due > now ? next_due - now : 0);
}

static void pump_cb(uv_timer_t *t) { pump(t->data); }

static int mem_init(dapr_component_t *c, dapr_component_done_cb done)
{
    mem_ps_t *s = dapr_component_priv(c);
    s->self = c;
    s->timer = dapr__malloc(sizeof(*s->timer));
    if (!s->timer)
        return DAPR_ENOMEM;
    uv_timer_init(dapr_component_loop(c), s->timer);
    s->timer->data = s;
    done(c, DAPR_OK, NULL);
    return DAPR_OK;
}

static void timer_closed(uv_handle_t *h)
{
    mem_ps_t *s = h->data;
    dapr_component_done_cb done = s->close_done;
    dapr__free(h);
    s->timer = NULL;
    if (done)
        done(s->self, DAPR_OK, NULL);
}

static void mem_close(dapr_component_t *c, dapr_component_done_cb done)
{
    mem_ps_t *s = dapr_component_priv(c);
    s->closed = true;
    /* the runtime answered every delivery before close: free what is left */
    while (s->subs) {
        sub_t *sub = s->subs;
        s->subs = sub->next;
        sub_free(s, sub);
    }
    s->close_done = done;
    if (s->timer) {
        uv_timer_stop(s->timer);
        uv_close((uv_handle_t *)s->timer, timer_closed);
    } else if (done) {
        done(c, DAPR_OK, NULL);
    }
}

static int mem_publish(dapr_component_t *c, const dapr_pubsub_msg_t *in, dapr_pubsub_done_cb cb,
                       void *data)
{
    mem_ps_t *s = dapr_component_priv(c);
    if (s->closed)
        return DAPR_ECLOSED;
    if (!in->topic || !*in->topic)
        return DAPR_EINVAL;
    size_t n = 0;
    for (sub_t *sub = s->subs; sub; sub = sub->next)
        if (!sub->gone && !strcmp(sub->topic, in->topic))
            n++;
    if (n && s->held + n > (size_t)s->max_queue) {
        char why[128];
        snprintf(why, sizeof(why), "in-memory queue is full (maxQueue %lld)",
                 (long long)s->max_queue);
        dapr_error_t e = {DAPR_EAGAIN, why};
        cb(&e, data);
        return DAPR_OK;
    }
    if (!n) {
        cb(NULL, data); /* nobody listens: nothing to keep */
        return DAPR_OK;
    }
    msg_t *m = msg_copy(in);
    if (!m)
        return DAPR_ENOMEM;
    delivery_t **ds = dapr__calloc(n, sizeof(*ds));
    bool ok = ds != NULL;
    for (size_t i = 0; ok && i < n; i++)
        ok = (ds[i] = dapr__calloc(1, sizeof(**ds))) != NULL;
    if (!ok) {
        for (size_t i = 0; ds && i < n; i++)
            dapr__free(ds[i]);
        dapr__free(ds);
        msg_unref(m);
        return DAPR_ENOMEM;
    }
    size_t i = 0;
    for (sub_t *sub = s->subs; sub; sub = sub->next) {
        if (sub->gone || strcmp(sub->topic, in->topic))
            continue;
        delivery_t *d = ds[i++];
        d->sub = sub;
        d->msg = m;
        m->refs++;
        s->held++;
        enqueue(sub, d);
    }
    dapr__free(ds);
    msg_unref(m);
    arm(s, 0);
    cb(NULL, data);
    return DAPR_OK;
}

static int mem_subscribe(dapr_component_t *c, const dapr_pubsub_sub_req_t *req,
                         dapr_pubsub_handler_fn handler, void *hdata, uint64_t *sub_id)
{
    mem_ps_t *s = dapr_component_priv(c);
    if (s->closed)
        return DAPR_ECLOSED;
    if (!req->topic || !*req->topic || !handler)
        return DAPR_EINVAL;
    sub_t *sub = dapr__calloc(1, sizeof(*sub));
    if (!sub || !(sub->topic = dapr__strdup(req->topic))) {
        dapr__free(sub);
        return DAPR_ENOMEM;
    }
    sub->id = ++s->next_id;
    sub->handler = handler;
    sub->hdata = hdata;
    /* append: deliveries follow subscription order */
    sub_t **pp = &s->subs;
    while (*pp)
        pp = &(*pp)->next;
    *pp = sub;
    *sub_id = sub->id;
    return DAPR_OK;
}

static int mem_unsubscribe(dapr_component_t *c, uint64_t id)
{
    mem_ps_t *s = dapr_component_priv(c);
    for (sub_t **pp = &s->subs; *pp; pp = &(*pp)->next) {
        sub_t *sub = *pp;
        if (sub->id != id || sub->gone)
            continue;
        if (sub->in_flight) {
            sub->gone = true; /* freed at its last ack */
            return DAPR_OK;
        }
        *pp = sub->next;
        sub_free(s, sub);
        return DAPR_OK;
    }
    return DAPR_ENOTFOUND;
}

const dapr_pubsub_vtable_t dapr__pubsub_in_memory_vtable = {
    .type = "pubsub.in-memory",
    .version = "v1",
    .features = 0,
    .priv_size = sizeof(mem_ps_t),
    .md_fields = md_fields,
    .n_md_fields = sizeof(md_fields) / sizeof(md_fields[0]),
    .init = mem_init,
    .close = mem_close,
    .publish = mem_publish,
    .subscribe = mem_subscribe,
    .unsubscribe = mem_unsubscribe,
};
