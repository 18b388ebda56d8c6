/* Sidecar to sidecar (spec §1, dapr.proto.internals.v1.ServiceInvocation).
 *
 * Server side: an internal gRPC server on --dapr-internal-grpc-port (a free
 * port when not given) on --dapr-internal-grpc-listen-address (default
 * 127.0.0.1) serving CallLocal: the request goes to this sidecar's app
 * channel with the caller's app id, the app's answer goes back as an
 * InternalInvokeResponse (status.code: the HTTP status for HTTP apps, the
 * gRPC code for gRPC apps).
 *
 * Client side: the name resolver (standalone default: mdns on loopback)
 * turns an app id into "host:port" of its sidecar's internal server, round
 * robin among instances; one gRPC channel per address carries CallLocal.
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
/* Graceful: the server stops (calls in flight finish), the resolver
 * withdraws this sidecar, channels close; `done` runs when all is gone. */
void dapr__remote_close(dapr__remote_t *r, void (*done)(void *ud), void *ud);

#endif
