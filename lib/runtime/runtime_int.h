/* The runtime handle's insides, shared by lib/runtime, lib/api and the
 * transports' adapters. Embedders never see this. */
#ifndef DAPR_RUNTIME_INT_H
#define DAPR_RUNTIME_INT_H

#include <uv.h>

#include "components/registry.h"
#include "components/configuration.h"
#include "core/log.h"
#include "core/map.h"
#include "dapr/runtime.h"
#include "options.h"

struct dapr__http_server;
struct dapr__grpc_server;

typedef enum dapr__rt_state {
    DAPR__RT_CREATED = 0,
    DAPR__RT_STARTING,
    DAPR__RT_RUNNING,
    DAPR__RT_STOPPING,
    DAPR__RT_STOPPED,
    DAPR__RT_FAILED
} dapr__rt_state_t;

struct dapr_runtime {
    uv_loop_t *loop;
    uv_loop_t own_loop;
    bool owns_loop;
    dapr__options_t opt;
    dapr__logger_t log;
    dapr__rt_state_t state;
    char last_error[1024];
    char *namespace_; /* NAMESPACE env, or NULL */
    char *api_token;  /* DAPR_API_TOKEN, or NULL */
    dapr__config_t config; /* --config file(s); empty when none (config.file NULL) */

    /* components, in load order */
    dapr_component_t **components;
    size_t n_components;
    size_t n_state_stores;
    size_t n_pubsubs;
    struct dapr__subs *subs; /* the subscriptions router (subscriptions.h), or NULL */
    size_t pending_inits;
    size_t late_inits; /* inits that timed out and have not reported yet */

    /* servers */
    struct dapr__http_server *http;
    int http_port; /* bound port */
    struct dapr__grpc_server *grpc;
    int grpc_port;
    struct dapr__appch *appch; /* the app channel, or NULL (no app port) */
    struct dapr__remote *remote; /* internal gRPC server + name resolution */
    struct dapr__actors *actors; /* actor runtime (actors.h), or NULL: no placement */
    struct dapr__resil *resil;   /* resiliency policies (NULL: none loaded yet) */
    struct dapr__res_endpoint *endpoints; /* HTTPEndpoint resources (all scopes) */
    size_t n_endpoints;
    dapr__map_t ep_chans; /* endpoint name or URL → dapr__appch_t* */
    struct dapr__http_port_wait *app_wait; /* waiting for the app port to open */
    struct dapr__app_health *app_health;   /* app health probes, or NULL (not enabled) */
    /* The app's health as seen by the probes (--enable-app-health-check);
     * true until threshold probes failed in a row, and always without
     * health checks. Only recorded and logged for now (no pub/sub or
     * bindings to pause yet). */
    bool app_healthy;
    char *app_config; /* the HTTP app's GET /dapr/config body, or NULL */
    /* embedding (runtime.h): the in-process app's registrations
     * (app_inproc.h; NULL until the program registers something), and the
     * added components, loop thread and post queue (embed.h) */
    struct dapr__inproc *inproc;
    struct dapr__embed *embed;
    size_t open_servers;
    bool servers_closing;
    void (*on_servers_closed)(struct dapr_runtime *rt);

    /* metadata API: extended attributes (key → malloc'd value) */
    dapr__map_t extended;
    bool outbound_ready; /* components loaded + API servers up */
    bool ready;          /* + app channel (none yet) */

    uint64_t start_ms;
    dapr_runtime_cb start_cb, stop_cb;
    void *start_data, *stop_data;
    dapr_shutdown_request_cb shutdown_cb;
    void *shutdown_data;
    size_t pending_closes;
    uv_timer_t stop_timer;
    bool stop_timer_live;
};

/* Find a loaded state store by name: 0, DAPR_ENOTFOUND (no such store) or
 * DAPR_ESTATE (no state store configured at all). */
int dapr__runtime_state_store(dapr_runtime_t *rt, const char *name, dapr_component_t **out);

/* Find a loaded pub/sub by name: 0, DAPR_ENOTFOUND or DAPR_ESTATE (none
 * configured at all). */
int dapr__runtime_pubsub(dapr_runtime_t *rt, const char *name, dapr_component_t **out);

/* The channel for an external HTTP service named by app_id: an HTTPEndpoint
 * resource's name (in scope) or an http(s):// URL. 0 and *out (owned by the
 * runtime), DAPR_ENOTFOUND when app_id is neither, else an error with a
 * message in why. */
int dapr__runtime_endpoint(dapr_runtime_t *rt, const char *app_id, struct dapr__appch **out,
                           char *why, size_t whylen);

/* Ask for a graceful shutdown (POST /v1.0/shutdown), asynchronously. */
void dapr__runtime_request_shutdown(dapr_runtime_t *rt);

#endif
