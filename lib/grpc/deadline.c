/* Call deadlines: a binary min-heap behind one uv timer per server/channel.
 *
 * One timer instead of one per call: calls carry no uv handle, so a call's
 * memory can be released synchronously (no uv_close round trip) and
 * thousands of calls with deadlines cost one heap entry each. */
#include <string.h>

#include "core/alloc.h"
#include "dapr/common.h"
#include "grpc_int.h"

static void put(dapr__grpc_dlheap_t *h, size_t i, dapr__grpc_dl_t *d)
{
    h->v[i] = d;
    d->slot = i + 1;
}

static void sift_up(dapr__grpc_dlheap_t *h, size_t i)
{
    dapr__grpc_dl_t *d = h->v[i];
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (h->v[p]->at <= d->at)
            break;
        put(h, i, h->v[p]);
        i = p;
    }
    put(h, i, d);
}

static void sift_down(dapr__grpc_dlheap_t *h, size_t i)
{
    dapr__grpc_dl_t *d = h->v[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n)
            break;
        if (c + 1 < h->n && h->v[c + 1]->at < h->v[c]->at)
            c++;
        if (d->at <= h->v[c]->at)
            break;
        put(h, i, h->v[c]);
        i = c;
    }
    put(h, i, d);
}

static void on_timer(uv_timer_t *t);

static void arm(dapr__grpc_dlheap_t *h)
{
    if (h->n == 0) {
        uv_timer_stop(&h->timer);
        h->armed_at = UINT64_MAX;
        return;
    }
    uint64_t at = h->v[0]->at;
    if (at >= h->armed_at)
        return; /* an earlier wake-up is already armed; it re-arms */
    uint64_t now = uv_now(h->timer.loop);
    uv_timer_start(&h->timer, on_timer, at > now ? at - now : 0, 0);
    h->armed_at = at;
}

static void on_timer(uv_timer_t *t)
{
    dapr__grpc_dlheap_t *h = t->data;
    uint64_t now = uv_now(t->loop);
    h->armed_at = UINT64_MAX;
    while (h->n > 0 && h->v[0]->at <= now) {
        dapr__grpc_dl_t *d = h->v[0];
        dapr__grpc_dlheap_del(h, d);
        h->expire(h, d); /* may add or remove other entries */
    }
    arm(h);
}

void dapr__grpc_dlheap_init(dapr__grpc_dlheap_t *h, uv_loop_t *loop, dapr__grpc_dl_fn fn,
                            void *ud)
{
    memset(h, 0, sizeof(*h));
    uv_timer_init(loop, &h->timer);
    h->timer.data = h;
    h->armed_at = UINT64_MAX;
    h->expire = fn;
    h->ud = ud;
}

int dapr__grpc_dlheap_add(dapr__grpc_dlheap_t *h, dapr__grpc_dl_t *d, uint64_t at)
{
    if (d->slot)
        dapr__grpc_dlheap_del(h, d);
    if (h->n == h->cap) {
        size_t ncap = h->cap ? h->cap * 2 : 16;
        dapr__grpc_dl_t **nv = dapr__realloc(h->v, ncap * sizeof(*nv));
        if (!nv)
            return DAPR_ENOMEM;
        h->v = nv;
        h->cap = ncap;
    }
    d->at = at;
    put(h, h->n++, d);
    sift_up(h, h->n - 1);
    arm(h);
    return 0;
}

void dapr__grpc_dlheap_del(dapr__grpc_dlheap_t *h, dapr__grpc_dl_t *d)
{
    if (!d->slot)
        return;
    size_t i = d->slot - 1;
    d->slot = 0;
    h->n--;
    if (i != h->n) {
        put(h, i, h->v[h->n]);
        sift_down(h, i);
        sift_up(h, h->v[i]->slot - 1);
    }
    if (h->n == 0 && h->armed_at != UINT64_MAX) {
        uv_timer_stop(&h->timer);
        h->armed_at = UINT64_MAX;
    }
}

void dapr__grpc_dlheap_free(dapr__grpc_dlheap_t *h)
{
    dapr__free(h->v);
    h->v = NULL;
    h->n = h->cap = 0;
}
