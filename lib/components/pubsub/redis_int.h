/* pubsub.redis internals shared by redis.c (metadata, lifecycle, publish)
 * and redis_sub.c (subscriptions: reading, reclaim, delivery, acks).
 *
 * Layout in Redis is Dapr's: one stream per topic, entries with the field
 * "data" (the payload bytes) and optionally "metadata" (the request metadata
 * as a JSON object); one consumer group per consumerID. */
#ifndef DAPR_COMPONENTS_PUBSUB_REDIS_INT_H
#define DAPR_COMPONENTS_PUBSUB_REDIS_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "components/redis/conn.h"
#include "components/redis/settings.h"
#include "dapr/component.h"

/* Stream IDs are "<ms>-<seq>", two 64-bit numbers: 41 bytes at most. */
#define PSR_ID_MAX 48

typedef struct psr psr_t;
typedef struct psr_sub psr_sub_t;

typedef enum psr_dstate { PSR_D_QUEUED = 1, PSR_D_INFLIGHT, PSR_D_DONE } psr_dstate_t;

/* One stream entry this process holds: read or claimed (it sits in the
 * group's pending list under our consumer) and not yet acked or nacked. */
typedef struct psr_delivery {
    struct psr_delivery *prev, *next; /* the sub's queue or in-flight list */
    psr_sub_t *sub;                   /* holds a reference */
    psr_dstate_t state;
    bool in_handler;                  /* freed by deliver() once the handler returns */
    char id[PSR_ID_MAX];
    char *md;                         /* the "metadata" field (JSON text) or NULL */
    size_t md_len;
    size_t len;
    uint8_t data[];
} psr_delivery_t;

typedef struct psr_dlist {
    psr_delivery_t *head, *tail;
    size_t n;
} psr_dlist_t;

struct psr_sub {
    psr_sub_t *prev, *next; /* psr_t.subs, active or draining */
    psr_t *s;
    uint64_t id;
    char *topic, *group, *consumer;
    dapr_pubsub_handler_fn handler;
    void *hdata;
    int refs;
    bool active;               /* false once unsubscribed / closing */
    dapr__redis_conn_t *rconn; /* dedicated connection for the blocking reads */
    int open_res;              /* rconn + two timers not yet closed */
    bool reading;              /* an XREADGROUP is out */
    bool own_pending;          /* reading our own pending entries (id cursor) before '>' */
    char pel_cursor[PSR_ID_MAX];
    size_t read_count;
    bool was_down;             /* the dedicated connection dropped; log the resume */
    bool claiming;             /* an XAUTOCLAIM is out */
    bool sweep_more;           /* a reclaim sweep is under way (claim_cursor) */
    char claim_cursor[PSR_ID_MAX];
    bool retry_wait;
    uv_timer_t reclaim_timer, retry_timer;
    psr_dlist_t queue, inflight;
    bool pumping, repump;
};

struct psr {
    /* metadata (table in redis.c) */
    dapr__redis_settings_t conf;
    char *consumer_id_md;
    int64_t concurrency, queue_depth;
    int64_t processing_timeout, redeliver_interval; /* ms; 0 disables reclaim */
    int64_t max_len_approx, stream_ttl;

    dapr_component_t *self;
    char *consumer_id; /* effective consumerID (default: the app id) */
    char instance[16]; /* random, makes consumer names unique per process */
    dapr__redis_conn_t *conn; /* publishes, XACK, XGROUP CREATE, XAUTOCLAIM,
                               * reads of our own pending entries */
    dapr_component_done_cb init_done, close_done;
    bool initing, closing, conn_closed;
    char init_err[320];
    psr_sub_t *subs;
    uint64_t next_sub_id;
    /* XACKs waiting for the connection to come back (redis.c) */
    struct psr_ack *parked;
    size_t n_parked;
    /* callbacks owed for calls that failed at submission, run next turn */
    struct psr_pub *deferred, *deferred_tail;
    uv_timer_t defer_timer;
    bool defer_open;   /* timer initialised and not closed */
};

/* redis_sub.c */
int dapr__psr_subscribe(dapr_component_t *c, const dapr_pubsub_sub_req_t *req,
                        dapr_pubsub_handler_fn handler, void *hdata, uint64_t *sub_id);
int dapr__psr_unsubscribe(dapr_component_t *c, uint64_t sub_id);
/* The shared connection is ready again (after the parked acks were sent):
 * subscriptions waiting to read their own pending entries read them. */
void dapr__psr_kick(psr_t *s);
/* Close: stop every subscription (no handler call after this). */
void dapr__psr_stop_all(psr_t *s);
/* Close: every subscription resource is closed. */
bool dapr__psr_subs_idle(const psr_t *s);
/* Close, last step: free what acks never released (runtime broke the contract). */
void dapr__psr_free_all(psr_t *s);

/* redis.c */
/* Called when a subscription resource finished closing during close. */
void dapr__psr_maybe_finish(psr_t *s);
/* XACK on the shared connection; while it is down the ack is parked and
 * sent after the reconnect; other failures are logged. */
void dapr__psr_xack(psr_t *s, const char *topic, const char *group, const char *id);
/* An ack of this entry is parked (the app answered it: do not deliver it again). */
bool dapr__psr_ack_parked(const psr_t *s, const char *topic, const char *group, const char *id);

#endif
