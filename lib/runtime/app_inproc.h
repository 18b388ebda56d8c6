/* The in-process app (DESIGN.md "The app channel", third implementation):
 * when the embedding program registers invoke handlers, subscriptions or
 * actor types and no app port is set, the runtime's app is the program
 * itself. Everything the runtime would send to an HTTP app goes to this
 * dispatcher instead, with the same paths and answers, so service
 * invocation, pub/sub delivery and the actor runtime keep the semantics of
 * the HTTP path without a line of their own:
 *
 *   GET  dapr/config                  the registered actor types and settings
 *   GET  dapr/subscribe               the subscriptions made before start,
 *                                     routed to internal paths (below)
 *   POST __dapr_inproc/sub/<id>/<k>   a delivery (CloudEvent JSON, or a bulk
 *                                     envelope) → dapr_message_cb; answered
 *                                     {"status": SUCCESS|RETRY|DROP}
 *   PUT  actors/{type}/{id}/method/{m | timer/{n} | remind/{n}}
 *   DELETE actors/{type}/{id}         → on_turn / on_deactivate
 *   anything else                     → the invoke handler with the longest
 *                                     matching method, or 404
 *
 * GET dapr/config and dapr/subscribe are answered at once (no program code
 * runs for them: the types and subscriptions are in place when the start
 * callback runs). Other calls are handed to the program from the loop (a
 * uv_idle_t), never inside the runtime's own call, so an answer given at once by the program reaches
 * the runtime as an HTTP answer would: from the loop. Streamed request
 * bodies are read whole first (at most --max-body-size).
 *
 * The registry (rt->inproc) lives from the first registration to
 * dapr_runtime_destroy; the channel (rt->appch) from start to stop. Closing
 * the channel answers calls still with the program with 500 and keeps them
 * ("orphans") until the program answers them or the runtime is destroyed. */
#ifndef DAPR_RUNTIME_APP_INPROC_H
#define DAPR_RUNTIME_APP_INPROC_H

#include <uv.h>

#include "api/invoke.h"
#include "core/buf.h"
#include "dapr/actors.h"
#include "dapr/invoke.h"
#include "dapr/pubsub.h"

typedef struct dapr__inproc dapr__inproc_t;

/* The route paths of a subscription: "/" DAPR__INPROC_SUB "<id>/<k>", k a
 * rule index or "d" for the default route. */
#define DAPR__INPROC_SUB "__dapr_inproc/sub/"

typedef struct dapr__ip_handler {
    char *method;
    bool prefix; /* "" or ending in '/' */
    dapr_invoke_handler fn;
    void *data;
} dapr__ip_handler_t;

typedef struct dapr__ip_actor_type {
    char *type;
    dapr_actor_callbacks_t cbs;
    dapr_actor_config_t cfg;
    void *data;
} dapr__ip_actor_type_t;

/* A subscription of the program (pubsub.h). */
struct dapr_subscription_handle {
    struct dapr_subscription_handle *next;
    dapr__inproc_t *ip;
    uint64_t id;
    char *pubsub, *topic, *dead_letter;
    char *default_route; /* NULL: no default route */
    char **match, **path; /* the rules (match NULL = always) */
    size_t n_rules;
    dapr_kv_t *md;
    size_t n_md;
    bool bulk;
    int64_t bulk_max_count, bulk_max_await_ms;
    dapr_message_cb cb;
    void *data;
    bool routed; /* handed to the subscriptions router */
};

/* A list of calls (queued, reading a body, with the program, orphaned). */
typedef struct dapr__ip_list {
    struct dapr_invocation *head, *tail;
} dapr__ip_list_t;

struct dapr__inproc {
    dapr_runtime_t *rt;
    dapr__ip_handler_t *handlers;
    size_t n_handlers;
    dapr__ip_actor_type_t *types;
    size_t n_types;
    struct dapr_subscription_handle *subs;
    uint64_t next_sub_id;
    /* the channel */
    bool open;
    uv_idle_t idle;
    bool idle_init;
    dapr__ip_list_t queue, reading, held, orphans;
    void (*close_done)(void *);
    void *close_ud;
};

/* A call to the program: an invocation or, for actors, a turn. */
struct dapr_invocation {
    struct dapr_invocation *prev, *next;
    dapr__ip_list_t *list; /* the list it is on, or NULL */
    dapr__inproc_t *ip;    /* NULL once orphaned */
    dapr__invoke_cb cb;
    void *data;
    dapr__invoke_req_t req; /* the runtime's (strings borrowed until cb) */
    char *caller;
    dapr__istream_t *in; /* a streamed body being read */
    dapr__buf_t body;    /* ... and its bytes */
    bool body_read;
    dapr__pool_t pool;   /* copies the program sees */
    dapr_invoke_request_t pub;
    dapr_actor_turn_info_t turn;
};

/* The turn of actors.h is the same object. */
struct dapr_actor_turn {
    struct dapr_invocation c;
};

/* The registry of rt, created on first use. NULL on OOM. */
dapr__inproc_t *dapr__inproc_get(dapr_runtime_t *rt);
/* At destroy (the channel is closed). NULL-safe. */
void dapr__inproc_free(dapr__inproc_t *ip);

/* Open the channel as rt->appch (start, or a first registration after
 * start). DAPR_ENOMEM. */
int dapr__inproc_open(dapr_runtime_t *rt);
/* The app channel's invoke and close (app_channel.c). */
void dapr__inproc_invoke(dapr__inproc_t *ip, dapr__pool_t *pool, const dapr__invoke_req_t *req,
                         const char *caller, dapr__invoke_cb cb, void *data);
void dapr__inproc_close(dapr__inproc_t *ip, void (*done)(void *ud), void *ud);

/* Answer a call the program holds and free it: 0, or DAPR_ECLOSED (the
 * channel closed meanwhile: freed only). Pointers borrowed for the call. */
int dapr__inproc_answer(struct dapr_invocation *c, int status, const char *content_type,
                        const dapr_kv_t *headers, size_t n_headers, const uint8_t *body,
                        size_t len);

/* Subscriptions (app_inproc_subs.c). */
/* The JSON of GET dapr/subscribe: the subscriptions not routed yet, which
 * become routed. 0 or DAPR_ENOMEM. */
int dapr__inproc_subs_json(dapr__inproc_t *ip, dapr__buf_t *out);
/* A delivery to `rest` (the path after DAPR__INPROC_SUB): the answer's
 * JSON into out; the HTTP status returned. */
int dapr__inproc_deliver(dapr__inproc_t *ip, const char *rest, const dapr__invoke_req_t *req,
                         const uint8_t *body, size_t len, dapr__buf_t *out);
/* After start: hand h to the subscriptions router now. 0, DAPR_EEXIST,
 * DAPR_ENOTFOUND (no such pub/sub), DAPR_EDENIED (topic not allowed),
 * DAPR_EINVAL, DAPR_ESTATE (stopping), DAPR_ENOMEM. */
int dapr__inproc_sub_route(dapr__inproc_t *ip, struct dapr_subscription_handle *h);
/* End h's subscription in the router: its messages not answered yet are
 * nacked (the broker redelivers them), nothing more is delivered. */
void dapr__inproc_sub_unroute(dapr__inproc_t *ip, struct dapr_subscription_handle *h);
void dapr__inproc_sub_free(struct dapr_subscription_handle *h);

#endif
