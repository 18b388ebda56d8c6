/*
 * libdapr — virtual actors hosted in an embedding program.
 *
 * An actor type registered here is hosted by this runtime exactly as an app
 * hosting it behind daprd would be: the runtime reports the type to the
 * placement service ("placement-host-address" option), activations follow
 * placement's table (one activation per id in the cluster), calls of one id
 * run one turn at a time, idle actors are deactivated, timers and durable
 * reminders fire into the callbacks below. Callers anywhere (this program,
 * SDK clients through the API ports, other sidecars) reach the actors the
 * same way. Actor state lives in the state store marked actorStateStore.
 */
#ifndef DAPR_ACTORS_H
#define DAPR_ACTORS_H

#include "common.h"
#include "runtime.h"
#include "state.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One turn of an actor: a method call, a timer or a reminder firing. The
 * actor's next turn starts only after dapr_actor_turn_done(). */
typedef struct dapr_actor_turn dapr_actor_turn_t;

typedef enum dapr_actor_turn_kind {
    DAPR_ACTOR_METHOD = 0,
    DAPR_ACTOR_TIMER = 1,
    DAPR_ACTOR_REMINDER = 2
} dapr_actor_turn_kind_t;

/* What a turn carries; lives until dapr_actor_turn_done() for the turn. */
typedef struct dapr_actor_turn_info {
    dapr_actor_turn_kind_t kind;
    const char *type, *id;
    const char *name;         /* method, timer or reminder name */
    const uint8_t *body;      /* method: the request body; timer/reminder:
                                 the registered data (JSON text) or empty */
    size_t body_len;
    const char *content_type; /* method calls only, or NULL */
} dapr_actor_turn_info_t;

typedef struct dapr_actor_callbacks {
    /* A turn: answer with dapr_actor_turn_done(), now or later. */
    void (*on_turn)(dapr_actor_turn_t *turn, const dapr_actor_turn_info_t *info, void *data);
    /* The runtime deactivated (type, id): idle, rebalanced or stopping. No
     * turn of it runs after this until it is activated again. May be NULL. */
    void (*on_deactivate)(const char *type, const char *id, void *data);
} dapr_actor_callbacks_t;

/* Settings Dapr reads from an app's /dapr/config. 0 / false = Dapr's default. */
typedef struct dapr_actor_config {
    uint64_t idle_timeout_ms;     /* default 60 min */
    uint64_t scan_interval_ms;    /* default 30 s */
    uint64_t drain_timeout_ms;    /* drainOngoingCallTimeout, default 60 s */
    bool no_drain_rebalanced;     /* drainRebalancedActors false */
    bool reentrancy;              /* reentrancy.enabled */
    int max_stack_depth;          /* default 32 */
} dapr_actor_config_t;

/* Host `type` in this program. cbs is copied, config may be NULL. Before
 * start only. Errors: DAPR_EINVAL (NULL/empty type, no on_turn),
 * DAPR_EEXIST, DAPR_ESTATE (started), DAPR_ENOMEM. */
DAPR_EXTERN int dapr_actors_register_type(dapr_runtime_t *rt, const char *type,
                                          const dapr_actor_callbacks_t *cbs,
                                          const dapr_actor_config_t *config, void *data);

/* Finish a turn. status is the method's HTTP status (200 OK, also for 0;
 * any other the caller sees as the actor's error, ERR_ACTOR_INVOKE_METHOD),
 * body the answer (copied; ignored for timers and reminders).
 * cancel_reminder true on a reminder turn removes the reminder, as an
 * app's X-DaprReminderCancel answer does. Frees turn. A runtime that
 * stopped meanwhile still frees it and returns DAPR_ECLOSED; turns never
 * finished are freed by dapr_runtime_destroy. Errors: DAPR_EINVAL (NULL). */
DAPR_EXTERN int dapr_actor_turn_done(dapr_actor_turn_t *turn, int status, const uint8_t *body,
                                     size_t body_len, bool cancel_reminder);

/* The answer to a call; lives until the callback returns. */
typedef struct dapr_actor_response {
    int status;
    const uint8_t *body;
    size_t body_len;
} dapr_actor_response_t;
typedef void (*dapr_actor_invoke_cb)(const dapr_error_t *err, const dapr_actor_response_t *resp,
                                     void *data);

/* Call a method of actor (type, id), wherever it lives. Strings and body are
 * borrowed for the call. err->error_code: ERR_ACTOR_RUNTIME_NOT_FOUND,
 * ERR_ACTOR_INVOKE_METHOD, ... Errors: DAPR_EINVAL, DAPR_ESTATE. */
DAPR_EXTERN int dapr_actor_invoke(dapr_runtime_t *rt, const char *type, const char *id,
                                  const char *method, const uint8_t *body, size_t body_len,
                                  dapr_actor_invoke_cb cb, void *data);

/* Actor state (GET /v1.0/actors/{type}/{id}/state/{key}). */
DAPR_EXTERN int dapr_actor_state_get(dapr_runtime_t *rt, const char *type, const char *id,
                                     const char *key, dapr_state_get_cb cb, void *data);

/* One operation of an actor state transaction: kind UPSERT (value set) or
 * DELETE. */
typedef struct dapr_actor_state_op {
    dapr_state_op_kind_t kind;
    const char *key;
    const uint8_t *value; /* JSON text, as the HTTP API stores it */
    size_t value_len;
    int64_t ttl_seconds;  /* DAPR_TTL_UNSET or > 0 */
} dapr_actor_state_op_t;

DAPR_EXTERN int dapr_actor_state_transact(dapr_runtime_t *rt, const char *type, const char *id,
                                          const dapr_actor_state_op_t *ops, size_t n,
                                          dapr_done_cb cb, void *data);

/* A timer or a reminder. Due time and period in Go durations ("1m30s"),
 * ISO 8601 ("PT1M", "R5/PT10S") or, for due time, RFC 3339; ttl likewise. */
typedef struct dapr_actor_schedule {
    const char *type, *id, *name;
    const char *due_time; /* NULL/"" = now */
    const char *period;   /* NULL/"" = once */
    const char *ttl;      /* or NULL */
    const char *data;     /* JSON text handed to the turn, or NULL */
} dapr_actor_schedule_t;

/* Timers live with the activation; reminders are durable (actor state
 * store) and fire wherever the actor lives. Strings are copied. */
DAPR_EXTERN int dapr_actor_timer_register(dapr_runtime_t *rt, const dapr_actor_schedule_t *s,
                                          dapr_done_cb cb, void *data);
DAPR_EXTERN int dapr_actor_timer_unregister(dapr_runtime_t *rt, const char *type,
                                            const char *id, const char *name, dapr_done_cb cb,
                                            void *data);
DAPR_EXTERN int dapr_actor_reminder_register(dapr_runtime_t *rt, const dapr_actor_schedule_t *s,
                                             dapr_done_cb cb, void *data);
DAPR_EXTERN int dapr_actor_reminder_unregister(dapr_runtime_t *rt, const char *type,
                                               const char *id, const char *name,
                                               dapr_done_cb cb, void *data);

#ifdef __cplusplus
}
#endif
#endif
