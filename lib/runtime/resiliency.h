/* Resiliency: Dapr's timeouts, retries and circuit breakers as one
 * protocol-neutral policy engine on libuv. App calls (the app channel) are
 * its first user; component calls, pub/sub delivery, bindings and actors
 * use the same lookups and the same dapr__resil_run as they land.
 *
 * Where policies come from
 *   `kind: Resiliency` documents (parsed by components/resources.h) whose
 *   scopes name our app id (or are empty) are merged in load order: a later
 *   document's policy or target of the same name replaces an earlier one. A
 *   target naming a policy that no document in scope defines is an error
 *   (Dapr silently runs without it; we refuse, with file:line).
 *
 * Which policy an operation gets (Dapr's "policy hierarchy resolution")
 *   app call to <appId>:        targets.apps.<appId>, else for each of
 *                               timeout/retry/circuitBreaker on its own:
 *                               Default{App}XPolicy, then DefaultXPolicy.
 *   actor call to <type>:       targets.actors.<type>, else DefaultActorX,
 *                               then DefaultX.
 *   component <name>, <dir>:    targets.components.<name>.<dir>, else
 *                               Default<Type>Component<Dir>X,
 *                               DefaultComponent<Dir>X, DefaultComponentX,
 *                               DefaultX; <Type> is Statestore, Pubsub,
 *                               Binding, Secretstore, Configuration, Lock or
 *                               Crypto (from the component's spec.type);
 *                               <Dir> is Outbound or Inbound.
 *   (X is Timeout, Retry or CircuitBreaker.) A named target wins whole: its
 *   unset fields are "none", not defaults; a component target without an
 *   `inbound` block has no inbound policies.
 *
 * Built-in policies (Dapr's, replaceable by a retry policy of the same
 *   name; an override with 0 <= maxRetries < 3 is raised to 3 with a
 *   warning; DaprBuiltInActorNotFoundRetries cannot be overridden):
 *     DaprBuiltInServiceRetries        constant 1s, 3 retries
 *     DaprBuiltInActorRetries          constant 1s, 3 retries
 *     DaprBuiltInActorReminderRetries  exponential 500ms x1.5 ±50%, max 60s,
 *                                      no retry limit, stops after 15m
 *     DaprBuiltInInitializationRetries exponential 500ms x1.5 ±50%, max 1s,
 *                                      3 retries, stops after 10s
 *     DaprBuiltInActorNotFoundRetries  constant 1s, 5 retries
 *   They are returned by dapr__resil_policy_builtin() only: Dapr applies the
 *   service/actor ones to sidecar-to-sidecar calls failing with UNAVAILABLE
 *   or UNAUTHENTICATED, beside (not instead of) the default policies, and
 *   drops them when a named target exists (see dapr__resil_has_target()).
 *
 * Field defaults (Dapr's): retry policy constant, duration 5s, maxInterval
 *   60s, maxRetries -1 (no limit); exponential initialInterval 500ms,
 *   multiplier 1.5, randomizationFactor 0.5, maxElapsedTime 15m; breaker
 *   maxRequests 1, interval 0 (counts never cleared), timeout 60s, trip
 *   "consecutiveFailures > 5".
 *
 * Running an operation (dapr__resil_run)
 *   - Each attempt goes: breaker admission → attempt_fn → result. A breaker
 *     that is open fails the operation at once with
 *     DAPR__ERESIL_BREAKER_OPEN ("circuit breaker is open"); a half-open
 *     one that already let maxRequests through fails it with
 *     DAPR__ERESIL_TOO_MANY_REQUESTS ("too many requests"). Neither is
 *     retried, as in Dapr.
 *   - The timeout applies to each attempt. When it fires the engine calls
 *     cancel_fn(op, DAPR_ETIMEDOUT, ud) and counts the attempt as failed
 *     with DAPR_ETIMEDOUT (retryable).
 *   - A failed attempt is retried after the policy's delay: constant =
 *     duration; exponential = the current interval (initialInterval at
 *     first) scaled by a random factor in [1-rf, 1+rf], the interval then
 *     multiplied by `multiplier` up to maxInterval (cenkalti/backoff's
 *     algorithm, which Dapr uses). Retries stop after maxRetries, when an
 *     exponential policy's next delay would end past maxElapsedTime since
 *     the operation started, or when the attempt said it is not retryable.
 *   - Breaker (gobreaker's model, one per target key): closed counts
 *     requests, successes and failures, cleared every `interval` (0 =
 *     never); after each failure the trip expression is evaluated on the
 *     counts and, when true, the breaker opens. After `timeout` it is
 *     half-open and lets maxRequests attempts through: any failure reopens
 *     it, maxRequests consecutive successes close it. Results of attempts
 *     admitted before a state change are ignored. Cancelled attempts count
 *     neither way (their half-open slot is given back).
 *   - Transitions and retries are logged at debug, scope
 *     dapr.runtime.resiliency.
 *
 * Threads and memory
 *   Everything runs on the loop passed to dapr__resil_run; nothing blocks,
 *   no threads. dapr__resil_t owns every policy object, breaker and copy of
 *   the configuration; it keeps no pointer into the dapr__resources_t it was
 *   built from, and borrows the logger (which must outlive it). A policy
 *   pointer returned by a lookup is borrowed: valid until the next lookup on
 *   the same engine or until dapr__resil_free (breaker caches are bounded
 *   and evict least recently used entries); dapr__resil_run takes its own
 *   reference, so the policy also stays valid while the operation's
 *   attempts run (up to, not including, done_cb). An operation handle is
 *   valid from the moment dapr__resil_run stores it until done_cb returns.
 *   Free the engine only once every operation has completed.
 *
 * Use (the app channel, sketched):
 *     req->policy = dapr__resil_policy_for_app(rt->resil, target_app_id);
 *     rc = dapr__resil_run(loop, req->policy, send_once, abort_once, finished,
 *                          req, &req->op);
 *   send_once(op, req) sends the buffered request and, on the reply, calls
 *   dapr__resil_attempt_done(op, status 200-399 ? 0 : DAPR_EBACKEND,
 *   dapr__resil_retry_http_status(req->policy, status)) after keeping the
 *   reply; abort_once(op, why, req) drops the request in flight; finished(
 *   st, n, req) answers the caller with the kept reply, or ERR_DIRECT_INVOKE
 *   with dapr__resil_strerror(st) when st is a DAPR__ERESIL_* code.
 *
 * Not implemented (Dapr features left out): retry `matching` is parsed and
 * offered through dapr__resil_retry_http_status/_grpc_status, but applying
 * it is the caller's job (it knows the status); CEL beyond comparisons of
 * the counts joined by && || ! (no arithmetic, no functions); separate
 * pre-lock/post-lock actor policy objects; metrics; hot reload. Actor
 * calls use one policy in two places, as Dapr's pre-lock/post-lock pair: retry and breaker around the call on the
 * caller (dapr__resil_run_flags with DAPR__RESIL_RUN_NO_TIMEOUT), the
 * timeout around the app call inside the actor's turn on its host.
 */
