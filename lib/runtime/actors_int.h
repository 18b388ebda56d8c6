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
};

struct actor {
    char *key; /* "type||id" */
    char *type, *id;
    turn_t *head, *tail;  /* waiting, FIFO */
    size_t running;       /* calls in the app now (> 1 only when reentrant) */
    char reent_id[40];    /* the running chain's Dapr-Reentrancy-Id */
    uint64_t last_used_ms;
    bool deactivating;
};

/* A timer (per activation) or a reminder (durable). */
typedef struct sched {
    struct sched *next;
    bool reminder;
    bool firing, dead;
    char *type, *id, *name, *callback, *data, *due, *period, *ttl;
    dapr__schedule_t s;
    int64_t next_ns, registered_ns;
} sched_t;

typedef struct type_cfg {
    char *type;
    bool reminders_loaded, saving, dirty;
} type_cfg_t;

struct dapr__actors {
    dapr_runtime_t *rt;
    dapr__placement_t *placement;
    dapr__map_t actors; /* key → actor_t* */
    type_cfg_t *types;
    size_t n_types;
    uint64_t idle_ms, scan_ms;
    bool reentrancy;
    int max_depth;
    uv_timer_t scan, tick;
    int open_handles;
    bool closing;
    void (*done)(void *);
    void *done_ud;
    sched_t *scheds;
    size_t pending;  /* store ops in flight */
    size_t inflight; /* turns in the app */
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
actor_t *dapr__actors_find(dapr__actors_t *a, const char *type, const char *id);
/* actors_sched.c */
void dapr__actors_sched_arm(dapr__actors_t *a);
void dapr__actors_sched_fire(uv_timer_t *t);
void dapr__actors_sched_drop_actor(dapr__actors_t *a, const char *type, const char *id);
void dapr__actors_sched_free_all(dapr__actors_t *a);
void dapr__actors_reminders_load(dapr__actors_t *a, type_cfg_t *tc);
struct dapr_component *dapr__actors_store(dapr__actors_t *a);
void dapr__actors_maybe_done(dapr__actors_t *a);

#endif
