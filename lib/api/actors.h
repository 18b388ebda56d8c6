/* Actors, protocol-neutral (spec §8.1): the HTTP adapter (/v1.0/actors/...)
 * and the gRPC adapter (InvokeActor, GetActorState, ...) decode into these
 * calls; the rules (runtime and store presence, name validation, key layout
 * "appid||type||id||key", error rows) live here once, the runtime
 * (runtime/actors.h) does activation, turns, timers and reminders.
 *
 * Every function calls its callback exactly once, possibly before returning.
 * `pool` (borrowed) must outlive the callback; errors are borrowed for the
 * callback only. */
#ifndef DAPR_API_ACTORS_H
#define DAPR_API_ACTORS_H

#include "api/invoke.h"
#include "api/state.h"
#include "runtime/actors.h"

/* Invoke a method. The callback gets the app's 200 answer, or an error
 * (ERR_ACTOR_INVOKE_METHOD for any other answer of the app). */
void dapr__actor_invoke(dapr_runtime_t *rt, dapr__pool_t *pool, const dapr__actor_call_t *call,
                        dapr__invoke_cb cb, void *data);

void dapr__actor_state_get(dapr_runtime_t *rt, dapr__pool_t *pool, const char *type,
                           const char *id, const char *key, dapr__state_get_done_cb cb,
                           void *data);

/* ops: user keys; kind 0 = unknown operation (`bad_op` names it). */
void dapr__actor_state_transact(dapr_runtime_t *rt, dapr__pool_t *pool, const char *type,
                                const char *id, const dapr_state_op_t *ops, size_t n,
                                const char *bad_op, dapr__state_done_cb cb, void *data);

void dapr__actor_timer_create(dapr_runtime_t *rt, const dapr__actor_sched_req_t *req,
                              dapr__state_done_cb cb, void *data);
void dapr__actor_timer_delete(dapr_runtime_t *rt, const char *type, const char *id,
                              const char *name, dapr__state_done_cb cb, void *data);
void dapr__actor_reminder_create(dapr_runtime_t *rt, dapr__pool_t *pool,
                                 const dapr__actor_sched_req_t *req, dapr__state_done_cb cb,
                                 void *data);
void dapr__actor_reminder_delete(dapr_runtime_t *rt, dapr__pool_t *pool, const char *type,
                                 const char *id, const char *name, dapr__state_done_cb cb,
                                 void *data);
/* The reminder's JSON (see spec §8.1 "Get reminder") into out, or an error
 * (the caller frees it with dapr__apierr_free). */
dapr__apierr_t *dapr__actor_reminder_get(dapr_runtime_t *rt, const char *type, const char *id,
                                         const char *name, dapr__buf_t *out);

/* Reminders as the actor state store holds them now (registered through any
 * sidecar). json (borrowed for the callback): the stored reminder object
 * (read; NULL without an error when there is none: HTTP and gRPC answer
 * that differently) or a JSON array of them (list; id NULL = every id of
 * the type). An unhosted type is ERR_ACTOR_REMINDER_NON_HOSTED, a store
 * failure ERR_ACTOR_REMINDER_GET. */
typedef void (*dapr__actor_json_cb)(dapr__apierr_t *err, const char *json, void *data);
void dapr__actor_reminder_read(dapr_runtime_t *rt, dapr__pool_t *pool, const char *type,
                               const char *id, const char *name, dapr__actor_json_cb cb,
                               void *data);
void dapr__actor_reminder_list(dapr_runtime_t *rt, dapr__pool_t *pool, const char *type,
                               const char *id, dapr__actor_json_cb cb, void *data);
/* Remove every reminder of the type (id NULL) or of one of its actors. */
void dapr__actor_reminder_delete_all(dapr_runtime_t *rt, dapr__pool_t *pool, const char *type,
                                     const char *id, dapr__state_done_cb cb, void *data);

#endif
