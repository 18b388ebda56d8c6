/* BLAKE2b from RFC 7693 §3 (the G mixing function, F compression with 12
 * rounds, the parameter block reduced to the digest length: no key, salt
 * or personalisation). Written from the RFC's pseudo-code. */
#include "core/blake2b.h"

#include <string.h>

static const uint64_t iv[8] = {
    0x6a09e667f3bcc908ULL, 0xbb67ae8584caa73bULL, 0x3c6ef372fe94f82bULL,
    0xa54ff53a5f1d36f1ULL, 0x510e527fade682d1ULL, 0x9b05688c2b3e6c1fULL,
    0x1f83d9abfb41bd6bULL, 0x5be0cd19137e2179ULL,
};

static const uint8_t sigma[12][16] = {
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
    {14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3},
    {11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4},
    {7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8},
    {9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13},
    {2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9},
    {12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11},
    {13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10},
    {6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5},
    {10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0},
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
    {14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3},
};

static inline uint64_t rotr64(uint64_t x, unsigned n)
{
    return (x >> n) | (x << (64 - n));
}

static inline uint64_t load64le(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

/* RFC 7693 §3.1: rotation constants R1..R4 = 32, 24, 16, 63. */
#define G(a, b, c, d, x, y)              \
    do {                                 \
        v[a] = v[a] + v[b] + (x);        \
        v[d] = rotr64(v[d] ^ v[a], 32);  \
        v[c] = v[c] + v[d];              \
        v[b] = rotr64(v[b] ^ v[c], 24);  \
        v[a] = v[a] + v[b] + (y);        \
        v[d] = rotr64(v[d] ^ v[a], 16);  \
        v[c] = v[c] + v[d];              \
        v[b] = rotr64(v[b] ^ v[c], 63);  \
    } while (0)

/* §3.2: compress the 128-byte block s->b; `last` sets the final flag. */
static void compress(dapr__blake2b_t *s, int last)
{
    uint64_t v[16], m[16];
    for (int i = 0; i < 8; i++) {
        v[i] = s->h[i];
        v[i + 8] = iv[i];
    }
    v[12] ^= s->t[0];
    v[13] ^= s->t[1];
    if (last)
        v[14] = ~v[14];
    for (int i = 0; i < 16; i++)
        m[i] = load64le(s->b + 8 * i);
    for (int r = 0; r < 12; r++) {
        const uint8_t *z = sigma[r];
        G(0, 4, 8, 12, m[z[0]], m[z[1]]);
        G(1, 5, 9, 13, m[z[2]], m[z[3]]);
        G(2, 6, 10, 14, m[z[4]], m[z[5]]);
        G(3, 7, 11, 15, m[z[6]], m[z[7]]);
        G(0, 5, 10, 15, m[z[8]], m[z[9]]);
        G(1, 6, 11, 12, m[z[10]], m[z[11]]);
        G(2, 7, 8, 13, m[z[12]], m[z[13]]);
        G(3, 4, 9, 14, m[z[14]], m[z[15]]);
    }
    for (int i = 0; i < 8; i++)
        s->h[i] ^= v[i] ^ v[i + 8];
}

void dapr__blake2b_init(dapr__blake2b_t *s, size_t outlen)
{
    if (outlen < 1)
        outlen = 1;
    if (outlen > 64)
        outlen = 64;
    memset(s, 0, sizeof(*s));
    s->outlen = outlen;
    for (int i = 0; i < 8; i++)
        s->h[i] = iv[i];
    /* parameter block: digest length, key length 0, fanout 1, depth 1 */
    s->h[0] ^= 0x01010000ULL ^ (uint64_t)outlen;
}

void dapr__blake2b_update(dapr__blake2b_t *s, const void *in, size_t n)
{
    const uint8_t *p = in;
    for (size_t i = 0; i < n; i++) {
        /* a full buffer is compressed only once more input follows: the
         * last block must go through final with the flag set */
        if (s->c == sizeof(s->b)) {
            s->t[0] += s->c;
            if (s->t[0] < s->c)
                s->t[1]++;
            compress(s, 0);
            s->c = 0;
        }
        s->b[s->c++] = p[i];
    }
}

void dapr__blake2b_final(dapr__blake2b_t *s, uint8_t *out)
{
    s->t[0] += s->c;
    if (s->t[0] < s->c)
        s->t[1]++;
    memset(s->b + s->c, 0, sizeof(s->b) - s->c);
    compress(s, 1);
    for (size_t i = 0; i < s->outlen; i++)
        out[i] = (uint8_t)(s->h[i >> 3] >> (8 * (i & 7)));
}

void dapr__blake2b512(const void *in, size_t n, uint8_t out[64])
{
    dapr__blake2b_t s;
    dapr__blake2b_init(&s, 64);
    dapr__blake2b_update(&s, in, n);
    dapr__blake2b_final(&s, out);
}