#ifndef DAPR_RUNTIME_RESILIENCY_H
#define DAPR_RUNTIME_RESILIENCY_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "components/resources.h"
#include "core/log.h"

/* Engine-private result codes (outside the public DAPR_E* range): translate
 * them (e.g. to ERR_DIRECT_INVOKE with dapr__resil_strerror's text) before
 * they reach a public callback. */
#define DAPR__ERESIL_BREAKER_OPEN (-1000)
#define DAPR__ERESIL_TOO_MANY_REQUESTS (-1001)

/* Text of a result code, engine codes included ("circuit breaker is open",
 * "too many requests", else dapr_strerror's). Never NULL, static. */
const char *dapr__resil_strerror(int code);
/* Whether code is one of the two breaker rejections. */
bool dapr__resil_is_breaker_error(int code);

typedef struct dapr__resil dapr__resil_t;
typedef struct dapr__resil_policy dapr__resil_policy_t;
typedef struct dapr__resil_op dapr__resil_op_t;

typedef enum dapr__resil_dir {
    DAPR__RESIL_OUTBOUND = 0, /* sidecar → component (save state, publish, ...) */
    DAPR__RESIL_INBOUND = 1   /* component → sidecar → app (delivery, input binding) */
} dapr__resil_dir_t;

typedef enum dapr__resil_target_kind {
    DAPR__RESIL_APP = 0,
    DAPR__RESIL_ACTOR,
    DAPR__RESIL_COMPONENT
} dapr__resil_target_kind_t;

