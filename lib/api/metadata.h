/* Metadata API, protocol-neutral (spec §9): what GET /v1.0/metadata and gRPC
 * GetMetadata report, and the extended attributes PUT /v1.0/metadata/{key}
 * and SetMetadata write. */
#ifndef DAPR_API_METADATA_H
#define DAPR_API_METADATA_H

#include "core/pool.h"
#include "dapr/runtime.h"
#include "runtime/subscriptions.h"

#define DAPR__MAX_CAPS 8

typedef struct dapr__metadata_actors {
    const char *type;
    size_t count;
} dapr__metadata_actors_t;

typedef struct dapr__metadata_component {
    const char *name;
    const char *type;
    const char *version;
    const char *caps[DAPR__MAX_CAPS];
    size_t n_caps;
} dapr__metadata_component_t;

typedef struct dapr__metadata {
    const char *id;
    const char *runtime_version;
    const char **features;
    size_t n_features;
    dapr__metadata_component_t *components;
    size_t n_components;
    const char **http_endpoints; /* names of the HTTPEndpoints in scope */
    size_t n_http_endpoints;
    dapr__sub_info_t *subscriptions; /* pub/sub subscriptions */
    size_t n_subscriptions;
    dapr_kv_t *extended; /* includes daprRuntimeVersion */
    size_t n_extended;
    /* appConnectionProperties */
    int app_port; /* <= 0: none */
    const char *app_protocol;
    const char *app_channel_address;
    int64_t app_max_concurrency;
    /* actorRuntime */
    const char *actor_status; /* INITIALIZING | DISABLED | RUNNING */
    bool actor_host_ready;
    const char *placement; /* "" when none */
    const dapr__metadata_actors_t *active; /* hosted types and their active counts */
    size_t n_active;
} dapr__metadata_t;

/* Fill `out` from the runtime; strings live in `pool` or the runtime.
 * Returns 0 or DAPR_ENOMEM. */
int dapr__metadata_get(dapr_runtime_t *rt, dapr__pool_t *pool, dapr__metadata_t *out);
/* Set extended attribute key to value (copied). Returns 0 or DAPR_E*. */
int dapr__metadata_set(dapr_runtime_t *rt, const char *key, const void *value, size_t len);

#endif
