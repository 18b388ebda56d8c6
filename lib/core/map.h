/* A string-keyed hash map (open addressing, linear probing). Keys are copied;
 * values are opaque pointers owned by the caller. */
#ifndef DAPR_CORE_MAP_H
#define DAPR_CORE_MAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct dapr__map_slot {
    char *key; /* NULL = empty; (char *)1 = deleted */
    size_t klen;
    uint64_t hash;
    void *value;
} dapr__map_slot_t;

typedef struct dapr__map {
    dapr__map_slot_t *slots;
    size_t cap;  /* power of two */
    size_t len;  /* live entries */
    size_t used; /* live + tombstones */
} dapr__map_t;

uint64_t dapr__hash(const void *p, size_t n);
void dapr__map_init(dapr__map_t *m);
void *dapr__map_get(const dapr__map_t *m, const char *key, size_t klen);
/* Insert or replace. *old receives the previous value (or NULL).
 * Returns 0 or DAPR_ENOMEM. */
int dapr__map_put(dapr__map_t *m, const char *key, size_t klen, void *value, void **old);
/* Remove; returns the value or NULL. */
void *dapr__map_del(dapr__map_t *m, const char *key, size_t klen);
/* Iterate: start with *it = 0; returns 0 at the end. */
int dapr__map_next(const dapr__map_t *m, size_t *it, const char **key, size_t *klen, void **value);
void dapr__map_free(dapr__map_t *m);

#endif