typedef enum dapr__resil_cb_state {
    DAPR__RESIL_CB_CLOSED = 0,
    DAPR__RESIL_CB_OPEN,
    DAPR__RESIL_CB_HALF_OPEN
} dapr__resil_cb_state_t;

/* Build the engine for app_id (borrowed, may be NULL: then only documents
 * without scopes apply) from the Resiliency documents in res (borrowed; may
 * be freed afterwards). lg is borrowed and must outlive the engine (NULL:
 * no logs). Returns 0 and *out, DAPR_EPARSE with *err = "<file>:<line>:
 * resiliency <name>: <problem>" (malloc'd, free with dapr__free) when a
 * target names an unknown policy, or DAPR_ENOMEM. */
int dapr__resil_new(const dapr__resources_t *res, const char *app_id, const dapr__logger_t *lg,
                    dapr__resil_t **out, char **err);
/* Accepts NULL. Every operation must have completed. */
void dapr__resil_free(dapr__resil_t *r);

/* ---- lookups ------------------------------------------------------------ */
/* Each returns the policy to run with, or NULL when no timeout, retry or
 * breaker applies (dapr__resil_run accepts NULL: one plain attempt). The
 * pointer is borrowed (see above). NULL also after an allocation failure
 * (logged), so an operation never fails for want of a breaker cache slot. */

/* Service invocation of app_id; one breaker per app id. */
dapr__resil_policy_t *dapr__resil_policy_for_app(dapr__resil_t *r, const char *app_id);
/* Same, with one breaker per endpoint of the app (Dapr keys the app's
 * breaker cache by endpoint, circuitBreakerCacheSize entries, default
 * 100); endpoint NULL = app_id. */
dapr__resil_policy_t *dapr__resil_policy_for_endpoint(dapr__resil_t *r, const char *app_id,
                                                     const char *endpoint);
/* Component `name` of Dapr type `type` ("state.redis", "pubsub.kafka", ...;
 * NULL when unknown: then only the generic defaults apply); one breaker per
 * component and direction. */
dapr__resil_policy_t *dapr__resil_policy_for_component(dapr__resil_t *r, const char *name,
                                                      const char *type, dapr__resil_dir_t dir);
/* Actor calls to actor_type (id may be NULL). The breaker is per type or
 * per id as circuitBreakerScope says ("both" keys by id, as Dapr does),
 * circuitBreakerCacheSize entries (default 5000); the defaults' breaker is
 * per type. */
dapr__resil_policy_t *dapr__resil_policy_for_actor(dapr__resil_t *r, const char *actor_type,
                                                  const char *id);
/* A built-in policy by name ("DaprBuiltInServiceRetries", ...): retry
 * only; NULL for an unknown name. */
dapr__resil_policy_t *dapr__resil_policy_builtin(dapr__resil_t *r, const char *name);
/* Whether a named target exists for this app id / actor type / component
 * (Dapr's PolicyDefined: built-in retries are skipped when one does). */
bool dapr__resil_has_target(const dapr__resil_t *r, dapr__resil_target_kind_t kind,
                            const char *name);

/* What a policy holds (all zero/NULL for a NULL policy). Pointers live as
 * long as the engine. */
typedef struct dapr__resil_policy_info {
    const char *timeout_name;           /* NULL = no timeout */
    int64_t timeout_ms;
    const dapr__res_retry_t *retry;     /* NULL = no retry; retry->name is its name */
    const dapr__res_breaker_t *breaker; /* NULL = no breaker; breaker->name */
    const char *breaker_key;            /* the instance's key (app id, endpoint, ...) */
} dapr__resil_policy_info_t;

