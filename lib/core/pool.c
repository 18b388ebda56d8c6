#include "pool.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"

struct dapr__pool_chunk {
    dapr__pool_chunk_t *next;
    size_t size; /* usable bytes in data */
    size_t used;
    _Alignas(16) unsigned char data[];
};

void dapr__pool_init(dapr__pool_t *p, size_t chunk_size)
{
    p->head = NULL;
    p->chunk_size = chunk_size ? chunk_size : 4096;
}

void *dapr__pool_alloc(dapr__pool_t *p, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    if (n == 0)
        n = 16;
    dapr__pool_chunk_t *c = p->head;
    if (c && c->size - c->used >= n) {
        void *r = c->data + c->used;
        c->used += n;
        return r;
    }
    size_t sz = n > p->chunk_size / 2 ? n : p->chunk_size;
    if (sz > SIZE_MAX - sizeof(*c))
        return NULL;
    dapr__pool_chunk_t *nc = dapr__malloc(sizeof(*nc) + sz);
    if (!nc)
        return NULL;
    nc->size = sz;
    nc->used = n;
    if (c && sz != p->chunk_size) {
        /* a big one-off block: keep the current chunk at the head */
        nc->next = c->next;
        c->next = nc;
    } else {
        nc->next = c;
        p->head = nc;
    }
    return nc->data;
}

void *dapr__pool_calloc(dapr__pool_t *p, size_t n)
{
    void *r = dapr__pool_alloc(p, n);
    if (r)
        memset(r, 0, n);
    return r;
}

char *dapr__pool_strndup(dapr__pool_t *p, const char *s, size_t n)
{
    char *d = dapr__pool_alloc(p, n + 1);
    if (d) {
        if (n)
            memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

char *dapr__pool_strdup(dapr__pool_t *p, const char *s) { return dapr__pool_strndup(p, s, strlen(s)); }

char *dapr__pool_printf(dapr__pool_t *p, const char *fmt, ...)
{
    va_list ap, cp;
    va_start(ap, fmt);
    va_copy(cp, ap);
    int n = vsnprintf(NULL, 0, fmt, cp);
    va_end(cp);
    char *d = n < 0 ? NULL : dapr__pool_alloc(p, (size_t)n + 1);
    if (d)
        vsnprintf(d, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return d;
}

void dapr__pool_reset(dapr__pool_t *p)
{
    dapr__pool_chunk_t *keep = NULL, *c = p->head;
    while (c) {
        dapr__pool_chunk_t *n = c->next;
        if (!keep && c->size == p->chunk_size) {
            keep = c;
            keep->used = 0;
        } else {
            dapr__free(c);
        }
        c = n;
    }
    if (keep)
        keep->next = NULL;
    p->head = keep;
}

void dapr__pool_destroy(dapr__pool_t *p)
{
    dapr__pool_chunk_t *c = p->head;
    while (c) {
        dapr__pool_chunk_t *n = c->next;
        dapr__free(c);
        c = n;
    }
    p->head = NULL;
}
