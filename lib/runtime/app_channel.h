/* The app channel: how daprd calls its own app (spec §1, --app-port,
 * --app-protocol, --app-channel-address). One per runtime, created when an
 * app port is configured.
 *
 * gRPC apps (--app-protocol grpc) are called through
 * dapr.proto.runtime.v1.AppCallback/OnInvoke on one HTTP/2 connection (the
 * engine of lib/grpc as a client). The caller's headers go along as gRPC
 * metadata (minus the ones dapr__invoke_header_dropped refuses), with
 * dapr-caller-app-id / dapr-callee-app-id, and APP_API_TOKEN as
 * dapr-api-token when it is set.
 */
#ifndef DAPR_RUNTIME_APP_CHANNEL_H
#define DAPR_RUNTIME_APP_CHANNEL_H

#include "api/invoke.h"
#include "core/tls.h"

typedef struct dapr__appch dapr__appch_t;

/* Create the channel for rt's options. DAPR_ENOTSUP for a protocol that
 * has no channel yet (the caller reports it), DAPR_ENOMEM, DAPR_EINVAL. */
int dapr__appch_create(dapr_runtime_t *rt, dapr__appch_t **out);
/* A channel to an external HTTP service (HTTPEndpoint resources, or an
 * http(s):// URL used as the app id): "http[s]://host[:port][/base/path]"
 * and headers added to every call (copied). https:// uses TLS with `tls`
 * (borrowed for the call; NULL: the system CAs); http:// ignores it.
 * DAPR_EINVAL for a bad URL (or TLS setup that failed: logged),
 * DAPR_ENOMEM. */
int dapr__appch_create_endpoint(dapr_runtime_t *rt, const char *url, const dapr_kv_t *hdrs,
                                size_t n_hdrs, const dapr__tls_client_config_t *tls,
                                dapr__appch_t **out);
/* The in-process app (app_inproc.h): calls go to the embedding program's
 * registered handlers instead of a socket. `ip` is borrowed (the runtime
 * owns it). DAPR_ENOMEM. */
struct dapr__inproc;
int dapr__appch_create_inproc(dapr_runtime_t *rt, struct dapr__inproc *ip, dapr__appch_t **out);
bool dapr__appch_is_inproc(const dapr__appch_t *ch);
/* Call the app. `caller` is the calling app id (our own for local calls). */
void dapr__appch_invoke(dapr__appch_t *ch, dapr__pool_t *pool, const dapr__invoke_req_t *req,
                        const char *caller, dapr__invoke_cb cb, void *data);
/* The gRPC channel to the app (--app-protocol grpc), NULL for an HTTP app.
 * Owned by the app channel: valid until dapr__appch_close. Used by the
 * gRPC proxy, which calls the app's own services on it. */
struct dapr__grpc_channel *dapr__appch_grpc_channel(const dapr__appch_t *ch);
/* Calls in flight end with an error; `done` (may be NULL) runs once the
 * channel's handles are closed and its memory is gone. */
void dapr__appch_close(dapr__appch_t *ch, void (*done)(void *ud), void *ud);

#endif
