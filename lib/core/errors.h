/* The error catalogue: one row per Dapr API error, rendered identically by
 * the HTTP and gRPC transports (DESIGN.md "Errors: one catalogue").
 *
 * Row: id, errorCode, HTTP status, gRPC code, ErrorInfo reason (NULL for
 * legacy errors without details), ResourceInfo type (NULL for none). */
#ifndef DAPR_CORE_ERRORS_H
#define DAPR_CORE_ERRORS_H

#include <stddef.h>

#include "buf.h"
#include "dapr/common.h"

/* gRPC status codes */
enum {
    DAPR_GRPC_OK = 0,
    DAPR_GRPC_CANCELLED = 1,
    DAPR_GRPC_UNKNOWN = 2,
    DAPR_GRPC_INVALID_ARGUMENT = 3,
    DAPR_GRPC_DEADLINE_EXCEEDED = 4,
    DAPR_GRPC_NOT_FOUND = 5,
    DAPR_GRPC_ALREADY_EXISTS = 6,
    DAPR_GRPC_PERMISSION_DENIED = 7,
    DAPR_GRPC_RESOURCE_EXHAUSTED = 8,
    DAPR_GRPC_FAILED_PRECONDITION = 9,
    DAPR_GRPC_ABORTED = 10,
    DAPR_GRPC_OUT_OF_RANGE = 11,
    DAPR_GRPC_UNIMPLEMENTED = 12,
    DAPR_GRPC_INTERNAL = 13,
    DAPR_GRPC_UNAVAILABLE = 14,
    DAPR_GRPC_DATA_LOSS = 15,
    DAPR_GRPC_UNAUTHENTICATED = 16
};

