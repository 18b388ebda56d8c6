/* The subscriptions router (DESIGN.md): which topics this sidecar listens
 * to, and the delivery of each message to the app.
 *
 * Subscriptions come from declarative `kind: Subscription` resources in
 * scope (read at start-up) and from the app itself once its channel is up
 * (HTTP apps: GET /dapr/subscribe, v1 and v2 item shapes; gRPC apps:
 * AppCallback/ListTopicSubscriptions). Routing rules are CEL over `event`
 * (core/cel.h); a subscription whose rule does not compile is skipped with
 * an error log naming it.
 *
 * Delivery (spec §3.4, grpc §5.5): each message the broker hands over is
 * parsed (CloudEvent JSON, or wrapped when the subscription is raw), dropped
 * when expired, routed, then sent to the app — HTTP: POST <path> with
 * application/cloudevents+json; gRPC: AppCallback/OnTopicEvent — under the
 * component's inbound resiliency policy. SUCCESS acks; DROP (and HTTP 404,
 * gRPC UNIMPLEMENTED) acks after a warning or error log; RETRY and errors
 * retry per policy. When the policy gives up (or without one, at once),
 * a subscription with a deadLetterTopic republishes the message there and
 * acks; otherwise the message is nacked so the broker redelivers it. The
 * broker's ack is given only after one of these outcomes. While the app is
 * unhealthy deliveries are nacked without calling it.
 */
#ifndef DAPR_RUNTIME_SUBSCRIPTIONS_H
#define DAPR_RUNTIME_SUBSCRIPTIONS_H

#include <stdbool.h>
#include <stddef.h>

#include "components/resources.h"
#include "core/pool.h"
#include "dapr/runtime.h"

typedef struct dapr__subs dapr__subs_t;

/* Keep the declarative subscriptions of `res` in scope for rt's app id
 * (copied). 0 or DAPR_ENOMEM. */
int dapr__subs_create(dapr_runtime_t *rt, const dapr__resources_t *res, dapr__subs_t **out);
/* The app channel is up: read the app's subscriptions, then subscribe every
 * subscription to its component. NULL-safe; once. */
void dapr__subs_app_ready(dapr__subs_t *s);
/* Answer every delivery still with the app (DAPR_ECANCELED) and end every
 * subscription; before components close. NULL-safe, idempotent. */
void dapr__subs_stop(dapr__subs_t *s);
/* After stop, once the app channel is closed. NULL-safe. */
void dapr__subs_free(dapr__subs_t *s);

/* Streaming subscriptions (gRPC SubscribeTopicEventsAlpha1): the transport
 * owns the stream, the router the subscription. */
typedef struct dapr__sub_stream dapr__sub_stream_t;
typedef struct dapr__sub_stream_cbs {
    /* Send one serialized SubscribeTopicEventsResponseAlpha1; 0 or an error
     * (the message is then nacked). */
    int (*send)(void *ud, const uint8_t *msg, size_t len);
    /* The runtime is stopping: finish the stream (then call close). */
    void (*end)(void *ud);
} dapr__sub_stream_cbs_t;

/* Subscribe `topic` of `pubsub` (a loaded component: the caller checked)
 * for a stream. Strings copied. 0, DAPR_EEXIST (topic already subscribed),
 * DAPR_ENOTFOUND, DAPR_ESTATE (stopping), DAPR_ENOMEM. The first message
 * the stream must send (initial_response) is the caller's. */
int dapr__subs_stream_open(dapr__subs_t *s, const char *pubsub, const char *topic,
                           const dapr_kv_t *md, size_t n_md, const char *dead_letter,
                           const dapr__sub_stream_cbs_t *cbs, void *ud, dapr__sub_stream_t **out);
/* The client's verdict on event `id`: 0 SUCCESS, 1 RETRY, 2 DROP (others:
 * RETRY). Unknown ids are ignored. */
void dapr__subs_stream_processed(dapr__sub_stream_t *st, const char *id, int status);
/* The stream is over: pending events are nacked, the subscription ends.
 * No callback after this. */
void dapr__subs_stream_close(dapr__sub_stream_t *st);
/* Runtime stop: ask every stream to end (cbs->end). NULL-safe. */
void dapr__subs_end_streams(dapr__subs_t *s);

/* For the metadata API. Strings borrowed from the router. */
typedef struct dapr__sub_info {
    const char *pubsubname;
    const char *topic;
    const dapr_kv_t *md;
    size_t n_md;
    const char *const *match; /* per rule; NULL = none */
    const char *const *path;
    size_t n_rules;
    const char *dead_letter; /* "" when none */
    const char *type;        /* DECLARATIVE | PROGRAMMATIC | STREAMING */
} dapr__sub_info_t;

/* The subscriptions, in the pool. Returns the count (0 on OOM). */
size_t dapr__subs_list(dapr__subs_t *s, dapr__pool_t *pool, dapr__sub_info_t **out);

#endif
