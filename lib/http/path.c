#include <string.h>

#include "router.h"

/* Segment-wise rewrite into out: each segment is appended after a '/';
 * ".." removes the last written segment (never above the root). */
size_t dapr__http_clean_path(const char *in, size_t n, char *out)
{
    size_t o = 0, i = 0;
    while (i < n) {
        while (i < n && in[i] == '/')
            i++;
        size_t s = i;
        while (i < n && in[i] != '/')
            i++;
        size_t len = i - s;
        if (len == 0 || (len == 1 && in[s] == '.'))
            continue;
        if (len == 2 && in[s] == '.' && in[s + 1] == '.') {
            while (o > 0 && out[o - 1] != '/')
                o--;
            if (o > 0)
                o--; /* the '/' before the removed segment */
            continue;
        }
        out[o++] = '/';
        memcpy(out + o, in + s, len);
        o += len;
    }
    if (o == 0)
        out[o++] = '/';
    out[o] = '\0';
    return o;
}
