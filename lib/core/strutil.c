#include "strutil.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#include "dapr/common.h"

bool dapr__strieq_n(const char *a, size_t alen, const char *b)
{
    size_t i = 0;
    for (; i < alen; i++)
        if (!b[i] ||
            dapr__ascii_lower((unsigned char)a[i]) != dapr__ascii_lower((unsigned char)b[i]))
            return false;
    return b[i] == '\0';
}

bool dapr__starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

int dapr__parse_int(const char *s, int64_t *out)
{
    if (!s || !*s || isspace((unsigned char)*s))
        return DAPR_EINVAL;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end)
        return DAPR_EINVAL;
    *out = v;
    return 0;
}

int dapr__parse_duration(const char *s, bool allow_bare_seconds, int64_t *ns)
{
    if (!s || !*s)
        return DAPR_EINVAL;
    if (allow_bare_seconds) {
        int64_t secs;
        if (!dapr__parse_int(s, &secs)) {
            if (secs > INT64_MAX / 1000000000 || secs < INT64_MIN / 1000000000)
                return DAPR_EINVAL;
            *ns = secs * 1000000000;
            return 0;
        }
    }
    const char *p = s;
    int neg = 0;
    if (*p == '-' || *p == '+')
        neg = *p++ == '-';
    if (!strcmp(p, "0")) {
        *ns = 0;
        return 0;
    }
    if (!*p)
        return DAPR_EINVAL;
    long double total = 0;
    while (*p) {
        if (!isdigit((unsigned char)*p) && *p != '.')
            return DAPR_EINVAL;
        char *end;
        errno = 0;
        long double v = strtold(p, &end);
        if (end == p || errno)
            return DAPR_EINVAL;
        /* strtold accepts exponents and hex; Go does not */
        for (const char *q = p; q < end; q++)
            if (!isdigit((unsigned char)*q) && *q != '.')
                return DAPR_EINVAL;
        p = end;
        long double unit;
        if (!strncmp(p, "ns", 2))
            unit = 1, p += 2;
        else if (!strncmp(p, "us", 2))
            unit = 1e3L, p += 2;
        else if (!strncmp(p, "\xc2\xb5s", 3) || !strncmp(p, "\xce\xbcs", 3))
            unit = 1e3L, p += 3;
        else if (!strncmp(p, "ms", 2))
            unit = 1e6L, p += 2;
        else if (*p == 's')
            unit = 1e9L, p += 1;
        else if (*p == 'm')
            unit = 60e9L, p += 1;
        else if (*p == 'h')
            unit = 3600e9L, p += 1;
        else
            return DAPR_EINVAL;
        total += v * unit;
        if (total > 9.2e18L)
            return DAPR_EINVAL;
    }
    *ns = (int64_t)(neg ? -total : total);
    return 0;
}

int dapr__parse_quantity(const char *s, int64_t *bytes)
{
    if (!s || !*s)
        return DAPR_EINVAL;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || errno || v < 0 || isnan(v))
        return DAPR_EINVAL;
    for (const char *q = s; q < end; q++)
        if (!isdigit((unsigned char)*q) && *q != '.' && *q != 'e' && *q != 'E' && *q != '+')
            return DAPR_EINVAL;
    static const struct {
        const char *sfx;
        double mul;
    } sfx[] = {{"Ki", 1024.0}, {"Mi", 1048576.0}, {"Gi", 1073741824.0},
               {"Ti", 1099511627776.0}, {"Pi", 1125899906842624.0},
               {"Ei", 1152921504606846976.0}, {"k", 1e3}, {"M", 1e6}, {"G", 1e9},
               {"T", 1e12}, {"P", 1e15}, {"E", 1e18}, {"", 1}};
    for (size_t i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
        if (!strcmp(end, sfx[i].sfx)) {
            double r = ceil(v * sfx[i].mul);
            if (r > 9.2e18)
                return DAPR_EINVAL;
            *bytes = (int64_t)r;
            return 0;
        }
    }
    return DAPR_EINVAL;
}

int dapr__parse_bool(const char *s, bool *out)
{
    static const char *yes[] = {"1", "t", "true", "y", "yes", "on"};
    static const char *no[] = {"0", "f", "false", "n", "no", "off"};
    if (!s)
        return DAPR_EINVAL;
    for (size_t i = 0; i < 6; i++) {
        if (!dapr__strcasecmp(s, yes[i])) {
            *out = true;
            return 0;
        }
        if (!dapr__strcasecmp(s, no[i])) {
            *out = false;
            return 0;
        }
    }
    return DAPR_EINVAL;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

long dapr__url_unescape(const char *s, size_t n, char *out, bool plus_is_space)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%') {
            if (i + 2 >= n)
                return -1;
            int h = hexval((unsigned char)s[i + 1]), l = hexval((unsigned char)s[i + 2]);
            if (h < 0 || l < 0)
                return -1;
            out[o++] = (char)(h * 16 + l);
            i += 2;
        } else if (plus_is_space && s[i] == '+') {
            out[o++] = ' ';
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
    return (long)o;
}

int64_t dapr__now_unix_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void dapr__format_time_rfc3339(char *out, size_t outlen, int64_t unix_ns, bool nanos)
{
    time_t secs = (time_t)(unix_ns / 1000000000);
    long frac = (long)(unix_ns % 1000000000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    size_t n = strftime(out, outlen, "%Y-%m-%dT%H:%M:%S", &tm);
    if (nanos && frac) {
        /* Go's RFC3339Nano trims trailing zeros */
        char f[16];
        snprintf(f, sizeof(f), ".%09ld", frac);
        size_t fl = strlen(f);
        while (fl > 1 && f[fl - 1] == '0')
            f[--fl] = '\0';
        snprintf(out + n, outlen - n, "%sZ", f);
    } else {
        snprintf(out + n, outlen - n, "Z");
    }
}

void dapr__uuid4(char out[37])
{
    unsigned char b[16];
    if (uv_random(NULL, NULL, b, sizeof(b), 0, NULL) != 0) {
        /* uv_random only fails without an entropy source; fall back */
        uint64_t x = (uint64_t)dapr__now_unix_ns() ^ (uint64_t)(uintptr_t)out;
        for (int i = 0; i < 16; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            b[i] = (unsigned char)x;
        }
    }
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    /* by hand: snprintf was ~12% of a pub/sub message (every event id) */
    static const char hex[] = "0123456789abcdef";
    char *o = out;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *o++ = '-';
        *o++ = hex[b[i] >> 4];
        *o++ = hex[b[i] & 15];
    }
    *o = '\0';
}

/* Segment-wise rewrite into out: each segment is appended after a '/';
 * ".." removes the last written segment (never above the root). */
size_t dapr__path_clean(const char *in, size_t n, char *out)
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
