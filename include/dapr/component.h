/*
 * libdapr — components: one vtable per kind, registered under Dapr's type
 * string ("state.redis") and version ("v1"). Built-in components use exactly
 * this interface, so a user-defined component is indistinguishable from one.
 */
#ifndef DAPR_COMPONENT_H
#define DAPR_COMPONENT_H

#include "common.h"
#include "state.h"

#ifdef __cplusplus
extern "C" {
#endif

struct uv_loop_s;

/* A loaded component instance. Owned by the runtime. */
typedef struct dapr_component dapr_component_t;

/* ---------------------------------------------------------------------
 * Metadata table: `spec.metadata` entries are parsed into typed fields of the
 * component's private data by rows of this table (names match
 * case-insensitively, as Dapr's). Unknown names are ignored.
 * ------------------------------------------------------------------- */
typedef enum dapr_md_type {
    DAPR_MD_STRING,   /* char *, owned by the runtime, freed after close */
    DAPR_MD_INT,      /* int64_t */
    DAPR_MD_BOOL,     /* bool; Go strconv.ParseBool spellings */
    DAPR_MD_DURATION, /* int64_t milliseconds; Go duration ("5s") or plain seconds */
    DAPR_MD_QUANTITY  /* int64_t bytes; "4Mi", "512Ki", "1000" */
} dapr_md_type_t;

typedef struct dapr_md_field {
    const char *name;       /* metadata key, e.g. "redisHost" */
    dapr_md_type_t type;
    const char *def;        /* default in the same text form, or NULL */
    size_t offset;          /* offsetof() into the private data */
    /* Optional check on the parsed field; return NULL if fine, else a
     * static reason text. */
    const char *(*validate)(const void *field);
    bool required;
} dapr_md_field_t;

/* Completion of an asynchronous init or close; status DAPR_OK or DAPR_E*,
 * detail a message (may be NULL), borrowed. */
typedef void (*dapr_component_done_cb)(dapr_component_t *c, int status, const char *detail);

/* ---------------------------------------------------------------------
 * Accessors a component uses on itself.
 * ------------------------------------------------------------------- */
/* The private data of vtable->priv_size bytes, zeroed before metadata parsing. */
DAPR_EXTERN void *dapr_component_priv(dapr_component_t *c);
DAPR_EXTERN const char *dapr_component_name(const dapr_component_t *c);
DAPR_EXTERN struct uv_loop_s *dapr_component_loop(const dapr_component_t *c);
/* Raw metadata value by name (case-insensitive), or NULL. Borrowed. */
DAPR_EXTERN const char *dapr_component_metadata(const dapr_component_t *c, const char *name);
/* The app id of the runtime that loaded the component ("" if none). */
DAPR_EXTERN const char *dapr_component_app_id(const dapr_component_t *c);
/* Log through the runtime's logger with scope dapr.contrib.<type>. */
DAPR_EXTERN void dapr_component_log(const dapr_component_t *c, dapr_log_level_t level,
                                    const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---------------------------------------------------------------------
 * State stores.
 * ------------------------------------------------------------------- */
enum {
    DAPR_STATE_FEATURE_ETAG = 1u << 0,
    DAPR_STATE_FEATURE_TRANSACTIONAL = 1u << 1,
    DAPR_STATE_FEATURE_QUERY = 1u << 2,
    DAPR_STATE_FEATURE_TTL = 1u << 3,
    DAPR_STATE_FEATURE_DELETE_WITH_PREFIX = 1u << 4
};

typedef struct dapr_state_store_vtable {
    const char *type;     /* "state.redis" */
    const char *version;  /* "v1" */
    uint32_t features;    /* DAPR_STATE_FEATURE_* */
    size_t priv_size;
    const dapr_md_field_t *md_fields;
    size_t n_md_fields;
    /* Max operations in one transaction; 0 = unlimited. */
    size_t max_tx_ops;

    /* Start the component (connect...). Return DAPR_OK and call done exactly
     * once, or return an error and never call done. */
    int (*init)(dapr_component_t *c, dapr_component_done_cb done);
    /* Release everything; done is called exactly once (may be NULL-safe
     * synchronous). Pending operations complete with DAPR_ECLOSED first. */
    void (*close)(dapr_component_t *c, dapr_component_done_cb done);

    int (*get)(dapr_component_t *c, const dapr_state_key_t *key, dapr_state_get_cb cb,
               void *data);
    int (*set)(dapr_component_t *c, const dapr_state_item_t *item, dapr_state_done_cb cb,
               void *data);
    int (*del)(dapr_component_t *c, const dapr_state_key_t *key, dapr_state_done_cb cb,
               void *data);
    /* Optional (DAPR_STATE_FEATURE_TRANSACTIONAL): all operations apply, in
     * order, or none does. */
    int (*multi)(dapr_component_t *c, const dapr_state_op_t *ops, size_t n_ops,
                 const dapr_kv_t *metadata, size_t n_metadata, dapr_state_done_cb cb, void *data);
} dapr_state_store_vtable_t;

/* Register a state store type, process-wide. The vtable is borrowed and must
 * outlive every runtime (normally a static const). Errors: DAPR_EINVAL
 * (missing type/version/ops), DAPR_EEXIST (type+version taken), DAPR_ENOMEM. */
DAPR_EXTERN int dapr_register_state_store(const dapr_state_store_vtable_t *vt);

/* ---------------------------------------------------------------------
 * Name resolvers (service invocation: app id → address of a sidecar).
 *
 * Not loaded from Component files: the Configuration resource selects one
 * (spec.nameResolution.component "mdns" → type "nameresolution.mdns",
 * .version, .configuration = the metadata). Standalone default: mdns.
 * The runtime calls init, then register_self with its own app id and
 * internal gRPC address, then resolve for each remote call, then close.
 * ------------------------------------------------------------------- */

/* The sidecar to announce. Strings borrowed for the call (copy them). */
typedef struct dapr_name_instance {
    const char *app_id;
    const char *namespace_; /* may be NULL or "" */
    const char *host;       /* IP literal other sidecars reach this one on ("127.0.0.1") */
    uint16_t port;          /* the internal gRPC port (sidecar to sidecar) */
    /* Optional extra properties (DAPR_HTTP_PORT, APP_PORT...): published
     * where the resolver can (mdns: "key=value" TXT strings), else ignored. */
    const dapr_kv_t *extra;
    size_t n_extra;
} dapr_name_instance_t;

typedef struct dapr_name_resolve_req {
    const char *app_id;
    const char *namespace_; /* may be NULL or "" */
} dapr_name_resolve_req_t;

/* err NULL on success; borrowed. */
typedef void (*dapr_name_done_cb)(const dapr_error_t *err, void *data);
/* address "host:port" ("[::1]:50002" for IPv6) on success, NULL with err set
 * on failure (DAPR_ENOTFOUND: no live instance); both borrowed. */
typedef void (*dapr_name_resolve_cb)(const dapr_error_t *err, const char *address, void *data);

typedef struct dapr_name_resolver_vtable {
    const char *type;    /* "nameresolution.mdns" */
    const char *version; /* "v1" */
    size_t priv_size;
    const dapr_md_field_t *md_fields; /* parsed from spec.nameResolution.configuration */
    size_t n_md_fields;

    /* Same contract as the state store's init/close. close withdraws the
     * registration (mdns goodbye, sqlite row delete) and completes pending
     * resolves with DAPR_ECLOSED before done. */
    int (*init)(dapr_component_t *c, dapr_component_done_cb done);
    void (*close)(dapr_component_t *c, dapr_component_done_cb done);
    /* Optional (NULL: nothing to announce). Announce this sidecar; once per
     * component (DAPR_ESTATE after that). cb fires once the instance is
     * announced / stored. Errors before cb: DAPR_EINVAL, DAPR_ESTATE,
     * DAPR_ECLOSED, DAPR_ENOMEM. */
    int (*register_self)(dapr_component_t *c, const dapr_name_instance_t *self,
                         dapr_name_done_cb cb, void *data);
    /* Address of one live instance of req->app_id, round-robin among the live
     * instances. May call cb before returning (cache hit). Errors before cb:
     * DAPR_EINVAL (bad app id), DAPR_ECLOSED, DAPR_ENOMEM. */
    int (*resolve)(dapr_component_t *c, const dapr_name_resolve_req_t *req,
                   dapr_name_resolve_cb cb, void *data);
} dapr_name_resolver_vtable_t;

/* Register a name resolver type, process-wide; rules as
 * dapr_register_state_store (type must start with "nameresolution."). */
DAPR_EXTERN int dapr_register_name_resolver(const dapr_name_resolver_vtable_t *vt);

/* ---------------------------------------------------------------------
 * Pub/sub brokers ("pubsub.redis", "pubsub.in-memory").
 *
 * The component moves opaque bytes: the runtime builds the CloudEvents
 * envelope (or passes a raw payload) before publish and parses it after
 * delivery. Retries towards the app, dead-letter topics, routing and bulk
 * subscribe batching are the runtime's; redelivery of unacknowledged
 * messages is the broker's own (Redis: pending entries reclaimed after
 * processingTimeout).
 * ------------------------------------------------------------------- */
enum {
    /* The broker expires messages itself from the "ttlInSeconds" request
     * metadata; otherwise the runtime writes an "expiration" into the
     * envelope and drops expired messages on delivery. */
    DAPR_PUBSUB_FEATURE_MESSAGE_TTL = 1u << 0,
    /* bulk_publish is native (else the runtime publishes entry by entry). */
    DAPR_PUBSUB_FEATURE_BULK_PUBLISH = 1u << 1,
    /* Topic names in subscribe may hold wildcards (broker-specific syntax). */
    DAPR_PUBSUB_FEATURE_SUBSCRIBE_WILDCARDS = 1u << 2
};

/* One message, published or delivered. All pointers borrowed for the call
 * (publish: until publish returns — the component copies what it keeps;
 * handler: until the handler returns — the runtime copies). */
typedef struct dapr_pubsub_msg {
    const char *topic;
    const uint8_t *data;
    size_t len;
    const char *content_type; /* may be NULL */
    /* Request metadata on publish ("ttlInSeconds", "rawPayload", broker
     * specific keys); on delivery what the broker kept of it. */
    const dapr_kv_t *metadata;
    size_t n_metadata;
} dapr_pubsub_msg_t;

/* err NULL on success; borrowed. */
typedef void (*dapr_pubsub_done_cb)(const dapr_error_t *err, void *data);

/* Bulk publish: one entry failed (index into the request's entries) or
 * all succeeded (n_failed 0). Borrowed. */
typedef struct dapr_pubsub_bulk_failure {
    size_t index;
    dapr_error_t err;
} dapr_pubsub_bulk_failure_t;
typedef void (*dapr_pubsub_bulk_cb)(const dapr_pubsub_bulk_failure_t *failed, size_t n_failed,
                                    void *data);

/* The runtime's answer for one delivery, given exactly once per handler
 * call: DAPR_OK means the message is done (the app said SUCCESS or DROP, or
 * it went to the dead-letter topic) and the broker acknowledges it; any
 * other code leaves it unacknowledged so that the broker redelivers it by
 * its own rules. The ack may come long after the handler returned, from the
 * loop thread only. The runtime answers every delivery (DAPR_ECANCELED for
 * those still with the app) before it calls unsubscribe or close; the
 * component must not reuse ack_ctx after the ack. */
typedef void (*dapr_pubsub_ack_fn)(void *ack_ctx, int status);
/* Called on the loop for each delivered message; may be called again before
 * earlier deliveries are acked (the component bounds how many are in
 * flight: Redis "concurrency"/"queueDepth"). */
typedef void (*dapr_pubsub_handler_fn)(const dapr_pubsub_msg_t *msg, dapr_pubsub_ack_fn ack,
                                       void *ack_ctx, void *hdata);

typedef struct dapr_pubsub_sub_req {
    const char *topic;
    /* Subscription metadata (e.g. "consumerID", "rawPayload"). Borrowed. */
    const dapr_kv_t *metadata;
    size_t n_metadata;
} dapr_pubsub_sub_req_t;

typedef struct dapr_pubsub_vtable {
    const char *type;    /* "pubsub.redis" */
    const char *version; /* "v1" */
    uint32_t features;   /* DAPR_PUBSUB_FEATURE_* */
    size_t priv_size;
    const dapr_md_field_t *md_fields;
    size_t n_md_fields;

    /* Same contract as the state store's init/close. close completes
     * pending publishes with DAPR_ECLOSED and ends every subscription. */
    int (*init)(dapr_component_t *c, dapr_component_done_cb done);
    void (*close)(dapr_component_t *c, dapr_component_done_cb done);

    /* Publish one message; cb once the broker holds it (Redis: XADD
     * answered). Errors before cb: DAPR_EINVAL, DAPR_ECLOSED, DAPR_ENOMEM. */
    int (*publish)(dapr_component_t *c, const dapr_pubsub_msg_t *msg, dapr_pubsub_done_cb cb,
                   void *data);
    /* Optional (DAPR_PUBSUB_FEATURE_BULK_PUBLISH): all entries share one
     * topic; cb once with the failed entries. */
    int (*bulk_publish)(dapr_component_t *c, const dapr_pubsub_msg_t *entries, size_t n,
                        dapr_pubsub_bulk_cb cb, void *data);
    /* Start delivering req->topic to handler(hdata). Returns DAPR_OK and
     * writes a subscription id (> 0) to *sub_id; deliveries start on a
     * later loop turn. Errors: DAPR_EINVAL, DAPR_ECLOSED, DAPR_ENOMEM. */
    int (*subscribe)(dapr_component_t *c, const dapr_pubsub_sub_req_t *req,
                     dapr_pubsub_handler_fn handler, void *hdata, uint64_t *sub_id);
    /* Stop a subscription: no handler call after it returns. Messages
     * delivered and not acked with DAPR_OK stay with the broker. Unknown id:
     * DAPR_ENOTFOUND. */
    int (*unsubscribe)(dapr_component_t *c, uint64_t sub_id);
} dapr_pubsub_vtable_t;

/* Register a pub/sub type, process-wide; rules as dapr_register_state_store
 * (type must start with "pubsub."). */
DAPR_EXTERN int dapr_register_pubsub(const dapr_pubsub_vtable_t *vt);

#ifdef __cplusplus
}
#endif
#endif
