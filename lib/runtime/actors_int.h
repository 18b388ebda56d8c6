/* Insides of the actor runtime, shared by actors.c (activations, turns,
 * idle scan) and actors_sched.c (timers and reminders). */
#ifndef DAPR_RUNTIME_ACTORS_INT_H
#define DAPR_RUNTIME_ACTORS_INT_H

#include <uv.h>

#include "actors.h"
#include "core/duration.h"
#include "core/map.h"
#include "placement.h"

typedef struct actor actor_t;
typedef struct turn turn_t;
typedef struct rcall rcall_t;
typedef struct turn_tmo turn_tmo_t;

/* A queued or running call of one actor. */
struct turn {
    turn_t *next;
    struct dapr__actors *a;
    actor_t *act;
    bool deactivate;         /* the DELETE /actors/{type}/{id} turn */
    dapr__pool_t *pool;      /* the caller's, or own_pool */
    dapr__pool_t own_pool;   /* timer/reminder/deactivate turns */
    bool owns_pool;
    dapr__invoke_req_t req;  /* to the app */
    dapr__invoke_cb cb;
    void *data;
    bool reentrant;          /* runs inside the current turn's chain */
    void *user;              /* the timer/reminder that fires */
    /* the actor policy's timeout (Dapr's post-lock policy): the caller is
     * answered when it fires; the turn holds the actor until the app
     * answers (that answer is dropped). Only turns with their own pool. */
    uint64_t timeout_ms;
    turn_tmo_t *tmo;
    bool timed_out;
};

struct actor {
    char *key; /* "type||id" */
    char *type, *id;
    turn_t *head, *tail;  /* waiting, FIFO */
    size_t running;       /* calls in the app now (> 1 only when reentrant) */
    char reent_id[40];    /* the running chain's Dapr-Reentrancy-Id */
    uint64_t last_used_ms;
    bool deactivating;
    bool moving;               /* the tables gave it to another host */
    uint64_t drain_deadline_ms; /* queued calls of a moving actor fail then */
};

/* A timer (per activation) or a reminder (durable). */
typedef struct sched {
    struct sched *next;
    bool reminder;
    bool firing, dead;
    bool done;  /* reminder: finished here, removal from the store pending */
    bool seen;  /* reminder: present in the last array read from the store */
    char *ident; /* reminder: its stored JSON object (compact, sorted keys) */
    char *type, *id, *name, *callback, *data, *due, *period, *ttl;
    dapr__schedule_t s;
    int64_t next_ns, registered_ns;
} sched_t;

/* A queued change to a type's reminder array (read-modify-write with the
 * store's ETag, see actors_sched.c). */
typedef struct rem_op {
    struct rem_op *next;
    int kind;    /* REM_PUT, REM_DEL, REM_DROP (only the entry stored as `ident`),
                    REM_DEL_ALL, REM_GET, REM_LIST (see actors_sched.c) */
    char *json;  /* REM_PUT: the new entry */
    char *id, *name, *ident; /* id NULL: every id (REM_DEL_ALL, REM_LIST) */
    char *result; /* REM_GET/REM_LIST: the answer (jansson-allocated) */
    dapr__actors_done_cb cb;
    dapr__actors_json_cb jcb; /* reads */
    void *data;
} rem_op_t;

typedef struct type_cfg {
    char *type;
    bool reminders_loaded;
    bool busy;           /* a store read/write cycle is in flight */
    bool reload;         /* read again when the cycle ends */
    bool stale;          /* new tables: nothing fires before the next read */
    int tries;           /* of this cycle, after ETag conflicts */
    rem_op_t *ops, **ops_tail; /* waiting for the next cycle */
    rem_op_t *cur;       /* ops of the cycle in flight */
    /* per-type settings (entitiesConfig overrides the app's defaults) */
    uint64_t idle_ms, drain_ms;
    bool drain_rebalanced, reentrancy;
    int max_depth;
} type_cfg_t;

struct dapr__actors {
    dapr_runtime_t *rt;
    dapr__placement_t *placement;
    dapr__map_t actors; /* key → actor_t* */
    type_cfg_t *types;
    size_t n_types;
    uint64_t idle_ms, scan_ms, drain_ms;
    bool reentrancy, drain_rebalanced;
    int max_depth;
    uv_timer_t scan, tick;
    uv_timer_t drain;  /* while actors are being handed over */
    uv_timer_t reload; /* re-reads the reminder arrays */
    int open_handles;
    bool closing;
    void (*done)(void *);
    void *done_ud;
    sched_t *scheds;
    size_t pending;  /* store ops in flight */
    size_t inflight; /* turns in the app */
    rcall_t *rcalls; /* calls under a resiliency policy (actors_remote.c) */
};

/* actors.c: a turn with its own pool (timers, reminders, deactivation);
 * release frees it (no-op for a turn in a caller's pool). */
turn_t *dapr__actors_turn_new(void);
void dapr__actors_turn_release(turn_t *t);
char *dapr__actors_app_path(dapr__pool_t *pool, const char *type, const char *id,
                            const char *tail);
/* actors.c: queue a turn (activating the actor); the turn's cb runs with the
 * app's answer when it is done. */
void dapr__actors_enqueue(dapr__actors_t *a, const char *type, const char *id, turn_t *t);
/* actors.c: the call in the actor's turn on this host (no ownership check). */
void dapr__actors_local_call(dapr__actors_t *a, dapr__pool_t *pool, const dapr__actor_call_t *c,
                             dapr__invoke_cb cb, void *data);
/* actors_remote.c: route a call to the actor's owner (here or CallActor). */
void dapr__actors_route(dapr__actors_t *a, dapr__pool_t *pool, const dapr__actor_call_t *call,
                        dapr__invoke_cb cb, void *data);
/* actors_remote.c: end calls waiting for a retry (runtime closing). */
void dapr__actors_route_close(dapr__actors_t *a);
/* actors.c: whether placement gives (type, id) to this host; *known false
 * when the tables are not ready (locked or none yet). */
bool dapr__actors_owned_here(dapr__actors_t *a, const char *type, const char *id, bool *known);
type_cfg_t *dapr__actors_type_cfg(dapr__actors_t *a, const char *type);
actor_t *dapr__actors_find(dapr__actors_t *a, const char *type, const char *id);
/* actors_sched.c */
void dapr__actors_sched_arm(dapr__actors_t *a);
void dapr__actors_sched_fire(uv_timer_t *t);
void dapr__actors_sched_drop_actor(dapr__actors_t *a, const char *type, const char *id);
void dapr__actors_sched_free_all(dapr__actors_t *a);
void dapr__actors_reminders_load(dapr__actors_t *a, type_cfg_t *tc);
/* actors_sched.c: new tables (or the periodic tick): read every type's
 * reminders again and re-arm. */
void dapr__actors_reminders_reload_all(dapr__actors_t *a);
void dapr__actors_reload_tick(uv_timer_t *t);
struct dapr_component *dapr__actors_store(dapr__actors_t *a);
void dapr__actors_maybe_done(dapr__actors_t *a);

#endif
