/* Pure encoders and parsers of the gRPC wire: grpc-timeout, grpc-message
 * percent-encoding, binary metadata base64, the message prefix. */
#include <stdio.h>
#include <string.h>

#include "core/errors.h"
#include "dapr/common.h"
#include "grpc_int.h"

int dapr__grpc_timeout_parse(const char *s, size_t n, uint64_t *ms)
{
    /* 1-8 digits keep the value below 10^8, so no step below can overflow. */
    if (n < 2 || n > 9)
        return DAPR_EINVAL;
    uint64_t v = 0;
    for (size_t i = 0; i + 1 < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return DAPR_EINVAL;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    switch (s[n - 1]) {
    case 'H': *ms = v * 3600000u; break;
    case 'M': *ms = v * 60000u; break;
    case 'S': *ms = v * 1000u; break;
    case 'm': *ms = v; break;
    case 'u': *ms = (v + 999u) / 1000u; break;
    case 'n': *ms = (v + 999999u) / 1000000u; break;
    default: return DAPR_EINVAL;
    }
    return 0;
}

size_t dapr__grpc_timeout_format(uint64_t ms, char out[16])
{
    static const struct { uint64_t div; char unit; } units[] = {
        {1, 'm'}, {1000, 'S'}, {60000, 'M'}, {3600000, 'H'}};
    /* The finest unit whose value fits in 8 digits; coarser units round up
     * so a deadline is never shortened. */
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        uint64_t v = (ms + units[i].div - 1) / units[i].div;
        if (v <= 99999999u) {
            int len = snprintf(out, 16, "%llu%c", (unsigned long long)v, units[i].unit);
            return (size_t)len;
        }
    }
    memcpy(out, "99999999H", 10);
    return 9;
}

static const char hexd[] = "0123456789ABCDEF";

size_t dapr__grpc_pct_encode(const char *s, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch >= 0x20 && ch <= 0x7e && ch != '%') {
            out[o++] = (char)ch;
        } else {
            out[o++] = '%';
            out[o++] = hexd[ch >> 4];
            out[o++] = hexd[ch & 15];
        }
    }
    out[o] = '\0';
    return o;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

size_t dapr__grpc_pct_decode(const char *s, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int hi, lo;
        if (s[i] == '%' && i + 2 < n &&
            (hi = hexval(s[i + 1])) >= 0 && (lo = hexval(s[i + 2])) >= 0) {
            out[o++] = (char)(hi << 4 | lo);
            i += 2;
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
    return o;
}

static const char b64a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t dapr__grpc_b64_encode(const uint8_t *in, size_t n, char *out, bool pad)
{
    size_t o = 0, i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = b64a[v >> 18];
        out[o++] = b64a[(v >> 12) & 63];
        out[o++] = b64a[(v >> 6) & 63];
        out[o++] = b64a[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        out[o++] = b64a[v >> 18];
        out[o++] = b64a[(v >> 12) & 63];
        if (pad) {
            out[o++] = '=';
            out[o++] = '=';
        }
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        out[o++] = b64a[v >> 18];
        out[o++] = b64a[(v >> 12) & 63];
        out[o++] = b64a[(v >> 6) & 63];
        if (pad)
            out[o++] = '=';
    }
    out[o] = '\0';
    return o;
}

static int b64val(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

long dapr__grpc_b64_decode(const char *in, size_t n, uint8_t *out)
{
    /* Padding is optional; when present it must complete the last quantum. */
    if (n >= 1 && in[n - 1] == '=') {
        if (n % 4)
            return -1;
        n--;
        if (in[n - 1] == '=')
            n--;
    }
    if (n % 4 == 1)
        return -1;
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64val(in[i]);
        if (v < 0)
            return -1;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (uint8_t)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    return (long)o;
}

void dapr__grpc_prefix(uint8_t out[5], bool compressed, uint32_t len)
{
    out[0] = compressed ? 1 : 0;
    out[1] = (uint8_t)(len >> 24);
    out[2] = (uint8_t)(len >> 16);
    out[3] = (uint8_t)(len >> 8);
    out[4] = (uint8_t)len;
}

int dapr__grpc_code_from_http(int http_status)
{
    /* The mapping gRPC clients apply to a non-200 :status (gRPC's
     * doc/http-grpc-status-mapping.md). */
    switch (http_status) {
    case 400: return DAPR_GRPC_INTERNAL;
    case 401: return DAPR_GRPC_UNAUTHENTICATED;
    case 403: return DAPR_GRPC_PERMISSION_DENIED;
    case 404: return DAPR_GRPC_UNIMPLEMENTED;
    case 429:
    case 502:
    case 503:
    case 504: return DAPR_GRPC_UNAVAILABLE;
    default: return DAPR_GRPC_UNKNOWN;
    }
}