void dapr__resil_policy_info(const dapr__resil_policy_t *p, dapr__resil_policy_info_t *out);
/* The breaker's state as of loop's now (open turns half-open after its
 * timeout); CLOSED when p has no breaker. */
dapr__resil_cb_state_t dapr__resil_breaker_state(dapr__resil_policy_t *p, uv_loop_t *loop);

/* Retry `matching`: whether an HTTP (100-599) / gRPC (0-16) status should
 * be retried — true when the policy lists no codes of that kind, false
 * without a retry policy. */
bool dapr__resil_retry_http_status(const dapr__resil_policy_t *p, int status);
bool dapr__resil_retry_grpc_status(const dapr__resil_policy_t *p, int status);

/* ---- running an operation --------------------------------------------- */

/* Start one attempt; report its end with dapr__resil_attempt_done (from
 * inside attempt_fn too, e.g. when it cannot start). */
typedef void (*dapr__resil_attempt_fn)(dapr__resil_op_t *op, void *ud);
/* Abandon the attempt in flight: reason is DAPR_ETIMEDOUT (the policy's
 * timeout fired; another attempt may follow) or DAPR_ECANCELED
 * (dapr__resil_cancel). A dapr__resil_attempt_done call made while
 * cancel_fn runs is ignored; after it returns, that attempt must not
 * report any more. */
typedef void (*dapr__resil_cancel_fn)(dapr__resil_op_t *op, int reason, void *ud);
/* The operation ended: status 0, the last attempt's failure (DAPR_ETIMEDOUT
 * when it timed out), a DAPR__ERESIL_* breaker code, or DAPR_ECANCELED.
 * attempts = how many times attempt_fn was called. */
typedef void (*dapr__resil_done_cb)(int status, unsigned attempts, void *ud);

/* Run an operation under policy p (NULL: a single attempt). loop, p and the
 * functions are borrowed; ud returns untouched. *out (optional) is set
 * before the first attempt starts, so it can be a field the done_cb clears
 * — done_cb may run before this returns when attempts answer synchronously.
 * Returns 0 (done_cb will be called exactly once) or DAPR_ENOMEM (never
 * called). */
int dapr__resil_run(uv_loop_t *loop, dapr__resil_policy_t *p, dapr__resil_attempt_fn attempt,
                    dapr__resil_cancel_fn cancel, dapr__resil_done_cb done, void *ud,
                    dapr__resil_op_t **out);
/* The same with flags. DAPR__RESIL_RUN_NO_TIMEOUT: the policy's timeout is
 * not applied (its retry and breaker are): Dapr's "pre-lock" actor policy,
 * whose timeout the actor's host applies to the app call inside the turn
 * instead (see actors.c). */
#define DAPR__RESIL_RUN_NO_TIMEOUT 1u
int dapr__resil_run_flags(uv_loop_t *loop, dapr__resil_policy_t *p, unsigned flags,
                          dapr__resil_attempt_fn attempt, dapr__resil_cancel_fn cancel,
                          dapr__resil_done_cb done, void *ud, dapr__resil_op_t **out);
/* Report the attempt in flight: status 0 or a negative DAPR_E* code;
 * retryable false stops retrying (the failure still counts for the
 * breaker). Ignored when no attempt is in flight. */
void dapr__resil_attempt_done(dapr__resil_op_t *op, int status, bool retryable);
/* Stop the operation: the attempt in flight is cancelled (cancel_fn with
 * DAPR_ECANCELED), a pending retry is dropped, done_cb gets DAPR_ECANCELED.
 * No-op once done_cb has been called. */
void dapr__resil_cancel(dapr__resil_op_t *op);
/* 1-based number of the attempt in flight (or of the last one). */
unsigned dapr__resil_op_attempt(const dapr__resil_op_t *op);

/* Tests: make the jitter sequence reproducible. */
void dapr__resil_seed(dapr__resil_t *r, uint64_t seed);

#endif
