/* Allocation goes through these so tests can inject failures. */
#ifndef DAPR_CORE_ALLOC_H
#define DAPR_CORE_ALLOC_H

#include <stddef.h>

void *dapr__malloc(size_t n);
void *dapr__calloc(size_t n, size_t size);
void *dapr__realloc(void *p, size_t n);
void dapr__free(void *p);
char *dapr__strdup(const char *s);
char *dapr__strndup(const char *s, size_t n);

/* Test hook: make the allocation after `n` more successful ones fail
 * (-1 disables). Not thread-safe; tests only. */
void dapr__alloc_fail_after(long n);

#endif
