/* Calls to a component under its outbound resiliency policy (a Resiliency
 * resource's targets.components.<name>.outbound: a timeout per attempt,
 * retries, a circuit breaker), for the state and pub/sub building blocks.
 *
 * The caller hands a `start` function that makes one component call with
 * the callback and data it is given. Without a policy for the component,
 * start runs once with the caller's own callback: no allocation, and a
 * synchronous error comes back as start's return value, as a direct call's
 * would. With a policy, each attempt gets its own callback record; an
 * attempt that timed out is forgotten (its late answer is dropped), failures
 * other than ETag and argument errors are retried, and the final outcome
 * reaches the caller's callback exactly once (a timeout as DAPR_ETIMEDOUT,
 * an open breaker as DAPR_EUNAVAIL); the return value is then 0 or
 * DAPR_ENOMEM. Everything the start function reads must live until the
 * final callback. */
#ifndef DAPR_API_OUTBOUND_H
#define DAPR_API_OUTBOUND_H

#include "dapr/component.h"
#include "dapr/runtime.h"

typedef int (*dapr__ob_get_start)(void *ud, dapr_state_get_cb cb, void *cbdata);
typedef int (*dapr__ob_done_start)(void *ud, dapr_done_cb cb, void *cbdata);

int dapr__ob_get(dapr_runtime_t *rt, dapr_component_t *c, dapr__ob_get_start start, void *ud,
                 dapr_state_get_cb fin, void *fin_data);
int dapr__ob_call(dapr_runtime_t *rt, dapr_component_t *c, dapr__ob_done_start start, void *ud,
                  dapr_done_cb fin, void *fin_data);

#endif
