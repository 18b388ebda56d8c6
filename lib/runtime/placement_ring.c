/* The placement hashing ring: see placement_ring.h for the algorithm and
 * its source (dapr/dapr pkg/placement/hashing/consistent_hash.go). */
#include "runtime/placement_ring.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/blake2b.h"
#include "dapr/common.h"

#define DEFAULT_RF 100
#define MAX_RF 100000 /* bounds the ring: hosts * rf vnodes */

uint64_t dapr__pring_hash(const char *s, size_t n)
{
    uint8_t d[64];
    dapr__blake2b512(s, n, d);
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | d[i];
    return v;
}

static int host_cmp(const void *a, const void *b)
{
    return strcmp(((const dapr__pring_host_t *)a)->name, ((const dapr__pring_host_t *)b)->name);
}

typedef struct vnode {
    uint64_t h;
    uint32_t host;
} vnode_t;

/* by hash; on equal hashes the smaller host index (= smaller name) first,
 * and the dedup below keeps that one */
static int vnode_cmp(const void *a, const void *b)
{
    const vnode_t *x = a, *y = b;
    if (x->h != y->h)
        return x->h < y->h ? -1 : 1;
    return x->host < y->host ? -1 : x->host > y->host;
}

static int copy_hosts(dapr__pring_t *r, const dapr__pring_host_t *hosts, size_t n)
{
    r->hosts = dapr__calloc(n ? n : 1, sizeof(*r->hosts));
    if (!r->hosts)
        return DAPR_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        if (!hosts[i].name)
            return DAPR_EINVAL;
        dapr__pring_host_t *h = &r->hosts[r->n_hosts++];
        h->name = dapr__strdup(hosts[i].name);
        h->app_id = dapr__strdup(hosts[i].app_id ? hosts[i].app_id : "");
        h->port = hosts[i].port;
        if (!h->name || !h->app_id)
            return DAPR_ENOMEM;
    }
    qsort(r->hosts, r->n_hosts, sizeof(*r->hosts), host_cmp);
    /* duplicate names: keep the first (Dapr's Add ignores a known host) */
    size_t w = 0;
    for (size_t i = 0; i < r->n_hosts; i++) {
        if (w && !strcmp(r->hosts[w - 1].name, r->hosts[i].name)) {
            dapr__free(r->hosts[i].name);
            dapr__free(r->hosts[i].app_id);
            continue;
        }
        r->hosts[w++] = r->hosts[i];
    }
    r->n_hosts = w;
    return DAPR_OK;
}

static int build_vnodes(dapr__pring_t *r, int64_t rf)
{
    size_t n = r->n_hosts * (size_t)rf;
    vnode_t *v = dapr__malloc((n ? n : 1) * sizeof(*v));
    if (!v)
        return DAPR_ENOMEM;
    size_t k = 0;
    for (size_t i = 0; i < r->n_hosts; i++) {
        const char *name = r->hosts[i].name;
        size_t len = strlen(name);
        char *key = dapr__malloc(len + 24);
        if (!key) {
            dapr__free(v);
            return DAPR_ENOMEM;
        }
        memcpy(key, name, len);
        for (int64_t j = 0; j < rf; j++) {
            int m = snprintf(key + len, 24, "%" PRId64, j);
            v[k].h = dapr__pring_hash(key, len + (size_t)m);
            v[k++].host = (uint32_t)i;
        }
        dapr__free(key);
    }
    qsort(v, k, sizeof(*v), vnode_cmp);
    r->vhash = dapr__malloc((k ? k : 1) * sizeof(*r->vhash));
    r->vhost = dapr__malloc((k ? k : 1) * sizeof(*r->vhost));
    if (!r->vhash || !r->vhost) {
        dapr__free(v);
        return DAPR_ENOMEM;
    }
    for (size_t i = 0; i < k; i++) {
        if (r->n_vnodes && r->vhash[r->n_vnodes - 1] == v[i].h)
            continue; /* collision: the smaller name keeps the vnode */
        r->vhash[r->n_vnodes] = v[i].h;
        r->vhost[r->n_vnodes++] = v[i].host;
    }
    dapr__free(v);
    return DAPR_OK;
}

int dapr__pring_build(dapr__pring_t *r, const dapr__pring_host_t *hosts, size_t n_hosts,
                      int64_t rf)
{
    memset(r, 0, sizeof(*r));
    if (rf <= 0)
        rf = DEFAULT_RF;
    if (rf > MAX_RF || n_hosts > UINT32_MAX || (n_hosts && !hosts))
        return DAPR_EINVAL;
    int rc = copy_hosts(r, hosts, n_hosts);
    if (rc == DAPR_OK)
        rc = build_vnodes(r, rf);
    if (rc != DAPR_OK)
        dapr__pring_free(r);
    return rc;
}

const dapr__pring_host_t *dapr__pring_get(const dapr__pring_t *r, const char *key, size_t n)
{
    if (!r->n_vnodes)
        return NULL;
    uint64_t h = dapr__pring_hash(key, n);
    /* first vnode >= h (lower bound), wrapping to 0 */
    size_t lo = 0, hi = r->n_vnodes;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (r->vhash[mid] < h)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == r->n_vnodes)
        lo = 0;
    return &r->hosts[r->vhost[lo]];
}

void dapr__pring_free(dapr__pring_t *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n_hosts; i++) {
        dapr__free(r->hosts[i].name);
        dapr__free(r->hosts[i].app_id);
    }
    dapr__free(r->hosts);
    dapr__free(r->vhash);
    dapr__free(r->vhost);
    memset(r, 0, sizeof(*r));
}
