/* BLAKE2b (RFC 7693), unkeyed, any digest length 1..64 bytes. Used by the
 * placement ring (Dapr hashes virtual nodes and actor ids with
 * BLAKE2b-512). Sans-I/O, no allocation. */
#ifndef DAPR_CORE_BLAKE2B_H
#define DAPR_CORE_BLAKE2B_H

#include <stddef.h>
#include <stdint.h>

typedef struct dapr__blake2b {
    uint64_t h[8];
    uint64_t t[2]; /* bytes compressed so far (128-bit counter) */
    uint8_t b[128];
    size_t c;      /* bytes in b */
    size_t outlen;
} dapr__blake2b_t;

/* outlen 1..64 (else it is clamped into that range). */
void dapr__blake2b_init(dapr__blake2b_t *s, size_t outlen);
void dapr__blake2b_update(dapr__blake2b_t *s, const void *in, size_t n);
/* Writes s->outlen bytes to out. */
void dapr__blake2b_final(dapr__blake2b_t *s, uint8_t *out);
/* One shot: BLAKE2b-512 of in[0..n). */
void dapr__blake2b512(const void *in, size_t n, uint8_t out[64]);

#endif
