/* gRPC proxying (spec grpc-api.md §3): a gRPC call for a path daprd does
 * not serve, carrying `dapr-app-id` (API port) or `dapr-callee-app-id`,
 * goes to the target app's own gRPC service, streaming included, relayed
 * message by message (lib/grpc/relay.h).
 *
 * API port (after the dapr-api-token check): a target naming this app
 * ("id" or "id.namespace") goes to the app's gRPC channel; any other is
 * resolved by name resolution and goes, same :path, to its sidecar's
 * internal gRPC server. Internal server: dapr-callee-app-id must name this
 * app; the call goes to the app's gRPC channel.
 *
 * Metadata forwarded: the caller's, minus dapr-api-token (never forwarded,
 * CVE-2024-35223), dapr-app-id, hop-by-hop, pseudo and reserved gRPC
 * headers (grpc-timeout: the remaining deadline becomes the upstream call's
 * timeout); plus dapr-caller-app-id (the calling app: ours on the API port,
 * as received on the internal server) and dapr-callee-app-id; toward the
 * app, APP_API_TOKEN as dapr-api-token when it is set. "-bin" values travel
 * as bytes.
 */
#ifndef DAPR_RUNTIME_PROXY_H
#define DAPR_RUNTIME_PROXY_H

#include <stdbool.h>

#include "dapr/runtime.h"
#include "grpc/grpc.h"

/* The proxy's on_start: `internal` for the internal server, else the API
 * port (whose token check ran already). Either finishes the call at once
 * (no target, no app channel...) or hands it to a relay; the method row's
 * other callbacks are the relay's (dapr__grpc_relay_on_*). */
void dapr__proxy_start(dapr_runtime_t *rt, dapr__grpc_call_t *call, bool internal);

#endif