#define DAPR__ERRCAT(X)                                                                        \
    X(MALFORMED_REQUEST, "ERR_MALFORMED_REQUEST", 400, 3, NULL, NULL)                          \
    X(BODY_READ, "ERR_BODY_READ", 400, 3, NULL, NULL)                                          \
    X(BODY_TOO_LARGE, "ERR_BODY_READ", 413, 8, NULL, NULL)                                     \
    X(BAD_REQUEST, "ERR_BAD_REQUEST", 400, 3, NULL, NULL)                                      \
    X(API_UNIMPLEMENTED, "ERR_API_UNIMPLEMENTED", 501, 12, NULL, NULL)                         \
    X(INTERNAL, "ERR_INTERNAL", 500, 13, NULL, NULL)                                           \
    X(DIRECT_INVOKE_NO_APPID, "ERR_DIRECT_INVOKE", 404, 3, NULL, NULL)                         \
    X(DIRECT_INVOKE, "ERR_DIRECT_INVOKE", 500, 13, NULL, NULL)                                 \
    X(STATE_STORE_NOT_FOUND, "ERR_STATE_STORE_NOT_FOUND", 400, 3, "DAPR_STATE_NOT_FOUND", NULL) \
    X(STATE_STORE_NOT_CONFIGURED, "ERR_STATE_STORE_NOT_CONFIGURED", 500, 9,                    \
      "DAPR_STATE_NOT_CONFIGURED", NULL)                                                       \
    X(STATE_ILLEGAL_KEY, "ERR_MALFORMED_REQUEST", 400, 3, "DAPR_STATE_ILLEGAL_KEY", "state")   \
    X(STATE_GET, "ERR_STATE_GET", 500, 13, NULL, NULL)                                         \
    X(STATE_SAVE, "ERR_STATE_SAVE", 500, 13, NULL, NULL)                                       \
    X(STATE_SAVE_ETAG_MISMATCH, "ERR_STATE_SAVE", 409, 10, NULL, NULL)                         \
    X(STATE_SAVE_ETAG_INVALID, "ERR_STATE_SAVE", 400, 3, NULL, NULL)                           \
    X(STATE_DELETE, "ERR_STATE_DELETE", 500, 13, NULL, NULL)                                   \
    X(STATE_DELETE_ETAG_MISMATCH, "ERR_STATE_DELETE", 409, 10, NULL, NULL)                     \
    X(STATE_DELETE_ETAG_INVALID, "ERR_STATE_DELETE", 400, 3, NULL, NULL)                       \
    X(STATE_BULK_GET, "ERR_STATE_BULK_GET", 500, 13, NULL, NULL)                               \
    X(STATE_BULK_DELETE, "ERR_STATE_BULK_DELETE", 500, 13, NULL, NULL)                         \
    X(STATE_BULK_DELETE_ETAG_MISMATCH, "ERR_STATE_BULK_DELETE", 409, 10, NULL, NULL)           \
    X(STATE_BULK_DELETE_ETAG_INVALID, "ERR_STATE_BULK_DELETE", 400, 3, NULL, NULL)             \
    X(STATE_TRANSACTION, "ERR_STATE_TRANSACTION", 500, 13, NULL, NULL)                         \
    X(STATE_TRANSACTION_ETAG_MISMATCH, "ERR_STATE_TRANSACTION", 409, 10, NULL, NULL)           \
    X(STATE_TRANSACTION_ETAG_INVALID, "ERR_STATE_TRANSACTION", 400, 3, NULL, NULL)             \
    X(STATE_OP_NOT_SUPPORTED, "ERR_NOT_SUPPORTED_STATE_OPERATION", 400, 12, NULL, NULL)         \
    X(STATE_TX_NOT_SUPPORTED, "ERR_STATE_STORE_NOT_SUPPORTED", 500, 12,                        \
      "DAPR_STATE_TRANSACTIONS_NOT_SUPPORTED", "state")                                        \
    X(STATE_TOO_MANY_TRANSACTIONS, "ERR_STATE_STORE_TOO_MANY_TRANSACTIONS", 400, 3,            \
      "DAPR_STATE_TOO_MANY_TRANSACTIONS", "state")                                             \
    X(STATE_QUERY_NOT_SUPPORTED, "ERR_STATE_STORE_NOT_SUPPORTED", 500, 13,                     \
      "DAPR_STATE_QUERYING_NOT_SUPPORTED", "state")                                            \
    X(STATE_QUERY, "ERR_STATE_QUERY", 500, 13, "DAPR_STATE_QUERY_FAILED", "state")             \
    X(HEALTH_NOT_READY, "ERR_HEALTH_NOT_READY", 500, 14, NULL, NULL)                           \
    X(HEALTH_APPID_NOT_MATCH, "ERR_HEALTH_APPID_NOT_MATCH", 500, 3, NULL, NULL)                \
    X(OUTBOUND_HEALTH_NOT_READY, "ERR_OUTBOUND_HEALTH_NOT_READY", 500, 14, NULL, NULL)         \
    X(METADATA_GET, "ERR_METADATA_GET", 500, 13, NULL, NULL)                                   \
    X(PUBSUB_NOT_CONFIGURED, "ERR_PUBSUB_NOT_CONFIGURED", 400, 9, "DAPR_PUBSUB_NOT_CONFIGURED", \
      NULL)                                                                                    \
    X(PUBSUB_EMPTY, "ERR_PUBSUB_EMPTY", 404, 3, "DAPR_PUBSUB_NAME_EMPTY", NULL)                 \
    X(PUBSUB_NOT_FOUND, "ERR_PUBSUB_NOT_FOUND", 404, 3, "DAPR_PUBSUB_NOT_FOUND", NULL)          \
    X(PUBSUB_TOPIC_EMPTY, "ERR_TOPIC_NAME_EMPTY", 404, 3, "DAPR_PUBSUB_TOPIC_NAME_EMPTY",      \
      "pubsub")                                                                                \
    X(PUBSUB_FORBIDDEN, "ERR_PUBSUB_FORBIDDEN", 403, 7, "DAPR_PUBSUB_FORBIDDEN", "pubsub")     \
    X(PUBSUB_PUBLISH_MESSAGE, "ERR_PUBSUB_PUBLISH_MESSAGE", 500, 13,                           \
      "DAPR_PUBSUB_PUBLISH_MESSAGE", "pubsub")                                                 \
    X(PUBSUB_REQUEST_METADATA, "ERR_PUBSUB_REQUEST_METADATA", 400, 3,                          \
      "DAPR_PUBSUB_METADATA_DESERIALIZATION", "pubsub")                                        \
    X(PUBSUB_CLOUD_EVENTS_SER, "ERR_PUBSUB_CLOUD_EVENTS_SER", 500, 3,                          \
      "DAPR_PUBSUB_CLOUD_EVENT_CREATION", "pubsub")                                            \
    X(PUBSUB_EVENTS_SER, "ERR_PUBSUB_EVENTS_SER", 400, 3, "DAPR_PUBSUB_MARSHAL_EVENTS",        \
      "pubsub")                                                                                \
    X(ACTOR_RUNTIME_NOT_FOUND, "ERR_ACTOR_RUNTIME_NOT_FOUND", 500, 13, NULL, NULL)             \
    X(ACTOR_NO_APP_CHANNEL, "ERR_ACTOR_NO_APP_CHANNEL", 400, 9, NULL, NULL)                    \
    X(ACTOR_INSTANCE_MISSING, "ERR_ACTOR_INSTANCE_MISSING", 400, 3, NULL, NULL)                \
    X(ACTOR_INVOKE_METHOD, "ERR_ACTOR_INVOKE_METHOD", 500, 13, NULL, NULL)                     \
    X(ACTOR_STATE_GET, "ERR_ACTOR_STATE_GET", 500, 13, NULL, NULL)                             \
    X(ACTOR_STATE_TRANSACTION_SAVE, "ERR_ACTOR_STATE_TRANSACTION_SAVE", 500, 13, NULL, NULL)   \
    X(ACTOR_REMINDER_CREATE, "ERR_ACTOR_REMINDER_CREATE", 500, 13, NULL, NULL)                 \
    X(ACTOR_REMINDER_GET, "ERR_ACTOR_REMINDER_GET", 500, 13, NULL, NULL)                       \
    X(ACTOR_REMINDER_DELETE, "ERR_ACTOR_REMINDER_DELETE", 500, 13, NULL, NULL)                 \
    X(ACTOR_REMINDER_NON_HOSTED, "ERR_ACTOR_REMINDER_NON_HOSTED", 403, 7, NULL, NULL)          \
    X(ACTOR_TIMER_CREATE, "ERR_ACTOR_TIMER_CREATE", 500, 13, NULL, NULL)                       \
    X(ACTOR_TIMER_DELETE, "ERR_ACTOR_TIMER_DELETE", 500, 13, NULL, NULL)                       \
    X(ACTOR_STACK_DEPTH, "ERR_ACTOR_STACK_DEPTH", 500, 13, NULL, NULL)                         \
    X(ACTOR_RUNTIME_CLOSED, "ERR_ACTOR_RUNTIME_CLOSED", 503, 14, NULL, NULL)                   \
    X(ACTOR_NO_ADDRESS, "ERR_ACTOR_NO_ADDRESS", 404, 5, NULL, NULL)

