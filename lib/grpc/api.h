/* The gRPC adapters of the Dapr API: protobuf in (protobuf-c), the
 * protocol-neutral lib/api functions do the work, protobuf or a gRPC status
 * with Dapr's rich error details out. */
#ifndef DAPR_GRPC_API_H
#define DAPR_GRPC_API_H

#include <protobuf-c/protobuf-c.h>

#include "core/errors.h"
#include "core/pool.h"
#include "grpc.h"

struct dapr_runtime;

/* One call's context: the decoded request lives until the call finishes. */
typedef struct dapr__gctx {
    dapr__grpc_call_t *call;
    struct dapr_runtime *rt;
    dapr__pool_t pool;
    ProtobufCMessage *req;
    bool cancelled;
} dapr__gctx_t;

typedef void (*dapr__gapi_fn)(dapr__gctx_t *g, const ProtobufCMessage *req);

/* What a served method needs besides the engine's row (its `user`). */
typedef struct dapr__gapi_method {
    const ProtobufCMessageDescriptor *in;
    dapr__gapi_fn fn;
} dapr__gapi_method_t;

/* The method table of the API port (Dapr service, TaskHubSidecarService) and
 * the proxy fallback. Built once; static storage. */
void dapr__gapi_table(const dapr__grpc_method_t **methods, size_t *n,
                      const dapr__grpc_method_t **fallback);

/* Finish helpers: each ends the call and frees the context. */
void dapr__gapi_reply(dapr__gctx_t *g, const ProtobufCMessage *resp);
void dapr__gapi_fail(dapr__gctx_t *g, const dapr__apierr_t *err);
void dapr__gapi_status(dapr__gctx_t *g, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* map<string,string> entries of any generated message → pairs in the pool. */
dapr_kv_t *dapr__gapi_md(dapr__pool_t *pool, size_t n, void *const *entries);

/* Handlers (lib/grpc/api_state.c, api_metadata.c) */
void dapr__gapi_get_state(dapr__gctx_t *g, const ProtobufCMessage *req);
void dapr__gapi_get_bulk_state(dapr__gctx_t *g, const ProtobufCMessage *req);
void dapr__gapi_save_state(dapr__gctx_t *g, const ProtobufCMessage *req);
void dapr__gapi_delete_state(dapr__gctx_t *g, const ProtobufCMessage *req);
void dapr__gapi_delete_bulk_state(dapr__gctx_t *g, const ProtobufCMessage *req);
void dapr__gapi_transaction(dapr__gctx_t *g, const ProtobufCMessage *req);
void dapr__gapi_query_state(dapr__gctx_t *g, const ProtobufCMessage *req);
void dapr__gapi_get_metadata(dapr__gctx_t *g, const ProtobufCMessage *req);
void dapr__gapi_set_metadata(dapr__gctx_t *g, const ProtobufCMessage *req);
void dapr__gapi_shutdown(dapr__gctx_t *g, const ProtobufCMessage *req);
void dapr__gapi_invoke_service(dapr__gctx_t *g, const ProtobufCMessage *req);
/* The API token check of every Dapr RPC: 0, or the gRPC code with *msg. */
int dapr__gapi_check_token(dapr__grpc_call_t *call, const char **msg);
/* SubscribeTopicEventsAlpha1 (bidi streaming, api_pubsub.c). */
void dapr__gapi_subscribe_on_message(dapr__grpc_call_t *call, const uint8_t *msg, size_t len);
void dapr__gapi_subscribe_on_half_close(dapr__grpc_call_t *call);
void dapr__gapi_subscribe_on_cancel(dapr__grpc_call_t *call);
void dapr__gapi_publish_event(dapr__gctx_t *g, const ProtobufCMessage *req);
void dapr__gapi_bulk_publish(dapr__gctx_t *g, const ProtobufCMessage *req);
/* Actors (api_actors.c) */
void dapr__gapi_invoke_actor(dapr__gctx_t *g, const ProtobufCMessage *req);
void dapr__gapi_get_actor_state(dapr__gctx_t *g, const ProtobufCMessage *req);
void dapr__gapi_actor_state_tx(dapr__gctx_t *g, const ProtobufCMessage *req);
void dapr__gapi_register_actor_timer(dapr__gctx_t *g, const ProtobufCMessage *req);
void dapr__gapi_unregister_actor_timer(dapr__gctx_t *g, const ProtobufCMessage *req);
void dapr__gapi_register_actor_reminder(dapr__gctx_t *g, const ProtobufCMessage *req);
void dapr__gapi_unregister_actor_reminder(dapr__gctx_t *g, const ProtobufCMessage *req);
void dapr__gapi_get_actor_reminder(dapr__gctx_t *g, const ProtobufCMessage *req);
void dapr__gapi_list_actor_reminders(dapr__gctx_t *g, const ProtobufCMessage *req);
void dapr__gapi_unregister_actor_reminders_by_type(dapr__gctx_t *g, const ProtobufCMessage *req);

#endif
