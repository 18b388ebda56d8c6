/* App health checks (--enable-app-health-check and the app-health-* flags).
 *
 * Once the app is discovered, its health is probed every
 * --app-health-probe-interval seconds: HTTP apps with GET
 * <--app-health-check-path> (2xx = healthy) on a client of their own, gRPC
 * apps with dapr.proto.runtime.v1.AppCallbackHealthCheck/HealthCheck (OK =
 * healthy) on a channel of their own. A probe that has not answered after
 * --app-health-probe-timeout ms is cancelled and counts as a failure.
 * After --app-health-threshold failures in a row the app is unhealthy
 * (rt->app_healthy = false, "App entered an unhealthy state"); one success
 * makes it healthy again ("App entered a healthy state").
 *
 * Dapr reacts to an unhealthy app by unsubscribing from pub/sub, stopping
 * input bindings, short-circuiting service invocation and unregistering
 * actor types. Here the app channel refuses calls to the own app while it
 * is unhealthy (app_channel.c); pub/sub, bindings and actors react as they
 * land.
 */
#ifndef DAPR_RUNTIME_APP_HEALTH_H
#define DAPR_RUNTIME_APP_HEALTH_H

#include "runtime_int.h"

typedef struct dapr__app_health dapr__app_health_t;

/* Start probing rt's app (rt->opt: app port, protocol, channel address,
 * health flags). The first probe runs at once. DAPR_ENOTSUP for a protocol
 * other than http/grpc, DAPR_ENOMEM, DAPR_EINVAL. */
int dapr__app_health_start(dapr_runtime_t *rt, dapr__app_health_t **out);
/* Stop probing: the probe in flight is cancelled (not counted), timers and
 * the client close; `done` (may be NULL) runs once every handle is closed
 * and the memory is gone (never from inside this call). */
void dapr__app_health_close(dapr__app_health_t *h, void (*done)(void *ud), void *ud);

#endif
