/* The placement client (issue 6): one ReportDaprStatus stream from this
 * sidecar to the placement service (--placement-host-address), reporting
 * the app's actor types, receiving the versioned tables (lock → update →
 * unlock) and answering "which sidecar owns actor (type, id)" with Dapr's
 * consistent-hashing ring (BLAKE2b-512 of the id, first 8 bytes little
 * endian, replication_factor virtual nodes per host).
 *
 * Everything on the runtime's loop. The actor runtime (lib/runtime/actors*.c)
 * is the only user. */
#ifndef DAPR_RUNTIME_PLACEMENT_H
#define DAPR_RUNTIME_PLACEMENT_H

#include <stdbool.h>
#include <stddef.h>

#include "dapr/runtime.h"

typedef struct dapr__placement dapr__placement_t;

/* The tables changed (after unlock): the actor runtime deactivates local
 * actors it no longer owns and reloads reminders. */
typedef void (*dapr__placement_change_cb)(void *ud);

typedef struct dapr__placement_config {
    const char *addresses;  /* "host:port[,host:port...]" (--placement-host-address) */
    const char *app_id;
    const char *namespace_; /* may be NULL */
    const char *self_addr;  /* "127.0.0.1:<internal grpc port>": Host.name */
    const char *const *actor_types; /* hosted types (may be empty: report none) */
    size_t n_actor_types;
    dapr__placement_change_cb on_change;
    void *ud;
} dapr__placement_config_t;

/* Start connecting (retries forever with ~0.5 s backoff until closed).
 * Strings are copied. DAPR_EINVAL (bad addresses), DAPR_ENOMEM. */
int dapr__placement_start(dapr_runtime_t *rt, const dapr__placement_config_t *cfg,
                          dapr__placement_t **out);

/* Change the hosted types (sent as a new report). */
int dapr__placement_set_types(dapr__placement_t *p, const char *const *types, size_t n);

/* Owner of (type, id): writes "host:port" (the owner's internal gRPC address)
 * into addr and sets *local when that is this sidecar. DAPR_EAGAIN: no table
 * yet, or the type is locked for a table change (wait with _when_ready);
 * DAPR_ENOTFOUND: no host serves this type. */
int dapr__placement_lookup(dapr__placement_t *p, const char *type, const char *id, char *addr,
                           size_t addrlen, bool *local);

/* cb(ud) once lookups for `type` may succeed (a table is in and the type is
 * unlocked), or with `closed` true when the client closes first. Never
 * called inside this function. */
int dapr__placement_when_ready(dapr__placement_t *p, const char *type,
                               void (*cb)(bool closed, void *ud), void *ud);

/* "placement: connected" / "placement: disconnected" (metadata API). */
bool dapr__placement_connected(const dapr__placement_t *p);

void dapr__placement_close(dapr__placement_t *p, void (*done)(void *ud), void *ud);

#endif
