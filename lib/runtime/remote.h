/* Sidecar to sidecar (spec §1, dapr.proto.internals.v1.ServiceInvocation).
 *
 * Server side: an internal gRPC server on --dapr-internal-grpc-port (a free
 * port when not given) on --dapr-internal-grpc-listen-address (default
 * 127.0.0.1) serving CallLocal: the request goes to this sidecar's app
 * channel with the caller's app id, the app's answer goes back as an
 * InternalInvokeResponse (status.code: the HTTP status for HTTP apps, the
 * gRPC code for gRPC apps).
 *
 * Any other path on the internal server is a proxied gRPC call (spec
 * grpc-api.md §3): with dapr-callee-app-id naming this app it goes on to
 * the app's own gRPC service (lib/runtime/proxy.c).
 *
 * Client side: the name resolver (standalone default: mdns on loopback)
 * turns an app id into "host:port" of its sidecar's internal server, round
 * robin among instances; one gRPC channel per address carries CallLocal
 * and proxied calls.
 */
#ifndef DAPR_RUNTIME_REMOTE_H
#define DAPR_RUNTIME_REMOTE_H

#include "api/invoke.h"

typedef struct dapr__remote dapr__remote_t;

/* Start the internal server and the resolver (its init and the
 * registration of this sidecar complete later, on the loop). Errors set
 * rt's last error and return DAPR_E*. */
int dapr__remote_start(dapr_runtime_t *rt, dapr__remote_t **out);
/* The internal server's bound port. */
int dapr__remote_port(const dapr__remote_t *r);
/* Call app `req->app_id` through its sidecar. */
void dapr__remote_invoke(dapr__remote_t *r, dapr__pool_t *pool, const dapr__invoke_req_t *req,
                         dapr__invoke_cb cb, void *data);
/* The channel to app_id's sidecar ("id" or "id.namespace"), for the gRPC
 * proxy: resolved through name resolution, one cached channel per address
 * (the one CallLocal uses). `cb` runs exactly once, possibly before this
 * returns: with the channel (owned by r, valid until dapr__remote_close),
 * or with NULL and why ("failed to resolve address for 'x': ..."). */
struct dapr__grpc_channel;
typedef void (*dapr__remote_chan_cb)(struct dapr__grpc_channel *ch, const char *err, void *ud);
void dapr__remote_proxy_channel(dapr__remote_t *r, const char *app_id, dapr__remote_chan_cb cb,
                                void *ud);
/* For actor calls (actors_remote.c): the pooled channel to a sidecar's
 * internal server "host:port" (owned by r; NULL when closing or bad), and
 * the InternalInvokeResponse codec CallLocal uses (the answer packed into
 * pool; a response decoded with strings borrowed from ir, headers in pool). */
struct Dapr__Proto__Internals__V1__InternalInvokeResponse;
struct dapr__grpc_channel *dapr__remote_channel(dapr__remote_t *r, const char *addr);
/* InternalInvokeRequest metadata built in a pool, one value per key (CallLocal
 * and CallActor): init with room for cap entries (0 or DAPR_ENOMEM), add
 * borrowed strings (kept until the request is packed), then ep/n are the
 * request's metadata and n_metadata. */
struct Dapr__Proto__Internals__V1__InternalInvokeRequest__MetadataEntry;
struct Dapr__Proto__Internals__V1__ListStringValue;
typedef struct dapr__remote_md {
    struct Dapr__Proto__Internals__V1__InternalInvokeRequest__MetadataEntry *es, **ep;
    struct Dapr__Proto__Internals__V1__ListStringValue *lv;
    char **vals;
    size_t n;
} dapr__remote_md_t;
int dapr__remote_md_init(dapr__remote_md_t *m, dapr__pool_t *pool, size_t cap);
void dapr__remote_md_add(dapr__remote_md_t *m, const char *key, const char *value);
uint8_t *dapr__remote_pack_response(dapr__pool_t *pool, const dapr__invoke_resp_t *resp,
                                    size_t *len);
void dapr__remote_response_of(dapr__pool_t *pool,
                              const struct Dapr__Proto__Internals__V1__InternalInvokeResponse *ir,
                              dapr__invoke_resp_t *resp);
/* Graceful: the server stops (calls in flight finish), the resolver
 * withdraws this sidecar, channels close; `done` runs when all is gone. */
void dapr__remote_close(dapr__remote_t *r, void (*done)(void *ud), void *ud);

#endif
