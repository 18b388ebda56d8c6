#include "map.h"

#include <string.h>

#include "alloc.h"
#include "dapr/common.h"

#define TOMB ((char *)1)

/* FNV-1a, 64-bit: small and good enough for in-process tables. */
uint64_t dapr__hash(const void *p, size_t n)
{
    const unsigned char *s = p;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= 1099511628211ull;
    }
    return h;
}

void dapr__map_init(dapr__map_t *m) { memset(m, 0, sizeof(*m)); }

static dapr__map_slot_t *find(const dapr__map_t *m, const char *key, size_t klen, uint64_t h)
{
    if (!m->cap)
        return NULL;
    size_t mask = m->cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        dapr__map_slot_t *s = &m->slots[i];
        if (!s->key)
            return NULL;
        if (s->key != TOMB && s->hash == h && s->klen == klen && !memcmp(s->key, key, klen))
            return s;
    }
}

void *dapr__map_get(const dapr__map_t *m, const char *key, size_t klen)
{
    dapr__map_slot_t *s = find(m, key, klen, dapr__hash(key, klen));
    return s ? s->value : NULL;
}

static int grow(dapr__map_t *m)
{
    size_t ncap = m->cap ? m->cap * 2 : 16;
    if (m->len * 4 < m->cap)
        ncap = m->cap; /* mostly tombstones: rehash in place size */
    dapr__map_slot_t *ns = dapr__calloc(ncap, sizeof(*ns));
    if (!ns)
        return DAPR_ENOMEM;
    for (size_t i = 0; i < m->cap; i++) {
        dapr__map_slot_t *s = &m->slots[i];
        if (!s->key || s->key == TOMB)
            continue;
        size_t j = s->hash & (ncap - 1);
        while (ns[j].key)
            j = (j + 1) & (ncap - 1);
        ns[j] = *s;
    }
    dapr__free(m->slots);
    m->slots = ns;
    m->cap = ncap;
    m->used = m->len;
    return 0;
}

int dapr__map_put(dapr__map_t *m, const char *key, size_t klen, void *value, void **old)
{
    uint64_t h = dapr__hash(key, klen);
    dapr__map_slot_t *s = find(m, key, klen, h);
    if (old)
        *old = NULL;
    if (s) {
        if (old)
            *old = s->value;
        s->value = value;
        return 0;
    }
    if ((m->used + 1) * 4 > m->cap * 3 && grow(m))
        return DAPR_ENOMEM;
    char *k = dapr__strndup(key, klen);
    if (!k)
        return DAPR_ENOMEM;
    size_t mask = m->cap - 1, i = h & mask;
    while (m->slots[i].key && m->slots[i].key != TOMB)
        i = (i + 1) & mask;
    if (!m->slots[i].key)
        m->used++;
    m->slots[i] = (dapr__map_slot_t){k, klen, h, value};
    m->len++;
    return 0;
}

void *dapr__map_del(dapr__map_t *m, const char *key, size_t klen)
{
    dapr__map_slot_t *s = find(m, key, klen, dapr__hash(key, klen));
    if (!s)
        return NULL;
    void *v = s->value;
    dapr__free(s->key);
    s->key = TOMB;
    s->value = NULL;
    m->len--;
    return v;
}

int dapr__map_next(const dapr__map_t *m, size_t *it, const char **key, size_t *klen, void **value)
{
    while (*it < m->cap) {
        dapr__map_slot_t *s = &m->slots[(*it)++];
        if (s->key && s->key != TOMB) {
            if (key)
                *key = s->key;
            if (klen)
                *klen = s->klen;
            if (value)
                *value = s->value;
            return 1;
        }
    }
    return 0;
}

void dapr__map_free(dapr__map_t *m)
{
    for (size_t i = 0; i < m->cap; i++)
        if (m->slots[i].key && m->slots[i].key != TOMB)
            dapr__free(m->slots[i].key);
    dapr__free(m->slots);
    memset(m, 0, sizeof(*m));
}
