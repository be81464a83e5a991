/* ChaCha20-Poly1305 (RFC 8439) through Nettle. */
#ifndef MESH_CRYPTO_AEAD_H
#define MESH_CRYPTO_AEAD_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#define MESH_AEAD_KEY_LEN 32
#define MESH_AEAD_NONCE_LEN 12
#define MESH_AEAD_TAG_LEN 16

/* out receives len bytes of ciphertext followed by the 16-byte tag.
 * out may equal pt (in place). */
void mesh_aead_seal (const uint8_t key[MESH_AEAD_KEY_LEN],
                     const uint8_t nonce[MESH_AEAD_NONCE_LEN],
                     const uint8_t *ad, size_t ad_len,
                     const uint8_t *pt, size_t len, uint8_t *out);

/* in holds ct_len bytes: ciphertext then tag.  On success writes
 * ct_len - 16 bytes to out and returns true; on a bad tag wipes out and
 * returns false.  out may equal in. */
bool mesh_aead_open (const uint8_t key[MESH_AEAD_KEY_LEN],
                     const uint8_t nonce[MESH_AEAD_NONCE_LEN],
                     const uint8_t *ad, size_t ad_len,
                     const uint8_t *in, size_t ct_len, uint8_t *out);

/* The Noise nonce layout for ChaChaPoly: 4 zero bytes, 64-bit little-endian
 * counter. */
void mesh_aead_noise_nonce (uint64_t n, uint8_t nonce[MESH_AEAD_NONCE_LEN]);

#endif
