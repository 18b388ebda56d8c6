/* The actor runtime (spec §8, issue 6): activations of the app's actor types
 * on this sidecar, their turn-based call queues, timers (in memory, per
 * activation) and reminders (durable, in the actor state store), idle
 * deactivation and reentrancy. Placement (placement.h) says which sidecar
 * owns an actor id; calls for local actors go to the app over the app
 * channel: PUT /actors/{type}/{id}/method/{m|timer/{n}|remind/{n}}, and
 * DELETE /actors/{type}/{id} to deactivate.
 *
 * One per runtime (rt->actors), created when --placement-host-address is
 * set; everything runs on the runtime's loop. The building block's rules
 * (validation, error rows) live in lib/api/actors.c, which is the only
 * caller besides runtime.c. */
#ifndef DAPR_RUNTIME_ACTORS_H
#define DAPR_RUNTIME_ACTORS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/invoke.h"
#include "core/buf.h"
#include "dapr/runtime.h"

typedef struct dapr__actors dapr__actors_t;

/* Create and connect to placement with no hosted types yet. DAPR_ENOMEM,
 * DAPR_EINVAL (bad placement address). */
int dapr__actors_start(dapr_runtime_t *rt, dapr__actors_t **out);

/* The app's GET /dapr/config body (borrowed): hosted types, idle timeout,
 * scan interval, reentrancy. Reports the types to placement and loads the
 * reminders of those types. */
void dapr__actors_configure(dapr__actors_t *a, const char *app_config, size_t len);

/* Fail queued calls, stop timers, close placement; `done` once every handle
 * is closed and the memory is gone. NULL-safe. */
void dapr__actors_close(dapr__actors_t *a, void (*done)(void *ud), void *ud);

/* One method call. Strings and body borrowed until the callback. */
typedef struct dapr__actor_call {
    const char *type, *id, *method;
    const uint8_t *body;
    size_t body_len;
    const char *content_type; /* or NULL */
    const dapr_kv_t *headers; /* caller's headers/metadata */
    size_t n_headers;
} dapr__actor_call_t;

/* Run the call in the actor's turn (local) or on its owner (remote, over
 * CallActor; tried again, bounded, while the tables move the actor). The
 * callback gets the app's answer as is (any status), or an error of the
 * runtime (closed, no address, stack depth, app channel failure). */
void dapr__actors_invoke(dapr__actors_t *a, dapr__pool_t *pool, const dapr__actor_call_t *call,
                         dapr__invoke_cb cb, void *data);

/* Timers and reminders. data is raw JSON text (or NULL). */
typedef struct dapr__actor_sched_req {
    const char *type, *id, *name;
    const char *due_time, *period, *ttl; /* may be NULL/empty */
    const char *callback;                /* timers */
    const char *data;                    /* raw JSON or NULL */
} dapr__actor_sched_req_t;

/* Timers live on the actor's owner only: DAPR_EINVAL with *why (static
 * text) on a bad schedule, an unhosted type or another host's actor. */
int dapr__actors_timer_create(dapr__actors_t *a, const dapr__actor_sched_req_t *req,
                              const char **why);
/* Removes the timer if there is one (no error when absent). */
void dapr__actors_timer_delete(dapr__actors_t *a, const char *type, const char *id,
                               const char *name);

/* Reminders; `cb(status, why, data)`: 0, DAPR_EINVAL (why), DAPR_ENOTFOUND
 * (GET of none), or a store error. Never called inside the function. */
typedef void (*dapr__actors_done_cb)(int status, const char *why, void *data);
void dapr__actors_reminder_create(dapr__actors_t *a, const dapr__actor_sched_req_t *req,
                                  dapr__actors_done_cb cb, void *data);
void dapr__actors_reminder_delete(dapr__actors_t *a, const char *type, const char *id,
                                  const char *name, dapr__actors_done_cb cb, void *data);
/* The reminder as Dapr's GET answers it (JSON object) into out, from this
 * host's memory (what the store held at the last read, at most RELOAD_MS
 * old); DAPR_ENOTFOUND. */
int dapr__actors_reminder_get(dapr__actors_t *a, const char *type, const char *id,
                              const char *name, dapr__buf_t *out);

/* Reads of the store itself, ordered after this host's earlier changes of
 * the type: `cb(status, why, json, data)` with json (borrowed for the
 * callback) the stored reminder object (read) or a JSON array of them
 * (list; id NULL = every id of the type). status DAPR_ENOTFOUND: type not
 * hosted, or (read) no such reminder; else 0 or a store error. Never
 * called inside the function. */
typedef void (*dapr__actors_json_cb)(int status, const char *why, const char *json, void *data);
void dapr__actors_reminder_read(dapr__actors_t *a, const char *type, const char *id,
                                const char *name, dapr__actors_json_cb cb, void *data);
void dapr__actors_reminder_list(dapr__actors_t *a, const char *type, const char *id,
                                dapr__actors_json_cb cb, void *data);
/* Remove every reminder of `type` (id NULL) or of one actor of it, in one
 * read-modify-write of the type's array; cb as for reminder_delete. */
void dapr__actors_reminder_delete_all(dapr__actors_t *a, const char *type, const char *id,
                                      dapr__actors_done_cb cb, void *data);

/* The internal server's CallActor (lib/runtime/remote.c hands it over;
 * actors_remote.c): the actor must be owned here under this sidecar's
 * tables, else the caller is told to look again (ERR_ACTOR_INSTANCE_MISSING
 * in the trailer dapr-error-code). The answer is the app's, as CallLocal
 * packs it. `a` may be NULL (the runtime is closing). */
struct dapr__grpc_call;
void dapr__actors_serve(dapr__actors_t *a, struct dapr__grpc_call *call, const uint8_t *msg,
                        size_t len);
void dapr__actors_serve_cancel(struct dapr__grpc_call *call);

/* Whether this app hosts `type`. */
bool dapr__actors_hosts(const dapr__actors_t *a, const char *type);

/* Metadata: each hosted type with its count of active actors;
 * fn(type, count, ud). */
void dapr__actors_each_type(const dapr__actors_t *a,
                            void (*fn)(const char *type, size_t count, void *ud), void *ud);
bool dapr__actors_placement_connected(const dapr__actors_t *a);

#endif
