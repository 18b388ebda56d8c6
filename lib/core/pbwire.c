#include "pbwire.h"

#include <string.h>

void dapr__pb_varint(dapr__buf_t *b, uint64_t v)
{
    unsigned char tmp[10];
    size_t n = 0;
    do {
        tmp[n] = (unsigned char)(v & 0x7f);
        v >>= 7;
        if (v)
            tmp[n] |= 0x80;
        n++;
    } while (v);
    dapr__buf_append(b, tmp, n);
}

void dapr__pb_uint(dapr__buf_t *b, uint32_t field, uint64_t v)
{
    dapr__pb_varint(b, (uint64_t)field << 3);
    dapr__pb_varint(b, v);
}

void dapr__pb_bytes(dapr__buf_t *b, uint32_t field, const void *p, size_t n)
{
    dapr__pb_varint(b, ((uint64_t)field << 3) | 2);
    dapr__pb_varint(b, n);
    dapr__buf_append(b, p, n);
}

void dapr__pb_str(dapr__buf_t *b, uint32_t field, const char *s)
{
    if (s && *s)
        dapr__pb_bytes(b, field, s, strlen(s));
}

void dapr__pb_map_entry(dapr__buf_t *b, uint32_t field, const char *k, const char *v)
{
    dapr__buf_t e = DAPR__BUF_INIT;
    dapr__pb_str(&e, 1, k);
    dapr__pb_str(&e, 2, v);
    dapr__pb_bytes(b, field, e.data ? e.data : "", e.len);
    if (e.oom)
        b->oom = 1;
    dapr__buf_free(&e);
}
