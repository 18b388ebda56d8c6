/* Streaming subscriptions (grpc §5.4): a subscription whose deliveries go
 * down a gRPC stream as event_message (a TopicEventRequest) and are
 * answered by the client's event_processed{id, status}. SUCCESS acks, DROP
 * acks (dead letter when configured), RETRY nacks (dead letter when
 * configured) so the broker redelivers. No routing rules and no app
 * channel: the stream is the app. */
#include <string.h>

#include "core/alloc.h"
#include "runtime_int.h"
#include "subscriptions_int.h"

struct dapr__sub_stream {
    sub_t *sub;
    dapr__sub_stream_cbs_t cbs;
    void *ud;
    delivery_t **pending; /* sent, waiting for event_processed */
    size_t n, cap;
    bool ending;
};

int dapr__subs_stream_open(dapr__subs_t *s, const char *pubsub, const char *topic,
                           const dapr_kv_t *md, size_t n_md, const char *dead_letter,
                           const dapr__sub_stream_cbs_t *cbs, void *ud, dapr__sub_stream_t **out)
{
    if (!s || s->stopped)
        return DAPR_ESTATE;
    const char *keys[64], *vals[64];
    size_t n = n_md < 64 ? n_md : 64;
    for (size_t i = 0; i < n; i++) {
        keys[i] = md[i].key;
        vals[i] = md[i].value;
    }
    sub_src_t src = {.type = "STREAMING", .pubsub = pubsub, .topic = topic,
                     .dead_letter = dead_letter, .default_path = "/", .md_keys = keys,
                     .md_vals = vals, .n_md = n};
    dapr__sub_stream_t *st = dapr__calloc(1, sizeof(*st));
    if (!st)
        return DAPR_ENOMEM;
    sub_t *u = NULL;
    int rc = dapr__sub_add(s, &src, &u);
    if (!rc && !u)
        rc = DAPR_EINVAL;
    if (rc) {
        dapr__free(st);
        return rc;
    }
    st->sub = u;
    st->cbs = *cbs;
    st->ud = ud;
    u->stream = st;
    rc = dapr__sub_subscribe(u);
    if (rc) {
        u->stream = NULL;
        u->gone = true;
        dapr__free(st);
        return rc;
    }
    *out = st;
    return 0;
}

void dapr__sub_stream_deliver(delivery_t *d)
{
    dapr__sub_stream_t *st = d->sub->stream;
    if (st->ending) {
        dapr__sub_answer(d, DAPR_ECANCELED);
        return;
    }
    if (st->n == st->cap) {
        size_t nc = st->cap ? st->cap * 2 : 16;
        delivery_t **np = dapr__realloc(st->pending, nc * sizeof(*np));
        if (!np) {
            dapr__sub_answer(d, DAPR_ENOMEM);
            return;
        }
        st->pending = np;
        st->cap = nc;
    }
    dapr__pool_t pool;
    dapr__pool_init(&pool, 1024);
    Dapr__Proto__Runtime__V1__TopicEventRequest q;
    Dapr__Proto__Runtime__V1__SubscribeTopicEventsResponseAlpha1 r =
        DAPR__PROTO__RUNTIME__V1__SUBSCRIBE_TOPIC_EVENTS_RESPONSE_ALPHA1__INIT;
    int rc = dapr__sub_topic_event(&pool, d, &q);
    uint8_t *buf = NULL;
    size_t len = 0;
    if (!rc) {
        r.subscribe_topic_events_response_type_case =
            DAPR__PROTO__RUNTIME__V1__SUBSCRIBE_TOPIC_EVENTS_RESPONSE_ALPHA1__SUBSCRIBE_TOPIC_EVENTS_RESPONSE_TYPE_EVENT_MESSAGE;
        r.event_message = &q;
        len = dapr__proto__runtime__v1__subscribe_topic_events_response_alpha1__get_packed_size(&r);
        buf = dapr__pool_alloc(&pool, len ? len : 1);
        rc = buf ? 0 : DAPR_ENOMEM;
    }
    if (!rc) {
        dapr__proto__runtime__v1__subscribe_topic_events_response_alpha1__pack(&r, buf);
        rc = st->cbs.send(st->ud, buf, len);
    }
    dapr__pool_destroy(&pool);
    if (rc) {
        dapr__sub_answer(d, DAPR_EUNAVAIL); /* the broker keeps it */
        return;
    }
    d->op_running = true; /* the stream holds it */
    st->pending[st->n++] = d;
}

void dapr__subs_stream_processed(dapr__sub_stream_t *st, const char *id, int status)
{
    for (size_t i = 0; i < st->n; i++) {
        delivery_t *d = st->pending[i];
        if (strcmp(d->id, id))
            continue;
        memmove(&st->pending[i], &st->pending[i + 1], (st->n - i - 1) * sizeof(*st->pending));
        st->n--;
        d->op_running = false;
        if (status == 0) {
            dapr__sub_answer(d, DAPR_OK);
        } else if (status == 2) {
            dapr__log(&d->s->rt->log, DAPR_LOG_WARN, SCOPE, "DROP status returned from the "
                      "stream subscriber of topic %s for event %s", d->sub->topic, d->id);
            dapr__sub_give_up(d, DAPR_OK);
        } else {
            dapr__sub_give_up(d, DAPR_EBACKEND);
        }
        return;
    }
}

void dapr__subs_stream_close(dapr__sub_stream_t *st)
{
    if (!st)
        return;
    sub_t *u = st->sub;
    for (size_t i = 0; i < st->n; i++) {
        delivery_t *d = st->pending[i];
        d->op_running = false;
        dapr__sub_answer(d, DAPR_ECANCELED);
    }
    if (u->subscribed && u->comp && u->comp->initialised && !u->comp->closing)
        u->comp->ps_vt->unsubscribe(u->comp, u->sub_id);
    u->subscribed = false;
    u->gone = true;
    u->stream = NULL;
    dapr__log(&u->s->rt->log, DAPR_LOG_INFO, SCOPE, "streaming subscription to topic %s on "
              "pubsub %s ended", u->topic, u->pubsub);
    dapr__free(st->pending);
    dapr__free(st);
}

void dapr__subs_end_streams(dapr__subs_t *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++) {
        dapr__sub_stream_t *st = s->v[i]->stream;
        if (st && !st->ending) {
            st->ending = true;
            st->cbs.end(st->ud); /* may close st */
        }
    }
}
