/* Dapr's consistent-hashing ring for actor placement (one ring per actor
 * type), as daprd 1.16 builds it from a PlacementTable's load_map
 * (dapr/dapr pkg/placement/hashing):
 *
 *   h(s)   = the first 8 bytes of BLAKE2b-512(s), read little endian;
 *   vnodes = for each host name n and i in 0..rf-1: h(n + decimal(i)),
 *            e.g. h("10.0.0.5:5000217"), mapped to n;
 *   ring   = all vnode hashes sorted ascending;
 *   owner(id) = the host of the first vnode whose hash >= h(id), wrapping
 *            to the first vnode past the end. The key is the actor id only
 *            (the type picks the ring).
 *
 * Dapr also has a bounded-load lookup (GetLeast) but daprd never uses it:
 * lookups are the plain ring walk above, so that is all we implement.
 * Two hosts producing the same vnode hash (e.g. "a:5000" + "12" and
 * "a:50001" + "2" are the same string) map it, in Go, to whichever host was
 * added last in map order (random); we pick the smaller name so every
 * sidecar of ours agrees. */
#ifndef DAPR_RUNTIME_PLACEMENT_RING_H
#define DAPR_RUNTIME_PLACEMENT_RING_H

#include <stddef.h>
#include <stdint.h>

typedef struct dapr__pring_host {
    char *name;   /* Host.name: "host:port", the owner's internal gRPC address */
    char *app_id; /* Host.id */
    int64_t port; /* Host.port */
} dapr__pring_host_t;

typedef struct dapr__pring {
    dapr__pring_host_t *hosts; /* sorted by name */
    size_t n_hosts;
    uint64_t *vhash; /* n_vnodes sorted hashes */
    uint32_t *vhost; /* index into hosts, parallel to vhash */
    size_t n_vnodes;
} dapr__pring_t;

/* h(s) above. */
uint64_t dapr__pring_hash(const char *s, size_t n);

/* Build a ring for the given hosts (names, app ids copied; duplicate names
 * are taken once) with rf virtual nodes each (rf <= 0 → 100). An empty host
 * list gives an empty ring. DAPR_ENOMEM (r is left empty), DAPR_EINVAL. */
int dapr__pring_build(dapr__pring_t *r, const dapr__pring_host_t *hosts, size_t n_hosts,
                      int64_t rf);
/* The owner of `key`, or NULL for an empty ring. Borrowed from r. */
const dapr__pring_host_t *dapr__pring_get(const dapr__pring_t *r, const char *key, size_t n);
void dapr__pring_free(dapr__pring_t *r);

#endif