typedef enum dapr__errid {
#define DAPR__ERRCAT_ENUM(id, code, http, grpc, reason, rtype) DAPR_ERR_##id,
    DAPR__ERRCAT(DAPR__ERRCAT_ENUM)
#undef DAPR__ERRCAT_ENUM
        DAPR_ERR__COUNT
} dapr__errid_t;

typedef struct dapr__errdef {
    const char *code;
    int http;
    int grpc;
    const char *reason;
    const char *resource_type;
} dapr__errdef_t;

const dapr__errdef_t *dapr__errdef(dapr__errid_t id);

#define DAPR__APIERR_MAX_MD 4

/* One API error instance, produced by lib/api and rendered by a transport. */
typedef struct dapr__apierr {
    dapr__errid_t id;
    char *message;
    char *resource_name;   /* ResourceInfo.resource_name, when the row has a type */
    char *violation_field; /* BadRequest, optional */
    char *violation_desc;
    size_t n_md;
    char *md_key[DAPR__APIERR_MAX_MD];
    char *md_val[DAPR__APIERR_MAX_MD];
} dapr__apierr_t;

/* Allocate; returns NULL only on OOM (callers then answer a static 500). */
dapr__apierr_t *dapr__apierr_new(dapr__errid_t id, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void dapr__apierr_md(dapr__apierr_t *e, const char *k, const char *v);
void dapr__apierr_resource(dapr__apierr_t *e, const char *name);
void dapr__apierr_violation(dapr__apierr_t *e, const char *field, const char *desc);
void dapr__apierr_free(dapr__apierr_t *e);

/* {"errorCode":..,"message":..[,"details":[...]]} */
int dapr__apierr_json(const dapr__apierr_t *e, dapr__buf_t *out);

/* google.rpc.Status{code, message, details} as Dapr sends it in
 * grpc-status-details-bin (ResourceInfo, ErrorInfo, BadRequest in that
 * order; legacy errors carry no details). */
int dapr__apierr_status_pb(const dapr__apierr_t *e, dapr__buf_t *out);

/* Map a DAPR_E* code to an HTTP status and gRPC code for generic errors. */
int dapr__errno_grpc(int code);

#endif
