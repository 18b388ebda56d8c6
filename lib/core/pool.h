/* A per-request arena: many small allocations, freed together. */
#ifndef DAPR_CORE_POOL_H
#define DAPR_CORE_POOL_H

#include <stddef.h>

typedef struct dapr__pool_chunk dapr__pool_chunk_t;

typedef struct dapr__pool {
    dapr__pool_chunk_t *head;
    size_t chunk_size;
} dapr__pool_t;

void dapr__pool_init(dapr__pool_t *p, size_t chunk_size);
/* 16-byte aligned memory, or NULL on OOM. */
void *dapr__pool_alloc(dapr__pool_t *p, size_t n);
void *dapr__pool_calloc(dapr__pool_t *p, size_t n);
char *dapr__pool_strndup(dapr__pool_t *p, const char *s, size_t n);
char *dapr__pool_strdup(dapr__pool_t *p, const char *s);
char *dapr__pool_printf(dapr__pool_t *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Free everything but keep the first chunk for reuse. */
void dapr__pool_reset(dapr__pool_t *p);
void dapr__pool_destroy(dapr__pool_t *p);

#endif
