/*
 * libdapr — publish and subscribe from an embedding program.
 *
 * dapr_publish() is POST /v1.0/publish/{pubsub}/{topic}: the same CloudEvents
 * envelope, metadata (rawPayload, ttlInSeconds, cloudevent.*), topic scoping
 * and error codes. dapr_subscribe() is a subscription whose "app" is a C
 * callback: routes with CEL rules, dead-letter topic and bulk settings as a
 * declarative Subscription has them, and the same delivery semantics as an
 * HTTP subscriber (the callback's verdict is SUCCESS, RETRY or DROP; RETRY
 * goes through the resiliency policy, then the dead-letter topic).
 */
#ifndef DAPR_PUBSUB_H
#define DAPR_PUBSUB_H

#include "common.h"
#include "runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dapr_publish_request {
    const char *pubsub;       /* component name */
    const char *topic;
    const uint8_t *data;
    size_t len;
    const char *content_type; /* NULL: "text/plain"; "application/cloudevents+json"
                                 publishes the caller's own envelope */
    const dapr_kv_t *metadata;
    size_t n_metadata;
} dapr_publish_request_t;

/* Publish one message; req is borrowed for the call. err->error_code as the
 * HTTP API: ERR_PUBSUB_NOT_FOUND, ERR_TOPIC_NAME_EMPTY, ERR_PUBSUB_FORBIDDEN,
 * ERR_PUBSUB_PUBLISH_MESSAGE... Errors: DAPR_EINVAL (NULL rt/req/cb),
 * DAPR_ESTATE (not running). */
DAPR_EXTERN int dapr_publish(dapr_runtime_t *rt, const dapr_publish_request_t *req,
                             dapr_done_cb cb, void *data);

typedef enum dapr_delivery_status {
    DAPR_DELIVERY_SUCCESS = 0,
    DAPR_DELIVERY_RETRY = 1,
    DAPR_DELIVERY_DROP = 2
} dapr_delivery_status_t;

/* One delivered message; lives until the callback returns. */
typedef struct dapr_message {
    const char *pubsub, *topic;
    const char *route;        /* the matched rule's path, or the default path */
    const char *id;           /* CloudEvent id */
    const char *source, *type, *specversion;
    const char *data_content_type;
    const uint8_t *data;      /* the event's data: JSON text as is, other
                                 content types decoded (data_base64) */
    size_t len;
    const char *event;        /* the whole CloudEvent as JSON text */
    size_t event_len;
    const dapr_kv_t *metadata; /* the message's metadata */
    size_t n_metadata;
} dapr_message_t;

/* Called on the loop thread for each message; its return value is the
 * verdict. */
typedef dapr_delivery_status_t (*dapr_message_cb)(const dapr_message_t *msg, void *data);

typedef struct dapr_route_rule {
    const char *match; /* CEL expression over `event` */
    const char *path;  /* the route reported in dapr_message_t.route */
} dapr_route_rule_t;

typedef struct dapr_subscription {
    const char *pubsub, *topic;
    const dapr_route_rule_t *rules; /* tried in order; may be NULL */
    size_t n_rules;
    const char *default_route;      /* NULL: "" (every message not matched is
                                       delivered with route ""); with rules and
                                       no default, unmatched messages are dropped */
    const char *dead_letter_topic;  /* or NULL */
    const dapr_kv_t *metadata;      /* rawPayload, ... as a Subscription's
                                       spec.metadata; bulk subscribe with
                                       "bulkSubscribe" = "true" and optional
                                       "bulkSubscribe.maxMessagesCount",
                                       "bulkSubscribe.maxAwaitDurationMs"
                                       (each entry of a bulk still reaches
                                       the callback as one message) */
    size_t n_metadata;
} dapr_subscription_t;

typedef struct dapr_subscription_handle dapr_subscription_handle_t;

/* Subscribe; sub is copied. Before start the subscription begins with the
 * runtime; after start it begins at once. *out (may be NULL) receives a
 * handle for dapr_unsubscribe. Errors: DAPR_EINVAL (NULL fields, a rule
 * whose CEL does not parse), DAPR_EEXIST (pubsub/topic already subscribed
 * by this program), DAPR_ENOTFOUND (after start: no such pub/sub),
 * DAPR_ENOMEM. */
DAPR_EXTERN int dapr_subscribe(dapr_runtime_t *rt, const dapr_subscription_t *sub,
                               dapr_message_cb cb, void *data, dapr_subscription_handle_t **out);

/* End a subscription: messages not yet answered are retried later by the
 * broker; cb is not called again after this returns. Frees h. */
DAPR_EXTERN int dapr_unsubscribe(dapr_subscription_handle_t *h);

#ifdef __cplusplus
}
#endif
#endif
