/* SHA-256 and the HMAC/HKDF built on it (Nettle). */
#ifndef MESH_CRYPTO_HASH_H
#define MESH_CRYPTO_HASH_H

#include <stddef.h>
#include <stdint.h>

#define MESH_SHA256_LEN 32

void mesh_sha256 (const void *data, size_t len, uint8_t out[MESH_SHA256_LEN]);

/* SHA-256 over two buffers, as if concatenated. */
void mesh_sha256_2 (const void *a, size_t alen, const void *b, size_t blen,
                    uint8_t out[MESH_SHA256_LEN]);

void mesh_hmac_sha256 (const uint8_t *key, size_t key_len,
                       const void *data, size_t len,
                       uint8_t out[MESH_SHA256_LEN]);

/* The Noise HKDF: from chaining key ck and input key material ikm, derive
 * two (out3 == NULL) or three 32-byte outputs. */
void mesh_hkdf_noise (const uint8_t ck[MESH_SHA256_LEN],
                      const uint8_t *ikm, size_t ikm_len,
                      uint8_t out1[MESH_SHA256_LEN],
                      uint8_t out2[MESH_SHA256_LEN],
                      uint8_t out3[MESH_SHA256_LEN]);

#endif
