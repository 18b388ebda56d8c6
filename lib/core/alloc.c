#include "alloc.h"

#include <stdlib.h>
#include <string.h>

static long fail_after = -1;

static int should_fail(void)
{
    if (fail_after < 0)
        return 0;
    if (fail_after == 0)
        return 1;
    fail_after--;
    return 0;
}

void dapr__alloc_fail_after(long n) { fail_after = n; }

void *dapr__malloc(size_t n) { return should_fail() ? NULL : malloc(n ? n : 1); }

void *dapr__calloc(size_t n, size_t size)
{
    return should_fail() ? NULL : calloc(n ? n : 1, size ? size : 1);
}

void *dapr__realloc(void *p, size_t n) { return should_fail() ? NULL : realloc(p, n ? n : 1); }

void dapr__free(void *p) { free(p); }

char *dapr__strndup(const char *s, size_t n)
{
    char *d = dapr__malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

char *dapr__strdup(const char *s) { return s ? dapr__strndup(s, strlen(s)) : NULL; }
