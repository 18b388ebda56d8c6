#include "buf.h"

#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "dapr/common.h"

int dapr__buf_reserve(dapr__buf_t *b, size_t extra)
{
    if (b->oom)
        return DAPR_ENOMEM;
    if (extra > SIZE_MAX - b->len - 1) {
        b->oom = 1;
        return DAPR_ENOMEM;
    }
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    char *d = dapr__realloc(b->data, cap);
    if (!d) {
        b->oom = 1;
        return DAPR_ENOMEM;
    }
    b->data = d;
    b->cap = cap;
    return 0;
}

int dapr__buf_append(dapr__buf_t *b, const void *p, size_t n)
{
    if (!b->oom && n < b->cap - b->len) { /* fits (with the NUL): the usual case */
        memcpy(b->data + b->len, p, n);
        b->len += n;
        b->data[b->len] = '\0';
        return 0;
    }
    if (dapr__buf_reserve(b, n))
        return DAPR_ENOMEM;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int dapr__buf_puts(dapr__buf_t *b, const char *s) { return dapr__buf_append(b, s, strlen(s)); }

int dapr__buf_putc(dapr__buf_t *b, char c) { return dapr__buf_append(b, &c, 1); }

int dapr__buf_vprintf(dapr__buf_t *b, const char *fmt, va_list ap)
{
    if (b->oom)
        return DAPR_ENOMEM;
    /* one pass when it fits in what is already there, else measure first */
    size_t room = b->cap > b->len ? b->cap - b->len : 0;
    va_list cp;
    va_copy(cp, ap);
    int n = vsnprintf(room ? b->data + b->len : NULL, room, fmt, cp);
    va_end(cp);
    if (n >= 0 && (size_t)n < room) {
        b->len += (size_t)n;
        return 0;
    }
    if (room)
        b->data[b->len] = '\0'; /* the failed try wrote past len */
    if (n < 0 || dapr__buf_reserve(b, (size_t)n))
        return DAPR_ENOMEM;
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return 0;
}

int dapr__buf_printf(dapr__buf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = dapr__buf_vprintf(b, fmt, ap);
    va_end(ap);
    return r;
}

/* Bytes the loop below may escape: control characters, '"', '\\', and
 * with html '<', '>', '&' and 0xE2 (the start of U+2028/9). */
static const unsigned char json_special[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    ['"'] = 1, ['\\'] = 1, ['<'] = 2, ['>'] = 2, ['&'] = 2, [0xE2] = 2,
};

int dapr__buf_json_str(dapr__buf_t *b, const char *s, size_t n, int html)
{
    static const char hex[] = "0123456789abcdef";
    if (dapr__buf_reserve(b, n + 2))
        return DAPR_ENOMEM;
    /* the common case, nothing to escape: one copy */
    unsigned char stop = html ? 3 : 1;
    size_t k = 0;
    while (k < n && !(json_special[(unsigned char)s[k]] & stop))
        k++;
    dapr__buf_putc(b, '"');
    dapr__buf_append(b, s, k);
    if (k == n) {
        dapr__buf_putc(b, '"');
        return b->oom ? DAPR_ENOMEM : 0;
    }
    s += k;
    n -= k;
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *esc = NULL;
        char u[7];
        if (c == '"')
            esc = "\\\"";
        else if (c == '\\')
            esc = "\\\\";
        else if (c == '\n')
            esc = "\\n";
        else if (c == '\r')
            esc = "\\r";
        else if (c == '\t')
            esc = "\\t";
        else if (c < 0x20 || (html && (c == '<' || c == '>' || c == '&'))) {
            u[0] = '\\', u[1] = 'u', u[2] = '0', u[3] = '0';
            u[4] = hex[c >> 4], u[5] = hex[c & 15], u[6] = 0;
            esc = u;
        } else if (html && c == 0xE2 && i + 2 < n && (unsigned char)s[i + 1] == 0x80 &&
                   ((unsigned char)s[i + 2] == 0xA8 || (unsigned char)s[i + 2] == 0xA9)) {
            /* U+2028 / U+2029, escaped by Go as well */
            dapr__buf_append(b, s + start, i - start);
            dapr__buf_puts(b, (unsigned char)s[i + 2] == 0xA8 ? "\\u2028" : "\\u2029");
            i += 2;
            start = i + 1;
            continue;
        }
        if (esc) {
            dapr__buf_append(b, s + start, i - start);
            dapr__buf_puts(b, esc);
            start = i + 1;
        }
    }
    dapr__buf_append(b, s + start, n - start);
    dapr__buf_putc(b, '"');
    return b->oom ? DAPR_ENOMEM : 0;
}

size_t dapr__fmt_u64(char out[24], uint64_t v)
{
    char tmp[24];
    size_t i = sizeof(tmp);
    do
        tmp[--i] = (char)('0' + v % 10);
    while ((v /= 10));
    size_t n = sizeof(tmp) - i;
    memcpy(out, tmp + i, n);
    out[n] = '\0';
    return n;
}

int dapr__buf_put_u64(dapr__buf_t *b, uint64_t v)
{
    char d[24];
    return dapr__buf_append(b, d, dapr__fmt_u64(d, v));
}

int dapr__buf_cstr(dapr__buf_t *b)
{
    if (dapr__buf_reserve(b, 0))
        return DAPR_ENOMEM;
    b->data[b->len] = '\0';
    return 0;
}

char *dapr__buf_steal(dapr__buf_t *b, size_t *len)
{
    char *d = b->data;
    if (len)
        *len = b->len;
    b->data = NULL;
    b->len = b->cap = 0;
    b->oom = 0;
    return d;
}

void dapr__buf_reset(dapr__buf_t *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

void dapr__buf_free(dapr__buf_t *b)
{
    dapr__free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
    b->oom = 0;
}
