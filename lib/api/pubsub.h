/* Pub/sub publishing, protocol-neutral (spec §3.1–3.3). The HTTP adapter
 * (/v1.0/publish, /v1.0-alpha1/publish/bulk) and the gRPC adapter
 * (PublishEvent, BulkPublishEvent[Alpha1]) decode into these requests; every
 * rule (component lookup, CloudEvents envelope, rawPayload, TTL, errors,
 * entry-by-entry bulk publishing) lives here once.
 *
 * Every function calls its callback exactly once, possibly before returning.
 * `pool` (borrowed) must outlive the callback. The dapr__apierr_t handed to a
 * callback is borrowed: freed after the callback returns.
 */
#ifndef DAPR_API_PUBSUB_H
#define DAPR_API_PUBSUB_H

#include "api/state.h" /* dapr__md_t */
#include "core/buf.h"
#include "core/errors.h"
#include "core/pool.h"
#include "dapr/component.h"
#include "dapr/runtime.h"

typedef struct dapr__pubsub_pub_req {
    const char *pubsub;
    const char *topic;
    const uint8_t *data;
    size_t len;
    const char *content_type; /* NULL or "" → text/plain */
    dapr__md_t md;            /* request metadata (rawPayload, ttlInSeconds, cloudevent.*, ...) */
    const char *traceparent;  /* the caller's W3C context, or NULL */
    const char *tracestate;
} dapr__pubsub_pub_req_t;

typedef void (*dapr__pubsub_done_cb)(dapr__apierr_t *err, void *data);

void dapr__pubsub_publish(dapr_runtime_t *rt, dapr__pool_t *pool, const dapr__pubsub_pub_req_t *req,
                          dapr__pubsub_done_cb cb, void *data);

typedef struct dapr__pubsub_bulk_entry {
    const char *entry_id;
    const uint8_t *data;
    size_t len;
    const char *content_type;
    dapr__md_t md; /* entry metadata; wins over the request's */
} dapr__pubsub_bulk_entry_t;

typedef struct dapr__pubsub_bulk_failed {
    const char *entry_id;
    const char *error;
} dapr__pubsub_bulk_failed_t;

/* err set: the whole request failed (validation, lookup). Otherwise the
 * entries that failed (n 0 = all published). */
typedef void (*dapr__pubsub_bulk_cb)(dapr__apierr_t *err, const dapr__pubsub_bulk_failed_t *failed,
                                     size_t n_failed, void *data);

/* req->data/len/content_type are unused; `entries` each carry their own. */
void dapr__pubsub_bulk_publish(dapr_runtime_t *rt, dapr__pool_t *pool,
                               const dapr__pubsub_pub_req_t *req,
                               const dapr__pubsub_bulk_entry_t *entries, size_t n,
                               dapr__pubsub_bulk_cb cb, void *data);

/* Find a loaded pub/sub by name, or an API error (not configured, empty
 * name, not found), caller frees. */
dapr_component_t *dapr__pubsub_find(dapr_runtime_t *rt, const char *name, dapr__apierr_t **err);

/* The component's topic scoping (metadata allowedTopics, protectedTopics,
 * publishingScopes / subscriptionScopes "app1=t1,t2;app2=t3"), as Dapr's
 * IsOperationAllowed: whether app_id may publish (or subscribe to) topic. */
bool dapr__pubsub_topic_allowed(const dapr_component_t *c, const char *app_id,
                                const char *topic, bool publish);

/* Whether a content type is JSON for the envelope's `data` (application/json
 * or a +json suffix, parameters allowed). */
bool dapr__pubsub_is_json_ct(const char *ct);

/* Base64 (standard alphabet, padded). Decode accepts missing padding and
 * returns the length or -1; out needs 3*((n+3)/4) bytes. */
int dapr__b64_encode(dapr__buf_t *out, const uint8_t *in, size_t n);
long dapr__b64_decode(const char *in, size_t n, uint8_t *out);

/* A fresh W3C traceparent ("00-<32 hex>-<16 hex>-00"); out needs 56 bytes. */
void dapr__pubsub_new_traceparent(char out[56]);

/* Parse an RFC 3339 time into unix seconds; -1 when malformed. */
int64_t dapr__pubsub_parse_time(const char *s);

#endif
