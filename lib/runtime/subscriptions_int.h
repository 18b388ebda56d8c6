/* The subscriptions router's insides, shared by subscriptions.c (one
 * message at a time) and subscriptions_bulk.c (bulk subscribe batches). */
#ifndef DAPR_RUNTIME_SUBSCRIPTIONS_INT_H
#define DAPR_RUNTIME_SUBSCRIPTIONS_INT_H

#include <jansson.h>
#include <protobuf-c/protobuf-c.h>

#include "core/cel.h"
#include "core/pool.h"
#include "dapr/component.h"
#include "grpc/grpc.h"
#include "resiliency.h"
#include "subscriptions.h"

#define SCOPE "dapr.runtime.processor.pubsub"
#define CB_PREFIX "/dapr.proto.runtime.v1.AppCallback/"

struct dapr__bulk;
struct dapr__sub_stream;
#include "dapr/proto/runtime/v1/pubsub.pb-c.h"

typedef struct rule {
    char *match; /* NULL = match-all */
    dapr__cel_t *cel;
    char *path;
} rule_t;

typedef struct sub {
    dapr__subs_t *s;
    const char *type; /* DECLARATIVE | PROGRAMMATIC */
    char *name;       /* for logs: the resource name, or pubsub/topic */
    char *pubsub, *topic, *dead_letter;
    dapr_kv_t *md;
    size_t n_md;
    rule_t *rules;
    size_t n_rules;
    bool raw;
    dapr_component_t *comp;
    uint64_t sub_id;
    bool subscribed;
    /* bulkSubscribe */
    bool bulk;
    int64_t bulk_max_count;    /* 0 → 100 */
    int64_t bulk_max_await_ms; /* 0 → 1000 */
    struct dapr__bulk *batch;  /* the batch being filled, or NULL */
    uv_timer_t *bulk_timer;    /* its maxAwaitDurationMs */
    struct dapr__sub_stream *stream; /* STREAMING: the gRPC stream */
    bool gone; /* a closed stream's subscription, kept until free */
} sub_t;

typedef struct delivery delivery_t;

/* A call to the app waiting for a --app-max-concurrency slot (gRPC apps:
 * the HTTP app channel bounds its own calls). */
typedef struct dapr__sub_waiter {
    struct dapr__sub_waiter *next;
    void (*start)(struct dapr__sub_waiter *w);
    bool queued, holds;
} dapr__sub_waiter_t;

struct dapr__subs {
    dapr_runtime_t *rt;
    sub_t **v;
    size_t n;
    bool ready_called, stopped;
    delivery_t *live; /* deliveries not freed yet */
    struct dapr__bulk *batches; /* batches with the app */
    size_t app_inflight;        /* calls holding a slot */
    dapr__sub_waiter_t *wq_head, *wq_tail;
    bool wq_pumping;
};

enum { V_SUCCESS = 0, V_DROP, V_NOTFOUND };

typedef struct attempt {
    dapr__sub_waiter_t w; /* first: the waiter is the attempt */
    delivery_t *d;
    dapr__pool_t pool;
    bool abandoned;
    dapr__grpc_ccall_t *cc;
    uint8_t *msg;
    size_t msg_len;
} attempt_t;

struct delivery {
    delivery_t *prev, *next;
    dapr__subs_t *s;
    sub_t *sub;
    dapr_pubsub_ack_fn ack;
    void *ack_ctx;
    bool acked;
    uint8_t *data; /* the broker's bytes */
    size_t len;
    char *ct;
    dapr_kv_t *md;
    size_t n_md;
    json_t *ce;  /* the event (parsed, or built for raw subscriptions); NULL
                  * when nothing needs the tree (see dapr__sub_need_tree) */
    char *body;  /* what an HTTP app gets: data itself unless raw */
    size_t body_len;
    /* CloudEvent fields the router reads itself (borrowed from ce or from
     * fields, NULL when absent or not strings) */
    const char *traceparent, *tracestate, *expiration;
    char *fields;
    const char *path;
    char *id; /* CloudEvent id, for logs */
    dapr__resil_op_t *op;
    bool op_running;
    attempt_t *att;
    int verdict;
    bool dlq_pending;
    char entry_id[37]; /* bulk entries */
};


/* What a subscription is made of, from any source (strings borrowed). */
typedef struct sub_src {
    const char *type, *name, *pubsub, *topic, *dead_letter, *default_path;
    const char *const *md_keys, *const *md_vals;
    size_t n_md;
    const char *const *match, *const *path;
    size_t n_rules;
    bool bulk;
    int64_t bulk_max_count, bulk_max_await_ms;
} sub_src_t;

/* Add a subscription (copied); a bad one is logged and skipped (0, *out
 * NULL). With out: a duplicate topic is DAPR_EEXIST. DAPR_ENOMEM. */
int dapr__sub_add(dapr__subs_t *s, const sub_src_t *src, sub_t **out);
/* Subscribe u to its component: 0, DAPR_ENOTFOUND, or the component's error. */
int dapr__sub_subscribe(sub_t *u);
/* The OnTopicEvent request for d (strings borrowed from d and pool). */
int dapr__sub_topic_event(dapr__pool_t *pool, delivery_t *d,
                          Dapr__Proto__Runtime__V1__TopicEventRequest *out);
/* A parsed message of a streaming subscription (subscriptions_stream.c). */
void dapr__sub_stream_deliver(delivery_t *d);

/* Start w->start now, or once a slot frees (app calls in flight bounded by
 * --app-max-concurrency for gRPC apps). */
void dapr__sub_slot_take(dapr__subs_t *s, dapr__sub_waiter_t *w);
/* The call is over (releases its slot) or abandoned while queued. */
void dapr__sub_slot_give(dapr__subs_t *s, dapr__sub_waiter_t *w);

/* Whether a delivery of u needs the event as a jansson tree (CEL rules,
 * gRPC apps, bulk and streaming subscriptions); HTTP deliveries without
 * rules read the few fields they need with the JSON scanner. */
bool dapr__sub_need_tree(const sub_t *u);

/* Ack (once) and free when nothing else holds the delivery. */
void dapr__sub_answer(delivery_t *d, int status);
/* Dead-letter when the subscription has a topic for it, else ack with status. */
void dapr__sub_give_up(delivery_t *d, int status);
void dapr__sub_maybe_free(delivery_t *d);
bool dapr__sub_header_ok(const char *k);
const char *dapr__sub_ce_str(const json_t *ce, const char *k);
/* The event's data as gRPC bytes (grpc §5.5), in pool. 0 or -1. */
int dapr__sub_event_data(dapr__pool_t *pool, const json_t *ce, ProtobufCBinaryData *out);

/* Bulk subscribe (subscriptions_bulk.c). add: a routed delivery joins its
 * subscription's batch (the batch owns it until each entry is answered).
 * stop: flushes nothing, cancels what is with the app; close_sub: the
 * subscription's timer. */
void dapr__sub_bulk_add(delivery_t *d);
void dapr__sub_bulk_stop(dapr__subs_t *s);

#endif
